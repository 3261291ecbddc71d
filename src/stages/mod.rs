//! Stage drivers: library code that the runner's pipeline, the native tests and
//! the page all call, so a stage is built and stepped one way only (as nanochat's
//! stage scripts sit over its library). A driver owns its trainers and settings;
//! the callers own what they show or print.

pub mod dpo;
pub mod evaluate;
pub mod passes;
pub mod ppo;
pub mod pretrain;
pub mod reward;
pub mod sft;
