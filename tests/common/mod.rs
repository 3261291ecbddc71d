//! Shared set-up of the pipeline tests: a micro model pretrained and fine-tuned on
//! the CPU, and comparisons "the right fact beats a wrong one" from the world.
#![allow(dead_code)]

use burn::prelude::*;
use pollster::block_on;
use rlhf_playground::corpus::Lang;
use rlhf_playground::lab::Lab;
use rlhf_playground::model::Preset;
use rlhf_playground::rank::pairs_from_ranking;
use rlhf_playground::reward::{Comparison, RewardTrainer};
use rlhf_playground::sft::{self, SftConfig, SftTrainer};
use rlhf_playground::train::OptimConfig;
use serde_json::Value;

pub fn world() -> Value {
    serde_json::from_str(include_str!("../../data/en/world.json")).unwrap()
}

/// For an animal question, the right answer and three answers with another
/// animal's value for the same attribute (ranked: right first, the wrong ones tied).
pub fn comparison(world: &Value, prompt: &str) -> Option<Comparison> {
    let animals = world["animals"].as_object()?;
    let (name, facts) = animals.iter().find(|(a, _)| prompt.contains(&format!("the {a} ")))?;
    let (attr, template): (&str, fn(&str, &str) -> String) = if prompt.contains(" eat?") {
        ("food", |a, v| format!("A: The {a} eats {v}."))
    } else if prompt.contains(" live?") {
        ("home", |a, v| format!("A: The {a} lives in {v}."))
    } else if prompt.contains("color") {
        ("color", |a, v| format!("A: The {a} is {v}."))
    } else if prompt.contains("legs") {
        ("legs", |a, v| format!("A: The {a} has {v} legs."))
    } else {
        ("sound", |a, v| format!("A: The {a} {v}."))
    };
    let right = facts[attr].as_str()?;
    let mut wrong: Vec<&str> = animals.values().filter_map(|f| f[attr].as_str()).filter(|v| *v != right).collect();
    wrong.sort();
    wrong.dedup();
    let offset = prompt.len() % wrong.len().max(1);
    wrong.rotate_left(offset);
    let mut answers = vec![template(name, right)];
    answers.extend(wrong.iter().take(3).map(|v| template(name, v)));
    (answers.len() == 4).then(|| Comparison { prompt: prompt.to_string(), pairs: pairs_from_ranking(&[0, 1, 1, 1]), answers })
}

/// Pretraining (250 steps) then SFT (150 steps) on micro, seed 1.
pub fn pretrained_and_sft(device: &Device) -> (Lab, SftTrainer) {
    let mut lab = Lab::new(Preset::Micro, 1, Lang::En, device).unwrap();
    for _ in 0..250 {
        block_on(lab.pretrainer.step()).unwrap();
    }
    let mut sft = SftTrainer::new(lab.pretrainer.trainable_model(), &lab.tokenizer, &sft::demonstrations(Lang::En), SftConfig::for_preset(Preset::Micro), 2, device);
    for _ in 0..150 {
        block_on(sft.step()).unwrap();
    }
    (lab, sft)
}

/// Comparisons for the SFT and ranking prompts (training) and the evaluation prompts (held out).
pub fn comparisons() -> (Vec<Comparison>, Vec<Comparison>) {
    let world = world();
    let prompts = sft::prompts(Lang::En);
    let train = sft::demonstrations(Lang::En).iter().map(|d| d.prompt.clone()).chain(prompts.rl.clone()).filter_map(|p| comparison(&world, &p)).collect();
    let held_out = prompts.eval.iter().filter_map(|p| comparison(&world, p)).collect();
    (train, held_out)
}

pub fn rm_optim() -> OptimConfig {
    OptimConfig { lr: 2e-3, warmup_steps: 10, weight_decay: 0.0, grad_clip_norm: 1.0 }
}

/// A reward model trained `epochs` times over `train`; returns it and each step's log.
pub fn train_reward_model(lab: &Lab, sft: &SftTrainer, train: &[Comparison], epochs: usize, device: &Device) -> (RewardTrainer, Vec<rlhf_playground::reward::RewardStep>) {
    let mut rm = RewardTrainer::new(sft.trainable_model(), lab.model_cfg.n_embd, rm_optim(), device);
    let mut log = vec![];
    for _ in 0..epochs {
        for c in train {
            log.push(block_on(rm.step(&lab.tokenizer, c)).unwrap());
        }
    }
    (rm, log)
}
