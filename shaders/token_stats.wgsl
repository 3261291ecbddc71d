// token_stats.wgsl: per sampled token, log π(y), log π_ref(y) and the policy's
// entropy, in one pass over both models' logits.
//
// Why ours: a PPO rollout needs, for every answer token, its log-probability under
// the policy and under the frozen reference (the per-token KL the reward is shaped
// with and the heatmap draws) and the policy's entropy. Done with tensor ops that
// is a log-softmax over the whole (tokens × V) logits of each model, a gather, and
// a softmax·log-softmax product for the entropy — several kernels, each writing a
// full (tokens × V) intermediate. This kernel reads each logit row once per model
// and writes three numbers per token.
//
// Per row r (one workgroup of 64 threads), with m = max_i l_i,
// S = Σ_i e^(l_i − m) and W = Σ_i e^(l_i − m)·(l_i − m):
//   log p(y) = (l_y − m) − log S
//   H        = log S − W / S          (= −Σ p_i log p_i)
// out[r] = (log π(y_r), log π_ref(y_r), H(π)).

@group(0) @binding(0) var<storage, read_write> policy: array<f32>;
@group(0) @binding(1) var<storage, read_write> reference: array<f32>;
@group(0) @binding(2) var<storage, read_write> targets: array<i32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read_write> params: array<u32>;

const WG: u32 = 64u;

var<workgroup> red_a: array<f32, 64>;
var<workgroup> red_b: array<f32, 64>;

// Max over the workgroup of each thread's `x`.
fn reduce_max(lid: u32, x: f32) -> f32 {
    red_a[lid] = x;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride = stride >> 1u) {
        if (lid < stride) {
            red_a[lid] = max(red_a[lid], red_a[lid + stride]);
        }
        workgroupBarrier();
    }
    let m = red_a[0];
    workgroupBarrier();
    return m;
}

// Sums over the workgroup of each thread's (a, b).
fn reduce_sum2(lid: u32, a: f32, b: f32) -> vec2<f32> {
    red_a[lid] = a;
    red_b[lid] = b;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride = stride >> 1u) {
        if (lid < stride) {
            red_a[lid] = red_a[lid] + red_a[lid + stride];
            red_b[lid] = red_b[lid] + red_b[lid + stride];
        }
        workgroupBarrier();
    }
    let s = vec2<f32>(red_a[0], red_b[0]);
    workgroupBarrier();
    return s;
}

// (log p(y), entropy) of one row of logits starting at `base`.
fn row_stats(lid: u32, which: u32, base: u32, vocab: u32, y: u32) -> vec2<f32> {
    var m = -3.4e38;
    for (var i = lid; i < vocab; i = i + WG) {
        m = max(m, logit(which, base + i));
    }
    m = reduce_max(lid, m);
    var s = 0.0;
    var w = 0.0;
    for (var i = lid; i < vocab; i = i + WG) {
        let z = logit(which, base + i) - m;
        let e = exp(z);
        s = s + e;
        w = w + e * z;
    }
    let sw = reduce_sum2(lid, s, w);
    let log_s = log(sw.x);
    let log_p = (logit(which, base + y) - m) - log_s;
    return vec2<f32>(log_p, log_s - sw.y / sw.x);
}

fn logit(which: u32, i: u32) -> f32 {
    if (which == 0u) {
        return policy[i];
    }
    return reference[i];
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let row = wid.x;
    let vocab = params[1];
    let base = row * vocab;
    let y = min(u32(max(targets[row], 0)), vocab - 1u);
    let p = row_stats(lid, 0u, base, vocab, y);
    let r = row_stats(lid, 1u, base, vocab, y);
    if (lid == 0u) {
        out[row * 3u + 0u] = p.x;
        out[row * 3u + 1u] = r.x;
        out[row * 3u + 2u] = p.y;
    }
}
