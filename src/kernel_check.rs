//! The on-device check of our kernels: each runs on the device over random inputs
//! beside the computation it replaces (the CPU sampler, burn's ops, the model's
//! attention), with both GPU times where the adapter has timestamp queries. Apart
//! from `kernels` because it needs the model and the seeded draws, which need the
//! kernels.

use crate::TrainError;
use crate::backend::Backend;
use crate::kernels::{Draw, Kernels, on_gpu, reference, sample_groups, sample_now, token_stats};
use crate::readback::read_vec;
use burn::prelude::*;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// How far one kernel's output was from its reference on this device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    pub kernel: Cow<'static, str>,
    /// Rows compared.
    pub rows: usize,
    /// sample: share of rows whose token equals the reference's; token_stats: 1 − share over tolerance.
    pub agreement: f32,
    /// token_stats: the largest absolute difference; sample: 0.
    pub max_abs_error: f32,
    /// sample: every token inside its row's top-k set.
    pub within_top_k: bool,
    /// Ran our WGSL (false: the CPU reference compared with itself).
    pub on_gpu: bool,
    /// GPU time of one call of our kernel on the check's inputs, in µs, from the
    /// device's timestamp queries (None where the adapter has no `timestamp-query`).
    pub gpu_us: Option<f32>,
    /// The same for the burn operations the kernel replaces (None for `sample`,
    /// which replaces a readback and a choice on the CPU).
    pub burn_gpu_us: Option<f32>,
}

/// (share of values within 1e-4 of the reference — NaN counts as outside —, the
/// largest absolute difference).
fn closeness(got: &[f32], want: &[f32]) -> (f32, f32) {
    let err: Vec<f32> = got.iter().zip(want).map(|(a, b)| (a - b).abs()).collect();
    let max = err.iter().cloned().fold(0.0f32, f32::max);
    let over = err.iter().filter(|&&e| e.is_nan() || e > 1e-4).count();
    (1.0 - over as f32 / err.len().max(1) as f32, max)
}

/// Device time of one call of `f` in µs: `reps` calls inside one profiling window
/// (their outputs kept alive so nothing is skipped), divided by `reps`.
async fn gpu_time<O: Send + 'static>(device: &Device, timestamps: bool, reps: usize, f: impl Fn() -> O + Send) -> Option<f32> {
    if !(on_gpu(device) && timestamps) {
        return None;
    }
    let options = burn::tensor::ProfileOptions::default().flush();
    let (outs, window) = device.profile_with(options, move || (0..reps).map(|_| f()).collect::<Vec<O>>()).ok()?;
    let ticks = window.resolve().await;
    drop(outs);
    ticks.map(|t| (t.duration().as_secs_f64() * 1e6 / reps as f64) as f32)
}

/// Runs each kernel on `device` over random logits and compares it with the
/// reference computation it replaces: the CPU sampler (same RNG) for `sample`, and
/// burn's log-softmax/gather/softmax for `token_stats`, the model's burn ops for
/// `attention`. The page runs this from
/// the "look inside" view's compare button (and under `?bench=1`); the e2e test
/// asserts on it.
pub async fn check(backend: &Backend, seed: u64) -> Result<Vec<Check>, TrainError> {
    let (device, timestamps) = (&backend.device, backend.timestamps);
    let (rows, vocab) = (48, 300);
    let device = device.clone().inner();
    let normal = burn::tensor::Distribution::Normal(0.0, 2.0);
    // attention's input: a (3, 40, 3·48) projection with 4 heads (head size 12).
    let (nh, b, t, c) = (4, 3, 40, 48);
    // Every input drawn at once, under the seed lock (same draws, same order as one by one).
    let (logits, reference_logits, targets, qkv) = crate::backend::seeded(&device, seed, || {
        (
            Tensor::<2>::random([rows, vocab], normal, &device),
            Tensor::<2>::random([rows, vocab], normal, &device),
            Tensor::<1, Int>::random([rows], burn::tensor::Distribution::Uniform(0.0, vocab as f64), &device),
            Tensor::<3>::random([b, t, 3 * c], normal, &device),
        )
    });
    let host = read_vec(logits.clone()).await?;
    let mut out = vec![];
    // The second case splits the rows into 4 groups with seeds of their own (a
    // batch of prompts' answers).
    for (i, (temperature, top_k, groups)) in [(1.0f32, 0usize, 1u32), (0.8, 20, 4), (0.0, 0, 1), (1.3, 1, 1)].into_iter().enumerate() {
        let draw = Draw { seed: 0, counter: i as u32, temperature, top_k };
        let seeds: Vec<u32> = (0..groups).map(|g| (seed as u32 ^ 0x9e37).wrapping_add(g * 0x1000)).collect();
        let got = read_vec(sample_groups(logits.clone(), &seeds, &draw).await?.float()).await?;
        let want = reference::sample_groups(&host, vocab, &seeds, &draw);
        let same = got.iter().zip(&want).filter(|(g, w)| **g as u32 == **w).count();
        let within = got.iter().enumerate().all(|(r, &g)| {
            let row = &host[r * vocab..(r + 1) * vocab];
            let g = g as usize;
            g < vocab && reference::order_key(row[g]) >= reference::top_k_threshold(row, if temperature > 0.0 { top_k } else { 1 })
        });
        let gpu_us = gpu_time(&device, timestamps, 8, {
            let (l, s, d) = (logits.clone(), seeds.clone(), draw);
            move || sample_now(l.clone(), &s, &d)
        })
        .await;
        out.push(Check {
            kernel: Cow::Borrowed("sample"),
            rows,
            agreement: same as f32 / rows as f32,
            max_abs_error: 0.0,
            within_top_k: within,
            on_gpu: on_gpu(&device),
            gpu_us,
            burn_gpu_us: None,
        });
    }
    let got = read_vec(token_stats(logits.clone(), reference_logits.clone(), targets.clone())).await?;
    let want = read_vec(reference::token_stats(logits.clone(), reference_logits.clone(), targets.clone())).await?;
    let (agreement, max) = closeness(&got, &want);
    let gpu_us = gpu_time(&device, timestamps, 8, {
        let (p, r, t) = (logits.clone(), reference_logits.clone(), targets.clone());
        move || token_stats(p.clone(), r.clone(), t.clone())
    })
    .await;
    let burn_gpu_us = gpu_time(&device, timestamps, 8, {
        let (p, r, t) = (logits.clone(), reference_logits.clone(), targets.clone());
        move || reference::token_stats(p.clone(), r.clone(), t.clone())
    })
    .await;
    out.push(Check {
        kernel: Cow::Borrowed("token_stats"),
        rows,
        agreement,
        max_abs_error: max,
        within_top_k: true,
        on_gpu: on_gpu(&device),
        gpu_us,
        burn_gpu_us,
    });

    // attention against the model's burn ops; both outputs compared.
    let fused = crate::kernels::fused_attention(&qkv, nh, Kernels::default());
    let (y, att) = crate::model::attention(qkv.clone(), nh, Kernels::default());
    let (want_y, want_att) = crate::model::causal_attention(qkv.clone(), nh, Kernels::default());
    let got = [read_vec(y).await?, read_vec(att).await?].concat();
    let want = [read_vec(want_y).await?, read_vec(want_att).await?].concat();
    let (agreement, max) = closeness(&got, &want);
    let gpu_us = gpu_time(&device, timestamps, 8, {
        let x = qkv.clone();
        move || crate::model::attention(x.clone(), nh, Kernels::default())
    })
    .await;
    let burn_gpu_us = gpu_time(&device, timestamps, 8, {
        let x = qkv.clone();
        move || crate::model::causal_attention(x.clone(), nh, Kernels::default())
    })
    .await;
    out.push(Check {
        kernel: Cow::Borrowed("attention"),
        rows: b * nh * t,
        agreement,
        max_abs_error: max,
        within_top_k: true,
        on_gpu: fused,
        gpu_us,
        burn_gpu_us,
    });
    Ok(out)
}
