//! Generation and PPO speed (not tests): sampling tokens/s and one PPO iteration
//! per preset, and with BENCH_PIPELINE=1 the whole `micro` recipe (≈ 3 min on 2
//! cores; BENCH_PIPELINE=small or micro,small adds the `small` one, whose 6000
//! pretraining steps alone take ≈ 35 min there), on burn's `flex` CPU backend
//! and, built with `--features wgpu`, on a wgpu device (where our WGSL kernels
//! run). Run: `cargo bench --bench rlhf`.
//! One JSON line per measurement, with readbacks and kernel dispatches counted.
//! BENCH_DEVICE=flex|wgpu and BENCH_PRESET=micro|small keep one of each.

use pollster::block_on;
use rlhf_playground::backend::Backend;
use rlhf_playground::bench;
use rlhf_playground::model::Preset;
use rlhf_playground::pipeline::{PipelineConfig, run};
use web_time::Instant;

fn print(v: impl serde::Serialize, device: &str) {
    let mut v = serde_json::to_value(v).unwrap();
    v["device"] = device.into();
    println!("{v}");
}

fn main() {
    let reps: usize = std::env::var("BENCH_STEPS").ok().and_then(|s| s.parse().ok()).unwrap_or(5);
    // BENCH_PIPELINE=1 (or micro): the whole micro recipe; =small or =micro,small too.
    let pipelines: Vec<Preset> = match std::env::var("BENCH_PIPELINE").unwrap_or_default().as_str() {
        "" | "0" => vec![],
        "1" => vec![Preset::Micro],
        list => list.split(',').map(|p| Preset::parse(p).expect("BENCH_PIPELINE: micro, small or 1")).collect(),
    };
    #[allow(unused_mut)]
    let mut backends = vec![(Backend::cpu(), "flex")];
    #[cfg(feature = "wgpu")]
    match block_on(Backend::gpu()) {
        Ok(gpu) => backends.push((gpu, "wgpu")),
        Err(e) => eprintln!("no wgpu device: {e}"),
    }
    let only = |var: &str, name: &str| std::env::var(var).map_or(true, |v| v.is_empty() || v == name);
    backends.retain(|(_, name)| only("BENCH_DEVICE", name));
    for (backend, name) in &backends {
        let d = &backend.device;
        for preset in [Preset::Micro, Preset::Small].into_iter().filter(|p| only("BENCH_PRESET", p.name())) {
            for b in block_on(bench::sampling_both(preset, d, reps)).expect("sampling") {
                print(b, name);
            }
            for b in block_on(bench::rollout(preset, d, 8, 4, 40, reps)).expect("rollout") {
                print(b, name);
            }
            for b in block_on(bench::ranking(preset, d, 8, 4, reps)).expect("ranking") {
                print(b, name);
            }
            print(block_on(bench::ppo(preset, d, bench::ppo_config(), reps.max(2))).expect("ppo"), name);
        }
        for &preset in &pipelines {
            let t0 = Instant::now();
            let s = block_on(run(PipelineConfig::for_preset(preset), d, |_| {})).expect("pipeline");
            println!(
                "{{\"bench\":\"pipeline\",\"device\":\"{name}\",\"preset\":\"{}\",\"seconds\":{:.1},\"rm_held_out_accuracy\":{:.3},\"persona_win_rate\":{:.3}}}",
                preset.name(),
                t0.elapsed().as_secs_f64(),
                s.rm_held_out_accuracy,
                s.ppo.eval.vs_sft.persona.mean
            );
        }
    }
}
