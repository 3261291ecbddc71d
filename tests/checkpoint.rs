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
