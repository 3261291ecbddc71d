//! The whole recipe on `micro` (flex CPU), unattended, as the headless runner runs
//! it: pretrain → SFT → rank with the persona → reward model → PPO → evaluate.
//! Every number below comes out of training; the thresholds are the lessons each
//! stage exists to teach.

use burn::prelude::*;
use pollster::block_on;
use rlhf_playground::model::Preset;
use rlhf_playground::pipeline::{PipelineConfig, Summary, run};
use serde_json::Value;

fn pipeline(cfg: PipelineConfig) -> (Summary, Vec<Value>) {
    let mut events = vec![];
    let summary = block_on(run(cfg, &Device::flex(), |e| events.push(e))).expect("the pipeline runs");
    (summary, events)
}

#[test]
fn the_whole_recipe_aligns_the_micro_model() {
    let (s, events) = pipeline(PipelineConfig::for_preset(Preset::Micro));
    let last = serde_json::to_string(events.last().unwrap()).unwrap();
    eprintln!("{last}");

    // One event per step, stages in the recipe's order, the summary last.
    let stages: Vec<&str> = events.iter().filter_map(|e| e["stage"].as_str()).collect();
    let first = |name: &str| stages.iter().position(|s| *s == name).unwrap_or_else(|| panic!("no {name} event"));
    assert!(
        first("pretrain") < first("sft")
            && first("sft") < first("rank")
            && first("rank") < first("reward")
            && first("reward") < first("ppo")
            && first("ppo") < first("evaluate")
    );
    assert_eq!(stages.iter().filter(|s| **s == "pretrain").count(), s.config.pretrain_steps);
    assert_eq!(*stages.last().unwrap(), "summary");

    // SFT: the base model continues a question with questions; the SFT model answers.
    let ((base_a, base_q), (sft_a, sft_q)) = (s.base_style, s.sft_style);
    assert!(base_q > base_a && sft_a > sft_q && sft_q < base_q, "base (answers, questions) {:?}, SFT {:?}", s.base_style, s.sft_style);

    // Reward model: orders at least 3 in 4 pairs of ranked prompts it never trained
    // on like the persona, and is centred so the SFT demonstrations score 0 on average.
    assert!(s.held_out_pairs >= 50, "too few held-out pairs to measure: {}", s.held_out_pairs);
    assert!(s.rm_held_out_accuracy >= 0.75, "RM held-out pair accuracy {}", s.rm_held_out_accuracy);
    assert!(s.rm_unseen_accuracy > 0.6, "RM pair accuracy on prompts of unseen facts {}", s.rm_unseen_accuracy);
    assert!(s.rm_demo_mean.abs() < 1e-3, "demonstrations average {} after normalising", s.rm_demo_mean);

    // The evaluation can tell: ≥ 400 duels on held-out questions of fact, sums apart.
    let ppo = &s.ppo;
    let main = &ppo.eval.vs_sft;
    assert!(s.eval_prompts >= 40 && main.duels >= 400, "{} prompts, {} duels", s.eval_prompts, main.duels);
    assert_eq!(ppo.eval.vs_sft_sums.prompts, s.eval_sum_prompts);
    // Best-of-n by the reward model, the cheapest use of it: the RM likes its picks
    // (by construction), and so does the persona.
    let best = |n: &str| s.baselines.iter().find(|m| m.contestant == n).unwrap_or_else(|| panic!("no {n} baseline"));
    assert!(best("best_of_16").rm.above(0.5), "best-of-16 vs SFT by the RM {:?}", best("best_of_16").rm);
    assert!(best("best_of_4").persona.above(0.5), "best-of-4 vs SFT {}", best("best_of_4").describe());
    assert!((best("best_of_4").kl.unwrap() - (4f32.ln() - 0.75)).abs() < 1e-6);

    // PPO (PPO-ptx, InstructGPT's final recipe): on held-out prompts the persona
    // prefers its answers to SFT's beyond noise (the 95 % interval, clustered by
    // prompt, lies above 0.5), and the reward model it optimised agrees.
    assert!(ppo.gamma_ptx > 0.0);
    assert!(ppo.last_score > ppo.first_score, "training reward did not rise: {} → {}", ppo.first_score, ppo.last_score);
    assert!(
        main.persona.above(0.5),
        "persona win rate of PPO-ptx over SFT {} (W/T/L {:.0}/{:.0}/{:.0})",
        main.describe(),
        main.wins,
        main.ties,
        main.losses
    );
    assert!(main.rm.above(0.5), "RM win rate of PPO-ptx over SFT {:?}", main.rm);

    let beta0 = s.ppo_beta0.as_ref().expect("the β = 0 comparison ran");
    assert_eq!((beta0.beta, beta0.gamma_ptx), (0.0, 0.0));
    // Reward hacking: free of every anchor (no KL, no ptx, the RM's head without its
    // likelihood read-out), the policy drifts far and wins by the proxy it optimised
    // far more than the gold judge says it improved. That gap is the lesson on every
    // seed (seeds 1–5: KL 8.5–43 nats vs 1.6–2.8, proxy 0.94–1.00, persona 0.15–0.57,
    // gap 0.37–0.84; docs/recipe.md table 10). The persona's own verdict depends on
    // the draws (seed 5 there, and seed 1 with other ranked answers in table 11, are
    // not worse than SFT beyond noise), so it is not asserted.
    assert!(!beta0.eval.likelihood_in_reward && ppo.eval.likelihood_in_reward);
    assert!(
        beta0.eval.kl_exact > 2.0 * ppo.eval.kl_exact,
        "exact KL with β = 0: {}, with β = {}: {}",
        beta0.eval.kl_exact,
        ppo.beta,
        ppo.eval.kl_exact
    );
    assert!(beta0.eval.vs_sft_by_proxy.low > 0.5, "β = 0 by its proxy: {:?}", beta0.eval.vs_sft_by_proxy);
    assert!(
        beta0.eval.vs_sft_by_proxy.mean - beta0.eval.vs_sft.persona.mean >= 0.3,
        "β = 0: by its proxy {:?}, by the persona {:?}",
        beta0.eval.vs_sft_by_proxy,
        beta0.eval.vs_sft.persona
    );

    // Over-optimisation (Gao et al. 2022), probed along the way on the held-out
    // questions of fact: free of every anchor, the β = 0 run's proxy ends above where
    // it started on every seed, while its gold ends 0.7–1.1 below SFT on 4 of 5 (not
    // on seed 5; table 10) and on 2 of 5 in table 11, so only the proxy's rise is
    // asserted here; PPO with β raises gold (+0.27–0.37) and, as RLHF does (Kirk et
    // al. 2023), says fewer distinct words.
    let path = &beta0.overopt;
    assert_eq!(path.len(), s.config.ppo_steps / s.config.overopt_every + 1);
    let (start, end) = (&path[0], path.last().unwrap());
    assert!(start.kl.abs() < 1e-3 && end.kl > 1.0, "β = 0 run's KL along the way: {path:?}");
    assert!(end.proxy > start.proxy, "β = 0 run: proxy {} → {}, gold {} → {}", start.proxy, end.proxy, start.gold, end.gold);
    let (first, last) = (&ppo.overopt[0], ppo.overopt.last().unwrap());
    assert!(last.gold > first.gold + 0.1, "PPO's gold {} → {}", first.gold, last.gold);
    assert!(
        ppo.eval.detectors.distinct_1 < s.sft_detectors.distinct_1,
        "distinct-1: SFT {:?}, PPO {:?}",
        s.sft_detectors,
        ppo.eval.detectors
    );
    // Best-of-n on the same axes: KL log n − (n−1)/n, gold rising above SFT's at
    // first (seeds 1–5: peak at n = 2–16, by n = 32 lower; Gao's form peaks at
    // √KL 0.8–1.3).
    let curve = &s.best_of_n_curve;
    assert_eq!(curve.iter().map(|p| p.step).collect::<Vec<_>>(), [1, 2, 4, 8, 16, 32]);
    assert!(curve.iter().all(|p| (p.kl - ((p.step as f32).ln() - (p.step as f32 - 1.0) / p.step as f32)).abs() < 1e-5));
    let best = curve.iter().map(|p| p.gold).fold(f32::MIN, f32::max);
    assert!(best > curve[0].gold + 0.1, "best-of-n gold {curve:?}");
    assert!(s.best_of_n_fit.is_some_and(|f| f.peak_sqrt_kl.is_some()), "{:?}", s.best_of_n_fit);

    // The alignment tax: plain PPO raises the held-out pretraining loss; ptx pays it back.
    let plain = s.ppo_ptx_toggled.as_ref().expect("the ptx comparison ran");
    assert_eq!(plain.gamma_ptx, 0.0);
    assert!(
        plain.eval.corpus_loss > s.corpus_loss_pretrained && ppo.eval.corpus_loss < plain.eval.corpus_loss,
        "held-out corpus loss: pretrained {}, PPO {}, PPO-ptx {}",
        s.corpus_loss_pretrained,
        plain.eval.corpus_loss,
        ppo.eval.corpus_loss
    );
    let ptx_steps: Vec<&Value> = events.iter().filter(|e| e["stage"] == "ppo" && e["run"] == "main").collect();
    assert!(ptx_steps.iter().all(|e| e["loss/ptx_avg"].as_f64().is_some_and(|v| v > 0.0)), "PPO-ptx reports its pretraining loss");
    for key in [
        "objective/scores",
        "objective/kl",
        "objective/entropy",
        "objective/non_score_reward",
        "objective/rlhf_reward",
        "policy/approxkl_avg",
        "policy/clipfrac_avg",
        "loss/policy_avg",
        "loss/value_avg",
        "val/ratio",
        "val/clipfrac_avg",
        "eps",
    ] {
        assert!(ptx_steps[0][key].is_number(), "PPO step lacks {key}");
    }
}
