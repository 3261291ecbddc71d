//! The whole recipe unattended: pretrain → SFT → rank (the persona labels) →
//! reward model → PPO → evaluate, one event per step. The headless runner prints
//! the events as JSON lines; the whole-pipeline test asserts on the summary.
//!
//! Besides the run asked for, PPO runs twice more from the same SFT model and
//! reward model, with the same seed and steps: once with β = 0, no ptx and the
//! reward model's head alone (nothing holds the policy near SFT or near language —
//! reward hacking) and once with PPO-ptx toggled, so the alignment tax can be read
//! with and without it.

use crate::TrainError;
use crate::checkpoint::{self, ModelCard, Role, Store};
use crate::corpus::Lang;
use crate::evaluate::{Matchup, continuation_style, corpus_loss};
use crate::interval::Interval;
use crate::lab::Lab;
use crate::model::{Gpt, Preset};
use crate::overopt::{Detectors, Fit, Form, GoldProxy, detectors, fit};
use crate::persona::{Persona, Weights};
use crate::ppo::{PpoStats, PpoTrainer};
use crate::rank::Comparison;
use crate::reward::{RewardTrainer, demonstration_mean, pair_accuracy, pair_agreement};
use crate::sft::{self, SftTrainer};
use crate::stages::dpo::{DpoSettings, DpoStage};
use crate::stages::evaluate::{Baselines, CORPUS_WINDOWS, EvalSettings, PolicyEvaluation, evaluate_policy, probe, probe_prompts};
pub use crate::stages::ppo::PpoRecipe;
use crate::stages::ppo::{self as ppo_stage, build_run};
use crate::stages::pretrain::{self, Cadence};
use crate::stages::reward::{RewardSettings, RewardStage, rank_by_persona};
use crate::stages::sft::SftStage;
use burn::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Where a run starts. Every stage before it is read from a store (the runner's
/// `--load DIR --from STAGE`) instead of trained: the models of a run saved with
/// `--save DIR`, and from `reward` on its rankings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    #[default]
    Pretrain,
    Sft,
    Rank,
    Reward,
    Ppo,
}

impl Stage {
    pub fn parse(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "pretrain" => Some(Self::Pretrain),
            "sft" => Some(Self::Sft),
            "rank" => Some(Self::Rank),
            "reward" | "reward_model" => Some(Self::Reward),
            "ppo" => Some(Self::Ppo),
            _ => None,
        }
    }
}

/// The ranked prompts of a run, as its store keeps them (`rankings.json`): the
/// reward model's training set, its held-out fifth, and the evaluation prompts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rankings {
    pub train: Vec<Comparison>,
    pub held_out: Vec<Comparison>,
    pub unseen: Vec<Comparison>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PipelineConfig {
    pub preset: Preset,
    pub seed: u64,
    pub lang: Lang,
    pub pretrain_steps: usize,
    pub sft_steps: usize,
    /// Answers sampled per prompt for ranking (K, 4..=9).
    pub k: usize,
    /// Passes of the reward model over all ranked prompts, and its learning rate.
    pub rm_epochs: usize,
    pub rm_lr: f64,
    /// Starting α of the reward model's likelihood read-out (0 = the scalar head alone).
    pub rm_fluency: f32,
    /// Prompts per reward-model step.
    pub rm_batch: usize,
    pub ppo_steps: usize,
    /// KL weight β of the main PPO run.
    pub beta: f32,
    /// γ_ptx of the main PPO run (0 = plain PPO; default [`ppo_stage::GAMMA_PTX`]:
    /// plain PPO's held-out corpus loss rises 1.1–1.2 → 1.2–1.25 on `micro`, ptx
    /// keeps it at ~0.75; seed 1 wins 0.57 at γ 1, 0.61 at 0.3, docs/recipe.md).
    pub gamma_ptx: f32,
    pub ppo: PpoRecipe,
    /// Persona weights and noise used to rank.
    pub weights: Weights,
    pub noise: f32,
    /// Answers per held-out prompt and side in the evaluation, and SFT answers per
    /// prompt that best-of-n picks from (n ≤ the pool).
    pub eval_samples: usize,
    pub eval_pool: usize,
    /// Also run PPO with β = 0 and with ptx toggled (for the comparisons).
    pub compare: bool,
    /// Probe the main and the β = 0 run's gold and proxy score and KL every this
    /// many iterations (and before the first and after the last); 0 = never.
    pub overopt_every: usize,
    /// Also fit a policy to the same pairs by DPO and evaluate it beside PPO.
    pub dpo: Option<DpoSettings>,
    /// The first stage trained; those before it are read from the store.
    pub from: Stage,
}

impl PipelineConfig {
    pub fn for_preset(preset: Preset) -> Self {
        let (pretrain_steps, sft_steps, ppo_steps) = match preset {
            Preset::Micro => (3000, 200, 40),
            Preset::Small => (6000, 400, 100),
        };
        let rm = RewardSettings::default();
        Self {
            preset,
            seed: 1,
            lang: Lang::En,
            pretrain_steps,
            sft_steps,
            k: 9,
            rm_epochs: 2,
            rm_lr: rm.lr,
            rm_fluency: rm.fluency,
            rm_batch: rm.batch,
            ppo_steps,
            beta: ppo_stage::BETA,
            gamma_ptx: ppo_stage::GAMMA_PTX,
            ppo: PpoRecipe::for_preset(preset),
            weights: Weights::default(),
            noise: 0.0,
            eval_samples: 10,
            eval_pool: 32,
            compare: true,
            overopt_every: ppo_steps / 8,
            dpo: None,
            from: Stage::Pretrain,
        }
    }
}

/// What one PPO run ended with.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PpoOutcome {
    pub beta: f32,
    pub gamma_ptx: f32,
    /// `objective/scores` and `objective/kl`, mean over the first and last 10 iterations.
    pub first_score: f32,
    pub last_score: f32,
    pub first_kl: f32,
    pub last_kl: f32,
    /// How the final policy fared on the held-out prompts.
    #[serde(flatten)]
    pub eval: PolicyEvaluation,
    /// Its path away from SFT, probed every `overopt_every` iterations (iteration 0
    /// is SFT), and Gao et al.'s RL form fitted to the gold score along it.
    pub overopt: Vec<GoldProxy>,
    pub overopt_fit: Option<Fit>,
}

/// What the DPO policy ended with.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DpoOutcome {
    pub settings: DpoSettings,
    pub steps: usize,
    /// Loss and implicit-reward accuracy over the last pass's steps.
    pub last_loss: f32,
    pub last_accuracy: f32,
    #[serde(flatten)]
    pub eval: PolicyEvaluation,
    /// Its point on the over-optimisation chart (proxy: the reward model).
    pub overopt: GoldProxy,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub config: PipelineConfig,
    pub params: usize,
    /// Greedy continuations of the held-out prompts: (answers, questions).
    pub base_style: (usize, usize),
    pub sft_style: (usize, usize),
    pub rank_prompts: usize,
    pub rank_pairs: usize,
    pub held_out_pairs: usize,
    /// RM pair accuracy against the persona on the held-out fifth of the ranked
    /// prompts (never trained on), and on the evaluation prompts, whose facts no
    /// stage but pretraining saw.
    pub rm_held_out_accuracy: f32,
    /// The same with its 95 % interval, clustered by prompt.
    pub rm_held_out_interval: Interval,
    pub unseen_pairs: usize,
    pub rm_unseen_accuracy: f32,
    pub rm_train_accuracy: f32,
    /// The reward model's learned α (weight of its likelihood read-out).
    pub rm_fluency_weight: f32,
    /// Bias shift that made SFT demonstrations average 0, and their mean after it.
    pub rm_shift: f32,
    pub rm_demo_mean: f32,
    /// Held-out pretraining loss of the pretrained and of the SFT model.
    pub corpus_loss_pretrained: f32,
    pub corpus_loss_sft: f32,
    /// Held-out prompts: questions of fact, and sums (reported apart).
    pub eval_prompts: usize,
    pub eval_sum_prompts: usize,
    /// Ways of answering that need no RL, each against SFT sampled at temperature 1
    /// on the questions of fact: SFT greedy, SFT at temperature 0.7, best-of-4 and
    /// best-of-16 by the reward model.
    pub baselines: Vec<Matchup>,
    /// Best-of-n by the reward model for n = 1, 2, 4, … 32 (gold and proxy against
    /// √KL), Gao et al.'s best-of-n form fitted to it, and SFT's answers' detectors.
    pub best_of_n_curve: Vec<GoldProxy>,
    pub best_of_n_fit: Option<Fit>,
    pub sft_detectors: Detectors,
    pub ppo: PpoOutcome,
    pub ppo_beta0: Option<PpoOutcome>,
    pub ppo_ptx_toggled: Option<PpoOutcome>,
    pub dpo: Option<DpoOutcome>,
    pub seconds: f64,
}

fn tagged(stage: &str, value: impl Serialize) -> Value {
    let mut v = serde_json::to_value(value).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.insert("stage".into(), json!(stage));
    }
    v
}

fn mean(v: &[f32]) -> f32 {
    v.iter().sum::<f32>() / v.len().max(1) as f32
}

/// Ranks K sampled answers for each prompt with the persona, one event per prompt.
#[allow(clippy::too_many_arguments)]
async fn rank(
    policy: &Gpt,
    lab: &Lab,
    persona: &Persona,
    prompts: &[String],
    k: usize,
    rng: &mut StdRng,
    emit: &mut impl FnMut(Value),
    tag: &str,
) -> Result<Vec<Comparison>, TrainError> {
    rank_by_persona(policy, lab, persona, prompts, k, rng, |i, ranks, c| {
        emit(json!({"stage": tag, "step": i + 1, "prompt": c.prompt, "answers": c.answers, "ranks": ranks, "pairs": c.pairs.len()}))
    })
    .await
}

#[allow(clippy::too_many_arguments)]
async fn run_ppo(
    lab: &Lab,
    sft: &SftTrainer,
    rm: &RewardTrainer,
    persona: &Persona,
    base: &Baselines,
    ranked: &[Comparison],
    cfg: &PipelineConfig,
    beta: f32,
    gamma_ptx: f32,
    run: &str,
    emit: &mut impl FnMut(Value),
) -> Result<(PpoOutcome, PpoTrainer), TrainError> {
    let mut ppo = build_run(lab, sft, rm, ranked, &cfg.ppo, beta, gamma_ptx, cfg.seed + 3).await?;
    let (mut scores, mut kls) = (vec![], vec![]);
    let proxy = rm.model().proxy_for(beta);
    let (sft_model, settings) = (sft.model(), eval_settings(cfg));
    let probing = cfg.overopt_every > 0 && run != "ptx_toggled";
    let facts = probe_prompts(lab, persona, None);
    let mut overopt = vec![];
    for step in 0..=cfg.ppo_steps {
        if probing && (step % cfg.overopt_every == 0 || step == cfg.ppo_steps) {
            let (point, signs) = probe(run, step, &ppo.policy(), &sft_model, &proxy, persona, lab, &facts, settings.seed).await?;
            let mut v = tagged("overopt", &point);
            v["detectors"] = json!(signs);
            emit(v);
            overopt.push(point);
        }
        if step == cfg.ppo_steps {
            break;
        }
        let step = step + 1;
        let (stats, _) = ppo.step(&lab.tokenizer).await?;
        let mut v = json!({"stage": "ppo", "run": run, "step": step});
        for (k, x) in stats.iter().flat_map(PpoStats::named) {
            v[k] = json!(x);
        }
        // Nothing trained (no prompt left room to answer) counts as 0.
        let stats = stats.unwrap_or_default();
        scores.push(stats.scores);
        kls.push(stats.kl);
        emit(v);
    }
    let n = scores.len().min(10);
    let (eval, contestant) = evaluate_policy(run, &ppo.policy(), &sft_model, &rm.model(), &proxy, persona, base, lab, &settings).await?;
    let overopt_fit = overopt.first().and_then(|sft_point| fit(&overopt, sft_point.gold, Form::Rl));
    let outcome = PpoOutcome {
        beta,
        gamma_ptx,
        first_score: mean(&scores[..n]),
        last_score: mean(&scores[scores.len() - n..]),
        first_kl: mean(&kls[..n]),
        last_kl: mean(&kls[kls.len() - n..]),
        eval,
        overopt,
        overopt_fit,
    };
    // A few of the policy's answers beside SFT's, one prompt in five.
    let examples: Vec<Value> = contestant.prompts.iter().zip(&base.sft.prompts).step_by(5).map(|(c, s)| json!({"prompt": c.prompt, "sft": s.answers[0], "ppo": c.answers[0], "sft_persona": s.persona[0], "ppo_persona": c.persona[0]})).collect();
    let mut v = tagged("evaluate", &outcome);
    v["run"] = json!(run);
    v["examples"] = json!(examples);
    emit(v);
    Ok((outcome, ppo))
}

/// DPO on `ranked` from SFT, one event per step, then evaluated as PPO is.
#[allow(clippy::too_many_arguments)]
async fn run_dpo(
    lab: &Lab,
    sft: &SftTrainer,
    rm: &RewardTrainer,
    persona: &Persona,
    base: &Baselines,
    ranked: &[Comparison],
    cfg: &PipelineConfig,
    settings: &DpoSettings,
    emit: &mut impl FnMut(Value),
) -> Result<(DpoOutcome, Gpt), TrainError> {
    let mut stage = DpoStage::new(lab, sft, settings.clone(), StdRng::seed_from_u64(cfg.seed + 12));
    let (mut losses, mut accuracies) = (vec![], vec![]);
    while stage.passes() < settings.passes {
        let s = stage.step(lab, ranked).await?;
        if s.passes + 1 >= settings.passes {
            // the last pass
            losses.push(s.stats.loss);
            accuracies.push(s.stats.accuracy);
        }
        emit(tagged("dpo", &s));
    }
    let (policy, sft_model, es) = (stage.trainer.policy(), sft.model(), eval_settings(cfg));
    let (eval, _) = evaluate_policy("dpo", &policy, &sft_model, &rm.model(), &rm.model(), persona, base, lab, &es).await?;
    let facts = probe_prompts(lab, persona, None);
    let (overopt, _) = probe("dpo", stage.trainer.step_count(), &policy, &sft_model, &rm.model(), persona, lab, &facts, es.seed).await?;
    emit(tagged("overopt", &overopt));
    let outcome = DpoOutcome {
        settings: settings.clone(),
        steps: stage.trainer.step_count(),
        last_loss: mean(&losses),
        last_accuracy: mean(&accuracies),
        eval,
        overopt,
    };
    let mut v = tagged("evaluate", &outcome);
    v["run"] = json!("dpo");
    emit(v);
    Ok((outcome, policy))
}

fn eval_settings(cfg: &PipelineConfig) -> EvalSettings {
    EvalSettings { samples: cfg.eval_samples, pool: cfg.eval_pool, seed: cfg.seed }
}

/// Runs every stage on `device`, calling `emit` once per step; returns the summary
/// (also emitted last, tagged `"stage": "summary"`).
pub async fn run(cfg: PipelineConfig, device: &Device, emit: impl FnMut(Value)) -> Result<Summary, TrainError> {
    run_stored(cfg, device, None, emit).await
}

/// Like [`run`], also writing every model to `store` as it is trained (one folder
/// per model, see [`checkpoint::DirStore`]), the rankings and the preference and
/// demonstration JSONL; stages before `cfg.from` are read from it instead.
pub async fn run_stored(
    cfg: PipelineConfig,
    device: &Device,
    mut store: Option<&mut dyn Store>,
    mut emit: impl FnMut(Value),
) -> Result<Summary, TrainError> {
    let started = web_time::Instant::now();
    let mut lab = Lab::new(cfg.preset, cfg.seed, cfg.lang, device).map_err(TrainError::Backend)?;
    let prompts = sft::prompts(cfg.lang);
    let (marker_a, marker_q) = (cfg.lang.answer_marker(), cfg.lang.question_marker());
    let block = lab.pretrainer.cfg.block;
    let params = lab.pretrainer.model().num_params();
    let autodiff = device.clone().autodiff();
    if cfg.from > Stage::Pretrain && store.is_none() {
        return Err(TrainError::Checkpoint(format!("starting at {:?} needs the saved run to read the earlier stages from", cfg.from)));
    }
    let card = |role, steps| ModelCard::new(role, &lab.model_cfg, cfg.preset, cfg.lang, cfg.seed, steps);
    let read_gpt = |store: &Option<&mut dyn Store>, folder: &str, role: Role| {
        let store = store.as_deref().expect("checked above");
        checkpoint::read_gpt(store, folder, &[role], &lab.model_cfg, &lab.tokenizer, &autodiff)
    };

    // 1. Pretraining.
    if cfg.from > Stage::Pretrain {
        let (model, card) = read_gpt(&store, "pretrained", Role::Pretrained)?;
        lab.pretrainer.resume(model, card.steps);
        emit(json!({"stage": "pretrain", "loaded": "pretrained"}));
    } else {
        let mut rng = StdRng::seed_from_u64(cfg.seed + 10);
        for _ in 0..cfg.pretrain_steps {
            let s = pretrain::step(&mut lab.pretrainer, &lab.tokenizer, device, &Cadence::for_runner(), Some(cfg.pretrain_steps), &mut rng)
                .await?;
            emit(tagged("pretrain", &s));
        }
        if let Some(st) = store.as_deref_mut() {
            checkpoint::save_model(st, "pretrained", &lab.pretrainer.model(), &card(Role::Pretrained, cfg.pretrain_steps), &lab.tokenizer)
                .await?;
        }
    }
    let base = lab.pretrainer.model();
    let corpus_loss_pretrained = corpus_loss(&base, &lab.split.held_out, CORPUS_WINDOWS, block, device).await?;
    let base_style = continuation_style(&base, &lab.tokenizer, &prompts.eval, marker_a, marker_q, device).await?;

    // 2. SFT.
    let demos = sft::demonstrations(cfg.lang);
    let sft_stage = if cfg.from > Stage::Sft {
        let (model, card) = read_gpt(&store, "sft", Role::Sft)?;
        emit(json!({"stage": "sft", "loaded": "sft"}));
        SftStage::resumed(&lab, &demos, model, card.steps)
    } else {
        let mut stage = SftStage::new(&lab, &demos);
        for _ in 0..cfg.sft_steps {
            emit(tagged("sft", stage.step().await?));
        }
        if let Some(st) = store.as_deref_mut() {
            checkpoint::save_model(st, "sft", &stage.trainer.model(), &card(Role::Sft, cfg.sft_steps), &lab.tokenizer).await?;
            st.put("demonstrations.jsonl", crate::session::demonstrations_jsonl(&demos).as_bytes())?;
        }
        stage
    };
    // The first held-out questions answered by the base and the SFT model, as the page shows them.
    let watched = sft_stage.watch(&lab, &prompts.eval[..3.min(prompts.eval.len())], &mut StdRng::seed_from_u64(cfg.seed + 9)).await?;
    emit(json!({"stage": "sft_watch", "watched": watched}));
    let sft = &sft_stage.trainer;
    let sft_model = sft.model();
    let sft_style = continuation_style(&sft_model, &lab.tokenizer, &prompts.eval, marker_a, marker_q, device).await?;
    let corpus_loss_sft = corpus_loss(&sft_model, &lab.split.held_out, CORPUS_WINDOWS, block, device).await?;

    // 3. Ranking: K answers per RL prompt from the SFT model, ranked by the persona.
    //    A fifth of the ranked prompts is held out to validate the reward model
    //    (InstructGPT's split); the evaluation prompts — facts no stage trained
    //    on — are ranked too, for a harder, separate accuracy.
    let persona = Persona::new(cfg.lang, cfg.weights, cfg.noise);
    let mut rng = StdRng::seed_from_u64(cfg.seed + 2);
    let rankings = if cfg.from > Stage::Rank {
        let bytes = store.as_deref().expect("checked above").get("rankings.json")?;
        let r: Rankings =
            serde_json::from_slice(&bytes).map_err(|e| TrainError::Checkpoint(format!("rankings.json is unreadable: {e}")))?;
        emit(json!({"stage": "rank", "loaded": "rankings.json", "prompts": r.train.len() + r.held_out.len()}));
        r
    } else {
        let mut ranked = rank(&sft_model, &lab, &persona, &prompts.rl, cfg.k, &mut rng, &mut emit, "rank").await?;
        rand::seq::SliceRandom::shuffle(ranked.as_mut_slice(), &mut rng);
        let held_out = ranked.split_off(ranked.len() - ranked.len() / 5);
        let unseen = rank(&sft_model, &lab, &persona, &prompts.eval, cfg.k, &mut rng, &mut emit, "rank_unseen").await?;
        let r = Rankings { train: ranked, held_out, unseen };
        if let Some(st) = store.as_deref_mut() {
            st.put("rankings.json", serde_json::to_string(&r).expect("rankings serialise").as_bytes())?;
            st.put("preferences.jsonl", crate::session::preferences_jsonl(&r.train).as_bytes())?;
            st.put("preferences_held_out.jsonl", crate::session::preferences_jsonl(&r.held_out).as_bytes())?;
        }
        r
    };
    let Rankings { train, held_out, unseen } = rankings;

    // 4. Reward model: `rm_batch` prompts (each with all its pairs) per step, in
    //    shuffled passes; its order continues the ranking's random stream.
    let rm_settings = RewardSettings { lr: cfg.rm_lr, batch: cfg.rm_batch, fluency: cfg.rm_fluency, ..RewardSettings::default() };
    let (reward_stage, rm_shift) = if cfg.from > Stage::Reward {
        let store = store.as_deref().expect("checked above");
        let (model, card) =
            checkpoint::read_reward_model(store, "reward_model", &[Role::RewardModel], &lab.model_cfg, &lab.tokenizer, &autodiff)?;
        emit(json!({"stage": "reward", "loaded": "reward_model"}));
        // Its bias shift happened in the run that trained it; this one adds none.
        (RewardStage::resumed(&lab, model, card.steps, rm_settings, rng), 0.0)
    } else {
        let mut rm = RewardStage::new(&lab, sft, rm_settings, rng);
        while rm.passes() < cfg.rm_epochs {
            let s = rm.step(&lab, &train).await?;
            emit(tagged("reward", &s.stats));
            if s.pass_done {
                let acc = pair_accuracy(&rm.trainer.model(), &lab.tokenizer, &held_out, device).await?;
                let unseen_acc = pair_accuracy(&rm.trainer.model(), &lab.tokenizer, &unseen, device).await?;
                emit(json!({"stage": "reward_eval", "epoch": s.passes, "held_out_accuracy": acc, "unseen_facts_accuracy": unseen_acc}));
            }
        }
        let shift = rm.normalize(&lab, &demos).await?;
        if let Some(st) = store.as_deref_mut() {
            let steps = rm.trainer.step_count();
            checkpoint::save_model(st, "reward_model", &rm.trainer.model(), &card(Role::RewardModel, steps), &lab.tokenizer).await?;
        }
        (rm, shift)
    };
    let rm = &reward_stage.trainer;
    let rm_demo_mean = demonstration_mean(&rm.model(), &lab.tokenizer, &demos, device).await?;
    let rm_held_out_interval = pair_agreement(&rm.model(), &lab.tokenizer, &held_out, device).await?;
    let rm_held_out_accuracy = rm_held_out_interval.mean_or(0.5);
    let rm_unseen_accuracy = pair_accuracy(&rm.model(), &lab.tokenizer, &unseen, device).await?;
    let rm_train_accuracy = pair_accuracy(&rm.model(), &lab.tokenizer, &train, device).await?;
    let rm_fluency_weight = rm.model().fluency_weight().await?;
    // The held-out rankings beside the RM's scores: where it disagrees with the persona.
    for c in &held_out {
        let r = crate::reward::score(&rm.model(), &lab.tokenizer, &c.prompt, &c.answers, device).await?;
        emit(json!({"stage": "reward_held_out", "prompt": c.prompt, "answers": c.answers, "scores": r, "pairs": c.pairs}));
    }
    emit(
        json!({"stage": "reward_eval", "shift": rm_shift, "held_out_accuracy": rm_held_out_accuracy, "held_out_interval": rm_held_out_interval, "unseen_facts_accuracy": rm_unseen_accuracy, "train_accuracy": rm_train_accuracy, "fluency_weight": rm_fluency_weight}),
    );

    // The evaluation's fixed side: SFT and the baselines that need no RL.
    let base = Baselines::judge(&sft_model, &rm.model(), &persona, &lab, &eval_settings(&cfg)).await?;
    let eval_sum_prompts = prompts.eval.iter().filter(|p| persona.asks_sum(p)).count();
    let baseline_results = base.matchups(&persona);
    for m in &baseline_results {
        emit(tagged("baseline", m));
    }
    let best_of_n_curve = base.best_of_n_curve(&persona);
    let best_of_n_fit = best_of_n_curve.first().and_then(|sft_point| fit(&best_of_n_curve, sft_point.gold, Form::BestOfN));
    for p in &best_of_n_curve {
        emit(tagged("overopt", p));
    }
    let sft_detectors = detectors(&base.sft, |p| !persona.asks_sum(p));

    // 5–6. PPO and its evaluation; then the comparison runs.
    //      The policies are saved as `policy`, `policy_beta0`, `policy_ptx_toggled`.
    let ppo_steps = cfg.ppo_steps * cfg.ppo.epochs * cfg.ppo.rollout.div_ceil(cfg.ppo.minibatch);
    let (ppo, trained) = run_ppo(&lab, sft, rm, &persona, &base, &train, &cfg, cfg.beta, cfg.gamma_ptx, "main", &mut emit).await?;
    if let Some(st) = store.as_deref_mut() {
        checkpoint::save_model(st, "policy", &trained.policy(), &card(Role::Policy, ppo_steps), &lab.tokenizer).await?;
        checkpoint::save_model(st, "value", &trained.value(), &card(Role::Value, ppo_steps), &lab.tokenizer).await?;
    }
    let (mut ppo_beta0, mut ppo_ptx_toggled) = (None, None);
    if cfg.compare {
        let toggled = if cfg.gamma_ptx > 0.0 { 0.0 } else { 1.0 };
        for (beta, gamma, run) in [(0.0, 0.0, "beta0"), (cfg.beta, toggled, "ptx_toggled")] {
            let (outcome, trained) = run_ppo(&lab, sft, rm, &persona, &base, &train, &cfg, beta, gamma, run, &mut emit).await?;
            if let Some(st) = store.as_deref_mut() {
                let folder = format!("policy_{run}");
                checkpoint::save_model(st, &folder, &trained.policy(), &card(Role::Policy, ppo_steps), &lab.tokenizer).await?;
            }
            *(if run == "beta0" { &mut ppo_beta0 } else { &mut ppo_ptx_toggled }) = Some(outcome);
        }
    }
    let dpo = match cfg.dpo.clone() {
        Some(settings) => {
            let (outcome, policy) = run_dpo(&lab, sft, rm, &persona, &base, &train, &cfg, &settings, &mut emit).await?;
            if let Some(st) = store {
                let steps = outcome.steps;
                checkpoint::save_model(st, "policy_dpo", &policy, &card(Role::Policy, steps), &lab.tokenizer).await?;
            }
            Some(outcome)
        }
        None => None,
    };
    let summary = Summary {
        config: cfg,
        params,
        base_style,
        sft_style,
        rank_prompts: train.len(),
        rank_pairs: train.iter().map(|c| c.pairs.len()).sum(),
        held_out_pairs: held_out.iter().map(|c| c.pairs.len()).sum(),
        rm_held_out_accuracy,
        rm_held_out_interval,
        unseen_pairs: unseen.iter().map(|c| c.pairs.len()).sum(),
        rm_unseen_accuracy,
        rm_train_accuracy,
        rm_fluency_weight,
        rm_shift,
        rm_demo_mean,
        corpus_loss_pretrained,
        corpus_loss_sft,
        eval_prompts: prompts.eval.len() - eval_sum_prompts,
        eval_sum_prompts,
        baselines: baseline_results,
        best_of_n_curve,
        best_of_n_fit,
        sft_detectors,
        ppo,
        ppo_beta0,
        ppo_ptx_toggled,
        dpo,
        seconds: started.elapsed().as_secs_f64(),
    };
    emit(tagged("summary", &summary));
    Ok(summary)
}
