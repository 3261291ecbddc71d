//! Stage 2's driver: supervised fine-tuning of the pretrained model on the
//! demonstrations, with the pretrained model kept beside it as it was when SFT
//! started, so "before" and "after" answer the same prompts. The runner and the
//! page build SFT here with the preset's settings and seed.

use crate::TrainError;
use crate::lab::Lab;
use crate::model::Gpt;
use crate::sample::{SampleConfig, answer_texts};
use crate::sft::{Demonstration, SftConfig, SftStep, SftTrainer};
use rand::rngs::StdRng;
use serde::Serialize;

/// One prompt answered greedily by the pretrained and the fine-tuned model: the
/// base continues a question with more questions, SFT answers it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Watched {
    pub prompt: String,
    pub base: String,
    pub sft: String,
}

pub struct SftStage {
    pub trainer: SftTrainer,
    /// The pretrained model as SFT started from it.
    pub base: Gpt,
}

impl SftStage {
    /// SFT from the pretrained weights as they are now, on `demos`.
    pub fn new(lab: &Lab, demos: &[Demonstration]) -> Self {
        let cfg = SftConfig::for_preset(lab.preset);
        let trainer = SftTrainer::new(lab.pretrainer.trainable_model(), &lab.tokenizer, demos, cfg, lab.seed + 1, &lab.device);
        Self { trainer, base: lab.pretrainer.model() }
    }

    /// Goes on from a kept or imported SFT model (on the autodiff device) that had
    /// trained `steps` steps.
    pub fn resumed(lab: &Lab, demos: &[Demonstration], model: Gpt, steps: usize) -> Self {
        let mut stage = Self::new(lab, demos);
        stage.trainer.resume(model, steps);
        stage
    }

    pub async fn step(&mut self) -> Result<SftStep, TrainError> {
        self.trainer.step().await
    }

    /// Greedy answers (up to 32 tokens) of the base and the SFT model to `prompts`.
    pub async fn watch(&self, lab: &Lab, prompts: &[String], rng: &mut StdRng) -> Result<Vec<Watched>, TrainError> {
        let tuned = self.trainer.model();
        let greedy = SampleConfig { temperature: 1.0, top_k: 1, max_new_tokens: 32 };
        let mut rows = vec![];
        for prompt in prompts {
            let base = answer_texts(&self.base, &lab.tokenizer, prompt, 1, &greedy, rng, &lab.device).await?.concat();
            let sft = answer_texts(&tuned, &lab.tokenizer, prompt, 1, &greedy, rng, &lab.device).await?.concat();
            rows.push(Watched { prompt: prompt.clone(), base, sft });
        }
        Ok(rows)
    }
}
