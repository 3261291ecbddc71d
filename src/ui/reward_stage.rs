//! The engine's part for stage 4, the reward model: drives the core stage
//! ([`crate::stages::reward`]) on the session's comparisons (the user's and the
//! persona's, all pairs of a prompt in one batch element),
//! measures held-out accuracy against the persona on prompts no one ranked, scores
//! the labelled answers beside their ranking, and scores any answer the user types.

use super::view::Ui;
use super::view::reward::{RewardBusy, RmPoint, ScoredAnswer, ScoredPrompt};
use crate::TrainError;
use crate::lab::Lab;
use crate::persona::{Persona, Weights};
use crate::rank::Comparison;
use crate::reward::{RewardTrainer, disagreements, pair_agreement, score};
use crate::sft::{self, SftTrainer};
use crate::stages::reward::{RewardSettings, RewardStage as RewardDriver, rank_by_persona};
use leptos::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
/// Labelled prompts scored in the table (newest first): each costs a forward pass.
const SHOWN: usize = 12;

pub struct RewardStage {
    /// The core driver, once the first step built it on SFT (or a kept model).
    stage: Option<RewardDriver>,
    /// Unseen prompts, SFT answers ranked by the persona: the held-out set.
    held_out: Vec<Comparison>,
    seen_steps: u64,
    seen_probe: u64,
    settings: RewardSettings,
    held_out_prompts: usize,
    seed: u64,
    /// Samples and ranks the held-out answers (the driver shuffles with its own).
    rng: StdRng,
}

impl RewardStage {
    pub fn new(seed: u64, lr: f64, held_out_prompts: usize) -> Self {
        Self {
            stage: None,
            held_out: vec![],
            seen_steps: 0,
            seen_probe: 0,
            settings: RewardSettings { lr, ..RewardSettings::default() },
            held_out_prompts,
            seed,
            rng: StdRng::seed_from_u64(seed ^ 0x7e3),
        }
    }

    /// The stream the driver shuffles the ranked prompts with.
    fn order_rng(&self) -> StdRng {
        StdRng::seed_from_u64(self.seed ^ 0x7e4)
    }

    /// SFT starts over: the reward model built on it goes too, with everything
    /// measured on it (a fresh stage, as the constructor makes it; only the
    /// panel's request counters carry over, so an old click does not replay).
    pub fn reset(&mut self, ui: &Ui) {
        let seen = (self.seen_steps, self.seen_probe);
        *self = Self::new(self.seed, self.settings.lr, self.held_out_prompts);
        (self.seen_steps, self.seen_probe) = seen;
        ui.rm.running.set(false);
        ui.rm.step.set(0);
        ui.rm.epoch.set(0);
        ui.rm.points.set(vec![]);
        ui.rm.held_out.set(vec![]);
        ui.rm.held_out_interval.set(None);
        ui.rm.held_out_pairs.set(0);
        ui.rm.scored.set(vec![]);
        ui.rm.rewards.set(vec![]);
        ui.rm.fluency.set(None);
        ui.rm.probe_score.set(None);
    }

    /// Goes on from a kept or imported reward model (on the autodiff device), with
    /// the held-out rankings it was measured on (empty: drawn at the next step).
    pub fn resume(&mut self, ui: &Ui, lab: &Lab, model: crate::reward::RewardModel, steps: usize, held_out: Vec<Comparison>) {
        self.reset(ui);
        self.stage = Some(RewardDriver::resumed(lab, model, steps, self.settings.clone(), self.order_rng()));
        ui.rm.held_out_pairs.set(held_out.iter().map(|c| c.pairs.len()).sum());
        self.held_out = held_out;
        ui.rm.step.set(steps);
    }

    /// The held-out rankings the accuracy is measured on.
    pub fn held_out(&self) -> &[Comparison] {
        &self.held_out
    }

    pub fn trainer(&self) -> Option<&RewardTrainer> {
        self.stage.as_ref().map(|s| &s.trainer)
    }

    /// The reward model PPO normalises and scores with.
    pub fn driver_mut(&mut self) -> Option<&mut RewardDriver> {
        self.stage.as_mut()
    }

    pub async fn tick(&mut self, ui: &Ui, lab: &Lab, sft: Option<&SftTrainer>) -> bool {
        let mut busy = false;
        let requested = ui.rm.step_requests.get_untracked();
        if ui.rm.running.get_untracked() || requested != self.seen_steps {
            self.seen_steps = requested;
            busy = true;
            if let Err(e) = self.step(ui, lab, sft).await {
                ui.rm.running.set(false);
                ui.error.set(Some(e));
            }
            ui.rm.busy.set(None);
        }
        let probe = ui.rm.probe_requests.get_untracked();
        if probe != self.seen_probe {
            self.seen_probe = probe;
            busy = true;
            self.probe(ui, lab).await;
        }
        busy
    }

    async fn step(&mut self, ui: &Ui, lab: &Lab, sft: Option<&SftTrainer>) -> Result<(), String> {
        let labelled: Vec<Comparison> =
            ui.session.with_untracked(|s| s.comparisons.iter().filter(|c| !c.pairs.is_empty()).cloned().collect());
        if labelled.is_empty() {
            return Err(TrainError::NoPairs.to_string());
        }
        if self.stage.is_none() || self.held_out.is_empty() {
            let Some(sft) = sft else { return Err("train the SFT model first (stage 2): the reward model starts from it".into()) };
            ui.rm.busy.set(Some(RewardBusy::HeldOut));
            self.held_out = self.rank_held_out(lab, sft).await.map_err(|e| e.to_string())?;
            ui.rm.held_out_pairs.set(self.held_out.iter().map(|c| c.pairs.len()).sum());
            if self.stage.is_none() {
                self.stage = Some(RewardDriver::new(lab, sft, self.settings.clone(), self.order_rng()));
            }
            ui.rm.busy.set(None);
        }
        let Some(stage) = self.stage.as_mut() else { return Ok(()) };
        let s = stage.step(lab, &labelled).await.map_err(|e| e.to_string())?;
        let step = s.stats.step;
        ui.rm.step.set(step);
        ui.rm.points.update(|v| v.push(RmPoint { step, loss: s.stats.loss, accuracy: s.stats.accuracy }));
        ui.rm.epoch.set(s.passes);
        // Held-out accuracy and the scored table after every pass over the labels
        // (and after the first step, so the panel is never empty).
        if s.pass_done || step == 1 {
            ui.rm.busy.set(Some(RewardBusy::Scoring));
            self.refresh(ui, lab, &labelled, step).await.map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Unseen prompts (the evaluation set: facts no stage but pretraining saw), K
    /// answers each from the SFT model, ranked by the persona with default weights.
    async fn rank_held_out(&mut self, lab: &Lab, sft: &SftTrainer) -> Result<Vec<Comparison>, TrainError> {
        let persona = Persona::new(lab.lang, Weights::default(), 0.0);
        let prompts: Vec<String> = sft::prompts(lab.lang).eval.into_iter().take(self.held_out_prompts).collect();
        rank_by_persona(&sft.model(), lab, &persona, &prompts, crate::rank::K_MIN, &mut self.rng, |_, _, _| {}).await
    }

    async fn refresh(&self, ui: &Ui, lab: &Lab, labelled: &[Comparison], step: usize) -> Result<(), TrainError> {
        let Some(trainer) = self.trainer() else { return Ok(()) };
        let model = trainer.model();
        let agreement = pair_agreement(&model, &lab.tokenizer, &self.held_out, &lab.device).await?;
        if agreement.n > 0 {
            ui.rm.held_out.update(|v| v.push((step, agreement.mean)));
        }
        ui.rm.held_out_interval.set(Some(agreement));
        let mut rows = vec![];
        for c in labelled.iter().rev().take(SHOWN) {
            let r = score(&model, &lab.tokenizer, &c.prompt, &c.answers, &lab.device).await?;
            let wrong = disagreements(&r, &c.pairs);
            let mut answers: Vec<ScoredAnswer> = c
                .answers
                .iter()
                .enumerate()
                .map(|(i, text)| ScoredAnswer {
                    text: text.clone(),
                    place: 1 + c.pairs.iter().filter(|p| p.rejected == i).count(),
                    score: r[i],
                    disagreements: wrong.iter().filter(|p| p.chosen == i || p.rejected == i).count(),
                })
                .collect();
            answers.sort_by_key(|a| a.place);
            rows.push(ScoredPrompt {
                prompt: c.prompt.clone(),
                labeler: c.labeler,
                pairs: c.pairs.len(),
                disagreements: wrong.len(),
                answers,
            });
        }
        ui.rm.rewards.set(rows.iter().flat_map(|r| r.answers.iter().map(|a| a.score)).collect());
        ui.rm.scored.set(rows);
        ui.rm.fluency.set(model.fluency_weight().await.ok());
        Ok(())
    }

    /// Scores the answer the user typed.
    async fn probe(&self, ui: &Ui, lab: &Lab) {
        let Some(trainer) = self.trainer() else { return };
        let (prompt, answer) = (ui.rm.probe_prompt.get_untracked(), ui.rm.probe_answer.get_untracked());
        match score(&trainer.model(), &lab.tokenizer, &prompt, &[answer], &lab.device).await {
            Ok(r) => ui.rm.probe_score.set(r.first().copied()),
            Err(e) => ui.error.set(Some(e.to_string())),
        }
    }
}
