//! Sessions round-trip through JSON (odd Unicode included), and a bad file is
//! refused with a message that says what is wrong — never half-imported. The
//! preference and demonstration JSONL (TRL's columns) round-trip too.

use rlhf_playground::rank::{Comparison, Labeler, Pair, pairs_from_ranking};
use rlhf_playground::session::{
    Session, SessionError, Settings, demonstrations_from_jsonl, demonstrations_jsonl, preferences_from_jsonl, preferences_jsonl,
};
use rlhf_playground::sft::Demonstration;

fn session() -> Session {
    let mut s = Session::new(Settings::default());
    s.comparisons.push(Comparison {
        prompt: "Q: What does the fox eat?\n".into(),
        answers: vec!["A: The fox eats berries.".into(), "A: I don't know.".into(), "A: The fox eats hay.".into()],
        pairs: pairs_from_ranking(&[0, 1, 2]),
        labeler: Labeler::Human,
    });
    s.demonstrations.push(Demonstration { prompt: "Q: Where does the owl live?\n".into(), answer: "A: The owl lives in the barn.".into() });
    s.comparisons.push(Comparison {
        prompt: "问：狐狸吃什么？🦊\u{200d}\n".into(),
        answers: vec!["答：狐狸吃浆果。".into(), "答：我不知道。".into()],
        pairs: pairs_from_ranking(&[0, 0]),
        labeler: Labeler::Persona,
    });
    s
}

#[test]
fn a_session_round_trips_and_counts_who_labelled() {
    let s = session();
    let back = Session::from_json(&s.to_json()).unwrap();
    assert_eq!(back, s);
    assert_eq!(back.pair_counts(), (3, 0), "3 human pairs; the persona's tie gave none");
}

#[test]
fn bad_files_are_refused_with_a_reason() {
    let err = |text: &str| Session::from_json(text).unwrap_err();
    assert!(matches!(err("{not json"), SessionError::NotJson(_)));
    assert_eq!(err(r#"{"hello": 1}"#), SessionError::NotASession);
    let mut v: serde_json::Value = serde_json::from_str(&session().to_json()).unwrap();
    v["version"] = 99.into();
    assert_eq!(err(&v.to_string()), SessionError::NewerVersion(99));

    let broken = |f: &dyn Fn(&mut Session)| {
        let mut s = session();
        f(&mut s);
        Session::from_json(&s.to_json()).unwrap_err()
    };
    let e = broken(&|s| s.comparisons[0].pairs.push(Pair { chosen: 0, rejected: 7 }));
    assert!(matches!(&e, SessionError::BadComparison { index: 0, .. }), "{e}");
    assert!(e.to_string().contains("ranked prompt #1"), "{e}");
    let e = broken(&|s| s.comparisons[0].pairs.push(Pair { chosen: 2, rejected: 0 }));
    assert!(e.to_string().contains("each ranked above the other"), "{e}");
    let e = broken(&|s| s.comparisons[1].prompt = "   ".into());
    assert!(matches!(e, SessionError::BadComparison { index: 1, .. }));
    let e = broken(&|s| s.comparisons[0].answers[0] = "x".repeat(5000));
    assert!(e.to_string().contains("longer than"), "{e}");
    assert!(matches!(broken(&|s| s.settings.k = 12), SessionError::BadSettings(_)));
    assert!(matches!(broken(&|s| s.settings.beta = -1.0), SessionError::BadSettings(_)));
    assert!(matches!(err(&" ".repeat(9 << 20)), SessionError::TooLarge(_)));
    let e = broken(&|s| s.demonstrations[0].answer = " ".into());
    assert!(matches!(&e, SessionError::BadDemonstration { index: 0, .. }), "{e}");
    assert!(e.to_string().contains("demonstration #1"), "{e}");
}

#[test]
fn a_session_saved_before_demonstrations_existed_still_reads() {
    let mut v: serde_json::Value = serde_json::from_str(&session().to_json()).unwrap();
    v.as_object_mut().unwrap().remove("demonstrations");
    let s = Session::from_json(&v.to_string()).unwrap();
    assert!(s.demonstrations.is_empty(), "no demonstrations saved = the shipped ones");
}

/// (prompt, chosen text, rejected text, labeler) of every pair.
fn triples(cs: &[Comparison]) -> Vec<(String, String, String, Labeler)> {
    let mut t: Vec<_> = cs
        .iter()
        .flat_map(|c| c.pairs.iter().map(|p| (c.prompt.clone(), c.answers[p.chosen].clone(), c.answers[p.rejected].clone(), c.labeler)))
        .collect();
    t.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
    t
}

#[test]
fn preferences_round_trip_as_trl_jsonl() {
    let mut s = session();
    s.comparisons.push(Comparison {
        prompt: "Q: Is the \"moon\" cheese?\n".into(),
        answers: vec!["A: No.\nIt is rock.".into(), "A: Yes.".into(), "A: Maybe.".into(), "A: No.\nIt is rock.".into()],
        pairs: pairs_from_ranking(&[0, 2, 1, 3]),
        labeler: Labeler::Persona,
    });
    let text = preferences_jsonl(&s.comparisons);
    // One line per pair, TRL's three columns.
    let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    // The fox's 3 pairs; of the moon's 6, the repeated text (answers 1 and 4) leaves
    // out 1 > 4 (same text), and two contradictions through the copy: No > Yes
    // (1 > 2) against Yes > No (2 > 4), No > Maybe (1 > 3) against Maybe > No
    // (3 > 4). Maybe > Yes remains.
    assert_eq!(lines.len(), 3 + 1);
    assert_eq!(lines[0]["prompt"], "Q: What does the fox eat?\n");
    assert_eq!(lines[0]["chosen"], "A: The fox eats berries.");
    assert_eq!(lines[0]["rejected"], "A: I don't know.");
    // The same pairs come back (the duplicate answer text becomes one answer).
    let back = preferences_from_jsonl(&text).unwrap();
    let mut want = triples(&s.comparisons);
    let contradicted = |c: &str, r: &str| want.iter().any(|(_, c2, r2, _)| c2 == r && r2 == c);
    want = want.iter().filter(|(_, c, r, _)| c != r && !contradicted(c, r)).cloned().collect();
    assert_eq!(triples(&back), want);
    // A file from elsewhere: no labeler column means a person ranked it.
    let foreign = "{\"prompt\": \"Q: Hi?\\n\", \"chosen\": \"A: Hello.\", \"rejected\": \"A: Go away.\", \"score\": 3}\n\n";
    let back = preferences_from_jsonl(foreign).unwrap();
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].labeler, Labeler::Human);
    assert_eq!(back[0].pairs, vec![Pair { chosen: 0, rejected: 1 }]);
}

#[test]
fn bad_jsonl_is_refused_whole_with_the_line() {
    let good = preferences_jsonl(&session().comparisons);
    let bad = format!("{good}{{\"prompt\": \"Q\", \"chosen\": \"A\"}}\n");
    let e = preferences_from_jsonl(&bad).unwrap_err();
    assert!(matches!(e, SessionError::BadLine { line: 4, .. }), "{e}");
    assert!(e.to_string().contains("line 4"), "{e}");
    // An answer ranked above itself.
    let e = preferences_from_jsonl("{\"prompt\": \"Q\", \"chosen\": \"A\", \"rejected\": \"A\"}").unwrap_err();
    assert!(e.to_string().contains("line 1") && e.to_string().contains("same text"), "{e}");
    assert!(preferences_from_jsonl("").is_err());
    assert!(preferences_from_jsonl(&s_big()).is_err());
}

fn s_big() -> String {
    "x".repeat(rlhf_playground::session::MAX_BYTES + 1)
}

#[test]
fn demonstrations_round_trip_as_prompt_completion_jsonl() {
    let demos = vec![
        Demonstration { prompt: "Q: Where does the owl live?\n".into(), answer: "A: The owl lives in the barn.".into() },
        Demonstration { prompt: "问：猫喝什么？\n".into(), answer: "答：猫喝牛奶。".into() },
    ];
    let text = demonstrations_jsonl(&demos);
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["completion"], "A: The owl lives in the barn.");
    assert_eq!(demonstrations_from_jsonl(&text).unwrap(), demos);
    let e = demonstrations_from_jsonl("{\"prompt\": \"Q: x\", \"completion\": \"  \"}").unwrap_err();
    assert!(matches!(e, SessionError::BadDemonstration { index: 0, .. }), "{e}");
}
