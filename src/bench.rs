//! Speed measurements (benchmarks, never tests): pretraining throughput, sampling
//! tokens/s and PPO iteration time on a device. The native benches
//! (`benches/*.rs`) and the page's `?bench=1` run these same functions, so the
//! browser's figures and the native ones measure the same work. Readbacks and
//! our kernels' dispatches are counted alongside the times.

use crate::TrainError;
use crate::corpus::Lang;
use crate::kernels::{self, Kernels};
use crate::lab::Lab;
use crate::model::Preset;
use crate::ppo::{PpoConfig, PpoTrainer};
use crate::readback::readbacks;
use crate::reward::RewardModel;
use crate::sample::{SampleConfig, generate_k, generate_many, generate_with_kernel};
use burn::module::Module;
use burn::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::Serialize;
use web_time::Instant;

fn lab(preset: Preset, device: &Device) -> Result<Lab, TrainError> {
    Lab::new(preset, 1, Lang::En, device).map_err(TrainError::Backend)
}

/// What one run of `once` cost, averaged over `batches` runs after one left out
/// (the first compiles the GPU kernels for these shapes): milliseconds, tensors
/// read back, and dispatches of each of our kernels.
struct Timed {
    ms: f64,
    readbacks: f64,
    dispatches: [f64; kernels::N],
}

async fn timed(batches: usize, mut once: impl AsyncFnMut() -> Result<(), TrainError>) -> Result<Timed, TrainError> {
    once().await?;
    let (r0, d0, t0) = (readbacks(), kernels::dispatches(), Instant::now());
    for _ in 0..batches {
        once().await?;
    }
    let secs = t0.elapsed().as_secs_f64().max(1e-9);
    let (n, d1) = (batches.max(1) as f64, kernels::dispatches());
    Ok(Timed {
        ms: 1e3 * secs / n,
        readbacks: (readbacks() - r0) as f64 / n,
        dispatches: std::array::from_fn(|i| (d1[i] - d0[i]) as f64 / n),
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct PretrainBench {
    pub bench: &'static str,
    pub preset: &'static str,
    pub params: usize,
    pub batch: usize,
    pub block: usize,
    pub steps: usize,
    pub ms_per_step: f64,
    pub steps_per_sec: f64,
    pub tokens_per_sec: f64,
    /// Whether our CPU kernels ran (on the CPU backend), or burn's ops in their place.
    pub cpu_kernels: bool,
}

/// `steps` AdamW steps after 3 of warm-up (the first compiles the GPU kernels).
pub async fn pretrain(preset: Preset, device: &Device, steps: usize) -> Result<PretrainBench, TrainError> {
    pretrain_with(preset, device, steps, Kernels::default(), true).await
}

/// [`pretrain`] with the model running `kernels`, and the batch split across
/// threads (where there are some) or not (`shard`): what each gains, in one run.
pub async fn pretrain_with(
    preset: Preset,
    device: &Device,
    steps: usize,
    kernels: Kernels,
    shard: bool,
) -> Result<PretrainBench, TrainError> {
    let mut lab = lab(preset, device)?;
    lab.pretrainer.set_kernels(kernels);
    lab.pretrainer.cfg.shard = shard;
    time_pretrain(preset.name(), lab, steps).await
}

/// A one-block size: name, (context, heads, width), (batch, window).
pub type WideSize = (&'static str, (usize, usize, usize), (usize, usize));

/// The sizes the speed issue's starting table was measured at (1 block, vocab 512,
/// AdamW): name, (context, heads, width), (batch, window). benches/torch_reference.py
/// knows the same names.
pub const WIDE: [WideSize; 2] = [("w128", (64, 4, 128), (32, 64)), ("w256", (128, 4, 256), (64, 128))];

/// [`pretrain`] at one of the [`WIDE`] sizes.
pub async fn pretrain_wide(
    index: usize,
    device: &Device,
    steps: usize,
    kernels: Kernels,
    shard: bool,
) -> Result<PretrainBench, TrainError> {
    let (name, (ctx, heads, width), (batch, window)) = WIDE[index];
    let mut lab = lab(Preset::Micro, device)?;
    lab.model_cfg = crate::model::GptConfig::new(lab.tokenizer.vocab_size(), ctx, 1, heads, width);
    let mut cfg = crate::pretrain::PretrainConfig::for_preset(Preset::Micro);
    (cfg.batch_size, cfg.block, cfg.shard) = (batch, window, shard);
    lab.pretrainer = crate::pretrain::Pretrainer::new(&lab.model_cfg, cfg, lab.split.train.clone(), &lab.split.held_out, 1, device);
    lab.pretrainer.set_kernels(kernels);
    time_pretrain(name, lab, steps).await
}

async fn time_pretrain(name: &'static str, mut lab: Lab, steps: usize) -> Result<PretrainBench, TrainError> {
    for _ in 0..3 {
        lab.pretrainer.step().await?;
    }
    let t0 = Instant::now();
    let mut tokens = 0;
    for _ in 0..steps {
        tokens += lab.pretrainer.step().await?.tokens;
    }
    let secs = t0.elapsed().as_secs_f64().max(1e-9);
    let cfg = &lab.pretrainer.cfg;
    Ok(PretrainBench {
        bench: "pretrain",
        preset: name,
        params: lab.pretrainer.model().num_params(),
        batch: cfg.batch_size,
        block: cfg.block,
        steps,
        ms_per_step: 1e3 * secs / steps as f64,
        steps_per_sec: steps as f64 / secs,
        tokens_per_sec: tokens as f64 / secs,
        cpu_kernels: kernels::cpu_kernels(&lab.device, lab.pretrainer.model().kernels()),
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct SamplingBench {
    pub bench: &'static str,
    pub preset: &'static str,
    /// "sample-kernel" (our WGSL, one readback per batch) or "readback-per-token"
    /// (the logits read back after each token, the choice made on the CPU).
    pub path: &'static str,
    pub answers: usize,
    pub tokens_each: usize,
    pub batches: usize,
    pub ms_per_batch: f64,
    pub tokens_per_sec: f64,
    pub readbacks_per_batch: f64,
    pub sample_kernel_dispatches_per_batch: f64,
    /// "attention-kernel" (shaders/attention.wgsl) or "burn-ops".
    pub attention: &'static str,
    pub attention_kernel_dispatches_per_batch: f64,
}

/// `batches` × (9 answers × 32 tokens) sampled side by side (temperature 1,
/// top-k 20), as the Rank panel samples them; no stop token, so every answer
/// has all its tokens.
pub async fn sampling(preset: Preset, device: &Device, batches: usize) -> Result<SamplingBench, TrainError> {
    sampling_way(preset, device, batches, false, Kernels::default()).await
}

/// [`sampling`], through `generate_k` or (`whole_context`) the GPU's way before
/// the KV cache: the whole context again for each token, with our kernels.
async fn sampling_way(
    preset: Preset,
    device: &Device,
    batches: usize,
    whole_context: bool,
    kernels: Kernels,
) -> Result<SamplingBench, TrainError> {
    let lab = lab(preset, device)?;
    let model = lab.pretrainer.model().with_kernels(kernels);
    let tok = &lab.tokenizer;
    let prompt = tok.encode("Q: What does the fox eat?\nA:");
    let (k, tokens) = (9, 32);
    let cfg = SampleConfig { temperature: 1.0, top_k: 20, max_new_tokens: tokens };
    let mut rng = StdRng::seed_from_u64(1);
    let t = timed(batches, async || {
        if whole_context {
            generate_with_kernel(&model, tok.eot(), &prompt, k, &cfg, None, &mut rng, &lab.device).await?;
        } else {
            generate_k(&model, tok.eot(), &prompt, k, &cfg, None, &mut rng, &lab.device).await?;
        }
        Ok(())
    })
    .await?;
    Ok(SamplingBench {
        bench: "sampling",
        preset: preset.name(),
        path: match (kernels::gpu_sampling(device, kernels), whole_context) {
            (true, false) => "sample-kernel",
            (true, true) => "sample-kernel-whole-context",
            (false, _) => "readback-per-token",
        },
        answers: k,
        tokens_each: tokens,
        batches,
        ms_per_batch: t.ms,
        tokens_per_sec: (k * tokens) as f64 * 1e3 / t.ms,
        readbacks_per_batch: t.readbacks,
        sample_kernel_dispatches_per_batch: t.dispatches[0],
        attention: if t.dispatches[2] > 0.0 { "attention-kernel" } else { "burn-ops" },
        attention_kernel_dispatches_per_batch: t.dispatches[2],
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct RolloutBench {
    pub bench: &'static str,
    pub preset: &'static str,
    /// "all-prompts" (every prompt in one batch, one position per token through
    /// the KV cache), "prompt-by-prompt" (the same, one batch per prompt) or
    /// "prompt-by-prompt-whole-context" (how a GPU sampled before).
    pub path: &'static str,
    pub prompts: usize,
    pub answers_each: usize,
    pub tokens_each: usize,
    pub batches: usize,
    pub ms_per_rollout: f64,
    pub readbacks_per_rollout: f64,
    pub sample_kernel_dispatches_per_rollout: f64,
    pub attention_kernel_dispatches_per_rollout: f64,
}

/// A rollout's generation as the PPO panel samples it (the RL prompts, `k`
/// answers each at temperature 1, no stop token so every answer has all its
/// `tokens`), timed three ways side by side: all prompts together
/// ([`generate_many`]), one prompt at a time through the same function, and one
/// prompt at a time running the whole context for every token
/// ([`generate_with_kernel`], a GPU's way before).
pub async fn rollout(
    preset: Preset,
    device: &Device,
    prompts: usize,
    k: usize,
    tokens: usize,
    batches: usize,
) -> Result<Vec<RolloutBench>, TrainError> {
    let lab = lab(preset, device)?;
    let model = lab.pretrainer.model();
    let tok = &lab.tokenizer;
    let ids: Vec<Vec<u32>> = crate::sft::prompts(Lang::En).rl.iter().cycle().take(prompts).map(|p| tok.encode(p)).collect();
    let cfg = SampleConfig { temperature: 1.0, top_k: 0, max_new_tokens: tokens };
    let rngs = || (0..prompts as u64).map(StdRng::seed_from_u64).collect::<Vec<_>>();
    let mut out = vec![];
    for path in ["all-prompts", "prompt-by-prompt", "prompt-by-prompt-whole-context"] {
        let t = timed(batches, async || {
            match path {
                "all-prompts" => {
                    generate_many(&model, tok.eot(), &ids, k, &cfg, None, &mut rngs(), &lab.device).await?;
                }
                "prompt-by-prompt" => {
                    for (p, mut rng) in ids.iter().zip(rngs()) {
                        generate_many(
                            &model,
                            tok.eot(),
                            std::slice::from_ref(p),
                            k,
                            &cfg,
                            None,
                            std::slice::from_mut(&mut rng),
                            &lab.device,
                        )
                        .await?;
                    }
                }
                // How a GPU sampled a rollout before: prompt by prompt, each token
                // running the whole context again. (On the CPU: through the sampling
                // kernel's reference, a readback a token; not a path the CPU takes.)
                _ => {
                    for (p, mut rng) in ids.iter().zip(rngs()) {
                        generate_with_kernel(&model, tok.eot(), p, k, &cfg, None, &mut rng, &lab.device).await?;
                    }
                }
            }
            Ok(())
        })
        .await?;
        out.push(RolloutBench {
            bench: "rollout",
            preset: preset.name(),
            path,
            prompts,
            answers_each: k,
            tokens_each: tokens,
            batches,
            ms_per_rollout: t.ms,
            readbacks_per_rollout: t.readbacks,
            sample_kernel_dispatches_per_rollout: t.dispatches[0],
            attention_kernel_dispatches_per_rollout: t.dispatches[2],
        });
    }
    Ok(out)
}

#[derive(Debug, Clone, Serialize)]
pub struct PpoBench {
    pub bench: &'static str,
    pub preset: &'static str,
    pub rollout: usize,
    pub epochs: usize,
    pub max_new_tokens: usize,
    pub iterations: usize,
    pub s_per_iteration: f64,
    pub readbacks_per_iteration: f64,
    pub sample_dispatches_per_iteration: f64,
    pub token_stats_dispatches_per_iteration: f64,
    pub attention_dispatches_per_iteration: f64,
}

/// PPO-ptx iterations with `cfg` (policy and reference from the pretrained-from-
/// scratch model, reward model on the same backbone): rollout, scoring, GAE and
/// the clipped updates — the whole iteration the PPO panel runs.
pub async fn ppo(preset: Preset, device: &Device, cfg: PpoConfig, iterations: usize) -> Result<PpoBench, TrainError> {
    let lab = lab(preset, device)?;
    let reward_model = RewardModel::from_sft(lab.pretrainer.trainable_model(), lab.model_cfg.n_embd, 1.0, &device.clone().autodiff());
    let mut trainer = PpoTrainer::new(
        lab.pretrainer.trainable_model(),
        reward_model,
        crate::sft::prompts(Lang::En).rl,
        lab.split.train.clone(),
        cfg.clone(),
        1,
        device,
    );
    let t = timed(iterations, async || trainer.step(&lab.tokenizer).await.map(|_| ())).await?;
    Ok(PpoBench {
        bench: "ppo",
        preset: preset.name(),
        rollout: cfg.rollout_size,
        epochs: cfg.ppo_epochs,
        max_new_tokens: cfg.max_new_tokens,
        iterations,
        s_per_iteration: t.ms / 1e3,
        readbacks_per_iteration: t.readbacks,
        sample_dispatches_per_iteration: t.dispatches[0],
        token_stats_dispatches_per_iteration: t.dispatches[1],
        attention_dispatches_per_iteration: t.dispatches[2],
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct RankingBench {
    pub bench: &'static str,
    pub preset: &'static str,
    /// "all-prompts" ([`crate::rank::sample_answers_many`], one batch a round) or
    /// "prompt-by-prompt" ([`crate::rank::sample_answers`] for each, as before).
    pub path: &'static str,
    pub prompts: usize,
    pub answers_each: usize,
    pub batches: usize,
    pub ms_per_ranking: f64,
    pub readbacks_per_ranking: f64,
    pub sample_kernel_dispatches_per_ranking: f64,
}

/// The answers the persona ranks for `prompts` RL prompts, `k` each, as the reward
/// model's stage samples them (the ranking's sampler: temperature 1, answers end at
/// end-of-text or 40 tokens, duplicates re-sampled), all prompts together beside
/// prompt by prompt, timed side by side.
pub async fn ranking(preset: Preset, device: &Device, prompts: usize, k: usize, batches: usize) -> Result<Vec<RankingBench>, TrainError> {
    use crate::rank::{rank_sampling, sample_answers, sample_answers_many};
    let lab = lab(preset, device)?;
    let model = lab.pretrainer.model();
    let tok = &lab.tokenizer;
    let texts: Vec<String> = crate::sft::prompts(Lang::En).rl.iter().cycle().take(prompts).cloned().collect();
    let rngs = || (0..prompts as u64).map(StdRng::seed_from_u64).collect::<Vec<_>>();
    let mut out = vec![];
    for path in ["all-prompts", "prompt-by-prompt"] {
        let t = timed(batches, async || {
            if path == "all-prompts" {
                sample_answers_many(&model, tok, &texts, k, &rank_sampling(), &mut rngs(), &lab.device).await?;
            } else {
                for (p, mut rng) in texts.iter().zip(rngs()) {
                    sample_answers(&model, tok, p, k, &rank_sampling(), &mut rng, &lab.device).await?;
                }
            }
            Ok(())
        })
        .await?;
        out.push(RankingBench {
            bench: "ranking",
            preset: preset.name(),
            path,
            prompts,
            answers_each: k,
            batches,
            ms_per_ranking: t.ms,
            readbacks_per_ranking: t.readbacks,
            sample_kernel_dispatches_per_ranking: t.dispatches[0],
        });
    }
    Ok(out)
}

/// [`sampling`] as the page does it and, on a GPU, also the whole context again
/// for each token with `attention.wgsl` (the way before the KV cache), and with
/// neither kernel of ours (logits read back after every token), side by side.
pub async fn sampling_both(preset: Preset, device: &Device, batches: usize) -> Result<Vec<SamplingBench>, TrainError> {
    let mut out = vec![sampling(preset, device, batches).await?];
    if kernels::on_gpu(device) {
        // How a GPU sampled before the KV cache, then with no kernel of ours.
        out.push(sampling_way(preset, device, batches, true, Kernels::default()).await?);
        out.push(sampling_way(preset, device, batches, false, Kernels::BURN).await?);
    }
    Ok(out)
}

/// The PPO configuration benchmarked: the PPO panel's defaults (PPO-ptx, 2 answers
/// per prompt).
pub fn ppo_config() -> PpoConfig {
    PpoConfig { gamma_ptx: 1.0, samples_per_prompt: 2, ..PpoConfig::default() }
}
