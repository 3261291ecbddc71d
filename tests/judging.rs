//! The arithmetic the Reward-model and Evaluate panels show: where the reward
//! model disagrees with a ranking, reward histograms, blind A/B sides and win rates;
//! and the evaluation's statistics: intervals clustered by prompt, best-of-n's
//! order-statistic weights, matchups over all pairings.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rlhf_playground::evaluate::{Blind, Contestant, Judged, Judgement, best_of_n, matchup, win_rate};
use rlhf_playground::interval::{clustered_mean, t975};
use rlhf_playground::rank::{Pair, pairs_from_ranking};
use rlhf_playground::reward::disagreements;
use rlhf_playground::stats::histogram;

#[test]
fn disagreements_are_the_pairs_the_scores_order_the_other_way() {
    // Ranked 0 > 1 > 2; the scores put 2 above 1 and tie 0 with 1.
    let pairs = pairs_from_ranking(&[0, 1, 2]);
    let d = disagreements(&[1.0, 1.0, 2.0], &pairs);
    assert_eq!(d, vec![Pair { chosen: 0, rejected: 1 }, Pair { chosen: 0, rejected: 2 }, Pair { chosen: 1, rejected: 2 }]);
    assert!(disagreements(&[3.0, 2.0, 1.0], &pairs).is_empty());
    assert_eq!(disagreements(&[3.0, 1.0, 2.0], &pairs), vec![Pair { chosen: 1, rejected: 2 }]);
}

#[test]
fn histogram_counts_every_finite_value_once() {
    let v = [0.0, 0.1, 0.5, 0.9, 1.0, f32::NAN, f32::INFINITY];
    let h = histogram(&v, 2);
    assert_eq!(h.len(), 2);
    assert_eq!((h[0].lo, h[1].hi), (0.0, 1.0));
    assert_eq!(h.iter().map(|b| b.count).collect::<Vec<_>>(), vec![2, 3], "0.5 opens the second bar; the top edge counts in the last");
    assert!(histogram(&[f32::NAN], 4).is_empty());
    let same = histogram(&[2.0, 2.0], 3);
    assert_eq!(same.iter().map(|b| b.count).sum::<usize>(), 2);
    assert!(same[0].lo < 2.0 && same[2].hi > 2.0);
}

#[test]
fn blind_sides_are_shuffled_and_verdicts_read_back_for_ppo() {
    let mut rng = StdRng::seed_from_u64(7);
    let duels: Vec<Blind> = (0..200).map(|_| Blind::new("Q: ?", "sft says", "ppo says", &mut rng)).collect();
    let left = duels.iter().filter(|d| d.ppo_is_a).count();
    assert!((60..140).contains(&left), "PPO is on the left about half the time: {left}/200");
    for d in &duels {
        let (ppo_side, sft_side) = if d.ppo_is_a { (Judgement::A, Judgement::B) } else { (Judgement::B, Judgement::A) };
        assert_eq!(if d.ppo_is_a { &d.a } else { &d.b }, "ppo says");
        assert_eq!(d.ppo_verdict(ppo_side), 1.0);
        assert_eq!(d.ppo_verdict(sft_side), 0.0);
        assert_eq!(d.ppo_verdict(Judgement::Tie), 0.5);
    }
}

#[test]
fn win_rate_counts_ties_half() {
    let w = win_rate([1.0, 1.0, 0.5, 0.0]);
    assert_eq!((w.wins, w.ties, w.losses), (2, 1, 1));
    assert!((w.rate - 0.625).abs() < 1e-6);
    assert_eq!(win_rate([]).rate, 0.5, "no judgement yet reads as 'no better'");
}

#[test]
fn the_win_rate_interval_holds_half_until_the_duels_can_tell() {
    let w = win_rate([1.0, 0.0, 0.5, 1.0]);
    assert!(w.within_noise(), "4 duels cannot tell: [{}, {}]", w.low, w.high);
    let many = win_rate(std::iter::repeat_n([1.0, 1.0, 0.5, 0.0], 50).flatten());
    assert!((many.rate - 0.625).abs() < 1e-6 && !many.within_noise() && many.low > 0.5, "[{}, {}]", many.low, many.high);
}

#[test]
fn duels_that_all_agree_do_not_claim_certainty() {
    // 10 ties: the plug-in variance is 0; Wilson's interval for ½ of 10 units is
    // ½ ± 1.96 / (1 + 1.96²/10) · √(¼/10 + 1.96²/400) = ½ ± 0.2634.
    let ties = win_rate(std::iter::repeat_n(0.5, 10));
    assert!((ties.low - 0.2366).abs() < 1e-3 && (ties.high - 0.7634).abs() < 1e-3 && ties.within_noise(), "[{}, {}]", ties.low, ties.high);
    // 10 wins of 10: Wilson's well-known [0.722, 1].
    let wins = win_rate(std::iter::repeat_n(1.0, 10));
    assert!((wins.low - 0.7225).abs() < 1e-3 && wins.high == 1.0, "[{}, {}]", wins.low, wins.high);
    // Unbounded values keep the plug-in interval.
    let same = clustered_mean(&[vec![2.0], vec![2.0]], (f32::NEG_INFINITY, f32::INFINITY));
    assert_eq!((same.low, same.high), (2.0, 2.0));
}

#[test]
fn t_quantiles_match_the_table() {
    for (df, t) in [(1, 12.706), (2, 4.303), (4, 2.776), (6, 2.447), (10, 2.228), (30, 2.042), (100, 1.984)] {
        assert!((t975(df) - t).abs() < 3e-3, "df {df}: {} vs {t}", t975(df));
    }
}

#[test]
fn clustered_interval_is_the_cr1_variance_by_hand() {
    // Five prompts, two answers each: mean 6.5 / 10 = 0.65. Per prompt, the sum of
    // deviations is 0.7, −0.3, −1.3, 0.7, 0.2: squares 2.8 in all, so the variance
    // of the mean is 2.8 / 10² × 5 / 4 = 0.035 and the half-width t₄ × √0.035.
    let c = vec![vec![1.0, 1.0], vec![1.0, 0.0], vec![0.0, 0.0], vec![1.0, 1.0], vec![1.0, 0.5]];
    let i = clustered_mean(&c, (f32::NEG_INFINITY, f32::INFINITY));
    let half = 2.776 * 0.035f64.sqrt();
    assert!((i.mean - 0.65).abs() < 1e-6 && (i.half_width() as f64 - half).abs() < 1e-4, "{i:?}");
    assert_eq!((i.n, i.clusters), (10, 5));
    // Answers to one prompt are not independent: the same values, each its own
    // cluster, give a narrower interval than the truth.
    let flat: Vec<Vec<f32>> = c.iter().flatten().map(|&x| vec![x]).collect();
    assert!(clustered_mean(&flat, (f32::NEG_INFINITY, f32::INFINITY)).half_width() < i.half_width());
    assert_eq!(clustered_mean(&c, (0.0, 1.0)).high, 1.0, "clamped to the bounds");
}

fn judged(prompt: &str, persona: &[f32], rm: &[f32]) -> Judged {
    let n = persona.len();
    Judged {
        prompt: prompt.into(),
        answers: (0..n).map(|i| format!("answer {i}")).collect(),
        persona: persona.to_vec(),
        rm: rm.to_vec(),
        weights: vec![1.0 / n as f32; n],
    }
}

#[test]
fn best_of_n_weights_are_the_chance_of_winning_a_random_subset() {
    // Pool of 5 by RM score; best-of-2: enumerate the 10 pairs by hand.
    let pool =
        Contestant { name: "pool".into(), kl: None, prompts: vec![judged("Q", &[0.0, 1.0, 2.0, 3.0, 0.0], &[0.3, 0.1, 0.5, 0.2, 0.4])] };
    let b = best_of_n(&pool, 2);
    let mut brute = [0.0f32; 5];
    for i in 0..5 {
        for j in i + 1..5 {
            let best = if pool.prompts[0].rm[i] > pool.prompts[0].rm[j] { i } else { j };
            brute[best] += 0.1;
        }
    }
    for (w, x) in b.prompts[0].weights.iter().zip(brute) {
        assert!((w - x).abs() < 1e-6, "{:?} vs {brute:?}", b.prompts[0].weights);
    }
    assert!((b.kl.unwrap() - (2f32.ln() - 0.5)).abs() < 1e-6);
    assert_eq!(best_of_n(&pool, 5).prompts[0].weights, vec![0.0, 0.0, 1.0, 0.0, 0.0], "n = N picks the pool's best");
    assert!((best_of_n(&pool, 1).prompts[0].weights.iter().sum::<f32>() - 1.0).abs() < 1e-6);
}

#[test]
fn a_matchup_averages_all_pairings_per_prompt() {
    // Prompt 1: {2, 1} vs {1, 1}: 2 of 4 pairings won, 2 tied → 0.75. Prompt 2:
    // {0} vs {1}: lost → 0. Win rate 0.375 over two prompts.
    let a = Contestant {
        name: "ppo".into(),
        kl: Some(1.0),
        prompts: vec![judged("Q1", &[2.0, 1.0], &[1.0, 0.0]), judged("Q2", &[0.0], &[5.0])],
    };
    let b =
        Contestant { name: "sft".into(), kl: None, prompts: vec![judged("Q1", &[1.0, 1.0], &[0.5, 0.5]), judged("Q2", &[1.0], &[0.0])] };
    let m = matchup(&a, &b, |_| true);
    assert!((m.persona.mean - 0.375).abs() < 1e-6, "{m:?}");
    assert!((m.rm.mean - 0.75).abs() < 1e-6, "RM: 0.5 on Q1, 1 on Q2");
    assert_eq!((m.prompts, m.duels), (2, 3));
    assert!(
        (m.wins - 1.0).abs() < 1e-6 && (m.ties - 1.0).abs() < 1e-6 && (m.losses - 1.0).abs() < 1e-6,
        "{} {} {}",
        m.wins,
        m.ties,
        m.losses
    );
    assert!((m.score_diff.mean - (0.5 - 1.0) / 2.0).abs() < 1e-6);
    let only_q2 = matchup(&a, &b, |p| p == "Q2");
    assert_eq!((only_q2.prompts, only_q2.persona.mean), (1, 0.0));
}
