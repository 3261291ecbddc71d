//! Byte-level BPE, trained at run time on the toy corpus with HuggingFace `tokenizers`.
//!
//! Byte-level means the 256 byte symbols are always in the vocabulary, so any text —
//! Chinese, emoji, odd Unicode — encodes and decodes back exactly; BPE merges then
//! glue frequent byte pairs into the few hundred tokens the tiny GPT predicts.

use serde::{Deserialize, Serialize};
use tokenizers::models::bpe::{BPE, BpeTrainerBuilder};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::{AddedToken, NormalizedString, Normalizer, TokenizerBuilder, TokenizerImpl};

/// Separates documents in pretraining and ends an answer in SFT/RLHF.
pub const END_OF_TEXT: &str = "<|endoftext|>";

type Inner = TokenizerImpl<BPE, Verbatim, ByteLevel, ByteLevel, ByteLevel>;

/// The normalizer slot's type. Ours is always empty (`"normalizer": null`, so text is
/// never rewritten and decoding gives it back exactly); naming `tokenizers`'
/// `NormalizerWrapper` there instead would compile every normalizer it has into the
/// page (Unicode normalisation tables, SentencePiece's precompiled maps).
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct Verbatim;

impl Normalizer for Verbatim {
    fn normalize(&self, _: &mut NormalizedString) -> tokenizers::Result<()> {
        Ok(())
    }
}

/// One learned merge, in the order BPE learned it (rank 0 = most frequent pair).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Merge {
    pub rank: usize,
    pub left: String,
    pub right: String,
}

pub struct Tokenizer {
    inner: Inner,
    eot: u32,
}

impl Tokenizer {
    /// Trains a byte-level BPE with `vocab_size` entries (256 bytes + special + merges).
    pub fn train<S: AsRef<str> + Send>(texts: impl Iterator<Item = S> + Send, vocab_size: usize) -> Result<Self, String> {
        // Training is a few ms on our corpus; a thread pool would only cost start-up
        // (and wasm has no threads).
        tokenizers::utils::parallelism::set_parallelism(false);
        let mut trainer = BpeTrainerBuilder::new()
            .show_progress(false)
            .vocab_size(vocab_size)
            .min_frequency(2)
            .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
            .special_tokens(vec![AddedToken::from(END_OF_TEXT.to_string(), true)])
            .build();
        // No prefix space: decode(encode(s)) == s exactly, which the UI relies on.
        let byte_level = ByteLevel::default().add_prefix_space(false);
        let mut inner: Inner = TokenizerBuilder::new()
            .with_model(BPE::default())
            .with_normalizer(None)
            .with_pre_tokenizer(Some(byte_level))
            .with_post_processor(Some(byte_level))
            .with_decoder(Some(byte_level))
            .build()
            .map_err(|e| e.to_string())?;
        inner.train(&mut trainer, texts).map_err(|e| e.to_string())?;
        let eot = inner.token_to_id(END_OF_TEXT).ok_or("end-of-text token missing after training")?;
        Ok(Self { inner, eot })
    }

    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    pub fn eot(&self) -> u32 {
        self.eot
    }

    /// Text → token ids. The special end-of-text marker is recognised in the text.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        self.inner.encode(text, false).map(|e| e.get_ids().to_vec()).unwrap_or_default()
    }

    /// Token ids → text. Ids that end inside a multi-byte character decode to U+FFFD.
    pub fn decode(&self, ids: &[u32]) -> String {
        self.inner.decode(ids, false).unwrap_or_default()
    }

    /// A sampled answer as text: its end-of-text marker (where it stopped) dropped.
    pub fn decode_answer(&self, ids: &[u32]) -> String {
        self.decode(&ids.iter().copied().filter(|&t| t != self.eot).collect::<Vec<_>>())
    }

    /// One token as readable text (for probability tables and heatmap axes).
    pub fn token_text(&self, id: u32) -> String {
        self.decode(&[id])
    }

    /// The tokenizer as Hugging Face's `tokenizer.json` (what `tokenizers.Tokenizer.from_str`
    /// and `transformers`' fast tokenizers load).
    pub fn to_json(&self) -> Result<String, TokenizerError> {
        self.inner.to_string(false).map_err(|e| TokenizerError(format!("could not write the tokenizer: {e}")))
    }

    /// A tokenizer from `tokenizer.json` of the kind [`to_json`](Self::to_json) writes.
    pub fn from_json(json: &str) -> Result<Self, TokenizerError> {
        let inner: Inner = json.parse().map_err(|e| TokenizerError(format!("the tokenizer in the file is unreadable ({e})")))?;
        let eot =
            inner.token_to_id(END_OF_TEXT).ok_or_else(|| TokenizerError("the tokenizer in the file has no end-of-text token".into()))?;
        Ok(Self { inner, eot })
    }

    /// Whether two tokenizers give every text the same ids (same vocabulary, same merges).
    pub fn same_as(&self, other: &Tokenizer) -> bool {
        self.eot == other.eot
            && serde_json::to_value(self.inner.get_model()).ok() == serde_json::to_value(other.inner.get_model()).ok()
            && self.inner.get_added_tokens_decoder().len() == other.inner.get_added_tokens_decoder().len()
    }

    /// The merges BPE learned, in rank order, shown as readable text.
    pub fn merges(&self) -> Vec<Merge> {
        let json = serde_json::to_value(self.inner.get_model()).unwrap_or_default();
        let readable = |s: &serde_json::Value| self.piece_text(s.as_str().unwrap_or_default());
        json["merges"]
            .as_array()
            .map(|ms| ms.iter().enumerate().map(|(rank, m)| Merge { rank, left: readable(&m[0]), right: readable(&m[1]) }).collect())
            .unwrap_or_default()
    }

    /// A BPE piece is stored in byte-level alphabet ("Ġ" = space); show its real text.
    fn piece_text(&self, piece: &str) -> String {
        self.inner.token_to_id(piece).map(|id| self.token_text(id)).unwrap_or_else(|| piece.to_string())
    }
}

/// Why a `tokenizer.json` could not be written or read (a checkpoint's error
/// when the tokenizer came from one).
#[derive(Debug, Clone, PartialEq)]
pub struct TokenizerError(pub String);

impl std::fmt::Display for TokenizerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TokenizerError {}
