// sample.wgsl: the next token of every row, chosen on the GPU.
//
// Why ours: generation used to read the whole (rows × V) logits back to the CPU
// after *every* token to pick the next one. This kernel picks it where the logits
// already are and writes the token id into a GPU buffer that the next forward pass
// reads, so a batch of answers needs one readback at the end instead of one per
// token. (burn's top-k panics on WebGPU, burn #5110, and a sort would be wasted:
// we only need the k-th largest value.)
//
// What it computes, per row r (one workgroup of 64 threads per row):
//   1. top-k: the k-th largest logit τ, found exactly by building its 32-bit
//      order key a byte at a time (a radix select: 4 histograms of 256 bins
//      over the keys that match the bytes found so far); every logit ≥ τ stays
//      (ties at τ stay too), the rest are out.
//   2. temperature + sampling by the Gumbel-max trick: with u_i uniform in (0, 1),
//      argmax_i ( l_i / T − log(−log u_i) ) is a draw from softmax(l / T) over the
//      kept tokens. T ≤ 0 is greedy: argmax_i l_i.
//   3. u_i comes from a counter-based RNG, a PCG hash of (seed, counter, r, i):
//      no state on the GPU, and the CPU reference (src/kernels/reference.rs)
//      computes the very same numbers, so the two can be compared token by token.
//      The rows come in equal groups, each with its own seed (one prompt's
//      answers in a batch of prompts); r counts rows within the group, so a
//      group draws the same numbers whichever other groups share the batch.
// Ties in the argmax go to the lower token id.

struct Params {
    rows: u32,
    vocab: u32,
    // 0 or ≥ vocab keeps every token.
    top_k: u32,
    // How many groups the rows split into; `seeds` holds one seed per group.
    groups: u32,
    counter: u32,
    // f32 bits: WGSL has no mixed-type storage struct reads we can rely on everywhere.
    temperature_bits: u32,
}

@group(0) @binding(0) var<storage, read_write> logits: array<f32>;
@group(0) @binding(1) var<storage, read_write> tokens: array<i32>;
@group(0) @binding(2) var<storage, read_write> params: array<u32>;
@group(0) @binding(3) var<storage, read_write> seeds: array<u32>;

const WG: u32 = 64u;

// The top-k search: a histogram of the next byte, and (bytes chosen so far, rank
// still wanted among the keys that match them).
var<workgroup> bins: array<atomic<u32>, 256>;
var<workgroup> chosen: array<u32, 2>;
// Whether to search for a top-k threshold, made workgroup-uniform (barriers sit
// inside that branch, and values read from a storage buffer are not uniform).
var<workgroup> search_top_k: u32;
var<workgroup> best_score: array<f32, 64>;
var<workgroup> best_index: array<u32, 64>;

// PCG hash (Jarzynski & Olano, "Hash Functions for GPU Rendering", 2020).
fn pcg(v: u32) -> u32 {
    let state = v * 747796405u + 2891336453u;
    let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}

// Uniform in (0, 1), never 0 or 1: 24 random bits, centred in their bucket.
fn uniform(seed: u32, counter: u32, row: u32, i: u32) -> f32 {
    let h = pcg(i + pcg(row + pcg(counter + pcg(seed))));
    return (f32(h >> 8u) + 0.5) * (1.0 / 16777216.0);
}

// A u32 that orders like the f32 (negative floats flipped), for the top-k search.
fn order_key(x: f32) -> u32 {
    let b = bitcast<u32>(x);
    if ((b & 0x80000000u) != 0u) {
        return ~b;
    }
    return b | 0x80000000u;
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let row = wid.x;
    let vocab = params[1];
    let top_k = params[2];
    let group_size = params[0] / params[3];
    let seed = seeds[row / group_size];
    let counter = params[4];
    let temperature = bitcast<f32>(params[5]);
    let base = row * vocab;

    // 1. The k-th largest order key, one byte at a time from the top (a radix
    //    select): count the keys that match the bytes chosen so far in 256
    //    bins of their next byte, then walk the bins from the top until k keys
    //    are covered. 4 passes over the row, 3 barriers each.
    if (lid == 0u) {
        search_top_k = select(0u, 1u, top_k > 0u && top_k < vocab);
        chosen[0] = 0u;
        chosen[1] = top_k;
    }
    var threshold = 0u;
    if (workgroupUniformLoad(&search_top_k) == 1u) {
        var mask = 0u;
        for (var shift = 24i; shift >= 0i; shift = shift - 8i) {
            for (var d = lid; d < 256u; d = d + WG) {
                atomicStore(&bins[d], 0u);
            }
            workgroupBarrier();
            let prefix = chosen[0];
            for (var i = lid; i < vocab; i = i + WG) {
                let key = order_key(logits[base + i]);
                if ((key & mask) == prefix) {
                    atomicAdd(&bins[(key >> u32(shift)) & 255u], 1u);
                }
            }
            workgroupBarrier();
            if (lid == 0u) {
                // chosen[1]: the wanted key's rank among the keys matching the prefix.
                var above = 0u;
                for (var d = 255i; d >= 0i; d = d - 1i) {
                    let c = atomicLoad(&bins[u32(d)]);
                    if (above + c >= chosen[1]) {
                        chosen[0] = prefix | (u32(d) << u32(shift));
                        chosen[1] = chosen[1] - above;
                        break;
                    }
                    above = above + c;
                }
            }
            mask = mask | (255u << u32(shift));
            workgroupBarrier();
        }
        threshold = chosen[0];
    }

    // 2. Each thread's best kept token by Gumbel-perturbed (or plain) logit.
    var score = -3.4e38;
    var index = 0xffffffffu;
    for (var i = lid; i < vocab; i = i + WG) {
        let l = logits[base + i];
        if (order_key(l) >= threshold) {
            var s = l;
            if (temperature > 0.0) {
                let u = uniform(seed, counter, row % group_size, i);
                s = l / temperature - log(-log(u));
            }
            if (index == 0xffffffffu || s > score) {
                score = s;
                index = i;
            }
        }
    }
    best_score[lid] = score;
    best_index[lid] = index;
    workgroupBarrier();

    // 3. Argmax over the workgroup (ties → lower id).
    for (var stride = WG / 2u; stride > 0u; stride = stride >> 1u) {
        if (lid < stride) {
            let os = best_score[lid + stride];
            let oi = best_index[lid + stride];
            let mi = best_index[lid];
            if (oi != 0xffffffffu && (mi == 0xffffffffu || os > best_score[lid] || (os == best_score[lid] && oi < mi))) {
                best_score[lid] = os;
                best_index[lid] = oi;
            }
        }
        workgroupBarrier();
    }
    if (lid == 0u) {
        var t = best_index[0];
        if (t == 0xffffffffu) {
            t = 0u;
        }
        tokens[row] = i32(t);
    }
}
