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
//! On burn's CPU backend `sample` and `token_stats` fall back to [`reference`] and
//! the model runs its own attention ([`crate::model::attention`] decides); those
//! are also what the kernels are tested against ([`crate::kernel_check::check`]).
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
use std::cell::Cell;

/// Which of our kernels a model runs where they apply (all of them, by default).
/// Benchmarks and tests turn some off to time or check burn's own operations on
/// the same device in the same run: the choice travels with the model
/// ([`crate::model::Gpt::with_kernels`]), so nothing else in the process changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kernels {
    /// Our [`cpu`] kernels for f32 tensors on burn's CPU backend (`flex`).
    pub cpu: bool,
    /// `attention.wgsl` for forward passes without gradients on a GPU.
    pub gpu_attention: bool,
    /// `sample.wgsl` picks generated tokens on a GPU (else the logits are read
    /// back after every token and the choice is made on the CPU).
    pub gpu_sampling: bool,
}

impl Default for Kernels {
    fn default() -> Self {
        Self { cpu: true, gpu_attention: true, gpu_sampling: true }
    }
}

impl Kernels {
    /// burn's operations everywhere: what our kernels are timed and checked against.
    pub const BURN: Self = Self { cpu: false, gpu_attention: false, gpu_sampling: false };
}

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

thread_local! {
    /// Per thread: the engine (the page's worker, the runner, one test) drives its
    /// device from one thread, so what it counts is its own, even while tests run
    /// side by side.
    static DISPATCHES: Cell<[u64; N]> = const { Cell::new([0; N]) };
}

#[allow(dead_code)] // only the GPU build dispatches
fn count(kernel: usize) {
    DISPATCHES.with(|d| {
        let mut n = d.get();
        n[kernel] += 1;
        d.set(n);
    });
}

/// How many times each of [`KERNELS`] has been dispatched from this thread.
pub fn dispatches() -> [u64; N] {
    DISPATCHES.with(Cell::get)
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

/// Whether generation on `device` picks tokens with the `sample` kernel.
pub fn gpu_sampling(device: &Device, kernels: Kernels) -> bool {
    kernels.gpu_sampling && on_gpu(device)
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
pub fn fused_attention(qkv: &Tensor<3>, n_head: usize, kernels: Kernels) -> bool {
    let [b, t, c3] = qkv.dims();
    let device = qkv.device();
    // One thread per row, in at most 65 535 workgroups of 64.
    let rows_fit = b * n_head * t <= 65_535 * 64;
    kernels.gpu_attention && !device.is_autodiff() && on_gpu(&device) && attention_fits(t, c3 / 3, n_head) && rows_fit
}

/// `attention.wgsl`: causal self-attention of the projection qkv (B, T, 3C) →
/// (y (B, T, C), the probabilities (B, nh, T, T)). Only where [`fused_attention`]
/// says so; the model runs its own burn ops everywhere else.
pub fn attention(qkv: Tensor<3>, n_head: usize) -> (Tensor<3>, Tensor<4>) {
    assert!(fused_attention(&qkv, n_head, Kernels::default()), "attention.wgsl runs on a wgpu device, without autodiff, within its limits");
    #[cfg(any(target_arch = "wasm32", feature = "wgpu"))]
    {
        use burn::backend::Dispatch;
        let (y, att) = <Dispatch as gpu::RlhfKernels>::causal_attention(qkv.into_dispatch(), n_head as u32);
        (Tensor::from_dispatch(y), Tensor::from_dispatch(att))
    }
    #[cfg(not(any(target_arch = "wasm32", feature = "wgpu")))]
    unreachable!("no wgpu device in this build")
}

/// Whether f32 tensors on `device` (with or without autodiff) run our [`cpu`]
/// kernels: burn's flex backend, unless switched off.
pub fn cpu_kernels(device: &Device, kernels: Kernels) -> bool {
    kernels.cpu && matches!(device.clone().inner().as_dispatch(), burn::backend::DispatchDevice::Flex(_))
}

/// Whether `x` goes to our [`cpu`] kernels: f32 on a device where they run.
fn ours<const D: usize>(x: &Tensor<D>, kernels: Kernels) -> bool {
    x.dtype() == burn::tensor::DType::F32 && cpu_kernels(&x.device(), kernels)
}

/// Softmax of attention scores (B, nh, Tq, Tk) over the keys each query may see,
/// the queries being the last Tq positions (j ≤ i; Tq < Tk after a KV cache):
/// [`cpu::CpuKernels::causal_softmax`] on the CPU, the masked burn softmax
/// ([`reference::causal_softmax`]) elsewhere.
pub fn causal_softmax(scores: Tensor<4>, kernels: Kernels) -> Tensor<4> {
    if ours(&scores, kernels) {
        use burn::backend::Dispatch;
        return Tensor::from_dispatch(<Dispatch as cpu::CpuKernels>::causal_softmax(scores.into_dispatch()));
    }
    reference::causal_softmax(scores)
}

/// `ln` applied to `x` (…, C) with ε = `epsilon`: [`cpu::CpuKernels::layer_norm`]
/// on the CPU, burn's LayerNorm elsewhere.
pub fn layer_norm<const D: usize>(ln: &burn::nn::LayerNorm, epsilon: f64, x: Tensor<D>, kernels: Kernels) -> Tensor<D> {
    if ours(&x, kernels)
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
pub fn token_log_probs(logits: Tensor<3>, targets: Tensor<2, Int>, kernels: Kernels) -> Tensor<2> {
    if ours(&logits, kernels) {
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
pub fn gelu<const D: usize>(x: Tensor<D>, kernels: Kernels) -> Tensor<D> {
    if ours(&x, kernels) {
        use burn::backend::Dispatch;
        return Tensor::from_dispatch(<Dispatch as cpu::CpuKernels>::gelu(x.into_dispatch()));
    }
    burn::tensor::activation::gelu(x)
}

/// The next token of every row of `logits` (rows, V), on the logits' device: the
/// `sample` kernel on a GPU (nothing is read back), the CPU reference otherwise.
pub async fn sample(logits: Tensor<2>, draw: &Draw) -> Result<Tensor<1, Int>, TrainError> {
    sample_groups(logits, &[draw.seed], draw).await
}

/// [`sample`] for rows in `seeds.len()` equal groups, each drawing with its own
/// seed ([`reference::sample_groups`]): one prompt's answers in a batch of prompts
/// get the numbers they would get alone.
pub async fn sample_groups(logits: Tensor<2>, seeds: &[u32], draw: &Draw) -> Result<Tensor<1, Int>, TrainError> {
    let device = logits.device();
    if on_gpu(&device) {
        return Ok(sample_now(logits, seeds, draw));
    }
    let [_, v] = logits.dims();
    let tokens = reference::sample_groups(&read_vec(logits).await?, v, seeds, draw);
    let n = tokens.len();
    Ok(Tensor::from_data(TensorData::new(tokens.into_iter().map(|t| t as i32).collect::<Vec<_>>(), [n]), &device))
}

/// The `sample` kernel's dispatch, on a wgpu device.
pub(crate) fn sample_now(logits: Tensor<2>, seeds: &[u32], draw: &Draw) -> Tensor<1, Int> {
    #[cfg(any(target_arch = "wasm32", feature = "wgpu"))]
    {
        use burn::backend::Dispatch;
        let seeds: Vec<i32> = seeds.iter().map(|&s| s as i32).collect();
        let n = seeds.len();
        let seeds = Tensor::<1, Int>::from_data(TensorData::new(seeds, [n]), &logits.device()).cast(burn::tensor::DType::I32);
        Tensor::from_dispatch(<Dispatch as gpu::RlhfKernels>::sample_tokens(
            logits.into_dispatch(),
            seeds.into_dispatch(),
            draw.counter,
            draw.temperature,
            draw.top_k as u32,
        ))
    }
    #[cfg(not(any(target_arch = "wasm32", feature = "wgpu")))]
    {
        let _ = (logits, seeds, draw);
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
