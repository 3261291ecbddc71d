//! Stage 3's persona labelling and stage 4's driver: the reward model, trained on
//! ranked prompts in shuffled passes, each batch element one prompt with all its
//! pairs (InstructGPT's batching). The runner and the page train it here with the
//! same optimiser, batch and order; what they show after a pass is theirs.

use super::passes::Passes;
use crate::TrainError;
use crate::lab::Lab;
use crate::model::Gpt;
use crate::persona::Persona;
use crate::rank::{Comparison, persona_comparison, rank_sampling, sample_answers_many};
use crate::reward::{RewardModel, RewardStep, RewardTrainer};
use crate::sft::{Demonstration, SftTrainer};
use crate::train::OptimConfig;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// How a reward model trains.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RewardSettings {
    pub lr: f64,
    /// Prompts per step (each with all its pairs).
    pub batch: usize,
    /// Starting α of the likelihood read-out (0 = the scalar head alone).
    pub fluency: f32,
    pub warmup: usize,
}

impl Default for RewardSettings {
    fn default() -> Self {
        Self { lr: 1e-3, batch: 4, fluency: 1.0, warmup: 10 }
    }
}

impl RewardSettings {
    pub fn optim(&self) -> OptimConfig {
        OptimConfig { lr: self.lr, warmup_steps: self.warmup, weight_decay: 0.0, grad_clip_norm: 1.0 }
    }
}

/// What one step did: the trainer's statistics, and whether it finished a pass
/// over the ranked prompts (`passes` counts the finished ones).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stepped {
    #[serde(flatten)]
    pub stats: RewardStep,
    /// The prompts this step learned from.
    pub prompts: Vec<String>,
    pub pass_done: bool,
    pub passes: usize,
}

/// The reward model stage: a trainer started from SFT and the order it walks the
/// ranked prompts in. Starting over is a new stage, so nothing of a discarded
/// model survives.
pub struct RewardStage {
    pub trainer: RewardTrainer,
    pub settings: RewardSettings,
    passes: Passes,
}

impl RewardStage {
    /// A reward model on SFT's weights (InstructGPT starts its RM from the SFT model).
    pub fn new(lab: &Lab, sft: &SftTrainer, settings: RewardSettings, rng: StdRng) -> Self {
        let trainer = RewardTrainer::new(sft.trainable_model(), lab.model_cfg.n_embd, settings.fluency, settings.optim(), &lab.device);
        Self { passes: Passes::new(settings.batch, rng), trainer, settings }
    }

    /// Goes on from a kept or imported reward model (on the autodiff device) that
    /// had trained `steps` steps.
    pub fn resumed(lab: &Lab, model: RewardModel, steps: usize, settings: RewardSettings, rng: StdRng) -> Self {
        let trainer = RewardTrainer::resumed(model, steps, settings.optim(), &lab.device);
        Self { passes: Passes::new(settings.batch, rng), trainer, settings }
    }

    pub fn passes(&self) -> usize {
        self.passes.done()
    }

    /// Steps in one pass over `ranked` (prompts with no pair do not count).
    pub fn steps_per_pass(&self, ranked: &[Comparison]) -> usize {
        self.passes.steps_per_pass(ranked)
    }

    /// One step on the next batch of `ranked` (prompts with no pair skipped). When
    /// the number of ranked prompts changed since the last step (a person ranked
    /// more), a new shuffled pass starts over all of them.
    pub async fn step(&mut self, lab: &Lab, ranked: &[Comparison]) -> Result<Stepped, TrainError> {
        let (batch, pass_done) = self.passes.next(ranked);
        if batch.is_empty() {
            return Err(TrainError::NoPairs);
        }
        let stats = self.trainer.step_batch(&lab.tokenizer, &batch).await?;
        let prompts = batch.iter().map(|c| c.prompt.clone()).collect();
        Ok(Stepped { stats, prompts, pass_done, passes: self.passes.done() })
    }

    /// Shifts the head's bias so SFT's demonstrations score 0 on average (a score
    /// above 0 then reads "better than SFT's teachers"); returns the shift.
    pub async fn normalize(&mut self, lab: &Lab, demos: &[Demonstration]) -> Result<f32, TrainError> {
        self.trainer.normalize(&lab.tokenizer, demos).await
    }
}

/// Prompts whose answers are sampled in one batch by [`rank_by_persona`]: K_MAX × 16
/// rows, and the page hears of a batch's rankings before the next is sampled.
const RANK_BATCH: usize = 16;

/// K answers from `policy` to each prompt, ranked by `persona` (ties dropped from
/// the pairs); `each` sees every prompt's places and comparison as it is ranked.
pub async fn rank_by_persona(
    policy: &Gpt,
    lab: &Lab,
    persona: &Persona,
    prompts: &[String],
    k: usize,
    rng: &mut StdRng,
    mut each: impl FnMut(usize, &[u32], &Comparison),
) -> Result<Vec<Comparison>, TrainError> {
    // A stream per prompt, so a prompt's answers and ranking do not depend on the
    // batch it is sampled in.
    let mut rngs: Vec<StdRng> = prompts.iter().map(|_| StdRng::seed_from_u64(rng.random())).collect();
    let mut out = vec![];
    for (prompts, rngs) in prompts.chunks(RANK_BATCH).zip(rngs.chunks_mut(RANK_BATCH)) {
        let answers = sample_answers_many(policy, &lab.tokenizer, prompts, k, &rank_sampling(), rngs, &lab.device).await?;
        for ((p, answers), rng) in prompts.iter().zip(answers).zip(rngs.iter_mut()) {
            let (ranks, c) = persona_comparison(persona, p, answers, rng);
            each(out.len(), &ranks, &c);
            out.push(c);
        }
    }
    Ok(out)
}
