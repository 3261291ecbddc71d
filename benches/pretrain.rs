//! Pretraining throughput per preset on burn's `flex` CPU backend (and on wgpu when
//! built with `--features wgpu`). Run: `cargo bench --bench pretrain`; scripts/bench.sh
//! runs it beside the PyTorch reference (benches/torch_reference.py) and prints
//! the ratio. One JSON line per (device, preset).

use pollster::block_on;
use rlhf_playground::backend::Backend;
use rlhf_playground::bench;
use rlhf_playground::model::Preset;

fn report(backend: &Backend, name: &str, steps: usize) {
    let print = |b: bench::PretrainBench| {
        let mut v = serde_json::to_value(b).unwrap();
        v["device"] = name.into();
        println!("{v}");
    };
    for preset in [Preset::Micro, Preset::Small] {
        print(block_on(bench::pretrain(preset, &backend.device, steps)).expect("bench"));
    }
    // The speed issue's starting sizes (1 block), fewer steps: the wider one is slow on a CPU.
    for i in 0..bench::WIDE.len() {
        print(block_on(bench::pretrain_wide(i, &backend.device, (steps / 3).max(3))).expect("bench"));
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
