//! PPO (InstructGPT step 3; Ziegler et al. 2019; TRL's PPO trainer): the policy
//! starts from SFT, the frozen reference is SFT, the value network starts from the
//! reward model. Each iteration samples answers, scores them, turns score and KL
//! into per-token rewards, estimates advantages with GAE, and takes several epochs
//! of clipped policy and value steps over minibatches of that rollout.

use crate::TrainError;
use crate::data::{Batch, padded};
use crate::kernels;
use crate::losses::{clipped_surrogate, clipped_value_loss, gae, whiten};
use crate::model::Gpt;
use crate::readback::read_vec;
use crate::reward::{RewardModel, score_pairs};
use crate::sample::{SampleConfig, generate_many};
use crate::tokenizer::Tokenizer;
use crate::train::{Fitter, OptimConfig};
use burn::prelude::*;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PpoConfig {
    /// KL weight: per-token reward −β·(log π − log π_ref). 0 lets the policy drift.
    pub beta: f32,
    /// If set, β adapts each iteration toward this KL per answer (Ziegler et al.).
    pub target_kl: Option<f32>,
    /// PPO-ptx: weight of the pretraining loss mixed into the policy loss (0 = off).
    pub gamma_ptx: f32,
    pub policy_optim: OptimConfig,
    pub value_optim: OptimConfig,
    /// Answers per rollout (rounded up to a multiple of `samples_per_prompt`).
    pub rollout_size: usize,
    /// Answers sampled for each prompt of a rollout (the rollout holds
    /// ⌈rollout_size / K⌉ prompts): several answers to one prompt let the
    /// whitened advantages compare answers to the same question.
    pub samples_per_prompt: usize,
    pub minibatch_size: usize,
    pub ppo_epochs: usize,
    pub max_new_tokens: usize,
    pub temperature: f32,
    /// ε of the ratio clip and of the value clip.
    pub clip_eps: f32,
    pub value_clip: f32,
    /// GAE discount γ and λ.
    pub discount: f32,
    pub lambda: f32,
    /// Subtracted from the score of an answer that never ended.
    pub missing_end_penalty: f32,
    /// The reward model's mean and spread on SFT's own answers: scores enter the
    /// rewards as (score − mean) / std, clipped to ±`score_clip`, so β and the
    /// missing-end penalty weigh the same on every seed (1 and 0 = raw scores).
    pub score_mean: f32,
    pub score_std: f32,
    pub score_clip: f32,
    /// Subtract the mean score of the prompt's other answers (RLOO's leave-one-out
    /// baseline; needs `samples_per_prompt` > 1): an answer is rewarded for being
    /// better than its siblings, not for drawing an easy prompt.
    pub leave_one_out: bool,
}

impl Default for PpoConfig {
    fn default() -> Self {
        let optim = |lr| OptimConfig { lr, warmup_steps: 0, weight_decay: 0.0, grad_clip_norm: 1.0 };
        Self {
            beta: 0.1,
            target_kl: None,
            gamma_ptx: 0.0,
            policy_optim: optim(3e-4),
            value_optim: optim(1e-3),
            rollout_size: 8,
            samples_per_prompt: 1,
            minibatch_size: 4,
            ppo_epochs: 4,
            // The longest answers (directions) take ~30 tokens.
            max_new_tokens: 40,
            temperature: 1.0,
            clip_eps: 0.2,
            value_clip: 0.2,
            discount: 1.0,
            lambda: 0.95,
            missing_end_penalty: 1.0,
            score_mean: 0.0,
            score_std: 1.0,
            score_clip: f32::INFINITY,
            leave_one_out: false,
        }
    }
}

/// One sampled answer and everything PPO computed about it, token by token —
/// what the per-token KL heatmap draws.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rollout {
    pub prompt: String,
    pub answer: String,
    /// end-of-text + prompt tokens.
    pub prefix: Vec<u32>,
    /// Sampled tokens (the last is end-of-text when the answer ended).
    pub answer_ids: Vec<u32>,
    pub ended: bool,
    /// Reward-model score (after the missing-end penalty).
    pub score: f32,
    /// What enters the rewards: the score normalised, clipped and, with
    /// `leave_one_out`, less its siblings' mean.
    pub reward: f32,
    pub log_probs: Vec<f32>,
    pub ref_log_probs: Vec<f32>,
    /// The policy's entropy at each answer position (nats).
    pub entropies: Vec<f32>,
    pub values: Vec<f32>,
    pub rewards: Vec<f32>,
    pub advantages: Vec<f32>,
    pub returns: Vec<f32>,
}

impl Rollout {
    /// Σ_t (log π − log π_ref): this answer's KL estimate (k1: unbiased, but one
    /// sampled token's log-ratio swings far either way).
    pub fn kl(&self) -> f32 {
        self.log_probs.iter().zip(&self.ref_log_probs).map(|(a, b)| a - b).sum()
    }

    /// Σ_t (ρ − 1) − log ρ with ρ = π_ref / π: Schulman's k3 estimator of the same
    /// KL, unbiased and never negative, with far less variance than k1.
    pub fn kl_k3(&self) -> f32 {
        self.log_probs.iter().zip(&self.ref_log_probs).map(|(a, b)| (b - a).exp() - 1.0 - (b - a)).sum()
    }
}

/// Rows of (prefix + answer) sequences, right-padded, with the answer tokens masked
/// in as *targets*: target index P−1+i holds answer token i.
struct Padded {
    inputs: Tensor<2, Int>,
    targets: Tensor<2, Int>,
    mask: Tensor<2>,
    /// (row, start target index, answer length) to read per-token values back.
    spans: Vec<(usize, usize)>,
    width: usize,
}

fn pad(rollouts: &[&Rollout], pad: u32, device: &Device) -> Padded {
    let width = rollouts.iter().map(|r| r.prefix.len() + r.answer_ids.len() - 1).max().unwrap_or(1);
    let (mut inputs, mut targets, mut mask, mut spans) = (vec![], vec![], vec![], vec![]);
    for r in rollouts {
        let seq = padded(&[r.prefix.as_slice(), r.answer_ids.as_slice()].concat(), pad, width + 1);
        inputs.extend_from_slice(&seq[..width]);
        targets.extend_from_slice(&seq[1..]);
        let start = r.prefix.len() - 1;
        mask.extend((0..width).map(|t| if t >= start && t < start + r.answer_ids.len() { 1.0f32 } else { 0.0 }));
        spans.push((start, r.answer_ids.len()));
    }
    let shape = [rollouts.len(), width];
    Padded {
        inputs: Tensor::from_data(TensorData::new(inputs, shape), device),
        targets: Tensor::from_data(TensorData::new(targets, shape), device),
        mask: Tensor::from_data(TensorData::new(mask, shape), device),
        spans,
        width,
    }
}

/// Per-token values laid out like `pad`'s targets (zeros off the answer).
fn per_token(rollouts: &[&Rollout], p: &Padded, f: fn(&Rollout) -> &Vec<f32>, device: &Device) -> Tensor<2> {
    let mut v = vec![0.0f32; rollouts.len() * p.width];
    for (row, (r, &(start, len))) in rollouts.iter().zip(&p.spans).enumerate() {
        v[row * p.width + start..row * p.width + start + len].copy_from_slice(&f(r)[..len]);
    }
    Tensor::from_data(TensorData::new(v, [rollouts.len(), p.width]), device)
}

struct Streams {
    prompts: StdRng,
    sampling: StdRng,
    minibatches: StdRng,
    ptx: StdRng,
}

impl Streams {
    fn new(seed: u64) -> Self {
        let s = |k: u64| StdRng::seed_from_u64(seed.wrapping_mul(4).wrapping_add(k));
        Self { prompts: s(0), sampling: s(1), minibatches: s(2), ptx: s(3) }
    }
}

pub struct PpoTrainer {
    policy: Fitter<Gpt>,
    value: Fitter<RewardModel>,
    reference: Gpt,
    reward_model: RewardModel,
    pub cfg: PpoConfig,
    /// The current KL weight (adapts when `target_kl` is set).
    pub beta: f32,
    prompts: Vec<String>,
    /// Corpus tokens for PPO-ptx batches.
    ptx_tokens: Vec<u32>,
    /// Separate random streams, so runs that differ in one setting (β, γ_ptx) still
    /// see the same prompts in the same order and the same ptx windows.
    rng: Streams,
    seed: u64,
    device: Device,
    iteration: usize,
}

/// Declares [`PpoStats`]: one field per metric, each with its name in TRL's
/// vocabulary (so the runner's JSON, the page's status and a kept chart's history
/// use the names TRL users know, while code reads typed fields).
macro_rules! ppo_stats {
    ($($(#[$doc:meta])* $field:ident => $name:literal,)*) => {
        /// What one PPO iteration reports.
        #[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
        pub struct PpoStats {
            $($(#[$doc])* pub $field: f32,)*
        }

        impl PpoStats {
            /// Every metric's TRL name, in the order of [`PpoStats::named`].
            pub const NAMES: [&'static str; [$($name),*].len()] = [$($name),*];

            /// Each metric with its TRL name.
            pub fn named(&self) -> [(&'static str, f32); Self::NAMES.len()] {
                [$(($name, self.$field)),*]
            }

            /// From metrics by name (a kept history); a metric missing there (a file
            /// from before it existed) is NaN, which charts leave out.
            pub fn from_named(get: impl Fn(&str) -> Option<f32>) -> Self {
                Self { $($field: get($name).unwrap_or(f32::NAN),)* }
            }
        }
    };
}

ppo_stats! {
    /// The reward model's (normalised) score, mean over the rollout.
    scores => "objective/scores",
    /// The sampling policy's entropy per answer token.
    entropy => "objective/entropy",
    /// Σ over an answer's tokens of log π − log π_ref, mean over answers.
    kl => "objective/kl",
    /// The same with Schulman's k3 estimator (never negative).
    kl_k3 => "objective/kl_k3",
    /// −β · KL.
    non_score_reward => "objective/non_score_reward",
    /// Score − β · KL: what PPO maximises.
    rlhf_reward => "objective/rlhf_reward",
    /// The share of answers that ended with end-of-text.
    eps => "eps",
    beta => "beta",
    policy_loss => "loss/policy_avg",
    ptx_loss => "loss/ptx_avg",
    value_loss => "loss/value_avg",
    approx_kl => "policy/approxkl_avg",
    clip_frac => "policy/clipfrac_avg",
    /// π / π_old, mean over answer tokens.
    ratio => "val/ratio",
    value_clip_frac => "val/clipfrac_avg",
    /// Not one of TRL's: the mean answer length in tokens (end-of-text not counted),
    /// the first thing to watch when labels reward brevity or an RM rewards length.
    answer_tokens => "val/answer_tokens",
}

/// What one minibatch update reports (averaged over an iteration's updates).
#[derive(Clone, Copy, Debug, Default)]
struct UpdateStats {
    policy_loss: f32,
    ptx_loss: f32,
    value_loss: f32,
    approx_kl: f32,
    clip_frac: f32,
    ratio: f32,
    value_clip_frac: f32,
}

impl std::ops::AddAssign for UpdateStats {
    fn add_assign(&mut self, o: Self) {
        self.policy_loss += o.policy_loss;
        self.ptx_loss += o.ptx_loss;
        self.value_loss += o.value_loss;
        self.approx_kl += o.approx_kl;
        self.clip_frac += o.clip_frac;
        self.ratio += o.ratio;
        self.value_clip_frac += o.value_clip_frac;
    }
}

impl PpoTrainer {
    /// `sft` (autodiff) becomes the policy and, frozen, the reference; `reward_model`
    /// (autodiff) scores answers and, trained further, becomes the value network.
    pub fn new(
        sft: Gpt,
        reward_model: RewardModel,
        prompts: Vec<String>,
        ptx_tokens: Vec<u32>,
        cfg: PpoConfig,
        seed: u64,
        device: &Device,
    ) -> Self {
        let device = device.clone().autodiff();
        Self {
            reference: sft.valid(),
            policy: Fitter::new(sft, cfg.policy_optim.clone()),
            reward_model: reward_model.valid(),
            value: Fitter::new(reward_model, cfg.value_optim.clone()),
            beta: cfg.beta,
            cfg,
            prompts,
            ptx_tokens,
            rng: Streams::new(seed),
            seed,
            device,
            iteration: 0,
        }
    }

    /// Goes on from a kept run: its policy, value network, iteration count and
    /// (adaptive) β. AdamW's moments start afresh, as after any resume, and the
    /// random streams restart from the seed mixed with the iteration, so two runs
    /// resumed together still see the same prompts.
    pub fn resume(&mut self, policy: Gpt, value: RewardModel, iteration: usize, beta: f32) {
        self.policy.restart_from(policy, 0);
        self.value.restart_from(value, 0);
        self.iteration = iteration;
        self.beta = beta;
        self.rng = Streams::new(self.seed ^ (iteration as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    }

    pub fn policy(&self) -> Gpt {
        self.policy.model.valid()
    }

    /// The value network without autodiff.
    pub fn value(&self) -> RewardModel {
        self.value.model.valid()
    }

    pub fn reference(&self) -> &Gpt {
        &self.reference
    }

    /// The frozen reward model the rollouts are scored with.
    pub fn reward_model(&self) -> &RewardModel {
        &self.reward_model
    }

    /// PPO iterations done.
    pub fn iteration(&self) -> usize {
        self.iteration
    }

    /// Samples one answer per prompt and computes log-probs, values, score, rewards,
    /// advantages and returns for each.
    pub async fn rollout(&mut self, tok: &Tokenizer, prompts: &[String]) -> Result<Vec<Rollout>, TrainError> {
        let plain = self.device.clone().inner();
        let policy = self.policy.model.valid();
        let sample = SampleConfig { temperature: self.cfg.temperature, top_k: 0, max_new_tokens: self.cfg.max_new_tokens };
        // All answers are sampled together: one forward per token for the whole
        // rollout (on a GPU, one group of a prompt's answers at a time). Each group of
        // equal prompts draws from its own stream, seeded from the sampling stream.
        let mut groups: Vec<(&String, usize)> = vec![];
        for prompt in prompts {
            match groups.last_mut() {
                Some((p, n)) if *p == prompt => *n += 1,
                _ => groups.push((prompt, 1)),
            }
        }
        let mut rollouts = Vec::with_capacity(prompts.len());
        // Groups of one size sample together; a rollout's groups are all one size
        // unless its size is not a multiple of the samples per prompt.
        let mut i = 0;
        while i < groups.len() {
            let k = groups[i].1;
            let same = groups[i..].iter().take_while(|g| g.1 == k).count();
            let batch = &groups[i..i + same];
            let ids: Vec<Vec<u32>> = batch.iter().map(|(p, _)| tok.encode(p)).collect();
            let mut rngs: Vec<StdRng> = batch.iter().map(|_| StdRng::seed_from_u64(self.rng.sampling.random())).collect();
            let answers = generate_many(&policy, tok.eot(), &ids, k, &sample, Some(tok.eot()), &mut rngs, &plain).await?;
            for (((prompt, _), ids), answers) in batch.iter().zip(ids).zip(answers) {
                let mut prefix = vec![tok.eot()];
                prefix.extend(ids);
                for answer_ids in answers {
                    let ended = answer_ids.last() == Some(&tok.eot());
                    rollouts.push(Rollout {
                        prompt: (*prompt).clone(),
                        answer: tok.decode_answer(&answer_ids),
                        prefix: prefix.clone(),
                        answer_ids,
                        ended,
                        score: 0.0,
                        reward: 0.0,
                        log_probs: vec![],
                        ref_log_probs: vec![],
                        entropies: vec![],
                        values: vec![],
                        rewards: vec![],
                        advantages: vec![],
                        returns: vec![],
                    });
                }
            }
            i += same;
        }
        rollouts.retain(|r| !r.answer_ids.is_empty());
        if rollouts.is_empty() {
            return Ok(rollouts);
        }
        // One forward of policy, reference and value over the whole rollout; per token
        // log π, log π_ref and H(π) in one pass (our `token_stats` kernel on a GPU);
        // one readback.
        let refs: Vec<&Rollout> = rollouts.iter().collect();
        let p = pad(&refs, tok.eot(), &plain);
        let (b, w) = (rollouts.len(), p.width);
        // On the CPU each forward runs as it is called: the page gets a turn between
        // them (three forwards of the whole rollout were one 200+ ms task).
        let logits = policy.forward(p.inputs.clone()); // (B, T, V)
        crate::breathe::breathe().await;
        let v = logits.dims()[2];
        let ref_logits = self.reference.forward(p.inputs.clone()).reshape([b * w, v]);
        crate::breathe::breathe().await;
        let stats = kernels::token_stats(logits.reshape([b * w, v]), ref_logits, p.targets.clone().reshape([b * w])); // (B·T, 3)
        let stats = stats.swap_dims(0, 1).reshape([3 * b, w]); // log π | log π_ref | H, each (B, T)
        let values = self.value.model.valid().per_position(p.inputs.clone());
        let all = read_vec(Tensor::cat(vec![stats, values], 0)).await?; // (4B, T)
        for (row, (r, &(start, len))) in rollouts.iter_mut().zip(&p.spans).enumerate() {
            let slice = |k: usize| all[(k * b + row) * w + start..(k * b + row) * w + start + len].to_vec();
            r.log_probs = slice(0);
            r.ref_log_probs = slice(1);
            r.entropies = slice(2);
            r.values = slice(3);
        }
        // The reward model scores every answer in one forward.
        let pairs: Vec<(&str, &str)> = rollouts.iter().map(|r| (r.prompt.as_str(), r.answer.as_str())).collect();
        let scores = score_pairs(&self.reward_model, tok, &pairs, &plain).await?;
        for (r, s) in rollouts.iter_mut().zip(scores) {
            r.score = if r.ended { s } else { s - self.cfg.missing_end_penalty };
            let c = self.cfg.score_clip;
            r.reward = ((r.score - self.cfg.score_mean) / self.cfg.score_std.max(1e-6)).clamp(-c, c);
        }
        if self.cfg.leave_one_out {
            let snapshot: Vec<(String, f32)> = rollouts.iter().map(|r| (r.prompt.clone(), r.reward)).collect();
            for r in rollouts.iter_mut() {
                let siblings: Vec<f32> = snapshot.iter().filter(|(p, _)| *p == r.prompt).map(|(_, x)| *x).collect();
                if siblings.len() > 1 {
                    r.reward -= (siblings.iter().sum::<f32>() - r.reward) / (siblings.len() - 1) as f32;
                }
            }
        }
        // Per-token rewards: −β·KL at every token, the reward added at the last one.
        for r in rollouts.iter_mut() {
            r.rewards = r.log_probs.iter().zip(&r.ref_log_probs).map(|(a, b)| -self.beta * (a - b)).collect();
            *r.rewards.last_mut().unwrap() += r.reward;
            let (adv, ret) = gae(&r.rewards, &r.values, self.cfg.discount, self.cfg.lambda);
            r.advantages = adv;
            r.returns = ret;
        }
        // Whiten advantages over the whole rollout.
        let flat: Vec<f32> = rollouts.iter().flat_map(|r| r.advantages.clone()).collect();
        let mut white = whiten(&flat).into_iter();
        for r in rollouts.iter_mut() {
            r.advantages = r.advantages.iter().map(|_| white.next().unwrap()).collect();
        }
        Ok(rollouts)
    }

    /// One PPO iteration: a rollout over random prompts, then `ppo_epochs` epochs of
    /// minibatch updates. Returns its metrics (`None` when no prompt left room for an
    /// answer, so nothing was trained) and the rollout.
    pub async fn step(&mut self, tok: &Tokenizer) -> Result<(Option<PpoStats>, Vec<Rollout>), TrainError> {
        let k = self.cfg.samples_per_prompt.max(1);
        let mut prompts: Vec<String> = vec![];
        for _ in 0..self.cfg.rollout_size.div_ceil(k) {
            let p = &self.prompts[self.rng.prompts.random_range(0..self.prompts.len())];
            prompts.extend(std::iter::repeat_n(p.clone(), k));
        }
        let rollouts = self.rollout(tok, &prompts).await?;
        if rollouts.is_empty() {
            return Ok((None, rollouts));
        }
        let n = rollouts.len() as f32;
        let mean = |f: &dyn Fn(&Rollout) -> f32| rollouts.iter().map(f).sum::<f32>() / n;
        let (scores, kl) = (mean(&|r| r.score), mean(&|r| r.kl()));
        // TRL's objective/entropy: the sampling policy's entropy per answer token.
        let tokens: usize = rollouts.iter().map(|r| r.entropies.len()).sum();
        let entropy = rollouts.iter().flat_map(|r| &r.entropies).sum::<f32>() / tokens.max(1) as f32;

        let (mut sums, mut count) = (UpdateStats::default(), 0.0);
        let mut order: Vec<usize> = (0..rollouts.len()).collect();
        for _ in 0..self.cfg.ppo_epochs {
            order.shuffle(&mut self.rng.minibatches);
            for chunk in order.chunks(self.cfg.minibatch_size) {
                let mb: Vec<&Rollout> = chunk.iter().map(|&i| &rollouts[i]).collect();
                sums += self.update(&mb, tok.eot()).await?;
                count += 1.0_f32;
            }
        }
        // No update (0 epochs): the losses were not measured.
        let avg = |x: f32| if count > 0.0 { x / count } else { f32::NAN };
        let stats = PpoStats {
            scores,
            entropy,
            kl,
            kl_k3: mean(&|r| r.kl_k3()),
            non_score_reward: -self.beta * kl,
            rlhf_reward: scores - self.beta * kl,
            eps: mean(&|r| r.ended as u8 as f32),
            beta: self.beta,
            policy_loss: avg(sums.policy_loss),
            ptx_loss: avg(sums.ptx_loss),
            value_loss: avg(sums.value_loss),
            approx_kl: avg(sums.approx_kl),
            clip_frac: avg(sums.clip_frac),
            ratio: avg(sums.ratio),
            value_clip_frac: avg(sums.value_clip_frac),
            answer_tokens: mean(&|r| (r.answer_ids.len() - r.ended as usize) as f32),
        };
        // Adaptive KL (Ziegler et al. 2019): proportional control of β toward the target.
        if let Some(target) = self.cfg.target_kl {
            let error = ((kl - target) / target).clamp(-0.2, 0.2);
            self.beta *= 1.0 + error * rollouts.len() as f32 / 100.0;
        }
        self.iteration += 1;
        Ok((Some(stats), rollouts))
    }

    async fn update(&mut self, mb: &[&Rollout], pad_id: u32) -> Result<UpdateStats, TrainError> {
        let d = self.device.clone();
        let p = pad(mb, pad_id, &d);
        let old_lp = per_token(mb, &p, |r| &r.log_probs, &d);
        let adv = per_token(mb, &p, |r| &r.advantages, &d);
        let old_values = per_token(mb, &p, |r| &r.values, &d);
        let returns = per_token(mb, &p, |r| &r.returns, &d);

        // Policy: clipped surrogate (+ γ_ptx × pretraining loss on a corpus batch).
        let logits = self.policy.model.forward(p.inputs.clone());
        let pl =
            clipped_surrogate(self.policy.model.token_log_probs(logits, p.targets.clone()), old_lp, adv, p.mask.clone(), self.cfg.clip_eps);
        let mut loss = pl.loss.clone();
        let mut ptx_loss = Tensor::<1>::zeros([1], &d);
        if self.cfg.gamma_ptx > 0.0 && self.ptx_tokens.len() > p.width + 1 {
            let b = Batch::random(&self.ptx_tokens, mb.len(), p.width, &mut self.rng.ptx);
            let (x, y) = b.to_tensors(&d);
            ptx_loss = self.policy.model.cross_entropy(self.policy.model.forward(x), y);
            loss = loss + ptx_loss.clone() * self.cfg.gamma_ptx as f64;
        }
        let diag = Tensor::cat(vec![pl.approx_kl, pl.clip_frac, pl.ratio, pl.loss.detach(), ptx_loss.detach()], 0);
        self.policy.step(loss).await?;

        // Value: clipped squared error toward the GAE returns.
        let values = self.value.model.per_position(p.inputs);
        let (value_loss, value_clip) = clipped_value_loss(values, old_values, returns, p.mask, self.cfg.value_clip);
        let value_clip = value_clip.detach();
        let (value_loss, _) = self.value.step(value_loss).await?;
        let dv = read_vec(Tensor::cat(vec![diag, value_clip], 0)).await?;
        Ok(UpdateStats {
            policy_loss: dv[3],
            ptx_loss: dv[4],
            value_loss,
            approx_kl: dv[0],
            clip_frac: dv[1],
            ratio: dv[2],
            value_clip_frac: dv[5],
        })
    }
}
