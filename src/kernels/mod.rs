//! Our hand-written WGSL kernels (`shaders/*.wgsl`) and the plain versions they are
//! checked against.
//!
//! burn generates almost every kernel the app runs. These are the ones we write
//! ourselves because generation and PPO otherwise move data they do not need:
//! - `sample`: the next token chosen on the GPU, so a batch of answers is read back
//!   once (`sample::first_readback_after`) instead of once per token;
//! - `token_stats`: log π, log π_ref and the policy's entropy per sampled token, in
//!   one pass over both models' logits (what PPO's KL-shaped reward and the
//!   per-token KL heatmap need);
//! - `attention`: causal self-attention straight from the q/k/v projection, also
//!   writing the probabilities the heatmaps draw, in one dispatch per layer instead
//!   of burn's chain of copies, matmuls and softmax — for every forward pass that
//!   needs no gradients (generation runs the whole model once per token).
//!
//! They run on wgpu devices (WebGPU in the browser; `--features wgpu` natively).
//! On burn's CPU backend the same functions fall back to [`reference`], which is
//! also what the kernels are tested against ([`check`]).
//!
//! On burn's CPU backend (`flex`: natively, and in a browser without WebGPU) the
//! training step's row-wise operations run our [`cpu`] kernels instead of burn's
//! chains of elementwise ops — [`causal_softmax`], [`layer_norm`],
//! [`token_log_probs`] and [`gelu`], each with a hand-written backward step;
//! everywhere else the same functions run burn's ops ([`reference`]).

pub mod cpu;
pub mod reference;

#[cfg(any(target_arch = "wasm32", feature = "wgpu"))]
mod gpu;

use crate::TrainError;
use crate::readback::read_vec;
use burn::prelude::*;
pub use reference::Draw;
use serde::Serialize;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// One of our kernels, as the "look inside" view shows it.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Kernel {
    pub name: &'static str,
    pub file: &'static str,
    /// Where the app runs it.
    pub used_by: &'static str,
    pub source: &'static str,
    /// `rlhfStatus().metrics` keys of its dispatches: in the last GPU step, since load.
    pub metrics: [&'static str; 2],
}

/// How many kernels we wrote.
pub const N: usize = 3;

pub const KERNELS: [Kernel; N] = [
    Kernel {
        name: "sample",
        file: "shaders/sample.wgsl",
        used_by: "generation: samples, ranking answers, PPO rollouts, evaluation",
        source: include_str!("../../shaders/sample.wgsl"),
        metrics: ["kernel_sample_last", "kernel_sample_total"],
    },
    Kernel {
        name: "token_stats",
        file: "shaders/token_stats.wgsl",
        used_by: "PPO rollouts: log π, log π_ref (the per-token KL) and entropy",
        source: include_str!("../../shaders/token_stats.wgsl"),
        metrics: ["kernel_token_stats_last", "kernel_token_stats_total"],
    },
    Kernel {
        name: "attention",
        file: "shaders/attention.wgsl",
        used_by: "every forward pass without gradients: generation, reward scores, rollouts, attention heatmaps",
        source: include_str!("../../shaders/attention.wgsl"),
        metrics: ["kernel_attention_last", "kernel_attention_total"],
    },
];

static DISPATCHES: [AtomicU64; N] = [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)];

#[allow(dead_code)] // only the GPU build dispatches
fn count(kernel: usize) {
    DISPATCHES[kernel].fetch_add(1, Ordering::Relaxed);
}

/// How many times each of [`KERNELS`] has been dispatched since the page opened.
pub fn dispatches() -> [u64; N] {
    std::array::from_fn(|i| DISPATCHES[i].load(Ordering::Relaxed))
}

/// Whether tensors on `device` run our WGSL kernels (a wgpu device) or the CPU
/// reference.
pub fn on_gpu(device: &Device) -> bool {
    #[cfg(any(target_arch = "wasm32", feature = "wgpu"))]
    {
        matches!(device.clone().inner().as_dispatch(), burn::backend::DispatchDevice::Cube(_))
    }
    #[cfg(not(any(target_arch = "wasm32", feature = "wgpu")))]
    {
        let _ = device;
        false
    }
}

static GPU_SAMPLING: AtomicBool = AtomicBool::new(true);

/// Benchmarks switch the `sample` kernel off to time the path it replaced (the
/// logits read back after every token, the choice made on the CPU) on the same
/// device, in the same run.
pub fn set_gpu_sampling(on: bool) {
    GPU_SAMPLING.store(on, Ordering::Relaxed);
}

/// Whether generation on `device` picks tokens with the `sample` kernel.
pub fn gpu_sampling(device: &Device) -> bool {
    GPU_SAMPLING.load(Ordering::Relaxed) && on_gpu(device)
}

static GPU_ATTENTION: AtomicBool = AtomicBool::new(true);

/// Benchmarks switch the `attention` kernel off to time burn's operations on the
/// same device, in the same run.
pub fn set_gpu_attention(on: bool) {
    GPU_ATTENTION.store(on, Ordering::Relaxed);
}

/// `attention.wgsl`'s limits: a thread keeps its query (one head) in a private
/// array of 128, and walks a row of at most 256 positions.
pub const ATTENTION_MAX_T: usize = 256;
pub const ATTENTION_MAX_HEAD: usize = 128;

pub fn attention_fits(t: usize, c: usize, n_head: usize) -> bool {
    n_head > 0 && c.is_multiple_of(n_head) && t <= ATTENTION_MAX_T && c / n_head <= ATTENTION_MAX_HEAD
}

/// Whether the model's attention on this projection runs `attention.wgsl`: on a
/// GPU, without autodiff (training needs burn's ops for the backward pass), and
/// within the kernel's limits.
pub fn fused_attention(qkv: &Tensor<3>, n_head: usize) -> bool {
    let [b, t, c3] = qkv.dims();
    let device = qkv.device();
    // One thread per row, in at most 65 535 workgroups of 64.
    let rows_fit = b * n_head * t <= 65_535 * 64;
    GPU_ATTENTION.load(Ordering::Relaxed) && !device.is_autodiff() && on_gpu(&device) && attention_fits(t, c3 / 3, n_head) && rows_fit
}

/// Causal self-attention of the projection qkv (B, T, 3C) → (y (B, T, C), the
/// probabilities (B, nh, T, T)): `attention.wgsl` on a GPU, the model's own burn
/// ops ([`crate::model::causal_attention`]) otherwise.
pub fn attention(qkv: Tensor<3>, n_head: usize) -> (Tensor<3>, Tensor<4>) {
    #[cfg(any(target_arch = "wasm32", feature = "wgpu"))]
    if fused_attention(&qkv, n_head) {
        use burn::backend::Dispatch;
        let (y, att) = <Dispatch as gpu::RlhfKernels>::causal_attention(qkv.into_dispatch(), n_head as u32);
        return (Tensor::from_dispatch(y), Tensor::from_dispatch(att));
    }
    crate::model::causal_attention(qkv, n_head)
}

static CPU_KERNELS: AtomicBool = AtomicBool::new(true);

/// Benchmarks and tests switch our CPU kernels off to run burn's ops on the same
/// device, in the same run.
pub fn set_cpu_kernels(on: bool) {
    CPU_KERNELS.store(on, Ordering::Relaxed);
}

/// Whether f32 tensors on `device` (with or without autodiff) run our [`cpu`]
/// kernels: burn's flex backend, unless switched off.
pub fn cpu_kernels(device: &Device) -> bool {
    CPU_KERNELS.load(Ordering::Relaxed) && matches!(device.clone().inner().as_dispatch(), burn::backend::DispatchDevice::Flex(_))
}

/// Whether `x` goes to our [`cpu`] kernels: f32 on a device where they run.
fn ours<const D: usize>(x: &Tensor<D>) -> bool {
    x.dtype() == burn::tensor::DType::F32 && cpu_kernels(&x.device())
}

/// Softmax of attention scores (B, nh, Tq, Tk) over the keys each query may see,
/// the queries being the last Tq positions (j ≤ i; Tq < Tk after a KV cache):
/// [`cpu::CpuKernels::causal_softmax`] on the CPU, the masked burn softmax
/// ([`reference::causal_softmax`]) elsewhere.
pub fn causal_softmax(scores: Tensor<4>) -> Tensor<4> {
    if ours(&scores) {
        use burn::backend::Dispatch;
        return Tensor::from_dispatch(<Dispatch as cpu::CpuKernels>::causal_softmax(scores.into_dispatch()));
    }
    reference::causal_softmax(scores)
}

/// `ln` applied to `x` (…, C) with ε = `epsilon`: [`cpu::CpuKernels::layer_norm`]
/// on the CPU, burn's LayerNorm elsewhere.
pub fn layer_norm<const D: usize>(ln: &burn::nn::LayerNorm, epsilon: f64, x: Tensor<D>) -> Tensor<D> {
    if ours(&x)
        && let Some(beta) = &ln.beta
    {
        use burn::backend::Dispatch;
        let y = <Dispatch as cpu::CpuKernels>::layer_norm(
            x.into_dispatch(),
            ln.gamma.val().into_dispatch(),
            beta.val().into_dispatch(),
            epsilon as f32,
        );
        return Tensor::from_dispatch(y);
    }
    ln.forward(x)
}

/// log p(target) at every position: logits (B, T, V), targets (B, T) → (B, T).
/// [`cpu::CpuKernels::token_log_probs`] on the CPU, burn's log-softmax and gather
/// ([`reference::token_log_probs`]) elsewhere.
pub fn token_log_probs(logits: Tensor<3>, targets: Tensor<2, Int>) -> Tensor<2> {
    if ours(&logits) {
        use burn::backend::Dispatch;
        let [b, t, v] = logits.dims();
        let lp = <Dispatch as cpu::CpuKernels>::token_log_probs(
            logits.reshape([b * t, v]).into_dispatch(),
            targets.reshape([b * t]).into_dispatch(),
        );
        return Tensor::<1>::from_dispatch(lp).reshape([b, t]);
    }
    reference::token_log_probs(logits, targets)
}

/// The exact GELU: [`cpu::CpuKernels::gelu`] on the CPU, burn's elsewhere.
pub fn gelu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    if ours(&x) {
        use burn::backend::Dispatch;
        return Tensor::from_dispatch(<Dispatch as cpu::CpuKernels>::gelu(x.into_dispatch()));
    }
    burn::tensor::activation::gelu(x)
}

/// The next token of every row of `logits` (rows, V), on the logits' device: the
/// `sample` kernel on a GPU (nothing is read back), the CPU reference otherwise.
pub async fn sample(logits: Tensor<2>, draw: &Draw) -> Result<Tensor<1, Int>, TrainError> {
    let device = logits.device();
    if on_gpu(&device) {
        return Ok(sample_now(logits, draw));
    }
    let [_, v] = logits.dims();
    let tokens = reference::sample_rows(&read_vec(logits).await?, v, draw);
    let n = tokens.len();
    Ok(Tensor::from_data(TensorData::new(tokens.into_iter().map(|t| t as i32).collect::<Vec<_>>(), [n]), &device))
}

/// The `sample` kernel's dispatch, on a wgpu device.
fn sample_now(logits: Tensor<2>, draw: &Draw) -> Tensor<1, Int> {
    #[cfg(any(target_arch = "wasm32", feature = "wgpu"))]
    {
        use burn::backend::Dispatch;
        Tensor::from_dispatch(<Dispatch as gpu::RlhfKernels>::sample_tokens(
            logits.into_dispatch(),
            draw.seed,
            draw.counter,
            draw.temperature,
            draw.top_k as u32,
        ))
    }
    #[cfg(not(any(target_arch = "wasm32", feature = "wgpu")))]
    {
        let _ = (logits, draw);
        unreachable!("no wgpu device in this build")
    }
}

/// (N, 3) = (log π(y), log π_ref(y), H(π)) for logits (N, V) of the policy and
/// the reference and targets (N): the `token_stats` kernel on a GPU, burn ops
/// otherwise. No gradients: for rollouts and views, not for the update.
pub fn token_stats(policy: Tensor<2>, reference: Tensor<2>, targets: Tensor<1, Int>) -> Tensor<2> {
    #[cfg(any(target_arch = "wasm32", feature = "wgpu"))]
    if on_gpu(&policy.device()) {
        use burn::backend::Dispatch;
        let targets = targets.cast(burn::tensor::DType::I32);
        let out = <Dispatch as gpu::RlhfKernels>::token_stats(policy.into_dispatch(), reference.into_dispatch(), targets.into_dispatch());
        return Tensor::from_dispatch(out);
    }
    reference::token_stats(policy, reference, targets)
}

/// How far one kernel's output was from its reference on this device.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub kernel: &'static str,
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

static TIMESTAMPS: AtomicBool = AtomicBool::new(false);

/// Set by the GPU backend's set-up: whether the adapter has `timestamp-query`, so
/// [`gpu_time`] can ask the device for its own clock. (burn's fallback without it
/// blocks on the device, which a browser cannot do.)
pub fn set_timestamps(available: bool) {
    TIMESTAMPS.store(available, Ordering::Relaxed);
}

pub fn timestamps() -> bool {
    TIMESTAMPS.load(Ordering::Relaxed)
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
async fn gpu_time<O: Send + 'static>(device: &Device, reps: usize, f: impl Fn() -> O + Send) -> Option<f32> {
    if !(on_gpu(device) && timestamps()) {
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
pub async fn check(device: &Device, seed: u64) -> Result<Vec<Check>, TrainError> {
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
    for (i, (temperature, top_k)) in [(1.0f32, 0usize), (0.8, 20), (0.0, 0), (1.3, 1)].into_iter().enumerate() {
        let draw = Draw { seed: seed as u32 ^ 0x9e37, counter: i as u32, temperature, top_k };
        let got = read_vec(sample(logits.clone(), &draw).await?.float()).await?;
        let want = reference::sample_rows(&host, vocab, &draw);
        let same = got.iter().zip(&want).filter(|(g, w)| **g as u32 == **w).count();
        let within = got.iter().enumerate().all(|(r, &g)| {
            let row = &host[r * vocab..(r + 1) * vocab];
            let g = g as usize;
            g < vocab && reference::order_key(row[g]) >= reference::top_k_threshold(row, if temperature > 0.0 { top_k } else { 1 })
        });
        let gpu_us = gpu_time(&device, 8, {
            let (l, d) = (logits.clone(), draw);
            move || sample_now(l.clone(), &d)
        })
        .await;
        out.push(Check {
            kernel: "sample",
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
    let gpu_us = gpu_time(&device, 8, {
        let (p, r, t) = (logits.clone(), reference_logits.clone(), targets.clone());
        move || token_stats(p.clone(), r.clone(), t.clone())
    })
    .await;
    let burn_gpu_us = gpu_time(&device, 8, {
        let (p, r, t) = (logits.clone(), reference_logits.clone(), targets.clone());
        move || reference::token_stats(p.clone(), r.clone(), t.clone())
    })
    .await;
    out.push(Check {
        kernel: "token_stats",
        rows,
        agreement,
        max_abs_error: max,
        within_top_k: true,
        on_gpu: on_gpu(&device),
        gpu_us,
        burn_gpu_us,
    });

    // attention against the model's burn ops; both outputs compared.
    let (y, att) = attention(qkv.clone(), nh);
    let (want_y, want_att) = crate::model::causal_attention(qkv.clone(), nh);
    let got = [read_vec(y).await?, read_vec(att).await?].concat();
    let want = [read_vec(want_y).await?, read_vec(want_att).await?].concat();
    let (agreement, max) = closeness(&got, &want);
    let gpu_us = gpu_time(&device, 8, {
        let x = qkv.clone();
        move || attention(x.clone(), nh)
    })
    .await;
    let burn_gpu_us = gpu_time(&device, 8, {
        let x = qkv.clone();
        move || crate::model::causal_attention(x.clone(), nh)
    })
    .await;
    out.push(Check {
        kernel: "attention",
        rows: b * nh * t,
        agreement,
        max_abs_error: max,
        within_top_k: true,
        on_gpu: on_gpu(&device) && GPU_ATTENTION.load(Ordering::Relaxed),
        gpu_us,
        burn_gpu_us,
    });
    Ok(out)
}
