//! The page's [`Ui`] and the engine worker's copy of it, kept the same. Each side
//! owns a full set of signals; what one side changes travels to the other as
//! [`Field`]s (the signal's place in the list below and its value in postcard), so
//! the engine (stage drivers, keep, inspect) runs unchanged in the worker while the
//! page only renders.
//!
//! Why a diff and not a message per write: the engine writes ~110 signals from
//! ~100 places; comparing each signal's bytes with those the other side last saw, a
//! few times a second, catches all of them and needs no change there. Bytes and not
//! typed values: the code is then one encoder and one decoder per type, not per
//! signal (the wasm budget is tight), and a NaN compares equal to itself.
//!
//! Conflicts: a signal both sides write (`running`, `error`, `tab`) may change on
//! both at once. The page's change wins: each sync from the page is numbered,
//! each view from the worker says how many it had applied, and the page ignores a
//! view's value for a field it has changed since.

use super::view::Ui;
use leptos::prelude::*;
use serde::{Deserialize, Serialize, de::DeserializeOwned};

/// One signal's value: its place in the list and its postcard bytes.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Field {
    index: u8,
    bytes: Vec<u8>,
}

fn encode<T: Serialize + Send + Sync + 'static>(s: RwSignal<T>) -> Vec<u8> {
    // Our views always serialise (no maps with non-string keys, no unsized data).
    s.with_untracked(|v| postcard::to_allocvec(v).unwrap_or_default())
}

/// Sets the signal only if the value differs, so nothing re-renders for nothing.
/// Bytes that do not decode (never sent by this build) change nothing.
fn decode<T: DeserializeOwned + PartialEq + Send + Sync + 'static>(s: RwSignal<T>, bytes: &[u8]) {
    let Ok(v) = postcard::from_bytes::<T>(bytes) else { return };
    s.maybe_update(|now| {
        let new = *now != v;
        if new {
            *now = v;
        }
        new
    });
}

/// Lists every mirrored signal once: a name, its value's type, its path in `Ui`.
/// The name is only for reading; a signal is its place in the list.
macro_rules! mirror {
    ($($name:ident : $ty:ty = $($path:ident).+ ;)*) => {
        /// Each signal's value as bytes, in the list's order.
        const ENCODE: &[fn(&Ui) -> Vec<u8>] = &[$(|ui| encode::<$ty>(ui.$($path).+),)*];
        /// Sets each signal from bytes, in the list's order.
        const DECODE: &[fn(&Ui, &[u8])] = &[$(|ui, bytes| decode::<$ty>(ui.$($path).+, bytes),)*];
    };
}

mirror! {
    Lang: crate::corpus::Lang = lang;
    Running: bool = pretrain.running;
    StepRequests: u64 = pretrain.step_requests;
    ResetRequests: u64 = pretrain.reset_requests;
    Prompt: String = pretrain.prompt;
    Ready: bool = ready;
    Backend: Option<super::view::BackendInfo> = backend;
    Step: usize = pretrain.step;
    Losses: Vec<super::view::LossPoint> = pretrain.losses;
    TokensPerSec: f64 = pretrain.tokens_per_sec;
    Samples: Vec<(usize, String)> = pretrain.samples;
    NextTokens: Vec<crate::inspect::TokenProb> = pretrain.next_tokens;
    Attention: Option<crate::inspect::AttentionMaps> = pretrain.attention;
    Vocab: Vec<String> = pretrain.vocab;
    Error: Option<String> = error;
    Tab: super::view::Tab = tab;
    SftRunning: bool = sft.running;
    SftStepRequests: u64 = sft.step_requests;
    SftRestartRequests: u64 = sft.restart_requests;
    SftStep: usize = sft.step;
    SftPoints: Vec<super::view::SftPoint> = sft.points;
    SftWatch: Vec<super::view::Watch> = sft.watch;
    SftMask: Vec<(String, bool)> = sft.mask;
    RankPrompt: String = rank.prompt;
    RankK: usize = rank.k;
    RankWeights: crate::persona::Weights = rank.weights;
    RankRequests: u64 = rank.requests;
    RankSampling: bool = rank.sampling;
    RankAnswers: Vec<String> = rank.answers;
    Session: crate::session::Session = session;
    RmRunning: bool = rm.running;
    RmStepRequests: u64 = rm.step_requests;
    RmStep: usize = rm.step;
    RmEpoch: usize = rm.epoch;
    RmPoints: Vec<super::view::reward::RmPoint> = rm.points;
    RmHeldOut: Vec<(usize, f32)> = rm.held_out;
    RmHeldOutInterval: Option<crate::interval::Interval> = rm.held_out_interval;
    RmHeldOutPairs: usize = rm.held_out_pairs;
    RmScored: Vec<super::view::reward::ScoredPrompt> = rm.scored;
    RmRewards: Vec<f32> = rm.rewards;
    RmFluency: Option<f32> = rm.fluency;
    RmBusy: Option<super::view::reward::RewardBusy> = rm.busy;
    RmProbePrompt: String = rm.probe_prompt;
    RmProbeAnswer: String = rm.probe_answer;
    RmProbeRequests: u64 = rm.probe_requests;
    RmProbeScore: Option<f32> = rm.probe_score;
    PpoBeta: f32 = ppo.beta;
    PpoGammaPtx: f32 = ppo.gamma_ptx;
    PpoLr: f64 = ppo.lr;
    PpoK: usize = ppo.k;
    PpoBeside: super::view::ppo::Beside = ppo.beside;
    PpoRunning: bool = ppo.running;
    PpoStepRequests: u64 = ppo.step_requests;
    PpoRestartRequests: u64 = ppo.restart_requests;
    PpoIteration: usize = ppo.iteration;
    PpoPoints: Vec<super::view::ppo::PpoPoint> = ppo.points;
    PpoBesidePoints: Vec<super::view::ppo::PpoPoint> = ppo.beside_points;
    PpoLabels: Option<(super::view::ppo::RunLabel, Option<super::view::ppo::RunLabel>)> = ppo.labels;
    PpoAnswers: Vec<super::view::ppo::AnswerView> = ppo.answers;
    PpoBesideAnswers: Vec<super::view::ppo::AnswerView> = ppo.beside_answers;
    PpoWatched: Vec<super::view::ppo::Watched> = ppo.watched;
    PpoAttention: Option<crate::inspect::AttentionMaps> = ppo.attention;
    PpoBusy: Option<super::view::ppo::PpoBusy> = ppo.busy;
    OveroptPoints: Vec<crate::overopt::GoldProxy> = ppo.overopt.points;
    OveroptSigns: Vec<(String, crate::overopt::Detectors)> = ppo.overopt.signs;
    DpoBeta: f32 = dpo.beta;
    DpoLr: f64 = dpo.lr;
    DpoRunning: bool = dpo.running;
    DpoStepRequests: u64 = dpo.step_requests;
    DpoRestartRequests: u64 = dpo.restart_requests;
    DpoPoints: Vec<super::view::dpo::DpoPoint> = dpo.points;
    DpoAnswer: Option<super::view::dpo::DpoAnswer> = dpo.answer;
    DpoBusy: Option<super::view::dpo::DpoBusy> = dpo.busy;
    EvalRequests: u64 = eval.requests;
    EvalBusy: bool = eval.busy;
    EvalDuels: Vec<super::view::eval::DuelView> = eval.duels;
    EvalTax: Vec<super::view::eval::TaxRow> = eval.tax;
    EvalThreeWay: Vec<super::view::eval::ThreeWay> = eval.three_way;
    EvalAtIteration: usize = eval.at_iteration;
    EvalAgainst: super::view::eval::Contestant = eval.against;
    EvalJudged: super::view::eval::Contestant = eval.judged;
    Inside: super::view::InsideView = inside;
    KernelCheckRequests: u64 = kernel_check_requests;
    KeepKept: std::collections::BTreeMap<String, usize> = keep.kept;
    KeepOffer: Option<super::view::keep::Progress> = keep.offer;
    KeepResumeRequests: u64 = keep.resume_requests;
    KeepForgetRequests: u64 = keep.forget_requests;
    KeepExport: Option<crate::checkpoint::Role> = keep.export;
    KeepNote: Option<String> = keep.note;
    KeepError: Option<String> = keep.error;
    KeepBusy: Option<super::view::keep::KeepBusy> = keep.busy;
    KeepLastKeep: Option<(f64, usize)> = keep.last_keep;
    KeepResumeMs: Option<f64> = keep.resume_ms;
}

/// How many signals are mirrored (a field's index is a `u8`).
const COUNT: usize = ENCODE.len();
const _: () = assert!(COUNT == DECODE.len() && COUNT <= 256);

/// One side's record of what the other side has seen (nothing yet, by default).
pub struct Mirror {
    last: Vec<Option<Vec<u8>>>,
}

impl Default for Mirror {
    fn default() -> Self {
        Self { last: vec![None; COUNT] }
    }
}

impl Mirror {
    /// Both sides start from the page's values: the page sends them whole.
    pub fn new(ui: &Ui) -> (Self, Vec<Field>) {
        let mut mirror = Self::default();
        let all = mirror.changed(ui);
        (mirror, all)
    }

    /// What changed here since the other side last saw it (all, where it has
    /// seen nothing).
    pub fn changed(&mut self, ui: &Ui) -> Vec<Field> {
        let mut out = vec![];
        for (i, encode) in ENCODE.iter().enumerate() {
            let bytes = encode(ui);
            if self.last[i].as_ref() != Some(&bytes) {
                self.last[i] = Some(bytes.clone());
                out.push(Field { index: i as u8, bytes });
            }
        }
        out
    }

    /// Values from the other side: set here, and remembered as seen there.
    pub fn apply(&mut self, ui: &Ui, fields: Vec<Field>) {
        for Field { index, bytes } in fields {
            let i = usize::from(index);
            if i < COUNT {
                DECODE[i](ui, &bytes);
                self.last[i] = Some(bytes);
            }
        }
    }
}

/// The page's side: numbers its syncs, and drops a view's value for a field the
/// page changed after the view was made.
pub struct PageMirror {
    mirror: Mirror,
    sent: u64,
    /// Per field, the number of the page's last sync that carried it.
    sent_at: Vec<u64>,
}

impl PageMirror {
    pub fn new(ui: &Ui) -> (Self, Vec<Field>) {
        let (mirror, all) = Mirror::new(ui);
        (Self { mirror, sent: 0, sent_at: vec![0; COUNT] }, all)
    }

    /// The page's changes as the next numbered sync, if there are any.
    pub fn outgoing(&mut self, ui: &Ui) -> Option<(u64, Vec<Field>)> {
        let fields = self.mirror.changed(ui);
        if fields.is_empty() {
            return None;
        }
        self.sent += 1;
        for f in &fields {
            self.sent_at[usize::from(f.index)] = self.sent;
        }
        Some((self.sent, fields))
    }

    /// A view made after the worker applied `seen` of the page's syncs.
    pub fn incoming(&mut self, ui: &Ui, seen: u64, fields: Vec<Field>) {
        let fresh = fields.into_iter().filter(|f| self.sent_at.get(usize::from(f.index)).is_some_and(|&at| at <= seen)).collect();
        self.mirror.apply(ui, fresh);
    }
}
