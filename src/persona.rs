//! The scripted labeler ("persona"): scores an answer the way the InstructGPT
//! labelers were asked to — helpful, honest, harmless — against the toy world's
//! facts, with user-set weights and optional noise, and ranks K answers like a
//! person would (equal scores tie). It is the ground truth the tests and the
//! unattended demo use; users can compare their own labels with it.

use crate::corpus::{self, Lang};
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Weights {
    pub helpful: f32,
    pub honest: f32,
    pub harmless: f32,
    /// A taste InstructGPT's labelers were not asked for: the shorter the answer,
    /// the better (0 by default: the persona does not care). A labeler who ranks by
    /// it alone stands for a person with their own taste.
    #[serde(default)]
    pub brief: f32,
}

impl Default for Weights {
    fn default() -> Self {
        Self { helpful: 1.0, honest: 1.0, harmless: 1.0, brief: 0.0 }
    }
}

/// Each criterion in [0, 1], and the weighted total (plus noise).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Scores {
    pub helpful: f32,
    pub honest: f32,
    pub harmless: f32,
    /// 5 / (5 + words): 1 for an empty answer, ½ at five words (characters in Chinese).
    pub brief: f32,
    pub total: f32,
}

/// What an answer says about the question asked: whether it states the world's
/// right value, whether it states a wrong one, and whether the world knows the
/// answer at all (if not, "I don't know" is the right answer).
struct Said {
    right: bool,
    wrong: bool,
    knowable: bool,
    /// The name the question is about, when it has one: an "I don't know" about
    /// something else does not answer it.
    about: Option<String>,
}

pub struct Persona {
    pub weights: Weights,
    /// Standard deviation of the Gaussian noise added to the total.
    pub noise: f32,
    world: Value,
    /// Every word of the world's corpus (every character, for Chinese): an answer
    /// with a word outside it is garbled.
    vocabulary: std::collections::HashSet<String>,
}

/// Words of `text` for the vocabulary check: lowercase ASCII words, and each
/// Chinese character on its own (Chinese has no spaces to split words at).
fn words(text: &str) -> Vec<String> {
    let mut out = vec![];
    for w in text.to_lowercase().split(|c: char| !c.is_alphanumeric() && c != '\'') {
        if is_cjk(w) {
            out.extend(w.chars().map(String::from));
        } else if !w.is_empty() {
            out.push(w.to_string());
        }
    }
    out
}

fn is_cjk(s: &str) -> bool {
    s.chars().any(|c| c as u32 >= 0x2E80)
}

/// `value` said in `text`. Words whole in English (so "red" is not found in
/// "bored"); Chinese has no spaces, so there any substring counts — the world's
/// values are chosen so that none is inside another it is compared with.
fn mentions(text: &str, value: &str) -> bool {
    if is_cjk(value) {
        return text.contains(value);
    }
    let norm = |s: &str| {
        format!(
            " {} ",
            s.to_lowercase().split(|c: char| !c.is_alphanumeric() && c != '\'').filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ")
        )
    };
    norm(text).contains(&norm(value))
}

/// Indices into `numbers` of the number words in `text`, left to right, longest
/// match first (so "十二" is twelve, not ten and two).
fn numbers_in(text: &str, numbers: &[String]) -> Vec<usize> {
    let t = text.to_lowercase();
    let mut found = vec![];
    let mut i = 0;
    while i < t.len() {
        let rest = &t[i..];
        let boundary_before = !t[..i].chars().next_back().is_some_and(|c| c.is_alphanumeric() && c.is_ascii());
        let best = numbers
            .iter()
            .enumerate()
            .filter(|(_, n)| !n.is_empty() && rest.starts_with(n.as_str()))
            .filter(|(_, n)| is_cjk(n) || (boundary_before && !rest[n.len()..].chars().next().is_some_and(|c| c.is_alphanumeric())))
            .max_by_key(|(_, n)| n.len());
        match best {
            Some((idx, n)) => {
                found.push(idx);
                i += n.len();
            }
            None => i += rest.chars().next().map_or(1, char::len_utf8),
        }
    }
    found
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().map(|a| a.iter().filter_map(|x| x.as_str().map(String::from)).collect()).unwrap_or_default()
}

impl Persona {
    /// The labeler of a language's world.
    pub fn new(lang: Lang, weights: Weights, noise: f32) -> Self {
        let world = serde_json::from_str(corpus::world_json(lang)).expect("the shipped world.json is valid");
        let demos: String = crate::sft::demonstrations(lang).iter().map(|d| format!("{} {} ", d.prompt, d.answer)).collect();
        let vocabulary = words(corpus::pretraining_text(lang)).into_iter().chain(words(&demos)).collect();
        Self { weights, noise, world, vocabulary }
    }

    /// Every value the world has for `attr`, over animals and foods alike (a
    /// bee said to be "blue", a plum's colour, is as wrong as "black").
    fn values(&self, attr: &str) -> Vec<String> {
        let mut v: Vec<String> = ["animals", "foods"]
            .iter()
            .filter_map(|kind| self.world[*kind].as_object())
            .flat_map(|m| m.values().filter_map(|f| f[attr].as_str().map(String::from)))
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// Every attribute value of every animal and food.
    fn all_values(&self) -> Vec<String> {
        let attrs: std::collections::BTreeSet<String> = ["animals", "foods"]
            .iter()
            .filter_map(|k| self.world[*k].as_object())
            .flat_map(|m| m.values().filter_map(Value::as_object).flat_map(|f| f.keys().cloned()))
            .collect();
        let mut v: Vec<String> = attrs.iter().flat_map(|a| self.values(a)).collect();
        v.sort();
        v.dedup();
        v
    }

    /// The entity a prompt asks about: the longest name of the world it mentions
    /// (so "猫头鹰" wins over "猫", "面包店" over "面包").
    fn entity(&self, prompt: &str) -> Option<(&'static str, String)> {
        let mut best: Option<(&'static str, String)> = None;
        for kind in ["animals", "foods", "places", "unknown"] {
            let names: Vec<String> = match &self.world[kind] {
                Value::Object(m) => m.keys().cloned().collect(),
                v => strings(v),
            };
            for n in names.into_iter().filter(|n| mentions(prompt, n)) {
                if best.as_ref().is_none_or(|(_, b)| n.chars().count() > b.chars().count()) {
                    best = Some((kind, n));
                }
            }
        }
        best
    }

    /// Which attribute of `kind` the prompt asks for, by the world's cue words.
    fn attribute(&self, kind: &str, prompt: &str) -> Option<String> {
        let p = prompt.to_lowercase();
        self.world["cues"][kind].as_array()?.iter().find_map(|pair| {
            let cues = strings(&pair[1]);
            cues.iter().any(|c| p.contains(c.as_str())).then(|| pair[0].as_str().map(String::from)).flatten()
        })
    }

    /// Reads the question in `prompt` and what `body` (the answer without its
    /// marker) says about it; None when the prompt is no question of the world.
    fn judge(&self, prompt: &str, body: &str) -> Option<Said> {
        let fact = |right: Option<String>, wrong: Vec<String>, name: &str| {
            // The entity's own name is no claim ("鲸鱼" is not the value "鱼").
            let body = body.to_lowercase().replace(&name.to_lowercase(), " ");
            Said {
                right: right.as_ref().is_some_and(|r| mentions(&body, r)),
                wrong: wrong.iter().any(|w| Some(w) != right.as_ref() && mentions(&body, w)),
                knowable: right.is_some(),
                about: Some(name.to_string()),
            }
        };
        if let Some((kind, name)) = self.entity(prompt) {
            return match kind {
                "animals" | "foods" => {
                    let attr = self.attribute(kind, prompt)?;
                    // Any fact the world says is not true of this entity is false,
                    // asked for or not ("The cat grows on trees.").
                    let own: Vec<String> =
                        self.world[kind][&name].as_object()?.values().filter_map(|v| v.as_str().map(String::from)).collect();
                    let false_claims = self.all_values().into_iter().filter(|v| !own.contains(v)).collect();
                    Some(fact(self.world[kind][&name][&attr].as_str().map(String::from), false_claims, &name))
                }
                "places" => {
                    let ways: Vec<String> =
                        self.world["places"].as_object()?.values().filter_map(|v| v.as_str().map(String::from)).collect();
                    let asks_way = strings(&self.world["cues"]["places"]).iter().any(|c| prompt.to_lowercase().contains(c.as_str()));
                    let right = asks_way.then(|| self.world["places"][&name].as_str().map(String::from)).flatten();
                    Some(fact(right, ways, &name))
                }
                // Not in the world: any claimed fact is invented.
                _ => Some(fact(None, self.all_values(), &name)),
            };
        }
        let plus = self.world["cues"]["plus"].as_str()?;
        let numbers = strings(&self.world["numbers"]);
        let (left, right) = prompt.to_lowercase().split_once(plus).map(|(l, r)| (l.to_string(), r.to_string()))?;
        let (a, b) = (*numbers_in(&left, &numbers).last()?, *numbers_in(&right, &numbers).first()?);
        let sum = a + b;
        // The result is what follows the restated "a plus b", if the answer restates it.
        let said = match body.to_lowercase().split_once(plus) {
            Some((_, after)) => numbers_in(after, &numbers).into_iter().skip(1).collect(),
            None => numbers_in(body, &numbers),
        };
        Some(Said { right: said.contains(&sum), wrong: said.iter().any(|&n| n != sum), knowable: sum < numbers.len(), about: None })
    }

    /// Unreadable: a word the world never uses, or no full stop at the end (the
    /// sampler ran out of tokens mid-sentence).
    fn garbled(&self, body: &str) -> bool {
        let ends = body.trim_end().ends_with(['.', '。', '!', '！', '?', '？']);
        !ends || words(body).iter().any(|w| !self.vocabulary.contains(w))
    }

    /// True when `prompt` asks for a sum: a model this small guesses those, so
    /// evaluations report them apart from the questions of fact.
    pub fn asks_sum(&self, prompt: &str) -> bool {
        self.entity(prompt).is_none() && self.world["cues"]["plus"].as_str().is_some_and(|plus| prompt.to_lowercase().contains(plus))
    }

    /// Scores one answer to one prompt.
    pub fn score(&self, prompt: &str, answer: &str, rng: &mut impl Rng) -> Scores {
        let (answer_marker, question_marker) =
            (self.world["markers"]["answer"].as_str().unwrap_or("A:"), self.world["markers"]["question"].as_str().unwrap_or("Q:"));
        let reply = answer.trim_start();
        // A reply that asks another question (what a base model does) answers
        // nothing but claims nothing either. Anything else is read as an answer,
        // whether or not it kept the "A:" of the template.
        let asks = reply.starts_with(question_marker);
        let body = reply.strip_prefix(answer_marker).unwrap_or(reply);
        let lower = body.to_lowercase();
        let dont_know = strings(&self.world["cues"]["dont_know"]).iter().any(|c| lower.contains(c.as_str()));
        let (helpful, honest): (f32, f32) = match self.judge(prompt, body) {
            _ if asks => (0.0, 1.0),
            // Garbled text helps no one, and a reader cannot trust a word of it: it
            // ranks with the wrong facts, at the bottom.
            _ if self.garbled(body) => (0.0, 0.0),
            Some(Said { right, wrong, knowable: true, .. }) => {
                let helpful = match (right, wrong) {
                    (true, false) => 1.0,
                    (true, true) => 0.5,
                    // Admitting not knowing at least answers the question asked,
                    // which a reply that asks something else does not.
                    (false, false) if dont_know => 0.25,
                    _ => 0.0,
                };
                // "I don't know" is honest; a wrong fact is not.
                (helpful, if wrong { 0.0 } else { 1.0 })
            }
            // The world does not know: "I don't know" — about the thing asked — is
            // the right answer.
            Some(Said { wrong, about, .. }) => {
                let on_topic = about.is_none_or(|name| mentions(body, &name));
                (if dont_know && on_topic { 1.0 } else { 0.0 }, if wrong { 0.0 } else { 1.0 })
            }
            None => (0.5, 1.0),
        };
        let rude =
            self.world["rude_words"].as_array().map(|ws| ws.iter().filter_map(Value::as_str).any(|w| mentions(answer, w))).unwrap_or(false);
        let harmless = if rude { 0.0 } else { 1.0 };
        let brief = 5.0 / (5.0 + words(body).len() as f32);
        let w = self.weights;
        let mut total = w.helpful * helpful + w.honest * honest + w.harmless * harmless + w.brief * brief;
        if self.noise > 0.0 {
            // Box–Muller: one standard normal from two uniforms.
            let (u1, u2): (f32, f32) = (rng.random::<f32>().max(1e-7), rng.random());
            total += self.noise * (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos();
        }
        Scores { helpful, honest, harmless, brief, total }
    }

    /// Ranks answers like a person: place 0 is best, equal totals share a place.
    pub fn rank(&self, prompt: &str, answers: &[String], rng: &mut impl Rng) -> Vec<u32> {
        let totals: Vec<f32> = answers.iter().map(|a| self.score(prompt, a, rng).total).collect();
        let mut distinct = totals.clone();
        distinct.sort_by(|a, b| b.total_cmp(a));
        distinct.dedup();
        totals.iter().map(|t| distinct.iter().position(|d| d == t).unwrap_or(0) as u32).collect()
    }
}
