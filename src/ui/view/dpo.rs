//! The DPO card's signals and what they hold.

use super::super::Params;
use leptos::prelude::*;

/// One DPO step as charted.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DpoPoint {
    pub step: usize,
    pub loss: f32,
    pub accuracy: f32,
    pub margin: f32,
}

/// The DPO policy's greedy answer to a watched prompt, token by token.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DpoAnswer {
    pub prompt: String,
    pub answer: String,
    /// The reward model's score of the answer, and each token's implicit reward.
    pub score: f32,
    pub tokens: Vec<(String, f32)>,
    pub at: usize,
}

#[derive(Clone, Copy)]
pub struct DpoUi {
    pub beta: RwSignal<f32>,
    pub lr: RwSignal<f64>,
    pub running: RwSignal<bool>,
    pub step_requests: RwSignal<u64>,
    pub restart_requests: RwSignal<u64>,
    pub points: RwSignal<Vec<DpoPoint>>,
    pub answer: RwSignal<Option<DpoAnswer>>,
    pub busy: RwSignal<Option<DpoBusy>>,
}

/// What the DPO run is doing that takes a while.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum DpoBusy {
    Step,
    Probing,
}

impl DpoUi {
    pub fn new(p: &Params) -> Self {
        Self {
            beta: RwSignal::new(p.dpo_beta),
            lr: RwSignal::new(p.dpo_lr),
            running: RwSignal::new(false),
            step_requests: RwSignal::new(0),
            restart_requests: RwSignal::new(0),
            points: RwSignal::new(vec![]),
            answer: RwSignal::new(None),
            busy: RwSignal::new(None),
        }
    }

    pub fn publish(&self, m: &mut std::collections::BTreeMap<&'static str, f64>) {
        m.insert("dpo_step", self.points.with_untracked(|v| v.last().map_or(0, |p| p.step)) as f64);
        self.points.with_untracked(|v| {
            if let (Some(first), Some(last)) = (v.first(), v.last()) {
                m.insert("dpo_first_loss", first.loss as f64);
                m.insert("dpo_loss", last.loss as f64);
                m.insert("dpo_accuracy", last.accuracy as f64);
                m.insert("dpo_margin", last.margin as f64);
            }
        });
        m.insert("dpo_answer_tokens", self.answer.with_untracked(|a| a.as_ref().map_or(0, |a| a.tokens.len())) as f64);
    }
}
