//! Pretraining throughput per preset on burn's `flex` CPU backend (and on wgpu when
//! built with `--features wgpu`). Run: `cargo bench --bench pretrain`; scripts/bench.sh
//! runs it beside the PyTorch reference (benches/torch_reference.py) and prints
//! the ratio. One JSON line per (device, preset).

use pollster::block_on;
use rlhf_playground::backend::Backend;
use rlhf_playground::bench;
use rlhf_playground::model::Preset;

fn report(backend: &Backend, name: &str, steps: usize) {
    for preset in [Preset::Micro, Preset::Small] {
        let mut v = serde_json::to_value(block_on(bench::pretrain(preset, &backend.device, steps)).expect("bench")).unwrap();
        v["device"] = name.into();
        println!("{v}");
    }
}

fn main() {
    let steps: usize = std::env::var("BENCH_STEPS").ok().and_then(|s| s.parse().ok()).unwrap_or(30);
    report(&Backend::cpu(), "flex", steps);
    #[cfg(feature = "wgpu")]
    match block_on(Backend::gpu()) {
        Ok(gpu) => report(&gpu, "wgpu", steps),
        Err(e) => eprintln!("no wgpu device: {e}"),
    }
}
