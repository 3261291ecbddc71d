//! The engine's part for stage 6, evaluation: on prompts no stage trained on, one
//! answer from SFT and one from the PPO policy each, shown blind as A and B (the
//! user judges; the persona and the reward model judge too); the alignment tax as
//! held-out pretraining loss of every model; one prompt answered by all three.

use super::engine::Ui;
use crate::evaluate::{Blind, compare, corpus_loss, win_rate};
use crate::lab::Lab;
use crate::model::Gpt;
use crate::persona::{Persona, Weights};
use crate::sft::{self, SftTrainer};
use leptos::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::collections::BTreeMap;

/// Held-out corpus windows for the alignment tax (one forward pass each model).
const TAX_WINDOWS: usize = 16;
const THREE_WAY: usize = 3;

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

pub struct EvalStage {
    seen: u64,
    prompts: usize,
    seed: u64,
}

impl EvalStage {
    pub fn new(seed: u64, prompts: usize) -> Self {
        Self { seen: 0, prompts, seed }
    }

    pub async fn tick(
        &mut self,
        ui: &Ui,
        lab: &Lab,
        base: Option<&Gpt>,
        sft: Option<&SftTrainer>,
        ppo: &super::ppo_stage::PpoStage,
        dpo: &super::dpo_stage::DpoStage,
    ) -> bool {
        let r = ui.eval.requests.get_untracked();
        if r == self.seen {
            return false;
        }
        self.seen = r;
        if let Err(e) = self.evaluate(ui, lab, base, sft, ppo, dpo.policy()).await {
            ui.error.set(Some(e));
        }
        ui.eval.busy.set(false);
        true
    }

    async fn evaluate(
        &mut self,
        ui: &Ui,
        lab: &Lab,
        base: Option<&Gpt>,
        sft: Option<&SftTrainer>,
        ppo: &super::ppo_stage::PpoStage,
        dpo: Option<Gpt>,
    ) -> Result<(), String> {
        let (Some(base), Some(sft), Some(main)) = (base, sft, ppo.main()) else {
            return Err("run PPO first (stage 5): the evaluation compares its policy with SFT".into());
        };
        let err = |e: crate::TrainError| e.to_string();
        let (sft_model, policy) = (sft.model(), main.policy());
        let against = ui.eval.against.get_untracked();
        let contestant = match (against, &dpo) {
            (Contestant::Dpo, Some(d)) => d.clone(),
            (Contestant::Dpo, None) => return Err("train DPO first (the PPO tab): the evaluation sets it against SFT".into()),
            (Contestant::Ppo, _) => policy.clone(),
        };
        let prompts: Vec<String> = sft::prompts(lab.lang).eval.into_iter().take(self.prompts).collect();
        let persona = Persona::new(lab.lang, Weights::default(), 0.0);
        // A new seed each time: "evaluate again" draws new answers.
        let seed = self.seed + 4 + self.seen;
        let e = compare(&sft_model, &contestant, main.reward_model(), &persona, &lab.tokenizer, &prompts, 1, seed, &lab.device)
            .await
            .map_err(err)?;
        let mut rng = StdRng::seed_from_u64(seed);
        ui.eval.duels.set(
            e.duels
                .iter()
                .map(|d| DuelView {
                    blind: Blind::new(&d.prompt, &d.sft, &d.ppo, &mut rng),
                    sft_score: d.sft_score,
                    ppo_score: d.ppo_score,
                    persona: d.persona,
                    judged: None,
                })
                .collect(),
        );

        let (held, block) = (&lab.split.held_out, lab.model_cfg.block_size);
        let loss = |m: Gpt| async move { corpus_loss(&m, held, TAX_WINDOWS, block, &lab.device).await };
        let main_cfg = (Some(main.beta), Some(main.cfg.gamma_ptx));
        let mut tax = vec![
            TaxRow { model: "pretrained".into(), beta: None, gamma_ptx: None, loss: loss(base.clone()).await.map_err(err)? },
            TaxRow { model: "sft".into(), beta: None, gamma_ptx: None, loss: loss(sft_model.clone()).await.map_err(err)? },
            TaxRow { model: "ppo".into(), beta: main_cfg.0, gamma_ptx: main_cfg.1, loss: loss(policy.clone()).await.map_err(err)? },
        ];
        if let Some(d) = dpo {
            tax.push(TaxRow { model: "dpo".into(), beta: None, gamma_ptx: None, loss: loss(d).await.map_err(err)? });
        }
        if let Some((_, b)) = ppo.beside() {
            tax.push(TaxRow {
                model: "beside".into(),
                beta: Some(b.beta),
                gamma_ptx: Some(b.cfg.gamma_ptx),
                loss: loss(b.policy()).await.map_err(err)?,
            });
        }
        ui.eval.tax.set(tax);

        let mut rows = vec![];
        for p in prompts.iter().take(THREE_WAY) {
            let greedy = |m: Gpt| async move { super::ppo_stage::greedy_answer(&m, lab, p, 40).await };
            rows.push(ThreeWay {
                prompt: p.clone(),
                pretrained: greedy(base.clone()).await.map_err(err)?,
                sft: greedy(sft_model.clone()).await.map_err(err)?,
                ppo: greedy(policy.clone()).await.map_err(err)?,
            });
        }
        ui.eval.three_way.set(rows);
        ui.eval.at_iteration.set(main.iteration());
        ui.eval.judged.set(against);
        Ok(())
    }
}
