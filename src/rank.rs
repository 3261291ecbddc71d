//! Ranking (InstructGPT step 2): a labeler orders K sampled answers to one prompt;
//! every ordered pair of differently-ranked answers is one comparison, so a strict
//! ranking of K gives K·(K−1)/2 pairs. Ties give no pair: they say nothing about
//! which answer is better.

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
