//! The plain versions of our WGSL kernels (src/kernels/reference.rs): the sampler
//! draws from the right distribution, and the per-token stats equal burn's
//! log-softmax, and the model's attention (what attention.wgsl replaces) is attention
//! written out by hand. The kernels themselves are compared with these on WebGPU by the
//! browser test (the "look inside" compare button, `rlhfStatus().kernel_checks`), where a GPU is.

use burn::prelude::*;
use pollster::block_on;
use rlhf_playground::kernels::{self, Draw, reference};
use rlhf_playground::readback::read_vec;

fn softmax(row: &[f32], t: f32) -> Vec<f64> {
    let m = row.iter().cloned().fold(f32::MIN, f32::max);
    let e: Vec<f64> = row.iter().map(|&l| (((l - m) / t) as f64).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|x| x / s).collect()
}

#[test]
fn gumbel_max_sampler_draws_from_the_truncated_softmax() {
    let row = [2.0f32, 1.0, 0.5, 0.0, -1.0, 3.0, 1.5, -0.5];
    let (t, k, n) = (0.8, 4, 40_000);
    let mut counts = [0usize; 8];
    for c in 0..n {
        counts[reference::sample_row(&row, 3, &Draw { seed: 7, counter: c, temperature: t, top_k: k }) as usize] += 1;
    }
    // Only the 4 largest logits (ids 5, 0, 6, 1) may be drawn ...
    for (i, &c) in counts.iter().enumerate() {
        if ![5, 0, 6, 1].contains(&i) {
            assert_eq!(c, 0, "token {i} is outside the top-{k} but was drawn {c} times");
        }
    }
    // ... with softmax(l / T) renormalised over them: a chi-square test at 3 degrees
    // of freedom (99.9 % quantile 16.3).
    let kept: Vec<f32> = [5, 0, 6, 1].iter().map(|&i| row[i]).collect();
    let p = softmax(&kept, t);
    let chi2: f64 = [5, 0, 6, 1]
        .iter()
        .zip(&p)
        .map(|(&i, &pi)| {
            let e = pi * n as f64;
            (counts[i] as f64 - e).powi(2) / e
        })
        .sum();
    assert!(chi2 < 16.3, "chi-square {chi2:.2}: counts {counts:?}, expected {:?}", p.iter().map(|x| x * n as f64).collect::<Vec<_>>());
}

#[test]
fn sampler_is_greedy_at_zero_temperature_and_deterministic_per_counter() {
    let row = [0.1f32, 0.7, -0.2, 0.69];
    assert_eq!(reference::sample_row(&row, 0, &Draw { seed: 1, counter: 0, temperature: 0.0, top_k: 0 }), 1);
    assert_eq!(reference::sample_row(&row, 0, &Draw { seed: 1, counter: 0, temperature: 5.0, top_k: 1 }), 1);
    let draw = |c| reference::sample_rows(&[row, row, row].concat(), 4, &Draw { seed: 9, counter: c, temperature: 2.0, top_k: 0 });
    assert_eq!(draw(3), draw(3), "same seed and counter, same tokens");
    let different = (0..20).filter(|&c| draw(c) != draw(c + 1)).count();
    assert!(different > 10, "the counter must change the draw ({different}/20 changed)");
    // ties at the top-k threshold are all kept
    assert_eq!(reference::top_k_threshold(&[1.0, 3.0, 3.0, 2.0], 1), reference::order_key(3.0));
    assert!(reference::order_key(-2.0) < reference::order_key(-1.0) && reference::order_key(-0.5) < reference::order_key(0.25));
}

#[test]
fn uniform_numbers_are_in_the_open_interval_and_look_uniform() {
    let n = 100_000;
    let us: Vec<f32> = (0..n).map(|i| reference::uniform(3, 1, 2, i)).collect();
    assert!(us.iter().all(|&u| u > 0.0 && u < 1.0));
    let mean = us.iter().map(|&u| u as f64).sum::<f64>() / n as f64;
    assert!((mean - 0.5).abs() < 0.005, "mean {mean}");
    let low = us.iter().filter(|&&u| u < 0.1).count() as f64 / n as f64;
    assert!((low - 0.1).abs() < 0.005, "P(u < 0.1) = {low}");
}

#[test]
fn token_stats_reference_is_log_softmax_and_entropy() {
    let device = Device::flex();
    // Hand-computed: logits (0, ln 3) → p = (1/4, 3/4).
    let policy = Tensor::<2>::from_floats([[0.0, 3f32.ln()], [1.0, 1.0]], &device);
    let reference_logits = Tensor::<2>::from_floats([[0.0, 0.0], [0.0, 2f32.ln()]], &device);
    let targets = Tensor::<1, Int>::from_ints([1, 0], &device);
    let got = block_on(read_vec(reference::token_stats(policy.clone(), reference_logits, targets.clone()))).unwrap();
    let h = -(0.25f32 * 0.25f32.ln() + 0.75 * 0.75f32.ln());
    let want = [0.75f32.ln(), 0.5f32.ln(), h, 0.5f32.ln(), (1.0f32 / 3.0).ln(), 2f32.ln()];
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() < 1e-5, "got {got:?}, want {want:?}");
    }
    // ... and the same log π as the training path's token_log_probs.
    let lp = block_on(read_vec(kernels::token_log_probs(policy.unsqueeze::<3>(), targets.unsqueeze::<2>(), kernels::Kernels::default())))
        .unwrap();
    assert!((lp[0] - got[0]).abs() < 1e-6 && (lp[1] - got[3]).abs() < 1e-6);
}

#[test]
fn kernel_check_on_the_cpu_compares_the_reference_with_itself() {
    let checks = block_on(rlhf_playground::kernel_check::check(&rlhf_playground::backend::Backend::cpu(), 5)).unwrap();
    assert_eq!(checks.len(), 6);
    for c in &checks {
        assert!(!c.on_gpu);
        assert_eq!(c.agreement, 1.0, "{c:?}");
        assert!(c.within_top_k, "{c:?}");
        assert!(c.max_abs_error < 1e-5, "{c:?}");
    }
    assert_eq!(kernels::dispatches(), [0; kernels::N], "no WGSL runs on the CPU backend");
}

/// What attention.wgsl must compute, written out loop by loop: the model's burn ops
/// (its reference) equal it, so a kernel that equals them computes attention.
#[test]
fn causal_attention_equals_the_loop_written_out() {
    let (b, t, nh, hs) = (2, 5, 3, 4);
    let c = nh * hs;
    let device = Device::flex();
    let qkv = rlhf_playground::backend::seeded(&device, 11, || {
        Tensor::<3>::random([b, t, 3 * c], burn::tensor::Distribution::Normal(0.0, 1.0), &device)
    });
    let x = block_on(read_vec(qkv.clone())).unwrap();
    // With burn's softmax, and with our CPU kernel's where the model runs it.
    for kernels in [kernels::Kernels::BURN, kernels::Kernels::default()] {
        let (y, att) = rlhf_playground::model::causal_attention(qkv.clone(), nh, kernels);
        let (y, att) = (block_on(read_vec(y)).unwrap(), block_on(read_vec(att)).unwrap());
        let at = |bb: usize, tt: usize, part: usize, h: usize, d: usize| x[(bb * t + tt) * 3 * c + part * c + h * hs + d] as f64;
        for bb in 0..b {
            for h in 0..nh {
                for i in 0..t {
                    let s: Vec<f64> = (0..=i)
                        .map(|j| (0..hs).map(|d| at(bb, i, 0, h, d) * at(bb, j, 1, h, d)).sum::<f64>() / (hs as f64).sqrt())
                        .collect();
                    let m = s.iter().cloned().fold(f64::MIN, f64::max);
                    let z: f64 = s.iter().map(|v| (v - m).exp()).sum();
                    for j in 0..t {
                        let want = if j <= i { (s[j] - m).exp() / z } else { 0.0 };
                        let got = att[((bb * nh + h) * t + i) * t + j] as f64;
                        assert!((got - want).abs() < 1e-5, "p[{bb},{h},{i},{j}] = {got}, want {want}");
                    }
                    for d in 0..hs {
                        let want: f64 = (0..=i).map(|j| (s[j] - m).exp() / z * at(bb, j, 2, h, d)).sum();
                        let got = y[(bb * t + i) * c + h * hs + d] as f64;
                        assert!((got - want).abs() < 1e-5, "y[{bb},{i},{h}·{hs}+{d}] = {got}, want {want}");
                    }
                }
            }
        }
    }
}

/// Rows in groups with seeds of their own: a group draws what it draws alone with
/// its seed, and one group is the plain draw.
#[test]
fn a_group_of_rows_draws_the_same_tokens_whichever_groups_share_its_batch() {
    let vocab = 7;
    let logits: Vec<f32> = (0..6 * vocab).map(|i| ((i * 37 % 11) as f32) * 0.4 - 1.0).collect();
    let draw = Draw { seed: 0, counter: 3, temperature: 1.5, top_k: 0 };
    let seeds = [11u32, 22, 33];
    let together = reference::sample_groups(&logits, vocab, &seeds, &draw);
    for (g, &seed) in seeds.iter().enumerate() {
        let alone = reference::sample_rows(&logits[g * 2 * vocab..(g + 1) * 2 * vocab], vocab, &Draw { seed, ..draw });
        assert_eq!(together[g * 2..g * 2 + 2], alone[..], "group {g}");
    }
    assert_eq!(reference::sample_groups(&logits, vocab, &[5], &draw), reference::sample_rows(&logits, vocab, &Draw { seed: 5, ..draw }));
    // The groups' seeds matter: other seeds draw other tokens somewhere.
    let draws: Vec<Vec<u32>> = (0..20).map(|c| reference::sample_groups(&logits, vocab, &seeds, &Draw { counter: c, ..draw })).collect();
    let swapped: Vec<Vec<u32>> =
        (0..20).map(|c| reference::sample_groups(&logits, vocab, &[33, 22, 11], &Draw { counter: c, ..draw })).collect();
    assert_ne!(draws, swapped);
}
