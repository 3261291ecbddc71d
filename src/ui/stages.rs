//! The engine's part for the stages after pretraining: SFT steps (and the watched
//! prompts answered by the base and the SFT model side by side), and sampling the
//! K answers a person ranks. Called once per turn of the engine loop; the panels
//! only flip signals.

use super::view::{SftPoint, Ui, Watch};
use crate::lab::Lab;
use crate::model::{Gpt, Preset};
use crate::rank::{rank_sampling, sample_answers};
use crate::sft::{self, Example, SftTrainer};
use crate::stages::sft::SftStage;
use leptos::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;

/// Watched prompts are re-answered every this many SFT steps (each answer costs
/// one forward pass per token, a visible moment on a software GPU).
fn watch_every(preset: Preset) -> usize {
    match preset {
        Preset::Micro => 10,
        Preset::Small => 25,
    }
}

const WATCHED: usize = 3;

pub struct Stages {
    /// SFT and the pretrained model as it started from it (the "before" column).
    sft: Option<SftStage>,
    reward: super::reward_stage::RewardStage,
    ppo: super::ppo_stage::PpoStage,
    dpo: super::dpo_stage::DpoStage,
    eval: super::eval_stage::EvalStage,
    rng: StdRng,
    seen_sft_steps: u64,
    seen_sft_restarts: u64,
    seen_rank: u64,
}

/// The first demonstration's tokens, marked where the SFT loss counts them (the
/// answer and its end-of-text; never the prompt).
pub fn mask_example(lab: &Lab) -> Vec<(String, bool)> {
    let Some(demo) = sft::demonstrations(lab.lang).into_iter().next() else { return vec![] };
    let e = Example::encode(&lab.tokenizer, &demo, lab.model_cfg.block_size);
    e.tokens.iter().enumerate().skip(1).map(|(i, &t)| (lab.tokenizer.token_text(t), i >= e.answer_start)).collect()
}

impl Stages {
    pub fn new(p: &super::Params) -> Self {
        Self {
            sft: None,
            reward: super::reward_stage::RewardStage::new(p.seed, p.rm_lr, p.rm_heldout),
            ppo: super::ppo_stage::PpoStage::new(p),
            dpo: super::dpo_stage::DpoStage::new(p),
            eval: super::eval_stage::EvalStage::new(p.seed, p.eval_prompts),
            rng: StdRng::seed_from_u64(p.seed ^ 0x5f7),
            seen_sft_steps: 0,
            seen_sft_restarts: 0,
            seen_rank: 0,
        }
    }

    /// Pretraining starts over: so does everything built on it.
    pub fn reset(&mut self, ui: &Ui) {
        self.sft = None;
        ui.sft.running.set(false);
        ui.sft.step.set(0);
        ui.sft.points.set(vec![]);
        ui.sft.watch.set(vec![]);
        ui.rank.answers.set(vec![]);
        self.reward.reset(ui);
        self.ppo.reset(ui);
        self.dpo.reset(ui);
        ui.eval.clear();
    }

    pub fn sft(&self) -> Option<&SftTrainer> {
        self.sft.as_ref().map(|s| &s.trainer)
    }

    pub fn reward_trainer(&self) -> Option<&crate::reward::RewardTrainer> {
        self.reward.trainer()
    }

    /// The reward model's held-out rankings (kept beside it).
    pub fn reward_held_out(&self) -> &[crate::rank::Comparison] {
        self.reward.held_out()
    }

    /// The main PPO run's policy and value network, once PPO has started.
    pub fn policy(&self) -> Option<(Gpt, crate::reward::RewardModel)> {
        self.ppo.main().map(|p| (p.policy(), p.value()))
    }

    /// The main PPO run's iteration and run number, once PPO has started.
    pub fn policy_iteration(&self) -> Option<(usize, usize)> {
        self.ppo.main().map(|p| (p.iteration(), self.ppo.runs))
    }

    /// The run trained beside the main one: its policy and value network.
    pub fn beside(&self) -> Option<(Gpt, crate::reward::RewardModel)> {
        self.ppo.beside().map(|(_, b)| (b.policy(), b.value()))
    }

    /// PPO's runs as a reload needs them, with the number of the run (a restart
    /// is another run, whatever its iteration).
    pub fn ppo_kept(&self, ui: &Ui) -> Option<(usize, super::view::keep::KeptPpo)> {
        self.ppo.kept(ui).map(|k| (self.ppo.runs, k))
    }

    /// DPO's steps, once it has started, and what a reload needs of it.
    pub fn dpo_steps(&self) -> Option<usize> {
        self.dpo.steps()
    }

    pub fn dpo_kept(&self, ui: &Ui) -> Option<super::view::keep::KeptDpo> {
        self.dpo.kept(ui)
    }

    pub fn dpo_policy(&self) -> Option<Gpt> {
        self.dpo.policy()
    }

    /// DPO goes on from a kept policy, on the SFT model in place.
    pub fn resume_dpo(&mut self, ui: &Ui, lab: &Lab, policy: Gpt, kept: &super::view::keep::KeptDpo) -> Result<(), String> {
        let Some(sft) = self.sft.as_ref().map(|s| &s.trainer) else {
            return Err("the kept DPO policy needs its SFT model, which was not kept".into());
        };
        self.dpo.resume(ui, lab, sft, policy, kept);
        Ok(())
    }

    /// PPO goes on from kept runs, on the SFT model and reward model in place.
    pub async fn resume_ppo(
        &mut self,
        ui: &Ui,
        lab: &Lab,
        kept: &super::view::keep::KeptPpo,
        runs: (super::view::ppo::Run, Option<super::view::ppo::Run>),
    ) -> Result<(), String> {
        let Some(sft) = self.sft.as_ref().map(|s| &s.trainer) else {
            return Err("the kept PPO run needs its SFT model, which was not kept".into());
        };
        self.ppo.resume(ui, lab, sft, &mut self.reward, kept, runs).await
    }

    /// SFT goes on from a kept or imported model (`model` on the autodiff device,
    /// trained `steps` steps); what was built on the old one goes.
    pub fn resume_sft(&mut self, ui: &Ui, lab: &Lab, model: Gpt, steps: usize) {
        self.reset(ui);
        self.sft = Some(SftStage::resumed(lab, &ui.demonstrations(), model, steps));
        ui.sft.step.set(steps);
    }

    /// The reward model goes on from a kept or imported one; PPO built on the old one goes.
    pub fn resume_reward(
        &mut self,
        ui: &Ui,
        lab: &Lab,
        model: crate::reward::RewardModel,
        steps: usize,
        held_out: Vec<crate::rank::Comparison>,
    ) {
        self.reward.resume(ui, lab, model, steps, held_out);
        self.ppo.reset(ui);
        ui.eval.clear();
    }

    /// Does whatever the panels asked for; true if it did any work.
    pub async fn tick(&mut self, ui: &Ui, lab: &Lab) -> bool {
        let mut busy = false;
        let restarts = ui.sft.restart_requests.get_untracked();
        if restarts != self.seen_sft_restarts {
            self.seen_sft_restarts = restarts;
            self.reset(ui);
        }
        let requested = ui.sft.step_requests.get_untracked();
        if ui.sft.running.get_untracked() || requested != self.seen_sft_steps {
            self.seen_sft_steps = requested;
            busy = true;
            self.sft_step(ui, lab).await;
        }
        let rank = ui.rank.requests.get_untracked();
        if rank != self.seen_rank {
            self.seen_rank = rank;
            busy = true;
            self.sample_for_ranking(ui, lab).await;
            ui.rank.sampling.set(false);
        }
        let (base, sft) = (self.sft.as_ref().map(|s| &s.base), self.sft.as_ref().map(|s| &s.trainer));
        busy |= self.reward.tick(ui, lab, sft).await;
        busy |= self.ppo.tick(ui, lab, sft, &mut self.reward).await;
        busy |= self.dpo.tick(ui, lab, sft, &mut self.reward).await;
        busy |= self.eval.tick(ui, lab, base, sft, &self.ppo, &self.dpo).await;
        busy
    }

    async fn sft_step(&mut self, ui: &Ui, lab: &Lab) {
        if self.sft.is_none() {
            // SFT starts from the pretrained weights as they are now, on the
            // demonstrations as the user left them.
            self.sft = Some(SftStage::new(lab, &ui.demonstrations()));
            self.refresh_watch(ui, lab, 0).await;
        }
        let Some(trainer) = self.sft.as_mut() else { return };
        match trainer.step().await {
            Ok(s) => {
                ui.sft.step.set(s.step);
                ui.sft.points.update(|v| v.push(SftPoint { step: s.step, loss: s.loss, token_accuracy: s.mean_token_accuracy }));
                if s.step % watch_every(lab.preset) == 0 {
                    self.refresh_watch(ui, lab, s.step).await;
                }
            }
            Err(e) => {
                ui.sft.running.set(false);
                ui.error.set(Some(e.to_string()));
            }
        }
    }

    /// Greedy answers of the base and the SFT model to the first evaluation prompts.
    async fn refresh_watch(&mut self, ui: &Ui, lab: &Lab, step: usize) {
        let Some(stage) = self.sft.as_ref() else { return };
        let prompts: Vec<String> = sft::prompts(lab.lang).eval.into_iter().take(WATCHED).collect();
        match stage.watch(lab, &prompts, &mut self.rng).await {
            Ok(rows) => {
                ui.sft.watch.set(rows.into_iter().map(|w| Watch { prompt: w.prompt, base: w.base, sft: w.sft, at_step: step }).collect())
            }
            Err(e) => ui.error.set(Some(e.to_string())),
        }
    }

    async fn sample_for_ranking(&mut self, ui: &Ui, lab: &Lab) {
        let Some(trainer) = self.sft() else {
            ui.error.set(Some("train the SFT model first: ranking compares its answers".into()));
            return;
        };
        let prompt = ui.rank.prompt.get_untracked();
        let k = ui.rank.k.get_untracked();
        match sample_answers(&trainer.model(), &lab.tokenizer, &prompt, k, &rank_sampling(), &mut self.rng, &lab.device).await {
            Ok(answers) => ui.rank.answers.set(answers),
            Err(e) => ui.error.set(Some(e.to_string())),
        }
    }
}
