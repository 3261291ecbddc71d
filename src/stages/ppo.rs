//! Stage 5's driver: PPO runs as the recipe builds them — one run, or the main run
//! with a second one beside it from the same SFT model and reward model (β = 0, or
//! γ_ptx toggled). The runner, the tests and the page start PPO here, with the same
//! defaults, so the page cannot drift from the recipe that the seeds study measured.

use crate::TrainError;
use crate::lab::Lab;
use crate::model::{Gpt, Preset};
use crate::ppo::{PpoConfig, PpoStats, PpoTrainer, Rollout};
use crate::rank::Comparison;
use crate::reward::{RewardModel, RewardTrainer, score};
use crate::sft::{self, SftTrainer};
use crate::train::OptimConfig;
use serde::{Deserialize, Serialize};

/// How every PPO run samples and updates (the main run and the runs beside it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PpoRecipe {
    /// Answers per iteration, and answers to each of its prompts.
    pub rollout: usize,
    pub samples_per_prompt: usize,
    pub minibatch: usize,
    pub epochs: usize,
    pub lr: f64,
    pub warmup: usize,
    /// Leave-one-out baseline over each prompt's answers (RLOO).
    pub leave_one_out: bool,
    /// Scores normalised to mean 0, std 1 on SFT's ranked answers, clipped to ±3.
    pub normalize: bool,
    /// The longest answer sampled (the longest answers, directions, take ~30 tokens).
    pub max_new_tokens: usize,
}

impl Default for PpoRecipe {
    fn default() -> Self {
        Self {
            rollout: 32,
            samples_per_prompt: 4,
            minibatch: 8,
            epochs: 2,
            lr: 3e-4,
            warmup: 5,
            leave_one_out: true,
            normalize: true,
            max_new_tokens: 40,
        }
    }
}

impl PpoRecipe {
    /// The recipe for a model size: `small` takes a third of `micro`'s step, as
    /// larger models do (its SFT step is half micro's). At 3e-4 its policy was ≈ 4
    /// nats from SFT within 10 iterations and lost to SFT by the persona (seed 1:
    /// 0.411 [0.349, 0.473]); at 1e-4 KL 1.8 and 0.487 [0.431, 0.542] (docs/recipe.md).
    pub fn for_preset(preset: Preset) -> Self {
        match preset {
            Preset::Micro => Self::default(),
            Preset::Small => Self { lr: 1e-4, ..Self::default() },
        }
    }
}

/// The main run's KL weight β and PPO-ptx weight γ_ptx by default. PPO-ptx, as
/// InstructGPT's final models: plain PPO forgets language as it chases the reward;
/// 0.3 rather than 1, because at 1 the corpus loss pulls the policy back toward the
/// *pretrained* model, which asks instead of answering (docs/recipe.md).
pub const BETA: f32 = 0.1;
pub const GAMMA_PTX: f32 = 0.3;

/// The run trained beside the main one, from the same SFT model and reward model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Beside {
    #[default]
    None,
    /// β = 0, no ptx and the reward model's head alone: nothing holds the policy
    /// near SFT or near language — reward hacking.
    Beta0,
    /// The same β with γ_ptx toggled (0 ↔ the chosen value, or 1).
    PtxToggled,
}

impl Beside {
    pub fn parse(s: &str) -> Self {
        match s {
            "beta0" => Self::Beta0,
            "ptx" => Self::PtxToggled,
            _ => Self::None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Beta0 => "beta0",
            Self::PtxToggled => "ptx",
        }
    }

    /// β and γ_ptx of this run, beside a main run with `beta` and `gamma_ptx`.
    pub fn settings(self, beta: f32, gamma_ptx: f32) -> Option<(f32, f32)> {
        match self {
            Self::None => None,
            Self::Beta0 => Some((0.0, 0.0)),
            Self::PtxToggled => Some((beta, if gamma_ptx > 0.0 { 0.0 } else { 1.0 })),
        }
    }
}

/// A reward model's mean and standard deviation over every ranked answer: what
/// PPO normalises its scores by, so β and the missing-end penalty weigh the same
/// on every seed.
pub async fn score_stats(reward_model: &RewardModel, ranked: &[Comparison], lab: &Lab) -> Result<(f32, f32), TrainError> {
    let mut scores = vec![];
    for c in ranked {
        scores.extend(score(reward_model, &lab.tokenizer, &c.prompt, &c.answers, &lab.device).await?);
    }
    if scores.is_empty() {
        return Ok((0.0, 1.0));
    }
    let n = scores.len() as f32;
    let mean = scores.iter().sum::<f32>() / n;
    let std = (scores.iter().map(|s| (s - mean).powi(2)).sum::<f32>() / n).sqrt().max(1e-3);
    Ok((mean, std))
}

/// One PPO run from `sft` and `rm` as the recipe builds it. β = 0 means no anchor
/// at all: no KL, and the reward model's head alone (its likelihood read-out
/// rewards what SFT finds likely, a KL anchor in disguise). Scores are normalised
/// on the answers the reward model learned from (`ranked`). Runs built with the
/// same `seed` see the same prompts in the same order.
#[allow(clippy::too_many_arguments)]
pub async fn build_run(
    lab: &Lab,
    sft: &SftTrainer,
    rm: &RewardTrainer,
    ranked: &[Comparison],
    recipe: &PpoRecipe,
    beta: f32,
    gamma_ptx: f32,
    seed: u64,
) -> Result<PpoTrainer, TrainError> {
    let defaults = PpoConfig::default();
    let (score_mean, score_std, score_clip) = if recipe.normalize {
        let (m, s) = score_stats(&rm.model().proxy_for(beta), ranked, lab).await?;
        (m, s, 3.0)
    } else {
        (0.0, 1.0, f32::INFINITY)
    };
    let cfg = PpoConfig {
        beta,
        gamma_ptx,
        rollout_size: recipe.rollout,
        samples_per_prompt: recipe.samples_per_prompt,
        minibatch_size: recipe.minibatch.min(recipe.rollout).max(1),
        ppo_epochs: recipe.epochs,
        max_new_tokens: recipe.max_new_tokens,
        policy_optim: OptimConfig { lr: recipe.lr, warmup_steps: recipe.warmup, ..defaults.policy_optim.clone() },
        leave_one_out: recipe.leave_one_out,
        score_mean,
        score_std,
        score_clip,
        ..defaults
    };
    let prompts = sft::prompts(lab.lang).rl;
    let reward_model = rm.trainable_model().proxy_for(beta);
    Ok(PpoTrainer::new(sft.trainable_model(), reward_model, prompts, lab.split.train.clone(), cfg, seed, &lab.device))
}

/// How a PPO stage starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PpoSettings {
    /// The main run's KL weight and PPO-ptx weight.
    pub beta: f32,
    pub gamma_ptx: f32,
    pub recipe: PpoRecipe,
    pub beside: Beside,
}

impl PpoSettings {
    /// The runner's defaults for a model size (the page starts from them too).
    pub fn for_preset(preset: Preset) -> Self {
        Self { beta: BETA, gamma_ptx: GAMMA_PTX, recipe: PpoRecipe::for_preset(preset), beside: Beside::None }
    }
}

/// One iteration of one run: its metrics and the rollout it trained on (no
/// metrics when no prompt left room to answer, so nothing was trained).
#[derive(Debug, Clone)]
pub struct Iteration {
    pub iteration: usize,
    pub stats: Option<PpoStats>,
    pub rollouts: Vec<Rollout>,
}

/// A kept run's weights: the policy and its value network.
pub type Run = (Gpt, RewardModel);

/// The PPO stage: the main run and the run beside it, stepped together.
pub struct PpoStage {
    pub main: PpoTrainer,
    pub beside: Option<(Beside, PpoTrainer)>,
    /// The settings the runs were started with (β and γ_ptx of the main run may
    /// change between iterations: see [`PpoStage::set`]).
    pub settings: PpoSettings,
}

impl PpoStage {
    /// Both runs from SFT and the reward model, seeded alike.
    pub async fn new(
        lab: &Lab,
        sft: &SftTrainer,
        rm: &RewardTrainer,
        ranked: &[Comparison],
        settings: PpoSettings,
        seed: u64,
    ) -> Result<Self, TrainError> {
        let run = |beta, gamma| build_run(lab, sft, rm, ranked, &settings.recipe, beta, gamma, seed);
        let main = run(settings.beta, settings.gamma_ptx).await?;
        let beside = match settings.beside.settings(settings.beta, settings.gamma_ptx) {
            Some((beta, gamma)) => Some((settings.beside, run(beta, gamma).await?)),
            None => None,
        };
        Ok(Self { main, beside, settings })
    }

    /// β and γ_ptx of the main run from its next iteration on (the run beside keeps
    /// its own: it is defined by its difference from the main run's start).
    pub fn set(&mut self, beta: f32, gamma_ptx: f32) {
        self.main.beta = beta;
        self.main.cfg.gamma_ptx = gamma_ptx;
    }

    /// One iteration of the main run, then of the run beside it.
    pub async fn step(&mut self, lab: &Lab) -> Result<(Iteration, Option<Iteration>), TrainError> {
        let one = |(stats, rollouts), run: &PpoTrainer| Iteration { iteration: run.iteration(), stats, rollouts };
        let main = self.main.step(&lab.tokenizer).await?;
        let main = one(main, &self.main);
        let beside = match self.beside.as_mut() {
            Some((_, run)) => {
                let step = run.step(&lab.tokenizer).await?;
                Some(one(step, run))
            }
            None => None,
        };
        Ok((main, beside))
    }

    /// Goes on from kept runs: their policies, value networks, iteration, and each
    /// run's β (adaptive) and γ_ptx.
    pub fn resume(&mut self, iteration: usize, main: (Run, f32, f32), beside: Option<(Run, f32, f32)>) {
        let ((policy, value), beta, gamma_ptx) = main;
        self.main.resume(policy, value, iteration, beta);
        self.main.cfg.gamma_ptx = gamma_ptx;
        if let (Some((_, run)), Some(((policy, value), beta, gamma_ptx))) = (self.beside.as_mut(), beside) {
            run.resume(policy, value, iteration, beta);
            run.cfg.gamma_ptx = gamma_ptx;
        }
    }
}
