//! rlhf-playground: train a tiny GPT through the ChatGPT recipe, in a web page.
//!
//! The compute core (everything but `ui`) is plain Rust over burn tensors: it
//! builds and is tested natively, and never imports leptos or web-sys.

/// `fast-cpu` (the benches' and the runner's CPU build): an allocator that reuses
/// freed tensor memory, for every binary that links the library (see Cargo.toml
/// and [`backend::Backend::cpu`]).
#[cfg(all(feature = "fast-cpu", not(target_arch = "wasm32")))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod backend;
pub mod bench;
pub mod breathe;
pub mod checkpoint;
pub mod corpus;
pub mod data;
pub mod dpo;
pub mod evaluate;
pub mod inspect;
pub mod interval;
pub mod kernel_check;
pub mod kernels;
pub mod lab;
pub mod losses;
pub mod model;
pub mod overopt;
pub mod persona;
pub mod pipeline;
pub mod ppo;
pub mod pretrain;
pub mod rank;
pub mod readback;
pub mod reward;
pub mod sample;
pub mod session;
pub mod sft;
pub mod stages;
pub mod stats;
pub mod tokenizer;
pub mod train;

#[cfg(target_arch = "wasm32")]
mod ui;

/// Why a training or inference step failed. Training state is left as it was
/// before the failing step.
#[derive(Debug, Clone, PartialEq)]
pub enum TrainError {
    /// The loss came out NaN or infinite after update `step`; training went back
    /// to the weights before that update.
    NonFinite { step: usize, value: f32 },
    /// The device failed (lost GPU, out of memory, read-back error).
    Backend(String),
    /// A checkpoint could not be read or written; nothing was changed.
    Checkpoint(String),
    /// The reward model was asked to learn from rankings with no pair in them (no
    /// prompt ranked yet, or every answer tied).
    NoPairs,
}

impl From<checkpoint::CheckpointError> for TrainError {
    fn from(e: checkpoint::CheckpointError) -> Self {
        Self::Checkpoint(e.0)
    }
}

impl std::fmt::Display for TrainError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NonFinite { step, value } => write!(
                f,
                "the loss became {value} after update {step}; training stopped and went back to the last good weights (try a smaller learning rate)"
            ),
            Self::Backend(e) => write!(f, "the compute device failed: {e}"),
            Self::Checkpoint(e) => write!(f, "{e}"),
            Self::NoPairs => {
                write!(f, "no ranked pair to learn from: rank at least one prompt, with its answers in different places (stage 3)")
            }
        }
    }
}

impl std::error::Error for TrainError {}
