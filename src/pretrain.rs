//! Pretraining: next-token cross-entropy on random windows of the corpus, AdamW
//! with warm-up (see [`crate::train`]).

use crate::TrainError;
use crate::data::Batch;
use crate::kernels::Kernels;
use crate::model::{Gpt, GptConfig, Preset};
use crate::readback::read_scalar;
use crate::train::{Fitter, OptimConfig};
use burn::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PretrainConfig {
    pub batch_size: usize,
    /// Tokens per training window (≤ the model's block size).
    pub block: usize,
    pub optim: OptimConfig,
    /// Held-out windows averaged for one held-out loss.
    pub eval_windows: usize,
    /// Split each batch across rayon's threads where there are some (`fast-cpu`);
    /// the pretraining bench turns it off to time the unsplit step in the same run.
    pub shard: bool,
}

impl PretrainConfig {
    pub fn for_preset(preset: Preset) -> Self {
        let optim = |lr, warmup_steps| OptimConfig { lr, warmup_steps, weight_decay: 0.01, grad_clip_norm: 1.0 };
        match preset {
            Preset::Micro => Self { batch_size: 8, block: 32, optim: optim(3e-3, 10), eval_windows: 16, shard: true },
            Preset::Small => Self { batch_size: 16, block: 96, optim: optim(1e-3, 30), eval_windows: 32, shard: true },
        }
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
    fitter: Fitter,
    pub cfg: PretrainConfig,
    train: Vec<u32>,
    held_out: Batch,
    rng: StdRng,
    /// The autodiff flavour of the chosen device.
    device: Device,
}

impl Pretrainer {
    pub fn new(model_cfg: &GptConfig, cfg: PretrainConfig, train: Vec<u32>, held_out: &[u32], seed: u64, device: &Device) -> Self {
        assert!(cfg.block <= model_cfg.block_size, "training window longer than the model's context");
        let autodiff = device.clone().autodiff();
        let model = crate::backend::seeded(device, seed, || model_cfg.init(&autodiff));
        let device = autodiff;
        let fitter = Fitter::new(model, cfg.optim.clone());
        let held_out = Batch::evenly_spaced(held_out, cfg.eval_windows, cfg.block);
        Self { fitter, train, held_out, rng: StdRng::seed_from_u64(seed), device, cfg }
    }

    pub fn step_count(&self) -> usize {
        self.fitter.step_count()
    }

    /// Goes on from weights read from a checkpoint (on the autodiff device) that
    /// had trained `steps` steps.
    pub fn resume(&mut self, model: Gpt, steps: usize) {
        self.fitter.restart_from(model, steps);
    }

    /// From here on the model runs `kernels` (benchmarks: burn's own operations in
    /// place of ours, in the same run). Before the first step, so nothing is lost.
    pub fn set_kernels(&mut self, kernels: Kernels) {
        let model = self.fitter.model.clone().with_kernels(kernels);
        self.fitter.restart_from(model, self.step_count());
    }

    /// A copy of the model without autodiff, for sampling and inspection.
    pub fn model(&self) -> Gpt {
        self.fitter.model.valid()
    }

    /// The trained weights with autodiff, to fine-tune from (SFT starts here).
    pub fn trainable_model(&self) -> Gpt {
        self.fitter.model.clone()
    }

    /// One AdamW step on a fresh random batch.
    pub async fn step(&mut self) -> Result<PretrainStep, TrainError> {
        let batch = Batch::random(&self.train, self.cfg.batch_size, self.cfg.block, &mut self.rng);
        // One shard (a GPU, or a CPU build without threads) is the whole batch.
        let shards = batch.split(crate::train::shards_for(&self.device, batch.batch_size, self.cfg.shard));
        // Every row has `block` targets: a shard's share of the mean is its rows' share.
        let rows = batch.batch_size as f64;
        let device = &self.device;
        let (train_loss, lr) = self
            .fitter
            .step_sharded(shards, |model, shard| {
                let (inputs, targets) = shard.to_tensors(device);
                model.cross_entropy(model.forward(inputs), targets) * (shard.batch_size as f64 / rows)
            })
            .await?;
        Ok(PretrainStep { step: self.step_count(), train_loss, lr, tokens: batch.batch_size * batch.block })
    }

    /// Mean loss on the fixed held-out windows (no gradients).
    pub async fn held_out_loss(&self) -> Result<f32, TrainError> {
        held_out_loss(&self.model(), &self.held_out, &self.device.clone().inner()).await
    }
}

/// Mean next-token loss of `model` on a fixed batch — also the "alignment tax"
/// measure later stages reuse on the held-out corpus.
pub async fn held_out_loss(model: &Gpt, batch: &Batch, device: &Device) -> Result<f32, TrainError> {
    let (inputs, targets) = batch.to_tensors(device);
    read_scalar(model.cross_entropy(model.forward(inputs), targets)).await
}
