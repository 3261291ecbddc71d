//! Checkpoints: one trained model as one safetensors file, the format PyTorch and
//! Hugging Face read. The tensors are in PyTorch's layout and named by the module
//! path (`wte.weight`, `blocks.0.attn.c_attn.weight`, …; Linear weights (out, in),
//! LayerNorm `weight`/`bias`), so `benches/check_export.py` loads one into a PyTorch
//! GPT. The header's metadata carries a model card (what the file is: role,
//! architecture, preset, language) and the HF `tokenizer.json`, so the file alone
//! is enough to use the model.
//!
//! Loading never touches the caller's model: the weights are applied to a fresh
//! one, which is returned only if every tensor was there with its shape. A file
//! of another kind, size or vocabulary is refused with a message that says which.

use crate::corpus::Lang;
use crate::model::{Gpt, GptConfig, Preset};
use crate::reward::RewardModel;
use crate::tokenizer::Tokenizer;
use burn::module::{ModuleMapper, ModuleVisitor, Param};
use burn::prelude::*;
use burn::store::{BurnToPyTorchAdapter, ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore};
use serde::{Deserialize, Serialize};

/// What a file says it is, so another safetensors file is refused by name.
pub const FORMAT: &str = "rlhf-playground/model";
pub const VERSION: u32 = 1;
/// The header keys of the model card and the tokenizer.
pub const CARD_KEY: &str = "rlhf_playground";
pub const TOKENIZER_KEY: &str = "tokenizer";
/// Larger files are refused before parsing (`small`'s reward model is ~3.5 MB).
pub const MAX_BYTES: usize = 64 << 20;

/// Which model of the recipe a checkpoint holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Pretrained,
    Sft,
    RewardModel,
    Policy,
    /// PPO's value network (a reward model's shape).
    Value,
}

impl Role {
    pub const ALL: [Role; 5] = [Role::Pretrained, Role::Sft, Role::RewardModel, Role::Policy, Role::Value];

    pub fn name(self) -> &'static str {
        match self {
            Self::Pretrained => "pretrained",
            Self::Sft => "sft",
            Self::RewardModel => "reward_model",
            Self::Policy => "policy",
            Self::Value => "value",
        }
    }

    /// A GPT (LM head) or a reward model's shape (GPT + scalar head + α).
    pub fn is_reward_shaped(self) -> bool {
        matches!(self, Self::RewardModel | Self::Value)
    }
}

/// The GPT's shape, spelled out for readers outside this crate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Architecture {
    pub vocab_size: usize,
    pub block_size: usize,
    pub n_layer: usize,
    pub n_head: usize,
    pub n_embd: usize,
}

impl From<&GptConfig> for Architecture {
    fn from(c: &GptConfig) -> Self {
        Self { vocab_size: c.vocab_size, block_size: c.block_size, n_layer: c.n_layer, n_head: c.n_head, n_embd: c.n_embd }
    }
}

impl Architecture {
    pub fn gpt(&self) -> GptConfig {
        GptConfig::new(self.vocab_size, self.block_size, self.n_layer, self.n_head, self.n_embd)
    }

    /// The preset of this shape, if it is one.
    fn preset_name(&self) -> &'static str {
        [Preset::Micro, Preset::Small]
            .into_iter()
            .find(|p| Architecture::from(&p.gpt(self.vocab_size)) == *self)
            .map_or("custom", |p| p.name())
    }

    fn describe(&self) -> String {
        format!("{} layers × {} wide, {} tokens of context, vocabulary {}", self.n_layer, self.n_embd, self.block_size, self.vocab_size)
    }
}

/// The model card in a checkpoint's header (and the runner's `config.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    pub format: String,
    pub version: u32,
    pub role: Role,
    pub architecture: Architecture,
    /// Pre-LayerNorm blocks, exact (erf) GELU, LM head tied to `wte.weight`.
    pub layer_norm_epsilon: f64,
    pub tied_lm_head: bool,
    pub preset: Preset,
    pub lang: Lang,
    pub seed: u64,
    /// Optimiser steps this model's stage ran.
    pub steps: usize,
}

impl ModelCard {
    pub fn new(role: Role, arch: &GptConfig, preset: Preset, lang: Lang, seed: u64, steps: usize) -> Self {
        Self {
            format: FORMAT.into(),
            version: VERSION,
            role,
            architecture: arch.into(),
            layer_norm_epsilon: crate::model::LN_EPS,
            tied_lm_head: true,
            preset,
            lang,
            seed,
            steps,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct CheckpointError(pub String);

impl std::fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CheckpointError {}

impl From<crate::tokenizer::TokenizerError> for CheckpointError {
    fn from(e: crate::tokenizer::TokenizerError) -> Self {
        Self(e.0)
    }
}

fn err(msg: impl Into<String>) -> CheckpointError {
    CheckpointError(msg.into())
}

/// A checkpoint's header: the card and the tokenizer, read without the weights.
pub struct Header {
    pub card: ModelCard,
    pub tokenizer_json: Option<String>,
}

/// Reads and checks the header of a file that claims to be one of our checkpoints.
pub fn read_header(bytes: &[u8]) -> Result<Header, CheckpointError> {
    if bytes.len() > MAX_BYTES {
        return Err(err(format!("the file is {} MB; a checkpoint of this app is at most {} MB", bytes.len() >> 20, MAX_BYTES >> 20)));
    }
    let (_, meta) = safetensors::SafeTensors::read_metadata(bytes)
        .map_err(|e| err(format!("not a safetensors file, or a damaged one ({e}); nothing was loaded")))?;
    let metadata = meta.metadata().clone().unwrap_or_default();
    let card = metadata
        .get(CARD_KEY)
        .ok_or_else(|| err("a safetensors file, but not one this app wrote (no model card in its header); nothing was loaded"))?;
    let card: ModelCard = serde_json::from_str(card).map_err(|e| err(format!("the model card in the header is unreadable ({e})")))?;
    if card.format != FORMAT || card.version > VERSION {
        return Err(err(format!(
            "the file says it is {:?} version {}; this app reads {FORMAT:?} up to version {VERSION}",
            card.format, card.version
        )));
    }
    Ok(Header { card, tokenizer_json: metadata.get(TOKENIZER_KEY).cloned() })
}

/// Checks that a header describes a model of `role`'s kind and of `arch`'s shape.
pub fn check(header: &Header, roles: &[Role], arch: &GptConfig) -> Result<(), CheckpointError> {
    let card = &header.card;
    if !roles.contains(&card.role) {
        let want: Vec<&str> = roles.iter().map(|r| r.name()).collect();
        return Err(err(format!("this file holds a {} model; here a {} model is needed", card.role.name(), want.join(" or "))));
    }
    let want = Architecture::from(arch);
    if card.architecture != want {
        return Err(err(format!(
            "this file's model is {} ({}); this page's is {} ({}). Pick the same preset before importing.",
            card.architecture.describe(),
            card.architecture.preset_name(),
            want.describe(),
            want.preset_name(),
        )));
    }
    Ok(())
}

/// Every float parameter, flattened into one tensor in visiting order, with the shapes.
struct Flatten {
    parts: Vec<Tensor<1>>,
}

impl ModuleVisitor for Flatten {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.parts.push(param.val().reshape([-1]));
    }
}

/// Replaces every float parameter by the next slice of `values`, on `device`.
struct Refill<'a> {
    values: &'a [f32],
    at: usize,
    device: Device,
}

impl ModuleMapper for Refill<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        param.map(|t| {
            let dims = t.dims();
            let n: usize = dims.iter().product();
            let data = TensorData::new(self.values[self.at..self.at + n].to_vec(), dims);
            self.at += n;
            Tensor::from_data(data, &self.device)
        })
    }
}

/// A copy of `module` on burn's CPU backend, read back from its device with one
/// (async) read-back: a GPU can only be read asynchronously in a browser, and the
/// safetensors writer reads tensors synchronously.
async fn on_cpu<M: Module>(module: &M) -> Result<M, CheckpointError> {
    let mut flat = Flatten { parts: vec![] };
    module.visit(&mut flat);
    let values = if flat.parts.is_empty() {
        vec![]
    } else {
        crate::readback::read_vec(Tensor::cat(flat.parts, 0)).await.map_err(|e| err(e.to_string()))?
    };
    Ok(module.clone().map(&mut Refill { values: &values, at: 0, device: crate::backend::Backend::cpu().device }))
}

/// Writes `module` (a [`Gpt`] or a [`RewardModel`], without autodiff) as safetensors
/// bytes, with `card` and the tokenizer in the header.
pub async fn to_safetensors<M: Module>(module: &M, card: &ModelCard, tokenizer: &Tokenizer) -> Result<Vec<u8>, CheckpointError> {
    let cpu = on_cpu(module).await?;
    let card_json = serde_json::to_string(card).map_err(|e| err(e.to_string()))?;
    let mut store = SafetensorsStore::from_bytes(None)
        .with_to_adapter(BurnToPyTorchAdapter)
        .metadata(CARD_KEY, card_json)
        .metadata(TOKENIZER_KEY, tokenizer.to_json()?);
    cpu.save_into(&mut store).map_err(|e| err(format!("could not write the checkpoint: {e}")))?;
    store.get_bytes().map_err(|e| err(format!("could not write the checkpoint: {e}")))
}

/// Applies a checkpoint's weights to `fresh` (a model of the expected shape on the
/// device it should live on), returning it only if every tensor was there with its
/// shape and nothing was left over.
fn apply<M: Module>(mut fresh: M, bytes: &[u8]) -> Result<M, CheckpointError> {
    // Partial: burn-store then reports what is missing instead of failing with its
    // whole loading table, and the checks below say it in one line.
    let mut store = SafetensorsStore::from_bytes(Some(bytes.to_vec())).with_from_adapter(PyTorchToBurnAdapter).allow_partial(true);
    let result = fresh.load_from(&mut store).map_err(|e| err(format!("the weights could not be read ({e}); nothing was loaded")))?;
    if let Some(e) = result.errors.first() {
        return Err(err(format!("a tensor does not fit this model ({e:?}); nothing was loaded")));
    }
    if let Some((path, _)) = result.missing.first() {
        // burn names LayerNorm's parameters gamma/beta; the file, like PyTorch, weight/bias.
        let path = path.replace(".gamma", ".weight").replace(".beta", ".bias");
        return Err(err(format!("the file lacks the tensor {path:?} ({} missing); nothing was loaded", result.missing.len())));
    }
    if let Some(path) = result.unused.first() {
        return Err(err(format!("the file has a tensor this model lacks ({path:?}); nothing was loaded")));
    }
    Ok(fresh)
}

/// A GPT (pretrained, SFT or policy) from a checkpoint, on `device` (add autodiff to
/// the device to train it further).
pub fn load_gpt(bytes: &[u8], roles: &[Role], arch: &GptConfig, device: &Device) -> Result<(Gpt, Header), CheckpointError> {
    let header = read_header(bytes)?;
    check(&header, roles, arch)?;
    Ok((apply(arch.init(device), bytes)?, header))
}

/// A reward model (or value network) from a checkpoint, on `device`.
pub fn load_reward_model(
    bytes: &[u8],
    roles: &[Role],
    arch: &GptConfig,
    device: &Device,
) -> Result<(RewardModel, Header), CheckpointError> {
    let header = read_header(bytes)?;
    check(&header, roles, arch)?;
    Ok((apply(RewardModel::from_sft(arch.init(device), arch.n_embd, 0.0, device), bytes)?, header))
}

/// The tokenizer a checkpoint was trained with must be the one in use: the same ids
/// must mean the same text.
pub fn check_tokenizer(header: &Header, tokenizer: &Tokenizer) -> Result<(), CheckpointError> {
    match &header.tokenizer_json {
        Some(t) if Tokenizer::from_json(t)?.same_as(tokenizer) => Ok(()),
        Some(_) => Err(err(format!(
            "this model was trained with another tokenizer ({} corpus); its token ids would mean other text here",
            header.card.lang.code()
        ))),
        None => Err(err("the file has no tokenizer in its header; nothing was loaded")),
    }
}

/// Where a run keeps its files: the runner's `--save`/`--load` directory, a test's
/// memory. Names are paths such as `sft/model.safetensors`.
pub trait Store {
    fn put(&mut self, name: &str, bytes: &[u8]) -> Result<(), CheckpointError>;
    fn get(&self, name: &str) -> Result<Vec<u8>, CheckpointError>;
}

/// A directory, laid out as Hugging Face's model folders: one folder per model with
/// `model.safetensors`, `config.json` (the card) and `tokenizer.json`.
pub struct DirStore(pub std::path::PathBuf);

impl Store for DirStore {
    fn put(&mut self, name: &str, bytes: &[u8]) -> Result<(), CheckpointError> {
        let path = self.0.join(name);
        let write = || -> std::io::Result<()> {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            // Written beside and renamed, so a full disk never leaves half a file.
            let tmp = path.with_extension("partial");
            std::fs::write(&tmp, bytes)?;
            std::fs::rename(&tmp, &path)
        };
        write().map_err(|e| err(format!("could not write {}: {e}", path.display())))
    }

    fn get(&self, name: &str) -> Result<Vec<u8>, CheckpointError> {
        let path = self.0.join(name);
        std::fs::read(&path).map_err(|e| err(format!("could not read {}: {e}", path.display())))
    }
}

/// Files in memory (tests).
#[derive(Default)]
pub struct MemoryStore(pub std::collections::BTreeMap<String, Vec<u8>>);

impl Store for MemoryStore {
    fn put(&mut self, name: &str, bytes: &[u8]) -> Result<(), CheckpointError> {
        self.0.insert(name.into(), bytes.to_vec());
        Ok(())
    }

    fn get(&self, name: &str) -> Result<Vec<u8>, CheckpointError> {
        self.0.get(name).cloned().ok_or_else(|| err(format!("no {name} in the store")))
    }
}

/// Writes one model's folder: `{folder}/model.safetensors`, `config.json`, `tokenizer.json`.
pub async fn save_model<M: Module>(
    store: &mut dyn Store,
    folder: &str,
    module: &M,
    card: &ModelCard,
    tokenizer: &Tokenizer,
) -> Result<(), CheckpointError> {
    let bytes = to_safetensors(module, card, tokenizer).await?;
    store.put(&format!("{folder}/model.safetensors"), &bytes)?;
    store.put(&format!("{folder}/config.json"), serde_json::to_string_pretty(card).map_err(|e| err(e.to_string()))?.as_bytes())?;
    store.put(&format!("{folder}/tokenizer.json"), tokenizer.to_json()?.as_bytes())
}

/// Reads `{folder}/model.safetensors` as a GPT of `roles`, checking its shape and
/// tokenizer; with its card.
pub fn read_gpt(
    store: &dyn Store,
    folder: &str,
    roles: &[Role],
    arch: &GptConfig,
    tokenizer: &Tokenizer,
    device: &Device,
) -> Result<(Gpt, ModelCard), CheckpointError> {
    read(store, folder, tokenizer, |bytes| load_gpt(bytes, roles, arch, device))
}

/// Reads `{folder}/model.safetensors` as a reward model of `roles`.
pub fn read_reward_model(
    store: &dyn Store,
    folder: &str,
    roles: &[Role],
    arch: &GptConfig,
    tokenizer: &Tokenizer,
    device: &Device,
) -> Result<(RewardModel, ModelCard), CheckpointError> {
    read(store, folder, tokenizer, |bytes| load_reward_model(bytes, roles, arch, device))
}

/// `{folder}/model.safetensors` through `load`, its tokenizer checked against the one in use.
fn read<M>(
    store: &dyn Store,
    folder: &str,
    tokenizer: &Tokenizer,
    load: impl FnOnce(&[u8]) -> Result<(M, Header), CheckpointError>,
) -> Result<(M, ModelCard), CheckpointError> {
    let (model, header) = load(&store.get(&format!("{folder}/model.safetensors"))?)?;
    check_tokenizer(&header, tokenizer)?;
    Ok((model, header.card))
}
