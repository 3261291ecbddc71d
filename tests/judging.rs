//! The arithmetic the Reward-model and Evaluate panels show: where the reward
//! model disagrees with a ranking, reward histograms, blind A/B sides and win rates.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rlhf_playground::evaluate::{Blind, Judgement, win_rate};
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
