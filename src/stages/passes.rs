//! Shuffled passes over the ranked prompts, a batch of prompts a step: how the
//! reward model and DPO walk the same labels.

use crate::rank::Comparison;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

pub struct Passes {
    pub batch: usize,
    order: Vec<usize>,
    cursor: usize,
    done: usize,
    /// Shuffles the prompts; its own stream, handed in, so a caller can pair runs.
    rng: StdRng,
}

impl Passes {
    pub fn new(batch: usize, rng: StdRng) -> Self {
        Self { batch: batch.max(1), order: vec![], cursor: 0, done: 0, rng }
    }

    /// Finished passes.
    pub fn done(&self) -> usize {
        self.done
    }

    /// Steps in one pass over `ranked` (prompts with no pair do not count).
    pub fn steps_per_pass(&self, ranked: &[Comparison]) -> usize {
        ranked.iter().filter(|c| !c.pairs.is_empty()).count().div_ceil(self.batch)
    }

    /// The next batch of `ranked`'s prompts with pairs (empty when there is none),
    /// and whether it finished a pass. When the number of such prompts changed
    /// since the last batch (a person ranked more), a new shuffled pass starts.
    pub fn next<'a>(&mut self, ranked: &'a [Comparison]) -> (Vec<&'a Comparison>, bool) {
        let labelled: Vec<&Comparison> = ranked.iter().filter(|c| !c.pairs.is_empty()).collect();
        if labelled.is_empty() {
            return (vec![], false);
        }
        if self.order.len() != labelled.len() {
            self.order = (0..labelled.len()).collect();
            self.order.shuffle(&mut self.rng);
            self.cursor = 0;
        }
        let end = (self.cursor + self.batch).min(self.order.len());
        let batch = self.order[self.cursor..end].iter().map(|&i| labelled[i]).collect();
        self.cursor = end;
        let pass_done = self.cursor >= self.order.len();
        if pass_done {
            self.order.shuffle(&mut self.rng);
            self.cursor = 0;
            self.done += 1;
        }
        (batch, pass_done)
    }
}
