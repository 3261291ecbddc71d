//! Evaluation (InstructGPT §4): on prompts no stage trained on, answers of the PPO
//! policy against answers of the SFT model, judged blind by the persona and by the
//! reward model (win rate; ties count half, so 0.5 means "no better"); and the
//! "alignment tax": the pretraining loss on held-out corpus before and after RLHF.

use crate::TrainError;
use crate::data::Batch;
use crate::interval::{Interval, clustered_mean};
use crate::model::Gpt;
use crate::persona::Persona;
use crate::pretrain::held_out_loss;
use crate::reward::{RewardModel, encode_answers, score};
use crate::sample::{SampleConfig, answer_texts, generate, generate_many, leaves_room};
use crate::tokenizer::Tokenizer;
use burn::prelude::*;
use burn::tensor::activation::log_softmax;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

/// One blind match: the same prompt answered by both models.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Duel {
    pub prompt: String,
    pub sft: String,
    pub ppo: String,
    pub sft_score: f32,
    pub ppo_score: f32,
    /// Persona's verdict for PPO: 1 win, 0.5 tie, 0 loss.
    pub persona: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    pub duels: Vec<Duel>,
    /// PPO's win rate against SFT by the persona (ties half).
    pub persona_win_rate: f32,
    pub wins: usize,
    pub ties: usize,
    pub losses: usize,
    /// PPO's win rate by the reward model's scores (ties half).
    pub rm_win_rate: f32,
    /// Mean reward-model score of each side's answers.
    pub sft_score: f32,
    pub ppo_score: f32,
}

/// Win (1), tie (0.5) or loss (0) of `a` against `b`.
pub fn verdict(a: f32, b: f32) -> f32 {
    if a > b {
        1.0
    } else if a == b {
        0.5
    } else {
        0.0
    }
}

/// One blind match as a person judges it: the two answers shown as A and B, which
/// side is the PPO policy's decided by a coin, hidden until the verdict.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Blind {
    pub prompt: String,
    pub a: String,
    pub b: String,
    pub ppo_is_a: bool,
}

/// A judge's answer to "which is better?".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Judgement {
    A,
    B,
    Tie,
}

impl Blind {
    /// Shuffles sides: the judge must not learn that PPO is always on the left.
    pub fn new(prompt: &str, sft: &str, ppo: &str, rng: &mut impl rand::Rng) -> Self {
        let ppo_is_a = rng.random_bool(0.5);
        let (a, b) = if ppo_is_a { (ppo, sft) } else { (sft, ppo) };
        Self { prompt: prompt.to_string(), a: a.to_string(), b: b.to_string(), ppo_is_a }
    }

    /// The judgement as PPO's result: 1 win, 0.5 tie, 0 loss.
    pub fn ppo_verdict(&self, j: Judgement) -> f32 {
        match (j, self.ppo_is_a) {
            (Judgement::Tie, _) => 0.5,
            (Judgement::A, true) | (Judgement::B, false) => 1.0,
            _ => 0.0,
        }
    }
}

/// A win rate with its counts and 95 % interval (each verdict an independent
/// duel): ties count half, so 0.5 means "no better".
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct WinRate {
    pub rate: f32,
    pub wins: usize,
    pub ties: usize,
    pub losses: usize,
    pub low: f32,
    pub high: f32,
}

impl WinRate {
    /// The interval holds 0.5: these duels cannot tell the two models apart.
    pub fn within_noise(&self) -> bool {
        self.low <= 0.5 && 0.5 <= self.high
    }
}

pub fn win_rate(verdicts: impl IntoIterator<Item = f32>) -> WinRate {
    let (mut wins, mut ties, mut losses) = (0, 0, 0);
    for v in verdicts {
        match v {
            v if v > 0.5 => wins += 1,
            v if v < 0.5 => losses += 1,
            _ => ties += 1,
        }
    }
    let n = wins + ties + losses;
    let rate = if n == 0 { 0.5 } else { (wins as f32 + 0.5 * ties as f32) / n as f32 };
    let each = |v: f32, k: usize| std::iter::repeat_n(vec![v], k);
    let i = clustered_mean(&each(1.0, wins).chain(each(0.5, ties)).chain(each(0.0, losses)).collect::<Vec<_>>(), (0.0, 1.0));
    WinRate { rate, wins, ties, losses, low: i.low, high: i.high }
}

/// `n` answers per prompt from `model`, sampled with a fixed seed (so SFT and PPO
/// are sampled the same way), end-of-text removed. All prompts are sampled together
/// ([`generate_many`]), each from its own stream seeded from `seed`, so a prompt's
/// answers do not depend on the others.
pub async fn answers(
    model: &Gpt,
    tok: &Tokenizer,
    prompts: &[String],
    n: usize,
    cfg: &SampleConfig,
    seed: u64,
    device: &Device,
) -> Result<Vec<Vec<String>>, TrainError> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut rngs: Vec<StdRng> = prompts.iter().map(|_| StdRng::seed_from_u64(rng.random())).collect();
    let ids: Vec<Vec<u32>> = prompts.iter().map(|p| tok.encode(p)).collect();
    let together = generate_many(model, tok.eot(), &ids, n, cfg, Some(tok.eot()), &mut rngs, device).await?;
    let mut out: Vec<Vec<String>> = together.iter().map(|group| group.iter().map(|a| tok.decode_answer(a)).collect()).collect();
    for (i, p) in ids.iter().enumerate() {
        // A prompt that leaves no room gets answer_texts's answers instead.
        if !leaves_room(p, model.block_size()) {
            out[i] = answer_texts(model, tok, &prompts[i], n, cfg, &mut rngs[i], device).await?;
        }
    }
    Ok(out)
}

/// PPO (`policy`) against SFT on `prompts`, `n` answers each.
#[allow(clippy::too_many_arguments)]
pub async fn compare(
    sft: &Gpt,
    policy: &Gpt,
    reward_model: &RewardModel,
    persona: &Persona,
    tok: &Tokenizer,
    prompts: &[String],
    n: usize,
    seed: u64,
    device: &Device,
) -> Result<Evaluation, TrainError> {
    // Temperature 1, no top-k: the policy's own distribution, the one PPO trained.
    let cfg = SampleConfig { temperature: 1.0, top_k: 0, max_new_tokens: 40 };
    let (a_sft, a_ppo) =
        (answers(sft, tok, prompts, n, &cfg, seed, device).await?, answers(policy, tok, prompts, n, &cfg, seed, device).await?);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut duels = vec![];
    for (p, (s, q)) in prompts.iter().zip(a_sft.iter().zip(&a_ppo)) {
        let (rs, rq) = (score(reward_model, tok, p, s, device).await?, score(reward_model, tok, p, q, device).await?);
        for i in 0..n {
            let persona_verdict = verdict(persona.score(p, &q[i], &mut rng).total, persona.score(p, &s[i], &mut rng).total);
            duels.push(Duel {
                prompt: p.clone(),
                sft: s[i].clone(),
                ppo: q[i].clone(),
                sft_score: rs[i],
                ppo_score: rq[i],
                persona: persona_verdict,
            });
        }
    }
    let count = duels.len().max(1) as f32;
    let mean = |f: &dyn Fn(&Duel) -> f32| duels.iter().map(f).sum::<f32>() / count;
    let persona = win_rate(duels.iter().map(|d| d.persona));
    Ok(Evaluation {
        persona_win_rate: persona.rate,
        wins: persona.wins,
        ties: persona.ties,
        losses: persona.losses,
        rm_win_rate: win_rate(duels.iter().map(|d| verdict(d.ppo_score, d.sft_score))).rate,
        sft_score: mean(&|d| d.sft_score),
        ppo_score: mean(&|d| d.ppo_score),
        duels,
    })
}

/// Mean next-token loss on held-out corpus windows: the alignment tax is how much
/// this rises from the pretrained model to the RLHF policy.
pub async fn corpus_loss(model: &Gpt, held_out: &[u32], windows: usize, block: usize, device: &Device) -> Result<f32, TrainError> {
    held_out_loss(model, &Batch::evenly_spaced(held_out, windows, block), device).await
}

/// How a model continues prompts, greedily: how many continuations start with the
/// answer marker and how many with another question — the base model asks, the
/// SFT model answers.
pub async fn continuation_style(
    model: &Gpt,
    tok: &Tokenizer,
    prompts: &[String],
    answer_marker: &str,
    question_marker: &str,
    device: &Device,
) -> Result<(usize, usize), TrainError> {
    let cfg = SampleConfig { temperature: 0.0, top_k: 0, max_new_tokens: 4 };
    let mut rng = StdRng::seed_from_u64(0);
    let (mut answers, mut questions) = (0, 0);
    for p in prompts {
        let out = generate(model, tok.eot(), &tok.encode(p), &cfg, Some(tok.eot()), &mut rng, device).await?;
        let text = tok.decode(&out);
        answers += text.trim_start().starts_with(answer_marker) as usize;
        questions += text.trim_start().starts_with(question_marker) as usize;
    }
    Ok((answers, questions))
}

/// One contestant's answers to one prompt, judged by the persona and the reward
/// model, each with its weight in the contestant's answer distribution: equal for
/// plain samples, best-of-n's order-statistic weights for a pool (see [`best_of_n`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Judged {
    pub prompt: String,
    pub answers: Vec<String>,
    pub persona: Vec<f32>,
    pub rm: Vec<f32>,
    pub weights: Vec<f32>,
}

/// A way of answering the held-out prompts (SFT sampled or greedy, best-of-n by the
/// reward model, a PPO policy), judged on every prompt.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Contestant {
    pub name: String,
    /// KL(contestant ‖ SFT) per answer in nats: exact over the vocabulary for a
    /// policy, log n − (n−1)/n for best-of-n; None where not measured.
    pub kl: Option<f32>,
    pub prompts: Vec<Judged>,
}

/// Scores `answers` (one list per prompt) by the persona and the reward model.
#[allow(clippy::too_many_arguments)]
pub async fn judge(
    name: &str,
    prompts: &[String],
    answers: Vec<Vec<String>>,
    persona: &Persona,
    reward_model: &RewardModel,
    tok: &Tokenizer,
    seed: u64,
    device: &Device,
) -> Result<Contestant, TrainError> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(prompts.len());
    for (p, a) in prompts.iter().zip(answers) {
        let rm = score(reward_model, tok, p, &a, device).await?;
        let persona = a.iter().map(|x| persona.score(p, x, &mut rng).total).collect();
        let weights = vec![1.0 / a.len().max(1) as f32; a.len()];
        out.push(Judged { prompt: p.clone(), answers: a, persona, rm, weights });
    }
    Ok(Contestant { name: name.into(), kl: None, prompts: out })
}

/// Best-of-n by the reward model, from a pool of N ≥ n samples per prompt, without
/// drawing subsets: the pool's answer of RM rank r (ascending, 1-based) is the best
/// of a random n-subset with probability C(r−1, n−1) / C(N, n) — the unbiased
/// estimator Gao et al. (2022) use. Its KL to the sampler is at most log n − (n−1)/n.
pub fn best_of_n(pool: &Contestant, n: usize) -> Contestant {
    let choose = |a: usize, b: usize| -> f64 { if b > a { 0.0 } else { (0..b).fold(1.0, |acc, i| acc * (a - i) as f64 / (b - i) as f64) } };
    let prompts = pool
        .prompts
        .iter()
        .map(|j| {
            let big = j.answers.len();
            let n = n.clamp(1, big.max(1));
            let mut order: Vec<usize> = (0..big).collect();
            order.sort_by(|&a, &b| j.rm[a].total_cmp(&j.rm[b]));
            let mut weights = vec![0.0f32; big];
            for (r, &i) in order.iter().enumerate() {
                weights[i] = (choose(r, n - 1) / choose(big, n)) as f32;
            }
            Judged { weights, ..j.clone() }
        })
        .collect();
    let nf = n as f32;
    Contestant { name: format!("best_of_{n}"), kl: Some(nf.ln() - (nf - 1.0) / nf), prompts }
}

/// `contestant` against `against` on the held-out prompts `keep` accepts, by the
/// persona (the gold judge) and by the reward model. Each prompt's result is the
/// expectation over all pairings of the two sides' answers (a U-statistic: the
/// chance that a random answer of one beats a random answer of the other, ties
/// half), and the intervals treat prompts as the independent units.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Matchup {
    pub contestant: String,
    pub against: String,
    pub prompts: usize,
    /// Answers a side, Σ over prompts of the smaller side's count.
    pub duels: usize,
    /// Expected wins, ties and losses of those duels by the persona.
    pub wins: f32,
    pub ties: f32,
    pub losses: f32,
    /// Win rate by the persona, ties half, with its 95 % interval.
    pub persona: Interval,
    /// Win rate by the reward model's scores.
    pub rm: Interval,
    /// Mean persona score of the contestant's answers minus the other side's.
    pub score_diff: Interval,
    pub persona_score: f32,
    pub against_persona_score: f32,
    pub rm_score: f32,
    pub against_rm_score: f32,
    pub kl: Option<f32>,
}

impl Matchup {
    /// "0.58 ± 0.05 (420 duels, 42 prompts)".
    pub fn describe(&self) -> String {
        format!("{:.2} ± {:.2} ({} duels, {} prompts)", self.persona.mean, self.persona.half_width(), self.duels, self.prompts)
    }
}

pub fn matchup(contestant: &Contestant, against: &Contestant, keep: impl Fn(&str) -> bool) -> Matchup {
    let (mut persona, mut rm, mut diff) = (vec![], vec![], vec![]);
    let (mut wins, mut ties, mut losses, mut duels) = (0.0f32, 0.0f32, 0.0f32, 0usize);
    let (mut ps, mut aps, mut rs, mut ars) = (0.0f32, 0.0f32, 0.0f32, 0.0f32);
    for (a, b) in contestant.prompts.iter().zip(&against.prompts).filter(|(a, _)| keep(&a.prompt)) {
        assert_eq!(a.prompt, b.prompt, "contestants must answer the same prompts in the same order");
        let (mut w, mut t, mut rw) = (0.0f32, 0.0f32, 0.0f32);
        for i in 0..a.answers.len() {
            for j in 0..b.answers.len() {
                let p = a.weights[i] * b.weights[j];
                match a.persona[i].total_cmp(&b.persona[j]) {
                    std::cmp::Ordering::Greater => w += p,
                    std::cmp::Ordering::Equal => t += p,
                    std::cmp::Ordering::Less => {}
                }
                rw += p * verdict(a.rm[i], b.rm[j]);
            }
        }
        let mean = |j: &Judged, f: &[f32]| j.weights.iter().zip(f).map(|(w, x)| w * x).sum::<f32>();
        let (pa, pb) = (mean(a, &a.persona), mean(b, &b.persona));
        let n = a.answers.len().min(b.answers.len());
        duels += n;
        wins += w * n as f32;
        ties += t * n as f32;
        losses += (1.0 - w - t).max(0.0) * n as f32;
        persona.push(vec![w + 0.5 * t]);
        rm.push(vec![rw]);
        diff.push(vec![pa - pb]);
        ps += pa;
        aps += pb;
        rs += mean(a, &a.rm);
        ars += mean(b, &b.rm);
    }
    let k = persona.len();
    let with_n = |mut i: Interval| {
        i.n = duels;
        i
    };
    let per = |x: f32| x / k.max(1) as f32;
    Matchup {
        contestant: contestant.name.clone(),
        against: against.name.clone(),
        prompts: k,
        duels,
        wins,
        ties,
        losses,
        persona: with_n(clustered_mean(&persona, (0.0, 1.0))),
        rm: with_n(clustered_mean(&rm, (0.0, 1.0))),
        score_diff: with_n(clustered_mean(&diff, (f32::NEG_INFINITY, f32::INFINITY))),
        persona_score: per(ps),
        against_persona_score: per(aps),
        rm_score: per(rs),
        against_rm_score: per(ars),
        kl: contestant.kl,
    }
}

/// Mean exact KL(π_policy ‖ π_reference) per answer, in nats: at every answer
/// position (and its end-of-text), Σ_v π(v) (log π(v) − log π_ref(v)) over the whole
/// vocabulary, summed over the answer — what the sampled Σ (log π − log π_ref)
/// estimates with much more noise.
pub async fn exact_kl(
    policy: &Gpt,
    reference: &Gpt,
    tok: &Tokenizer,
    prompts: &[String],
    answers: &[Vec<String>],
    device: &Device,
) -> Result<f32, TrainError> {
    let (mut total, mut count) = (0.0f32, 0usize);
    for (p, a) in prompts.iter().zip(answers).filter(|(_, a)| !a.is_empty()) {
        let s = encode_answers(tok, p, a, policy.block_size(), device);
        let [b, t] = s.ids.dims();
        let lp = log_softmax(policy.forward(s.ids.clone()).narrow(1, 0, t - 1), 2);
        let lq = log_softmax(reference.forward(s.ids).narrow(1, 0, t - 1), 2);
        let kl = (lp.clone().exp() * (lp - lq)).sum_dim(2).reshape([b, t - 1]) * s.answer;
        total += crate::readback::read_vec(kl.sum()).await?[0];
        count += b;
    }
    Ok(total / count.max(1) as f32)
}
