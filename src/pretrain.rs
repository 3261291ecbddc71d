//! Pretraining: next-token cross-entropy on random windows of the corpus, AdamW,
//! linear warm-up then a constant learning rate (the run is open-ended: the user
//! presses Start and Pause, so there is no known end for a cosine to decay to).
//!
//! Each `step` reads exactly one number back (the loss): the chart needs it, and it
//! is how a blow-up is caught. A NaN/inf loss means the *previous* update broke the
//! weights, so the pretrainer goes back to the weights before it (the last ones
//! whose loss was finite), restarts AdamW's moments, and reports the error.

use crate::data::Batch;
use crate::model::{Gpt, GptConfig, Preset, cross_entropy};
use crate::readback::read_scalar;
use crate::TrainError;
use burn::grad_clipping::GradientClippingConfig;
use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PretrainConfig {
    pub batch_size: usize,
    /// Tokens per training window (≤ the model's block size).
    pub block: usize,
    pub lr: f64,
    pub warmup_steps: usize,
    pub weight_decay: f32,
    pub grad_clip_norm: f32,
    /// Held-out windows averaged for one held-out loss.
    pub eval_windows: usize,
}

impl PretrainConfig {
    pub fn for_preset(preset: Preset) -> Self {
        match preset {
            Preset::Micro => Self { batch_size: 8, block: 32, lr: 3e-3, warmup_steps: 10, weight_decay: 0.01, grad_clip_norm: 1.0, eval_windows: 16 },
            Preset::Small => Self { batch_size: 16, block: 96, lr: 1e-3, warmup_steps: 30, weight_decay: 0.01, grad_clip_norm: 1.0, eval_windows: 32 },
        }
    }

    /// Learning rate at `step` (0-based): linear warm-up, then constant.
    pub fn lr_at(&self, step: usize) -> f64 {
        if step < self.warmup_steps { self.lr * (step + 1) as f64 / self.warmup_steps as f64 } else { self.lr }
    }
}

/// What one training step measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PretrainStep {
    pub step: usize,
    pub train_loss: f32,
    pub lr: f64,
    pub tokens: usize,
}

pub struct Pretrainer {
    /// Lives on the autodiff flavour of the chosen device.
    model: Gpt,
    /// The weights one update ago, whose loss was finite (cheap: tensors are shared).
    last_good: Gpt,
    optim: ModuleOptimizer,
    pub cfg: PretrainConfig,
    train: Vec<u32>,
    held_out: Batch,
    rng: StdRng,
    step: usize,
    device: Device,
}

impl Pretrainer {
    pub fn new(model_cfg: &GptConfig, cfg: PretrainConfig, train: Vec<u32>, held_out: &[u32], seed: u64, device: &Device) -> Self {
        assert!(cfg.block <= model_cfg.block_size, "training window longer than the model's context");
        device.seed(seed);
        let device = device.clone().autodiff();
        let model = model_cfg.init(&device);
        let held_out = Batch::evenly_spaced(held_out, cfg.eval_windows, cfg.block);
        Self { last_good: model.clone(), model, optim: adamw(&cfg), train, held_out, rng: StdRng::seed_from_u64(seed), step: 0, device, cfg }
    }

    pub fn step_count(&self) -> usize {
        self.step
    }

    /// A copy of the model without autodiff, for sampling and inspection.
    pub fn model(&self) -> Gpt {
        self.model.valid()
    }

    /// One AdamW step on a fresh random batch.
    pub async fn step(&mut self) -> Result<PretrainStep, TrainError> {
        let batch = Batch::random(&self.train, self.cfg.batch_size, self.cfg.block, &mut self.rng);
        let (inputs, targets) = batch.to_tensors(&self.device);
        let loss = cross_entropy(self.model.forward(inputs), targets);
        let train_loss = read_scalar(loss.clone()).await?;
        if !train_loss.is_finite() {
            self.model = self.last_good.clone();
            self.optim = adamw(&self.cfg);
            self.step = self.step.saturating_sub(1);
            return Err(TrainError::NonFinite { step: self.step + 1, value: train_loss });
        }
        let grads = GradientsParams::from_grads(loss.backward(), &self.model);
        let lr = self.cfg.lr_at(self.step);
        self.last_good = self.model.clone();
        self.model = self.optim.step(lr, self.model.clone(), grads);
        self.step += 1;
        Ok(PretrainStep { step: self.step, train_loss, lr, tokens: batch.batch_size * batch.block })
    }

    /// Mean loss on the fixed held-out windows (no gradients).
    pub async fn held_out_loss(&self) -> Result<f32, TrainError> {
        let model = self.model.valid();
        let (inputs, targets) = self.held_out.to_tensors(&self.device.clone().inner());
        read_scalar(cross_entropy(model.forward(inputs), targets)).await
    }
}

fn adamw(cfg: &PretrainConfig) -> ModuleOptimizer {
    AdamWConfig::new()
        .with_weight_decay(cfg.weight_decay)
        .with_grad_clipping(Some(GradientClippingConfig::Norm(cfg.grad_clip_norm)))
        .init()
}
