//! The engine's part for stage 6, evaluation: on prompts no stage trained on, one
//! answer from SFT and one from the PPO policy each, shown blind as A and B (the
//! user judges; the persona and the reward model judge too); the alignment tax as
//! held-out pretraining loss of every model; one prompt answered by all three.

use super::view::Ui;
use super::view::eval::{Contestant, DuelView, TaxRow, ThreeWay};
use crate::evaluate::{Blind, compare, corpus_loss};
use crate::lab::Lab;
use crate::model::Gpt;
use crate::persona::{Persona, Weights};
use crate::sft::{self, SftTrainer};
use leptos::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;

/// Held-out corpus windows for the alignment tax (one forward pass each model).
const TAX_WINDOWS: usize = 16;
const THREE_WAY: usize = 3;

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
