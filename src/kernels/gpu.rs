//! Our WGSL kernels as a burn backend extension: `#[backend_extension]` routes a
//! call on a wgpu tensor to the `CubeBackend` implementation below (through burn's
//! fusion stream in the browser, so the kernel runs in order with the graph around
//! it), which launches the hand-written source on burn's own wgpu device — no copy,
//! no readback: the inputs are burn's buffers and the output is a burn tensor.

use super::{KERNELS, count};
use burn::backend::wgpu::{CubeBackend, CubeTensor, KernelSource, SourceKernel, SourceTemplate, into_contiguous};
use burn::backend::{
    Backend, backend_extension,
    tensor::{FloatTensor, IntTensor},
};
use burn::cubecl::prelude::KernelId;
use burn::cubecl::server::KernelArguments;
use burn::cubecl::{CubeCount, CubeDim};
use burn::tensor::{DType, Shape};

/// Workgroup size of every kernel (sample, token_stats: one workgroup per row;
/// attention: one thread per row); also in the shaders.
const WORKGROUP: u32 = 64;

#[backend_extension(Cube, Fusion: cfg(target_arch = "wasm32"))]
pub trait RlhfKernels: Backend {
    /// logits (rows, V) f32 and one seed per equal group of rows (groups) i32 →
    /// the sampled token of each row (rows) i32.
    #[fusion(dtype = DType::I32, shape = Shape::from([logits[0]]))]
    fn sample_tokens(logits: FloatTensor<Self>, seeds: IntTensor<Self>, counter: u32, temperature: f32, top_k: u32) -> IntTensor<Self>;

    /// policy and reference logits (N, V), targets (N) i32 → (N, 3):
    /// log π(y), log π_ref(y), H(π).
    #[fusion(dtype = policy, shape = Shape::from([policy[0], 3]))]
    fn token_stats(policy: FloatTensor<Self>, reference: FloatTensor<Self>, targets: IntTensor<Self>) -> FloatTensor<Self>;

    /// The fused projection qkv (B, T, 3C) f32 → the heads' outputs side by side
    /// (B, T, C) and the attention probabilities (B, nh, T, T).
    #[fusion(meta = attention_meta)]
    fn causal_attention(qkv: FloatTensor<Self>, n_head: u32) -> (FloatTensor<Self>, FloatTensor<Self>);
}

/// Output shapes of `causal_attention`, for burn's fusion stream (the browser).
#[cfg(target_arch = "wasm32")]
fn attention_meta(
    qkv: &burn::backend::fusion::custom::TensorSpec,
    n_head: &u32,
) -> (burn::backend::fusion::custom::TensorSpec, burn::backend::fusion::custom::TensorSpec) {
    use burn::backend::fusion::custom::TensorSpec;
    let (b, t, c3) = (qkv.shape[0], qkv.shape[1], qkv.shape[2]);
    (TensorSpec::new(Shape::from([b, t, c3 / 3]), qkv.dtype), TensorSpec::new(Shape::from([b, *n_head as usize, t, t]), qkv.dtype))
}

macro_rules! wgsl_kernel {
    ($name:ident, $index:expr) => {
        struct $name;
        impl KernelSource for $name {
            fn source(&self) -> SourceTemplate {
                SourceTemplate::new(KERNELS[$index].source)
            }
            fn id(&self) -> KernelId {
                KernelId::new::<Self>()
            }
            fn lang(&self) -> &'static str {
                "wgsl"
            }
        }
    };
}
wgsl_kernel!(SampleWgsl, 0);
wgsl_kernel!(TokenStatsWgsl, 1);
wgsl_kernel!(AttentionWgsl, 2);

/// A small storage buffer of u32 parameters (the shaders read them as `array<u32>`).
fn params(t: &CubeTensor, values: &[u32]) -> burn::cubecl::server::Handle {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    t.client.create_from_slice(&bytes)
}

fn dims2(t: &CubeTensor) -> (usize, usize) {
    let s = t.meta.shape();
    assert_eq!(s.num_dims(), 2, "our kernels take (rows, V) logits");
    (s[0], s[1])
}

impl RlhfKernels for CubeBackend {
    fn sample_tokens(logits: FloatTensor<Self>, seeds: IntTensor<Self>, counter: u32, temperature: f32, top_k: u32) -> IntTensor<Self> {
        assert_eq!(logits.dtype, DType::F32, "sample.wgsl reads f32 logits");
        assert_eq!(seeds.dtype, DType::I32, "sample.wgsl reads i32 seeds");
        let (logits, seeds) = (into_contiguous(logits), into_contiguous(seeds));
        let (rows, vocab) = dims2(&logits);
        let groups = seeds.meta.shape()[0];
        assert!(groups > 0 && rows.is_multiple_of(groups), "{rows} rows do not split into {groups} equal groups");
        let client = logits.client.clone();
        let out = client.empty(rows.max(1) * 4);
        let p = params(&logits, &[rows as u32, vocab as u32, top_k, groups as u32, counter, temperature.to_bits()]);
        let args = KernelArguments::new()
            .with_buffer(logits.handle.clone().binding())
            .with_buffer(out.clone().binding())
            .with_buffer(p.binding())
            .with_buffer(seeds.handle.clone().binding());
        client.launch(Box::new(SourceKernel::new(SampleWgsl, CubeDim::new_1d(WORKGROUP))), CubeCount::Static(rows as u32, 1, 1), args);
        count(0);
        CubeTensor::new_contiguous(client, logits.device.clone(), Shape::from([rows]), out, DType::I32)
    }

    fn token_stats(policy: FloatTensor<Self>, reference: FloatTensor<Self>, targets: IntTensor<Self>) -> FloatTensor<Self> {
        assert_eq!(policy.dtype, DType::F32, "token_stats.wgsl reads f32 logits");
        assert_eq!(reference.dtype, DType::F32, "token_stats.wgsl reads f32 logits");
        assert_eq!(targets.dtype, DType::I32, "token_stats.wgsl reads i32 targets");
        let (policy, reference, targets) = (into_contiguous(policy), into_contiguous(reference), into_contiguous(targets));
        let (rows, vocab) = dims2(&policy);
        assert_eq!(dims2(&reference), (rows, vocab), "policy and reference logits differ in shape");
        let client = policy.client.clone();
        let out = client.empty(rows.max(1) * 3 * 4);
        let p = params(&policy, &[rows as u32, vocab as u32]);
        let args = KernelArguments::new()
            .with_buffer(policy.handle.clone().binding())
            .with_buffer(reference.handle.clone().binding())
            .with_buffer(targets.handle.clone().binding())
            .with_buffer(out.clone().binding())
            .with_buffer(p.binding());
        client.launch(Box::new(SourceKernel::new(TokenStatsWgsl, CubeDim::new_1d(WORKGROUP))), CubeCount::Static(rows as u32, 1, 1), args);
        count(1);
        CubeTensor::new_contiguous(client, policy.device.clone(), Shape::from([rows, 3]), out, DType::F32)
    }

    fn causal_attention(qkv: FloatTensor<Self>, n_head: u32) -> (FloatTensor<Self>, FloatTensor<Self>) {
        assert_eq!(qkv.dtype, DType::F32, "attention.wgsl reads f32 q/k/v");
        let qkv = into_contiguous(qkv);
        let s = qkv.meta.shape();
        assert_eq!(s.num_dims(), 3, "attention.wgsl takes the (B, T, 3C) projection");
        let (b, t, c) = (s[0], s[1], s[2] / 3);
        let nh = n_head as usize;
        assert!(
            super::attention_fits(t, c, nh),
            "attention.wgsl handles T ≤ {} and head size ≤ {}",
            super::ATTENTION_MAX_T,
            super::ATTENTION_MAX_HEAD
        );
        let client = qkv.client.clone();
        let y = client.empty((b * t * c).max(1) * 4);
        let att = client.empty((b * nh * t * t).max(1) * 4);
        let p = params(&qkv, &[b as u32, t as u32, c as u32, n_head]);
        let args = KernelArguments::new()
            .with_buffer(qkv.handle.clone().binding())
            .with_buffer(y.clone().binding())
            .with_buffer(att.clone().binding())
            .with_buffer(p.binding());
        // One thread per query row (b, h, i).
        let groups = (b * nh * t).div_ceil(WORKGROUP as usize).max(1) as u32;
        client.launch(Box::new(SourceKernel::new(AttentionWgsl, CubeDim::new_1d(WORKGROUP))), CubeCount::Static(groups, 1, 1), args);
        count(2);
        (
            CubeTensor::new_contiguous(client.clone(), qkv.device.clone(), Shape::from([b, t, c]), y, DType::F32),
            CubeTensor::new_contiguous(client, qkv.device.clone(), Shape::from([b, nh, t, t]), att, DType::F32),
        )
    }
}
