//! PPO's mechanics on an untrained micro GPT (flex CPU, fast): one iteration with
//! PPO-ptx keeps, for every sampled answer, one log π, log π_ref, value, reward,
//! advantage and return per token (what the KL heatmap draws), puts the score on
//! the last token, whitens the advantages, and reports TRL's metrics. (That PPO
//! raises the reward is the whole-pipeline test's job.)

use burn::prelude::*;
use pollster::block_on;
use rlhf_playground::corpus::Lang;
use rlhf_playground::lab::Lab;
use rlhf_playground::model::Preset;
use rlhf_playground::ppo::{PpoConfig, PpoTrainer};
use rlhf_playground::reward::RewardModel;
use rlhf_playground::sft;

#[test]
fn one_ppo_iteration_keeps_everything_per_token() {
    let device = Device::flex();
    let lab = Lab::new(Preset::Micro, 1, Lang::En, &device).unwrap();
    let policy = lab.pretrainer.trainable_model();
    let reward_model = RewardModel::from_sft(lab.pretrainer.trainable_model(), lab.model_cfg.n_embd, 0.0, &device.clone().autodiff());
    let cfg = PpoConfig { gamma_ptx: 1.0, rollout_size: 4, samples_per_prompt: 2, minibatch_size: 2, ppo_epochs: 2, max_new_tokens: 8, ..PpoConfig::default() };
    let mut ppo = PpoTrainer::new(policy, reward_model, sft::prompts(Lang::En).rl, lab.split.train.clone(), cfg, 3, &device);
    let (m, rollouts) = block_on(ppo.step(&lab.tokenizer)).unwrap();
    for key in ["objective/scores", "objective/kl", "objective/entropy", "objective/non_score_reward", "objective/rlhf_reward", "policy/approxkl_avg", "policy/clipfrac_avg", "loss/policy_avg", "loss/value_avg", "loss/ptx_avg", "val/ratio", "val/clipfrac_avg", "eps"] {
        assert!(m[key].is_finite(), "{key} = {:?}", m.get(key));
    }
    assert!(m["loss/ptx_avg"] > 1.0, "an untrained model's pretraining loss is high: {}", m["loss/ptx_avg"]);
    // First epoch's first minibatch: the policy has not moved, so the ratio starts at 1.
    assert!((m["val/ratio"] - 1.0).abs() < 0.2, "{}", m["val/ratio"]);
    assert!(!rollouts.is_empty());
    let mut prompts: Vec<&str> = rollouts.iter().map(|r| r.prompt.as_str()).collect();
    prompts.dedup();
    assert!(prompts.len() <= 2, "4 answers, 2 per prompt: at most 2 prompts, {prompts:?}");
    let mut advantages = vec![];
    for r in &rollouts {
        let n = r.answer_ids.len();
        for v in [&r.log_probs, &r.ref_log_probs, &r.entropies, &r.values, &r.rewards, &r.advantages, &r.returns] {
            assert_eq!(v.len(), n, "one number per sampled token");
        }
        // An untrained model over 512 tokens is close to uniform: entropy near ln 512.
        assert!(r.entropies.iter().all(|&h| h > 0.5 * 512f32.ln() && h <= 512f32.ln() + 1e-3), "{:?}", r.entropies);
        // Policy = reference before the first update: the KL and its penalty are 0.
        assert!(r.kl().abs() < 1e-4);
        assert!((r.rewards[n - 1] - r.score).abs() < 1e-4, "the score sits on the last token");
        // An untrained model rarely ends: the missing end is penalised (zero head → score = −penalty).
        if !r.ended {
            assert!((r.score + 1.0).abs() < 1e-4);
        }
        advantages.extend(&r.advantages);
    }
    let mean = advantages.iter().sum::<f32>() / advantages.len() as f32;
    assert!(mean.abs() < 1e-3, "whitened advantages have mean 0: {mean}");
}
