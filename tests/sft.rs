//! SFT on the micro preset (flex CPU): the answer-only mask, the loss falling, and
//! the lesson the stage exists for — the base model continues a question with more
//! questions, the fine-tuned one answers.

use burn::prelude::*;
use pollster::block_on;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rlhf_playground::corpus::Lang;
use rlhf_playground::lab::Lab;
use rlhf_playground::model::{Gpt, Preset};
use rlhf_playground::sample::{SampleConfig, generate};
use rlhf_playground::sft::{self, Demonstration, Example, SftConfig, SftTrainer};
use rlhf_playground::tokenizer::Tokenizer;

#[test]
fn the_mask_covers_exactly_the_answer_and_its_end() {
    let lab = Lab::new(Preset::Micro, 1, Lang::En, &Device::flex()).unwrap();
    let tok = &lab.tokenizer;
    let demo = Demonstration { prompt: "Q: What does the fox eat?\n".into(), answer: "A: The fox eats berries.".into() };
    let e = Example::encode(tok, &demo, 64);
    let width = e.tokens.len() - 1 + 3; // as if padded by three
    let mask = e.answer_mask(width);
    let answer_targets: Vec<u32> = (0..width).filter(|&t| mask[t] == 1.0).map(|t| e.tokens[t + 1]).collect();
    let mut expected = tok.encode(&demo.answer);
    expected.push(tok.eot());
    assert_eq!(answer_targets, expected, "the mask selects the answer tokens and the final end-of-text");
    assert_eq!(tok.decode(&e.tokens[1..e.answer_start]), demo.prompt);
    // Too long for the block: cut, answer start kept inside it.
    let short = Example::encode(tok, &demo, 6);
    assert_eq!(short.tokens.len(), 7);
    assert!(short.answer_start <= 6);
}

/// Greedy continuations of `prompts`; returns how many start with "A:" and with "Q:".
fn answer_and_question_counts(model: &Gpt, tok: &Tokenizer, prompts: &[String], device: &Device) -> (usize, usize) {
    let cfg = SampleConfig { temperature: 0.0, top_k: 0, max_new_tokens: 4 };
    let mut rng = StdRng::seed_from_u64(0);
    let (mut a, mut q) = (0, 0);
    for p in prompts {
        let out = block_on(generate(model, tok.eot(), &tok.encode(p), &cfg, Some(tok.eot()), &mut rng, device)).unwrap();
        let text = tok.decode(&out);
        a += text.trim_start().starts_with("A:") as usize;
        q += text.trim_start().starts_with("Q:") as usize;
    }
    (a, q)
}

#[test]
fn sft_turns_a_question_continuer_into_an_answerer() {
    let device = Device::flex();
    let mut lab = Lab::new(Preset::Micro, 1, Lang::En, &device).unwrap();
    for _ in 0..250 {
        block_on(lab.pretrainer.step()).unwrap();
    }
    let eval = sft::prompts(Lang::En).eval;
    let base = lab.pretrainer.model();
    let (base_a, base_q) = answer_and_question_counts(&base, &lab.tokenizer, &eval, &device);

    let demos = sft::demonstrations(Lang::En);
    let mut sft =
        SftTrainer::new(lab.pretrainer.trainable_model(), &lab.tokenizer, &demos, SftConfig::for_preset(Preset::Micro), 2, &device);
    let steps: Vec<_> = (0..150).map(|_| block_on(sft.step()).unwrap()).collect();
    let mean =
        |s: &[rlhf_playground::sft::SftStep], f: fn(&rlhf_playground::sft::SftStep) -> f32| s.iter().map(f).sum::<f32>() / s.len() as f32;
    let (first, last) = (&steps[..10], &steps[steps.len() - 10..]);
    eprintln!(
        "SFT loss {:.3} -> {:.3}, token accuracy {:.3} -> {:.3}, entropy {:.3} -> {:.3}",
        mean(first, |s| s.loss),
        mean(last, |s| s.loss),
        mean(first, |s| s.mean_token_accuracy),
        mean(last, |s| s.mean_token_accuracy),
        mean(first, |s| s.entropy),
        mean(last, |s| s.entropy)
    );
    assert!(mean(last, |s| s.loss) < 0.6 * mean(first, |s| s.loss));
    assert!(mean(last, |s| s.mean_token_accuracy) > mean(first, |s| s.mean_token_accuracy) + 0.2);

    let tuned = sft.model();
    let (sft_a, sft_q) = answer_and_question_counts(&tuned, &lab.tokenizer, &eval, &device);
    eprintln!("held-out prompts ({}): base answers {base_a}, asks {base_q}; SFT answers {sft_a}, asks {sft_q}", eval.len());
    assert!(base_q > base_a, "the base model should continue questions with questions");
    assert!(sft_a * 10 >= eval.len() * 9, "SFT should answer held-out prompts ({sft_a}/{})", eval.len());
    assert!(sft_q < base_q);
}

#[test]
fn a_typed_demonstration_is_put_in_the_template() {
    let d = Demonstration::from_user(Lang::En, "  What does the owl eat? ", "Mice.");
    assert_eq!(d, Demonstration { prompt: "Q: What does the owl eat?\n".into(), answer: "A: Mice.".into() });
    let d = Demonstration::from_user(Lang::En, "Q: Where is the owl?", "A: In the barn.");
    assert_eq!((d.prompt.as_str(), d.answer.as_str()), ("Q: Where is the owl?\n", "A: In the barn."), "markers are not doubled");
    let d = Demonstration::from_user(Lang::Zh, "猫头鹰吃什么？", "老鼠。");
    assert_eq!((d.prompt.as_str(), d.answer.as_str()), ("问：猫头鹰吃什么？\n", "答：老鼠。"));
}
