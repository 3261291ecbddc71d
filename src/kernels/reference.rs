//! What our WGSL kernels compute, written plainly on the CPU and with burn's tensor
//! ops: the references the kernels are tested against, and the numbers a reader can
//! step through. The RNG and the sampling rule here are bit-for-bit the ones in
//! `shaders/sample.wgsl` (same hash, same order key, same tie rule), so a kernel
//! and this file draw the same token from the same logits and seed.
//! The burn ops our CPU kernels (`cpu.rs`) replace are here too.

use burn::prelude::*;
use burn::tensor::activation::{log_softmax, softmax};

/// PCG hash (Jarzynski & Olano 2020) — the shader's `pcg`.
pub fn pcg(v: u32) -> u32 {
    let state = v.wrapping_mul(747796405).wrapping_add(2891336453);
    let word = ((state >> ((state >> 28) + 4)) ^ state).wrapping_mul(277803737);
    (word >> 22) ^ word
}

/// Uniform in (0, 1) from (seed, counter, row, token) — the shader's `uniform`.
pub fn uniform(seed: u32, counter: u32, row: u32, i: u32) -> f32 {
    let h = pcg(i.wrapping_add(pcg(row.wrapping_add(pcg(counter.wrapping_add(pcg(seed)))))));
    ((h >> 8) as f32 + 0.5) * (1.0 / 16_777_216.0)
}

/// A u32 that orders like the f32 — the shader's `order_key`.
pub fn order_key(x: f32) -> u32 {
    let b = x.to_bits();
    if b & 0x8000_0000 != 0 { !b } else { b | 0x8000_0000 }
}

/// One draw's settings: which random numbers (seed, counter) and how to pick.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Draw {
    pub seed: u32,
    /// Advanced once per generated position, so each token gets fresh numbers.
    pub counter: u32,
    /// ≤ 0 is greedy.
    pub temperature: f32,
    /// 0 (or ≥ V) keeps every token.
    pub top_k: usize,
}

/// The k-th largest logit's order key (0 = keep all): what the kernel's radix
/// select (a byte at a time) finds.
pub fn top_k_threshold(row: &[f32], top_k: usize) -> u32 {
    if top_k == 0 || top_k >= row.len() {
        return 0;
    }
    let mut keys: Vec<u32> = row.iter().map(|&x| order_key(x)).collect();
    keys.sort_unstable_by(|a, b| b.cmp(a));
    keys[top_k - 1]
}

/// The token the sampling kernel picks for row `r` of `logits` (rows × `vocab`):
/// Gumbel-max over the top-k logits at temperature T, ties to the lower id.
pub fn sample_row(row: &[f32], r: u32, draw: &Draw) -> u32 {
    let threshold = top_k_threshold(row, draw.top_k);
    let mut best: Option<(f32, u32)> = None;
    for (i, &l) in row.iter().enumerate() {
        if order_key(l) < threshold {
            continue;
        }
        let s = if draw.temperature > 0.0 { l / draw.temperature - (-uniform(draw.seed, draw.counter, r, i as u32).ln()).ln() } else { l };
        if best.is_none_or(|(b, _)| s > b) {
            best = Some((s, i as u32));
        }
    }
    best.map_or(0, |(_, i)| i)
}

/// [`sample_row`] for every row of a row-major (rows × vocab) buffer.
pub fn sample_rows(logits: &[f32], vocab: usize, draw: &Draw) -> Vec<u32> {
    logits.chunks(vocab).enumerate().map(|(r, row)| sample_row(row, r as u32, draw)).collect()
}

/// [`sample_rows`] for rows in `seeds.len()` equal groups, group g drawing with
/// seed `seeds[g]` and its rows counted from 0 (so a group's tokens do not depend
/// on the groups beside it); `draw.seed` is not used.
pub fn sample_groups(logits: &[f32], vocab: usize, seeds: &[u32], draw: &Draw) -> Vec<u32> {
    let rows = logits.len() / vocab.max(1);
    assert!(!seeds.is_empty() && rows.is_multiple_of(seeds.len()), "{rows} rows do not split into {} equal groups", seeds.len());
    let per_group = rows / seeds.len() * vocab;
    if per_group == 0 {
        return vec![];
    }
    logits.chunks(per_group).zip(seeds).flat_map(|(group, &seed)| sample_rows(group, vocab, &Draw { seed, ..*draw })).collect()
}

/// What `shaders/token_stats.wgsl` replaces, in burn ops: for logits (N, V) of the
/// policy and the reference and targets (N), returns (N, 3) = (log π(y), log π_ref(y),
/// H(π)).
pub fn token_stats(policy: Tensor<2>, reference: Tensor<2>, targets: Tensor<1, Int>) -> Tensor<2> {
    let y = targets.unsqueeze_dim::<2>(1); // (N, 1)
    let lp = log_softmax(policy.clone(), 1);
    let log_pi = lp.clone().gather(1, y.clone()); // (N, 1)
    let log_ref = log_softmax(reference, 1).gather(1, y);
    let entropy = (softmax(policy, 1) * lp).sum_dim(1).neg(); // (N, 1)
    Tensor::cat(vec![log_pi, log_ref, entropy], 1)
}

/// Softmax of scores (B, nh, Tq, Tk) over the keys each query may see, j ≤ i, the
/// queries being the last Tq positions: what
/// `cpu::CpuKernels::causal_softmax` replaces, and what every non-CPU device runs.
pub fn causal_softmax(scores: Tensor<4>) -> Tensor<4> {
    let [.., tq, tk] = scores.dims();
    // −1e9 added above the diagonal (one (1, 1, Tq, Tk) tensor, broadcast) makes those
    // probabilities exactly 0. An addition passes its gradient through untouched; a
    // mask_fill costs one more (B, nh, T, T) pass in the backward step. The queries
    // are the last Tq positions (a KV cache's new ones).
    let future = Tensor::<2, Bool>::tril_mask([tq, tk], tk as i64 - tq as i64, &scores.device());
    let future = Tensor::<2>::zeros([tq, tk], &scores.device()).mask_fill(future, -1.0e9);
    softmax(scores + future.unsqueeze::<4>(), 3)
}

/// log p(target) at every position, logits (B, T, V), targets (B, T) → (B, T), as
/// burn's log-softmax and gather: what `cpu::CpuKernels::token_log_probs` replaces.
pub fn token_log_probs(logits: Tensor<3>, targets: Tensor<2, Int>) -> Tensor<2> {
    log_softmax(logits, 2).gather(2, targets.unsqueeze_dim::<3>(2)).squeeze_dim::<2>(2)
}
