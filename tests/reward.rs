//! The reward model on the micro preset (flex CPU): trained on comparisons "the
//! right fact beats a wrong one" for some prompts, it must order the answers of
//! prompts it never saw.

use burn::prelude::*;
use pollster::block_on;
use rlhf_playground::corpus::Lang;
use rlhf_playground::lab::Lab;
use rlhf_playground::model::Preset;
use rlhf_playground::rank::pairs_from_ranking;
use rlhf_playground::reward::{Comparison, RewardTrainer, score};
use rlhf_playground::sft::{self, SftConfig, SftTrainer};
use rlhf_playground::train::OptimConfig;
use serde_json::Value;

/// For an animal question, the right answer and three answers with another
/// animal's value for the same attribute (ranked: right first, the wrong ones tied).
fn comparison(world: &Value, prompt: &str) -> Option<Comparison> {
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

#[test]
fn the_reward_model_learns_comparisons_and_generalises_to_new_prompts() {
    let world: Value = serde_json::from_str(include_str!("../data/en/world.json")).unwrap();
    let device = Device::flex();
    let mut lab = Lab::new(Preset::Micro, 1, Lang::En, &device).unwrap();
    for _ in 0..250 {
        block_on(lab.pretrainer.step()).unwrap();
    }
    let mut sft = SftTrainer::new(lab.pretrainer.trainable_model(), &lab.tokenizer, &sft::demonstrations(Lang::En), SftConfig::for_preset(Preset::Micro), 2, &device);
    for _ in 0..150 {
        block_on(sft.step()).unwrap();
    }
    let prompts = sft::prompts(Lang::En);
    let train: Vec<Comparison> = sft::demonstrations(Lang::En).iter().map(|d| d.prompt.clone()).chain(prompts.rl.clone()).filter_map(|p| comparison(&world, &p)).collect();
    let held_out: Vec<Comparison> = prompts.eval.iter().filter_map(|p| comparison(&world, p)).collect();
    assert!(train.len() >= 30 && held_out.len() >= 6, "{} train, {} held-out prompts", train.len(), held_out.len());

    let cfg = OptimConfig { lr: 2e-3, warmup_steps: 10, weight_decay: 0.0, grad_clip_norm: 1.0 };
    let mut rm = RewardTrainer::new(sft.trainable_model(), lab.model_cfg.n_embd, cfg, &device);
    let mut log = vec![];
    for epoch in 0..12 {
        for c in &train {
            log.push(block_on(rm.step(&lab.tokenizer, c)).unwrap());
        }
        let n = train.len();
        let last = &log[log.len() - n..];
        eprintln!("epoch {epoch}: loss {:.3}, accuracy {:.3}, margin {:.3}", last.iter().map(|s| s.loss).sum::<f32>() / n as f32, last.iter().map(|s| s.accuracy).sum::<f32>() / n as f32, last.iter().map(|s| s.margin).sum::<f32>() / n as f32);
    }
    let first_loss = log[..train.len()].iter().map(|s| s.loss).sum::<f32>() / train.len() as f32;
    let last_loss = log[log.len() - train.len()..].iter().map(|s| s.loss).sum::<f32>() / train.len() as f32;
    assert!(last_loss < first_loss - 0.2, "RM loss {first_loss} -> {last_loss}");

    let model = rm.model();
    let (mut right, mut total) = (0, 0);
    for c in &held_out {
        let r = block_on(score(&model, &lab.tokenizer, &c.prompt, &c.answers, &device)).unwrap();
        for p in &c.pairs {
            right += (r[p.chosen] > r[p.rejected]) as usize;
            total += 1;
        }
    }
    let accuracy = right as f32 / total as f32;
    eprintln!("held-out pair accuracy {accuracy:.3} ({right}/{total}) on {} unseen prompts", held_out.len());
    assert!(accuracy >= 0.75, "held-out pair accuracy {accuracy}");
}
