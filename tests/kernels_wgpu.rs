//! Our WGSL kernels natively, on whatever wgpu adapter the machine has (Mesa's
//! lavapipe on a GPU-less Linux box, a real GPU elsewhere): the same on-device
//! check the page runs, plus one generation through the GPU path. Only with
//! `cargo test --features wgpu --test kernels_wgpu` (the native wgpu build takes
//! ≈ 20 min cold, so CI checks the kernels in the browser instead); skips, saying
//! why, where no adapter answers.
#![cfg(feature = "wgpu")]

use pollster::block_on;
use rand::SeedableRng;
use rlhf_playground::backend::Backend;
use rlhf_playground::corpus::Lang;
use rlhf_playground::kernels;
use rlhf_playground::lab::Lab;
use rlhf_playground::model::Preset;
use rlhf_playground::sample::{SampleConfig, generate_k, generate_many, generate_with_kernel};

#[test]
fn kernels_match_their_references_on_a_native_wgpu_adapter() {
    let gpu = match block_on(Backend::gpu()) {
        Ok(g) => g,
        Err(e) => return eprintln!("skipped: no wgpu adapter ({e})"),
    };
    eprintln!("adapter: {:?}", gpu.adapter);
    let checks = block_on(rlhf_playground::kernel_check::check(&gpu, 3)).expect("check runs");
    for c in &checks {
        eprintln!("{c:?}");
        assert!(c.on_gpu && c.within_top_k, "{c:?}");
        assert!(c.agreement >= 0.97, "{c:?}");
        assert!(c.max_abs_error < 1e-3, "{c:?}");
        // Where the adapter has timestamp queries, every kernel was timed on the GPU's clock.
        assert!(!gpu.timestamps || c.gpu_us.is_some_and(|t| t > 0.0), "{c:?}");
    }
    let lab = Lab::new(Preset::Micro, 1, Lang::En, &gpu.device).unwrap();
    let tok = &lab.tokenizer;
    let before = kernels::dispatches();
    let read_before = rlhf_playground::readback::readbacks();
    let cfg = SampleConfig { temperature: 1.0, top_k: 20, max_new_tokens: 20 };
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let out = block_on(generate_k(&lab.pretrainer.model(), tok.eot(), &tok.encode("Q: hi"), 3, &cfg, None, &mut rng, &gpu.device)).unwrap();
    assert!(out.iter().all(|o| o.len() == 20 && o.iter().all(|&t| (t as usize) < tok.vocab_size())), "{out:?}");
    assert_eq!(kernels::dispatches()[0] - before[0], 20, "one sample dispatch per generated position");
    assert_eq!(rlhf_playground::readback::readbacks() - read_before, 1, "one readback for the batch");
    assert_eq!(kernels::dispatches()[2] - before[2], 0, "through the KV cache: one new position a token, burn's attention");
    // The whole context again for each token (past the block; how a GPU sampled
    // before): one attention dispatch per layer per forward pass, the same tokens.
    let before = kernels::dispatches();
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let whole =
        block_on(generate_with_kernel(&lab.pretrainer.model(), tok.eot(), &tok.encode("Q: hi"), 3, &cfg, None, &mut rng, &gpu.device))
            .unwrap();
    let layers = lab.model_cfg.n_layer as u64;
    assert_eq!(kernels::dispatches()[2] - before[2], 20 * layers, "one attention dispatch per layer per forward pass");
    assert_eq!(whole, out, "the cache and the whole context draw the same tokens");

    // Prompts of three lengths sampled together (one KV cache, one sample dispatch
    // per token for all of them, each prompt's answers with a seed of its own)
    // answer as each does alone, the whole context run again for every token.
    let prompts: Vec<Vec<u32>> =
        ["Q: hi", "Q: where does the fox sleep?", "Q: what is the owl called?\nA:"].iter().map(|p| tok.encode(p)).collect();
    let cfg = SampleConfig { temperature: 1.0, top_k: 20, max_new_tokens: 12 };
    let rngs = || (0..3).map(rand::rngs::StdRng::seed_from_u64).collect::<Vec<_>>();
    let before = kernels::dispatches();
    let together = block_on(generate_many(&lab.pretrainer.model(), tok.eot(), &prompts, 2, &cfg, None, &mut rngs(), &gpu.device)).unwrap();
    assert_eq!(kernels::dispatches()[0] - before[0], 12, "one sample dispatch per position for all the prompts");
    for ((prompt, mut rng), answers) in prompts.iter().zip(rngs()).zip(&together) {
        let alone =
            block_on(generate_with_kernel(&lab.pretrainer.model(), tok.eot(), prompt, 2, &cfg, None, &mut rng, &gpu.device)).unwrap();
        assert_eq!(answers, &alone, "{prompt:?}");
    }

    // The whole model with attention.wgsl equals it with burn's attention.
    let model = lab.pretrainer.model();
    let ids = rlhf_playground::data::ids_row(&tok.encode("Q: where is the fox?"), &gpu.device);
    let fused = block_on(rlhf_playground::readback::read_vec(model.forward(ids.clone()))).unwrap();
    let burn_attention = model.with_kernels(kernels::Kernels { gpu_attention: false, ..Default::default() });
    let plain = block_on(rlhf_playground::readback::read_vec(burn_attention.forward(ids))).unwrap();
    let err = fused.iter().zip(&plain).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    eprintln!("logits with attention.wgsl vs burn's attention: max |error| {err:.2e}");
    assert!(err < 1e-4, "logits differ by {err}");
}
