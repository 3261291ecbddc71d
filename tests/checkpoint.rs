//! Checkpoints: a model written as safetensors and read back computes exactly what
//! it did; the file is in PyTorch's layout with its card and tokenizer in the
//! header; a file of another shape, kind or tokenizer, a damaged one or a foreign
//! one is refused with a message that says why.

use burn::prelude::*;
use pollster::block_on;
use rlhf_playground::backend::seeded;
use rlhf_playground::checkpoint::{self, ModelCard, Role};
use rlhf_playground::corpus::Lang;
use rlhf_playground::lab::Lab;
use rlhf_playground::model::{Gpt, Preset};
use rlhf_playground::readback::read_vec;
use rlhf_playground::reward::{RewardModel, score};
use rlhf_playground::tokenizer::Tokenizer;

fn logits(model: &Gpt, tok: &Tokenizer, text: &str, device: &Device) -> Vec<f32> {
    let ids: Vec<i32> = tok.encode(text).iter().map(|&t| t as i32).collect();
    let n = ids.len();
    block_on(read_vec(model.forward(Tensor::<1, Int>::from_data(TensorData::new(ids, [n]), device).unsqueeze()))).unwrap()
}

fn lab() -> (Lab, Device) {
    let device = Device::flex();
    (Lab::new(Preset::Micro, 3, Lang::En, &device).unwrap(), device)
}

#[test]
fn a_gpt_round_trips_exactly_with_its_card_and_tokenizer() {
    let (lab, device) = lab();
    let model = seeded(&device, 7, || lab.model_cfg.init(&device));
    let card = ModelCard::new(Role::Sft, &lab.model_cfg, Preset::Micro, Lang::En, 3, 200);
    let bytes = block_on(checkpoint::to_safetensors(&model, &card, &lab.tokenizer)).unwrap();

    let (loaded, header) = checkpoint::load_gpt(&bytes, &[Role::Sft], &lab.model_cfg, &device).unwrap();
    assert_eq!(header.card, card);
    let text = "Q: What does the fox eat?\nA: The fox eats berries.";
    assert_eq!(logits(&loaded, &lab.tokenizer, text, &device), logits(&model, &lab.tokenizer, text, &device));

    // The tokenizer in the header is Hugging Face's tokenizer.json of the one in use.
    checkpoint::check_tokenizer(&header, &lab.tokenizer).unwrap();
    let tok = Tokenizer::from_json(header.tokenizer_json.as_deref().unwrap()).unwrap();
    for s in [text, "狐狸吃浆果。", "<|endoftext|>odd  spacing\t🙂"] {
        assert_eq!(tok.encode(s), lab.tokenizer.encode(s), "{s:?}");
    }
    let hf: serde_json::Value = serde_json::from_str(header.tokenizer_json.as_deref().unwrap()).unwrap();
    assert_eq!(hf["model"]["type"], "BPE");
    assert_eq!(hf["added_tokens"][0]["content"], "<|endoftext|>");
    // No normalizer: the text is never rewritten. A tokenizer.json that would
    // rewrite it (lowercasing here) is another tokenizer, refused with the reason.
    assert!(hf["normalizer"].is_null());
    let mut other = hf.clone();
    other["normalizer"] = serde_json::json!({"type": "Lowercase"});
    let err = Tokenizer::from_json(&other.to_string()).err().expect("a normalizer is refused");
    assert!(err.to_string().contains("unreadable"), "{err}");
}

#[test]
fn the_file_is_in_pytorch_layout() {
    let (lab, device) = lab();
    let model = seeded(&device, 7, || lab.model_cfg.init(&device));
    let card = ModelCard::new(Role::Pretrained, &lab.model_cfg, Preset::Micro, Lang::En, 3, 0);
    let bytes = block_on(checkpoint::to_safetensors(&model, &card, &lab.tokenizer)).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let shape = |name: &str| st.tensor(name).unwrap_or_else(|_| panic!("no tensor {name}: {:?}", st.names())).shape().to_vec();
    let (v, c, t) = (lab.model_cfg.vocab_size, lab.model_cfg.n_embd, lab.model_cfg.block_size);
    assert_eq!(shape("wte.weight"), [v, c]);
    assert_eq!(shape("wpe.weight"), [t, c]);
    // nn.Linear keeps (out, in); burn's Linear (in, out).
    assert_eq!(shape("blocks.0.attn.c_attn.weight"), [3 * c, c]);
    assert_eq!(shape("blocks.1.mlp.c_fc.weight"), [4 * c, c]);
    assert_eq!(shape("blocks.1.mlp.c_proj.weight"), [c, 4 * c]);
    assert_eq!(shape("blocks.0.ln_1.weight"), [c]);
    assert_eq!(shape("ln_f.bias"), [c]);
    // Tied head: no separate lm_head tensor; 4 per block's Linears × 2 + 4 LayerNorm, + 4.
    assert_eq!(st.names().len(), 2 + lab.model_cfg.n_layer * 12 + 2);
    let (loaded, _) = checkpoint::load_gpt(&bytes, &[Role::Pretrained], &lab.model_cfg, &device).unwrap();
    let text = "Q: Where is the park?\n";
    assert_eq!(logits(&loaded, &lab.tokenizer, text, &device), logits(&model, &lab.tokenizer, text, &device));
}

#[test]
fn a_reward_model_round_trips_with_its_head_and_alpha() {
    let (lab, device) = lab();
    let backbone = seeded(&device, 9, || lab.model_cfg.init(&device));
    // A head that is not zero, so its weights matter.
    let rm = RewardModel::from_sft(backbone, lab.model_cfg.n_embd, 0.7, &device);
    let rm = {
        let bytes = block_on(checkpoint::to_safetensors(
            &rm,
            &ModelCard::new(Role::RewardModel, &lab.model_cfg, Preset::Micro, Lang::En, 3, 5),
            &lab.tokenizer,
        ))
        .unwrap();
        checkpoint::load_reward_model(&bytes, &[Role::RewardModel], &lab.model_cfg, &device).unwrap().0
    };
    assert!((block_on(rm.fluency_weight()).unwrap() - 0.7).abs() < 1e-7);
    let answers = vec!["A: The fox eats berries.".to_string(), "A: I don't know.".to_string()];
    let before = block_on(score(&rm, &lab.tokenizer, "Q: What does the fox eat?\n", &answers, &device)).unwrap();
    let card = ModelCard::new(Role::RewardModel, &lab.model_cfg, Preset::Micro, Lang::En, 3, 5);
    let bytes = block_on(checkpoint::to_safetensors(&rm, &card, &lab.tokenizer)).unwrap();
    let (again, _) = checkpoint::load_reward_model(&bytes, &[Role::RewardModel, Role::Value], &lab.model_cfg, &device).unwrap();
    let after = block_on(score(&again, &lab.tokenizer, "Q: What does the fox eat?\n", &answers, &device)).unwrap();
    assert_eq!(before, after);
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(st.tensor("head.weight").unwrap().shape(), [1, lab.model_cfg.n_embd]);
    assert_eq!(st.tensor("fluency").unwrap().shape(), [1]);
    assert!(st.names().contains(&"backbone.wte.weight"));
}

#[test]
fn wrong_files_are_refused_with_the_reason() {
    let (lab, device) = lab();
    let model = seeded(&device, 7, || lab.model_cfg.init(&device));
    let card = ModelCard::new(Role::Sft, &lab.model_cfg, Preset::Micro, Lang::En, 3, 200);
    let bytes = block_on(checkpoint::to_safetensors(&model, &card, &lab.tokenizer)).unwrap();
    let message = |r: Result<(Gpt, checkpoint::Header), checkpoint::CheckpointError>| r.err().expect("must be refused").0;

    // Another size.
    let small = Preset::Small.gpt(lab.model_cfg.vocab_size);
    let m = message(checkpoint::load_gpt(&bytes, &[Role::Sft], &small, &device));
    assert!(m.contains("micro") && m.contains("small"), "{m}");
    // Another kind of model.
    let m = checkpoint::load_reward_model(&bytes, &[Role::RewardModel], &lab.model_cfg, &device).err().unwrap().0;
    assert!(m.contains("sft model") && m.contains("reward_model"), "{m}");
    // Cut short, or not safetensors at all.
    let m = message(checkpoint::load_gpt(&bytes[..bytes.len() / 2], &[Role::Sft], &lab.model_cfg, &device));
    assert!(m.contains("damaged"), "{m}");
    let m = message(checkpoint::load_gpt(b"{\"not\": \"a model\"}", &[Role::Sft], &lab.model_cfg, &device));
    assert!(m.contains("not a safetensors file"), "{m}");
    // A card that says micro over a file that lacks a tensor.
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let kept: Vec<(String, safetensors::tensor::TensorView)> = st.tensors().into_iter().filter(|(n, _)| n != "ln_f.bias").collect();
    let meta = std::collections::HashMap::from([(checkpoint::CARD_KEY.to_string(), serde_json::to_string(&card).unwrap())]);
    let partial = safetensors::serialize(kept, Some(meta)).unwrap();
    let m = message(checkpoint::load_gpt(&partial, &[Role::Sft], &lab.model_cfg, &device));
    assert!(m.contains("ln_f.bias"), "{m}");
    // A foreign safetensors file (no card).
    let foreign = safetensors::serialize(st.tensors(), None).unwrap();
    let m = message(checkpoint::load_gpt(&foreign, &[Role::Sft], &lab.model_cfg, &device));
    assert!(m.contains("not one this app wrote"), "{m}");
    // Another language's tokenizer.
    let zh = Lab::new(Preset::Micro, 3, Lang::Zh, &device).unwrap();
    let (_, header) = checkpoint::load_gpt(&bytes, &[Role::Sft], &lab.model_cfg, &device).unwrap();
    let m = checkpoint::check_tokenizer(&header, &zh.tokenizer).err().unwrap().0;
    assert!(m.contains("another tokenizer"), "{m}");
}

#[test]
fn a_ppo_run_resumes_from_its_kept_policy_and_value() {
    use rlhf_playground::ppo::{PpoConfig, PpoTrainer};
    use rlhf_playground::sft;
    let (lab, device) = lab();
    let train = device.clone().autodiff();
    let reward_model = || RewardModel::from_sft(lab.pretrainer.trainable_model(), lab.model_cfg.n_embd, 0.5, &train);
    let cfg =
        PpoConfig { rollout_size: 4, samples_per_prompt: 2, minibatch_size: 2, ppo_epochs: 1, max_new_tokens: 6, ..PpoConfig::default() };
    let new = || {
        let prompts = sft::prompts(Lang::En).rl;
        PpoTrainer::new(lab.pretrainer.trainable_model(), reward_model(), prompts, lab.split.train.clone(), cfg.clone(), 4, &device)
    };
    let mut first = new();
    for _ in 0..2 {
        block_on(first.step(&lab.tokenizer)).unwrap();
    }
    first.beta = 0.07;
    let card = |role| ModelCard::new(role, &lab.model_cfg, Preset::Micro, Lang::En, 3, first.iteration());
    let policy_file = block_on(checkpoint::to_safetensors(&first.policy(), &card(Role::Policy), &lab.tokenizer)).unwrap();
    let value_file = block_on(checkpoint::to_safetensors(&first.value(), &card(Role::Value), &lab.tokenizer)).unwrap();

    // After a reload: a fresh run from the same start, given the kept files.
    let mut resumed = new();
    let (policy, header) = checkpoint::load_gpt(&policy_file, &[Role::Policy], &lab.model_cfg, &train).unwrap();
    let (value, _) = checkpoint::load_reward_model(&value_file, &[Role::Value], &lab.model_cfg, &train).unwrap();
    resumed.resume(policy, value, header.card.steps, first.beta);
    assert_eq!(resumed.iteration(), 2);
    assert_eq!(resumed.beta, 0.07);
    let text = "Q: What does the fox eat?\nA: The fox";
    assert_eq!(logits(&resumed.policy(), &lab.tokenizer, text, &device), logits(&first.policy(), &lab.tokenizer, text, &device));
    assert_ne!(logits(&resumed.policy(), &lab.tokenizer, text, &device), logits(resumed.reference(), &lab.tokenizer, text, &device));
    let answers = vec!["A: The fox eats berries.".to_string()];
    let value_of = |v: &RewardModel| block_on(score(v, &lab.tokenizer, "Q: What does the fox eat?\n", &answers, &device)).unwrap();
    assert_eq!(value_of(&resumed.value()), value_of(&first.value()));
    // It goes on from there.
    let (m, _) = block_on(resumed.step(&lab.tokenizer)).unwrap();
    assert_eq!(resumed.iteration(), 3);
    let m = m.expect("the prompts leave room to answer");
    assert!(m.named().iter().all(|(_, v)| v.is_finite()), "{m:?}");
}

/// What a kept model costs in the browser's storage: 4 bytes a parameter plus a
/// header (card + tokenizer) of a few kB, for each preset.
#[test]
fn a_checkpoint_is_its_parameters_and_a_small_header() {
    use burn::module::Module;
    let (lab, device) = lab();
    for preset in [Preset::Micro, Preset::Small] {
        let arch = preset.gpt(lab.model_cfg.vocab_size);
        let model = seeded(&device, 7, || arch.init(&device));
        let card = ModelCard::new(Role::Sft, &arch, preset, Lang::En, 3, 0);
        let bytes = block_on(checkpoint::to_safetensors(&model, &card, &lab.tokenizer)).unwrap();
        let header = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let params = model.num_params();
        println!("{}: {params} parameters, {} bytes ({header} of header)", preset.name(), bytes.len());
        assert_eq!(bytes.len(), 8 + header + 4 * params);
        assert!(header < 64 * 1024, "{header}");
    }
}
