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
