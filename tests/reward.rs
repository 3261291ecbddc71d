//! The reward model's mechanics on an untrained micro GPT (flex CPU, fast): a batch
//! of prompts with all their pairs is fitted, the statistics are those of the batch,
//! and normalising centres the demonstrations at 0 without changing any order.
//! (How it generalises to held-out rankings is the whole-pipeline test's job.)

use burn::prelude::*;
use pollster::block_on;
use rlhf_playground::corpus::Lang;
use rlhf_playground::lab::Lab;
use rlhf_playground::model::Preset;
use rlhf_playground::rank::{Comparison, Labeler, pairs_from_ranking};
use rlhf_playground::reward::{RewardModel, RewardTrainer, demonstration_mean, pair_accuracy, pair_agreement, score};
use rlhf_playground::sft;
use rlhf_playground::train::OptimConfig;

fn comparison(prompt: &str, answers: &[&str], ranks: &[u32]) -> Comparison {
    Comparison {
        prompt: prompt.into(),
        answers: answers.iter().map(|a| a.to_string()).collect(),
        pairs: pairs_from_ranking(ranks),
        labeler: Labeler::Human,
    }
}

#[test]
fn the_reward_model_fits_its_pairs_and_normalises_to_the_demonstrations() {
    let device = Device::flex();
    let lab = Lab::new(Preset::Micro, 1, Lang::En, &device).unwrap();
    let tok = &lab.tokenizer;
    let batch = [
        comparison("Q: What does the fox eat?\n", &["A: The fox eats berries.", "A: I don't know.", "A: The fox eats hay."], &[0, 1, 2]),
        comparison("Q: What color is the frog?\n", &["A: The frog is red.", "A: The frog is green."], &[1, 0]),
        // All tied: no pair, skipped.
        comparison("Q: Where is the park?\n", &["A: Near.", "A: Far."], &[0, 0]),
    ];
    let refs: Vec<&Comparison> = batch.iter().collect();
    let optim = OptimConfig { lr: 3e-3, warmup_steps: 0, weight_decay: 0.0, grad_clip_norm: 1.0 };
    let mut rm = RewardTrainer::new(lab.pretrainer.trainable_model(), lab.model_cfg.n_embd, 0.0, optim, &device);
    let first = block_on(rm.step_batch(tok, &refs)).unwrap();
    assert!((first.loss - std::f32::consts::LN_2).abs() < 1e-4, "a zero head scores every answer 0: loss ln 2, got {}", first.loss);
    assert_eq!((first.mean_reward, first.min_reward, first.max_reward), (0.0, 0.0, 0.0));
    let mut last = first.clone();
    for _ in 0..30 {
        last = block_on(rm.step_batch(tok, &refs)).unwrap();
    }
    assert!(last.loss < 0.1 && last.accuracy == 1.0 && last.margin > 1.0, "{last:?}");
    assert!(last.min_reward < last.mean_reward && last.mean_reward < last.max_reward);
    assert_eq!(block_on(pair_accuracy(&rm.model(), tok, &batch, &device)).unwrap(), 1.0);
    // 4 pairs from 2 prompts (the tied one has none), all ordered right: with every
    // prompt agreeing the interval is Wilson's for 2 of 2 units, [0.342, 1].
    let agreement = block_on(pair_agreement(&rm.model(), tok, &batch, &device)).unwrap();
    assert_eq!((agreement.mean, agreement.n, agreement.clusters), (1.0, 4, 2));
    assert!((agreement.low - 0.3424).abs() < 1e-3 && agreement.high == 1.0, "{agreement:?}");
    // No pairs at all: no accuracy to claim (NaN), where pair_accuracy says chance.
    let tied = block_on(pair_agreement(&rm.model(), tok, &batch[2..], &device)).unwrap();
    assert!(tied.mean.is_nan() && tied.n == 0, "{tied:?}");
    assert_eq!(block_on(pair_accuracy(&rm.model(), tok, &batch[2..], &device)).unwrap(), 0.5);

    let demos = sft::demonstrations(Lang::En);
    let before = block_on(score(&rm.model(), tok, &batch[0].prompt, &batch[0].answers, &device)).unwrap();
    let shift = block_on(rm.normalize(tok, &demos)).unwrap();
    let after = block_on(score(&rm.model(), tok, &batch[0].prompt, &batch[0].answers, &device)).unwrap();
    for (b, a) in before.iter().zip(&after) {
        assert!((b - shift - a).abs() < 1e-4, "every score moves by the same shift");
    }
    assert!(block_on(demonstration_mean(&rm.model(), tok, &demos, &device)).unwrap().abs() < 1e-4);
    // Training goes on from the normalised head.
    block_on(rm.step_batch(tok, &refs)).unwrap();
}

#[test]
fn the_fluency_read_out_is_the_backbones_mean_answer_log_likelihood() {
    let device = Device::flex();
    let lab = Lab::new(Preset::Micro, 1, Lang::En, &device).unwrap();
    let tok = &lab.tokenizer;
    let gpt = lab.pretrainer.model();
    let rm = RewardModel::from_sft(gpt.clone(), lab.model_cfg.n_embd, 0.5, &device);
    let (prompt, answers) = ("Q: What does the fox eat?\n", ["A: The fox eats mice.".to_string(), "A: No.".to_string()]);
    let scores = block_on(score(&rm, tok, prompt, &answers, &device)).unwrap();
    for (a, r) in answers.iter().zip(scores) {
        // By hand: end-of-text + prompt + answer + end-of-text through the LM, the
        // log-probabilities of the answer's tokens and the final end-of-text.
        let p = tok.encode(prompt);
        let mut ids = vec![tok.eot()];
        ids.extend(&p);
        ids.extend(tok.encode(a));
        ids.push(tok.eot());
        let n = ids.len();
        let as_i32: Vec<i32> = ids.iter().map(|&x| x as i32).collect();
        let logits = gpt.forward(Tensor::from_data(TensorData::new(as_i32[..n - 1].to_vec(), [1, n - 1]), &device));
        let lp: Vec<f32> = burn::tensor::activation::log_softmax(logits, 2).into_data().try_to_vec::<f32>().unwrap();
        let v = tok.vocab_size();
        let answer_lp: Vec<f32> = (1 + p.len()..n).map(|t| lp[(t - 1) * v + ids[t] as usize]).collect();
        let mean = answer_lp.iter().sum::<f32>() / answer_lp.len() as f32;
        assert!((r - 0.5 * mean).abs() < 1e-4, "{a}: reward {r}, expected 0.5 × {mean} (zero head)");
    }
}
