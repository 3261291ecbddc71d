//! Evaluation (InstructGPT §4): on prompts no stage trained on, answers of the PPO
//! policy against answers of the SFT model, judged blind by the persona and by the
//! reward model (win rate; ties count half, so 0.5 means "no better"); and the
//! "alignment tax": the pretraining loss on held-out corpus before and after RLHF.

use crate::TrainError;
use crate::data::Batch;
use crate::model::Gpt;
use crate::persona::Persona;
use crate::pretrain::held_out_loss;
use crate::reward::{RewardModel, score};
use crate::sample::{SampleConfig, answer_texts, generate};
use crate::tokenizer::Tokenizer;
use burn::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
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
#[derive(Debug, Clone, PartialEq, Serialize)]
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

/// A win rate with its counts: ties count half, so 0.5 means "no better".
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct WinRate {
    pub rate: f32,
    pub wins: usize,
    pub ties: usize,
    pub losses: usize,
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
    WinRate { rate, wins, ties, losses }
}

/// `n` answers per prompt from `model`, sampled with a fixed seed (so SFT and PPO
/// are sampled the same way), end-of-text removed.
pub async fn answers(model: &Gpt, tok: &Tokenizer, prompts: &[String], n: usize, cfg: &SampleConfig, seed: u64, device: &Device) -> Result<Vec<Vec<String>>, TrainError> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(prompts.len());
    for p in prompts {
        out.push(answer_texts(model, tok, p, n, cfg, &mut rng, device).await?);
    }
    Ok(out)
}

/// PPO (`policy`) against SFT on `prompts`, `n` answers each.
#[allow(clippy::too_many_arguments)]
pub async fn compare(sft: &Gpt, policy: &Gpt, reward_model: &RewardModel, persona: &Persona, tok: &Tokenizer, prompts: &[String], n: usize, seed: u64, device: &Device) -> Result<Evaluation, TrainError> {
    // Temperature 1, no top-k: the policy's own distribution, the one PPO trained.
    let cfg = SampleConfig { temperature: 1.0, top_k: 0, max_new_tokens: 40 };
    let (a_sft, a_ppo) = (answers(sft, tok, prompts, n, &cfg, seed, device).await?, answers(policy, tok, prompts, n, &cfg, seed, device).await?);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut duels = vec![];
    for (p, (s, q)) in prompts.iter().zip(a_sft.iter().zip(&a_ppo)) {
        let (rs, rq) = (score(reward_model, tok, p, s, device).await?, score(reward_model, tok, p, q, device).await?);
        for i in 0..n {
            let persona_verdict = verdict(persona.score(p, &q[i], &mut rng).total, persona.score(p, &s[i], &mut rng).total);
            duels.push(Duel { prompt: p.clone(), sft: s[i].clone(), ppo: q[i].clone(), sft_score: rs[i], ppo_score: rq[i], persona: persona_verdict });
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
pub async fn continuation_style(model: &Gpt, tok: &Tokenizer, prompts: &[String], answer_marker: &str, question_marker: &str, device: &Device) -> Result<(usize, usize), TrainError> {
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
