//! DPO's driver: the policy fitted directly to the ranked pairs, in the reward
//! model's shuffled passes and batches, from SFT with SFT as its reference. The
//! runner, the tests and (later) the page train it here.

use super::passes::Passes;
use crate::TrainError;
use crate::dpo::{DpoStep, DpoTrainer};
use crate::lab::Lab;
use crate::rank::Comparison;
use crate::sft::SftTrainer;
use crate::train::OptimConfig;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DpoSettings {
    /// β of the implicit reward β·log π/π_ref: how far from SFT the pairs may pull.
    pub beta: f32,
    pub lr: f64,
    /// Prompts per step (each with all its pairs), and passes over them.
    pub batch: usize,
    pub passes: usize,
    pub warmup: usize,
}

impl Default for DpoSettings {
    fn default() -> Self {
        Self { beta: 0.1, lr: 1e-4, batch: 4, passes: 2, warmup: 5 }
    }
}

impl DpoSettings {
    pub fn optim(&self) -> OptimConfig {
        OptimConfig { lr: self.lr, warmup_steps: self.warmup, weight_decay: 0.0, grad_clip_norm: 1.0 }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stepped {
    #[serde(flatten)]
    pub stats: DpoStep,
    pub pass_done: bool,
    pub passes: usize,
}

pub struct DpoStage {
    pub trainer: DpoTrainer,
    pub settings: DpoSettings,
    passes: Passes,
}

impl DpoStage {
    pub fn new(lab: &Lab, sft: &SftTrainer, settings: DpoSettings, rng: StdRng) -> Self {
        let trainer = DpoTrainer::new(sft.trainable_model(), sft.model(), settings.beta, settings.optim(), &lab.device);
        Self { trainer, passes: Passes::new(settings.batch, rng), settings }
    }

    /// Goes on from a kept DPO policy (on the autodiff device) after `steps` steps;
    /// its reference is SFT as it is now.
    pub fn resumed(lab: &Lab, sft: &SftTrainer, policy: crate::model::Gpt, steps: usize, settings: DpoSettings, rng: StdRng) -> Self {
        let trainer = DpoTrainer::resumed(policy, sft.model(), settings.beta, steps, settings.optim(), &lab.device);
        Self { trainer, passes: Passes::new(settings.batch, rng), settings }
    }

    pub fn passes(&self) -> usize {
        self.passes.done()
    }

    /// One step on the next batch of `ranked`.
    pub async fn step(&mut self, lab: &Lab, ranked: &[Comparison]) -> Result<Stepped, TrainError> {
        let (batch, pass_done) = self.passes.next(ranked);
        if batch.is_empty() {
            return Err(TrainError::NoPairs);
        }
        let stats = self.trainer.step_batch(&lab.tokenizer, &batch).await?;
        Ok(Stepped { stats, pass_done, passes: self.passes.done() })
    }
}
