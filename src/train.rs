//! One optimiser step, shared by every stage that trains the GPT (pretraining,
//! SFT, and later the reward model and PPO): AdamW with warm-up, a loss read back
//! once per step, and a roll-back to the last good weights when the loss blows up.

use crate::TrainError;
use crate::model::Gpt;
use crate::readback::read_scalar;
use burn::grad_clipping::GradientClippingConfig;
use burn::optim::{AdamWConfig, GradientsAccumulator, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OptimConfig {
    pub lr: f64,
    pub warmup_steps: usize,
    pub weight_decay: f32,
    /// Per-parameter gradient norm clip (burn clips each tensor separately).
    pub grad_clip_norm: f32,
}

impl OptimConfig {
    /// Learning rate at `step` (0-based): linear warm-up, then constant — the runs
    /// are open-ended (Start / Pause), so there is no known end to decay toward.
    pub fn lr_at(&self, step: usize) -> f64 {
        if step < self.warmup_steps { self.lr * (step + 1) as f64 / self.warmup_steps as f64 } else { self.lr }
    }

    fn adamw(&self) -> ModuleOptimizer {
        AdamWConfig::new()
            .with_weight_decay(self.weight_decay)
            .with_grad_clipping(Some(GradientClippingConfig::Norm(self.grad_clip_norm)))
            .init()
    }
}

/// A model (the GPT, or the reward model built on it) on an autodiff device, and
/// its optimiser.
pub struct Fitter<M = Gpt> {
    /// The weights being trained; compute the loss from these.
    pub model: M,
    /// The weights one update ago, whose loss was finite (cheap: tensors are shared).
    last_good: M,
    optim: ModuleOptimizer,
    pub cfg: OptimConfig,
    step: usize,
}

impl<M: Module> Fitter<M> {
    pub fn new(model: M, cfg: OptimConfig) -> Self {
        Self { last_good: model.clone(), optim: cfg.adamw(), model, cfg, step: 0 }
    }

    pub fn step_count(&self) -> usize {
        self.step
    }

    /// Goes on from `model` (weights read from a checkpoint, on the autodiff
    /// device) trained `steps` steps, with a fresh optimiser: a checkpoint keeps
    /// weights, not AdamW's moments. (The learning-rate schedule goes on from `steps`.)
    pub fn restart_from(&mut self, model: M, steps: usize) {
        *self = Self::new(model, self.cfg.clone());
        self.step = steps;
    }

    /// Applies one update for `loss` (computed from `self.model`) and returns its value.
    /// A NaN/inf loss means the *previous* update broke the weights: go back to the
    /// weights before it, restart AdamW's moments, and report the error.
    pub async fn step(&mut self, loss: Tensor<1>) -> Result<(f32, f64), TrainError> {
        let value = read_scalar(loss.clone()).await?;
        if !value.is_finite() {
            return Err(self.roll_back(value));
        }
        let grads = GradientsParams::from_grads(loss.backward(), &self.model);
        // The backward pass and the next forward were one task on the CPU backend.
        crate::breathe::breathe().await;
        Ok((value, self.apply(grads)))
    }

    /// The same update as [`step`](Self::step) for a loss that is a sum over
    /// `shards` of a batch: `loss(model, shard)` must return the shard's part of the
    /// batch's loss (e.g. its mean × its share of the rows), so the parts add up to
    /// the whole-batch loss and their gradients to its gradient.
    ///
    /// Why: burn's CPU backend runs its matmuls on every core but its elementwise
    /// ops (adds, exp, erf …, a third of a step) on one. Each shard runs forward
    /// and backward on its own copy of the weights (`fork`: the same tensors, its
    /// own autodiff graph, so the graphs never share a lock) on its own rayon
    /// thread, and the gradients are summed — data parallelism across the CPU's
    /// cores, as PyTorch's DDP does across devices. Without rayon (the plain and
    /// the wasm builds) the shards run one after another.
    /// One shard is exactly [`step`](Self::step) on the model itself (no copy).
    pub async fn step_sharded<S: Send>(
        &mut self,
        mut shards: Vec<S>,
        loss: impl Fn(&M, S) -> Tensor<1> + Sync,
    ) -> Result<(f32, f64), TrainError> {
        if shards.len() == 1 {
            let whole = loss(&self.model, shards.pop().unwrap());
            return self.step(whole).await;
        }
        let device = self.model.devices().into_iter().next().expect("a model with parameters");
        let parts = run_shards(shards.into_iter().map(|s| (self.model.clone(), s)).collect(), &|(copy, shard): (M, S)| {
            let copy = copy.fork(&device);
            let part = loss(&copy, shard);
            let value = part.clone().detach();
            (value, GradientsParams::from_grads(part.backward(), &copy))
        });
        let (values, parts): (Vec<_>, Vec<_>) = parts.into_iter().unzip();
        let mut grads = GradientsAccumulator::<M>::new();
        for part in parts {
            grads.accumulate(&self.model, part);
        }
        let value = read_scalar(Tensor::cat(values, 0).sum()).await?;
        if !value.is_finite() {
            return Err(self.roll_back(value));
        }
        Ok((value, self.apply(grads.grads())))
    }

    fn roll_back(&mut self, value: f32) -> TrainError {
        self.model = self.last_good.clone();
        self.optim = self.cfg.adamw();
        self.step = self.step.saturating_sub(1);
        TrainError::NonFinite { step: self.step + 1, value }
    }

    /// AdamW at this step's learning rate; returns the rate.
    fn apply(&mut self, grads: GradientsParams) -> f64 {
        let lr = self.cfg.lr_at(self.step);
        self.last_good = self.model.clone();
        self.model = self.optim.step(lr, self.model.clone(), grads);
        self.step += 1;
        lr
    }
}

/// How many shards to split a batch of `rows` into on `device`: one per rayon
/// thread on the CPU backend with threads (`fast-cpu`) where `shard` asks for it,
/// else 1 (a GPU runs the whole batch in parallel already).
pub fn shards_for(device: &Device, rows: usize, shard: bool) -> usize {
    #[cfg(feature = "fast-cpu")]
    {
        if !shard || crate::kernels::on_gpu(device) { 1 } else { rayon::current_num_threads().clamp(1, rows.max(1)) }
    }
    #[cfg(not(feature = "fast-cpu"))]
    {
        let _ = (device, rows, shard);
        1
    }
}

/// `work` on every item, on rayon's threads when there are any.
fn run_shards<I: Send, O: Send>(items: Vec<I>, work: &(impl Fn(I) -> O + Sync)) -> Vec<O> {
    #[cfg(feature = "fast-cpu")]
    {
        use rayon::prelude::*;
        items.into_par_iter().map(work).collect()
    }
    #[cfg(not(feature = "fast-cpu"))]
    {
        items.into_iter().map(work).collect()
    }
}
