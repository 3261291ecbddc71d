//! Sampling: temperature and top-k over the last position's logits.
//!
//! On a GPU the choice is made by our `sample` kernel (`shaders/sample.wgsl`): the
//! token goes straight into the next forward pass's input, and the answers are read
//! back once per batch when they end about where the last batch's did (see
//! [`first_readback_after`]) instead of once per token. On the CPU backend the logits are already in memory, and the
//! choice is [`pick`] (burn's `topk_with_indices` panics on WebGPU, burn #5110).

use crate::TrainError;
use crate::data::ids_row;
use crate::kernels::{self, Draw};
use crate::model::{Gpt, KvCache};
use crate::readback::{read_ints, read_vec};
use crate::tokenizer::Tokenizer;
use burn::prelude::*;
use burn::tensor::activation::softmax;
use rand::Rng;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SampleConfig {
    /// > 1 flattens the distribution, < 1 sharpens it; 0 means greedy (argmax).
    pub temperature: f32,
    /// Keep only the k most likely tokens (0 = all).
    pub top_k: usize,
    pub max_new_tokens: usize,
}

impl Default for SampleConfig {
    fn default() -> Self {
        Self { temperature: 0.8, top_k: 20, max_new_tokens: 48 }
    }
}

/// Picks a token id from raw logits with temperature and top-k.
pub fn pick(logits: &[f32], temperature: f32, top_k: usize, rng: &mut impl Rng) -> u32 {
    let argmax = || logits.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i as u32).unwrap_or(0);
    if temperature <= 0.0 || top_k == 1 {
        return argmax();
    }
    let mut order: Vec<usize> = (0..logits.len()).collect();
    order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]));
    if top_k > 0 {
        order.truncate(top_k);
    }
    let max = logits[order[0]];
    let weights: Vec<f64> = order.iter().map(|&i| (((logits[i] - max) / temperature) as f64).exp()).collect();
    let total: f64 = weights.iter().sum();
    if !total.is_finite() || total <= 0.0 {
        return argmax();
    }
    let mut u = rng.random::<f64>() * total;
    for (&i, w) in order.iter().zip(&weights) {
        u -= w;
        if u <= 0.0 {
            return i as u32;
        }
    }
    order[order.len() - 1] as u32
}

/// The model's context for predicting the next token: end-of-text first (every
/// training document follows one), then the last tokens that fit the block.
pub fn context(bos: u32, tokens: &[u32], block_size: usize) -> Vec<u32> {
    let mut ctx = Vec::with_capacity(tokens.len() + 1);
    ctx.push(bos);
    ctx.extend_from_slice(tokens);
    let skip = ctx.len().saturating_sub(block_size);
    ctx.split_off(skip)
}

/// Next-token probabilities (softmax at temperature 1) after `ctx` (already
/// cropped to the block size).
pub async fn next_probs(model: &Gpt, ctx: &[u32], device: &Device) -> Result<Vec<f32>, TrainError> {
    let t = ctx.len();
    let logits = model.forward(ids_row(ctx, device)).narrow(1, t - 1, 1).flatten::<1>(0, 2); // (V)
    read_vec(softmax(logits, 0)).await
}

/// Continues `prompt` by up to `max_new_tokens`, stopping after `stop` if given.
/// Returns only the new tokens.
pub async fn generate(
    model: &Gpt,
    bos: u32,
    prompt: &[u32],
    cfg: &SampleConfig,
    stop: Option<u32>,
    rng: &mut impl Rng,
    device: &Device,
) -> Result<Vec<u32>, TrainError> {
    Ok(generate_k(model, bos, prompt, 1, cfg, stop, rng, device).await?.remove(0))
}

/// `k` continuations of the same `prompt`, sampled side by side: one forward pass
/// and one readback per token for all `k` (the rows share the prompt, so they stay
/// the same length and need no padding). Each stops after `stop` if given; returns
/// only the new tokens of each.
///
/// While end-of-text + prompt + answer fits the block, this is [`generate_many`]
/// with one prompt: each new token runs alone through a [`KvCache`], on a GPU too
/// (on SwiftShader and lavapipe 1.35–1.8× faster than the whole context again with
/// the fused attention kernel; docs/benchmarks.md). Past the block the context
/// slides, and each token runs all of it again.
#[allow(clippy::too_many_arguments)]
pub async fn generate_k(
    model: &Gpt,
    bos: u32,
    prompt: &[u32],
    k: usize,
    cfg: &SampleConfig,
    stop: Option<u32>,
    rng: &mut impl Rng,
    device: &Device,
) -> Result<Vec<Vec<u32>>, TrainError> {
    let block = model.block_size();
    if prompt.len() + 1 + cfg.max_new_tokens <= block {
        let prompts = [prompt.to_vec()];
        return Ok(generate_many(model, bos, &prompts, k, cfg, stop, std::slice::from_mut(rng), device).await?.remove(0));
    }
    if kernels::gpu_sampling(device, model.kernels()) {
        return generate_with_kernel(model, bos, prompt, k, cfg, stop, rng, device).await;
    }
    let mut rows: Vec<Vec<u32>> = vec![prompt.to_vec(); k];
    let mut new: Vec<Vec<u32>> = vec![vec![]; k];
    let mut done = vec![false; k];
    // The context's keys and values while end-of-text + prompt + answer fit the
    // block; past that the context slides, and each token runs all of it again.
    let mut cache = KvCache::default();
    for _ in 0..cfg.max_new_tokens {
        if done.iter().all(|&d| d) {
            break;
        }
        let ctx: Vec<Vec<u32>> = rows.iter().map(|r| context(bos, r, block)).collect();
        let sliding = rows[0].len() + 1 > block;
        let from = if sliding { 0 } else { cache.len() };
        let t = ctx[0].len() - from;
        let flat: Vec<i32> = ctx.iter().flat_map(|c| &c[from..]).map(|&x| x as i32).collect();
        let ids = Tensor::<2, Int>::from_data(TensorData::new(flat, [k, t]), device);
        let logits = if sliding { model.forward(ids) } else { model.forward_cached(ids, &mut cache) };
        let logits = read_vec(logits.narrow(1, t - 1, 1).flatten::<2>(1, 2)).await?; // (k, V)
        let v = logits.len() / k;
        for i in 0..k {
            if done[i] {
                // Keeps every row the same length; the token is never returned.
                rows[i].push(bos);
                continue;
            }
            let next = pick(&logits[i * v..(i + 1) * v], cfg.temperature, cfg.top_k, rng);
            rows[i].push(next);
            new[i].push(next);
            done[i] = Some(next) == stop;
        }
    }
    Ok(new)
}

/// `k` continuations of each of `prompts` (each with its own random stream in
/// `rngs`), sampled together: on the CPU backend one forward pass per token for
/// every row still going (an ended row leaves the batch), the prompts left-padded
/// to one width in a [`KvCache`]. Each answer
/// is cut so that end-of-text + prompt + answer fits the block (a prompt that
/// leaves no room gets empty answers), and stops after `stop` if given. A row
/// draws from its prompt's stream in the order [`generate_k`] would, so one
/// prompt's answers do not depend on which others share the batch (the sums in
/// a wider batch may round differently).
///
/// On a GPU: [`generate_many_with_kernel`], every prompt in one batch too.
#[allow(clippy::too_many_arguments)]
pub async fn generate_many<R: Rng>(
    model: &Gpt,
    bos: u32,
    prompts: &[Vec<u32>],
    k: usize,
    cfg: &SampleConfig,
    stop: Option<u32>,
    rngs: &mut [R],
    device: &Device,
) -> Result<Vec<Vec<Vec<u32>>>, TrainError> {
    assert_eq!(prompts.len(), rngs.len(), "one random stream per prompt");
    if kernels::gpu_sampling(device, model.kernels()) {
        return generate_many_with_kernel(model, bos, prompts, k, cfg, stop, rngs, device).await;
    }
    let room = rooms(prompts, cfg, model.block_size());
    let mut new: Vec<Vec<u32>> = vec![vec![]; prompts.len() * k];
    // The rows still going (row r answers prompt r / k); a prompt that leaves no
    // room gets empty answers and never joins the batch.
    let fitting: Vec<usize> = (0..prompts.len()).filter(|&p| room[p] > 0).collect();
    let mut live: Vec<usize> = fitting.iter().flat_map(|&p| p * k..(p + 1) * k).collect();
    let (mut ids, mut t, mut cache) = left_padded(bos, fitting.iter().map(|&p| prompts[p].as_slice()), k);
    while !live.is_empty() {
        let input = Tensor::<2, Int>::from_data(TensorData::new(std::mem::take(&mut ids), [live.len(), t]), device);
        let logits = model.forward_cached(input, &mut cache).narrow(1, t - 1, 1).flatten::<2>(1, 2); // (live, V)
        let logits = read_vec(logits).await?;
        let v = logits.len() / live.len();
        // Rows draw in row order, each from its prompt's stream, as generate_k's do.
        let mut going = vec![];
        for (i, &r) in live.iter().enumerate() {
            let next = pick(&logits[i * v..(i + 1) * v], cfg.temperature, cfg.top_k, &mut rngs[r / k]);
            new[r].push(next);
            if Some(next) != stop && new[r].len() < room[r / k] {
                going.push(i);
                ids.push(next as i32);
            }
        }
        if going.len() < live.len() {
            // Ended rows leave the batch (and the cache): no filler runs for them.
            cache.keep_rows(&going);
            live = going.iter().map(|&i| live[i]).collect();
        }
        t = 1;
    }
    let mut groups = new.into_iter();
    Ok(prompts.iter().map(|_| groups.by_ref().take(k).collect()).collect())
}

/// Whether end-of-text + `prompt` leaves at least one position of the block for
/// an answer (the batched samplers' condition; a prompt that does not is sampled
/// alone, its context sliding).
pub fn leaves_room(prompt: &[u32], block: usize) -> bool {
    prompt.len() + 1 < block
}

/// Each prompt's room: at most `max_new_tokens`, and no more than end-of-text +
/// prompt + answer fits the block (0 exactly when it does not [`leaves_room`]).
fn rooms(prompts: &[Vec<u32>], cfg: &SampleConfig, block: usize) -> Vec<usize> {
    prompts.iter().map(|p| cfg.max_new_tokens.min(block.saturating_sub(p.len() + 1))).collect()
}

/// `k` rows of each prompt after end-of-text, left-padded (with end-of-text) to one
/// width: the ids (rows × width), the width, and a cache that hides the padding.
fn left_padded<'a>(bos: u32, prompts: impl Iterator<Item = &'a [u32]> + Clone, k: usize) -> (Vec<i32>, usize, KvCache) {
    let width = prompts.clone().map(|p| p.len() + 1).max().unwrap_or(1);
    let (mut ids, mut pads) = (vec![], vec![]);
    for prompt in prompts {
        for _ in 0..k {
            ids.extend(std::iter::repeat_n(bos as i32, width - prompt.len()));
            ids.extend(prompt.iter().map(|&x| x as i32));
            pads.push(width - (prompt.len() + 1));
        }
    }
    (ids, width, KvCache::left_padded(pads))
}

/// Tokens generated on the GPU between two readbacks after the first, while some
/// answer has not ended.
pub const READBACK_EVERY: usize = 16;

/// Tokens enqueued between two chances for the page to handle input and paint
/// (taken once [`crate::breathe::EVERY`] has passed).
const BREATHE_EVERY: usize = 4;

// The longest answer (with its end token) of the model's last batch that had a
// stop token, rounded up to [`BREATHE_EVERY`], is when its next batch looks at its
// answers ([`crate::model::AnswerLength`]). A model's answers are alike in length,
// so most batches are read back once and make at most a few tokens past their end.

/// How many tokens to make before the first readback: all of them when nothing
/// can end early (no stop token: an earlier look would only cost a stall),
/// otherwise as many as the last batch's longest answer needed.
pub fn first_readback_after(max_new_tokens: usize, stop: Option<u32>, longest_last: usize) -> usize {
    match stop {
        None => max_new_tokens,
        Some(_) => longest_last.clamp(1, max_new_tokens.max(1)),
    }
}

/// [`generate_k`] on a GPU: the `sample` kernel picks each row's token into a GPU
/// buffer that is appended to the next forward's input; nothing is read back until
/// [`first_readback_after`] tokens are made, then every [`READBACK_EVERY`] while
/// some answer goes on. Rows that ended keep generating until the readback; their
/// extra tokens are cut here. (It runs on any device: elsewhere the kernel's
/// reference draws the same numbers, which is how the native tests check it.)
#[allow(clippy::too_many_arguments)]
pub async fn generate_with_kernel(
    model: &Gpt,
    bos: u32,
    prompt: &[u32],
    k: usize,
    cfg: &SampleConfig,
    stop: Option<u32>,
    rng: &mut impl Rng,
    device: &Device,
) -> Result<Vec<Vec<u32>>, TrainError> {
    let block = model.block_size();
    let ctx: Vec<i32> = context(bos, prompt, block).iter().map(|&x| x as i32).collect();
    let t0 = ctx.len();
    let mut ids = Tensor::<2, Int>::from_data(TensorData::new(ctx.repeat(k), [k, t0]), device); // (k, T)
    let seed: u32 = rng.random();
    let mut new: Vec<Vec<u32>> = vec![vec![]; k];
    let mut made = 0;
    let mut n = first_readback_after(cfg.max_new_tokens, stop, model.answer_length().get().unwrap_or(READBACK_EVERY));
    while made < cfg.max_new_tokens {
        n = n.min(cfg.max_new_tokens - made);
        let mut chunk = Vec::with_capacity(n);
        for _ in 0..n {
            let t = ids.dims()[1];
            let logits = model.forward(ids.clone()).narrow(1, t - 1, 1).flatten::<2>(1, 2); // (k, V)
            let draw = Draw { seed, counter: made as u32, temperature: cfg.temperature, top_k: cfg.top_k };
            let next = kernels::sample(logits, &draw).await?.cast(ids.dtype()).unsqueeze_dim::<2>(1); // (k, 1)
            chunk.push(next.clone());
            ids = Tensor::cat(vec![ids, next], 1);
            let len = t + 1;
            if len > block {
                ids = ids.narrow(1, len - block, block);
            }
            made += 1;
            if made % BREATHE_EVERY == 0 {
                crate::breathe::breathe().await;
            }
        }
        let tokens = read_ints(Tensor::cat(chunk, 1)).await?; // (k, n): the one readback
        if append_until_end(&mut new, &tokens, n, stop, |_| cfg.max_new_tokens) {
            break;
        }
        n = READBACK_EVERY;
    }
    remember_longest(model, stop, &new);
    Ok(new)
}

/// [`generate_many`] on a GPU: every prompt's `k` answers in one batch, the
/// prompts left-padded into one [`KvCache`] as on the CPU, so each token runs one
/// position of every row (not the whole context again), and the `sample` kernel
/// picks each row's token into the next forward's input; the answers are read
/// back as [`generate_with_kernel`] reads them. A prompt's group draws with one
/// seed from its own stream and each row's index in the group (the kernel's seed
/// groups), as [`generate_with_kernel`] draws for that prompt alone, so a prompt's
/// answers do not depend on the batch. Runs on any device, like
/// [`generate_with_kernel`].
#[allow(clippy::too_many_arguments)]
pub async fn generate_many_with_kernel<R: Rng>(
    model: &Gpt,
    bos: u32,
    prompts: &[Vec<u32>],
    k: usize,
    cfg: &SampleConfig,
    stop: Option<u32>,
    rngs: &mut [R],
    device: &Device,
) -> Result<Vec<Vec<Vec<u32>>>, TrainError> {
    assert_eq!(prompts.len(), rngs.len(), "one random stream per prompt");
    // One seed per prompt, drawn as `generate_with_kernel` draws it, even for a
    // prompt that leaves no room (its answers are empty).
    let seeds: Vec<u32> = rngs.iter_mut().map(|rng| rng.random()).collect();
    let room = rooms(prompts, cfg, model.block_size());
    let mut out: Vec<Vec<Vec<u32>>> = vec![vec![vec![]; k]; prompts.len()];
    let live: Vec<usize> = (0..prompts.len()).filter(|&p| room[p] > 0).collect();
    if live.is_empty() || k == 0 {
        return Ok(out);
    }
    let rows = live.len() * k;
    let prompt_of = |r: usize| live[r / k];
    let (host, width, mut cache) = left_padded(bos, live.iter().map(|&p| prompts[p].as_slice()), k);
    let mut input = Tensor::<2, Int>::from_data(TensorData::new(host, [rows, width]), device);
    let group_seeds: Vec<u32> = live.iter().map(|&p| seeds[p]).collect();
    let steps = live.iter().map(|&p| room[p]).max().unwrap_or(0);
    let mut new: Vec<Vec<u32>> = vec![vec![]; rows];
    let mut made = 0;
    let mut n = first_readback_after(steps, stop, model.answer_length().get().unwrap_or(READBACK_EVERY));
    while made < steps {
        n = n.min(steps - made);
        let mut chunk = Vec::with_capacity(n);
        for _ in 0..n {
            let t = input.dims()[1];
            let logits = model.forward_cached(input, &mut cache).narrow(1, t - 1, 1).flatten::<2>(1, 2); // (rows, V)
            let draw = Draw { seed: 0, counter: made as u32, temperature: cfg.temperature, top_k: cfg.top_k };
            let next = kernels::sample_groups(logits, &group_seeds, &draw).await?.unsqueeze_dim::<2>(1); // (rows, 1)
            chunk.push(next.clone());
            // A row past its room is fed on (its positions stay in the block) until
            // the readback; its extra tokens are cut below.
            input = next;
            made += 1;
            if made % BREATHE_EVERY == 0 {
                crate::breathe::breathe().await;
            }
        }
        let tokens = read_ints(Tensor::cat(chunk, 1)).await?; // (rows, n): the one readback
        if append_until_end(&mut new, &tokens, n, stop, |r| room[prompt_of(r)]) {
            break;
        }
        n = READBACK_EVERY;
    }
    remember_longest(model, stop, &new);
    for (r, answer) in new.into_iter().enumerate() {
        out[prompt_of(r)][r % k] = answer;
    }
    Ok(out)
}

/// Appends one readback's `n` tokens per row (row-major) to each row's answer until
/// it ends, at `stop` or at its `room` tokens (the tokens made after are cut);
/// whether every answer has ended.
fn append_until_end(answers: &mut [Vec<u32>], tokens: &[u32], n: usize, stop: Option<u32>, room: impl Fn(usize) -> usize) -> bool {
    let ended = |r: usize, a: &[u32]| (stop.is_some() && a.last().copied() == stop) || a.len() >= room(r);
    for (r, answer) in answers.iter_mut().enumerate() {
        for &tok in &tokens[r * n..(r + 1) * n] {
            if ended(r, answer) {
                break;
            }
            answer.push(tok);
        }
    }
    answers.iter().enumerate().all(|(r, a)| ended(r, a))
}

/// After a batch that could end early: its longest answer, rounded up to
/// [`BREATHE_EVERY`], is when the next batch first looks.
fn remember_longest(model: &Gpt, stop: Option<u32>, answers: &[Vec<u32>]) {
    if stop.is_some() {
        let longest = answers.iter().map(Vec::len).max().unwrap_or(0);
        model.answer_length().set(longest.div_ceil(BREATHE_EVERY) * BREATHE_EVERY);
    }
}

/// `k` answers to `prompt` as text, sampled side by side: each is cut so that
/// end-of-text + prompt + answer fits the context (a reward model reading the whole
/// sequence then sees the answer's end), and decoded without its end-of-text.
pub async fn answer_texts(
    model: &Gpt,
    tok: &Tokenizer,
    prompt: &str,
    k: usize,
    cfg: &SampleConfig,
    rng: &mut impl Rng,
    device: &Device,
) -> Result<Vec<String>, TrainError> {
    let ids = tok.encode(prompt);
    let room = model.block_size().saturating_sub(ids.len() + 1).max(1);
    let cfg = SampleConfig { max_new_tokens: cfg.max_new_tokens.min(room), ..*cfg };
    let outs = generate_k(model, tok.eot(), &ids, k, &cfg, Some(tok.eot()), rng, device).await?;
    Ok(outs.iter().map(|o| tok.decode_answer(o)).collect())
}
