//! The reward-model panel's signals and what they hold.

use crate::interval::Interval;
use crate::rank::Labeler;
use leptos::prelude::*;
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RmPoint {
    pub step: usize,
    pub loss: f32,
    pub accuracy: f32,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ScoredAnswer {
    pub text: String,
    /// 1 + the number of answers ranked above it (ties share a place).
    pub place: usize,
    pub score: f32,
    /// Pairs with this answer that the scores order against the ranking.
    pub disagreements: usize,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ScoredPrompt {
    pub prompt: String,
    pub labeler: Labeler,
    pub pairs: usize,
    pub disagreements: usize,
    /// In the ranking's order, best first.
    pub answers: Vec<ScoredAnswer>,
}

/// What the reward model stage is doing that takes a while.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum RewardBusy {
    /// The persona ranks SFT's answers to the held-out prompts.
    HeldOut,
    /// Scoring the labelled answers.
    Scoring,
}

#[derive(Clone, Copy)]
pub struct RewardUi {
    pub running: RwSignal<bool>,
    pub step_requests: RwSignal<u64>,
    pub step: RwSignal<usize>,
    pub epoch: RwSignal<usize>,
    pub points: RwSignal<Vec<RmPoint>>,
    /// (step, held-out pair accuracy against the persona), at the steps it had pairs.
    pub held_out: RwSignal<Vec<(usize, f32)>>,
    /// The latest held-out accuracy with its 95 % interval, clustered by prompt
    /// (`n` 0: the persona tied every held-out answer, so there is nothing to claim).
    pub held_out_interval: RwSignal<Option<Interval>>,
    pub held_out_pairs: RwSignal<usize>,
    pub scored: RwSignal<Vec<ScoredPrompt>>,
    /// Every score in `scored`, for the histogram.
    pub rewards: RwSignal<Vec<f32>>,
    pub fluency: RwSignal<Option<f32>>,
    /// What the engine is doing that takes a while, shown while it does it.
    pub busy: RwSignal<Option<RewardBusy>>,
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
            held_out_interval: RwSignal::new(None),
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
        if let Some(i) = self.held_out_interval.get_untracked().filter(|i| i.n > 0) {
            m.insert("rm_held_out_low", i.low as f64);
            m.insert("rm_held_out_high", i.high as f64);
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
