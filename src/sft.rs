//! Supervised fine-tuning (InstructGPT step 1): the pretrained GPT learns from
//! prompt → answer demonstrations, with the loss counted on the answer tokens only.
//! Before SFT the model continues "Q: …" with more questions (that is what its
//! corpus does); after, it answers.

use crate::TrainError;
use crate::corpus::Lang;
use crate::data::padded;
use crate::losses::{masked_mean, sft_loss};
use crate::model::{Gpt, Preset};
use crate::readback::read_vec;
use crate::tokenizer::Tokenizer;
use crate::train::{Fitter, OptimConfig};
use burn::prelude::*;
use burn::tensor::activation::{log_softmax, softmax};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// One demonstration in the fixed template: `prompt` = "Q: …\n", `answer` = "A: …".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Demonstration {
    pub prompt: String,
    pub answer: String,
}

impl Demonstration {
    /// A demonstration typed by a user, put in the template the model was taught:
    /// "Q: …" plus a newline, "A: …" (markers of `lang`), surrounding blanks
    /// trimmed. Markers the user already wrote are kept, not doubled.
    pub fn from_user(lang: Lang, prompt: &str, answer: &str) -> Self {
        let mark = |text: &str, marker: &str| {
            let t = text.trim();
            if t.starts_with(marker) { t.to_string() } else { format!("{marker}{}{t}", if lang == Lang::En { " " } else { "" }) }
        };
        Self { prompt: format!("{}\n", mark(prompt, lang.question_marker())), answer: mark(answer, lang.answer_marker()) }
    }
}

/// Prompts held apart from the demonstrations: for ranking/PPO, and for evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prompts {
    pub rl: Vec<String>,
    pub eval: Vec<String>,
}

/// The shipped demonstrations of a language's world (`tools/make_corpus.py`).
pub fn demonstrations(lang: Lang) -> Vec<Demonstration> {
    let json = match lang {
        Lang::En => include_str!("../data/en/sft.json"),
        Lang::Zh => include_str!("../data/zh/sft.json"),
    };
    serde_json::from_str(json).expect("the shipped sft.json is valid")
}

pub fn prompts(lang: Lang) -> Prompts {
    let json = match lang {
        Lang::En => include_str!("../data/en/prompts.json"),
        Lang::Zh => include_str!("../data/zh/prompts.json"),
    };
    serde_json::from_str(json).expect("the shipped prompts.json is valid")
}

/// A tokenised demonstration: end-of-text, prompt, answer, end-of-text. The final
/// end-of-text is part of the answer: the model must learn where to stop.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    pub tokens: Vec<u32>,
    /// Index in `tokens` of the first answer token.
    pub answer_start: usize,
}

impl Example {
    /// Cut to `block + 1` tokens (the training window), keeping the answer's start.
    pub fn encode(tok: &Tokenizer, demo: &Demonstration, block: usize) -> Self {
        let mut tokens = vec![tok.eot()];
        tokens.extend(tok.encode(&demo.prompt));
        let answer_start = tokens.len().min(block);
        tokens.extend(tok.encode(&demo.answer));
        tokens.push(tok.eot());
        tokens.truncate(block + 1);
        Self { tokens, answer_start }
    }

    /// 1.0 where the *target* at position t (token t+1) belongs to the answer.
    pub fn answer_mask(&self, width: usize) -> Vec<f32> {
        answer_mask(self.answer_start, self.tokens.len(), width)
    }
}

/// For a sequence of `len` tokens whose answer starts at index `answer_start`: 1.0
/// at each of `width` positions t whose *target* (token t+1) is an answer token.
/// The SFT loss and the reward model's likelihood read-out count the same tokens.
pub fn answer_mask(answer_start: usize, len: usize, width: usize) -> Vec<f32> {
    (0..width).map(|t| if t + 1 >= answer_start && t + 1 < len { 1.0 } else { 0.0 }).collect()
}

/// Right-pads examples with end-of-text to one (B, T) batch; padding is masked out.
pub fn batch(examples: &[&Example], pad: u32, device: &Device) -> (Tensor<2, Int>, Tensor<2, Int>, Tensor<2>) {
    let width = examples.iter().map(|e| e.tokens.len() - 1).max().unwrap_or(1);
    let (mut inputs, mut targets, mut mask) = (vec![], vec![], vec![]);
    for e in examples {
        let row = padded(&e.tokens, pad, width + 1);
        inputs.extend_from_slice(&row[..width]);
        targets.extend_from_slice(&row[1..]);
        mask.extend(e.answer_mask(width));
    }
    let shape = [examples.len(), width];
    (
        Tensor::from_data(TensorData::new(inputs, shape), device),
        Tensor::from_data(TensorData::new(targets, shape), device),
        Tensor::from_data(TensorData::new(mask, shape), device),
    )
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SftConfig {
    pub batch_size: usize,
    pub optim: OptimConfig,
}

impl SftConfig {
    pub fn for_preset(preset: Preset) -> Self {
        let optim = |lr| OptimConfig { lr, warmup_steps: 5, weight_decay: 0.0, grad_clip_norm: 1.0 };
        match preset {
            Preset::Micro => Self { batch_size: 8, optim: optim(1e-3) },
            Preset::Small => Self { batch_size: 16, optim: optim(5e-4) },
        }
    }
}

/// What one SFT step measured (names as in TRL's SFT trainer).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SftStep {
    pub step: usize,
    pub loss: f32,
    /// How often the most likely token is the demonstration's token (answer tokens).
    pub mean_token_accuracy: f32,
    /// Mean entropy of the next-token distribution on answer tokens, in nats.
    pub entropy: f32,
}

pub struct SftTrainer {
    fitter: Fitter,
    pub cfg: SftConfig,
    examples: Vec<Example>,
    pad: u32,
    rng: StdRng,
    device: Device,
}

impl SftTrainer {
    /// `base` is the pretrained model on an autodiff device (`Pretrainer::trainable_model`).
    pub fn new(base: Gpt, tok: &Tokenizer, demos: &[Demonstration], cfg: SftConfig, seed: u64, device: &Device) -> Self {
        let block = base.block_size();
        let examples = demos.iter().map(|d| Example::encode(tok, d, block)).collect();
        let device = device.clone().autodiff();
        Self { fitter: Fitter::new(base, cfg.optim.clone()), cfg, examples, pad: tok.eot(), rng: StdRng::seed_from_u64(seed), device }
    }

    pub fn step_count(&self) -> usize {
        self.fitter.step_count()
    }

    /// Goes on from weights read from a checkpoint (on the autodiff device) that
    /// had trained `steps` steps.
    pub fn resume(&mut self, model: Gpt, steps: usize) {
        self.fitter.restart_from(model, steps);
    }

    /// The fine-tuned model without autodiff, for sampling.
    pub fn model(&self) -> Gpt {
        self.fitter.model.valid()
    }

    /// The fine-tuned weights with autodiff: the reward model and PPO start here.
    pub fn trainable_model(&self) -> Gpt {
        self.fitter.model.clone()
    }

    /// One AdamW step on a random batch of demonstrations.
    pub async fn step(&mut self) -> Result<SftStep, TrainError> {
        let picked: Vec<&Example> =
            (0..self.cfg.batch_size).map(|_| &self.examples[self.rng.random_range(0..self.examples.len())]).collect();
        let (inputs, targets, mask) = batch(&picked, self.pad, &self.device);
        let logits = self.fitter.model.forward(inputs); // (B, T, V)
        let loss = sft_loss(self.fitter.model.token_log_probs(logits.clone(), targets.clone()), mask.clone());
        // Diagnostics on the same forward pass, without gradients.
        let logits = logits.detach();
        let correct = logits.clone().argmax(2).squeeze_dim::<2>(2).equal(targets).float();
        let entropy = (softmax(logits.clone(), 2) * log_softmax(logits, 2)).sum_dim(2).squeeze_dim::<2>(2).neg();
        let diagnostics = Tensor::cat(vec![masked_mean(correct, mask.clone()), masked_mean(entropy, mask)], 0);
        let (loss, _) = self.fitter.step(loss).await?;
        let d = read_vec(diagnostics).await?;
        Ok(SftStep { step: self.step_count(), loss, mean_token_accuracy: d[0], entropy: d[1] })
    }
}
