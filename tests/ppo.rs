//! PPO on the micro preset (flex CPU), from SFT against a reward model trained on
//! the world's facts: the reward rises on prompts PPO never trained on, and without
//! the KL penalty (β = 0) the policy drifts further from SFT than with β = 0.1.

mod common;

use burn::prelude::*;
use pollster::block_on;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rlhf_playground::corpus::Lang;
use rlhf_playground::model::Gpt;
use rlhf_playground::persona::{Persona, Weights};
use rlhf_playground::ppo::{PpoConfig, PpoTrainer};
use rlhf_playground::reward::{RewardModel, score};
use rlhf_playground::sample::{SampleConfig, generate};
use rlhf_playground::sft;
use rlhf_playground::tokenizer::Tokenizer;

const SAMPLES: usize = 4;

/// `SAMPLES` sampled answers per prompt (fixed seed), prompt-major.
fn answers(policy: &Gpt, tok: &Tokenizer, prompts: &[String], device: &Device) -> Vec<String> {
    let cfg = SampleConfig { temperature: 1.0, top_k: 0, max_new_tokens: 16 };
    let mut rng = StdRng::seed_from_u64(99);
    let mut out = vec![];
    for p in prompts {
        for _ in 0..SAMPLES {
            let ids = block_on(generate(policy, tok.eot(), &tok.encode(p), &cfg, Some(tok.eot()), &mut rng, device)).unwrap();
            let text: Vec<u32> = ids.into_iter().filter(|&t| t != tok.eot()).collect();
            out.push(tok.decode(&text));
        }
    }
    out
}

/// Mean reward-model score of `answers` to `prompts`.
fn mean_score(answers: &[String], rm: &RewardModel, tok: &Tokenizer, prompts: &[String], device: &Device) -> f32 {
    let total: f32 = answers.iter().enumerate().map(|(i, a)| block_on(score(rm, tok, &prompts[i / SAMPLES], &[a.clone()], device)).unwrap()[0]).sum();
    total / answers.len() as f32
}

/// How often the persona prefers `a` over `b` (ties count half; 0.5 = no better).
fn win_rate(a: &[String], b: &[String], prompts: &[String]) -> f32 {
    let persona = Persona::new(Weights::default(), 0.0);
    let mut rng = StdRng::seed_from_u64(0);
    let wins: f32 = a.iter().zip(b).enumerate().map(|(i, (x, y))| {
        let (sx, sy) = (persona.score(&prompts[i / SAMPLES], x, &mut rng).total, persona.score(&prompts[i / SAMPLES], y, &mut rng).total);
        if sx > sy { 1.0 } else if sx == sy { 0.5 } else { 0.0 }
    }).sum();
    wins / a.len() as f32
}

#[test]
fn ppo_raises_the_reward_and_the_kl_penalty_holds_the_policy_near_sft() {
    let device = Device::flex();
    let (lab, sft_trainer) = common::pretrained_and_sft(&device);
    let (train, _) = common::comparisons();
    let (rm, _) = common::train_reward_model(&lab, &sft_trainer, &train, 12, &device);
    let tok = &lab.tokenizer;
    let prompts = sft::prompts(Lang::En);
    let reward_model = rm.model();

    let sft_answers = answers(&sft_trainer.model(), tok, &prompts.eval, &device);
    let before = mean_score(&sft_answers, &reward_model, tok, &prompts.eval, &device);
    let mut last_kl = vec![];
    let (mut after, mut wins) = (0.0, 0.0);
    for beta in [0.1f32, 0.0] {
        let cfg = PpoConfig { beta, ..PpoConfig::default() };
        let mut ppo = PpoTrainer::new(sft_trainer.trainable_model(), rm.trainable_model(), prompts.rl.clone(), lab.split.train.clone(), cfg, 3, &device);
        let mut kls = vec![];
        for it in 0..40 {
            let (m, _) = block_on(ppo.step(tok)).unwrap();
            if it % 10 == 9 {
                eprintln!("beta {beta} iteration {it}: {m:?}");
            }
            kls.push(m["objective/kl"]);
        }
        last_kl.push(kls[kls.len() - 10..].iter().sum::<f32>() / 10.0);
        if beta > 0.0 {
            let ppo_answers = answers(&ppo.policy(), tok, &prompts.eval, &device);
            after = mean_score(&ppo_answers, &reward_model, tok, &prompts.eval, &device);
            wins = win_rate(&ppo_answers, &sft_answers, &prompts.eval);
            for (p, (a, b)) in prompts.eval.iter().step_by(5).zip(ppo_answers.iter().step_by(5 * SAMPLES).zip(sft_answers.iter().step_by(5 * SAMPLES))) {
                eprintln!("{:?}: PPO {a:?} | SFT {b:?}", p.trim());
            }
        }
    }
    eprintln!("held-out mean RM score: SFT {before:.3} -> PPO(β=0.1) {after:.3}; persona win rate PPO vs SFT {wins:.3}; KL over the last 10 iterations: β=0.1 {:.3}, β=0 {:.3}", last_kl[0], last_kl[1]);
    assert!(after > before + 0.1, "PPO did not raise the held-out reward: {before} -> {after}");
    assert!(wins > 0.5, "the persona does not prefer PPO's answers: win rate {wins}");

    // PPO-ptx mixes the pretraining loss into the policy step and reports it.
    let cfg = PpoConfig { gamma_ptx: 1.0, ..PpoConfig::default() };
    let mut ptx = PpoTrainer::new(sft_trainer.trainable_model(), rm.trainable_model(), prompts.rl.clone(), lab.split.train.clone(), cfg, 3, &device);
    let (m, rollouts) = block_on(ptx.step(tok)).unwrap();
    assert!(m["loss/ptx_avg"] > 0.5 && m["loss/ptx_avg"].is_finite(), "{m:?}");
    let r = &rollouts[0];
    assert_eq!(r.log_probs.len(), r.answer_ids.len(), "one log-prob per sampled token, for the KL heatmap");
    assert_eq!(r.ref_log_probs.len(), r.answer_ids.len());
    assert!(last_kl[1] > last_kl[0], "β = 0 should drift further: {last_kl:?}");
}
