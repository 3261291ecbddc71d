//! One optimiser step, shared by every stage that trains the GPT (pretraining,
//! SFT, and later the reward model and PPO): AdamW with warm-up, a loss read back
//! once per step, and a roll-back to the last good weights when the loss blows up.

use crate::TrainError;
use crate::model::Gpt;
use crate::readback::read_scalar;
use burn::grad_clipping::GradientClippingConfig;
use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer};
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

    /// Applies one update for `loss` (computed from `self.model`) and returns its value.
    /// A NaN/inf loss means the *previous* update broke the weights: go back to the
    /// weights before it, restart AdamW's moments, and report the error.
    pub async fn step(&mut self, loss: Tensor<1>) -> Result<(f32, f64), TrainError> {
        let value = read_scalar(loss.clone()).await?;
        if !value.is_finite() {
            self.model = self.last_good.clone();
            self.optim = self.cfg.adamw();
            self.step = self.step.saturating_sub(1);
            return Err(TrainError::NonFinite { step: self.step + 1, value });
        }
        let grads = GradientsParams::from_grads(loss.backward(), &self.model);
        let lr = self.cfg.lr_at(self.step);
        self.last_good = self.model.clone();
        self.model = self.optim.step(lr, self.model.clone(), grads);
        self.step += 1;
        Ok((value, lr))
    }
}
