//! Stage 1's driver: one pretraining step of the lab's model, and on a cadence
//! what a person watches it by — the held-out loss, and a sample from nothing (the
//! model's idea of the corpus so far). The runner and the page step pretraining
//! here; each picks the cadence it can afford.

use crate::TrainError;
use crate::model::{Gpt, Preset};
use crate::pretrain::{PretrainStep, Pretrainer};
use crate::sample::{SampleConfig, generate};
use crate::tokenizer::Tokenizer;
use burn::prelude::Device;
use rand::rngs::StdRng;
use serde::Serialize;

/// Every how many steps the held-out loss is measured and a sample drawn (0 = never).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cadence {
    pub held_out: usize,
    pub sample: usize,
    pub sample_tokens: usize,
}

impl Cadence {
    /// The page's: often enough for a live chart on the smaller model, less often
    /// on the larger one, where each look costs a visible moment.
    pub fn for_page(preset: Preset) -> Self {
        match preset {
            Preset::Micro => Self { held_out: 5, sample: 20, sample_tokens: 24 },
            Preset::Small => Self { held_out: 10, sample: 25, sample_tokens: 40 },
        }
    }

    /// The runner's: a held-out point every 50 steps and a sample every 500.
    pub fn for_runner() -> Self {
        Self { held_out: 50, sample: 500, sample_tokens: 40 }
    }

    fn due(every: usize, step: usize) -> bool {
        every > 0 && step.is_multiple_of(every)
    }
}

/// One step and what was measured with it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stepped {
    #[serde(flatten)]
    pub stats: PretrainStep,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held_out_loss: Option<f32>,
    /// Text sampled from an empty prompt at temperature 0.8, top-k 20.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample: Option<String>,
}

/// One step of pretraining (the lab's `pretrainer`, with its tokenizer and
/// device: parts of a lab, so a caller may hold other parts meanwhile); the
/// held-out loss and a sample when `cadence` says so, and the held-out loss at
/// `last`, the final step of a run.
pub async fn step(
    pretrainer: &mut Pretrainer,
    tok: &Tokenizer,
    device: &Device,
    cadence: &Cadence,
    last: Option<usize>,
    rng: &mut StdRng,
) -> Result<Stepped, TrainError> {
    let stats = pretrainer.step().await?;
    let held_out_loss =
        if Cadence::due(cadence.held_out, stats.step) || last == Some(stats.step) { Some(pretrainer.held_out_loss().await?) } else { None };
    let sample = if Cadence::due(cadence.sample, stats.step) {
        Some(sample(&pretrainer.model(), tok, device, cadence.sample_tokens, rng).await?)
    } else {
        None
    };
    Ok(Stepped { stats, held_out_loss, sample })
}

/// What `model` writes from nothing, up to its first end-of-text.
pub async fn sample(model: &Gpt, tok: &Tokenizer, device: &Device, tokens: usize, rng: &mut StdRng) -> Result<String, TrainError> {
    let cfg = SampleConfig { temperature: 0.8, top_k: 20, max_new_tokens: tokens };
    let ids = generate(model, tok.eot(), &[], &cfg, Some(tok.eot()), rng, device).await?;
    let ids: Vec<u32> = ids.into_iter().take_while(|&id| id != tok.eot()).collect();
    Ok(tok.decode(&ids))
}
