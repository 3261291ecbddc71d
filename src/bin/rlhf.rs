//! Headless runner: the whole recipe (pretrain → SFT → rank with the persona →
//! reward model → PPO → evaluate) without a browser, one JSON object per line per
//! step on stdout, a summary line last. Same seed + same device ⇒ same numbers.
//!
//!     cargo run --release --bin rlhf -- --preset micro --beta 0.1
//!     cargo run --release --features wgpu --bin rlhf -- --device wgpu --preset small

fn main() -> std::process::ExitCode {
    native::main()
}

mod native {
    use burn::prelude::*;
    use clap::{Parser, ValueEnum};
    use rlhf_playground::checkpoint::{CheckpointError, DirStore, Store};
    use rlhf_playground::corpus::Lang;
    use rlhf_playground::model::Preset;
    use rlhf_playground::persona::Weights;
    use rlhf_playground::pipeline::{PipelineConfig, Stage, run_stored};
    use rlhf_playground::stages::dpo::DpoSettings;
    use std::io::Write;
    use std::path::PathBuf;
    use std::process::ExitCode;

    #[derive(Clone, Copy, ValueEnum)]
    enum DeviceArg {
        /// burn's CPU backend
        Flex,
        /// burn's wgpu backend (Vulkan / Metal / DX12); needs `--features wgpu`
        Wgpu,
    }

    #[derive(Parser)]
    #[command(version, about = "Runs pretrain → SFT → rank → reward model → PPO → evaluate and prints JSON lines")]
    struct Args {
        /// Model size: micro or small.
        #[arg(long, default_value = "micro", value_parser = |s: &str| Preset::parse(s).ok_or(format!("unknown preset {s:?} (micro, small)")))]
        preset: Preset,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Language of the toy world: en or zh.
        #[arg(long, default_value = "en", value_parser = |s: &str| Lang::parse(s).ok_or(format!("unknown language {s:?} (en, zh)")))]
        lang: Lang,
        /// KL weight β of the main PPO run.
        #[arg(long, default_value_t = 0.1)]
        beta: f32,
        /// γ_ptx: weight of the pretraining loss mixed into PPO (0 = plain PPO; the
        /// default is PPO-ptx, InstructGPT's final model).
        #[arg(long, default_value_t = 0.3)]
        ptx: f32,
        /// Answers sampled per prompt for ranking (4..=9).
        #[arg(long, default_value_t = 9, value_parser = clap::value_parser!(u64).range(4..=9))]
        k: u64,
        #[arg(long, value_enum, default_value = "flex")]
        device: DeviceArg,
        #[arg(long)]
        steps_pretrain: Option<usize>,
        #[arg(long)]
        steps_sft: Option<usize>,
        #[arg(long)]
        steps_ppo: Option<usize>,
        /// Passes of the reward model over the ranked prompts.
        #[arg(long)]
        rm_epochs: Option<usize>,
        /// Learning rate of the reward model.
        #[arg(long)]
        rm_lr: Option<f64>,
        /// Prompts per reward-model step.
        #[arg(long)]
        rm_batch: Option<usize>,
        /// Starting weight α of the reward model's likelihood read-out; 0 = the
        /// scalar head alone (InstructGPT's reward model).
        #[arg(long)]
        rm_fluency: Option<f32>,
        /// Persona weights (helpful, honest, harmless) and noise.
        #[arg(long, default_value_t = 1.0)]
        helpful: f32,
        #[arg(long, default_value_t = 1.0)]
        honest: f32,
        #[arg(long, default_value_t = 1.0)]
        harmless: f32,
        #[arg(long, default_value_t = 0.0)]
        noise: f32,
        /// Weight of a taste the persona lacks: shorter answers rank higher (see
        /// `persona::Weights::brief`); `--helpful 0 --honest 0 --harmless 0 --brief 1`
        /// ranks and judges by it alone.
        #[arg(long, default_value_t = 0.0)]
        brief: f32,
        /// PPO recipe: answers per iteration, answers per prompt, minibatch size,
        /// epochs, learning rate, warm-up steps, leave-one-out baseline and score
        /// normalisation (true/false).
        #[arg(long)]
        ppo_rollout: Option<usize>,
        #[arg(long)]
        ppo_k: Option<usize>,
        #[arg(long)]
        ppo_minibatch: Option<usize>,
        #[arg(long)]
        ppo_epochs: Option<usize>,
        #[arg(long)]
        ppo_lr: Option<f64>,
        #[arg(long)]
        ppo_warmup: Option<usize>,
        #[arg(long)]
        ppo_loo: Option<bool>,
        #[arg(long)]
        ppo_normalize: Option<bool>,
        /// Skip the comparison PPO runs (β = 0, ptx toggled).
        #[arg(long)]
        no_compare: bool,
        /// Probe the main and the β = 0 run's gold (persona) and proxy (reward
        /// model) scores and exact KL every N PPO iterations (0 = never); default an
        /// eighth of the iterations.
        #[arg(long, value_name = "N")]
        overopt_every: Option<usize>,
        /// Also fit a policy to the same ranked pairs by DPO (from SFT, SFT as the
        /// reference) and evaluate it beside PPO.
        #[arg(long)]
        dpo: bool,
        #[arg(long, requires = "dpo")]
        dpo_beta: Option<f32>,
        #[arg(long, requires = "dpo")]
        dpo_lr: Option<f64>,
        #[arg(long, requires = "dpo")]
        dpo_passes: Option<usize>,
        /// Print only the summary line.
        #[arg(long)]
        quiet: bool,
        /// Write every model as it is trained (DIR/<model>/model.safetensors,
        /// config.json, tokenizer.json), the rankings, and the preferences and
        /// demonstrations as JSONL.
        #[arg(long, value_name = "DIR")]
        save: Option<PathBuf>,
        /// Read the stages before `--from` from a directory written by `--save`.
        #[arg(long, value_name = "DIR", requires = "from")]
        load: Option<PathBuf>,
        /// First stage to train: sft, rank, reward or ppo (the earlier ones are read
        /// from `--load`).
        #[arg(long, requires = "load", value_parser = |s: &str| Stage::parse(s).ok_or(format!("unknown stage {s:?} (pretrain, sft, rank, reward, ppo)")))]
        from: Option<Stage>,
        /// Instead of training: read FOLDER/model.safetensors (a folder written by
        /// `--save`) and print, as one JSON line, what it computes on a few fixed
        /// texts: every position's logits (a GPT) or each answer's reward (a reward
        /// model). `benches/check_export.py` compares it with PyTorch.
        #[arg(long, value_name = "FOLDER", conflicts_with_all = ["save", "load"])]
        probe: Option<PathBuf>,
    }

    /// Texts the probe reads (both languages, an answer that is not true).
    const PROBES: [(&str, &str); 3] = [
        ("Q: What does the fox eat?\n", "A: The fox eats berries."),
        ("Q: Where is the park?\n", "A: I don't know."),
        ("问：狐狸吃什么？\n", "答：狐狸吃干草。"),
    ];

    /// `--probe`: a saved model's outputs on [`PROBES`], as JSON.
    fn probe(folder: &std::path::Path, device: &Device) -> Result<serde_json::Value, String> {
        use rlhf_playground::checkpoint::{self, Role};
        use rlhf_playground::readback::read_vec;
        let bytes = std::fs::read(folder.join("model.safetensors")).map_err(|e| format!("{}: {e}", folder.display()))?;
        let header = checkpoint::read_header(&bytes).map_err(|e| e.0)?;
        let tok =
            rlhf_playground::tokenizer::Tokenizer::from_json(header.tokenizer_json.as_deref().unwrap_or_default()).map_err(|e| e.0)?;
        let arch = header.card.architecture.gpt();
        let ids_of = |text: &str| [vec![tok.eot()], tok.encode(text)].concat();
        let mut rows = vec![];
        if header.card.role.is_reward_shaped() {
            let (rm, _) = checkpoint::load_reward_model(&bytes, &Role::ALL, &arch, device).map_err(|e| e.0)?;
            for (prompt, answer) in PROBES {
                let reward = pollster::block_on(rlhf_playground::reward::score(&rm, &tok, prompt, &[answer.to_string()], device))
                    .map_err(|e| e.to_string())?;
                rows.push(serde_json::json!({"prompt": prompt, "answer": answer, "ids": ids_of(&format!("{prompt}{answer}")), "answer_start": ids_of(prompt).len(), "reward": reward[0]}));
            }
        } else {
            let (gpt, _) = checkpoint::load_gpt(&bytes, &Role::ALL, &arch, device).map_err(|e| e.0)?;
            for (prompt, answer) in PROBES {
                let ids = ids_of(&format!("{prompt}{answer}"));
                let input: Vec<i32> = ids.iter().map(|&t| t as i32).collect();
                let n = input.len();
                let logits = gpt.forward(Tensor::<1, Int>::from_data(TensorData::new(input, [n]), device).unsqueeze());
                let flat = pollster::block_on(read_vec(logits)).map_err(|e| e.to_string())?;
                let logits: Vec<&[f32]> = flat.chunks(arch.vocab_size).collect();
                rows.push(serde_json::json!({"prompt": prompt, "answer": answer, "ids": ids, "logits": logits}));
            }
        }
        Ok(serde_json::json!({"role": header.card.role, "card": header.card, "probes": rows}))
    }

    /// Reads from `--load`, writes to `--save` (either may be absent; the same
    /// directory may be both).
    struct Dirs {
        load: Option<DirStore>,
        save: Option<DirStore>,
    }

    impl Store for Dirs {
        fn put(&mut self, name: &str, bytes: &[u8]) -> Result<(), CheckpointError> {
            self.save.as_mut().map_or(Ok(()), |s| s.put(name, bytes))
        }

        fn get(&self, name: &str) -> Result<Vec<u8>, CheckpointError> {
            self.load.as_ref().ok_or_else(|| CheckpointError("nothing to read: no --load directory".into()))?.get(name)
        }
    }

    fn device(arg: DeviceArg) -> Result<Device, String> {
        match arg {
            DeviceArg::Flex => Ok(rlhf_playground::backend::Backend::cpu().device),
            #[cfg(feature = "wgpu")]
            DeviceArg::Wgpu => pollster::block_on(rlhf_playground::backend::Backend::gpu()).map(|b| {
                eprintln!("wgpu adapter: {}", b.adapter.unwrap_or_default());
                b.device
            }),
            #[cfg(not(feature = "wgpu"))]
            DeviceArg::Wgpu => Err(
                "this binary was built without the `wgpu` feature; run `cargo run --release --features wgpu --bin rlhf -- --device wgpu`"
                    .into(),
            ),
        }
    }

    pub fn main() -> ExitCode {
        let a = Args::parse();
        let device = match device(a.device) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        if let Some(folder) = &a.probe {
            return match probe(folder, &device) {
                Ok(v) => {
                    println!("{v}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            };
        }
        let mut cfg = PipelineConfig::for_preset(a.preset);
        cfg.seed = a.seed;
        cfg.lang = a.lang;
        cfg.beta = a.beta;
        cfg.gamma_ptx = a.ptx;
        cfg.k = a.k as usize;
        cfg.weights = Weights { helpful: a.helpful, honest: a.honest, harmless: a.harmless, brief: a.brief };
        cfg.noise = a.noise;
        cfg.compare = !a.no_compare;
        cfg.pretrain_steps = a.steps_pretrain.unwrap_or(cfg.pretrain_steps);
        cfg.sft_steps = a.steps_sft.unwrap_or(cfg.sft_steps);
        cfg.ppo_steps = a.steps_ppo.unwrap_or(cfg.ppo_steps).max(1);
        cfg.overopt_every = a.overopt_every.unwrap_or(cfg.ppo_steps / 8);
        if a.dpo {
            let d = DpoSettings::default();
            cfg.dpo = Some(DpoSettings {
                beta: a.dpo_beta.unwrap_or(d.beta),
                lr: a.dpo_lr.unwrap_or(d.lr),
                passes: a.dpo_passes.unwrap_or(d.passes).max(1),
                ..d
            });
        }
        cfg.rm_epochs = a.rm_epochs.unwrap_or(cfg.rm_epochs);
        cfg.rm_lr = a.rm_lr.unwrap_or(cfg.rm_lr);
        cfg.rm_batch = a.rm_batch.unwrap_or(cfg.rm_batch).max(1);
        cfg.rm_fluency = a.rm_fluency.unwrap_or(cfg.rm_fluency);
        let r = &mut cfg.ppo;
        r.rollout = a.ppo_rollout.unwrap_or(r.rollout).max(1);
        r.samples_per_prompt = a.ppo_k.unwrap_or(r.samples_per_prompt).max(1);
        r.minibatch = a.ppo_minibatch.unwrap_or(r.minibatch).max(1);
        r.epochs = a.ppo_epochs.unwrap_or(r.epochs).max(1);
        r.lr = a.ppo_lr.unwrap_or(r.lr);
        r.warmup = a.ppo_warmup.unwrap_or(r.warmup);
        r.leave_one_out = a.ppo_loo.unwrap_or(r.leave_one_out);
        r.normalize = a.ppo_normalize.unwrap_or(r.normalize);
        cfg.from = a.from.unwrap_or_default();
        let mut dirs = Dirs { load: a.load.map(DirStore), save: a.save.map(DirStore) };
        let store: Option<&mut dyn Store> = if dirs.load.is_some() || dirs.save.is_some() { Some(&mut dirs) } else { None };
        let out = std::io::stdout();
        let quiet = a.quiet;
        let result = pollster::block_on(run_stored(cfg, &device, store, |event| {
            if !quiet || event["stage"] == "summary" {
                let mut lock = out.lock();
                let _ = writeln!(lock, "{event}");
            }
        }));
        match result {
            Ok(_) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        }
    }
}
