//! Your labels, not the persona's: a labeler who ranks by a taste the default
//! persona lacks — brevity alone (`Weights { brief: 1, … 0 }`: shorter is better) —
//! trains a reward model and a policy whose answers to held-out prompts that rule
//! prefers over SFT's. Judged by the same rule; the interval is clustered by prompt.
//! Seeds 1–4 (`--helpful 0 --honest 0 --harmless 0 --brief 1`): 0.595, 0.659,
//! 0.809, 0.675, every interval above 0.5 (docs/recipe.md).

use burn::prelude::*;
use pollster::block_on;
use rlhf_playground::model::Preset;
use rlhf_playground::persona::Weights;
use rlhf_playground::pipeline::{PipelineConfig, run};

#[test]
fn ranking_by_your_own_rule_moves_the_policy_toward_it() {
    let cfg = PipelineConfig {
        weights: Weights { helpful: 0.0, honest: 0.0, harmless: 0.0, brief: 1.0 },
        compare: false,
        ..PipelineConfig::for_preset(Preset::Micro)
    };
    let s = block_on(run(cfg, &Device::flex(), |_| {})).expect("the pipeline runs");
    let m = &s.ppo.eval.vs_sft;
    eprintln!(
        "by brevity: PPO vs SFT {} ({} duels); PPO's mean score {} vs SFT's {}",
        m.describe(),
        m.duels,
        m.persona_score,
        m.against_persona_score
    );
    assert!(m.duels >= 400);
    assert!(m.persona.above(0.5), "win rate by brevity {}", m.describe());
    assert!(m.score_diff.low > 0.0, "brevity score difference {:?}", m.score_diff);
}
