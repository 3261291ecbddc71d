//! The engine's part for keeping work: writes each trained model to the browser
//! (`keep`) when its stage pauses and every half minute while it trains, offers
//! the kept work when the page opens and resumes it, forgets it on "start over",
//! and exports / imports single models as safetensors files.

use super::keep;
use super::stages::Stages;
use super::view::keep::{KeepBusy, Progress};
use super::view::{LossPoint, Ui};
use crate::checkpoint::{self, ModelCard, Role};
use crate::lab::Lab;
use crate::model::Gpt;
use crate::reward::RewardModel;
use leptos::prelude::*;
use std::collections::BTreeMap;
use web_time::{Duration, Instant};

/// While a stage trains, its model is kept at most this often.
const EVERY: Duration = Duration::from_secs(30);

/// The roles a user can import (PPO starts from SFT and the reward model; its
/// runs are kept and resumed, and exported for use outside the page).
const IMPORTED: [Role; 3] = [Role::Pretrained, Role::Sft, Role::RewardModel];

pub struct KeepStage {
    key: String,
    /// Steps of each role when it was last kept (or resumed).
    kept: BTreeMap<Role, usize>,
    last_write: Option<Instant>,
    /// After a failed write, wait before trying again.
    retry_at: Option<Instant>,
    /// The PPO run (`Stages::ppo_kept`'s number) whose policy is kept.
    kept_run: Option<usize>,
    /// DPO as its policy was last kept.
    kept_dpo: Option<super::view::keep::KeptDpo>,
    seen_resume: u64,
    seen_forget: u64,
    /// Saves an exported file: the page's download, or (in the engine's worker)
    /// the bytes handed to the page to save.
    save: Save,
}

/// How an exported file (bytes, name) reaches the user.
pub type Save = fn(&[u8], &str) -> Result<(), String>;

impl KeepStage {
    /// `lesson`: a teacher link brings its own models; what grows from them is kept
    /// apart from the user's own work of the same preset, seed and language.
    pub fn new(lab: &Lab, lesson: bool, save: Save) -> Self {
        Self {
            key: format!("{}-{}-{}{}", lab.preset.name(), lab.seed, lab.lang.code(), if lesson { "-lesson" } else { "" }),
            kept: BTreeMap::new(),
            last_write: None,
            retry_at: None,
            kept_run: None,
            kept_dpo: None,
            seen_resume: 0,
            seen_forget: 0,
            save,
        }
    }

    /// When the page opens: offer what this browser kept for this preset/seed/language.
    pub async fn offer(&self, ui: &Ui) {
        if let Some(p) = keep::load_progress(&self.key).await {
            ui.keep.kept.set(p.models.clone());
            ui.keep.offer.set(Some(p));
        }
    }

    /// A teacher link's part (`resume=1`, `models=…`, `open=…`), once the page is built.
    pub async fn teacher_link(&mut self, params: &super::Params, ui: &Ui, lab: &mut Lab, stages: &mut Stages) {
        if params.resume
            && let Some(p) = ui.keep.offer.get_untracked()
            && let Err(e) = self.resume(ui, lab, stages, &p).await
        {
            ui.keep.error.set(Some(e));
        }
        for url in &params.models {
            let loaded = match fetch(url).await {
                Ok(bytes) => self.import(ui, lab, stages, &bytes).map(|_| ()),
                Err(e) => Err(e),
            };
            if let Err(e) = loaded {
                ui.keep.error.set(Some(format!("the lesson's model {url} was not loaded: {e}")));
                break;
            }
            // The lesson's models replace what was offered.
            ui.keep.offer.set(None);
        }
        if let Some(tab) = params.open {
            ui.tab.set(tab);
        }
    }

    /// Does whatever the bar asked for and keeps what changed; true if it did work.
    pub async fn tick(&mut self, ui: &Ui, lab: &mut Lab, stages: &mut Stages) -> bool {
        let k = ui.keep;
        let mut busy = false;
        let resume = k.resume_requests.get_untracked();
        if resume != self.seen_resume {
            self.seen_resume = resume;
            busy = true;
            if let Some(p) = k.offer.get_untracked() {
                k.busy.set(Some(KeepBusy::Resuming));
                match self.resume(ui, lab, stages, &p).await {
                    Ok(()) => k.error.set(None),
                    Err(e) => k.error.set(Some(e)),
                }
                k.busy.set(None);
            }
        }
        let forget = k.forget_requests.get_untracked();
        if forget != self.seen_forget {
            self.seen_forget = forget;
            busy = true;
            match keep::forget(&self.key).await {
                Ok(()) => {
                    self.kept.clear();
                    self.kept_dpo = None;
                    k.kept.set(BTreeMap::new());
                    k.offer.set(None);
                    k.error.set(None);
                    k.note.set(Some("forgotten".into()));
                    // Start over: the page's models too.
                    ui.pretrain.reset_requests.update(|n| *n += 1);
                }
                Err(e) => k.error.set(Some(e)),
            }
        }
        if let Some(role) = k.export.get_untracked() {
            k.export.set(None);
            busy = true;
            k.busy.set(Some(KeepBusy::Exporting));
            if let Err(e) = self.export(lab, stages, role).await {
                k.error.set(Some(e));
            }
            k.busy.set(None);
        }
        if let Some((name, bytes)) = k.import.get_untracked() {
            k.import.set(None);
            busy = true;
            match self.import(ui, lab, stages, &bytes) {
                Ok(role) => {
                    k.error.set(None);
                    k.note.set(Some(format!("{name} → {}", role.name())));
                }
                Err(e) => {
                    k.note.set(None);
                    k.error.set(Some(format!("{name} was not imported, nothing changed: {e}")));
                }
            }
        }
        // Nothing is written while the user is being offered the kept work: that
        // would overwrite it with a fresh, untrained start.
        if k.offer.with_untracked(Option::is_none) {
            busy |= self.keep_changed(ui, lab, stages).await;
        }
        busy
    }

    /// Pretraining started over: nothing kept belongs to the new models.
    pub fn forget_kept(&mut self) {
        self.kept.clear();
        self.kept_dpo = None;
    }

    /// Steps of every role that exists now.
    fn steps(lab: &Lab, stages: &Stages) -> Vec<(Role, usize)> {
        let mut v = vec![(Role::Pretrained, lab.pretrainer.step_count())];
        if let Some(s) = stages.sft() {
            v.push((Role::Sft, s.step_count()));
        }
        if let Some(r) = stages.reward_trainer() {
            v.push((Role::RewardModel, r.step_count()));
        }
        // PPO's iterations; the value network (and the run beside) go with the policy.
        if let Some((policy, _)) = stages.policy_iteration() {
            v.push((Role::Policy, policy));
        }
        v
    }

    fn running(ui: &Ui, role: Role) -> bool {
        match role {
            Role::Pretrained => ui.pretrain.running.get_untracked(),
            Role::Sft => ui.sft.running.get_untracked(),
            Role::RewardModel => ui.rm.running.get_untracked(),
            Role::Policy | Role::Value => ui.ppo.running.get_untracked(),
        }
    }

    /// Keeps each model whose steps changed, once its stage pauses or every [`EVERY`].
    async fn keep_changed(&mut self, ui: &Ui, lab: &Lab, stages: &Stages) -> bool {
        let now = Instant::now();
        if self.retry_at.is_some_and(|t| now < t) {
            return false;
        }
        let due = self.last_write.is_none_or(|t| now.duration_since(t) >= EVERY);
        let changed: Vec<(Role, usize)> = Self::steps(lab, stages)
            .into_iter()
            .filter(|&(role, steps)| {
                let new_run = role == Role::Policy && stages.policy_iteration().map(|(_, run)| run) != self.kept_run;
                steps > 0 && (new_run || self.kept.get(&role) != Some(&steps)) && (due || !Self::running(ui, role))
            })
            .collect();
        // DPO as it is now, when it differs from what is kept (a restarted run at the
        // same step differs by its chart).
        let dpo = stages
            .dpo_kept(ui)
            .filter(|now| now.steps > 0 && Some(now) != self.kept_dpo.as_ref() && (due || !ui.dpo.running.get_untracked()));
        if changed.is_empty() && dpo.is_none() {
            return false;
        }
        ui.keep.busy.set(Some(KeepBusy::Keeping));
        let started = Instant::now();
        let result = self.write(ui, lab, stages, &changed, dpo).await;
        ui.keep.busy.set(None);
        if let Ok(bytes) = result {
            ui.keep.last_keep.set(Some((started.elapsed().as_secs_f64() * 1e3, bytes)));
        }
        self.last_write = Some(Instant::now());
        match result {
            Ok(_) => {
                self.retry_at = None;
                ui.keep.error.set(None);
            }
            Err(e) => {
                self.retry_at = Some(Instant::now() + EVERY);
                ui.keep.error.set(Some(e));
            }
        }
        true
    }

    /// Writes the changed models, then progress.json; returns the bytes written.
    async fn write(
        &mut self,
        ui: &Ui,
        lab: &Lab,
        stages: &Stages,
        changed: &[(Role, usize)],
        dpo: Option<super::view::keep::KeptDpo>,
    ) -> Result<usize, String> {
        let mut written = 0;
        if let (Some(dpo), Some(policy)) = (dpo, stages.dpo_policy()) {
            // A policy's card: DPO's steps are optimiser steps on the pairs.
            let bytes = self.model_bytes(lab, &policy, Role::Policy, dpo.steps).await?;
            keep::put(&self.key, super::view::keep::DPO_FILE, &bytes).await?;
            written += bytes.len();
            self.kept_dpo = Some(dpo);
        }
        for &(role, steps) in changed {
            if role == Role::Policy {
                // The policy with its value network and the run beside, at the same iteration.
                for (beside, run) in [(false, stages.policy()), (true, stages.beside())] {
                    let Some((policy, value)) = run else { continue };
                    for (role, bytes) in [
                        (Role::Policy, self.model_bytes(lab, &policy, Role::Policy, steps).await?),
                        (Role::Value, self.model_bytes(lab, &value, Role::Value, steps).await?),
                    ] {
                        keep::put(&self.key, &keep::file_of(role, beside), &bytes).await?;
                        written += bytes.len();
                    }
                }
                self.kept_run = stages.policy_iteration().map(|(_, run)| run);
            } else {
                let bytes = self.bytes(lab, stages, role, steps).await?;
                keep::put(&self.key, &keep::file_of(role, false), &bytes).await?;
                written += bytes.len();
            }
            self.kept.insert(role, steps);
        }
        let mut progress = Progress {
            tab: ui.tab.get_untracked().name().into(),
            saved_at_ms: js_sys::Date::now(),
            // Only models that exist now (a stage started over drops its own).
            models: Self::steps(lab, stages)
                .into_iter()
                .filter_map(|(r, _)| self.kept.get(&r).map(|s| (r.name().to_string(), *s)))
                .collect(),
            losses: ui.pretrain.losses.get_untracked(),
            sft_points: ui.sft.points.get_untracked(),
            rm_points: ui.rm.points.get_untracked(),
            rm_held_out: ui.rm.held_out.get_untracked(),
            rm_epoch: ui.rm.epoch.get_untracked(),
            rm_held_out_set: stages.reward_held_out().to_vec(),
            ppo: stages.ppo_kept(ui).filter(|&(run, _)| Some(run) == self.kept_run).map(|(_, k)| k),
            // Only while DPO exists now (an earlier stage started over drops it).
            dpo: self.kept_dpo.clone().filter(|_| stages.dpo_steps().is_some()),
            ..Progress::new()
        };
        if let Some(d) = &progress.dpo {
            progress.models.insert("dpo".into(), d.steps);
        }
        let json = serde_json::to_vec(&progress).map_err(|e| e.to_string())?;
        keep::put(&self.key, keep::PROGRESS, &json).await?;
        written += json.len();
        ui.keep.kept.set(progress.models);
        Ok(written)
    }

    fn card(lab: &Lab, role: Role, steps: usize) -> ModelCard {
        ModelCard::new(role, &lab.model_cfg, lab.preset, lab.lang, lab.seed, steps)
    }

    /// A model of the page as safetensors bytes.
    async fn bytes(&self, lab: &Lab, stages: &Stages, role: Role, steps: usize) -> Result<Vec<u8>, String> {
        match role {
            Role::Pretrained => self.model_bytes(lab, &lab.pretrainer.model(), role, steps).await,
            Role::Sft => match stages.sft() {
                Some(s) => self.model_bytes(lab, &s.model(), role, steps).await,
                None => Err("there is no SFT model yet (stage 2)".into()),
            },
            Role::RewardModel => match stages.reward_trainer() {
                Some(r) => self.model_bytes(lab, &r.model(), role, steps).await,
                None => Err("there is no reward model yet (stage 4)".into()),
            },
            Role::Policy | Role::Value => match stages.policy() {
                Some((policy, _)) if role == Role::Policy => self.model_bytes(lab, &policy, role, steps).await,
                Some((_, value)) => self.model_bytes(lab, &value, role, steps).await,
                None => Err("there is no policy yet (stage 5)".into()),
            },
        }
    }

    /// One model as safetensors bytes, with its card and the tokenizer in the header.
    async fn model_bytes<M: burn::module::Module>(&self, lab: &Lab, model: &M, role: Role, steps: usize) -> Result<Vec<u8>, String> {
        checkpoint::to_safetensors(model, &Self::card(lab, role, steps), &lab.tokenizer).await.map_err(|e| e.0)
    }

    async fn export(&self, lab: &Lab, stages: &Stages, role: Role) -> Result<(), String> {
        // Policy and value: not counted here (PPO's iterations are not optimiser steps).
        let steps = Self::steps(lab, stages).into_iter().find(|&(r, _)| r == role).map_or(0, |(_, s)| s);
        let bytes = self.bytes(lab, stages, role, steps).await?;
        let name = format!("rlhf-playground-{}-{}.safetensors", self.key, role.name());
        (self.save)(&bytes, &name)
    }

    /// A safetensors file the user picked: checked whole, then it replaces the model
    /// of its role (and what was built on it); on any error nothing changes.
    fn import(&mut self, ui: &Ui, lab: &mut Lab, stages: &mut Stages, bytes: &[u8]) -> Result<Role, String> {
        let header = checkpoint::read_header(bytes).map_err(|e| e.0)?;
        let role = header.card.role;
        if !IMPORTED.contains(&role) {
            return Err(format!(
                "a {} checkpoint is for use outside the page; import the SFT model and the reward model, and PPO starts from them",
                role.name()
            ));
        }
        let arch = lab.model_cfg.clone();
        let device = lab.device.clone().autodiff();
        checkpoint::check(&header, &[role], &arch).map_err(|e| e.0)?;
        checkpoint::check_tokenizer(&header, &lab.tokenizer).map_err(|e| e.0)?;
        let steps = header.card.steps;
        match role {
            Role::Pretrained => {
                let (model, _) = checkpoint::load_gpt(bytes, &[role], &arch, &device).map_err(|e| e.0)?;
                stages.reset(ui);
                lab.pretrainer.resume(model, steps);
                ui.pretrain.step.set(steps);
                ui.pretrain.losses.set(vec![]);
            }
            Role::Sft => {
                let (model, _) = checkpoint::load_gpt(bytes, &[role], &arch, &device).map_err(|e| e.0)?;
                stages.resume_sft(ui, lab, model, steps);
                ui.sft.points.set(vec![]);
            }
            _ => {
                let (model, _) = checkpoint::load_reward_model(bytes, &[role], &arch, &device).map_err(|e| e.0)?;
                stages.resume_reward(ui, lab, model, steps, vec![]);
            }
        }
        // Kept at the next turn (its steps differ from what is kept).
        self.kept.remove(&role);
        Ok(role)
    }

    /// A kept model's file, its header read and its tokenizer checked against the
    /// one in use (`what` names it in the message when it is missing).
    async fn kept_file(&self, file: &str, what: &str, lab: &Lab) -> Result<Vec<u8>, String> {
        let bytes = keep::get(&self.key, file).await?.ok_or_else(|| format!("the kept {what} model is missing"))?;
        let header = checkpoint::read_header(&bytes).map_err(|e| e.0)?;
        checkpoint::check_tokenizer(&header, &lab.tokenizer).map_err(|e| e.0)?;
        Ok(bytes)
    }

    /// Loads every kept model first, then puts them in place, so a missing or
    /// damaged file changes nothing.
    async fn resume(&mut self, ui: &Ui, lab: &mut Lab, stages: &mut Stages, p: &Progress) -> Result<(), String> {
        let arch = lab.model_cfg.clone();
        let device = lab.device.clone().autodiff();
        let started = Instant::now();
        let ppo = p.ppo.as_ref().filter(|_| p.has(Role::Policy));
        let beside = ppo.is_some_and(|k| k.beside != super::view::ppo::Beside::None.code());
        let mut wanted: Vec<(Role, bool)> = IMPORTED.into_iter().filter(|&r| p.has(r)).map(|r| (r, false)).collect();
        if ppo.is_some() {
            wanted.extend([(Role::Policy, false), (Role::Value, false)]);
        }
        if beside {
            wanted.extend([(Role::Policy, true), (Role::Value, true)]);
        }
        let dpo = match &p.dpo {
            Some(kept) => {
                let bytes = self.kept_file(super::view::keep::DPO_FILE, "DPO", lab).await?;
                let (model, _) = checkpoint::load_gpt(&bytes, &[Role::Policy], &arch, &device).map_err(|e| e.0)?;
                Some((model, kept.clone()))
            }
            None => None,
        };
        let mut files = BTreeMap::new();
        for (role, beside) in wanted {
            files.insert((role, beside), self.kept_file(&keep::file_of(role, beside), role.name(), lab).await?);
        }
        let gpt = |role: Role, beside: bool| {
            files.get(&(role, beside)).map(|b| checkpoint::load_gpt(b, &[role], &arch, &device).map(|(m, h)| (m, h.card.steps)))
        };
        let rm = |role: Role, beside: bool| {
            files.get(&(role, beside)).map(|b| checkpoint::load_reward_model(b, &[role], &arch, &device).map(|(m, h)| (m, h.card.steps)))
        };
        let pretrained = gpt(Role::Pretrained, false).transpose().map_err(|e| e.0)?;
        let sft = gpt(Role::Sft, false).transpose().map_err(|e| e.0)?;
        let reward_model = rm(Role::RewardModel, false).transpose().map_err(|e| e.0)?;
        let run = |beside: bool| -> Result<Option<(Gpt, RewardModel)>, String> {
            match (gpt(Role::Policy, beside).transpose().map_err(|e| e.0)?, rm(Role::Value, beside).transpose().map_err(|e| e.0)?) {
                (Some((policy, _)), Some((value, _))) => Ok(Some((policy, value))),
                _ => Ok(None),
            }
        };
        let (policy, beside_run) = (run(false)?, run(true)?);

        stages.reset(ui);
        if let Some((model, steps)) = pretrained {
            lab.pretrainer.resume(model, steps);
            ui.pretrain.step.set(steps);
            let mut losses = p.losses.clone();
            if losses.is_empty()
                && let Ok(h) = lab.pretrainer.held_out_loss().await
            {
                losses.push(LossPoint { step: steps, train: h, held_out: Some(h) });
            }
            ui.pretrain.losses.set(losses);
            self.kept.insert(Role::Pretrained, steps);
        }
        if let Some((model, steps)) = sft {
            stages.resume_sft(ui, lab, model, steps);
            ui.sft.points.set(p.sft_points.clone());
            self.kept.insert(Role::Sft, steps);
        }
        if let Some((model, steps)) = reward_model {
            stages.resume_reward(ui, lab, model, steps, p.rm_held_out_set.clone());
            ui.rm.points.set(p.rm_points.clone());
            ui.rm.held_out.set(p.rm_held_out.clone());
            ui.rm.epoch.set(p.rm_epoch);
            self.kept.insert(Role::RewardModel, steps);
        }
        if let (Some(kept), Some(main)) = (ppo, policy) {
            ui.keep.busy.set(Some(KeepBusy::ResumingPpo));
            stages.resume_ppo(ui, lab, kept, (main, beside_run)).await?;
            self.kept.insert(Role::Policy, kept.iteration);
            self.kept_run = stages.policy_iteration().map(|(_, run)| run);
        }
        if let Some((policy, kept)) = dpo {
            stages.resume_dpo(ui, lab, policy, &kept)?;
            self.kept_dpo = Some(kept);
        }
        if let Some(tab) = super::view::Tab::parse(&p.tab) {
            ui.tab.set(tab);
        }
        ui.keep.offer.set(None);
        ui.keep.note.set(Some("resumed".into()));
        ui.keep.resume_ms.set(Some(started.elapsed().as_secs_f64() * 1e3));
        Ok(())
    }
}

/// The bytes at `url` (a course's checkpoint, usually beside the page).
async fn fetch(url: &str) -> Result<Vec<u8>, String> {
    use wasm_bindgen::JsCast;
    use wasm_bindgen_futures::JsFuture;
    let global = js_sys::global();
    let request = match global.dyn_ref::<web_sys::Window>() {
        Some(window) => window.fetch_with_str(url),
        None => global.unchecked_ref::<web_sys::WorkerGlobalScope>().fetch_with_str(url),
    };
    let response = JsFuture::from(request).await.map_err(|_| "the network refused".to_string())?;
    let response: web_sys::Response = response.dyn_into().map_err(|_| "no response".to_string())?;
    if !response.ok() {
        return Err(format!("HTTP {}", response.status()));
    }
    let buf = JsFuture::from(response.array_buffer().map_err(|_| "no body".to_string())?)
        .await
        .map_err(|_| "the download broke off".to_string())?;
    Ok(js_sys::Uint8Array::new(&buf).to_vec())
}
