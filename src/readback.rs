//! Reading tensors back from the device. Always async: a browser cannot block on
//! the GPU (a synchronous read panics in wasm), and the await is also where the
//! page gets to breathe during training.

use crate::TrainError;
use burn::prelude::*;

/// Any tensor as a flat row-major `Vec<f32>`.
pub async fn read_vec<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>, TrainError> {
    let data = t.into_data_async().await.map_err(|e| TrainError::Backend(format!("{e:?}")))?;
    data.try_to_vec::<f32>().map_err(|e| TrainError::Backend(format!("{e:?}")))
}

/// A one-element tensor (a loss) as a number.
pub async fn read_scalar(t: Tensor<1>) -> Result<f32, TrainError> {
    read_vec(t).await?.first().copied().ok_or_else(|| TrainError::Backend("read an empty tensor".into()))
}
