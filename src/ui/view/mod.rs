//! What the page shows and commands, as signals: the state the page and the
//! engine's worker share (src/ui/mirror.rs keeps the two copies the same). The
//! panels read and command it; the engine's stages write it. Neither side's code
//! lives here, so each depends on this and not on the other.

pub mod dpo;
pub mod eval;
pub mod keep;
pub mod ppo;
pub mod reward;

pub use dpo::DpoUi;
pub use eval::EvalUi;
pub use keep::KeepUi;
pub use ppo::PpoUi;
pub use reward::RewardUi;

use super::Params;
use crate::corpus::Lang;
use crate::inspect::{AttentionMaps, TokenProb};
use crate::model::Preset;
use leptos::prelude::*;

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BackendInfo {
    pub webgpu: bool,
    pub adapter: Option<String>,
    /// Why we run on the CPU, in plain words.
    pub note: String,
}

/// The stage panels, in the recipe's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Tab {
    Pretrain,
    Sft,
    Rank,
    Reward,
    Ppo,
    Evaluate,
}

impl Tab {
    pub fn parse(name: &str) -> Option<Self> {
        [Tab::Pretrain, Tab::Sft, Tab::Rank, Tab::Reward, Tab::Ppo, Tab::Evaluate].into_iter().find(|t| t.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Tab::Pretrain => "pretrain",
            Tab::Sft => "sft",
            Tab::Rank => "rank",
            Tab::Reward => "reward",
            Tab::Ppo => "ppo",
            Tab::Evaluate => "evaluate",
        }
    }
}

/// One SFT step as charted.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SftPoint {
    pub step: usize,
    pub loss: f32,
    pub token_accuracy: f32,
}

/// A watched prompt: what the pretrained model and the SFT model say to it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Watch {
    pub prompt: String,
    pub base: String,
    pub sft: String,
    pub at_step: usize,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LossPoint {
    pub step: usize,
    pub train: f32,
    pub held_out: Option<f32>,
}

/// What the "look inside" view shows of our kernels.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InsideView {
    /// Dispatches of each of `kernels::KERNELS`: in the last engine step that ran any, and in all.
    pub last: [u64; crate::kernels::N],
    pub total: [u64; crate::kernels::N],
    /// Tensors read back from the device by the last step.
    pub last_readbacks: u64,
    pub checks: Vec<crate::kernel_check::Check>,
    pub checking: bool,
}

/// Everything the page shows or commands, as signals (all `Copy`).
#[derive(Clone, Copy)]
pub struct Ui {
    pub lang: RwSignal<Lang>,
    /// The toy world's language (the corpus the model learns), fixed at load.
    pub world: Lang,
    pub preset: Preset,
    pub seed: u64,
    pub ready: RwSignal<bool>,
    pub backend: RwSignal<Option<BackendInfo>>,
    pub error: RwSignal<Option<String>>,
    pub tab: RwSignal<Tab>,
    pub pretrain: PretrainUi,
    pub sft: SftUi,
    pub rank: RankUi,
    pub session: RwSignal<crate::session::Session>,
    pub rm: RewardUi,
    pub ppo: PpoUi,
    pub dpo: DpoUi,
    pub eval: EvalUi,
    pub inside: RwSignal<InsideView>,
    pub kernel_check_requests: RwSignal<u64>,
    pub keep: KeepUi,
}

/// The pretraining panel's signals.
#[derive(Clone, Copy)]
pub struct PretrainUi {
    // commands
    pub running: RwSignal<bool>,
    pub step_requests: RwSignal<u64>,
    pub reset_requests: RwSignal<u64>,
    pub prompt: RwSignal<String>,
    // results
    pub step: RwSignal<usize>,
    pub losses: RwSignal<Vec<LossPoint>>,
    pub tokens_per_sec: RwSignal<f64>,
    pub samples: RwSignal<Vec<(usize, String)>>,
    pub next_tokens: RwSignal<Vec<TokenProb>>,
    pub attention: RwSignal<Option<AttentionMaps>>,
    pub vocab: RwSignal<Vec<String>>,
}

/// The SFT panel's signals.
#[derive(Clone, Copy)]
pub struct SftUi {
    pub running: RwSignal<bool>,
    pub step_requests: RwSignal<u64>,
    /// SFT starts over from the pretrained model (and so do the stages after it).
    pub restart_requests: RwSignal<u64>,
    pub step: RwSignal<usize>,
    pub points: RwSignal<Vec<SftPoint>>,
    pub watch: RwSignal<Vec<Watch>>,
    /// One demonstration's tokens, each marked whether the SFT loss counts it.
    pub mask: RwSignal<Vec<(String, bool)>>,
}

/// The ranking panel's signals (the rankings themselves are in the session).
#[derive(Clone, Copy)]
pub struct RankUi {
    pub prompt: RwSignal<String>,
    pub k: RwSignal<usize>,
    /// The persona's helpful / honest / harmless weights.
    pub weights: RwSignal<crate::persona::Weights>,
    pub requests: RwSignal<u64>,
    pub sampling: RwSignal<bool>,
    pub answers: RwSignal<Vec<String>>,
}

/// The demonstrations SFT trains on: the user's, or the shipped ones.
pub fn demonstrations(session: RwSignal<crate::session::Session>, world: Lang) -> Vec<crate::sft::Demonstration> {
    let own = session.with_untracked(|s| s.demonstrations.clone());
    if own.is_empty() { crate::sft::demonstrations(world) } else { own }
}

/// Every stage's Start/Pause: one stage trains at a time, so Start or Step on any
/// stage pauses the others.
#[derive(Clone, Copy)]
pub struct Runs([RwSignal<bool>; 5]);

impl Runs {
    pub fn pause_all(&self) {
        self.0.iter().for_each(|r| r.set(false));
    }
}

/// The settings a session file and a shared link carry, as the panels hold them.
#[derive(Clone, Copy)]
pub struct SettingsUi {
    pub preset: Preset,
    pub seed: u64,
    pub world: Lang,
    pub lang: RwSignal<Lang>,
    pub session: RwSignal<crate::session::Session>,
    pub rank: RankUi,
    pub ppo: PpoUi,
}

impl SettingsUi {
    /// The demonstrations SFT trains on: the user's, or the shipped ones.
    pub fn demonstrations(&self) -> Vec<crate::sft::Demonstration> {
        demonstrations(self.session, self.world)
    }

    /// A link that opens the page with the current settings (shareable).
    pub fn share_query(&self) -> String {
        let p = &self.ppo;
        format!(
            "?preset={}&seed={}&lang={}&k={}&beta={}&ptx={}&ppo_lr={}&ppo_k={}&beside={}",
            self.preset.name(),
            self.seed,
            self.lang.get().code(),
            self.rank.k.get(),
            p.beta.get(),
            p.gamma_ptx.get(),
            p.lr.get(),
            p.k.get(),
            p.beside.get().code()
        )
    }

    /// The settings part of the session follows the page, so an export carries them.
    pub fn settings(&self) -> crate::session::Settings {
        let mut s = self.session.with_untracked(|s| s.settings.clone());
        s.preset = self.preset;
        s.seed = self.seed;
        s.lang = self.world;
        s.k = self.rank.k.get_untracked();
        s.beta = self.ppo.beta.get_untracked();
        s.gamma_ptx = self.ppo.gamma_ptx.get_untracked();
        s.weights = self.rank.weights.get_untracked();
        s
    }

    /// An imported session's settings, applied to the page's controls.
    pub fn apply_settings(&self, s: &crate::session::Settings) {
        self.rank.k.set(s.k);
        self.ppo.beta.set(s.beta);
        self.ppo.gamma_ptx.set(s.gamma_ptx);
        self.rank.weights.set(s.weights);
    }
}

impl Ui {
    pub fn runs(&self) -> Runs {
        Runs([self.pretrain.running, self.sft.running, self.rm.running, self.ppo.running, self.dpo.running])
    }

    pub fn settings_ui(&self) -> SettingsUi {
        SettingsUi {
            preset: self.preset,
            seed: self.seed,
            world: self.world,
            lang: self.lang,
            session: self.session,
            rank: self.rank,
            ppo: self.ppo,
        }
    }

    /// The demonstrations SFT trains on: the user's, or the shipped ones.
    pub fn demonstrations(&self) -> Vec<crate::sft::Demonstration> {
        self.settings_ui().demonstrations()
    }

    /// The settings part of the session follows the page.
    pub fn settings(&self) -> crate::session::Settings {
        self.settings_ui().settings()
    }

    /// The page's signals (and the engine worker's copy): `session` is what this
    /// browser kept.
    pub fn new(lang: Lang, params: &Params, session: crate::session::Session) -> Self {
        Self {
            lang: RwSignal::new(lang),
            world: lang,
            preset: params.preset,
            seed: params.seed,
            ready: RwSignal::new(false),
            backend: RwSignal::new(None),
            error: RwSignal::new(None),
            tab: RwSignal::new(Tab::Pretrain),
            pretrain: PretrainUi {
                running: RwSignal::new(false),
                step_requests: RwSignal::new(0),
                reset_requests: RwSignal::new(0),
                prompt: RwSignal::new("Q: What does the fox eat?".to_string()),
                step: RwSignal::new(0),
                losses: RwSignal::new(vec![]),
                tokens_per_sec: RwSignal::new(0.0),
                samples: RwSignal::new(vec![]),
                next_tokens: RwSignal::new(vec![]),
                attention: RwSignal::new(None),
                vocab: RwSignal::new(vec![]),
            },
            sft: SftUi {
                running: RwSignal::new(false),
                step_requests: RwSignal::new(0),
                restart_requests: RwSignal::new(0),
                step: RwSignal::new(0),
                points: RwSignal::new(vec![]),
                watch: RwSignal::new(vec![]),
                mask: RwSignal::new(vec![]),
            },
            rank: RankUi {
                prompt: RwSignal::new(String::new()),
                k: RwSignal::new(params.k),
                weights: RwSignal::new(crate::persona::Weights::default()),
                requests: RwSignal::new(0),
                sampling: RwSignal::new(false),
                answers: RwSignal::new(vec![]),
            },
            session: RwSignal::new(session),
            rm: RewardUi::new(),
            ppo: PpoUi::new(params),
            dpo: DpoUi::new(params),
            eval: EvalUi::new(),
            inside: RwSignal::new(InsideView::default()),
            kernel_check_requests: RwSignal::new(0),
            keep: KeepUi::new(),
        }
        .with_saved_settings(params)
    }

    /// Settings survive a reload: those the URL does not name come from the kept session.
    fn with_saved_settings(self, params: &Params) -> Self {
        let saved = self.session.with_untracked(|s| s.settings.clone());
        if self.session.with_untracked(|s| s.comparisons.is_empty() && s.demonstrations.is_empty())
            && saved == crate::session::Settings::default()
        {
            return self; // nothing was ever kept
        }
        if !params.given("k") {
            self.rank.k.set(saved.k);
        }
        if !params.given("beta") {
            self.ppo.beta.set(saved.beta);
        }
        if !params.given("ptx") {
            self.ppo.gamma_ptx.set(saved.gamma_ptx);
        }
        self.rank.weights.set(saved.weights);
        self
    }
}
