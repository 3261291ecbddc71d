//! The GPT: token + position embeddings, N pre-LayerNorm blocks of causal
//! self-attention and a GELU MLP, a final LayerNorm, and an LM head whose weight is
//! *tied* to the token embedding (as in GPT-2 / nanoGPT: fewer parameters, and the
//! head of a tiny model learns faster when it shares the embedding's statistics).
//!
//! Shapes in comments: B batch, T time (tokens), C channels (n_embd), nh heads,
//! hs head size (C / nh), V vocabulary.

use crate::kernels::Kernels;
use burn::module::{Initializer, ModuleVisitor, Param};
use burn::nn::{Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::prelude::*;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A model size. `micro` trains in seconds on a CPU or a software GPU (CI, e2e);
/// `small` is the default for a laptop GPU.
#[derive(Config, Debug, PartialEq)]
pub struct GptConfig {
    pub vocab_size: usize,
    /// Longest context the position embedding covers.
    pub block_size: usize,
    pub n_layer: usize,
    pub n_head: usize,
    pub n_embd: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    Micro,
    Small,
}

impl Preset {
    pub fn parse(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "micro" => Some(Self::Micro),
            "small" => Some(Self::Small),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Micro => "micro",
            Self::Small => "small",
        }
    }

    pub fn gpt(self, vocab_size: usize) -> GptConfig {
        match self {
            // 279 k parameters: the smallest size whose SFT answers are mostly words
            // (2 × 48 wide sampled mostly non-words after the same training).
            Self::Micro => GptConfig::new(vocab_size, 64, 2, 4, 96),
            Self::Small => GptConfig::new(vocab_size, 128, 4, 4, 128),
        }
    }
}

fn normal(std: f64) -> Initializer {
    Initializer::Normal { mean: 0.0, std }
}

#[derive(Module, Debug)]
pub struct CausalSelfAttention {
    /// Query, key and value projections for all heads, in one matmul.
    c_attn: Linear,
    c_proj: Linear,
    n_head: usize,
}

impl CausalSelfAttention {
    /// Returns the output and the attention probabilities (B, nh, T, T).
    pub fn forward(&self, x: Tensor<3>, kernels: Kernels) -> (Tensor<3>, Tensor<4>) {
        let (y, att) = attention(self.c_attn.forward(x), self.n_head, kernels); // qkv (B, T, 3C)
        (self.c_proj.forward(y), att)
    }

    /// The output for the n new positions x (B, n, C) after the `past` keys and
    /// values, and the keys and values of all of them.
    /// `mask` (B, 1, 1, Tk), added to the scores, hides each row's left padding.
    fn forward_cached(
        &self,
        x: Tensor<3>,
        past: Option<KeysValues>,
        mask: Option<&Tensor<4>>,
        kernels: Kernels,
    ) -> (Tensor<3>, KeysValues) {
        let [b, n, c] = x.dims();
        let (q, k, v) = heads(self.c_attn.forward(x), self.n_head);
        let (k, v) = match past {
            Some((past_k, past_v)) => (Tensor::cat(vec![past_k, k], 2), Tensor::cat(vec![past_v, v], 2)),
            None => (k, v),
        };
        let (y, _) = attend(q, k.clone(), v.clone(), mask, kernels); // (B, nh, n, hs)
        (self.c_proj.forward(y.swap_dims(1, 2).reshape([b, n, c])), (k, v))
    }
}

/// One layer's keys and values, each (B, nh, T, hs).
type KeysValues = (Tensor<4>, Tensor<4>);

/// The fused projection qkv (B, T, 3C) as per-head (q / √hs, k, v), each (B, nh, T, hs).
fn heads(qkv: Tensor<3>, n_head: usize) -> (Tensor<4>, Tensor<4>, Tensor<4>) {
    let [b, t, c3] = qkv.dims();
    let hs = c3 / 3 / n_head;
    let mut qkv = qkv.chunk(3, 2); // 3 × (B, T, C)
    let heads = |x: Tensor<3>| x.reshape([b, t, n_head, hs]).swap_dims(1, 2); // (B, nh, T, hs)
    let v = heads(qkv.pop().unwrap());
    let k = heads(qkv.pop().unwrap());
    // 1/√hs scales q (B, nh, T, hs) rather than the scores (B, nh, T, T): the same
    // product, but the pass and its gradient run over a T/hs times smaller tensor.
    let q = heads(qkv.pop().unwrap()) / (hs as f64).sqrt();
    (q, k, v)
}

/// Each of the Tq queries, the last Tq positions, over the keys up to its own:
/// (y (B, nh, Tq, hs), the probabilities (B, nh, Tq, Tk)).
fn attend(q: Tensor<4>, k: Tensor<4>, v: Tensor<4>, mask: Option<&Tensor<4>>, kernels: Kernels) -> (Tensor<4>, Tensor<4>) {
    let mut att = q.matmul(k.swap_dims(2, 3)); // (B, nh, Tq, Tk)
    if let Some(mask) = mask {
        att = att + mask.clone(); // (B, 1, 1, Tk): 0, or PAD_SCORE for a padding key
    }
    // Position i may only look at positions j ≤ i: softmax over those, probability
    // 0 for the future (our CPU kernel on flex, a masked burn softmax elsewhere).
    let att = crate::kernels::causal_softmax(att, kernels);
    (att.clone().matmul(v), att)
}

/// [`causal_attention`]: without gradients on a GPU, our fused kernel
/// (shaders/attention.wgsl) computes exactly it in one dispatch.
pub fn attention(qkv: Tensor<3>, n_head: usize, kernels: Kernels) -> (Tensor<3>, Tensor<4>) {
    if crate::kernels::fused_attention(&qkv, n_head, kernels) {
        crate::kernels::attention(qkv, n_head)
    } else {
        causal_attention(qkv, n_head, kernels)
    }
}

/// Causal self-attention of the fused projection qkv (B, T, 3C): the heads'
/// outputs side by side (B, T, C) and the probabilities (B, nh, T, T).
pub fn causal_attention(qkv: Tensor<3>, n_head: usize, kernels: Kernels) -> (Tensor<3>, Tensor<4>) {
    let [b, t, c3] = qkv.dims();
    let (q, k, v) = heads(qkv, n_head);
    let (y, att) = attend(q, k, v, None, kernels); // (B, nh, T, hs)
    (y.swap_dims(1, 2).reshape([b, t, c3 / 3]), att) // re-assemble heads side by side
}

#[derive(Module, Debug)]
pub struct Mlp {
    c_fc: Linear,
    c_proj: Linear,
}

impl Mlp {
    pub fn forward(&self, x: Tensor<3>, kernels: Kernels) -> Tensor<3> {
        // The exact (erf) GELU, as GPT-2's paper defines it (our CPU kernel on flex).
        self.c_proj.forward(crate::kernels::gelu(self.c_fc.forward(x), kernels))
    }
}

#[derive(Module, Debug)]
pub struct Block {
    ln_1: LayerNorm,
    attn: CausalSelfAttention,
    ln_2: LayerNorm,
    mlp: Mlp,
}

impl Block {
    pub fn forward(&self, x: Tensor<3>, kernels: Kernels) -> (Tensor<3>, Tensor<4>) {
        let (a, att) = self.attn.forward(layer_norm(&self.ln_1, x.clone(), kernels), kernels);
        let x = x + a;
        let x = x.clone() + self.mlp.forward(layer_norm(&self.ln_2, x, kernels), kernels);
        (x, att)
    }

    fn forward_cached(
        &self,
        x: Tensor<3>,
        past: Option<KeysValues>,
        mask: Option<&Tensor<4>>,
        kernels: Kernels,
    ) -> (Tensor<3>, KeysValues) {
        let (a, kv) = self.attn.forward_cached(layer_norm(&self.ln_1, x.clone(), kernels), past, mask, kernels);
        let x = x + a;
        (x.clone() + self.mlp.forward(layer_norm(&self.ln_2, x, kernels), kernels), kv)
    }
}

/// The keys and values of every position a generation has run so far, per layer:
/// each new token then runs one position through the model instead of the whole
/// context again (nanochat's engine does the same). Positions are absolute, so the
/// cache holds at most `block_size` of them; past that the context slides and
/// every position moves.
///
/// Rows of different lengths run together *left-padded*: row r's first `pads[r]`
/// columns are padding, hidden from every query, and its positions count from its
/// first real token, so each row computes what it would alone.
#[derive(Debug, Clone, Default)]
pub struct KvCache {
    layers: Vec<KeysValues>,
    len: usize,
    pads: Vec<usize>,
}

/// What a padding key's score becomes: its probability is exactly 0 after the
/// softmax, and finite (not −∞), so a row of padding alone stays a number.
const PAD_SCORE: f32 = -1e9;

impl KvCache {
    /// An empty cache for rows whose first `pads[r]` columns will be padding.
    pub fn left_padded(pads: Vec<usize>) -> Self {
        Self { pads, ..Self::default() }
    }

    /// Keeps only `rows` (indices of the cache's rows, in order) and drops the rest:
    /// rows whose answers have ended leave the batch, so the tokens after cost only
    /// the rows still going.
    pub fn keep_rows(&mut self, rows: &[usize]) {
        if let Some((k, _)) = self.layers.first() {
            let device = k.device();
            let idx: Vec<i32> = rows.iter().map(|&r| r as i32).collect();
            let idx = Tensor::<1, Int>::from_data(TensorData::new(idx, [rows.len()]), &device);
            for (k, v) in &mut self.layers {
                *k = k.clone().select(0, idx.clone());
                *v = v.clone().select(0, idx.clone());
            }
        }
        if !self.pads.is_empty() {
            self.pads = rows.iter().map(|&r| self.pads[r]).collect();
        }
    }

    /// Columns held (padding included).
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// LayerNorm's ε (GPT-2's, and burn's default).
pub const LN_EPS: f64 = 1e-5;

fn layer_norm_config(c: usize) -> LayerNormConfig {
    LayerNormConfig::new(c).with_epsilon(LN_EPS)
}

/// `ln(x)`: our CPU kernel on flex, burn's LayerNorm elsewhere.
fn layer_norm<const D: usize>(ln: &LayerNorm, x: Tensor<D>, kernels: Kernels) -> Tensor<D> {
    crate::kernels::layer_norm(ln, LN_EPS, x, kernels)
}

#[derive(Module, Debug)]
pub struct Gpt {
    /// Token embedding (V, C); also the LM head, transposed (weight tying).
    wte: Embedding,
    /// Position embedding (block_size, C).
    wpe: Embedding,
    blocks: Vec<Block>,
    ln_f: LayerNorm,
    block_size: usize,
    /// Which of our kernels this model runs (not saved: a loaded model runs all).
    #[module(skip)]
    kernels: Kernels,
    /// How long this model's answers were (see [`crate::sample`]): shared by its
    /// clones, whose answers are alike.
    #[module(skip)]
    answer_length: AnswerLength,
}

/// The longest answer (with its end token) of the model's last generated batch
/// that had a stop token, rounded up to a breath (0: none yet); where the GPU path
/// first looks at a batch's answers ([`crate::sample::first_readback_after`]).
#[derive(Debug, Clone, Default)]
pub struct AnswerLength(Arc<AtomicUsize>);

impl AnswerLength {
    pub fn get(&self) -> Option<usize> {
        Some(self.0.load(Ordering::Relaxed)).filter(|&n| n > 0)
    }

    pub fn set(&self, tokens: usize) {
        self.0.store(tokens, Ordering::Relaxed);
    }
}

impl GptConfig {
    pub fn init(&self, device: &Device) -> Gpt {
        let c = self.n_embd;
        // GPT-2's init: N(0, 0.02), residual projections scaled by 1/sqrt(2·n_layer)
        // so the residual stream's variance does not grow with depth.
        let proj_std = 0.02 / ((2 * self.n_layer) as f64).sqrt();
        let linear = |i, o, std| LinearConfig::new(i, o).with_initializer(normal(std)).init(device);
        let blocks = (0..self.n_layer)
            .map(|_| Block {
                ln_1: layer_norm_config(c).init(device),
                attn: CausalSelfAttention { c_attn: linear(c, 3 * c, 0.02), c_proj: linear(c, c, proj_std), n_head: self.n_head },
                ln_2: layer_norm_config(c).init(device),
                mlp: Mlp { c_fc: linear(c, 4 * c, 0.02), c_proj: linear(4 * c, c, proj_std) },
            })
            .collect();
        let gpt = Gpt {
            wte: EmbeddingConfig::new(self.vocab_size, c).with_initializer(normal(0.02)).init(device),
            wpe: EmbeddingConfig::new(self.block_size, c).with_initializer(normal(0.02)).init(device),
            blocks,
            ln_f: layer_norm_config(c).init(device),
            block_size: self.block_size,
            kernels: Kernels::default(),
            answer_length: AnswerLength::default(),
        };
        gpt.visit(&mut DrawNow);
        gpt
    }
}

/// burn draws a parameter's initial values lazily, at its first use. Drawing them
/// all inside `init` keeps a seeded init's draws together (`backend::seeded`): two
/// models built one after the other from the same seed get the same weights, and
/// no other draw lands between the seed and them.
struct DrawNow;

impl ModuleVisitor for DrawNow {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let _ = param.val();
    }
}

impl Gpt {
    pub fn block_size(&self) -> usize {
        self.block_size
    }

    /// The same model, running `kernels` (benchmarks and tests: burn's own
    /// operations beside ours, in one run).
    pub fn with_kernels(mut self, kernels: Kernels) -> Self {
        self.kernels = kernels;
        self
    }

    pub fn kernels(&self) -> Kernels {
        self.kernels
    }

    pub fn answer_length(&self) -> &AnswerLength {
        &self.answer_length
    }

    /// Logits of the next token at every position: (B, T) ids → (B, T, V).
    pub fn forward(&self, idx: Tensor<2, Int>) -> Tensor<3> {
        self.forward_with_attention(idx).0
    }

    /// Like [`forward`](Self::forward), also returning every layer's attention
    /// probabilities, each (B, nh, T, T), for the heatmap viewer.
    pub fn forward_with_attention(&self, idx: Tensor<2, Int>) -> (Tensor<3>, Vec<Tensor<4>>) {
        let (h, atts) = self.hidden(idx);
        (self.lm_head(h), atts)
    }

    /// The final LayerNorm's output (B, T, C) — what the LM head reads, and what the
    /// reward and value heads will read instead.
    pub fn hidden(&self, idx: Tensor<2, Int>) -> (Tensor<3>, Vec<Tensor<4>>) {
        let [_, t] = idx.dims();
        assert!(t <= self.block_size, "sequence of {t} tokens exceeds block size {}", self.block_size);
        let pos = Tensor::<1, Int>::arange(0..t as i64, &idx.device()).unsqueeze::<2>(); // (1, T)
        let mut x = self.wte.forward(idx) + self.wpe.forward(pos); // (B, T, C)
        let mut atts = Vec::with_capacity(self.blocks.len());
        for block in &self.blocks {
            let (y, att) = block.forward(x, self.kernels);
            x = y;
            atts.push(att);
        }
        (layer_norm(&self.ln_f, x, self.kernels), atts)
    }

    /// Logits (B, n, V) of the n tokens `idx` (B, n) that follow the positions in
    /// `cache`, whose keys and values it then also holds: the last of them are
    /// [`forward`](Self::forward)'s last logits for the whole context, for one
    /// position's work per token. `cache.len() + n` must fit the block.
    ///
    /// In a [`KvCache::left_padded`] cache a row's position is its column less its
    /// padding, capped at the block's last: a row that has ended may be fed
    /// filler past it, whose outputs nobody reads.
    pub fn forward_cached(&self, idx: Tensor<2, Int>, cache: &mut KvCache) -> Tensor<3> {
        let [b, n] = idx.dims();
        let start = cache.len;
        let device = idx.device();
        let padded = cache.pads.iter().any(|&p| p > 0);
        let (pos, mask) = if padded {
            assert_eq!(cache.pads.len(), b, "one padding per row");
            let last = self.block_size - 1;
            let pos: Vec<i32> =
                cache.pads.iter().flat_map(|&p| (start..start + n).map(move |col| col.saturating_sub(p).min(last) as i32)).collect();
            let tk = start + n;
            let mask: Vec<f32> = cache.pads.iter().flat_map(|&p| (0..tk).map(move |col| if col < p { PAD_SCORE } else { 0.0 })).collect();
            let pos = Tensor::<2, Int>::from_data(TensorData::new(pos, [b, n]), &device); // (B, n)
            (pos, Some(Tensor::<4>::from_data(TensorData::new(mask, [b, 1, 1, tk]), &device)))
        } else {
            assert!(start + n <= self.block_size, "{start} cached + {n} new positions exceed block size {}", self.block_size);
            (Tensor::<1, Int>::arange(start as i64..(start + n) as i64, &device).unsqueeze::<2>(), None) // (1, n)
        };
        let mut x = self.wte.forward(idx) + self.wpe.forward(pos); // (B, n, C)
        let mut past = std::mem::take(&mut cache.layers).into_iter();
        for block in &self.blocks {
            let (y, kv) = block.forward_cached(x, past.next(), mask.as_ref(), self.kernels);
            x = y;
            cache.layers.push(kv);
        }
        cache.len = start + n;
        self.lm_head(layer_norm(&self.ln_f, x, self.kernels))
    }

    /// Tied LM head: logits = h · Wteᵀ, (B, T, C) → (B, T, V).
    pub fn lm_head(&self, h: Tensor<3>) -> Tensor<3> {
        let [b, t, c] = h.dims();
        let w = self.wte.weight.val(); // (V, C)
        let v = w.dims()[0];
        h.reshape([b * t, c]).matmul(w.transpose()).reshape([b, t, v])
    }
}

impl Gpt {
    /// log p(target) = log softmax(logits)[target] at every position: logits
    /// (B, T, V) of this model, targets (B, T) → (B, T). Cross-entropy is its
    /// negative mean; PPO and the KL view reuse it per token. (Our CPU kernel on
    /// flex where the model runs it, burn's log-softmax and gather elsewhere.)
    pub fn token_log_probs(&self, logits: Tensor<3>, targets: Tensor<2, Int>) -> Tensor<2> {
        crate::kernels::token_log_probs(logits, targets, self.kernels)
    }

    /// Mean next-token cross-entropy over all positions.
    pub fn cross_entropy(&self, logits: Tensor<3>, targets: Tensor<2, Int>) -> Tensor<1> {
        self.token_log_probs(logits, targets).mean().neg()
    }
}
