//! What the viewers draw: the most likely next tokens, and every layer's and
//! head's attention probabilities over a prompt.

use crate::TrainError;
use crate::data::ids_row;
use crate::model::Gpt;
use crate::readback::read_vec;
use crate::sample::{context, next_probs};
use crate::tokenizer::Tokenizer;
use burn::prelude::*;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct TokenProb {
    pub id: u32,
    pub text: String,
    pub prob: f32,
}

/// The `n` most likely next tokens after `prompt`, most likely first.
pub async fn top_next_tokens(model: &Gpt, tok: &Tokenizer, prompt: &str, n: usize, device: &Device) -> Result<Vec<TokenProb>, TrainError> {
    let ctx = context(tok.eot(), &tok.encode(prompt), model.block_size());
    let probs = next_probs(model, &ctx, device).await?;
    let mut order: Vec<usize> = (0..probs.len()).collect();
    order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]));
    Ok(order.into_iter().take(n).map(|i| TokenProb { id: i as u32, text: tok.token_text(i as u32), prob: probs[i] }).collect())
}

/// Attention probabilities of every layer and head over one sequence.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct AttentionMaps {
    /// The tokens on both axes, as text (the first is the end-of-text start marker).
    pub tokens: Vec<String>,
    pub n_layer: usize,
    pub n_head: usize,
    /// Row-major (layer, head, query t, key t).
    pub probs: Vec<f32>,
}

impl AttentionMaps {
    pub fn len(&self) -> usize {
        self.tokens.len()
    }
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }
    /// Row `query` of head `head` in layer `layer`: how much that position attends to each earlier one.
    pub fn row(&self, layer: usize, head: usize, query: usize) -> &[f32] {
        let t = self.len();
        let start = ((layer * self.n_head + head) * t + query) * t;
        &self.probs[start..start + t]
    }
}

pub async fn attention_maps(model: &Gpt, tok: &Tokenizer, prompt: &str, device: &Device) -> Result<AttentionMaps, TrainError> {
    let ctx = context(tok.eot(), &tok.encode(prompt), model.block_size());
    attention_maps_for(model, tok, &ctx, device).await
}

pub async fn attention_maps_for(model: &Gpt, tok: &Tokenizer, ctx: &[u32], device: &Device) -> Result<AttentionMaps, TrainError> {
    let (_, atts) = model.forward_with_attention(ids_row(ctx, device));
    let n_layer = atts.len();
    let n_head = atts.first().map(|a| a.dims()[1]).unwrap_or(0);
    // One readback for all layers: (L, 1, nh, T, T) stacked.
    let probs = read_vec(Tensor::stack::<5>(atts, 0)).await?;
    Ok(AttentionMaps { tokens: ctx.iter().map(|&id| tok.token_text(id)).collect(), n_layer, n_head, probs })
}
