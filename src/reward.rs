//! The reward model (InstructGPT step 2): the SFT network with a scalar head read
//! at the answer's last token (its end-of-text). Trained on comparisons with
//! −log σ(r_w − r_l); all the pairs of one prompt form one batch, so each answer is
//! scored once however many pairs it is in (InstructGPT §3.5).
//!
//! One departure from InstructGPT, measured: the network keeps its (tied) LM head
//! as a second read-out, and r = head(h_last) + α · mean log p(answer tokens), α
//! learned. A tiny model's head alone does not learn from a few hundred rankings to
//! read what the network already knows — whether an answer is fluent and true —
//! and α = 0 turns this back into InstructGPT's reward model (`--rm-fluency 0`).

use crate::TrainError;
use crate::data::padded;
use crate::interval::{Interval, clustered_mean};
use crate::losses::pairwise_loss;
use crate::model::Gpt;
use crate::rank::{Comparison, Pair};
use crate::readback::read_vec;
use crate::sft::Demonstration;
use crate::tokenizer::Tokenizer;
use crate::train::{Fitter, OptimConfig};
use burn::module::{Initializer, Param};
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use serde::Serialize;

#[derive(Module, Debug)]
pub struct RewardModel {
    backbone: Gpt,
    /// (C) → 1: the scalar reward. Starts at zero, so every answer starts at r = 0.
    head: Linear,
    /// α, the weight of the second read-out: the mean log-likelihood the backbone's
    /// own (tied) LM head gives the answer's tokens. Learned; 0 = InstructGPT's
    /// head alone. Why: the SFT network already knows which answers are fluent and
    /// true, but a head at the last token cannot learn to read that from a few
    /// hundred comparisons — on `micro` (seed 1) the head alone orders 0.65–0.72 of
    /// the held-out pairs like the persona, the SFT likelihood alone 0.89, both
    /// together, trained, 0.88–0.91.
    fluency: Param<Tensor<1>>,
}

impl RewardModel {
    /// From the SFT model (InstructGPT starts the RM from the SFT weights); α starts
    /// at `fluency` (see the field).
    pub fn from_sft(backbone: Gpt, n_embd: usize, fluency: f32, device: &Device) -> Self {
        let head = LinearConfig::new(n_embd, 1).with_initializer(Initializer::Zeros).init(device);
        let fluency = Param::from_tensor(Tensor::from_data(TensorData::new(vec![fluency], [1]), device));
        Self { backbone, head, fluency }
    }

    /// The scalar head at every position: ids (B, T) → (B, T). The reward model reads
    /// it at the answer's end; PPO's value network (initialised from the reward
    /// model) reads it at every answer token.
    pub fn per_position(&self, ids: Tensor<2, Int>) -> Tensor<2> {
        let (h, _) = self.backbone.hidden(ids); // (B, T, C)
        self.head.forward(h).squeeze_dim::<2>(2)
    }

    /// Rewards of B sequences: ids (B, T), `last` (B) = index of each answer's last
    /// token, `answer` (B, T−1) = 1 where the next token is the answer's:
    /// r = head(h_last) + α · mean log p(answer tokens).
    pub fn forward(&self, ids: Tensor<2, Int>, last: Tensor<1, Int>, answer: Tensor<2>) -> Tensor<1> {
        let [b, t] = ids.dims();
        let (h, _) = self.backbone.hidden(ids.clone()); // (B, T, C)
        let r = self.head.forward(h.clone()).squeeze_dim::<2>(2); // (B, T)
        let r = r.gather(1, last.unsqueeze_dim::<2>(1)).squeeze_dim::<1>(1); // (B): read at the answer's end
        let logits = self.backbone.lm_head(h.slice([0..b, 0..t - 1])); // (B, T-1, V)
        let lp = self.backbone.token_log_probs(logits, ids.slice([0..b, 1..t])); // (B, T-1)
        let mean_lp = (lp * answer.clone()).sum_dim(1).squeeze_dim::<1>(1) / answer.sum_dim(1).squeeze_dim::<1>(1).clamp_min(1.0);
        r + mean_lp * self.fluency.val()
    }

    /// The same reward model with α = 0: the scalar head alone. The β = 0 run
    /// optimises this, because the likelihood read-out rewards what SFT finds
    /// likely — a KL anchor of its own that would hide what β does.
    pub fn without_likelihood(mut self) -> Self {
        self.fluency = Param::from_tensor(self.fluency.val().zeros_like());
        self
    }

    /// What a PPO run with KL weight `beta` optimises: this reward model, or at
    /// β = 0 (no anchor at all) its head alone. The one place that rule lives, for
    /// the runner and the page.
    pub fn proxy_for(self, beta: f32) -> Self {
        if beta > 0.0 { self } else { self.without_likelihood() }
    }

    /// The learned α.
    pub async fn fluency_weight(&self) -> Result<f32, TrainError> {
        crate::readback::read_scalar(self.fluency.val()).await
    }

    pub fn block_size(&self) -> usize {
        self.backbone.block_size()
    }
}

/// One prompt's answers, ready to score: end-of-text + prompt + answer + end-of-text,
/// right-padded; the reward is read at the final end-of-text.
pub struct Scored {
    pub ids: Tensor<2, Int>,
    pub last: Tensor<1, Int>,
    /// (B, T−1): 1 where the next token (target) is an answer token.
    pub answer: Tensor<2>,
}

pub fn encode_answers(tok: &Tokenizer, prompt: &str, answers: &[String], block: usize, device: &Device) -> Scored {
    let pairs: Vec<(&str, &str)> = answers.iter().map(|a| (prompt, a.as_str())).collect();
    encode_pairs(tok, &pairs, block, device)
}

/// [`encode_answers`] for (prompt, answer) pairs with prompts of their own.
pub fn encode_pairs(tok: &Tokenizer, pairs: &[(&str, &str)], block: usize, device: &Device) -> Scored {
    let mut starts = vec![];
    // Pairs that share a prompt come together: its encoding is kept for the next.
    let mut last_head: Option<(&str, Vec<u32>)> = None;
    let rows: Vec<Vec<u32>> = pairs
        .iter()
        .map(|&(prompt, a)| {
            if last_head.as_ref().is_none_or(|(p, _)| *p != prompt) {
                let mut head = vec![tok.eot()];
                head.extend(tok.encode(prompt));
                last_head = Some((prompt, head));
            }
            let head = &last_head.as_ref().unwrap().1;
            let mut ids = head.clone();
            ids.extend(tok.encode(a));
            ids.push(tok.eot());
            let skip = ids.len().saturating_sub(block); // keep the end: that is where r is read
            starts.push(head.len().saturating_sub(skip).max(1));
            ids.split_off(skip)
        })
        .collect();
    let width = rows.iter().map(Vec::len).max().unwrap_or(1).max(2);
    let mask: Vec<f32> = rows.iter().zip(&starts).flat_map(|(r, &st)| crate::sft::answer_mask(st, r.len(), width - 1)).collect();
    let last: Vec<i32> = rows.iter().map(|r| r.len() as i32 - 1).collect();
    let flat: Vec<i32> = rows.iter().flat_map(|r| padded(r, tok.eot(), width)).collect();
    Scored {
        ids: Tensor::from_data(TensorData::new(flat, [rows.len(), width]), device),
        last: Tensor::from_data(TensorData::new(last, [rows.len()]), device),
        answer: Tensor::from_data(TensorData::new(mask, [rows.len(), width - 1]), device),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RewardStep {
    pub step: usize,
    pub loss: f32,
    /// Fraction of this batch's pairs the model orders right.
    pub accuracy: f32,
    /// Mean r_w − r_l.
    pub margin: f32,
    /// Mean, lowest and highest reward of this batch's answers.
    pub mean_reward: f32,
    pub min_reward: f32,
    pub max_reward: f32,
}

pub struct RewardTrainer {
    fitter: Fitter<RewardModel>,
    block: usize,
    device: Device,
}

fn pair_indices(pairs: &[Pair], device: &Device) -> (Tensor<1, Int>, Tensor<1, Int>) {
    let idx = |f: fn(&Pair) -> usize| {
        Tensor::from_data(TensorData::new(pairs.iter().map(|p| f(p) as i32).collect::<Vec<_>>(), [pairs.len()]), device)
    };
    (idx(|p| p.chosen), idx(|p| p.rejected))
}

impl RewardTrainer {
    /// `sft` is the SFT model on an autodiff device.
    pub fn new(sft: Gpt, n_embd: usize, fluency: f32, cfg: OptimConfig, device: &Device) -> Self {
        let device = device.clone().autodiff();
        let block = sft.block_size();
        Self { fitter: Fitter::new(RewardModel::from_sft(sft, n_embd, fluency, &device), cfg), block, device }
    }

    pub fn model(&self) -> RewardModel {
        self.fitter.model.valid()
    }

    /// A trainer that goes on from a reward model read from a checkpoint (on the
    /// autodiff device) that had trained `steps` steps.
    pub fn resumed(model: RewardModel, steps: usize, cfg: OptimConfig, device: &Device) -> Self {
        let block = model.block_size();
        let mut fitter = Fitter::new(model, cfg);
        fitter.restart_from(fitter.model.clone(), steps);
        Self { fitter, block, device: device.clone().autodiff() }
    }

    pub fn step_count(&self) -> usize {
        self.fitter.step_count()
    }

    /// The trained reward model with autodiff: PPO's value network starts here.
    pub fn trainable_model(&self) -> RewardModel {
        self.fitter.model.clone()
    }

    /// One step on all the pairs of one prompt.
    pub async fn step(&mut self, tok: &Tokenizer, c: &Comparison) -> Result<RewardStep, TrainError> {
        self.step_batch(tok, &[c]).await
    }

    /// One step on several prompts, each with all its pairs (InstructGPT's batch
    /// element is one prompt's K·(K−1)/2 comparisons): the loss is the mean over
    /// the prompts of each prompt's mean pair loss.
    pub async fn step_batch(&mut self, tok: &Tokenizer, batch: &[&Comparison]) -> Result<RewardStep, TrainError> {
        let (mut losses, mut diffs, mut rewards) = (vec![], vec![], vec![]);
        for c in batch.iter().filter(|c| !c.pairs.is_empty()) {
            let s = encode_answers(tok, &c.prompt, &c.answers, self.block, &self.device);
            let r = self.fitter.model.forward(s.ids, s.last, s.answer); // (K)
            let (w, l) = pair_indices(&c.pairs, &self.device);
            let (chosen, rejected) = (r.clone().select(0, w), r.clone().select(0, l)); // (P) each
            diffs.push((chosen.clone() - rejected.clone()).detach());
            losses.push(pairwise_loss(chosen, rejected));
            rewards.push(r.detach());
        }
        if losses.is_empty() {
            return Err(TrainError::NoPairs);
        }
        let n = losses.len() as f64;
        let loss = Tensor::cat(losses, 0).sum() / n;
        let (diff, r) = (Tensor::cat(diffs, 0), Tensor::cat(rewards, 0));
        let stats =
            Tensor::cat(vec![diff.clone().greater_elem(0.0).float().mean(), diff.mean(), r.clone().mean(), r.clone().min(), r.max()], 0);
        let (loss, _) = self.fitter.step(loss).await?;
        let st = read_vec(stats).await?;
        Ok(RewardStep {
            step: self.fitter.step_count(),
            loss,
            accuracy: st[0],
            margin: st[1],
            mean_reward: st[2],
            min_reward: st[3],
            max_reward: st[4],
        })
    }

    /// Shifts the head's bias so the SFT demonstrations score 0 on average
    /// (InstructGPT normalises its RM this way): a PPO score above 0 then means
    /// "better than the demonstrations", and the value network starts centred.
    /// Returns the shift. The pairwise loss only sees differences, so this changes
    /// no comparison.
    pub async fn normalize(&mut self, tok: &Tokenizer, demos: &[Demonstration]) -> Result<f32, TrainError> {
        let shift = demonstration_mean(&self.model(), tok, demos, &self.device.clone().inner()).await?;
        let head = &mut self.fitter.model.head;
        head.bias = head.bias.take().map(|b| b.map(|t| Tensor::from_inner(t.inner() - shift)));
        Ok(shift)
    }
}

/// Mean score of the demonstrations' answers (0 after [`RewardTrainer::normalize`]).
pub async fn demonstration_mean(model: &RewardModel, tok: &Tokenizer, demos: &[Demonstration], device: &Device) -> Result<f32, TrainError> {
    let mut total = 0.0;
    for d in demos {
        total += score(model, tok, &d.prompt, std::slice::from_ref(&d.answer), device).await?[0];
    }
    Ok(total / demos.len().max(1) as f32)
}

/// Fraction of `comparisons`' pairs that `model` orders like their labeler did:
/// the held-out pair accuracy (0.5 = chance, and what it says of no pairs).
pub async fn pair_accuracy(model: &RewardModel, tok: &Tokenizer, comparisons: &[Comparison], device: &Device) -> Result<f32, TrainError> {
    Ok(pair_agreement(model, tok, comparisons, device).await?.mean_or(0.5))
}

/// [`pair_accuracy`] with its 95 % interval, clustered by prompt (a prompt's pairs
/// share its answers, so they are not independent); `n` is the number of pairs,
/// and with none the mean is NaN.
pub async fn pair_agreement(
    model: &RewardModel,
    tok: &Tokenizer,
    comparisons: &[Comparison],
    device: &Device,
) -> Result<Interval, TrainError> {
    let mut clusters = vec![];
    for c in comparisons.iter().filter(|c| !c.pairs.is_empty()) {
        let r = score(model, tok, &c.prompt, &c.answers, device).await?;
        clusters.push(c.pairs.iter().map(|p| if r[p.chosen] > r[p.rejected] { 1.0 } else { 0.0 }).collect());
    }
    Ok(clustered_mean(&clusters, (0.0, 1.0)))
}

/// The pairs a labeler ordered one way and the scores order the other way (or
/// tie): where the reward model disagrees with the ranking.
pub fn disagreements(scores: &[f32], pairs: &[Pair]) -> Vec<Pair> {
    pairs.iter().filter(|p| scores[p.chosen] <= scores[p.rejected]).copied().collect()
}

/// Scores of `answers` to `prompt` under a reward model (no gradients).
pub async fn score(
    model: &RewardModel,
    tok: &Tokenizer,
    prompt: &str,
    answers: &[String],
    device: &Device,
) -> Result<Vec<f32>, TrainError> {
    let pairs: Vec<(&str, &str)> = answers.iter().map(|a| (prompt, a.as_str())).collect();
    score_pairs(model, tok, &pairs, device).await
}

/// [`score`] for (prompt, answer) pairs with prompts of their own, in one forward.
pub async fn score_pairs(model: &RewardModel, tok: &Tokenizer, pairs: &[(&str, &str)], device: &Device) -> Result<Vec<f32>, TrainError> {
    let s = encode_pairs(tok, pairs, model.block_size(), device);
    read_vec(model.forward(s.ids, s.last, s.answer)).await
}
