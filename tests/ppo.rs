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
use rlhf_playground::ppo::{PpoConfig, PpoStats, PpoTrainer};
use rlhf_playground::reward::RewardModel;
use rlhf_playground::sft;

#[test]
fn one_ppo_iteration_keeps_everything_per_token() {
    let device = Device::flex();
    let lab = Lab::new(Preset::Micro, 1, Lang::En, &device).unwrap();
    let policy = lab.pretrainer.trainable_model();
    let reward_model = RewardModel::from_sft(lab.pretrainer.trainable_model(), lab.model_cfg.n_embd, 0.0, &device.clone().autodiff());
    let cfg = PpoConfig {
        gamma_ptx: 1.0,
        rollout_size: 4,
        samples_per_prompt: 2,
        minibatch_size: 2,
        ppo_epochs: 2,
        max_new_tokens: 8,
        ..PpoConfig::default()
    };
    let mut ppo = PpoTrainer::new(policy, reward_model, sft::prompts(Lang::En).rl, lab.split.train.clone(), cfg, 3, &device);
    let (m, rollouts) = block_on(ppo.step(&lab.tokenizer)).unwrap();
    let m = m.expect("short prompts leave room to answer");
    for (key, v) in m.named() {
        assert!(v.is_finite(), "{key} = {v}");
    }
    assert_eq!(PpoStats::NAMES.len(), 16);
    assert_eq!(m.named().map(|(k, _)| k), PpoStats::NAMES);
    assert!(m.ptx_loss > 1.0, "an untrained model's pretraining loss is high: {}", m.ptx_loss);
    // First epoch's first minibatch: the policy has not moved, so the ratio starts at 1.
    assert!((m.ratio - 1.0).abs() < 0.2, "{}", m.ratio);
    // A kept history read back by name gives the same metrics; a name missing
    // there (an older file) is NaN.
    let kept: std::collections::BTreeMap<&str, f32> = m.named().into_iter().collect();
    assert_eq!(PpoStats::from_named(|k| kept.get(k).copied()), m);
    assert!(PpoStats::from_named(|k| (k != "val/answer_tokens").then_some(1.0)).answer_tokens.is_nan());
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

#[test]
fn rewards_are_normalised_scores_less_their_siblings_mean() {
    // A reward model that reads the answer's likelihood (α = 1) gives every answer
    // its own score; 2 prompts × 4 answers.
    let device = Device::flex();
    let lab = Lab::new(Preset::Micro, 2, Lang::En, &device).unwrap();
    let reward_model = RewardModel::from_sft(lab.pretrainer.trainable_model(), lab.model_cfg.n_embd, 1.0, &device.clone().autodiff());
    let (mean, std) = (-3.0, 2.0);
    let cfg = PpoConfig {
        rollout_size: 8,
        samples_per_prompt: 4,
        minibatch_size: 4,
        ppo_epochs: 1,
        max_new_tokens: 6,
        score_mean: mean,
        score_std: std,
        score_clip: 100.0,
        leave_one_out: true,
        ..PpoConfig::default()
    };
    let mut ppo = PpoTrainer::new(
        lab.pretrainer.trainable_model(),
        reward_model,
        sft::prompts(Lang::En).rl,
        lab.split.train.clone(),
        cfg,
        5,
        &device,
    );
    let (_, rollouts) = block_on(ppo.step(&lab.tokenizer)).unwrap();
    let z = |s: f32| (s - mean) / std;
    let mut groups: std::collections::BTreeMap<&str, Vec<&rlhf_playground::ppo::Rollout>> = Default::default();
    for r in &rollouts {
        groups.entry(r.prompt.as_str()).or_default().push(r);
    }
    let distinct: std::collections::BTreeSet<u32> = rollouts.iter().map(|r| r.score.to_bits()).collect();
    assert!(distinct.len() > 2, "the scores differ: {:?}", rollouts.iter().map(|r| r.score).collect::<Vec<_>>());
    for (p, g) in &groups {
        let total: f32 = g.iter().map(|r| z(r.score)).sum();
        for r in g.iter().filter(|_| g.len() > 1) {
            let others = (total - z(r.score)) / (g.len() - 1) as f32;
            assert!((r.reward - (z(r.score) - others)).abs() < 1e-4, "{p}: reward {} for score {}", r.reward, r.score);
            assert!(
                (r.rewards.last().unwrap() - r.reward).abs() < 1e-4,
                "the reward sits on the last token (policy = reference: no KL yet)"
            );
        }
        if g.len() > 1 {
            assert!(g.iter().map(|r| r.reward).sum::<f32>().abs() < 1e-3, "leave-one-out rewards of one prompt sum to 0");
        }
    }
    // Clipped: no reward beyond ±score_clip.
    let cfg = PpoConfig {
        rollout_size: 4,
        samples_per_prompt: 1,
        max_new_tokens: 6,
        score_mean: 10.0,
        score_std: 0.5,
        score_clip: 0.3,
        ..PpoConfig::default()
    };
    let reward_model = RewardModel::from_sft(lab.pretrainer.trainable_model(), lab.model_cfg.n_embd, 1.0, &device.clone().autodiff());
    let mut ppo = PpoTrainer::new(
        lab.pretrainer.trainable_model(),
        reward_model,
        sft::prompts(Lang::En).rl,
        lab.split.train.clone(),
        cfg,
        6,
        &device,
    );
    let (_, rollouts) = block_on(ppo.step(&lab.tokenizer)).unwrap();
    assert!(
        rollouts.iter().all(|r| (r.reward + 0.3).abs() < 1e-6),
        "scores far below the mean clip at −0.3: {:?}",
        rollouts.iter().map(|r| r.reward).collect::<Vec<_>>()
    );
}
