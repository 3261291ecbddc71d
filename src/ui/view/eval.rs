//! The evaluation panel's signals and what they hold.

use crate::evaluate::{Blind, win_rate};
use leptos::prelude::*;
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DuelView {
    pub blind: Blind,
    pub sft_score: f32,
    pub ppo_score: f32,
    /// The persona's verdict for PPO (1 win, 0.5 tie, 0 loss).
    pub persona: f32,
    /// The user's verdict for PPO, once given.
    pub judged: Option<f32>,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TaxRow {
    /// "pretrained", "sft", "ppo" or "beside".
    pub model: String,
    pub beta: Option<f32>,
    pub gamma_ptx: Option<f32>,
    pub loss: f32,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ThreeWay {
    pub prompt: String,
    pub pretrained: String,
    pub sft: String,
    pub ppo: String,
}

#[derive(Clone, Copy)]
pub struct EvalUi {
    pub requests: RwSignal<u64>,
    pub busy: RwSignal<bool>,
    pub duels: RwSignal<Vec<DuelView>>,
    pub tax: RwSignal<Vec<TaxRow>>,
    pub three_way: RwSignal<Vec<ThreeWay>>,
    /// The PPO iteration the evaluation was made at.
    pub at_iteration: RwSignal<usize>,
    /// The policy the next evaluation sets against SFT, and the one the duels on
    /// screen were drawn from.
    pub against: RwSignal<Contestant>,
    pub judged: RwSignal<Contestant>,
}

/// The policy an evaluation sets against SFT.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Contestant {
    #[default]
    Ppo,
    Dpo,
}

impl Contestant {
    pub fn name(self) -> &'static str {
        match self {
            Self::Ppo => "PPO",
            Self::Dpo => "DPO",
        }
    }
}

impl EvalUi {
    pub fn new() -> Self {
        Self {
            requests: RwSignal::new(0),
            busy: RwSignal::new(false),
            duels: RwSignal::new(vec![]),
            tax: RwSignal::new(vec![]),
            three_way: RwSignal::new(vec![]),
            at_iteration: RwSignal::new(0),
            against: RwSignal::new(Contestant::Ppo),
            judged: RwSignal::new(Contestant::Ppo),
        }
    }

    /// An earlier stage starts over: results about models that are gone go too.
    pub fn clear(&self) {
        self.duels.set(vec![]);
        self.tax.set(vec![]);
        self.three_way.set(vec![]);
        self.at_iteration.set(0);
    }

    pub fn publish(&self, m: &mut BTreeMap<&'static str, f64>) {
        self.duels.with_untracked(|d| {
            m.insert("eval_duels", d.len() as f64);
            if d.is_empty() {
                return;
            }
            let user = win_rate(d.iter().filter_map(|x| x.judged));
            m.insert("eval_judged", (user.wins + user.ties + user.losses) as f64);
            m.insert("eval_user_win_rate", user.rate as f64);
            m.insert("eval_persona_win_rate", win_rate(d.iter().map(|x| x.persona)).rate as f64);
            m.insert("eval_rm_win_rate", win_rate(d.iter().map(|x| crate::evaluate::verdict(x.ppo_score, x.sft_score))).rate as f64);
        });
        self.tax.with_untracked(|t| {
            for r in t {
                let key = match r.model.as_str() {
                    "pretrained" => "tax_pretrained",
                    "sft" => "tax_sft",
                    "ppo" => "tax_ppo",
                    "dpo" => "tax_dpo",
                    _ => "tax_beside",
                };
                m.insert(key, r.loss as f64);
            }
        });
        m.insert("eval_three_way", self.three_way.with_untracked(Vec::len) as f64);
        m.insert("eval_dpo", f64::from(self.judged.get_untracked() == Contestant::Dpo));
    }
}
