//! Direct preference optimisation (Rafailov et al. 2023) on the same ranked pairs
//! the reward model learns from: the policy starts at SFT and is fitted to the
//! pairs directly, its implicit reward β·log π(y)/π_ref(y) standing in for a
//! reward model, with SFT as the frozen reference. No sampling, no value network:
//! what PPO buys over it is what the evaluation compares.

use crate::TrainError;
use crate::losses::dpo_loss;
use crate::model::Gpt;
use crate::rank::Comparison;
use crate::readback::read_vec;
use crate::reward::{Scored, encode_answers};
use crate::tokenizer::Tokenizer;
use crate::train::{Fitter, OptimConfig};
use burn::prelude::*;
use serde::Serialize;
use std::collections::HashMap;

/// One DPO step, with TRL's DPO metrics (`rewards/…` are implicit rewards).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DpoStep {
    pub step: usize,
    pub loss: f32,
    /// Fraction of this batch's pairs whose chosen answer has the higher implicit
    /// reward, and the mean margin.
    pub accuracy: f32,
    pub margin: f32,
    /// Mean implicit reward of the chosen and of the rejected answers.
    pub chosen: f32,
    pub rejected: f32,
}

/// Each answer's log-probability under `model`, summed over its tokens: (K).
pub fn sequence_log_probs(model: &Gpt, s: &Scored) -> Tensor<1> {
    let [k, t] = s.ids.dims();
    let logits = model.forward(s.ids.clone().narrow(1, 0, t - 1));
    let targets = s.ids.clone().narrow(1, 1, t - 1);
    (model.token_log_probs(logits, targets) * s.answer.clone()).sum_dim(1).reshape([k])
}

/// The policy's implicit reward per answer token, β·(log π − log π_ref) at each
/// token: what DPO's policy "pays" for each word, beside the reward model's score.
pub async fn implicit_reward_per_token(
    policy: &Gpt,
    reference: &Gpt,
    tok: &Tokenizer,
    prompt: &str,
    answer: &str,
    beta: f32,
    device: &Device,
) -> Result<Vec<(String, f32)>, TrainError> {
    let s = encode_answers(tok, prompt, &[answer.to_string()], policy.block_size(), device);
    let [_, t] = s.ids.dims();
    let targets = s.ids.clone().narrow(1, 1, t - 1);
    let lp = |m: &Gpt| m.token_log_probs(m.forward(s.ids.clone().narrow(1, 0, t - 1)), targets.clone());
    let diff = read_vec((lp(policy) - lp(reference)) * beta).await?;
    let (mask, ids) = (read_vec(s.answer).await?, crate::readback::read_ints(targets).await?);
    Ok(ids.iter().zip(&mask).zip(diff).filter(|((_, m), _)| **m > 0.0).map(|((&id, _), r)| (tok.decode(&[id]), r)).collect())
}

pub struct DpoTrainer {
    fitter: Fitter,
    reference: Gpt,
    pub beta: f32,
    block: usize,
    device: Device,
    reference_cache: HashMap<(String, Vec<String>), Vec<f32>>,
}

impl DpoTrainer {
    /// `policy` on an autodiff device (SFT's weights), `reference` without (SFT).
    pub fn new(policy: Gpt, reference: Gpt, beta: f32, cfg: OptimConfig, device: &Device) -> Self {
        let block = policy.block_size();
        Self {
            fitter: Fitter::new(policy, cfg),
            reference,
            beta,
            block,
            device: device.clone().autodiff(),
            reference_cache: HashMap::new(),
        }
    }

    /// Goes on from a kept policy (on the autodiff device) that had trained `steps`
    /// steps, with a fresh optimiser (a checkpoint keeps weights, not AdamW's moments).
    pub fn resumed(policy: Gpt, reference: Gpt, beta: f32, steps: usize, cfg: OptimConfig, device: &Device) -> Self {
        let mut t = Self::new(policy, reference, beta, cfg, device);
        t.fitter.restart_from(t.fitter.model.clone(), steps);
        t
    }

    pub fn policy(&self) -> Gpt {
        self.fitter.model.valid()
    }

    pub fn reference(&self) -> &Gpt {
        &self.reference
    }

    pub fn step_count(&self) -> usize {
        self.fitter.step_count()
    }

    /// log π_ref of a comparison's answers: the reference never changes, so each
    /// prompt's are computed once.
    async fn reference_log_probs(&mut self, tok: &Tokenizer, c: &Comparison) -> Result<Vec<f32>, TrainError> {
        let key = (c.prompt.clone(), c.answers.clone());
        if let Some(v) = self.reference_cache.get(&key) {
            return Ok(v.clone());
        }
        let s = encode_answers(tok, &c.prompt, &c.answers, self.block, &self.device.clone().inner());
        let v = read_vec(sequence_log_probs(&self.reference, &s)).await?;
        self.reference_cache.insert(key, v.clone());
        Ok(v)
    }

    /// One step on several prompts, each with all its pairs: the mean over prompts
    /// of each prompt's mean DPO loss (the reward model's batching).
    pub async fn step_batch(&mut self, tok: &Tokenizer, batch: &[&Comparison]) -> Result<DpoStep, TrainError> {
        let (mut losses, mut chosen, mut rejected) = (vec![], vec![], vec![]);
        for c in batch.iter().filter(|c| !c.pairs.is_empty()) {
            let reference = self.reference_log_probs(tok, c).await?;
            let reference = Tensor::<1>::from_data(TensorData::new(reference, [c.answers.len()]), &self.device); // (K), no graph
            let s = encode_answers(tok, &c.prompt, &c.answers, self.block, &self.device);
            let policy = sequence_log_probs(&self.fitter.model, &s); // (K)
            let w = Tensor::from_data(
                TensorData::new(c.pairs.iter().map(|p| p.chosen as i32).collect::<Vec<_>>(), [c.pairs.len()]),
                &self.device,
            );
            let l = Tensor::from_data(
                TensorData::new(c.pairs.iter().map(|p| p.rejected as i32).collect::<Vec<_>>(), [c.pairs.len()]),
                &self.device,
            );
            let pick = |x: &Tensor<1>, i: &Tensor<1, Int>| x.clone().select(0, i.clone());
            let (pw, pl, rw, rl) = (pick(&policy, &w), pick(&policy, &l), pick(&reference, &w), pick(&reference, &l));
            chosen.push(((pw.clone() - rw.clone()) * self.beta).detach());
            rejected.push(((pl.clone() - rl.clone()) * self.beta).detach());
            losses.push(dpo_loss(pw, pl, rw, rl, self.beta));
        }
        if losses.is_empty() {
            return Err(TrainError::NoPairs);
        }
        let n = losses.len() as f64;
        let loss = Tensor::cat(losses, 0).sum() / n;
        let (chosen, rejected) = (Tensor::cat(chosen, 0), Tensor::cat(rejected, 0));
        let margin = chosen.clone() - rejected.clone();
        let stats = Tensor::cat(vec![margin.clone().greater_elem(0.0).float().mean(), margin.mean(), chosen.mean(), rejected.mean()], 0);
        let (loss, _) = self.fitter.step(loss).await?;
        let st = read_vec(stats).await?;
        Ok(DpoStep { step: self.fitter.step_count(), loss, accuracy: st[0], margin: st[1], chosen: st[2], rejected: st[3] })
    }
}
