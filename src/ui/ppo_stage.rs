//! The engine's part for stage 5, PPO: the policy starts from SFT and is scored by
//! the reward model (its demonstrations' mean shifted to 0). Each iteration keeps
//! TRL's metrics, the rollout's answers with their per-token log π, log π_ref
//! (the KL heatmap), and every few iterations re-answers the watched prompts. A
//! second run from the same start — β = 0, or γ_ptx toggled — can train beside it.

use super::Params;
use super::engine::Ui;
use super::keep::{KeptPoint, KeptPpo};
use crate::inspect::{AttentionMaps, attention_maps_for};
use crate::lab::Lab;
use crate::model::Gpt;
use crate::ppo::{METRICS, PpoConfig, PpoTrainer, Rollout};
use crate::reward::RewardModel;
use crate::sample::{SampleConfig, answer_texts};
use crate::sft::{self, SftTrainer};
use crate::train::OptimConfig;
use leptos::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::collections::BTreeMap;

/// The run trained beside the main one, from the same SFT model and reward model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Beside {
    None,
    /// β = 0 and no ptx: nothing holds the policy near SFT — reward hacking.
    Beta0,
    /// The same β with γ_ptx toggled (0 ↔ the chosen value, or 1).
    PtxToggled,
}

impl Beside {
    pub fn parse(s: &str) -> Self {
        match s {
            "beta0" => Self::Beta0,
            "ptx" => Self::PtxToggled,
            _ => Self::None,
        }
    }
    pub fn code(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Beta0 => "beta0",
            Self::PtxToggled => "ptx",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
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
#[derive(Clone, Debug, PartialEq)]
pub struct AnswerView {
    pub prompt: String,
    pub answer: String,
    pub score: f32,
    pub kl: f32,
    pub ended: bool,
    pub tokens: Vec<TokenKl>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PpoPoint {
    pub iteration: usize,
    pub metrics: BTreeMap<&'static str, f32>,
}

impl PpoPoint {
    pub fn get(&self, k: &str) -> Option<f32> {
        self.metrics.get(k).copied()
    }
}

/// A watched prompt: the SFT answer and the current policies' answers (greedy).
#[derive(Clone, Debug, PartialEq)]
pub struct Watched {
    pub prompt: String,
    pub sft: String,
    pub policy: String,
    pub beside: Option<String>,
    pub at: usize,
}

/// The settings a run was started with, shown beside its charts.
#[derive(Clone, Debug, PartialEq)]
pub struct RunLabel {
    pub beta: f32,
    pub gamma_ptx: f32,
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
    pub busy: RwSignal<Option<&'static str>>,
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
        }
    }

    pub fn publish(&self, m: &mut BTreeMap<&'static str, f64>) {
        m.insert("ppo_iteration", self.iteration.get_untracked() as f64);
        self.points.with_untracked(|pts| {
            if let (Some(first), Some(last)) = (pts.first(), pts.last()) {
                m.insert("ppo_first_score", first.get("objective/scores").unwrap_or(0.0) as f64);
                for (name, key) in [
                    ("ppo_score", "objective/scores"),
                    ("ppo_kl", "objective/kl"),
                    ("ppo_entropy", "objective/entropy"),
                    ("ppo_clipfrac", "policy/clipfrac_avg"),
                    ("ppo_approxkl", "policy/approxkl_avg"),
                    ("ppo_value_loss", "loss/value_avg"),
                    ("ppo_beta", "beta"),
                ] {
                    if let Some(v) = last.get(key) {
                        m.insert(name, v as f64);
                    }
                }
            }
            // Means over the first and the last third: one iteration's score is noisy.
            let third = pts.len() / 3;
            if third > 0 {
                let mean = |s: &[PpoPoint]| s.iter().filter_map(|p| p.get("objective/scores")).sum::<f32>() as f64 / s.len() as f64;
                m.insert("ppo_score_first_third", mean(&pts[..third]));
                m.insert("ppo_score_last_third", mean(&pts[pts.len() - third..]));
            }
        });
        m.insert("ppo_beside_iteration", self.beside_points.with_untracked(Vec::len) as f64);
        if let Some(p) = self.beside_points.with_untracked(|v| v.last().cloned()) {
            m.insert("ppo_beside_score", p.get("objective/scores").unwrap_or(0.0) as f64);
            m.insert("ppo_beside_kl", p.get("objective/kl").unwrap_or(0.0) as f64);
        }
        m.insert("ppo_kl_tokens", self.answers.with_untracked(|v| v.iter().map(|a| a.tokens.len()).sum::<usize>()) as f64);
        m.insert("ppo_watched", self.watched.with_untracked(|v| v.iter().filter(|w| !w.policy.is_empty()).count()) as f64);
    }
}

/// A kept run's weights: the policy and its value network.
pub type Run = (Gpt, RewardModel);

/// How many prompts are watched.
const WATCHED: usize = 3;

pub struct PpoStage {
    pub main: Option<PpoTrainer>,
    pub beside: Option<(Beside, PpoTrainer)>,
    /// Runs started so far (a restart is a new run, even at the same iteration).
    pub runs: usize,
    seen_steps: u64,
    seen_restarts: u64,
    rollout: usize,
    epochs: usize,
    tokens: usize,
    watch_every: usize,
    seed: u64,
}

fn view_of(lab: &Lab, rollouts: &[Rollout]) -> Vec<AnswerView> {
    rollouts
        .iter()
        .map(|r| AnswerView {
            prompt: r.prompt.clone(),
            answer: r.answer.clone(),
            score: r.score,
            kl: r.kl(),
            ended: r.ended,
            tokens: r
                .answer_ids
                .iter()
                .zip(r.log_probs.iter().zip(&r.ref_log_probs))
                .map(|(&id, (&lp, &lr))| TokenKl { text: lab.tokenizer.token_text(id), log_prob: lp, ref_log_prob: lr })
                .collect(),
        })
        .collect()
}

impl PpoStage {
    pub fn new(p: &Params) -> Self {
        Self {
            main: None,
            beside: None,
            runs: 0,
            seen_steps: 0,
            seen_restarts: 0,
            rollout: p.ppo_rollout,
            epochs: p.ppo_epochs,
            tokens: p.ppo_tokens,
            watch_every: p.watch_every,
            seed: p.seed,
        }
    }

    /// An earlier stage starts over: PPO's runs go with it.
    pub fn reset(&mut self, ui: &Ui) {
        self.main = None;
        self.beside = None;
        ui.ppo.running.set(false);
        ui.ppo.iteration.set(0);
        ui.ppo.points.set(vec![]);
        ui.ppo.beside_points.set(vec![]);
        ui.ppo.labels.set(None);
        ui.ppo.answers.set(vec![]);
        ui.ppo.beside_answers.set(vec![]);
        ui.ppo.watched.set(vec![]);
        ui.ppo.attention.set(None);
    }

    pub async fn tick(&mut self, ui: &Ui, lab: &Lab, sft: Option<&SftTrainer>, rm: &mut super::reward_stage::RewardStage) -> bool {
        let restarts = ui.ppo.restart_requests.get_untracked();
        if restarts != self.seen_restarts {
            self.seen_restarts = restarts;
            // A restart keeps Start pressed (the reward-hacking button restarts and runs).
            let running = ui.ppo.running.get_untracked();
            self.reset(ui);
            ui.eval.clear();
            ui.ppo.running.set(running);
        }
        let requested = ui.ppo.step_requests.get_untracked();
        if !(ui.ppo.running.get_untracked() || requested != self.seen_steps) {
            return false;
        }
        self.seen_steps = requested;
        if let Err(e) = self.iterate(ui, lab, sft, rm).await {
            ui.ppo.running.set(false);
            ui.error.set(Some(e));
        }
        ui.ppo.busy.set(None);
        true
    }

    fn config(&self, ui: &Ui, beta: f32, gamma_ptx: f32) -> PpoConfig {
        let d = PpoConfig::default();
        let lr = ui.ppo.lr.get_untracked();
        PpoConfig {
            beta,
            gamma_ptx,
            policy_optim: OptimConfig { lr, ..d.policy_optim.clone() },
            rollout_size: self.rollout,
            samples_per_prompt: ui.ppo.k.get_untracked(),
            minibatch_size: d.minibatch_size.min(self.rollout),
            ppo_epochs: self.epochs,
            max_new_tokens: self.tokens,
            ..d
        }
    }

    /// Both runs from SFT and the reward model, and the watched prompts' first answers.
    async fn start(&mut self, ui: &Ui, lab: &Lab, sft: &SftTrainer, rm: &mut super::reward_stage::RewardStage) -> Result<(), String> {
        self.build(ui, lab, sft, rm).await?;
        ui.ppo.busy.set(Some("watching"));
        self.watch(ui, lab, sft, 0).await.map_err(|e| e.to_string())
    }

    /// Goes on from kept runs (after a reload): the runs are built from SFT and the
    /// reward model as at their start, with the settings they were started with,
    /// then take the kept policies, value networks, iteration and β, and the charts.
    pub async fn resume(
        &mut self,
        ui: &Ui,
        lab: &Lab,
        sft: &SftTrainer,
        rm: &mut super::reward_stage::RewardStage,
        kept: &KeptPpo,
        (main, beside): (Run, Option<Run>),
    ) -> Result<(), String> {
        let kind = Beside::parse(&kept.beside);
        ui.ppo.gamma_ptx.set(kept.gamma_ptx);
        ui.ppo.lr.set(kept.lr);
        ui.ppo.k.set(kept.k);
        ui.ppo.beside.set(if beside.is_some() { kind } else { Beside::None });
        // The main run's β at its start (its current β is set below).
        let first_beta = kept.points.first().and_then(|p| p.metrics.get("beta").copied()).unwrap_or(kept.beta);
        ui.ppo.beta.set(first_beta);
        self.build(ui, lab, sft, rm).await?;
        ui.ppo.beta.set(kept.beta);
        if let Some(run) = self.main.as_mut() {
            run.resume(main.0, main.1, kept.iteration, kept.beta);
        }
        // The run beside takes its own kept β and γ_ptx: the main run's γ_ptx may have
        // changed since both started, and the beside run's is not derived from it.
        if let (Some((_, run)), Some((policy, value))) = (self.beside.as_mut(), beside) {
            run.resume(policy, value, kept.iteration, kept.beside_beta);
            run.cfg.gamma_ptx = kept.beside_gamma_ptx;
        }
        ui.ppo.labels.update(|l| {
            if let Some((m, b)) = l {
                m.beta = kept.beta;
                if let Some(b) = b {
                    b.gamma_ptx = kept.beside_gamma_ptx;
                }
            }
        });
        let points = |v: &[KeptPoint]| {
            v.iter()
                .map(|p| PpoPoint {
                    iteration: p.iteration,
                    metrics: METRICS.iter().filter_map(|&k| p.metrics.get(k).map(|&v| (k, v))).collect(),
                })
                .collect::<Vec<_>>()
        };
        ui.ppo.points.set(points(&kept.points));
        ui.ppo.beside_points.set(points(&kept.beside_points));
        ui.ppo.iteration.set(kept.iteration);
        self.watch(ui, lab, sft, kept.iteration).await.map_err(|e| e.to_string())
    }

    /// What a reload needs to go on with the runs (their weights are kept apart).
    pub fn kept(&self, ui: &Ui) -> Option<KeptPpo> {
        let main = self.main.as_ref()?;
        let points = |v: Vec<PpoPoint>| {
            v.into_iter()
                .map(|p| KeptPoint { iteration: p.iteration, metrics: p.metrics.into_iter().map(|(k, v)| (k.to_string(), v)).collect() })
                .collect()
        };
        Some(KeptPpo {
            iteration: main.iteration(),
            beta: main.beta,
            gamma_ptx: main.cfg.gamma_ptx,
            lr: ui.ppo.lr.get_untracked(),
            k: ui.ppo.k.get_untracked(),
            beside: self.beside.as_ref().map_or(Beside::None, |(k, _)| *k).code().into(),
            beside_beta: self.beside.as_ref().map_or(0.0, |(_, b)| b.beta),
            beside_gamma_ptx: self.beside.as_ref().map_or(0.0, |(_, b)| b.cfg.gamma_ptx),
            points: points(ui.ppo.points.get_untracked()),
            beside_points: points(ui.ppo.beside_points.get_untracked()),
        })
    }

    /// The runs from SFT and the reward model, with the panel's settings.
    async fn build(&mut self, ui: &Ui, lab: &Lab, sft: &SftTrainer, rm: &mut super::reward_stage::RewardStage) -> Result<(), String> {
        let Some(rm) = rm.trainer.as_mut() else { return Err("train the reward model first (stage 4): PPO is scored by it".into()) };
        ui.ppo.busy.set(Some("normalising"));
        // Demonstrations score 0 on average: a score above 0 reads "better than SFT's teachers".
        rm.normalize(&lab.tokenizer, &ui.demonstrations()).await.map_err(|e| e.to_string())?;
        let (beta, gamma) = (ui.ppo.beta.get_untracked(), ui.ppo.gamma_ptx.get_untracked());
        let prompts = sft::prompts(lab.lang).rl;
        // β = 0 means no anchor at all: the reward model's head alone, without the
        // likelihood read-out that rewards what SFT finds likely (as the runner).
        let new = |cfg: PpoConfig, seed: u64| {
            let reward_model = rm.trainable_model().proxy_for(cfg.beta);
            PpoTrainer::new(sft.trainable_model(), reward_model, prompts.clone(), lab.split.train.clone(), cfg, seed, &lab.device)
        };
        // Same seed: both runs see the same prompts in the same order.
        self.main = Some(new(self.config(ui, beta, gamma), self.seed + 3));
        let kind = ui.ppo.beside.get_untracked();
        let beside = match kind {
            Beside::None => None,
            Beside::Beta0 => Some(RunLabel { beta: 0.0, gamma_ptx: 0.0 }),
            Beside::PtxToggled => Some(RunLabel { beta, gamma_ptx: if gamma > 0.0 { 0.0 } else { 1.0 } }),
        };
        self.beside = beside.as_ref().map(|l| (kind, new(self.config(ui, l.beta, l.gamma_ptx), self.seed + 3)));
        ui.ppo.labels.set(Some((RunLabel { beta, gamma_ptx: gamma }, beside)));
        self.runs += 1;
        Ok(())
    }

    async fn iterate(
        &mut self,
        ui: &Ui,
        lab: &Lab,
        sft: Option<&SftTrainer>,
        rm: &mut super::reward_stage::RewardStage,
    ) -> Result<(), String> {
        let Some(sft) = sft else { return Err("train the SFT model first (stage 2): PPO starts from it".into()) };
        if self.main.is_none() {
            self.start(ui, lab, sft, rm).await?;
        }
        let Some(main) = self.main.as_mut() else { return Ok(()) };
        // β and γ_ptx act from this iteration on.
        main.beta = ui.ppo.beta.get_untracked();
        main.cfg.gamma_ptx = ui.ppo.gamma_ptx.get_untracked();
        ui.ppo.labels.update(|l| {
            if let Some((m, _)) = l {
                *m = RunLabel { beta: main.beta, gamma_ptx: main.cfg.gamma_ptx };
            }
        });
        ui.ppo.busy.set(Some("rollout"));
        let (m, rollouts) = main.step(&lab.tokenizer).await.map_err(|e| e.to_string())?;
        let iteration = main.iteration();
        ui.ppo.answers.set(view_of(lab, &rollouts));
        ui.ppo.points.update(|v| v.push(PpoPoint { iteration, metrics: m }));
        ui.ppo.iteration.set(iteration);
        if let Some((_, other)) = self.beside.as_mut() {
            ui.ppo.busy.set(Some("beside"));
            let (m, rollouts) = other.step(&lab.tokenizer).await.map_err(|e| e.to_string())?;
            ui.ppo.beside_answers.set(view_of(lab, &rollouts));
            ui.ppo.beside_points.update(|v| v.push(PpoPoint { iteration: other.iteration(), metrics: m }));
        }
        if iteration % self.watch_every == 0 {
            ui.ppo.busy.set(Some("watching"));
            self.watch(ui, lab, sft, iteration).await.map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Greedy answers to the watched prompts from SFT, the policy and the run
    /// beside it, and the policy's attention over the first prompt and its answer.
    async fn watch(&mut self, ui: &Ui, lab: &Lab, sft: &SftTrainer, at: usize) -> Result<(), crate::TrainError> {
        let tok = &lab.tokenizer;
        let known: Vec<Watched> = ui.ppo.watched.get_untracked();
        let mut rows = vec![];
        for (i, prompt) in sft::prompts(lab.lang).rl.into_iter().take(WATCHED).enumerate() {
            let sft_answer = match known.get(i) {
                Some(w) if w.prompt == prompt => w.sft.clone(),
                _ => greedy_answer(&sft.model(), lab, &prompt, self.tokens).await?,
            };
            let policy = match self.main.as_ref() {
                Some(m) => greedy_answer(&m.policy(), lab, &prompt, self.tokens).await?,
                None => String::new(),
            };
            let beside = match self.beside.as_ref() {
                Some((_, b)) => Some(greedy_answer(&b.policy(), lab, &prompt, self.tokens).await?),
                None => None,
            };
            rows.push(Watched { prompt, sft: sft_answer, policy, beside, at });
        }
        if let (Some(first), Some(main)) = (rows.first(), self.main.as_ref()) {
            let policy = main.policy();
            let mut ctx = vec![tok.eot()];
            ctx.extend(tok.encode(&first.prompt));
            ctx.extend(tok.encode(&first.policy));
            ctx.truncate(policy.block_size());
            ui.ppo.attention.set(Some(attention_maps_for(&policy, tok, &ctx, &lab.device).await?));
        }
        ui.ppo.watched.set(rows);
        Ok(())
    }
}

/// The model's most likely answer (greedy: the same weights give the same answer,
/// so a change in it is a change in the policy, not sampling noise).
pub async fn greedy_answer(model: &Gpt, lab: &Lab, prompt: &str, tokens: usize) -> Result<String, crate::TrainError> {
    let greedy = SampleConfig { temperature: 1.0, top_k: 1, max_new_tokens: tokens };
    let mut rng = StdRng::seed_from_u64(0);
    Ok(answer_texts(model, &lab.tokenizer, prompt, 1, &greedy, &mut rng, &lab.device).await?.concat())
}
