//! A labelling session as the page keeps it (browser storage, so labels survive a
//! reload) and as a user exports and imports it (a JSON file): the settings and
//! every ranked prompt, each remembering who ranked it. An import is validated
//! whole before anything is used, so a bad file changes nothing and says why.

use crate::corpus::Lang;
use crate::model::Preset;
use crate::persona::Weights;
use crate::rank::{Comparison, K_MAX, K_MIN, Labeler};
use crate::sft::Demonstration;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// What the file says it is, so another JSON file is refused by name.
pub const FORMAT: &str = "rlhf-playground/session";
pub const VERSION: u32 = 1;
/// Larger files are refused before parsing (a session of 1,000 ranked prompts is ~1 MB).
pub const MAX_BYTES: usize = 8 << 20;
/// Longest prompt or answer kept, in characters.
pub const MAX_TEXT: usize = 2000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub preset: Preset,
    pub seed: u64,
    pub lang: Lang,
    /// Answers sampled per prompt for ranking.
    pub k: usize,
    pub weights: Weights,
    pub noise: f32,
    pub beta: f32,
    pub gamma_ptx: f32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            preset: Preset::Micro,
            seed: 1,
            lang: Lang::En,
            k: K_MAX,
            weights: Weights::default(),
            noise: 0.0,
            beta: 0.1,
            gamma_ptx: 1.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub format: String,
    pub version: u32,
    pub settings: Settings,
    pub comparisons: Vec<Comparison>,
    /// The user's SFT demonstrations, once they edit or add one; empty = the
    /// shipped ones. (Absent in older files: read as empty.)
    #[serde(default)]
    pub demonstrations: Vec<Demonstration>,
}

/// Why a file was refused, in words a user can act on.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionError {
    TooLarge(usize),
    NotJson(String),
    NotASession,
    NewerVersion(u32),
    BadSettings(String),
    BadComparison {
        index: usize,
        reason: String,
    },
    BadDemonstration {
        index: usize,
        reason: String,
    },
    /// A line of a JSONL file (1-based).
    BadLine {
        line: usize,
        reason: String,
    },
}

impl std::fmt::Display for SessionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooLarge(n) => write!(f, "the file is {n} bytes; a session is at most {MAX_BYTES}"),
            Self::NotJson(e) => write!(f, "the file is not a session (not valid JSON: {e})"),
            Self::NotASession => write!(f, "the file is JSON but not an rlhf-playground session"),
            Self::NewerVersion(v) => write!(f, "the session was saved by a newer version (format {v}; this page reads {VERSION})"),
            Self::BadSettings(r) => write!(f, "the session's settings are invalid: {r}"),
            Self::BadComparison { index, reason } => write!(f, "ranked prompt #{} is invalid: {reason}", index + 1),
            Self::BadDemonstration { index, reason } => write!(f, "demonstration #{} is invalid: {reason}", index + 1),
            Self::BadLine { line, reason } => write!(f, "line {line} of the file is invalid: {reason}"),
        }
    }
}

impl std::error::Error for SessionError {}

impl Session {
    pub fn new(settings: Settings) -> Self {
        Self { format: FORMAT.into(), version: VERSION, settings, comparisons: vec![], demonstrations: vec![] }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a session always serialises")
    }

    /// Parses and validates a whole file; on any error nothing is returned.
    pub fn from_json(text: &str) -> Result<Self, SessionError> {
        if text.len() > MAX_BYTES {
            return Err(SessionError::TooLarge(text.len()));
        }
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| SessionError::NotJson(e.to_string()))?;
        if value.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
            return Err(SessionError::NotASession);
        }
        match value.get("version").and_then(|v| v.as_u64()) {
            Some(v) if v > VERSION as u64 => return Err(SessionError::NewerVersion(v as u32)),
            Some(_) => {}
            None => return Err(SessionError::NotASession),
        }
        let session: Session = serde_json::from_value(value).map_err(|e| SessionError::NotJson(e.to_string()))?;
        session.validate()?;
        Ok(session)
    }

    fn validate(&self) -> Result<(), SessionError> {
        let s = &self.settings;
        let bad = |r: &str| Err(SessionError::BadSettings(r.into()));
        if !(K_MIN..=K_MAX).contains(&s.k) {
            return bad(&format!("K = {} is outside {K_MIN}..={K_MAX}", s.k));
        }
        let w = s.weights;
        if [w.helpful, w.honest, w.harmless, w.brief, s.noise, s.beta, s.gamma_ptx].iter().any(|x| !x.is_finite() || *x < 0.0) {
            return bad("weights, noise, β and γ_ptx must be finite and not negative");
        }
        for (index, c) in self.comparisons.iter().enumerate() {
            check(c).map_err(|reason| SessionError::BadComparison { index, reason })?;
        }
        for (index, d) in self.demonstrations.iter().enumerate() {
            check_demonstration(d).map_err(|reason| SessionError::BadDemonstration { index, reason })?;
        }
        Ok(())
    }

    /// Pairs labelled by a person and by the persona.
    pub fn pair_counts(&self) -> (usize, usize) {
        let count = |who| self.comparisons.iter().filter(|c| c.labeler == who).map(|c| c.pairs.len()).sum();
        (count(Labeler::Human), count(Labeler::Persona))
    }
}

/// One ranked prompt is usable: texts present and not huge, pairs inside the
/// answers, no answer above itself, no pair given both ways.
fn check(c: &Comparison) -> Result<(), String> {
    if c.prompt.trim().is_empty() {
        return Err("the prompt is empty".into());
    }
    if c.prompt.chars().count() > MAX_TEXT || c.answers.iter().any(|a| a.chars().count() > MAX_TEXT) {
        return Err(format!("a text is longer than {MAX_TEXT} characters"));
    }
    if !(2..=K_MAX).contains(&c.answers.len()) {
        return Err(format!("{} answers (a ranking needs 2 to {K_MAX})", c.answers.len()));
    }
    let mut seen = HashSet::new();
    for p in &c.pairs {
        if p.chosen >= c.answers.len() || p.rejected >= c.answers.len() {
            return Err(format!("a pair names answer {} of {}", p.chosen.max(p.rejected) + 1, c.answers.len()));
        }
        if p.chosen == p.rejected {
            return Err(format!("answer {} is ranked above itself", p.chosen + 1));
        }
        if seen.contains(&(p.rejected, p.chosen)) {
            return Err(format!("answers {} and {} are each ranked above the other", p.chosen + 1, p.rejected + 1));
        }
        seen.insert((p.chosen, p.rejected));
    }
    Ok(())
}

/// A demonstration is usable: both texts present and not huge. The page checks
/// the same before adding one.
pub fn check_demonstration(d: &Demonstration) -> Result<(), String> {
    if d.prompt.trim().is_empty() || d.answer.trim().is_empty() {
        return Err("the prompt and the answer must both be written".into());
    }
    if d.prompt.chars().count() > MAX_TEXT || d.answer.chars().count() > MAX_TEXT {
        return Err(format!("a text is longer than {MAX_TEXT} characters"));
    }
    Ok(())
}

/// One preference pair as TRL's reward and DPO trainers and Argilla read it: one
/// JSON object per line, `prompt`, `chosen`, `rejected` (the answers' texts).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreferenceRow {
    pub prompt: String,
    pub chosen: String,
    pub rejected: String,
    /// Who ranked it (ours; other tools ignore the column). Absent = a person.
    #[serde(default = "a_person")]
    pub labeler: Labeler,
}

fn a_person() -> Labeler {
    Labeler::Human
}

/// The ranked prompts as preference JSONL, one line per pair (pairs of two equal
/// texts, and pairs contradicted through a repeated text, left out).
pub fn preferences_jsonl(comparisons: &[Comparison]) -> String {
    let mut out = String::new();
    for c in comparisons {
        // Sampled answers repeat: two of the same text say nothing about which is
        // better, and a text ranked both above and below another (through its
        // copies) cancels out.
        let text = |p: &crate::rank::Pair| (&c.answers[p.chosen], &c.answers[p.rejected]);
        let said: HashSet<_> = c.pairs.iter().map(text).collect();
        for p in c.pairs.iter().filter(|p| c.answers[p.chosen] != c.answers[p.rejected] && !said.contains(&(text(p).1, text(p).0))) {
            let row = PreferenceRow {
                prompt: c.prompt.clone(),
                chosen: c.answers[p.chosen].clone(),
                rejected: c.answers[p.rejected].clone(),
                labeler: c.labeler,
            };
            out += &serde_json::to_string(&row).expect("a row always serialises");
            out.push('\n');
        }
    }
    out
}

/// JSON lines (blank lines skipped) of one row type, refused whole at the first bad one.
fn jsonl_rows<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<Vec<(usize, T)>, SessionError> {
    if text.len() > MAX_BYTES {
        return Err(SessionError::TooLarge(text.len()));
    }
    let mut rows = vec![];
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let row = serde_json::from_str(line).map_err(|e| SessionError::BadLine { line: i + 1, reason: format!("not {what} ({e})") })?;
        rows.push((i + 1, row));
    }
    if rows.is_empty() {
        return Err(SessionError::BadLine { line: 1, reason: format!("the file has no {what}") });
    }
    Ok(rows)
}

/// Preference JSONL back into ranked prompts: pairs grouped by prompt (and labeler)
/// in the order first seen, each distinct answer once. The same pairs come back as
/// [`preferences_jsonl`] wrote; a bad line refuses the whole file.
pub fn preferences_from_jsonl(text: &str) -> Result<Vec<Comparison>, SessionError> {
    let rows: Vec<(usize, PreferenceRow)> = jsonl_rows(text, "a preference pair with prompt, chosen and rejected")?;
    let mut out: Vec<Comparison> = vec![];
    for (line, row) in rows {
        if row.chosen == row.rejected {
            return Err(SessionError::BadLine { line, reason: "chosen and rejected are the same text".into() });
        }
        let at = match out.iter().position(|c| c.prompt == row.prompt && c.labeler == row.labeler) {
            Some(i) => i,
            None => {
                out.push(Comparison { prompt: row.prompt.clone(), answers: vec![], pairs: vec![], labeler: row.labeler });
                out.len() - 1
            }
        };
        let c = &mut out[at];
        let mut index = |text: &str| match c.answers.iter().position(|a| a == text) {
            Some(i) => i,
            None => {
                c.answers.push(text.to_string());
                c.answers.len() - 1
            }
        };
        let pair = crate::rank::Pair { chosen: index(&row.chosen), rejected: index(&row.rejected) };
        if !c.pairs.contains(&pair) {
            c.pairs.push(pair);
        }
    }
    for (index, c) in out.iter().enumerate() {
        check(c).map_err(|reason| SessionError::BadComparison { index, reason: format!("{:?}: {reason}", c.prompt) })?;
    }
    Ok(out)
}

/// One demonstration as TRL's SFT trainer reads a prompt–completion dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompletionRow {
    pub prompt: String,
    pub completion: String,
}

pub fn demonstrations_jsonl(demos: &[Demonstration]) -> String {
    demos
        .iter()
        .map(|d| {
            serde_json::to_string(&CompletionRow { prompt: d.prompt.clone(), completion: d.answer.clone() })
                .expect("a row always serialises")
                + "\n"
        })
        .collect()
}

pub fn demonstrations_from_jsonl(text: &str) -> Result<Vec<Demonstration>, SessionError> {
    let rows: Vec<(usize, CompletionRow)> = jsonl_rows(text, "a demonstration with prompt and completion")?;
    let demos: Vec<Demonstration> = rows.into_iter().map(|(_, r)| Demonstration { prompt: r.prompt, answer: r.completion }).collect();
    for (index, d) in demos.iter().enumerate() {
        check_demonstration(d).map_err(|reason| SessionError::BadDemonstration { index, reason })?;
    }
    Ok(demos)
}
