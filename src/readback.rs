//! Reading tensors back from the device. Always async: a browser cannot block on
//! the GPU (a synchronous read panics in wasm), and each read is also where the
//! page gets to breathe during training ([`crate::breathe`]).

use crate::TrainError;
use burn::prelude::*;
use std::cell::Cell;

thread_local! {
    /// Per thread, like [`crate::kernels::dispatches`]: an engine reads back from
    /// its own thread, so tests side by side each count their own.
    static READBACKS: Cell<u64> = const { Cell::new(0) };
}

/// How many tensors this thread has read back from the device — what the "look
/// inside" view counts per step (each one is a wait for the GPU).
pub fn readbacks() -> u64 {
    READBACKS.with(Cell::get)
}

fn counted<T, E: std::fmt::Debug>(data: Result<T, E>) -> Result<T, TrainError> {
    READBACKS.with(|n| n.set(n.get() + 1));
    data.map_err(|e| TrainError::Backend(format!("{e:?}")))
}

/// Any tensor as a flat row-major `Vec<f32>`.
pub async fn read_vec<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>, TrainError> {
    let data = counted(t.into_data_async().await)?;
    crate::breathe::breathe().await;
    data.try_to_vec::<f32>().map_err(|e| TrainError::Backend(format!("{e:?}")))
}

/// A one-element tensor (a loss) as a number.
pub async fn read_scalar(t: Tensor<1>) -> Result<f32, TrainError> {
    read_vec(t).await?.first().copied().ok_or_else(|| TrainError::Backend("read an empty tensor".into()))
}

/// An int tensor (token ids) as a flat row-major `Vec<u32>`.
pub async fn read_ints<const D: usize>(t: Tensor<D, Int>) -> Result<Vec<u32>, TrainError> {
    let data = counted(t.into_data_async().await)?;
    crate::breathe::breathe().await;
    Ok(data.iter::<i64>().map(|x| x as u32).collect())
}
