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
// Each thread keeps (m, S, W) of its own logits as an online softmax (rescaled when
// a larger logit arrives), and one tree reduction merges the threads' triples of
// both models: 7 barriers per row. (Separate max and sum reductions per model
// measured 2.5× slower than burn's ops on SwiftShader, where barriers are costly.)

@group(0) @binding(0) var<storage, read_write> policy: array<f32>;
@group(0) @binding(1) var<storage, read_write> reference: array<f32>;
@group(0) @binding(2) var<storage, read_write> targets: array<i32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read_write> params: array<u32>;

const WG: u32 = 64u;

// Each thread's (m, S, W), for the policy and for the reference.
var<workgroup> part_pi: array<vec3<f32>, 64>;
var<workgroup> part_ref: array<vec3<f32>, 64>;

// Two online-softmax partials merged: both S and W re-expressed around the larger m.
fn merge(a: vec3<f32>, b: vec3<f32>) -> vec3<f32> {
    let m = max(a.x, b.x);
    let ea = exp(a.x - m);
    let eb = exp(b.x - m);
    let s = a.y * ea + b.y * eb;
    let w = ea * (a.z + (a.x - m) * a.y) + eb * (b.z + (b.x - m) * b.y);
    return vec3<f32>(m, s, w);
}

// This thread's partial over logits base + lid, base + lid + 64, ...
fn partial(which: u32, lid: u32, base: u32, vocab: u32) -> vec3<f32> {
    var acc = vec3<f32>(-3.4e38, 0.0, 0.0);
    for (var i = lid; i < vocab; i = i + WG) {
        acc = merge(acc, vec3<f32>(logit(which, base + i), 1.0, 0.0));
    }
    return acc;
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
    part_pi[lid] = partial(0u, lid, base, vocab);
    part_ref[lid] = partial(1u, lid, base, vocab);
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride = stride >> 1u) {
        if (lid < stride) {
            part_pi[lid] = merge(part_pi[lid], part_pi[lid + stride]);
            part_ref[lid] = merge(part_ref[lid], part_ref[lid + stride]);
        }
        workgroupBarrier();
    }
    if (lid == 0u) {
        let y = min(u32(max(targets[row], 0)), vocab - 1u);
        let p = part_pi[0];
        let r = part_ref[0];
        let log_s = log(p.y);
        out[row * 3u + 0u] = (policy[base + y] - p.x) - log_s;
        out[row * 3u + 1u] = (reference[base + y] - r.x) - log(r.y);
        out[row * 3u + 2u] = log_s - p.z / p.y;
    }
}
