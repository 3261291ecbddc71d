//! The scripted labeler ("persona"): scores an answer the way the InstructGPT
//! labelers were asked to — helpful, honest, harmless — against the toy world's
//! facts, with user-set weights and optional noise, and ranks K answers like a
//! person would (equal scores tie). It is the ground truth the tests and the
//! unattended demo use; users can compare their own labels with it.

use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Weights {
    pub helpful: f32,
    pub honest: f32,
    pub harmless: f32,
}

impl Default for Weights {
    fn default() -> Self {
        Self { helpful: 1.0, honest: 1.0, harmless: 1.0 }
    }
}

/// Each criterion in [0, 1], and the weighted total (plus noise).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Scores {
    pub helpful: f32,
    pub honest: f32,
    pub harmless: f32,
    pub total: f32,
}

/// What the world says about one question: the right value (None when the world
/// does not know — then "I don't know" is the right answer) and the values that
/// would be wrong.
struct Question {
    right: Option<String>,
    wrong: Vec<String>,
}

pub struct Persona {
    pub weights: Weights,
    /// Standard deviation of the Gaussian noise added to the total.
    pub noise: f32,
    world: Value,
}

/// `value` said as whole words in `text` (so "red" is not found in "bored").
fn mentions(text: &str, value: &str) -> bool {
    let norm = |s: &str| format!(" {} ", s.to_lowercase().split(|c: char| !c.is_alphanumeric() && c != '\'').filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" "));
    norm(text).contains(&norm(value))
}

impl Persona {
    pub fn new(weights: Weights, noise: f32) -> Self {
        let world = serde_json::from_str(include_str!("../data/en/world.json")).expect("data/en/world.json is valid");
        Self { weights, noise, world }
    }

    fn values(&self, kind: &str, attr: &str) -> Vec<String> {
        let mut v: Vec<String> = self.world[kind].as_object().map(|m| m.values().filter_map(|f| f[attr].as_str().map(String::from)).collect()).unwrap_or_default();
        v.sort();
        v.dedup();
        v
    }

    fn fact(&self, kind: &str, name: &str, attr: &str) -> Question {
        let right = self.world[kind][name][attr].as_str().map(String::from);
        let wrong = self.values(kind, attr).into_iter().filter(|v| Some(v) != right.as_ref()).collect();
        Question { right, wrong }
    }

    /// Reads the question in a prompt ("Q: What does the fox eat?\n").
    fn question(&self, prompt: &str) -> Option<Question> {
        let p = prompt.to_lowercase();
        let named = |kind: &str| -> Option<String> { self.world[kind].as_object()?.keys().find(|k| p.contains(&format!("the {k}"))).cloned() };
        if let Some(a) = named("animals") {
            let attr = [(" eat", "food"), (" live", "home"), ("color", "color"), ("legs", "legs"), ("sound", "sound")].iter().find(|(k, _)| p.contains(k))?.1;
            return Some(self.fact("animals", &a, attr));
        }
        if let Some(x) = named("foods") {
            let attr = [("color", "color"), ("taste", "taste"), ("grow", "grows")].iter().find(|(k, _)| p.contains(k))?.1;
            return Some(self.fact("foods", &x, attr));
        }
        if let Some(place) = named("places") {
            let ways: Vec<String> = self.world["places"].as_object()?.values().filter_map(|v| v.as_str().map(String::from)).collect();
            let right = (p.contains("get to") || p.contains("where is")).then(|| self.world["places"][&place].as_str().map(String::from)).flatten();
            return Some(Question { wrong: ways.into_iter().filter(|w| Some(w) != right.as_ref()).collect(), right });
        }
        if self.world["unknown"].as_array()?.iter().filter_map(Value::as_str).any(|u| p.contains(&format!("the {u}"))) {
            // Not in the world: any claimed fact is invented.
            let attr = if p.contains(" eat") { "food" } else { "home" };
            return Some(Question { right: None, wrong: self.values("animals", attr) });
        }
        let numbers: Vec<String> = self.world["numbers"].as_array()?.iter().filter_map(|v| v.as_str().map(String::from)).collect();
        if p.contains(" plus ") {
            let words: Vec<&str> = p.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
            let nums: Vec<usize> = words.iter().filter_map(|w| numbers.iter().position(|n| n == w)).collect();
            if let [a, b] = nums[..] {
                let right = numbers.get(a + b).cloned();
                return Some(Question { wrong: numbers.iter().filter(|n| Some(*n) != right.as_ref()).cloned().collect(), right });
            }
        }
        None
    }

    /// Scores one answer to one prompt.
    pub fn score(&self, prompt: &str, answer: &str, rng: &mut impl Rng) -> Scores {
        let is_answer = answer.trim_start().starts_with("A:");
        let body = answer.trim_start().trim_start_matches("A:");
        let dont_know = body.to_lowercase().contains("don't know") || body.to_lowercase().contains("do not know");
        let (helpful, honest) = match self.question(prompt) {
            _ if !is_answer => (0.0, 1.0),
            Some(q) => {
                let wrong_said = q.wrong.iter().any(|w| mentions(body, w));
                match q.right {
                    Some(r) => {
                        let right_said = mentions(body, &r);
                        let helpful = match (right_said, wrong_said) {
                            (true, false) => 1.0,
                            (true, true) => 0.5,
                            // Admitting not knowing at least answers the question
                            // asked, which a reply that asks something else does not.
                            (false, false) if dont_know => 0.25,
                            _ => 0.0,
                        };
                        // "I don't know" is honest; a wrong fact is not.
                        (helpful, if wrong_said { 0.0 } else { 1.0 })
                    }
                    None => (if dont_know { 1.0 } else { 0.0 }, if wrong_said { 0.0 } else { 1.0 }),
                }
            }
            None => (0.5, 1.0),
        };
        let rude = self.world["rude_words"].as_array().map(|ws| ws.iter().filter_map(Value::as_str).any(|w| mentions(answer, w))).unwrap_or(false);
        let harmless = if rude { 0.0 } else { 1.0 };
        let w = self.weights;
        let mut total = w.helpful * helpful + w.honest * honest + w.harmless * harmless;
        if self.noise > 0.0 {
            // Box–Muller: one standard normal from two uniforms.
            let (u1, u2): (f32, f32) = (rng.random::<f32>().max(1e-7), rng.random());
            total += self.noise * (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos();
        }
        Scores { helpful, honest, harmless, total }
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
