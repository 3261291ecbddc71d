// attention.wgsl: causal self-attention, one query row per thread, read straight
// from the fused q/k/v projection, writing the heads' outputs side by side and the
// attention probabilities the viewer draws.
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
// One thread per row and no workgroup memory or barriers: the rows are short
// (T ≤ 256) and neighbouring threads (rows i, i+1 of one head) read the same k_j
// and v_j at the same time. A first version with a 64-thread workgroup per row
// and tree reductions measured 2× slower than burn's ops on SwiftShader (its
// barriers are expensive) and only 1.5× faster on lavapipe.
// Limits (checked by the caller): T ≤ 256, hs ≤ 128.

@group(0) @binding(0) var<storage, read_write> qkv: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<storage, read_write> att: array<f32>;
// B, T, C, nh
@group(0) @binding(3) var<storage, read_write> params: array<u32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let t = params[1];
    let c = params[2];
    let nh = params[3];
    let g = gid.x;
    if (g >= params[0] * nh * t) {
        return;
    }
    let i = g % t;
    let h = (g / t) % nh;
    let b = g / (t * nh);
    let hs = c / nh;
    let stride = 3u * c;              // floats per token in qkv
    let first = b * t * stride + h * hs; // this head's q of batch row b's first token
    let row = g * t;                  // att[b, h, i, 0]; g = (b·nh + h)·T + i
    let root = sqrt(f32(hs));

    var q: array<f32, 128>;
    for (var d = 0u; d < hs; d = d + 1u) {
        q[d] = qkv[first + i * stride + d];
    }

    // Scores s_j (kept in this row of att for now) and their max.
    var m = -3.4e38;
    for (var j = 0u; j <= i; j = j + 1u) {
        let k = first + j * stride + c;
        var s = 0.0;
        for (var d = 0u; d < hs; d = d + 1u) {
            s = s + q[d] * qkv[k + d];
        }
        s = s / root;
        att[row + j] = s;
        m = max(m, s);
    }
    var z = 0.0;
    for (var j = 0u; j <= i; j = j + 1u) {
        let e = exp(att[row + j] - m);
        att[row + j] = e;
        z = z + e;
    }
    for (var j = 0u; j <= i; j = j + 1u) {
        att[row + j] = att[row + j] / z;
    }
    for (var j = i + 1u; j < t; j = j + 1u) {
        att[row + j] = 0.0;
    }

    let v = first + 2u * c;
    let out = (b * t + i) * c + h * hs;
    for (var d = 0u; d < hs; d = d + 1u) {
        var acc = 0.0;
        for (var j = 0u; j <= i; j = j + 1u) {
            acc = acc + att[row + j] * qkv[v + j * stride + d];
        }
        y[out + d] = acc;
    }
}
