//! A lab: everything one pretraining run needs, built from (preset, seed, language,
//! device) — the tokenizer trained on the corpus, the train / held-out split, and
//! the pretrainer. The page, the tests and the runner all start here.

use crate::corpus::{self, Lang, TokenSplit};
use crate::model::{GptConfig, Preset};
use crate::pretrain::{PretrainConfig, Pretrainer};
use crate::tokenizer::Tokenizer;
use burn::prelude::*;

/// Byte-level BPE vocabulary: 256 bytes + end-of-text + 255 merges.
pub const VOCAB_SIZE: usize = 512;

pub struct Lab {
    pub preset: Preset,
    pub seed: u64,
    pub lang: Lang,
    pub tokenizer: Tokenizer,
    pub split: TokenSplit,
    pub model_cfg: GptConfig,
    pub pretrainer: Pretrainer,
    pub device: Device,
}

impl Lab {
    pub fn new(preset: Preset, seed: u64, lang: Lang, device: &Device) -> Result<Self, String> {
        let docs = corpus::documents(corpus::pretraining_text(lang));
        let tokenizer = Tokenizer::train(docs.iter().copied(), VOCAB_SIZE)?;
        let split = corpus::tokenize_split(&docs, &tokenizer);
        let model_cfg = preset.gpt(tokenizer.vocab_size());
        let pretrainer =
            Pretrainer::new(&model_cfg, PretrainConfig::for_preset(preset), split.train.clone(), &split.held_out, seed, device);
        Ok(Self { preset, seed, lang, tokenizer, split, model_cfg, pretrainer, device: device.clone() })
    }
}
