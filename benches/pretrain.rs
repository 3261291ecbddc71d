//! Pretraining throughput per preset on burn's `flex` CPU backend (and on wgpu when
//! built with `--features wgpu`). Run: `cargo bench --bench pretrain`.
//! Prints one JSON line per (device, preset): steps/s and tokens/s after warm-up.

use burn::module::Module;
use pollster::block_on;
use rlhf_playground::backend::Backend;
use rlhf_playground::corpus::Lang;
use rlhf_playground::lab::Lab;
use rlhf_playground::model::Preset;
use web_time::Instant;

fn bench(backend: &Backend, name: &str, preset: Preset, steps: usize) {
    let mut lab = Lab::new(preset, 1, Lang::En, &backend.device).expect("lab");
    for _ in 0..3 {
        block_on(lab.pretrainer.step()).expect("warm-up step");
    }
    let t0 = Instant::now();
    let mut tokens = 0;
    for _ in 0..steps {
        tokens += block_on(lab.pretrainer.step()).expect("step").tokens;
    }
    let secs = t0.elapsed().as_secs_f64();
    let params = lab.pretrainer.model().num_params();
    println!(
        "{{\"bench\":\"pretrain\",\"device\":\"{name}\",\"preset\":\"{}\",\"params\":{params},\"batch\":{},\"block\":{},\"steps\":{steps},\"ms_per_step\":{:.2},\"steps_per_sec\":{:.2},\"tokens_per_sec\":{:.0}}}",
        preset.name(), lab.pretrainer.cfg.batch_size, lab.pretrainer.cfg.block, 1e3 * secs / steps as f64, steps as f64 / secs, tokens as f64 / secs
    );
}

fn main() {
    let steps: usize = std::env::var("BENCH_STEPS").ok().and_then(|s| s.parse().ok()).unwrap_or(30);
    let cpu = Backend::cpu();
    bench(&cpu, "flex", Preset::Micro, steps);
    bench(&cpu, "flex", Preset::Small, steps);
    #[cfg(feature = "wgpu")]
    match block_on(Backend::gpu()) {
        Ok(gpu) => {
            bench(&gpu, "wgpu", Preset::Micro, steps);
            bench(&gpu, "wgpu", Preset::Small, steps);
        }
        Err(e) => eprintln!("no wgpu device: {e}"),
    }
}
