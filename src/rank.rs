//! Ranking (InstructGPT step 2): a labeler orders K sampled answers to one prompt;
//! every ordered pair of differently-ranked answers is one comparison, so a strict
//! ranking of K gives K·(K−1)/2 pairs. Ties give no pair: they say nothing about
//! which answer is better.

use crate::TrainError;
use crate::model::Gpt;
use crate::persona::Persona;
use crate::sample::{SampleConfig, answer_texts};
use crate::tokenizer::Tokenizer;
use burn::prelude::*;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// How many answers a prompt may be ranked over.
pub const K_MIN: usize = 4;
pub const K_MAX: usize = 9;

/// One comparison: answer `chosen` was ranked above answer `rejected`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pair {
    pub chosen: usize,
    pub rejected: usize,
}

/// `ranks[i]` is answer i's place (0 = best); equal places are ties.
pub fn pairs_from_ranking(ranks: &[u32]) -> Vec<Pair> {
    let mut pairs = vec![];
    for (i, &ri) in ranks.iter().enumerate() {
        for (j, &rj) in ranks.iter().enumerate() {
            if ri < rj {
                pairs.push(Pair { chosen: i, rejected: j });
            }
        }
    }
    pairs
}

/// Who ranked a prompt's answers: the page mixes both, and every pair remembers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Labeler {
    #[default]
    Persona,
    Human,
}

/// How the answers to rank are sampled from the SFT model.
pub fn rank_sampling() -> SampleConfig {
    // Temperature 1 and a wide top-k: the ranking is only informative if the K
    // answers differ; a sharp sampler gives K copies of the same sentence.
    SampleConfig { temperature: 1.0, top_k: 0, max_new_tokens: 40 }
}

/// Up to K ∈ [K_MIN, K_MAX] *different* answers to `prompt` sampled from `policy`
/// (the SFT model), each stopped at its end-of-text, decoded without it. A person
/// is never shown the same answer twice: duplicates are dropped and up to two more
/// rounds, each warmer (×1.5, ×2 the temperature), are sampled to replace them; a
/// confident model may still give fewer.
pub async fn sample_answers(policy: &Gpt, tok: &Tokenizer, prompt: &str, k: usize, cfg: &SampleConfig, rng: &mut impl Rng, device: &Device) -> Result<Vec<String>, TrainError> {
    let k = k.clamp(K_MIN, K_MAX);
    let mut answers: Vec<String> = vec![];
    for round in 0..3 {
        let warmer = SampleConfig { temperature: cfg.temperature * (1.0 + 0.5 * round as f32), ..*cfg };
        for a in answer_texts(policy, tok, prompt, k, &warmer, rng, device).await? {
            if answers.len() < k && !answers.contains(&a) {
                answers.push(a);
            }
        }
        if answers.len() == k {
            break;
        }
    }
    Ok(answers)
}

/// The persona ranks `answers` to `prompt`: the places it gave, and the comparison
/// (ties dropped).
pub fn persona_comparison(persona: &Persona, prompt: &str, answers: Vec<String>, rng: &mut impl Rng) -> (Vec<u32>, crate::reward::Comparison) {
    let ranks = persona.rank(prompt, &answers, rng);
    let c = crate::reward::Comparison { prompt: prompt.to_string(), pairs: pairs_from_ranking(&ranks), answers, labeler: Labeler::Persona };
    (ranks, c)
}
