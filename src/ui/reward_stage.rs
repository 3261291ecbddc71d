//! The engine's part for stage 4, the reward model: trains on the session's
//! comparisons (the user's and the persona's, all pairs of a prompt in one batch),
//! measures held-out accuracy against the persona on prompts no one ranked, scores
//! the labelled answers beside their ranking, and scores any answer the user types.

use super::engine::Ui;
use crate::lab::Lab;
use crate::persona::{Persona, Weights};
use crate::rank::{Labeler, persona_comparison, rank_sampling, sample_answers};
use crate::reward::{Comparison, RewardTrainer, disagreements, pair_accuracy, score};
use crate::sft::{self, SftTrainer};
use crate::train::OptimConfig;
use leptos::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use std::collections::BTreeMap;

/// Prompts per reward-model step (each with all its pairs).
const BATCH: usize = 4;
/// Labelled prompts scored in the table (newest first): each costs a forward pass.
const SHOWN: usize = 12;

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RmPoint {
    pub step: usize,
    pub loss: f32,
    pub accuracy: f32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ScoredAnswer {
    pub text: String,
    /// 1 + the number of answers ranked above it (ties share a place).
    pub place: usize,
    pub score: f32,
    /// Pairs with this answer that the scores order against the ranking.
    pub disagreements: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ScoredPrompt {
    pub prompt: String,
    pub labeler: Labeler,
    pub pairs: usize,
    pub disagreements: usize,
    /// In the ranking's order, best first.
    pub answers: Vec<ScoredAnswer>,
}

#[derive(Clone, Copy)]
pub struct RewardUi {
    pub running: RwSignal<bool>,
    pub step_requests: RwSignal<u64>,
    pub step: RwSignal<usize>,
    pub epoch: RwSignal<usize>,
    pub points: RwSignal<Vec<RmPoint>>,
    /// (step, held-out pair accuracy against the persona).
    pub held_out: RwSignal<Vec<(usize, f32)>>,
    pub held_out_pairs: RwSignal<usize>,
    pub scored: RwSignal<Vec<ScoredPrompt>>,
    /// Every score in `scored`, for the histogram.
    pub rewards: RwSignal<Vec<f32>>,
    pub fluency: RwSignal<Option<f32>>,
    /// What the engine is doing that takes a while, shown while it does it.
    pub busy: RwSignal<Option<&'static str>>,
    pub probe_prompt: RwSignal<String>,
    pub probe_answer: RwSignal<String>,
    pub probe_requests: RwSignal<u64>,
    pub probe_score: RwSignal<Option<f32>>,
}

impl RewardUi {
    pub fn new() -> Self {
        Self {
            running: RwSignal::new(false),
            step_requests: RwSignal::new(0),
            step: RwSignal::new(0),
            epoch: RwSignal::new(0),
            points: RwSignal::new(vec![]),
            held_out: RwSignal::new(vec![]),
            held_out_pairs: RwSignal::new(0),
            scored: RwSignal::new(vec![]),
            rewards: RwSignal::new(vec![]),
            fluency: RwSignal::new(None),
            busy: RwSignal::new(None),
            probe_prompt: RwSignal::new(String::new()),
            probe_answer: RwSignal::new(String::new()),
            probe_requests: RwSignal::new(0),
            probe_score: RwSignal::new(None),
        }
    }

    pub fn publish(&self, m: &mut BTreeMap<&'static str, f64>) {
        m.insert("rm_step", self.step.get_untracked() as f64);
        m.insert("rm_epoch", self.epoch.get_untracked() as f64);
        if let Some(p) = self.points.with_untracked(|v| v.last().cloned()) {
            m.insert("rm_loss", p.loss as f64);
            m.insert("rm_accuracy", p.accuracy as f64);
        }
        if let Some(&(_, a)) = self.held_out.with_untracked(|v| v.last().cloned()).as_ref() {
            m.insert("rm_held_out_accuracy", a as f64);
        }
        m.insert("rm_held_out_pairs", self.held_out_pairs.get_untracked() as f64);
        m.insert("rm_scored_prompts", self.scored.with_untracked(Vec::len) as f64);
        let (wrong, pairs) = self.scored.with_untracked(|v| v.iter().fold((0, 0), |(w, n), s| (w + s.disagreements, n + s.pairs)));
        m.insert("rm_disagreements", wrong as f64);
        if pairs > 0 {
            // Over the labelled prompts in the table (the newest 12): how well it fits your labels.
            m.insert("rm_labelled_accuracy", 1.0 - wrong as f64 / pairs as f64);
        }
        if let Some(s) = self.probe_score.get_untracked() {
            m.insert("rm_probe_score", s as f64);
        }
    }
}

pub struct RewardStage {
    pub trainer: Option<RewardTrainer>,
    /// Unseen prompts, SFT answers ranked by the persona: the held-out set.
    held_out: Vec<Comparison>,
    order: Vec<usize>,
    cursor: usize,
    seen_steps: u64,
    seen_probe: u64,
    lr: f64,
    held_out_prompts: usize,
    rng: StdRng,
}

impl RewardStage {
    pub fn new(seed: u64, lr: f64, held_out_prompts: usize) -> Self {
        Self {
            trainer: None,
            held_out: vec![],
            order: vec![],
            cursor: 0,
            seen_steps: 0,
            seen_probe: 0,
            lr,
            held_out_prompts,
            rng: StdRng::seed_from_u64(seed ^ 0x7e3),
        }
    }

    /// SFT starts over: the reward model built on it goes too.
    pub fn reset(&mut self, ui: &Ui) {
        self.trainer = None;
        self.held_out.clear();
        self.order.clear();
        ui.rm.running.set(false);
        ui.rm.step.set(0);
        ui.rm.epoch.set(0);
        ui.rm.points.set(vec![]);
        ui.rm.held_out.set(vec![]);
        ui.rm.scored.set(vec![]);
        ui.rm.rewards.set(vec![]);
        ui.rm.probe_score.set(None);
    }

    /// Goes on from a kept or imported reward model (on the autodiff device), with
    /// the held-out rankings it was measured on (empty: drawn at the next step).
    pub fn resume(&mut self, ui: &Ui, lab: &Lab, model: crate::reward::RewardModel, steps: usize, held_out: Vec<Comparison>) {
        self.reset(ui);
        self.trainer = Some(RewardTrainer::resumed(model, steps, self.optim(), &lab.device));
        ui.rm.held_out_pairs.set(held_out.iter().map(|c| c.pairs.len()).sum());
        self.held_out = held_out;
        ui.rm.step.set(steps);
    }

    /// The held-out rankings the accuracy is measured on.
    pub fn held_out(&self) -> &[Comparison] {
        &self.held_out
    }

    fn optim(&self) -> OptimConfig {
        OptimConfig { lr: self.lr, warmup_steps: 10, weight_decay: 0.0, grad_clip_norm: 1.0 }
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
            return Err("rank at least one prompt first (stage 3): the reward model learns from your rankings".into());
        }
        if self.trainer.is_none() || self.held_out.is_empty() {
            let Some(sft) = sft else { return Err("train the SFT model first (stage 2): the reward model starts from it".into()) };
            ui.rm.busy.set(Some("held-out"));
            self.held_out = self.rank_held_out(lab, sft).await.map_err(|e| e.to_string())?;
            ui.rm.held_out_pairs.set(self.held_out.iter().map(|c| c.pairs.len()).sum());
            if self.trainer.is_none() {
                self.trainer = Some(RewardTrainer::new(sft.trainable_model(), lab.model_cfg.n_embd, 1.0, self.optim(), &lab.device));
            }
            ui.rm.busy.set(None);
        }
        // New labels since the last pass join the next one.
        if self.order.len() != labelled.len() {
            self.order = (0..labelled.len()).collect();
            self.order.shuffle(&mut self.rng);
            self.cursor = 0;
        }
        let end = (self.cursor + BATCH).min(self.order.len());
        let batch: Vec<&Comparison> = self.order[self.cursor..end].iter().map(|&i| &labelled[i]).collect();
        self.cursor = end;
        let Some(trainer) = self.trainer.as_mut() else { return Ok(()) };
        let s = trainer.step_batch(&lab.tokenizer, &batch).await.map_err(|e| e.to_string())?;
        ui.rm.step.set(s.step);
        ui.rm.points.update(|v| v.push(RmPoint { step: s.step, loss: s.loss, accuracy: s.accuracy }));
        let epoch_done = self.cursor >= self.order.len();
        if epoch_done {
            self.order.shuffle(&mut self.rng);
            self.cursor = 0;
            ui.rm.epoch.update(|e| *e += 1);
        }
        // Held-out accuracy and the scored table after every pass over the labels
        // (and after the first step, so the panel is never empty).
        if epoch_done || s.step == 1 {
            ui.rm.busy.set(Some("scoring"));
            self.refresh(ui, lab, &labelled, s.step).await.map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Unseen prompts (the evaluation set: facts no stage but pretraining saw), K
    /// answers each from the SFT model, ranked by the persona with default weights.
    async fn rank_held_out(&mut self, lab: &Lab, sft: &SftTrainer) -> Result<Vec<Comparison>, crate::TrainError> {
        let persona = Persona::new(lab.lang, Weights::default(), 0.0);
        let model = sft.model();
        let mut out = vec![];
        for p in sft::prompts(lab.lang).eval.into_iter().take(self.held_out_prompts) {
            let answers =
                sample_answers(&model, &lab.tokenizer, &p, crate::rank::K_MIN, &rank_sampling(), &mut self.rng, &lab.device).await?;
            out.push(persona_comparison(&persona, &p, answers, &mut self.rng).1);
        }
        Ok(out)
    }

    async fn refresh(&mut self, ui: &Ui, lab: &Lab, labelled: &[Comparison], step: usize) -> Result<(), crate::TrainError> {
        let Some(trainer) = self.trainer.as_ref() else { return Ok(()) };
        let model = trainer.model();
        let acc = pair_accuracy(&model, &lab.tokenizer, &self.held_out, &lab.device).await?;
        ui.rm.held_out.update(|v| v.push((step, acc)));
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
        let Some(trainer) = self.trainer.as_ref() else { return };
        let (prompt, answer) = (ui.rm.probe_prompt.get_untracked(), ui.rm.probe_answer.get_untracked());
        match score(&trainer.model(), &lab.tokenizer, &prompt, &[answer], &lab.device).await {
            Ok(r) => ui.rm.probe_score.set(r.first().copied()),
            Err(e) => ui.error.set(Some(e.to_string())),
        }
    }
}
