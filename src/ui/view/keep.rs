//! The "your models" bar's signals, and the kept progress they offer.

use super::dpo::DpoPoint;
use super::reward::RmPoint;
use super::{LossPoint, SftPoint};
use crate::checkpoint::Role;
use crate::rank::Comparison;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const FORMAT: &str = "rlhf-playground/progress";

/// Where the user was and what the charts showed, beside the kept models.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub format: String,
    /// The panel open at the last save.
    pub tab: String,
    /// Milliseconds since 1970 (for "saved at …").
    pub saved_at_ms: f64,
    /// Role name → the training steps it had when it was kept.
    pub models: BTreeMap<String, usize>,
    pub losses: Vec<LossPoint>,
    pub sft_points: Vec<SftPoint>,
    pub rm_points: Vec<RmPoint>,
    pub rm_held_out: Vec<(usize, f32)>,
    pub rm_epoch: usize,
    /// The reward model's held-out rankings (prompts no one ranked), so its
    /// accuracy is measured on the same pairs after a resume.
    pub rm_held_out_set: Vec<Comparison>,
    /// PPO's runs, when a policy is kept (absent in files from before PPO was kept).
    #[serde(default)]
    pub ppo: Option<KeptPpo>,
    /// DPO, when its policy is kept ([`DPO_FILE`]).
    #[serde(default)]
    pub dpo: Option<KeptDpo>,
}

/// The DPO policy's file beside the other models.
pub const DPO_FILE: &str = "dpo-policy.safetensors";

/// DPO as it was kept: its settings, steps and chart (the weights are [`DPO_FILE`]).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct KeptDpo {
    pub steps: usize,
    pub beta: f32,
    pub lr: f64,
    pub points: Vec<DpoPoint>,
}

/// PPO as it was kept: the settings the runs were started with, where they got
/// to and their charts. The weights are `policy`/`value` (and `beside-…`) files.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct KeptPpo {
    pub iteration: usize,
    /// The main run's β now (it adapts when a KL target is set) and γ_ptx.
    pub beta: f32,
    pub gamma_ptx: f32,
    pub lr: f64,
    pub k: usize,
    /// `Beside::code` of the run trained beside it, and that run's β and γ_ptx.
    pub beside: String,
    pub beside_beta: f32,
    pub beside_gamma_ptx: f32,
    pub points: Vec<KeptPoint>,
    pub beside_points: Vec<KeptPoint>,
    /// The over-optimisation chart's points (absent in files from before it).
    #[serde(default)]
    pub overopt: Vec<crate::overopt::GoldProxy>,
}

/// One PPO iteration's metrics, by TRL's names.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct KeptPoint {
    pub iteration: usize,
    pub metrics: BTreeMap<String, f32>,
}

impl Progress {
    pub fn new() -> Self {
        Self { format: FORMAT.into(), ..Self::default() }
    }

    pub fn has(&self, role: Role) -> bool {
        self.models.contains_key(role.name())
    }
}

/// What keeping is doing that takes a while.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum KeepBusy {
    Keeping,
    Resuming,
    ResumingPpo,
    Exporting,
}

impl KeepBusy {
    /// Its name in `rlhfStatus().keep_busy` (docs/automation.md).
    pub fn code(self) -> &'static str {
        match self {
            Self::Keeping => "keeping",
            Self::Resuming => "resuming",
            Self::ResumingPpo => "resuming PPO",
            Self::Exporting => "exporting",
        }
    }
}

/// What the "your models" bar shows and asks for.
#[derive(Clone, Copy)]
pub struct KeepUi {
    /// Models kept in this browser now, with their steps.
    pub kept: RwSignal<BTreeMap<String, usize>>,
    /// A kept session found when the page opened: offered for resuming.
    pub offer: RwSignal<Option<Progress>>,
    pub resume_requests: RwSignal<u64>,
    /// "Start over": forget every kept model of this preset/seed/language.
    pub forget_requests: RwSignal<u64>,
    pub export: RwSignal<Option<Role>>,
    /// A file the user picked to import: its name and bytes.
    pub import: RwSignal<Option<(String, Vec<u8>)>>,
    pub note: RwSignal<Option<String>>,
    /// Why the last keep or import failed, in plain words.
    pub error: RwSignal<Option<String>>,
    pub busy: RwSignal<Option<KeepBusy>>,
    /// The last keep: milliseconds it took and bytes written; the last resume's milliseconds.
    pub last_keep: RwSignal<Option<(f64, usize)>>,
    pub resume_ms: RwSignal<Option<f64>>,
}

impl KeepUi {
    pub fn new() -> Self {
        Self {
            kept: RwSignal::new(BTreeMap::new()),
            offer: RwSignal::new(None),
            resume_requests: RwSignal::new(0),
            forget_requests: RwSignal::new(0),
            export: RwSignal::new(None),
            import: RwSignal::new(None),
            note: RwSignal::new(None),
            error: RwSignal::new(None),
            busy: RwSignal::new(None),
            last_keep: RwSignal::new(None),
            resume_ms: RwSignal::new(None),
        }
    }
}
