//! The toy world's pretraining text, shipped in the repo (see `tools/make_corpus.py`),
//! split into documents and into train / held-out token streams.

use crate::tokenizer::Tokenizer;
use serde::{Deserialize, Serialize};

pub const CORPUS_EN: &str = include_str!("../data/en/corpus.txt");
pub const CORPUS_ZH: &str = include_str!("../data/zh/corpus.txt");

/// Language of the toy world and of the UI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    En,
    Zh,
}

impl Lang {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "en" => Some(Self::En),
            "zh" | "zh-cn" | "cn" => Some(Self::Zh),
            _ => None,
        }
    }
    /// How the fixed prompt/answer template marks an answer and a question.
    pub fn answer_marker(self) -> &'static str {
        match self {
            Self::En => "A:",
            Self::Zh => "答：",
        }
    }
    pub fn question_marker(self) -> &'static str {
        match self {
            Self::En => "Q:",
            Self::Zh => "问：",
        }
    }
    pub fn code(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Zh => "zh",
        }
    }
}

/// The pretraining corpus of a language's world.
pub fn pretraining_text(lang: Lang) -> &'static str {
    match lang {
        Lang::En => CORPUS_EN,
        Lang::Zh => CORPUS_ZH,
    }
}

/// The world's facts and the cues the persona reads questions with (JSON).
pub fn world_json(lang: Lang) -> &'static str {
    match lang {
        Lang::En => include_str!("../data/en/world.json"),
        Lang::Zh => include_str!("../data/zh/world.json"),
    }
}

/// Documents are separated by blank lines.
pub fn documents(text: &str) -> Vec<&str> {
    text.split("\n\n").map(str::trim).filter(|d| !d.is_empty()).collect()
}

/// Every `HELD_OUT_EVERY`-th document is held out, so the held-out loss measures
/// sentences the model never trained on (though the world's facts repeat).
pub const HELD_OUT_EVERY: usize = 10;

/// Train and held-out token streams; each document is followed by end-of-text, so
/// the model learns where a document — and later an answer — ends.
#[derive(Debug, Clone)]
pub struct TokenSplit {
    pub train: Vec<u32>,
    pub held_out: Vec<u32>,
}

pub fn tokenize_split(docs: &[&str], tok: &Tokenizer) -> TokenSplit {
    let mut split = TokenSplit { train: vec![], held_out: vec![] };
    for (i, doc) in docs.iter().enumerate() {
        let stream = if i % HELD_OUT_EVERY == HELD_OUT_EVERY - 1 { &mut split.held_out } else { &mut split.train };
        stream.extend(tok.encode(doc));
        stream.push(tok.eot());
    }
    split
}
