//! Pretraining throughput per preset on burn's `flex` CPU backend (and on burn's
//! `ndarray` backend with `--features ndarray`, on wgpu with `--features wgpu`). Run: `cargo bench --bench pretrain`; scripts/bench.sh
//! runs it beside the PyTorch reference (benches/torch_reference.py) and prints
//! the ratio. One JSON line per (device, preset).

use pollster::block_on;
use rlhf_playground::backend::Backend;
use rlhf_playground::bench;
use rlhf_playground::kernels::Kernels;
use rlhf_playground::model::Preset;

/// Every preset on `backend`, the model running `kernels`, the batch split across
/// threads or not (`shard`).
fn report(backend: &Backend, name: &str, steps: usize, kernels: Kernels, shard: bool) {
    let print = |b: bench::PretrainBench| {
        let mut v = serde_json::to_value(b).unwrap();
        v["device"] = name.into();
        if name != "wgpu" {
            v["threads"] = cpu_threads().into();
            // Batch split across the threads (train::shards_for), or one pass over it.
            v["sharded"] = (shard && cpu_threads() > 1).into();
        }
        println!("{v}");
    };
    for preset in [Preset::Micro, Preset::Small] {
        print(block_on(bench::pretrain_with(preset, &backend.device, steps, kernels, shard)).expect("bench"));
    }
    // The speed issue's starting sizes (1 block), fewer steps: the wider one is slow on a CPU.
    for i in 0..bench::WIDE.len() {
        print(block_on(bench::pretrain_wide(i, &backend.device, (steps / 3).max(3), kernels, shard)).expect("bench"));
    }
}

/// Threads burn's CPU backend may use: rayon's pool with `fast-cpu`
/// (`RAYON_NUM_THREADS`, else one per core), one without — so the ratio to PyTorch
/// can be read at equal thread counts.
fn cpu_threads() -> usize {
    if !cfg!(feature = "fast-cpu") {
        return 1;
    }
    let env = std::env::var("RAYON_NUM_THREADS").ok().and_then(|s| s.parse().ok()).filter(|&n: &usize| n > 0);
    env.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// BENCH_DEVICE=flex|wgpu keeps one device's rows (unset: all).
fn wanted(name: &str) -> bool {
    std::env::var("BENCH_DEVICE").map_or(true, |v| v.is_empty() || v == name)
}

fn main() {
    let steps: usize = std::env::var("BENCH_STEPS").ok().and_then(|s| s.parse().ok()).unwrap_or(30);
    if wanted("flex") {
        cpu_reports(steps);
    }
    #[cfg(feature = "wgpu")]
    if wanted("wgpu") {
        match block_on(Backend::gpu()) {
            Ok(gpu) => report(&gpu, "wgpu", steps, Kernels::default(), true),
            Err(e) => eprintln!("no wgpu device: {e}"),
        }
    }
}

fn cpu_reports(steps: usize) {
    report(&Backend::cpu(), "flex", steps, Kernels::default(), true);
    // The same steps with burn's softmax / LayerNorm / log-softmax ops in place of
    // our CPU kernels: what the kernels gain.
    report(&Backend::cpu(), "flex", steps, Kernels { cpu: false, ..Kernels::default() }, true);
    if cpu_threads() > 1 {
        // The same steps without splitting the batch across threads: what it gains.
        report(&Backend::cpu(), "flex", steps, Kernels::default(), false);
    }
    // burn 0.22 deprecates ndarray in favour of flex; measured here to show why.
    #[cfg(feature = "ndarray")]
    #[allow(deprecated)]
    report(
        &Backend {
            device: burn::tensor::Device::ndarray(),
            kind: rlhf_playground::backend::BackendKind::Flex,
            adapter: None,
            timestamps: false,
        },
        "ndarray",
        steps,
        Kernels::default(),
        true,
    );
}
