//! The reward model on the micro preset (flex CPU): trained on comparisons "the
//! right fact beats a wrong one" for some prompts, it must order the answers of
//! prompts it never saw.

mod common;

use burn::prelude::*;
use pollster::block_on;
use rlhf_playground::reward::score;

#[test]
fn the_reward_model_learns_comparisons_and_generalises_to_new_prompts() {
    let device = Device::flex();
    let (lab, sft) = common::pretrained_and_sft(&device);
    let (train, held_out) = common::comparisons();
    assert!(train.len() >= 30 && held_out.len() >= 6, "{} train, {} held-out prompts", train.len(), held_out.len());

    let epochs = 12;
    let (rm, log) = common::train_reward_model(&lab, &sft, &train, epochs, &device);
    let n = train.len();
    for (epoch, chunk) in log.chunks(n).enumerate() {
        let avg = |f: fn(&rlhf_playground::reward::RewardStep) -> f32| chunk.iter().map(f).sum::<f32>() / n as f32;
        eprintln!("epoch {epoch}: loss {:.3}, accuracy {:.3}, margin {:.3}", avg(|s| s.loss), avg(|s| s.accuracy), avg(|s| s.margin));
    }
    let first_loss = log[..n].iter().map(|s| s.loss).sum::<f32>() / n as f32;
    let last_loss = log[log.len() - n..].iter().map(|s| s.loss).sum::<f32>() / n as f32;
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
