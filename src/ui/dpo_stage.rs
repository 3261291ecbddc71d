//! The engine's part for DPO beside PPO: the core's DPO driver
//! ([`crate::stages::dpo::DpoStage`]) fitted to the pairs the person ranked, from
//! SFT. Every few steps its policy is probed for the over-optimisation chart, and
//! its greedy answer to the first watched prompt is shown with the implicit reward
//! β·(log π − log π_ref) of each token beside the reward model's score.

use super::Params;
use super::ppo_stage::{gold_judge, greedy_answer};
use super::view::Ui;
use super::view::dpo::{DpoAnswer, DpoBusy, DpoPoint};
use crate::dpo::implicit_reward_per_token;
use crate::lab::Lab;
use crate::sft::{self, SftTrainer};
use crate::stages::dpo::{DpoSettings, DpoStage as Driver};
use crate::stages::evaluate::{probe, probe_prompts};
use leptos::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;

pub struct DpoStage {
    stage: Option<Driver>,
    seen_steps: u64,
    seen_restarts: u64,
    seed: u64,
}

impl DpoStage {
    pub fn new(p: &Params) -> Self {
        Self { stage: None, seen_steps: 0, seen_restarts: 0, seed: p.seed }
    }

    /// Steps trained, once DPO has started.
    pub fn steps(&self) -> Option<usize> {
        self.stage.as_ref().map(|s| s.trainer.step_count())
    }

    /// What a reload needs to go on with DPO (its weights are kept apart).
    pub fn kept(&self, ui: &Ui) -> Option<super::view::keep::KeptDpo> {
        let stage = self.stage.as_ref()?;
        Some(super::view::keep::KeptDpo {
            steps: stage.trainer.step_count(),
            beta: stage.settings.beta,
            lr: stage.settings.lr,
            points: ui.dpo.points.get_untracked(),
        })
    }

    /// Goes on from a kept DPO policy (on the autodiff device), SFT in place.
    pub fn resume(&mut self, ui: &Ui, lab: &Lab, sft: &SftTrainer, policy: crate::model::Gpt, kept: &super::view::keep::KeptDpo) {
        ui.dpo.beta.set(kept.beta);
        ui.dpo.lr.set(kept.lr);
        let settings = DpoSettings { beta: kept.beta, lr: kept.lr, ..DpoSettings::default() };
        let rng = StdRng::seed_from_u64(self.seed + 12);
        self.stage = Some(Driver::resumed(lab, sft, policy, kept.steps, settings, rng));
        ui.dpo.points.set(kept.points.clone());
    }

    /// The DPO policy, once it has trained.
    pub fn policy(&self) -> Option<crate::model::Gpt> {
        self.stage.as_ref().map(|s| s.trainer.policy())
    }

    /// An earlier stage starts over: DPO goes with it.
    pub fn reset(&mut self, ui: &Ui) {
        self.stage = None;
        ui.dpo.running.set(false);
        ui.dpo.points.set(vec![]);
        ui.dpo.answer.set(None);
        ui.ppo.overopt.points.update(|v| v.retain(|p| p.method != "dpo"));
        ui.ppo.overopt.signs.update(|v| v.retain(|(m, _)| m != "dpo"));
    }

    pub async fn tick(&mut self, ui: &Ui, lab: &Lab, sft: Option<&SftTrainer>, rm: &mut super::reward_stage::RewardStage) -> bool {
        let restarts = ui.dpo.restart_requests.get_untracked();
        if restarts != self.seen_restarts {
            self.seen_restarts = restarts;
            self.reset(ui);
        }
        let requested = ui.dpo.step_requests.get_untracked();
        if !(ui.dpo.running.get_untracked() || requested != self.seen_steps) {
            return false;
        }
        self.seen_steps = requested;
        if let Err(e) = self.step(ui, lab, sft, rm).await {
            ui.dpo.running.set(false);
            ui.error.set(Some(e));
        }
        ui.dpo.busy.set(None);
        true
    }

    async fn step(
        &mut self,
        ui: &Ui,
        lab: &Lab,
        sft: Option<&SftTrainer>,
        rm: &mut super::reward_stage::RewardStage,
    ) -> Result<(), String> {
        let Some(sft) = sft else { return Err("train the SFT model first (stage 2): DPO starts from it".into()) };
        let ranked: Vec<_> = ui.session.with_untracked(|s| s.comparisons.iter().filter(|c| !c.pairs.is_empty()).cloned().collect());
        if ranked.is_empty() {
            return Err("rank some answers first (stage 3): DPO learns from your pairs".into());
        }
        let stage = match self.stage.as_mut() {
            Some(s) => s,
            None => {
                let settings = DpoSettings { beta: ui.dpo.beta.get_untracked(), lr: ui.dpo.lr.get_untracked(), ..DpoSettings::default() };
                self.stage.insert(Driver::new(lab, sft, settings, StdRng::seed_from_u64(self.seed + 12)))
            }
        };
        ui.dpo.busy.set(Some(DpoBusy::Step));
        let s = stage.step(lab, &ranked).await.map_err(|e| e.to_string())?;
        let step = s.stats.step;
        ui.dpo.points.update(|v| v.push(DpoPoint { step, loss: s.stats.loss, accuracy: s.stats.accuracy, margin: s.stats.margin }));
        // Looked at after each pass over the pairs, and at the first step.
        if s.pass_done || step == 1 {
            self.look(ui, lab, sft, rm, step).await?;
        }
        Ok(())
    }

    /// DPO's point on the over-optimisation chart (scored by the reward model PPO
    /// uses, when there is one) and its answer to the first watched prompt.
    async fn look(
        &self,
        ui: &Ui,
        lab: &Lab,
        sft: &SftTrainer,
        rm: &mut super::reward_stage::RewardStage,
        step: usize,
    ) -> Result<(), String> {
        let Some(stage) = self.stage.as_ref() else { return Ok(()) };
        let Some(rm) = rm.driver_mut() else { return Ok(()) };
        ui.dpo.busy.set(Some(DpoBusy::Probing));
        rm.normalize(lab, &ui.demonstrations()).await.map_err(|e| e.to_string())?;
        let reward_model = rm.trainer.model();
        let (policy, judge) = (stage.trainer.policy(), gold_judge(lab));
        if ui.ppo.overopt.every > 0 {
            let prompts = probe_prompts(lab, &judge, Some(ui.ppo.overopt.prompts));
            let (point, signs) = probe("dpo", step, &policy, &sft.model(), &reward_model, &judge, lab, &prompts, self.seed)
                .await
                .map_err(|e| e.to_string())?;
            ui.ppo.overopt.add(point, signs);
        }
        let Some(prompt) = sft::prompts(lab.lang).rl.into_iter().next() else { return Ok(()) };
        let answer = greedy_answer(&policy, lab, &prompt, 40).await.map_err(|e| e.to_string())?;
        let beta = stage.trainer.beta;
        let tokens = implicit_reward_per_token(&policy, stage.trainer.reference(), &lab.tokenizer, &prompt, &answer, beta, &lab.device)
            .await
            .map_err(|e| e.to_string())?;
        let score = crate::reward::score(&reward_model, &lab.tokenizer, &prompt, std::slice::from_ref(&answer), &lab.device)
            .await
            .map_err(|e| e.to_string())?[0];
        ui.dpo.answer.set(Some(DpoAnswer { prompt, answer, score, tokens, at: step }));
        Ok(())
    }
}
