//! Sessions round-trip through JSON (odd Unicode included), and a bad file is
//! refused with a message that says what is wrong — never half-imported.

use rlhf_playground::rank::{Labeler, Pair, pairs_from_ranking};
use rlhf_playground::reward::Comparison;
use rlhf_playground::session::{Session, SessionError, Settings};
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
