//! Generation and PPO speed (not tests): sampling tokens/s and one PPO iteration
//! per preset, and with BENCH_PIPELINE=1 the whole `micro` recipe (≈ 3 min on 2
//! cores), on burn's `flex` CPU backend and, built with `--features wgpu`, on a
//! wgpu device (where our WGSL kernels run). Run: `cargo bench --bench rlhf`.
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
    let whole = std::env::var("BENCH_PIPELINE").is_ok_and(|v| v == "1");
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
            print(block_on(bench::ppo(preset, d, bench::ppo_config(), reps.max(2))).expect("ppo"), name);
        }
        if whole {
            let t0 = Instant::now();
            let s = block_on(run(PipelineConfig::for_preset(Preset::Micro), d, |_| {})).expect("pipeline");
            println!(
                "{{\"bench\":\"pipeline\",\"device\":\"{name}\",\"preset\":\"micro\",\"seconds\":{:.1},\"rm_held_out_accuracy\":{:.3},\"persona_win_rate\":{:.3}}}",
                t0.elapsed().as_secs_f64(), s.rm_held_out_accuracy, s.ppo.eval.persona_win_rate
            );
        }
    }
}
