//! The e2e CPU walk, natively, over seeds (a study, not a test): what the page does
//! when tests/e2e/run.mjs walks it on the CPU backend — 22 pretraining steps, 11 SFT
//! steps, 4 prompts of K = 4 answers ranked shortest first (an empty answer last),
//! 11 reward-model steps, then PPO with the walk's settings — through the same stage
//! drivers. One JSON line per seed: PPO's mean score and answer length over the
//! first and last third of its iterations, and its KL. Tells whether the walk's
//! "the mean score rises" holds for the recipe or for one seed.
//! Run: `cargo bench --bench walk`; WALK_SEEDS=1-8, WALK_PPO="lr=0.0003,k=4,rollout=16,
//! epochs=2,beta=0.1,ptx=0.3,iterations=24" (the walk's: the page's recipe, 16 answers
//! an iteration), WALK_STEPS="pretrain=22,sft=11,rm=11".

use pollster::block_on;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rlhf_playground::corpus::Lang;
use rlhf_playground::lab::Lab;
use rlhf_playground::model::Preset;
use rlhf_playground::rank::{Comparison, Labeler, pairs_from_ranking, rank_sampling, sample_answers};
use rlhf_playground::sft;
use rlhf_playground::stages::ppo::{Beside, PpoRecipe, PpoSettings, PpoStage};
use rlhf_playground::stages::pretrain::{self, Cadence};
use rlhf_playground::stages::reward::{RewardSettings, RewardStage};
use rlhf_playground::stages::sft::SftStage;
use std::collections::HashMap;

/// `key=value,…` from an environment variable, over defaults.
fn settings(var: &str, defaults: &[(&str, f64)]) -> HashMap<String, f64> {
    let mut m: HashMap<String, f64> = defaults.iter().map(|(k, v)| (k.to_string(), *v)).collect();
    for kv in std::env::var(var).unwrap_or_default().split(',').filter(|s| !s.is_empty()) {
        let (k, v) = kv.split_once('=').unwrap_or_else(|| panic!("{var}: key=value, not {kv}"));
        assert!(m.contains_key(k.trim()), "{var}: no setting {k}");
        m.insert(k.trim().into(), v.trim().parse().unwrap_or_else(|_| panic!("{var}: {v} is not a number")));
    }
    m
}

/// The walk's rule: shorter first, an empty answer last; places as the keyboard
/// gives them (every answer its own place).
fn shortest_first(answers: &[String]) -> Vec<u32> {
    let mut order: Vec<usize> = (0..answers.len()).collect();
    order.sort_by_key(|&i| (answers[i].trim().is_empty(), answers[i].chars().count()));
    let mut ranks = vec![0; answers.len()];
    for (place, i) in order.into_iter().enumerate() {
        ranks[i] = place as u32;
    }
    ranks
}

fn main() {
    let seeds: Vec<u64> = {
        let s = std::env::var("WALK_SEEDS").unwrap_or_else(|_| "1-6".into());
        match s.split_once('-') {
            Some((a, b)) => (a.parse().unwrap()..=b.parse().unwrap()).collect(),
            None => s.split(',').map(|x| x.parse().unwrap()).collect(),
        }
    };
    let steps = settings("WALK_STEPS", &[("pretrain", 22.0), ("sft", 11.0), ("rm", 11.0), ("prompts", 4.0), ("k", 4.0)]);
    let p = settings(
        "WALK_PPO",
        &[
            ("lr", 3e-4),
            ("k", 4.0),
            ("rollout", 16.0),
            ("epochs", 2.0),
            ("beta", 0.1),
            ("ptx", 0.3),
            ("iterations", 24.0),
            ("tokens", 40.0),
        ],
    );
    let device = burn::prelude::Device::flex();
    for seed in seeds {
        let t0 = web_time::Instant::now();
        let mut lab = Lab::new(Preset::Micro, seed, Lang::En, &device).unwrap();
        let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
        let never = Cadence { held_out: 0, sample: 0, sample_tokens: 0 };
        for _ in 0..steps["pretrain"] as usize {
            block_on(pretrain::step(&mut lab.pretrainer, &lab.tokenizer, &lab.device, &never, None, &mut rng)).unwrap();
        }
        let demos = sft::demonstrations(Lang::En);
        let mut sft_stage = SftStage::new(&lab, &demos);
        for _ in 0..steps["sft"] as usize {
            block_on(sft_stage.step()).unwrap();
        }
        let mut rng = StdRng::seed_from_u64(seed ^ 0x5f7);
        let ranked: Vec<Comparison> = sft::prompts(Lang::En)
            .rl
            .into_iter()
            .take(steps["prompts"] as usize)
            .map(|prompt| {
                let model = sft_stage.trainer.model();
                let answers =
                    block_on(sample_answers(&model, &lab.tokenizer, &prompt, steps["k"] as usize, &rank_sampling(), &mut rng, &lab.device))
                        .unwrap();
                let pairs = pairs_from_ranking(&shortest_first(&answers));
                Comparison { prompt, answers, pairs, labeler: Labeler::Human }
            })
            .collect();
        let rm_settings = RewardSettings { lr: 3e-3, ..RewardSettings::default() };
        let mut rm = RewardStage::new(&lab, &sft_stage.trainer, rm_settings, StdRng::seed_from_u64(seed ^ 0x7e4));
        for _ in 0..steps["rm"] as usize {
            block_on(rm.step(&lab, &ranked)).unwrap();
        }
        block_on(rm.normalize(&lab, &demos)).unwrap();
        let recipe = PpoRecipe {
            lr: p["lr"],
            samples_per_prompt: p["k"] as usize,
            rollout: p["rollout"] as usize,
            epochs: p["epochs"] as usize,
            max_new_tokens: p["tokens"] as usize,
            ..PpoRecipe::default()
        };
        let ppo_settings = PpoSettings { beta: p["beta"] as f32, gamma_ptx: p["ptx"] as f32, recipe, beside: Beside::None };
        let mut ppo = block_on(PpoStage::new(&lab, &sft_stage.trainer, &rm.trainer, &ranked, ppo_settings, seed + 3)).unwrap();
        let (mut scores, mut lengths, mut kl) = (vec![], vec![], 0.0);
        for _ in 0..p["iterations"] as usize {
            let (it, _) = block_on(ppo.step(&lab)).unwrap();
            let stats = it.stats.expect("the walk's prompts leave room to answer");
            scores.push(stats.scores);
            lengths.push(stats.answer_tokens);
            kl = stats.kl;
        }
        let third = (scores.len() / 3).max(1);
        let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len().max(1) as f32;
        let (first, last) = (mean(&scores[..third]), mean(&scores[scores.len() - third..]));
        println!(
            "{}",
            serde_json::json!({
                "bench": "walk", "seed": seed,
                "score_first_third": first, "score_last_third": last, "rose": last > first,
                "answer_tokens_first_third": mean(&lengths[..third]), "answer_tokens_last_third": mean(&lengths[lengths.len() - third..]),
                "kl": kl, "seconds": t0.elapsed().as_secs_f64(),
            })
        );
    }
}
