//! Ranking (InstructGPT step 2): a labeler orders K sampled answers to one prompt;
//! every ordered pair of differently-ranked answers is one comparison, so a strict
//! ranking of K gives K·(K−1)/2 pairs. Ties give no pair: they say nothing about
//! which answer is better.

use crate::TrainError;
use crate::model::Gpt;
use crate::persona::Persona;
use crate::sample::{SampleConfig, answer_texts, generate_many, leaves_room};
use crate::tokenizer::Tokenizer;
use burn::prelude::*;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// One prompt's comparisons: its K answers and the pairs a ranking gave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub prompt: String,
    pub answers: Vec<String>,
    pub pairs: Vec<Pair>,
    pub labeler: Labeler,
}

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
pub async fn sample_answers(
    policy: &Gpt,
    tok: &Tokenizer,
    prompt: &str,
    k: usize,
    cfg: &SampleConfig,
    rng: &mut impl Rng,
    device: &Device,
) -> Result<Vec<String>, TrainError> {
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

/// [`sample_answers`] for many prompts at once: each round samples every prompt
/// still short of K different answers in one batch ([`generate_many`]: one forward
/// per token for all of them, on a GPU and on the CPU), each prompt from its own
/// stream in `rngs`, so a prompt gets the answers [`sample_answers`] gives it alone
/// with that stream. A prompt that leaves no room for an answer is sampled alone.
#[allow(clippy::too_many_arguments)]
pub async fn sample_answers_many<R: Rng>(
    policy: &Gpt,
    tok: &Tokenizer,
    prompts: &[String],
    k: usize,
    cfg: &SampleConfig,
    rngs: &mut [R],
    device: &Device,
) -> Result<Vec<Vec<String>>, TrainError> {
    assert_eq!(prompts.len(), rngs.len(), "one random stream per prompt");
    let k = k.clamp(K_MIN, K_MAX);
    let ids: Vec<Vec<u32>> = prompts.iter().map(|p| tok.encode(p)).collect();
    let fits = |i: usize| leaves_room(&ids[i], policy.block_size());
    let mut answers: Vec<Vec<String>> = vec![vec![]; prompts.len()];
    for round in 0..3 {
        let short: Vec<usize> = (0..prompts.len()).filter(|&i| fits(i) && answers[i].len() < k).collect();
        if short.is_empty() {
            break;
        }
        let warmer = SampleConfig { temperature: cfg.temperature * (1.0 + 0.5 * round as f32), ..*cfg };
        let batch: Vec<Vec<u32>> = short.iter().map(|&i| ids[i].clone()).collect();
        // The short prompts' own streams, borrowed (`&mut R` is an `Rng` too).
        let mut is_short = vec![false; prompts.len()];
        short.iter().for_each(|&i| is_short[i] = true);
        let mut streams: Vec<&mut R> = rngs.iter_mut().zip(is_short).filter(|(_, s)| *s).map(|(r, _)| r).collect();
        let sampled = generate_many(policy, tok.eot(), &batch, k, &warmer, Some(tok.eot()), &mut streams, device).await?;
        for (&i, group) in short.iter().zip(sampled) {
            for a in group.iter().map(|a| tok.decode_answer(a)) {
                if answers[i].len() < k && !answers[i].contains(&a) {
                    answers[i].push(a);
                }
            }
        }
    }
    for i in (0..prompts.len()).filter(|&i| !fits(i)) {
        answers[i] = sample_answers(policy, tok, &prompts[i], k, cfg, &mut rngs[i], device).await?;
    }
    Ok(answers)
}

/// The persona ranks `answers` to `prompt`: the places it gave, and the comparison
/// (ties dropped).
pub fn persona_comparison(persona: &Persona, prompt: &str, answers: Vec<String>, rng: &mut impl Rng) -> (Vec<u32>, Comparison) {
    let ranks = persona.rank(prompt, &answers, rng);
    let c = Comparison { prompt: prompt.to_string(), pairs: pairs_from_ranking(&ranks), answers, labeler: Labeler::Persona };
    (ranks, c)
}

/// The ranking as places, best first, each the answers that share it.
fn places(ranks: &[u32]) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = vec![];
    let mut order: Vec<usize> = (0..ranks.len()).collect();
    order.sort_by_key(|&i| (ranks[i], i));
    for i in order {
        match out.last_mut() {
            Some(g) if ranks[g[0]] == ranks[i] => g.push(i),
            _ => out.push(vec![i]),
        }
    }
    out
}

fn from_places(places: &[Vec<usize>], n: usize) -> Vec<u32> {
    let mut ranks = vec![0; n];
    for (p, g) in places.iter().enumerate() {
        for &i in g {
            ranks[i] = p as u32;
        }
    }
    ranks
}

/// Answer `i` one step up (or down) in a ranking, as the arrow keys and the ▲/▼
/// buttons move it: out of a tie first (just above or below its tie-mates),
/// otherwise past the whole place next to it.
pub fn move_answer(ranks: &[u32], i: usize, up: bool) -> Vec<u32> {
    let mut ps = places(ranks);
    let Some(g) = ps.iter().position(|p| p.contains(&i)) else { return ranks.to_vec() };
    if ps[g].len() > 1 {
        ps[g].retain(|&j| j != i);
        ps.insert(if up { g } else { g + 1 }, vec![i]);
    } else if up && g > 0 {
        ps.swap(g, g - 1);
    } else if !up && g + 1 < ps.len() {
        ps.swap(g, g + 1);
    }
    from_places(&ps, ranks.len())
}

/// Answer `i` moved to place `place` (0 = best) on its own, the others keeping
/// their order — what pressing its rank number does.
pub fn set_place(ranks: &[u32], i: usize, place: usize) -> Vec<u32> {
    if i >= ranks.len() {
        return ranks.to_vec();
    }
    let mut ps: Vec<Vec<usize>> =
        places(ranks).into_iter().map(|g| g.into_iter().filter(|&j| j != i).collect::<Vec<_>>()).filter(|g| !g.is_empty()).collect();
    ps.insert(place.min(ps.len()), vec![i]);
    from_places(&ps, ranks.len())
}

/// Answer `i` tied with the place just above it ("=" on the keyboard).
pub fn tie_with_above(ranks: &[u32], i: usize) -> Vec<u32> {
    let mut ps = places(ranks);
    let Some(g) = ps.iter().position(|p| p.contains(&i)).filter(|&g| g > 0) else { return ranks.to_vec() };
    ps[g].retain(|&j| j != i);
    ps[g - 1].push(i);
    ps.retain(|p| !p.is_empty());
    from_places(&ps, ranks.len())
}
