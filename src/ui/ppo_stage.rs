//! The engine's part for stage 5, PPO: the page drives the core's PPO stage
//! ([`crate::stages::ppo::PpoStage`], the runner's recipe and defaults) and keeps
//! what the panel shows: TRL's metrics, the rollout's answers with their per-token
//! log π, log π_ref (the KL heatmap), and every few iterations the watched prompts
//! answered again. A second run from the same start — β = 0, or γ_ptx toggled —
//! can train beside it.

use super::Params;
use super::view::Ui;
use super::view::keep::{KeptPoint, KeptPpo};
use super::view::ppo::{AnswerView, Beside, PpoBusy, PpoPoint, Run, RunLabel, TokenKl, Watched};
use crate::inspect::attention_maps_for;
use crate::lab::Lab;
use crate::model::Gpt;
use crate::persona::{Persona, Weights};
use crate::ppo::{PpoStats, PpoTrainer, Rollout};
use crate::sample::{SampleConfig, answer_texts};
use crate::sft::{self, SftTrainer};
use crate::stages::evaluate::{best_of_n_points, probe, probe_prompts};
use crate::stages::ppo::{PpoRecipe, PpoSettings};
use burn::module::Module;
use leptos::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;

/// The gold judge of the over-optimisation chart and of the evaluation: the
/// persona with its default weights, no noise.
pub fn gold_judge(lab: &Lab) -> Persona {
    Persona::new(lab.lang, Weights::default(), 0.0)
}

/// How many prompts are watched.
const WATCHED: usize = 3;

pub struct PpoStage {
    stage: Option<crate::stages::ppo::PpoStage>,
    /// Runs started so far (a restart is a new run, even at the same iteration).
    pub runs: usize,
    seen_steps: u64,
    seen_restarts: u64,
    /// The recipe's sizes (from the page's URL, or the recipe's defaults); the
    /// learning rate and answers per prompt come from the panel at each start.
    recipe: PpoRecipe,
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
            stage: None,
            runs: 0,
            seen_steps: 0,
            seen_restarts: 0,
            recipe: PpoRecipe {
                rollout: p.ppo_rollout,
                epochs: p.ppo_epochs,
                max_new_tokens: p.ppo_tokens,
                ..PpoRecipe::for_preset(p.preset)
            },
            watch_every: p.watch_every,
            seed: p.seed,
        }
    }

    /// The main run, once started.
    pub fn main(&self) -> Option<&PpoTrainer> {
        self.stage.as_ref().map(|s| &s.main)
    }

    /// The run beside the main one, if one was asked for.
    pub fn beside(&self) -> Option<&(Beside, PpoTrainer)> {
        self.stage.as_ref().and_then(|s| s.beside.as_ref())
    }

    /// An earlier stage starts over: PPO's runs go with it.
    pub fn reset(&mut self, ui: &Ui) {
        self.stage = None;
        ui.ppo.running.set(false);
        ui.ppo.iteration.set(0);
        ui.ppo.points.set(vec![]);
        ui.ppo.beside_points.set(vec![]);
        ui.ppo.labels.set(None);
        ui.ppo.answers.set(vec![]);
        ui.ppo.beside_answers.set(vec![]);
        ui.ppo.watched.set(vec![]);
        ui.ppo.attention.set(None);
        ui.ppo.overopt.clear();
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

    /// The panel's settings over the recipe.
    fn settings(&self, ui: &Ui) -> PpoSettings {
        let recipe = PpoRecipe { lr: ui.ppo.lr.get_untracked(), samples_per_prompt: ui.ppo.k.get_untracked(), ..self.recipe.clone() };
        PpoSettings {
            beta: ui.ppo.beta.get_untracked(),
            gamma_ptx: ui.ppo.gamma_ptx.get_untracked(),
            recipe,
            beside: ui.ppo.beside.get_untracked(),
        }
    }

    /// Both runs from SFT and the reward model, and the watched prompts' first answers.
    async fn start(&mut self, ui: &Ui, lab: &Lab, sft: &SftTrainer, rm: &mut super::reward_stage::RewardStage) -> Result<(), String> {
        self.build(ui, lab, sft, rm).await?;
        ui.ppo.busy.set(Some(PpoBusy::Watching));
        self.watch(ui, lab, sft, 0).await.map_err(|e| e.to_string())?;
        if ui.ppo.overopt.every > 0 {
            ui.ppo.busy.set(Some(PpoBusy::BestOfN));
            let Some(main) = self.main() else { return Ok(()) };
            let (judge, rm) = (gold_judge(lab), main.reward_model().valid());
            let prompts = probe_prompts(lab, &judge, Some(ui.ppo.overopt.prompts));
            let curve = best_of_n_points(&sft.model(), &rm, &judge, lab, &prompts, ui.ppo.overopt.pool, self.seed)
                .await
                .map_err(|e| e.to_string())?;
            ui.ppo.overopt.points.update(|v| v.extend(curve));
            self.probe(ui, lab, sft, 0).await?;
        }
        Ok(())
    }

    /// Each run's point on the over-optimisation chart now, by the reward it
    /// optimised (proxy) and the persona (gold).
    async fn probe(&self, ui: &Ui, lab: &Lab, sft: &SftTrainer, iteration: usize) -> Result<(), String> {
        ui.ppo.busy.set(Some(PpoBusy::Probing));
        let judge = gold_judge(lab);
        let prompts = probe_prompts(lab, &judge, Some(ui.ppo.overopt.prompts));
        let runs = self.main().map(|m| ("main", m)).into_iter().chain(self.beside().map(|(_, b)| ("beside", b)));
        for (name, run) in runs {
            let (point, signs) =
                probe(name, iteration, &run.policy(), &sft.model(), &run.reward_model().valid(), &judge, lab, &prompts, self.seed)
                    .await
                    .map_err(|e| e.to_string())?;
            ui.ppo.overopt.add(point, signs);
        }
        Ok(())
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
        let points = |v: &[KeptPoint]| {
            v.iter()
                .map(|p| PpoPoint { iteration: p.iteration, stats: PpoStats::from_named(|k| p.metrics.get(k).copied()) })
                .collect::<Vec<_>>()
        };
        let (main_points, beside_points) = (points(&kept.points), points(&kept.beside_points));
        // The main run's β at its start (its current β is set below).
        ui.ppo.beta.set(main_points.first().and_then(|p| p.get(|s| s.beta)).unwrap_or(kept.beta));
        self.build(ui, lab, sft, rm).await?;
        ui.ppo.beta.set(kept.beta);
        // The run beside takes its own kept β and γ_ptx: the main run's γ_ptx may have
        // changed since both started, and the beside run's is not derived from it.
        if let Some(stage) = self.stage.as_mut() {
            let beside = beside.map(|run| (run, kept.beside_beta, kept.beside_gamma_ptx));
            stage.resume(kept.iteration, (main, kept.beta, kept.gamma_ptx), beside);
        }
        ui.ppo.labels.update(|l| {
            if let Some((m, b)) = l {
                m.beta = kept.beta;
                if let Some(b) = b {
                    b.gamma_ptx = kept.beside_gamma_ptx;
                }
            }
        });
        ui.ppo.points.set(main_points);
        ui.ppo.beside_points.set(beside_points);
        ui.ppo.overopt.points.set(kept.overopt.clone());
        ui.ppo.iteration.set(kept.iteration);
        self.watch(ui, lab, sft, kept.iteration).await.map_err(|e| e.to_string())
    }

    /// What a reload needs to go on with the runs (their weights are kept apart).
    pub fn kept(&self, ui: &Ui) -> Option<KeptPpo> {
        let main = self.main()?;
        let beside = self.beside();
        let points = |v: Vec<PpoPoint>| {
            v.into_iter()
                .map(|p| KeptPoint {
                    iteration: p.iteration,
                    metrics: p.stats.named().into_iter().filter(|(_, v)| v.is_finite()).map(|(k, v)| (k.to_string(), v)).collect(),
                })
                .collect()
        };
        Some(KeptPpo {
            iteration: main.iteration(),
            beta: main.beta,
            gamma_ptx: main.cfg.gamma_ptx,
            lr: ui.ppo.lr.get_untracked(),
            k: ui.ppo.k.get_untracked(),
            beside: beside.map_or(Beside::None, |(k, _)| *k).code().into(),
            beside_beta: beside.map_or(0.0, |(_, b)| b.beta),
            beside_gamma_ptx: beside.map_or(0.0, |(_, b)| b.cfg.gamma_ptx),
            points: points(ui.ppo.points.get_untracked()),
            beside_points: points(ui.ppo.beside_points.get_untracked()),
            overopt: ui.ppo.overopt.points.get_untracked(),
        })
    }

    /// The runs from SFT and the reward model, with the panel's settings.
    async fn build(&mut self, ui: &Ui, lab: &Lab, sft: &SftTrainer, rm: &mut super::reward_stage::RewardStage) -> Result<(), String> {
        let Some(rm) = rm.driver_mut() else { return Err("train the reward model first (stage 4): PPO is scored by it".into()) };
        ui.ppo.busy.set(Some(PpoBusy::Normalising));
        // Demonstrations score 0 on average: a score above 0 reads "better than SFT's teachers".
        rm.normalize(lab, &ui.demonstrations()).await.map_err(|e| e.to_string())?;
        let rm = &rm.trainer;
        // Scores are normalised on the answers you ranked, as the runner does on the persona's.
        let ranked: Vec<_> = ui.session.with_untracked(|s| s.comparisons.iter().filter(|c| !c.pairs.is_empty()).cloned().collect());
        let settings = self.settings(ui);
        let label = |(beta, gamma_ptx)| RunLabel { beta, gamma_ptx };
        let labels = (label((settings.beta, settings.gamma_ptx)), settings.beside.settings(settings.beta, settings.gamma_ptx).map(label));
        // Same seed: both runs see the same prompts in the same order.
        let stage = crate::stages::ppo::PpoStage::new(lab, sft, rm, &ranked, settings, self.seed + 3).await.map_err(|e| e.to_string())?;
        self.stage = Some(stage);
        ui.ppo.labels.set(Some(labels));
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
        if self.stage.is_none() {
            self.start(ui, lab, sft, rm).await?;
        }
        let Some(stage) = self.stage.as_mut() else { return Ok(()) };
        // β and γ_ptx act from this iteration on.
        let (beta, gamma_ptx) = (ui.ppo.beta.get_untracked(), ui.ppo.gamma_ptx.get_untracked());
        stage.set(beta, gamma_ptx);
        ui.ppo.labels.update(|l| {
            if let Some((m, _)) = l {
                *m = RunLabel { beta, gamma_ptx };
            }
        });
        ui.ppo.busy.set(Some(if stage.beside.is_some() { PpoBusy::RolloutBoth } else { PpoBusy::Rollout }));
        let (main, beside) = stage.step(lab).await.map_err(|e| e.to_string())?;
        let iteration = main.iteration;
        ui.ppo.answers.set(view_of(lab, &main.rollouts));
        ui.ppo.points.update(|v| v.push(PpoPoint::new(iteration, main.stats)));
        ui.ppo.iteration.set(iteration);
        if let Some(b) = beside {
            ui.ppo.beside_answers.set(view_of(lab, &b.rollouts));
            ui.ppo.beside_points.update(|v| v.push(PpoPoint::new(b.iteration, b.stats)));
        }
        if iteration % self.watch_every == 0 {
            ui.ppo.busy.set(Some(PpoBusy::Watching));
            self.watch(ui, lab, sft, iteration).await.map_err(|e| e.to_string())?;
        }
        let every = ui.ppo.overopt.every;
        if every > 0 && iteration % every == 0 {
            self.probe(ui, lab, sft, iteration).await?;
        }
        Ok(())
    }

    /// Greedy answers to the watched prompts from SFT, the policy and the run
    /// beside it, and the policy's attention over the first prompt and its answer.
    async fn watch(&mut self, ui: &Ui, lab: &Lab, sft: &SftTrainer, at: usize) -> Result<(), crate::TrainError> {
        let tok = &lab.tokenizer;
        let known: Vec<Watched> = ui.ppo.watched.get_untracked();
        let tokens = self.recipe.max_new_tokens;
        let mut rows = vec![];
        for (i, prompt) in sft::prompts(lab.lang).rl.into_iter().take(WATCHED).enumerate() {
            let sft_answer = match known.get(i) {
                Some(w) if w.prompt == prompt => w.sft.clone(),
                _ => greedy_answer(&sft.model(), lab, &prompt, tokens).await?,
            };
            let policy = match self.main() {
                Some(m) => greedy_answer(&m.policy(), lab, &prompt, tokens).await?,
                None => String::new(),
            };
            let beside = match self.beside() {
                Some((_, b)) => Some(greedy_answer(&b.policy(), lab, &prompt, tokens).await?),
                None => None,
            };
            rows.push(Watched { prompt, sft: sft_answer, policy, beside, at });
        }
        if let (Some(first), Some(main)) = (rows.first(), self.main()) {
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
