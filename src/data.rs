//! Batches of next-token examples: windows of T+1 tokens cut from a token stream,
//! inputs = the first T, targets = the last T (shifted by one).

use burn::prelude::*;
use rand::Rng;

/// A batch on the CPU, row-major (B, T).
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    pub inputs: Vec<i32>,
    pub targets: Vec<i32>,
    pub batch_size: usize,
    pub block: usize,
}

impl Batch {
    fn from_starts(tokens: &[u32], starts: impl Iterator<Item = usize>, block: usize) -> Self {
        let (mut inputs, mut targets, mut batch_size) = (vec![], vec![], 0);
        for s in starts {
            inputs.extend(tokens[s..s + block].iter().map(|&t| t as i32));
            targets.extend(tokens[s + 1..s + block + 1].iter().map(|&t| t as i32));
            batch_size += 1;
        }
        Self { inputs, targets, batch_size, block }
    }

    /// `batch_size` windows at random offsets (training).
    pub fn random(tokens: &[u32], batch_size: usize, block: usize, rng: &mut impl Rng) -> Self {
        let max_start = tokens.len().checked_sub(block + 1).expect("token stream shorter than one window");
        let starts: Vec<usize> = (0..batch_size).map(|_| rng.random_range(0..=max_start)).collect();
        Self::from_starts(tokens, starts.into_iter(), block)
    }

    /// `batch_size` evenly spaced windows (evaluation: the same batch every time,
    /// so held-out losses from different steps are comparable).
    pub fn evenly_spaced(tokens: &[u32], batch_size: usize, block: usize) -> Self {
        let max_start = tokens.len().checked_sub(block + 1).expect("token stream shorter than one window");
        let stride = max_start / batch_size.max(1);
        Self::from_starts(tokens, (0..batch_size).map(|i| (i * stride).min(max_start)), block)
    }

    /// The rows cut into `n` consecutive batches of (nearly) equal size, in order.
    pub fn split(&self, n: usize) -> Vec<Batch> {
        let n = n.clamp(1, self.batch_size.max(1));
        let t = self.block;
        (0..n)
            .map(|i| {
                let (a, b) = (i * self.batch_size / n, (i + 1) * self.batch_size / n);
                Batch {
                    inputs: self.inputs[a * t..b * t].to_vec(),
                    targets: self.targets[a * t..b * t].to_vec(),
                    batch_size: b - a,
                    block: t,
                }
            })
            .filter(|shard| shard.batch_size > 0)
            .collect()
    }

    pub fn to_tensors(&self, device: &Device) -> (Tensor<2, Int>, Tensor<2, Int>) {
        let shape = [self.batch_size, self.block];
        let t = |v: &Vec<i32>| Tensor::<2, Int>::from_data(TensorData::new(v.clone(), shape), device);
        (t(&self.inputs), t(&self.targets))
    }
}

/// One sequence of token ids as a (1, T) tensor.
pub fn ids_row(ids: &[u32], device: &Device) -> Tensor<2, Int> {
    Tensor::<2, Int>::from_data(TensorData::new(ids.iter().map(|&x| x as i32).collect::<Vec<_>>(), [1, ids.len()]), device)
}

/// `tokens` as i32 ids, right-padded with `pad` (or cut) to exactly `width`: how
/// the stages line up sequences of different lengths in one batch.
pub fn padded(tokens: &[u32], pad: u32, width: usize) -> Vec<i32> {
    tokens.iter().map(|&t| t as i32).chain(std::iter::repeat(pad as i32)).take(width).collect()
}
