// attention.wgsl: causal self-attention of one query row per workgroup, read
// straight from the fused q/k/v projection, writing the heads' outputs side by side
// and the attention probabilities the viewer draws.
//
// Why ours: with tensor ops one attention layer is a split of the projection into
// q, k and v, three head-major copies (reshape + transpose), a batched matmul for
// the scores, a scale, a causal mask, a softmax, a second matmul and a copy back to
// token-major — eight or more kernels, each writing a (B, nh, T, T) or (B, T, C)
// intermediate. Every forward pass without gradients on a GPU runs this instead:
// each generated token (the whole model runs again), the reward model's scores,
// the PPO rollouts, the attention heatmaps. Training keeps burn's operations,
// whose backward pass autodiff derives.
//
// qkv (B, T, 3C), row-major: q_t at [b, t, h·hs + d], k_t at C + that, v_t at 2C + that.
// For query row (b, h, i):
//   s_j = q_i · k_j / √hs  for j ≤ i       (positions after i are masked)
//   p   = softmax(s)                      (max-subtracted, as burn's softmax)
//   y_i = Σ_j p_j v_j
// y (B, T, C): y[b, i, h·hs + d];  att (B, nh, T, T): p_j for j ≤ i, 0 above the diagonal.
// Limits (checked by the caller): T ≤ 256, hs ≤ 128.

@group(0) @binding(0) var<storage, read_write> qkv: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<storage, read_write> att: array<f32>;
// B, T, C, nh
@group(0) @binding(3) var<storage, read_write> params: array<u32>;

const WG: u32 = 64u;

var<workgroup> q: array<f32, 128>;
var<workgroup> p: array<f32, 256>;
var<workgroup> red: array<f32, 64>;

// Max (is_max) or sum over the workgroup of each thread's `x`.
fn reduce(lid: u32, x: f32, is_max: bool) -> f32 {
    red[lid] = x;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride = stride >> 1u) {
        if (lid < stride) {
            if (is_max) {
                red[lid] = max(red[lid], red[lid + stride]);
            } else {
                red[lid] = red[lid] + red[lid + stride];
            }
        }
        workgroupBarrier();
    }
    let r = red[0];
    workgroupBarrier();
    return r;
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let t = params[1];
    let c = params[2];
    let nh = params[3];
    let i = wid.x;
    let h = wid.y;
    let b = wid.z;
    let hs = c / nh;
    let stride = 3u * c;          // floats per token in qkv
    let first = b * t * stride;   // batch row b's first token
    let head = h * hs;            // this head's offset inside q, k and v
    let root = sqrt(f32(hs));

    for (var d = lid; d < hs; d = d + WG) {
        q[d] = qkv[first + i * stride + head + d];
    }
    workgroupBarrier();

    // Scores of the positions this thread owns (j ≡ lid mod 64), kept in p.
    var m = -3.4e38;
    for (var j = lid; j <= i; j = j + WG) {
        let k = first + j * stride + c + head;
        var s = 0.0;
        for (var d = 0u; d < hs; d = d + 1u) {
            s = s + q[d] * qkv[k + d];
        }
        s = s / root;
        p[j] = s;
        m = max(m, s);
    }
    m = reduce(lid, m, true);
    var z = 0.0;
    for (var j = lid; j <= i; j = j + WG) {
        let e = exp(p[j] - m);
        p[j] = e;
        z = z + e;
    }
    z = reduce(lid, z, false);

    let row = ((b * nh + h) * t + i) * t;
    for (var j = lid; j < t; j = j + WG) {
        var pj = 0.0;
        if (j <= i) {
            pj = p[j] / z;
            p[j] = pj;
        }
        att[row + j] = pj;
    }
    workgroupBarrier();

    // Every thread now reads every p_j: one output channel per thread.
    for (var d = lid; d < hs; d = d + WG) {
        let v = first + 2u * c + head + d;
        var acc = 0.0;
        for (var j = 0u; j <= i; j = j + 1u) {
            acc = acc + p[j] * qkv[v + j * stride];
        }
        y[(b * t + i) * c + head + d] = acc;
    }
}
