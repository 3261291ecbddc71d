use rlhf_playground::rank::{K_MAX, K_MIN, Pair, pairs_from_ranking};

#[test]
fn a_strict_ranking_of_k_gives_k_choose_2_pairs() {
    for k in K_MIN..=K_MAX {
        let ranks: Vec<u32> = (0..k as u32).rev().collect(); // answer 0 is ranked last
        let pairs = pairs_from_ranking(&ranks);
        assert_eq!(pairs.len(), k * (k - 1) / 2);
        assert!(pairs.iter().all(|p| ranks[p.chosen] < ranks[p.rejected]));
        assert!(pairs.iter().all(|p| p.rejected != k - 1), "the best answer never loses");
    }
}

#[test]
fn ties_give_no_pair() {
    // answers 0 and 1 tie for first, 2 is last: 0 > 2 and 1 > 2 only.
    assert_eq!(pairs_from_ranking(&[0, 0, 1]), vec![Pair { chosen: 0, rejected: 2 }, Pair { chosen: 1, rejected: 2 }]);
    assert!(pairs_from_ranking(&[3, 3, 3, 3]).is_empty());
}

#[test]
fn keyboard_moves_untie_first_and_rank_numbers_reorder() {
    use rlhf_playground::rank::{move_answer, set_place, tie_with_above};
    // Four answers in sampled order.
    let r = vec![0, 1, 2, 3];
    assert_eq!(move_answer(&r, 2, true), vec![0, 2, 1, 3], "answer 3 moves above answer 2");
    assert_eq!(move_answer(&r, 0, true), r, "the best cannot go higher");
    assert_eq!(move_answer(&r, 3, false), r, "the worst cannot go lower");
    // "=" on answer 4 ties it with answer 3 above it — a tie gives no pair.
    let tied = tie_with_above(&r, 3);
    assert_eq!(tied, vec![0, 1, 2, 2]);
    assert_eq!(pairs_from_ranking(&tied).len(), 5, "6 pairs less the tie");
    assert_eq!(tie_with_above(&r, 0), r, "nothing above the best");
    // An arrow key first takes an answer out of its tie.
    assert_eq!(move_answer(&tied, 3, true), vec![0, 1, 3, 2]);
    assert_eq!(move_answer(&tied, 2, false), vec![0, 1, 3, 2]);
    // A rank number moves the answer to that place; the others keep their order.
    assert_eq!(set_place(&r, 0, 3), vec![3, 0, 1, 2]);
    assert_eq!(set_place(&r, 3, 0), vec![1, 2, 3, 0]);
    assert_eq!(set_place(&tied, 0, 9), vec![2, 0, 1, 1], "past the end is last");
}

/// Prompts ranked together (one batch a round) get the K answers each gets alone
/// from its own stream: the same texts, in the same order, none twice. A prompt
/// that leaves the block no room is sampled alone.
#[test]
fn prompts_sampled_for_ranking_together_get_the_answers_each_gets_alone() {
    use burn::prelude::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use rlhf_playground::corpus::Lang;
    use rlhf_playground::lab::Lab;
    use rlhf_playground::model::Preset;
    use rlhf_playground::rank::{rank_sampling, sample_answers, sample_answers_many};

    let device = Device::flex();
    let lab = Lab::new(Preset::Micro, 5, Lang::En, &device).unwrap();
    let (policy, tok) = (lab.pretrainer.model(), &lab.tokenizer);
    let long = "Q: ".to_string() + &"the fox and the owl ".repeat(40);
    assert!(tok.encode(&long).len() + 1 >= policy.block_size(), "the long prompt leaves no room");
    let prompts: Vec<String> =
        ["Q: What does the fox eat?", "Q: Where does the owl sleep when it rains?", long.as_str(), "Q: Why?"].map(String::from).to_vec();
    let seeds = [31u64, 32, 33, 34];
    let mut rngs: Vec<StdRng> = seeds.iter().map(|&s| StdRng::seed_from_u64(s)).collect();
    let k = 5;
    let together = pollster::block_on(sample_answers_many(&policy, tok, &prompts, k, &rank_sampling(), &mut rngs, &device)).unwrap();
    assert_eq!(together.len(), prompts.len());
    for ((prompt, &seed), answers) in prompts.iter().zip(&seeds).zip(&together) {
        let mut rng = StdRng::seed_from_u64(seed);
        let alone = pollster::block_on(sample_answers(&policy, tok, prompt, k, &rank_sampling(), &mut rng, &device)).unwrap();
        assert_eq!(answers, &alone, "{prompt:?}");
        assert!(!answers.is_empty() && answers.len() <= k);
        for (i, a) in answers.iter().enumerate() {
            assert!(!answers[..i].contains(a), "{a:?} shown twice for {prompt:?}");
        }
    }
}
