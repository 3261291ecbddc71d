//! Stage 6's driver for the recipe's evaluation: on held-out prompts (facts no
//! stage but pretraining saw; sums apart), SFT and the ways of answering that need
//! no RL (greedy, a cooler temperature, best-of-n by the reward model) are judged
//! once; then each policy is judged against them by the persona and the reward
//! model, with 95 % intervals clustered by prompt, its exact KL to SFT and its
//! held-out corpus loss. The runner and the tests evaluate here.

use crate::TrainError;
use crate::evaluate::{Contestant, Matchup, answers, best_of_n, corpus_loss, exact_kl, judge, matchup};
use crate::interval::Interval;
use crate::lab::Lab;
use crate::model::Gpt;
use crate::overopt::{self, Detectors, GoldProxy};
use crate::persona::Persona;
use crate::reward::RewardModel;
use crate::sample::SampleConfig;
use crate::sft;
use serde::{Deserialize, Serialize};

/// Windows of held-out text the corpus loss (alignment tax) averages over.
pub const CORPUS_WINDOWS: usize = 32;

/// How every contestant samples: temperature 1, no top-k — the policy's own
/// distribution, the one PPO trained.
pub fn sampling() -> SampleConfig {
    SampleConfig { temperature: 1.0, top_k: 0, max_new_tokens: 40 }
}

/// How much the evaluation samples, and the seed its streams derive from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EvalSettings {
    /// Answers per held-out prompt and side.
    pub samples: usize,
    /// SFT answers per prompt that best-of-n picks from (n ≤ the pool).
    pub pool: usize,
    pub seed: u64,
}

impl EvalSettings {
    // Each contestant samples from its own stream: the all-pairings win rate
    // assumes the two sides are drawn independently.
    fn sft_seed(&self) -> u64 {
        self.seed + 4
    }
    fn policy_seed(&self) -> u64 {
        self.seed + 8
    }
}

/// The evaluation's fixed side, judged once for every policy: SFT sampled, and
/// the baselines that use no RL.
pub struct Baselines {
    pub sft: Contestant,
    /// SFT greedy, SFT at temperature 0.7, best-of-4 and best-of-16.
    pub others: Vec<Contestant>,
    /// The SFT answers best-of-n picks from.
    pub pool: Contestant,
}

impl Baselines {
    pub async fn judge(sft: &Gpt, reward_model: &RewardModel, persona: &Persona, lab: &Lab, s: &EvalSettings) -> Result<Self, TrainError> {
        let (tok, d, prompts) = (&lab.tokenizer, &lab.device, &sft::prompts(lab.lang).eval);
        let t1 = sampling();
        let sampled = |name: &'static str, n: usize, cfg: SampleConfig, seed: u64| async move {
            let a = answers(sft, tok, prompts, n, &cfg, seed, d).await?;
            judge(name, prompts, a, persona, reward_model, tok, seed, d).await
        };
        let sft_c = sampled("sft", s.samples, t1, s.sft_seed()).await?;
        let greedy = sampled("sft_greedy", 1, SampleConfig { temperature: 0.0, ..t1 }, s.seed + 5).await?;
        let cool = sampled("sft_t0.7", s.samples, SampleConfig { temperature: 0.7, ..t1 }, s.seed + 6).await?;
        let pool = sampled("sft_pool", s.pool.max(1), t1, s.seed + 7).await?;
        Ok(Self { sft: sft_c, others: vec![greedy, cool, best_of_n(&pool, 4), best_of_n(&pool, 16)], pool })
    }

    /// Best-of-n by the reward model for n = 1, 2, 4, … up to the pool, on the
    /// questions of fact: the over-optimisation chart's best-of-n points.
    pub fn best_of_n_curve(&self, persona: &Persona) -> Vec<GoldProxy> {
        overopt::best_of_n_curve(&self.pool, &doublings(pool_size(&self.pool)), |p| !persona.asks_sum(p))
    }

    /// Each baseline against SFT on the questions of fact.
    pub fn matchups(&self, persona: &Persona) -> Vec<Matchup> {
        self.others.iter().map(|c| matchup(c, &self.sft, |p| !persona.asks_sum(p))).collect()
    }

    fn best_of_4(&self) -> &Contestant {
        self.others.iter().find(|c| c.name == "best_of_4").expect("best-of-4 is a baseline")
    }
}

/// How one policy fared on the held-out prompts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyEvaluation {
    /// Held-out pretraining loss of the policy.
    pub corpus_loss: f32,
    /// Exact KL(policy ‖ SFT) per answer on the held-out prompts (nats).
    pub kl_exact: f32,
    /// Against SFT on the held-out questions of fact, and on the sums apart.
    pub vs_sft: Matchup,
    pub vs_sft_sums: Matchup,
    /// Against best-of-4 by the same reward model, questions of fact.
    pub vs_best_of_4: Matchup,
    /// Whether the reward it optimised included the RM's likelihood read-out.
    pub likelihood_in_reward: bool,
    /// Win rate against SFT on the questions of fact by the reward this policy
    /// optimised (its proxy): the RM, or the RM's head alone.
    pub vs_sft_by_proxy: Interval,
    /// The signs of reward hacking in its answers to the questions of fact.
    pub detectors: Detectors,
}

/// Judges `policy` (named `name`) against the baselines. `proxy` is the reward it
/// optimised, without autodiff: the reward model itself, or its head alone.
#[allow(clippy::too_many_arguments)]
pub async fn evaluate_policy(
    name: &str,
    policy: &Gpt,
    sft: &Gpt,
    reward_model: &RewardModel,
    proxy: &RewardModel,
    persona: &Persona,
    base: &Baselines,
    lab: &Lab,
    s: &EvalSettings,
) -> Result<(PolicyEvaluation, Contestant), TrainError> {
    let (tok, d, prompts) = (&lab.tokenizer, &lab.device, &sft::prompts(lab.lang).eval);
    let texts = answers(policy, tok, prompts, s.samples, &sampling(), s.policy_seed(), d).await?;
    let kl_exact = exact_kl(policy, sft, tok, prompts, &texts, d).await?;
    let facts = |p: &str| !persona.asks_sum(p);
    let likelihood_in_reward = proxy.fluency_weight().await? != 0.0;
    let by_proxy = if likelihood_in_reward {
        None
    } else {
        let by_proxy = judge(name, prompts, texts.clone(), persona, proxy, tok, s.policy_seed(), d).await?;
        let sft_texts = base.sft.prompts.iter().map(|j| j.answers.clone()).collect();
        let sft_by_proxy = judge("sft", prompts, sft_texts, persona, proxy, tok, s.sft_seed(), d).await?;
        Some(matchup(&by_proxy, &sft_by_proxy, facts).rm)
    };
    let mut contestant = judge(name, prompts, texts, persona, reward_model, tok, s.policy_seed(), d).await?;
    contestant.kl = Some(kl_exact);
    let corpus_loss = corpus_loss(policy, &lab.split.held_out, CORPUS_WINDOWS, lab.pretrainer.cfg.block, d).await?;
    let vs_sft = matchup(&contestant, &base.sft, facts);
    let evaluation = PolicyEvaluation {
        detectors: overopt::detectors(&contestant, facts),
        corpus_loss,
        kl_exact,
        vs_sft_by_proxy: by_proxy.unwrap_or(vs_sft.rm),
        vs_sft,
        vs_sft_sums: matchup(&contestant, &base.sft, |p| persona.asks_sum(p)),
        vs_best_of_4: matchup(&contestant, base.best_of_4(), facts),
        likelihood_in_reward,
    };
    Ok((evaluation, contestant))
}

/// Answers per held-out question of fact at each over-optimisation probe.
pub const PROBE_SAMPLES: usize = 4;

/// The held-out questions of fact the over-optimisation probes ask: the first
/// `limit` of them (all with `None`).
pub fn probe_prompts(lab: &Lab, persona: &Persona, limit: Option<usize>) -> Vec<String> {
    let facts = sft::prompts(lab.lang).eval.into_iter().filter(|p| !persona.asks_sum(p));
    facts.take(limit.unwrap_or(usize::MAX)).collect()
}

/// One point of a policy's path away from SFT (`run` at `iteration`): its answers
/// to `prompts` (held-out questions of fact), their exact KL to SFT, and their mean
/// score by `proxy` (the reward the run optimised) and by the persona (gold). Every
/// probe samples with the same seed, so two points of a run differ by the policy
/// alone.
#[allow(clippy::too_many_arguments)]
pub async fn probe(
    run: &str,
    iteration: usize,
    policy: &Gpt,
    sft: &Gpt,
    proxy: &RewardModel,
    persona: &Persona,
    lab: &Lab,
    prompts: &[String],
    seed: u64,
) -> Result<(GoldProxy, Detectors), TrainError> {
    let (tok, d) = (&lab.tokenizer, &lab.device);
    let texts = answers(policy, tok, prompts, PROBE_SAMPLES, &sampling(), seed + 11, d).await?;
    let kl = exact_kl(policy, sft, tok, prompts, &texts, d).await?;
    let mut c = judge(run, prompts, texts, persona, proxy, tok, seed + 11, d).await?;
    c.kl = Some(kl);
    Ok((overopt::point(run, iteration, &c, |_| true), overopt::detectors(&c, |_| true)))
}

/// Best-of-n by `reward_model` from `pool` SFT answers to each of `prompts`, for
/// n = 1, 2, 4, … up to the pool: the over-optimisation chart's best-of-n points.
#[allow(clippy::too_many_arguments)]
pub async fn best_of_n_points(
    sft: &Gpt,
    reward_model: &RewardModel,
    persona: &Persona,
    lab: &Lab,
    prompts: &[String],
    pool: usize,
    seed: u64,
) -> Result<Vec<GoldProxy>, TrainError> {
    let (tok, d) = (&lab.tokenizer, &lab.device);
    let texts = answers(sft, tok, prompts, pool.max(1), &sampling(), seed + 7, d).await?;
    let pool = judge("sft_pool", prompts, texts, persona, reward_model, tok, seed + 7, d).await?;
    Ok(overopt::best_of_n_curve(&pool, &doublings(pool_size(&pool)), |_| true))
}

fn pool_size(pool: &Contestant) -> usize {
    pool.prompts.first().map_or(1, |j| j.answers.len())
}

/// 1, 2, 4, … up to `n`.
fn doublings(n: usize) -> Vec<usize> {
    (0..).map(|i| 1usize << i).take_while(|&k| k <= n.max(1)).collect()
}
