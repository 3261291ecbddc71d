//! Same seed + same device ⇒ the same numbers, event for event. Its own test
//! binary: burn seeds the device's random generator per process, and a test
//! running beside it in the same process would draw from that generator too.

use burn::prelude::*;
use pollster::block_on;
use rlhf_playground::model::Preset;
use rlhf_playground::pipeline::{PipelineConfig, run};
use serde_json::Value;

fn events(cfg: PipelineConfig) -> Vec<Value> {
    let mut events = vec![];
    block_on(run(cfg, &Device::flex(), |e| events.push(e))).expect("the pipeline runs");
    events
}

#[test]
fn same_seed_same_numbers() {
    let cfg = PipelineConfig {
        pretrain_steps: 20,
        sft_steps: 10,
        rm_epochs: 1,
        ppo_steps: 2,
        k: 4,
        eval_samples: 1,
        eval_pool: 2,
        compare: false,
        ..PipelineConfig::for_preset(Preset::Micro)
    };
    let strip = |mut v: Vec<Value>| {
        for e in v.iter_mut() {
            e.as_object_mut().unwrap().remove("seconds");
        }
        v
    };
    let a = events(cfg.clone());
    let b = events(cfg);
    assert_eq!(strip(a), strip(b));
}
