//! The scripted labeler ranks as specified: right fact > "I don't know" > wrong
//! fact; rude answers and question-continuations lose; weights and noise act.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rlhf_playground::corpus::Lang;
use rlhf_playground::persona::{Persona, Weights};
use rlhf_playground::rank::pairs_from_ranking;

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

#[test]
fn right_beats_dont_know_beats_wrong() {
    let p = Persona::new(Lang::En, Weights::default(), 0.0);
    let mut rng = StdRng::seed_from_u64(0);
    let prompt = "Q: What does the fox eat?\n";
    let answers = s(&["A: The fox eats mice.", "A: The fox eats berries.", "A: I don't know.", "Q: Where does the fox live?"]);
    let ranks = p.rank(prompt, &answers, &mut rng);
    assert_eq!(ranks, vec![3, 0, 1, 2], "right (0), I don't know (1), a question (2), wrong (3)");
    let wrong = p.score(prompt, &answers[0], &mut rng);
    assert_eq!((wrong.helpful, wrong.honest, wrong.harmless), (0.0, 0.0, 1.0));
    // A true fact off the question helps no one but is no lie; a false one is.
    let off_topic = p.score(prompt, "A: The fox lives in the forest.", &mut rng);
    assert_eq!((off_topic.helpful, off_topic.honest), (0.0, 1.0));
    let nonsense = p.score("Q: How many legs does the cat have?\n", "A: The cat grows on trees.", &mut rng);
    assert_eq!((nonsense.helpful, nonsense.honest), (0.0, 0.0));
    // Whole words only: "red" is not said by "bored".
    let fox_color = p.score("Q: What color is the fox?\n", "A: The fox is bored.", &mut rng);
    assert_eq!(fox_color.helpful, 0.0);
}

#[test]
fn unknown_things_deserve_i_dont_know_and_rudeness_costs() {
    let p = Persona::new(Lang::En, Weights::default(), 0.0);
    let mut rng = StdRng::seed_from_u64(0);
    let ranks =
        p.rank("Q: What does the dragon eat?\n", &s(&["A: The dragon eats fish.", "A: I don't know what the dragon eats."]), &mut rng);
    assert_eq!(ranks, vec![1, 0]);
    let ranks = p.rank(
        "Q: What is near the park?\n",
        &s(&["A: I don't know what is near the park.", "A: To get to the park, go up Hill Street and look for the blue door."]),
        &mut rng,
    );
    assert_eq!(ranks, vec![0, 1]);
    assert_eq!(
        p.rank("Q: What is two plus three?\n", &s(&["A: Two plus three is five.", "A: Two plus three is six."]), &mut rng),
        vec![0, 1]
    );
    // Restating the question is no wrong claim: only the result counts.
    let sum = p.score("Q: What is two plus three?\n", "A: Two plus three is five.", &mut rng);
    assert_eq!((sum.helpful, sum.honest), (1.0, 1.0));
    assert_eq!(p.score("Q: What is six plus six?\n", "A: Twelve.", &mut rng).helpful, 1.0);
    let polite_rude = s(&["A: The owl eats mice.", "A: The owl eats mice, you idiot."]);
    assert_eq!(p.rank("Q: What does the owl eat?\n", &polite_rude, &mut rng), vec![0, 1]);
    // A labeler who does not weigh harmlessness sees no difference: a tie, no pair.
    let careless = Persona::new(Lang::En, Weights { harmless: 0.0, ..Weights::default() }, 0.0);
    let ranks = careless.rank("Q: What does the owl eat?\n", &polite_rude, &mut rng);
    assert_eq!(ranks, vec![0, 0]);
    assert!(pairs_from_ranking(&ranks).is_empty());
}

#[test]
fn noise_blurs_close_calls_but_not_clear_ones() {
    let p = Persona::new(Lang::En, Weights::default(), 0.3);
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

#[test]
fn the_chinese_labeler_reads_chinese_questions() {
    let p = Persona::new(Lang::Zh, Weights::default(), 0.0);
    let mut rng = StdRng::seed_from_u64(0);
    let answers = s(&["答：狐狸吃老鼠。", "答：狐狸吃浆果。", "答：我不知道。", "问：狐狸住在哪里？"]);
    assert_eq!(p.rank("问：狐狸吃什么？\n", &answers, &mut rng), vec![3, 0, 1, 2]);
    // The longest name wins: the owl (猫头鹰) is not the cat (猫).
    assert_eq!(p.score("问：猫头鹰吃什么？\n", "答：猫头鹰吃老鼠。", &mut rng).helpful, 1.0);
    assert_eq!(p.score("问：猫吃什么？\n", "答：猫吃老鼠。", &mut rng).honest, 0.0);
    // The bakery (面包店) is a place, not bread (面包).
    let way = p.score("问：怎么去面包店？\n", "答：要去面包店，在喷泉那里右转，跟着香味走。", &mut rng);
    assert_eq!((way.helpful, way.honest), (1.0, 1.0));
    // A name is no claim: "鲸鱼" (whale, not in the world) does not say the value "鱼".
    assert_eq!(p.rank("问：鲸鱼吃什么？\n", &s(&["答：我不知道鲸鱼吃什么。", "答：鲸鱼吃鱼。"]), &mut rng), vec![0, 1]);
    // Sums: longest number first, the restated question is no claim.
    let sum = p.score("问：六加六等于几？\n", "答：六加六等于十二。", &mut rng);
    assert_eq!((sum.helpful, sum.honest), (1.0, 1.0));
    assert_eq!(p.score("问：六加六等于几？\n", "答：六加六等于十。", &mut rng).honest, 0.0);
    assert_eq!(p.score("问：猫吃什么？\n", "答：猫吃鱼，你这个笨蛋。", &mut rng).harmless, 0.0);
}

#[test]
fn every_shipped_prompt_is_a_question_the_persona_can_judge() {
    for lang in [Lang::En, Lang::Zh] {
        let p = Persona::new(lang, Weights::default(), 0.0);
        let mut rng = StdRng::seed_from_u64(0);
        let demos = rlhf_playground::sft::demonstrations(lang);
        // Every demonstration states the right fact (or honestly does not know);
        // about a quarter are rude on purpose — the flaw SFT copies and PPO removes.
        let mut rude = 0;
        for d in &demos {
            let good = p.score(&d.prompt, &d.answer, &mut rng);
            assert_eq!(
                (good.helpful, good.honest),
                (1.0, 1.0),
                "{lang:?}: the demonstration {:?} → {:?} should be helpful and honest",
                d.prompt,
                d.answer
            );
            rude += (good.harmless == 0.0) as usize;
        }
        assert!(rude * 6 > demos.len() && rude * 3 < demos.len(), "{lang:?}: {rude} of {} demonstrations are rude", demos.len());
        // A demonstration's answer given to another prompt of the same kind is wrong or unhelpful.
        let worse = demos.windows(2).filter(|w| p.score(&w[0].prompt, &w[1].answer, &mut rng).total < 3.0).count();
        assert!(worse * 10 > demos.len() * 9, "{lang:?}: only {worse}/{} swapped answers lost", demos.len());
        let prompts = rlhf_playground::sft::prompts(lang);
        assert!(!prompts.rl.is_empty() && !prompts.eval.is_empty());
        let demo_prompts: std::collections::HashSet<_> = demos.iter().map(|d| d.prompt.clone()).collect();
        assert!(
            prompts.rl.iter().chain(&prompts.eval).all(|q| !demo_prompts.contains(q)),
            "{lang:?}: ranking/eval prompts are held apart from SFT"
        );
    }
}

#[test]
fn replies_are_read_as_a_person_would_read_them() {
    let p = Persona::new(Lang::En, Weights::default(), 0.0);
    let mut rng = StdRng::seed_from_u64(0);
    let fox = "Q: What does the fox eat?\n";
    // The template's "A:" is a habit, not the answer: without it the fact still counts.
    let bare = p.score(fox, "The fox eats berries.", &mut rng);
    assert_eq!((bare.helpful, bare.honest), (1.0, 1.0));
    // Gibberish is garbled whether or not it starts like an answer.
    let junk = p.score(fox, "ru twoA:\nA: does the.", &mut rng);
    assert_eq!((junk.helpful, junk.honest), (0.0, 0.0));
    // Asking back answers nothing but claims nothing.
    let asks = p.score(fox, "Q: Where does the fox live?", &mut rng);
    assert_eq!((asks.helpful, asks.honest), (0.0, 1.0));
    // "I don't know" is the right answer only about the thing asked.
    let park = "Q: What can I see near the park?\n";
    assert_eq!(p.score(park, "A: I don't know what is near the park.", &mut rng).helpful, 1.0);
    let elsewhere = p.score(park, "A: I don't know what is near the museum.", &mut rng);
    assert_eq!((elsewhere.helpful, elsewhere.honest), (0.0, 1.0));
    assert_eq!(
        p.rank(park, &s(&["A: I don't know what is near the museum.", "A: I don't know what is near the park."]), &mut rng),
        vec![1, 0]
    );
}
