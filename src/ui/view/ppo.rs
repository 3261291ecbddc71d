//! The PPO panel's signals (with the over-optimisation card's) and what they hold.

use super::super::Params;
use crate::inspect::AttentionMaps;
use crate::overopt::{Detectors, GoldProxy};
use crate::ppo::PpoStats;
pub use crate::stages::ppo::{Beside, Run};
use leptos::prelude::*;
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TokenKl {
    pub text: String,
    pub log_prob: f32,
    pub ref_log_prob: f32,
}

impl TokenKl {
    pub fn kl(&self) -> f32 {
        self.log_prob - self.ref_log_prob
    }
}

/// One sampled answer of the latest rollout, as the table and heatmap show it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AnswerView {
    pub prompt: String,
    pub answer: String,
    pub score: f32,
    pub kl: f32,
    pub ended: bool,
    pub tokens: Vec<TokenKl>,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PpoPoint {
    pub iteration: usize,
    /// NaN where not measured (nothing trained, or a kept file from before the metric).
    pub stats: PpoStats,
}

impl PpoPoint {
    pub fn new(iteration: usize, stats: Option<PpoStats>) -> Self {
        Self { iteration, stats: stats.unwrap_or_else(|| PpoStats::from_named(|_| None)) }
    }

    /// One metric, if it was measured.
    pub fn get(&self, metric: impl Fn(&PpoStats) -> f32) -> Option<f32> {
        Some(metric(&self.stats)).filter(|v| v.is_finite())
    }
}

/// A watched prompt: the SFT answer and the current policies' answers (greedy).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Watched {
    pub prompt: String,
    pub sft: String,
    pub policy: String,
    pub beside: Option<String>,
    pub at: usize,
}

/// The settings a run was started with, shown beside its charts.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunLabel {
    pub beta: f32,
    pub gamma_ptx: f32,
}

/// The over-optimisation chart: gold (the persona) and proxy (the reward model)
/// against √KL to SFT, for best-of-n, each PPO run every few iterations, and DPO;
/// beside it the latest signs of reward hacking of each.
#[derive(Clone, Copy)]
pub struct OverOptUi {
    pub points: RwSignal<Vec<GoldProxy>>,
    pub signs: RwSignal<Vec<(String, Detectors)>>,
    /// Iterations between probes (0: never), held-out questions a probe asks, and
    /// SFT answers per question best-of-n picks from.
    pub every: usize,
    pub prompts: usize,
    pub pool: usize,
}

impl OverOptUi {
    pub fn new(p: &Params) -> Self {
        Self {
            points: RwSignal::new(vec![]),
            signs: RwSignal::new(vec![]),
            every: p.overopt_every,
            prompts: p.probe_prompts,
            pool: p.probe_pool,
        }
    }

    /// A probe's point and signs; a method's signs are its latest.
    pub fn add(&self, point: GoldProxy, signs: Detectors) {
        let method = point.method.clone();
        self.points.update(|v| v.push(point));
        self.signs.update(|v| {
            v.retain(|(m, _)| *m != method);
            v.push((method, signs));
        });
    }

    pub fn clear(&self) {
        self.points.set(vec![]);
        self.signs.set(vec![]);
    }

    pub fn publish(&self, m: &mut BTreeMap<&'static str, f64>) {
        self.points.with_untracked(|pts| {
            for (name, method) in
                [("overopt_main", "main"), ("overopt_beside", "beside"), ("overopt_best_of_n", "best_of_n"), ("overopt_dpo", "dpo")]
            {
                m.insert(name, pts.iter().filter(|p| p.method == method).count() as f64);
            }
        });
    }
}

#[derive(Clone, Copy)]
pub struct PpoUi {
    // settings: β and γ_ptx act on the next iteration; the others on (re)start
    pub beta: RwSignal<f32>,
    pub gamma_ptx: RwSignal<f32>,
    pub lr: RwSignal<f64>,
    pub k: RwSignal<usize>,
    pub beside: RwSignal<Beside>,
    // commands
    pub running: RwSignal<bool>,
    pub step_requests: RwSignal<u64>,
    pub restart_requests: RwSignal<u64>,
    // results
    pub iteration: RwSignal<usize>,
    pub points: RwSignal<Vec<PpoPoint>>,
    pub beside_points: RwSignal<Vec<PpoPoint>>,
    pub labels: RwSignal<Option<(RunLabel, Option<RunLabel>)>>,
    pub answers: RwSignal<Vec<AnswerView>>,
    pub beside_answers: RwSignal<Vec<AnswerView>>,
    pub watched: RwSignal<Vec<Watched>>,
    pub attention: RwSignal<Option<AttentionMaps>>,
    pub busy: RwSignal<Option<PpoBusy>>,
    pub overopt: OverOptUi,
}

/// What the PPO stage is doing that takes a while (the panel says it in words).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum PpoBusy {
    Normalising,
    Rollout,
    /// The main run and the run beside it, one after the other.
    RolloutBoth,
    Watching,
    BestOfN,
    Probing,
}

impl PpoUi {
    pub fn new(p: &Params) -> Self {
        Self {
            beta: RwSignal::new(p.beta),
            gamma_ptx: RwSignal::new(p.gamma_ptx),
            lr: RwSignal::new(p.ppo_lr),
            k: RwSignal::new(p.ppo_k),
            beside: RwSignal::new(p.beside),
            running: RwSignal::new(false),
            step_requests: RwSignal::new(0),
            restart_requests: RwSignal::new(0),
            iteration: RwSignal::new(0),
            points: RwSignal::new(vec![]),
            beside_points: RwSignal::new(vec![]),
            labels: RwSignal::new(None),
            answers: RwSignal::new(vec![]),
            beside_answers: RwSignal::new(vec![]),
            watched: RwSignal::new(vec![]),
            attention: RwSignal::new(None),
            busy: RwSignal::new(None),
            overopt: OverOptUi::new(p),
        }
    }

    pub fn publish(&self, m: &mut BTreeMap<&'static str, f64>) {
        m.insert("ppo_iteration", self.iteration.get_untracked() as f64);
        self.points.with_untracked(|pts| {
            if let (Some(first), Some(last)) = (pts.first(), pts.last()) {
                m.insert("ppo_first_score", first.get(|s| s.scores).unwrap_or(0.0) as f64);
                let s = &last.stats;
                for (name, v) in [
                    ("ppo_score", s.scores),
                    ("ppo_kl", s.kl),
                    ("ppo_entropy", s.entropy),
                    ("ppo_clipfrac", s.clip_frac),
                    ("ppo_approxkl", s.approx_kl),
                    ("ppo_value_loss", s.value_loss),
                    ("ppo_beta", s.beta),
                ] {
                    if v.is_finite() {
                        m.insert(name, v as f64);
                    }
                }
            }
            // Means over the first and the last third: one iteration's score is noisy.
            let third = pts.len() / 3;
            if third > 0 {
                let mean = |s: &[PpoPoint], f: fn(&PpoStats) -> f32| s.iter().filter_map(|p| p.get(f)).sum::<f32>() as f64 / s.len() as f64;
                let last = &pts[pts.len() - third..];
                m.insert("ppo_score_first_third", mean(&pts[..third], |s| s.scores));
                m.insert("ppo_score_last_third", mean(last, |s| s.scores));
                m.insert("ppo_answer_tokens_first_third", mean(&pts[..third], |s| s.answer_tokens));
                m.insert("ppo_answer_tokens_last_third", mean(last, |s| s.answer_tokens));
            }
        });
        m.insert("ppo_beside_iteration", self.beside_points.with_untracked(Vec::len) as f64);
        if let Some(p) = self.beside_points.with_untracked(|v| v.last().cloned()) {
            m.insert("ppo_beside_score", p.get(|s| s.scores).unwrap_or(0.0) as f64);
            m.insert("ppo_beside_kl", p.get(|s| s.kl).unwrap_or(0.0) as f64);
        }
        m.insert("ppo_kl_tokens", self.answers.with_untracked(|v| v.iter().map(|a| a.tokens.len()).sum::<usize>()) as f64);
        m.insert("ppo_watched", self.watched.with_untracked(|v| v.iter().filter(|w| !w.policy.is_empty()).count()) as f64);
        self.overopt.publish(m);
    }
}
