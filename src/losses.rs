//! The RLHF losses, each a few lines of visible math over burn tensors, in the
//! order the stages use them. Shapes: B sequences, T tokens; `mask` is 1.0 on the
//! tokens a loss counts (answer tokens) and 0.0 elsewhere (prompt, padding).

use burn::prelude::*;
use burn::tensor::activation::log_sigmoid;

/// Mean of `x` over the positions where `mask` is 1.
pub fn masked_mean(x: Tensor<2>, mask: Tensor<2>) -> Tensor<1> {
    (x * mask.clone()).sum() / mask.sum().clamp_min(1.0)
}

/// SFT: next-token cross-entropy counted on the answer tokens only, so the model
/// learns to *answer*, not to reproduce the prompt.
/// `token_log_probs` (B, T) = log p(target), `answer_mask` (B, T).
pub fn sft_loss(token_log_probs: Tensor<2>, answer_mask: Tensor<2>) -> Tensor<1> {
    masked_mean(token_log_probs, answer_mask).neg()
}

/// Reward model (InstructGPT eq. 1): −mean log σ(r_w − r_l) over the preference
/// pairs of a prompt. `chosen` and `rejected` are (P) rewards of the pairs' answers.
pub fn pairwise_loss(chosen: Tensor<1>, rejected: Tensor<1>) -> Tensor<1> {
    log_sigmoid(chosen - rejected).mean().neg()
}

/// DPO (Rafailov et al. 2023): the reward model's pairwise loss on the policy's
/// implicit reward β·(log π(y) − log π_ref(y)), so the policy itself is fitted to
/// the preference pairs with no reward model and no sampling. Sequence log-probs
/// of the pairs' chosen and rejected answers, (P) each.
pub fn dpo_loss(
    policy_chosen: Tensor<1>,
    policy_rejected: Tensor<1>,
    reference_chosen: Tensor<1>,
    reference_rejected: Tensor<1>,
    beta: f32,
) -> Tensor<1> {
    pairwise_loss((policy_chosen - reference_chosen) * beta, (policy_rejected - reference_rejected) * beta)
}

/// Per-token KL estimate between policy and reference on the sampled tokens:
/// log π(y_t) − log π_ref(y_t). Its expectation under π is KL(π‖π_ref); a single
/// sample can be negative — the panel says so instead of hiding it.
pub fn kl_per_token(policy_log_probs: Tensor<2>, reference_log_probs: Tensor<2>) -> Tensor<2> {
    policy_log_probs - reference_log_probs
}

/// Generalised advantage estimation over one answer's tokens (Schulman et al. 2016):
/// δ_t = r_t + γ·V_{t+1} − V_t, A_t = δ_t + γλ·A_{t+1}, with V after the last
/// token = 0. Returns (advantages, returns = advantages + values).
/// On the CPU: a backward recurrence over ≤ a few dozen numbers per answer.
pub fn gae(rewards: &[f32], values: &[f32], gamma: f32, lambda: f32) -> (Vec<f32>, Vec<f32>) {
    assert_eq!(rewards.len(), values.len());
    let n = rewards.len();
    let mut advantages = vec![0.0; n];
    let mut next_advantage = 0.0;
    for t in (0..n).rev() {
        let next_value = if t + 1 < n { values[t + 1] } else { 0.0 };
        let delta = rewards[t] + gamma * next_value - values[t];
        next_advantage = delta + gamma * lambda * next_advantage;
        advantages[t] = next_advantage;
    }
    let returns = advantages.iter().zip(values).map(|(a, v)| a + v).collect();
    (advantages, returns)
}

/// Shifts and scales advantages to mean 0, standard deviation 1 (over a rollout),
/// so the policy step size does not depend on the reward's scale.
pub fn whiten(x: &[f32]) -> Vec<f32> {
    let n = x.len().max(1) as f32;
    let mean = x.iter().sum::<f32>() / n;
    let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n;
    let std = (var + 1e-8).sqrt();
    x.iter().map(|v| (v - mean) / std).collect()
}

/// What the clipped surrogate computed besides its loss.
pub struct PolicyLoss {
    pub loss: Tensor<1>,
    /// Fraction of tokens whose ratio left [1−ε, 1+ε] where clipping bit.
    pub clip_frac: Tensor<1>,
    /// ½·mean((log π_new − log π_old)²): how far this minibatch moved the policy.
    pub approx_kl: Tensor<1>,
    pub ratio: Tensor<1>,
}

/// PPO's clipped surrogate (Schulman et al. 2017): with ρ = π_new/π_old,
/// loss = mean(max(−A·ρ, −A·clip(ρ, 1−ε, 1+ε))) over the answer tokens.
pub fn clipped_surrogate(
    new_log_probs: Tensor<2>,
    old_log_probs: Tensor<2>,
    advantages: Tensor<2>,
    mask: Tensor<2>,
    eps: f32,
) -> PolicyLoss {
    let log_ratio = new_log_probs - old_log_probs;
    let ratio = log_ratio.clone().exp();
    let unclipped = advantages.clone().neg() * ratio.clone();
    let clipped = advantages.neg() * ratio.clone().clamp(1.0 - eps, 1.0 + eps);
    let clip_frac = masked_mean(clipped.clone().greater(unclipped.clone()).float(), mask.clone());
    PolicyLoss {
        loss: masked_mean(unclipped.max_pair(clipped), mask.clone()),
        clip_frac,
        approx_kl: masked_mean(log_ratio.powf_scalar(2.0), mask.clone()) * 0.5,
        ratio: masked_mean(ratio, mask),
    }
}

/// PPO's clipped value loss: the value may move at most ε from its rollout value
/// before the squared error stops rewarding the move. Returns (loss, clip fraction).
pub fn clipped_value_loss(
    values: Tensor<2>,
    old_values: Tensor<2>,
    returns: Tensor<2>,
    mask: Tensor<2>,
    eps: f32,
) -> (Tensor<1>, Tensor<1>) {
    let clipped = old_values.clone() + (values.clone() - old_values).clamp(-eps, eps);
    let loss_unclipped = (values - returns.clone()).powf_scalar(2.0);
    let loss_clipped = (clipped - returns).powf_scalar(2.0);
    let clip_frac = masked_mean(loss_clipped.clone().greater(loss_unclipped.clone()).float(), mask.clone());
    (masked_mean(loss_unclipped.max_pair(loss_clipped), mask) * 0.5, clip_frac)
}
