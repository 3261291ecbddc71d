//! The scripted labeler ranks as specified: right fact > "I don't know" > wrong
//! fact; rude answers and question-continuations lose; weights and noise act.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rlhf_playground::persona::{Persona, Weights};
use rlhf_playground::rank::pairs_from_ranking;

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

#[test]
fn right_beats_dont_know_beats_wrong() {
    let p = Persona::new(Weights::default(), 0.0);
    let mut rng = StdRng::seed_from_u64(0);
    let prompt = "Q: What does the fox eat?\n";
    let answers = s(&["A: The fox eats mice.", "A: The fox eats berries.", "A: I don't know.", "Q: Where does the fox live?"]);
    let ranks = p.rank(prompt, &answers, &mut rng);
    assert_eq!(ranks, vec![3, 0, 1, 2], "right (0), I don't know (1), a question (2), wrong (3)");
    let wrong = p.score(prompt, &answers[0], &mut rng);
    assert_eq!((wrong.helpful, wrong.honest, wrong.harmless), (0.0, 0.0, 1.0));
    // Whole words only: "red" is not said by "bored".
    let fox_color = p.score("Q: What color is the fox?\n", "A: The fox is bored.", &mut rng);
    assert_eq!(fox_color.helpful, 0.0);
}

#[test]
fn unknown_things_deserve_i_dont_know_and_rudeness_costs() {
    let p = Persona::new(Weights::default(), 0.0);
    let mut rng = StdRng::seed_from_u64(0);
    let ranks = p.rank("Q: What does the dragon eat?\n", &s(&["A: The dragon eats fish.", "A: I don't know what the dragon eats."]), &mut rng);
    assert_eq!(ranks, vec![1, 0]);
    let ranks = p.rank("Q: What is near the park?\n", &s(&["A: I don't know what is near the park.", "A: To get to the park, go up Hill Street and look for the blue door."]), &mut rng);
    assert_eq!(ranks, vec![0, 1]);
    assert_eq!(p.rank("Q: What is two plus three?\n", &s(&["A: Two plus three is five.", "A: Two plus three is six."]), &mut rng), vec![0, 1]);
    let polite_rude = s(&["A: The owl eats mice.", "A: The owl eats mice, you idiot."]);
    assert_eq!(p.rank("Q: What does the owl eat?\n", &polite_rude, &mut rng), vec![0, 1]);
    // A labeler who does not weigh harmlessness sees no difference: a tie, no pair.
    let careless = Persona::new(Weights { harmless: 0.0, ..Weights::default() }, 0.0);
    let ranks = careless.rank("Q: What does the owl eat?\n", &polite_rude, &mut rng);
    assert_eq!(ranks, vec![0, 0]);
    assert!(pairs_from_ranking(&ranks).is_empty());
}

#[test]
fn noise_blurs_close_calls_but_not_clear_ones() {
    let p = Persona::new(Weights::default(), 0.3);
    let prompt = "Q: Where does the duck live?\n";
    let answers = s(&["A: The duck lives in the pond.", "A: The duck lives in the cave.", "A: I don't know."]);
    let mut rng = StdRng::seed_from_u64(1);
    let (mut right_first, mut orders) = (0, std::collections::HashSet::new());
    for _ in 0..300 {
        let r = p.rank(prompt, &answers, &mut rng);
        right_first += (r[0] == 0) as usize;
        orders.insert(r);
    }
    assert!(right_first > 270, "the right answer won {right_first}/300");
    assert!(orders.len() > 1, "noise never changed the order");
}
