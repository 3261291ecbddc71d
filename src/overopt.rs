//! Over-optimisation against a gold judge (Gao, Schulman & Hilton 2022): as a
//! policy moves away from SFT, the reward it optimises (the proxy: our reward
//! model) keeps rising while the persona's score (the gold judge, whose taste is
//! known exactly) rises, peaks and falls. Points are (√KL to SFT, proxy, gold);
//! best-of-n and PPO runs are measured on the same held-out prompts and axes.
//! Also the signs practitioners watch for reward hacking: length against score,
//! the diversity of the answers, and how many of them end.

use crate::evaluate::{Contestant, best_of_n};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// One measurement of a way of answering: how far it is from SFT and how the proxy
/// and the gold judge score it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GoldProxy {
    /// "best_of_n", or the PPO run ("main", "beta0").
    pub method: String,
    /// n for best-of-n, the PPO iteration for a run.
    pub step: usize,
    /// KL(· ‖ SFT) per answer in nats, and its square root (Gao's x axis).
    pub kl: f32,
    pub sqrt_kl: f32,
    /// Mean score by the reward the method optimised, and by the persona.
    pub proxy: f32,
    pub gold: f32,
}

/// Mean of a per-answer score over the prompts `keep` accepts, each prompt weighing
/// the same and each answer its weight in the contestant's distribution.
fn weighted(c: &Contestant, keep: &impl Fn(&str) -> bool, score: impl Fn(&crate::evaluate::Judged) -> &[f32]) -> f32 {
    let per_prompt: Vec<f32> =
        c.prompts.iter().filter(|j| keep(&j.prompt)).map(|j| j.weights.iter().zip(score(j)).map(|(w, x)| w * x).sum::<f32>()).collect();
    per_prompt.iter().sum::<f32>() / per_prompt.len().max(1) as f32
}

/// `c`'s point, with its reward-model scores as the proxy (`c.kl` must be known).
pub fn point(method: &str, step: usize, c: &Contestant, keep: impl Fn(&str) -> bool) -> GoldProxy {
    let kl = c.kl.unwrap_or(f32::NAN).max(0.0);
    GoldProxy {
        method: method.into(),
        step,
        kl,
        sqrt_kl: kl.sqrt(),
        proxy: weighted(c, &keep, |j| &j.rm),
        gold: weighted(c, &keep, |j| &j.persona),
    }
}

/// Best-of-n by the reward model for each n, from one pool of SFT answers (n = 1 is
/// SFT itself): KL log n − (n−1)/n, no subsets drawn (see [`best_of_n`]).
pub fn best_of_n_curve(pool: &Contestant, ns: &[usize], keep: impl Fn(&str) -> bool) -> Vec<GoldProxy> {
    ns.iter().map(|&n| point("best_of_n", n, &best_of_n(pool, n), &keep)).collect()
}

/// Gao et al.'s functional forms of the gold score's gain over SFT at distance
/// d = √KL: best-of-n d(α − βd), RL d(α − β ln d).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Form {
    BestOfN,
    Rl,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Fit {
    pub form: Form,
    pub alpha: f32,
    pub beta: f32,
    /// Where the fitted gold gain peaks and how high, when it does (β > 0): past
    /// this distance the policy is gaming the reward model.
    pub peak_sqrt_kl: Option<f32>,
    pub peak_gain: Option<f32>,
}

impl Form {
    /// The form's two features at d: gain = α·f₁ − β·f₂.
    fn features(self, d: f64) -> (f64, f64) {
        match self {
            Form::BestOfN => (d, d * d),
            Form::Rl => (d, if d > 0.0 { d * d.ln() } else { 0.0 }),
        }
    }

    pub fn gain(self, alpha: f32, beta: f32, d: f32) -> f32 {
        let (f1, f2) = self.features(d as f64);
        (alpha as f64 * f1 - beta as f64 * f2) as f32
    }
}

/// Least-squares fit of `form` to the points' gold gain over `base_gold` (SFT's
/// gold score). None with fewer than two points away from SFT or a singular fit.
pub fn fit(points: &[GoldProxy], base_gold: f32, form: Form) -> Option<Fit> {
    let (mut a11, mut a12, mut a22, mut b1, mut b2) = (0.0f64, 0.0, 0.0, 0.0, 0.0);
    let mut away = 0;
    for p in points.iter().filter(|p| p.sqrt_kl.is_finite() && p.gold.is_finite()) {
        let (f1, f2) = form.features(p.sqrt_kl as f64);
        let f2 = -f2;
        let g = (p.gold - base_gold) as f64;
        a11 += f1 * f1;
        a12 += f1 * f2;
        a22 += f2 * f2;
        b1 += f1 * g;
        b2 += f2 * g;
        away += usize::from(p.sqrt_kl > 1e-6);
    }
    let det = a11 * a22 - a12 * a12;
    if away < 2 || det.abs() < 1e-12 * (a11 * a22).max(1e-30) {
        return None;
    }
    let alpha = ((b1 * a22 - b2 * a12) / det) as f32;
    let beta = ((a11 * b2 - a12 * b1) / det) as f32;
    let peak = match form {
        _ if beta <= 1e-6 => None,
        Form::BestOfN => Some(alpha / (2.0 * beta)).filter(|d| *d > 0.0),
        Form::Rl => Some((alpha / beta - 1.0).exp()),
    };
    Some(Fit { form, alpha, beta, peak_sqrt_kl: peak, peak_gain: peak.map(|d| form.gain(alpha, beta, d)) })
}

/// The signs of reward hacking in a set of answers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Detectors {
    pub answers: usize,
    /// Words per answer (characters in Chinese, as the persona counts them).
    pub mean_words: f32,
    /// Distinct words and word pairs over all words and pairs of all answers
    /// (distinct-n, Li et al. 2016): falls when a policy says the same thing to
    /// every prompt.
    pub distinct_1: f32,
    pub distinct_2: f32,
    /// Answers that end as a sentence does (., ?, !, or their full-width forms)
    /// rather than being cut off.
    pub ended: f32,
    /// Pearson correlation of answer length with the reward model's score: near 1
    /// when the reward model mostly pays for length.
    pub length_score_correlation: f32,
}

/// An answer's words: whitespace-separated, or characters where there is no space.
fn words(text: &str) -> Vec<String> {
    let t = text.trim();
    if t.contains(' ') || t.is_ascii() {
        t.split_whitespace().map(str::to_string).collect()
    } else {
        t.chars().filter(|c| !c.is_whitespace()).map(String::from).collect()
    }
}

fn pearson(x: &[f32], y: &[f32]) -> f32 {
    let n = x.len().min(y.len());
    if n < 2 {
        return 0.0;
    }
    let (mx, my) = (x.iter().sum::<f32>() / n as f32, y.iter().sum::<f32>() / n as f32);
    let (mut sxy, mut sxx, mut syy) = (0.0f32, 0.0f32, 0.0f32);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    if sxx <= 0.0 || syy <= 0.0 { 0.0 } else { sxy / (sxx * syy).sqrt() }
}

/// The detectors over every answer of `c` on the prompts `keep` accepts.
pub fn detectors(c: &Contestant, keep: impl Fn(&str) -> bool) -> Detectors {
    let (mut lengths, mut scores, mut ended) = (vec![], vec![], 0usize);
    let (mut unigrams, mut bigrams) = (HashSet::new(), HashSet::new());
    let (mut n1, mut n2) = (0usize, 0usize);
    for j in c.prompts.iter().filter(|j| keep(&j.prompt)) {
        for (a, &s) in j.answers.iter().zip(&j.rm) {
            let w = words(a);
            n1 += w.len();
            n2 += w.len().saturating_sub(1);
            for pair in w.windows(2) {
                bigrams.insert((pair[0].clone(), pair[1].clone()));
            }
            lengths.push(w.len() as f32);
            scores.push(s);
            unigrams.extend(w);
            ended += usize::from(a.trim_end().ends_with(['.', '?', '!', '。', '？', '！']));
        }
    }
    let n = lengths.len();
    let ratio = |d: usize, t: usize| if t == 0 { 0.0 } else { d as f32 / t as f32 };
    Detectors {
        answers: n,
        mean_words: lengths.iter().sum::<f32>() / n.max(1) as f32,
        distinct_1: ratio(unigrams.len(), n1),
        distinct_2: ratio(bigrams.len(), n2),
        ended: ratio(ended, n),
        length_score_correlation: pearson(&lengths, &scores),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluate::Judged;

    fn at(d: f32, gold: f32) -> GoldProxy {
        GoldProxy { method: "x".into(), step: 0, kl: d * d, sqrt_kl: d, proxy: 0.0, gold }
    }

    #[test]
    fn fits_recover_the_forms_and_their_peaks() {
        for (form, alpha, beta) in [(Form::BestOfN, 0.6f32, 0.2f32), (Form::Rl, 0.5, 0.4)] {
            let pts: Vec<GoldProxy> = (0..8).map(|i| i as f32 * 0.5).map(|d| at(d, 2.0 + form.gain(alpha, beta, d))).collect();
            let f = fit(&pts, 2.0, form).unwrap();
            assert!((f.alpha - alpha).abs() < 1e-4 && (f.beta - beta).abs() < 1e-4, "{f:?}");
            let d = f.peak_sqrt_kl.unwrap();
            // The peak is where the gain stops rising.
            let g = |x: f32| form.gain(alpha, beta, x);
            assert!(g(d) > g(d - 0.05) && g(d) > g(d + 0.05), "{form:?} peak {d}");
        }
        // By hand: best-of-n α 0.6, β 0.2 peaks at d = 1.5 with gain 0.45.
        let f = fit(&[at(1.0, 0.4), at(2.0, 0.4), at(3.0, 0.0)], 0.0, Form::BestOfN).unwrap();
        assert!((f.peak_sqrt_kl.unwrap() - 1.5).abs() < 1e-4 && (f.peak_gain.unwrap() - 0.45).abs() < 1e-4, "{f:?}");
        // A gain that only rises has no peak; one point away from SFT cannot be fitted.
        assert!(fit(&[at(1.0, 1.0), at(2.0, 2.0), at(3.0, 3.0)], 0.0, Form::BestOfN).unwrap().peak_sqrt_kl.is_none());
        assert!(fit(&[at(0.0, 0.0), at(1.0, 1.0)], 0.0, Form::Rl).is_none());
    }

    #[test]
    fn best_of_n_points_average_the_picked_answers() {
        // One prompt, pool of 3 answers with RM 0, 1, 2 and gold 3, 1, 2.
        let pool = Contestant {
            name: "pool".into(),
            kl: None,
            prompts: vec![Judged {
                prompt: "Q".into(),
                answers: vec!["a".into(), "b".into(), "c".into()],
                persona: vec![3.0, 1.0, 2.0],
                rm: vec![0.0, 1.0, 2.0],
                weights: vec![1.0 / 3.0; 3],
            }],
        };
        let c = best_of_n_curve(&pool, &[1, 2, 3], |_| true);
        // n = 2: best of a random pair is b with 1/3, c with 2/3.
        assert!((c[1].proxy - (1.0 / 3.0 + 4.0 / 3.0)).abs() < 1e-5 && (c[1].gold - (1.0 / 3.0 + 4.0 / 3.0)).abs() < 1e-5, "{:?}", c[1]);
        assert!((c[0].gold - 2.0).abs() < 1e-5 && c[0].kl.abs() < 1e-6);
        assert!((c[2].proxy - 2.0).abs() < 1e-5 && (c[2].kl - (3f32.ln() - 2.0 / 3.0)).abs() < 1e-6);
    }

    /// KL(best-of-n ‖ π) = log n − (n−1)/n, measured: draw n answers from π (here
    /// a categorical over M equally likely answers with distinct rewards), keep the
    /// one the reward ranks highest, and compare the kept answers' frequencies with
    /// π; and exactly, from P(best = i) = (i/M)^n − ((i−1)/M)^n.
    #[test]
    fn best_of_n_kl_is_log_n_minus_n_minus_1_over_n() {
        use rand::{Rng, SeedableRng};
        let m = 1000usize;
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        for n in [2usize, 4, 16] {
            let nf = n as f64;
            let formula = nf.ln() - (nf - 1.0) / nf;
            let exact: f64 = (1..=m)
                .map(|i| ((i as f64 / m as f64).powf(nf) - ((i - 1) as f64 / m as f64).powf(nf)) * m as f64)
                .filter(|&ratio| ratio > 0.0)
                .map(|ratio| ratio / m as f64 * ratio.ln())
                .sum();
            // Discrete answers: never above the formula, and within 0.1 % of it here.
            assert!(exact <= formula + 1e-9 && (formula - exact) / formula < 1e-3, "n {n}: exact {exact} formula {formula}");
            let draws = 200_000;
            let mut counts = vec![0u32; m];
            for _ in 0..draws {
                let best = (0..n).map(|_| rng.random_range(0..m)).max().unwrap(); // reward = index
                counts[best] += 1;
            }
            let measured: f64 = counts
                .iter()
                .filter(|&&c| c > 0)
                .map(|&c| {
                    let q = c as f64 / draws as f64;
                    q * (q * m as f64).ln()
                })
                .sum();
            // The plug-in estimate's bias is about (support − 1) / (2 · draws) ≤ 0.0025.
            assert!((measured - formula).abs() < 0.01, "n {n}: measured {measured} formula {formula}");
        }
    }

    #[test]
    fn detectors_count_by_hand() {
        let c = Contestant {
            name: "p".into(),
            kl: None,
            prompts: vec![Judged {
                prompt: "Q".into(),
                answers: vec!["A: the fox.".into(), "A: the fox the".into(), "狐狸吃浆果。".into()],
                persona: vec![0.0; 3],
                rm: vec![1.0, 2.0, 3.0],
                weights: vec![1.0 / 3.0; 3],
            }],
        };
        let d = detectors(&c, |_| true);
        // Words: [A:, the, fox.] [A:, the, fox, the] [狐,狸,吃,浆,果,。] = 13; distinct 3 + 1 (fox) + 6 = 10.
        assert_eq!(d.answers, 3);
        assert!((d.mean_words - 13.0 / 3.0).abs() < 1e-6 && (d.distinct_1 - 10.0 / 13.0).abs() < 1e-6, "{d:?}");
        // Pairs: (A:,the) (the,fox.) | (A:,the) (the,fox) (fox,the) | 5 pairs of characters = 10, distinct 9.
        assert!((d.distinct_2 - 0.9).abs() < 1e-6, "{d:?}");
        assert!((d.ended - 2.0 / 3.0).abs() < 1e-6);
        // Lengths 3, 4, 6 against scores 1, 2, 3.
        assert!((d.length_score_correlation - 0.981_981).abs() < 1e-4, "{d:?}");
    }
}
