//! Our CPU kernels: the training step's row-wise operations — causal softmax,
//! LayerNorm and the log-probability of the target token — each one pass per row
//! forward and one backward, and the exact GELU, on burn's `flex` backend
//! (natively, and in a browser without WebGPU).
//!
//! Why ours: burn's autodiff builds softmax, log-softmax and LayerNorm from 5–8
//! elementwise ops, and their backward steps from as many again — each a full pass
//! over memory into a fresh buffer (PyTorch runs each as one kernel). The causal
//! mask costs one more: an add of −1e9 above the diagonal and then an `exp` of it,
//! for half of every (B, nh, T, T) score tensor. Here the masked scores are never
//! read and their probabilities are written as 0. And every `exp` / `erf` in flex
//! is a call to libm's scalar function, one value at a time; ours ([`exp`],
//! [`erf`]) are branch-free polynomials, run 8 lanes at a time (SSE natively,
//! wasm SIMD in the page), as are the row sums and maxima.
//!
//! Each is checked against the burn ops it replaces, values and gradients
//! (`tests/cpu_kernels.rs`), and the math is the textbook one:
//! - softmax y = e^(x−max) / Σ e^(x−max), backward dx = y ⊙ (g − Σ g ⊙ y);
//! - LayerNorm x̂ = (x − μ)·r with r = 1/√(σ² + ε), y = γ ⊙ x̂ + β, backward
//!   dx = r·(ĝ − mean(ĝ) − x̂·mean(ĝ ⊙ x̂)) with ĝ = g ⊙ γ, dγ = Σ g ⊙ x̂, dβ = Σ g;
//! - log p(t) = x_t − log Σ e^x, backward dx = g·(onehot(t) − softmax(x)), with the
//!   softmax kept from the forward pass;
//! - GELU(x) = x·Φ(x) with Φ(x) = ½(1 + erf(x/√2)), backward dx = g·(Φ(x) + x·φ(x)),
//!   φ(x) = e^(−x²/2)/√(2π).
//!
//! The slice functions are the kernels; the [`CpuKernels`] extension routes burn
//! tensors to them (`Autodiff<Flex>` records the backward step, plain `Flex` runs
//! only the forward).

use burn::backend::autodiff::checkpoint::{base::Checkpointer, strategy::CheckpointStrategy};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, unary};
use burn::backend::flex::FlexTensor;
use burn::backend::{
    Autodiff, Backend, Flex, TensorMetadata, backend_extension,
    tensor::{FloatTensor, IntTensor},
};
use burn::tensor::{DType, Shape, TensorData};
use wide::bytemuck::cast;
use wide::{f32x8, u32x8};

#[backend_extension(Flex, Autodiff)]
pub trait CpuKernels: Backend {
    /// scores (…, Tq, Tk) → softmax over the last axis, where query row i sees
    /// keys j ≤ i + (Tk − Tq) and the rest get probability 0.
    fn causal_softmax(scores: FloatTensor<Self>) -> FloatTensor<Self>;

    /// x (…, C), γ (C), β (C) → LayerNorm over the last axis.
    fn layer_norm(x: FloatTensor<Self>, gamma: FloatTensor<Self>, beta: FloatTensor<Self>, epsilon: f32) -> FloatTensor<Self>;

    /// logits (N, V), targets (N) → log softmax(logits)[target] (N).
    fn token_log_probs(logits: FloatTensor<Self>, targets: IntTensor<Self>) -> FloatTensor<Self>;

    /// The exact (erf) GELU, elementwise.
    fn gelu(x: FloatTensor<Self>) -> FloatTensor<Self>;
}

// ---------------------------------------------------------------------------
// exp and erf as polynomials: no branches, no calls, so loops over them vectorise.
// ---------------------------------------------------------------------------

/// e^x to about 1 ulp for x in [−87, 88] (clamped outside: e^−87 ≈ 1.6e−38 stands
/// in for 0, which no sum or product here can tell apart).
/// e^x = 2^n · e^r with n = round(x / ln 2) and |r| ≤ ln 2 / 2, where e^r's Taylor
/// series to r⁷ is within 4e−9 relative.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    let k = x * LOG2_E + ROUND;
    let n = k - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.0 + r * (1.0 + r * (E[2] + r * (E[3] + r * (E[4] + r * (E[5] + r * (E[6] + r * E[7]))))));
    // k's low bits hold n (k = 1.5·2²³ + n exactly), so 2^n's exponent field comes
    // from integer adds on them — not from `n as i32`, whose saturating
    // float-to-int conversion has no SIMD form and kept the loop scalar.
    let n_bits = k.to_bits().wrapping_sub(ROUND.to_bits());
    p * f32::from_bits(n_bits.wrapping_add(127) << 23)
}

const LOG2_E: f32 = std::f32::consts::LOG2_E;
// ln 2 in two parts (the first exact in 9 bits), so r = x − n·ln 2 loses nothing.
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
// Adding and subtracting 1.5·2²³ rounds to the nearest integer (SSE2 has no round).
const ROUND: f32 = 12_582_912.0;
/// 1/k! for e^r's Taylor series.
const E: [f32; 8] = [1.0, 1.0, 1.0 / 2.0, 1.0 / 6.0, 1.0 / 24.0, 1.0 / 120.0, 1.0 / 720.0, 1.0 / 5040.0];

/// erf(x) to within 6e−7 absolute (Abramowitz & Stegun 7.1.26, 1964: 1.5e−7, plus
/// f32 rounding where the 1 − … below cancels near 0 — enough for GELU, which
/// needs 1 + erf): erf(|x|) = 1 − t·(a₁ + t·(a₂ + …))·e^(−x²), t = 1 / (1 + p·|x|); odd.
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    let (ax, e) = (x.abs(), exp(-x * x));
    erf_abs(ax, e).copysign(x)
}

/// erf(|x|) from |x| and e^(−x²), which GELU's two steps share with φ.
#[inline(always)]
fn erf_abs(ax: f32, exp_minus_x2: f32) -> f32 {
    let t = 1.0 / (1.0 + ERF_P * ax);
    1.0 - t * (ERF_A[0] + t * (ERF_A[1] + t * (ERF_A[2] + t * (ERF_A[3] + t * ERF_A[4])))) * exp_minus_x2
}

const ERF_P: f32 = 0.327_591_1;
const ERF_A: [f32; 5] = [0.254_829_6, -0.284_496_74, 1.421_413_7, -1.453_152_1, 1.061_405_4];
const FRAC_1_SQRT_2PI: f32 = 0.398_942_3;

/// (Φ(x), φ(x)): the standard normal's CDF and density, from one e^(−x²/2).
#[inline(always)]
fn normal_cdf_pdf(x: f32) -> (f32, f32) {
    let e = exp(-0.5 * x * x);
    let erf = erf_abs(x.abs() * std::f32::consts::FRAC_1_SQRT_2, e).copysign(x);
    (0.5 * (1.0 + erf), FRAC_1_SQRT_2PI * e)
}

// ---------------------------------------------------------------------------
// The same arithmetic on 8 lanes at a time (`wide`'s f32x8: two SSE or wasm
// SIMD registers). Written out because the page's wasm is built for size
// (opt-level "z"), where LLVM vectorises no loop, so the loops above ran one
// value at a time in the browser. Each lane does the scalar form's operations in
// the same order, so the results are the scalar ones bit for bit (tested below).
// ---------------------------------------------------------------------------

// In the page's size-optimised wasm only one-instruction functions are inlined:
// so constants are `const` vectors, loads and stores are single unaligned vector
// accesses, and the loops below count instead of zipping iterators — otherwise a
// call per splat, per `expect` and per `Zip::next` cost more than the SIMD saved.
const fn splat(v: f32) -> f32x8 {
    f32x8::splat(v)
}
const ONE: f32x8 = splat(1.0);
const EXP_MIN: f32x8 = splat(-87.0);
const EXP_MAX: f32x8 = splat(88.0);
const LOG2_E8: f32x8 = splat(LOG2_E);
const ROUND8: f32x8 = splat(ROUND);
const ROUND_BITS8: u32x8 = u32x8::splat(ROUND.to_bits());
const BIAS8: u32x8 = u32x8::splat(127);
const LN2_HI8: f32x8 = splat(LN2_HI);
const LN2_LO8: f32x8 = splat(LN2_LO);
const E8: [f32x8; 8] = [ONE, ONE, splat(E[2]), splat(E[3]), splat(E[4]), splat(E[5]), splat(E[6]), splat(E[7])];
const ERF_P8: f32x8 = splat(ERF_P);
const ERF_A8: [f32x8; 5] = [splat(ERF_A[0]), splat(ERF_A[1]), splat(ERF_A[2]), splat(ERF_A[3]), splat(ERF_A[4])];
const HALF: f32x8 = splat(0.5);
const MINUS_HALF: f32x8 = splat(-0.5);
const FRAC_1_SQRT_2_8: f32x8 = splat(std::f32::consts::FRAC_1_SQRT_2);
const FRAC_1_SQRT_2PI8: f32x8 = splat(FRAC_1_SQRT_2PI);
const SIGN: f32x8 = splat(-0.0);

/// x[8i..8i + 8] as one vector.
#[inline(always)]
fn load(x: &[f32], i: usize) -> f32x8 {
    assert!(8 * i + 8 <= x.len());
    // SAFETY: the 8 floats are in bounds (checked above); f32x8 is 8 plain f32s
    // and read_unaligned asks for no alignment.
    unsafe { x.as_ptr().add(8 * i).cast::<f32x8>().read_unaligned() }
}

/// x[8i..8i + 8] = v.
#[inline(always)]
fn store(x: &mut [f32], i: usize, v: f32x8) {
    assert!(8 * i + 8 <= x.len());
    // SAFETY: as in `load`.
    unsafe { x.as_mut_ptr().add(8 * i).cast::<f32x8>().write_unaligned(v) }
}

/// [`exp`] on 8 lanes.
#[inline(always)]
fn exp8(x: f32x8) -> f32x8 {
    let x = x.clamp(EXP_MIN, EXP_MAX);
    let k = x * LOG2_E8 + ROUND8;
    let n = k - ROUND8;
    let r = x - n * LN2_HI8 - n * LN2_LO8;
    let p = ONE + r * (ONE + r * (E8[2] + r * (E8[3] + r * (E8[4] + r * (E8[5] + r * (E8[6] + r * E8[7]))))));
    let n_bits = cast::<f32x8, u32x8>(k) - ROUND_BITS8;
    p * cast::<u32x8, f32x8>((n_bits + BIAS8) << 23)
}

/// [`normal_cdf_pdf`] on 8 lanes.
#[inline(always)]
fn normal_cdf_pdf8(x: f32x8) -> (f32x8, f32x8) {
    let e = exp8(MINUS_HALF * x * x);
    let t = ONE / (ONE + ERF_P8 * (x.abs() * FRAC_1_SQRT_2_8));
    let erf_abs = ONE - t * (ERF_A8[0] + t * (ERF_A8[1] + t * (ERF_A8[2] + t * (ERF_A8[3] + t * ERF_A8[4])))) * e;
    // copysign: |erf| with x's sign bit.
    let erf = erf_abs.abs() | (x & SIGN);
    (HALF * (ONE + erf), FRAC_1_SQRT_2PI8 * e)
}

/// out = f(x), 8 lanes at a time (`f8`), the last few through `f1`.
#[inline(always)]
fn map(out: &mut [f32], x: &[f32], f8: impl Fn(f32x8) -> f32x8, f1: impl Fn(f32) -> f32) {
    let n = out.len().min(x.len());
    for i in 0..n / 8 {
        store(out, i, f8(load(x, i)));
    }
    for j in n / 8 * 8..n {
        out[j] = f1(x[j]);
    }
}

/// out = f(x, y), as [`map`].
#[inline(always)]
fn map2(out: &mut [f32], x: &[f32], y: &[f32], f8: impl Fn(f32x8, f32x8) -> f32x8, f1: impl Fn(f32, f32) -> f32) {
    let n = out.len().min(x.len()).min(y.len());
    for i in 0..n / 8 {
        store(out, i, f8(load(x, i), load(y, i)));
    }
    for j in n / 8 * 8..n {
        out[j] = f1(x[j], y[j]);
    }
}

/// x *= s, as [`map`].
#[inline(always)]
fn scale(x: &mut [f32], s: f32) {
    let s8 = f32x8::splat(s);
    for i in 0..x.len() / 8 {
        store(x, i, load(x, i) * s8);
    }
    for j in x.len() / 8 * 8..x.len() {
        x[j] *= s;
    }
}

/// GELU(x) = x·Φ(x), elementwise.
pub fn gelu_forward(x: &[f32]) -> Vec<f32> {
    let mut y = vec![0.0; x.len()];
    map(&mut y, x, |v| v * normal_cdf_pdf8(v).0, |v| v * normal_cdf_pdf(v).0);
    y
}

/// dx = g·(Φ(x) + x·φ(x)).
pub fn gelu_backward(x: &[f32], g: &[f32]) -> Vec<f32> {
    let mut dx = vec![0.0; x.len()];
    map2(
        &mut dx,
        x,
        g,
        |v, g| {
            let (cdf, pdf) = normal_cdf_pdf8(v);
            g * (cdf + v * pdf)
        },
        |v, g| {
            let (cdf, pdf) = normal_cdf_pdf(v);
            g * (cdf + v * pdf)
        },
    );
    dx
}

/// The sum of the 8 lanes in lane order, then the rest.
#[inline(always)]
fn lanes_sum(acc: f32x8, tail: f32) -> f32 {
    let a = acc.to_array();
    a[0] + a[1] + a[2] + a[3] + a[4] + a[5] + a[6] + a[7] + tail
}

/// Σ x in 8 running sums (strict float order would keep one, and one lane busy).
#[inline(always)]
fn sum(x: &[f32]) -> f32 {
    let mut acc = f32x8::ZERO;
    for i in 0..x.len() / 8 {
        acc += load(x, i);
    }
    let tail: f32 = x[x.len() / 8 * 8..].iter().sum();
    lanes_sum(acc, tail)
}

/// Σ a ⊙ b, as [`sum`].
#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let mut acc = f32x8::ZERO;
    for i in 0..n / 8 {
        acc += load(a, i) * load(b, i);
    }
    let tail: f32 = (n / 8 * 8..n).map(|j| a[j] * b[j]).sum();
    lanes_sum(acc, tail)
}

/// max x (−∞ for none), in 8 lanes.
#[inline(always)]
fn max(x: &[f32]) -> f32 {
    let mut acc = f32x8::NEG_INFINITY;
    for i in 0..x.len() / 8 {
        let v = load(x, i);
        acc = v.simd_gt(acc).select(v, acc);
    }
    let tail = x[x.len() / 8 * 8..].iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    acc.to_array().iter().fold(tail, |m, &v| m.max(v))
}

// ---------------------------------------------------------------------------
// The kernels, on row-major slices.
// ---------------------------------------------------------------------------

/// How many keys query row `i` (of `tq`) sees among `tk`.
fn visible(i: usize, tq: usize, tk: usize) -> usize {
    (i + 1 + (tk - tq)).min(tk)
}

/// Causal softmax of `x` (rows of `tk`, in matrices of `tq` rows) into `y`.
pub fn causal_softmax_forward(x: &[f32], tq: usize, tk: usize) -> Vec<f32> {
    let mut y = vec![0.0; x.len()];
    for_rows(&mut y, tk, &mut [], |r, out, _: &mut ()| {
        let n = visible(r % tq, tq, tk);
        let row = &x[r * tk..r * tk + n];
        let m = max(row);
        let m8 = f32x8::splat(m);
        map(&mut out[..n], row, |v| exp8(v - m8), |v| exp(v - m));
        let inv = 1.0 / sum(&out[..n]);
        scale(&mut out[..n], inv);
    });
    y
}

/// dx = y ⊙ (g − Σ g ⊙ y) over each row's visible keys (0 elsewhere, where y is 0).
pub fn causal_softmax_backward(y: &[f32], g: &[f32], tq: usize, tk: usize) -> Vec<f32> {
    let mut dx = vec![0.0; y.len()];
    for_rows(&mut dx, tk, &mut [], |r, out, _: &mut ()| {
        let n = visible(r % tq, tq, tk);
        let (yr, gr) = (&y[r * tk..r * tk + n], &g[r * tk..r * tk + n]);
        let yg = dot(yr, gr);
        for ((o, &yv), &gv) in out[..n].iter_mut().zip(yr).zip(gr) {
            *o = yv * (gv - yg);
        }
    });
    dx
}

/// LayerNorm of every row of `x` (width C = γ's length): (y, x̂, r) with
/// r = 1/√(σ² + ε) per row, x̂ and r kept for the backward step.
pub fn layer_norm_forward(x: &[f32], gamma: &[f32], beta: &[f32], epsilon: f32) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let c = gamma.len();
    let rows = x.len() / c;
    let mut x_hat = vec![0.0; x.len()];
    let mut rstd = vec![0.0; rows];
    for_rows(&mut x_hat, c, &mut rstd, |r, out, rs| {
        let row = &x[r * c..(r + 1) * c];
        let mean = sum(row) / c as f32;
        let mean8 = f32x8::splat(mean);
        map(out, row, |v| v - mean8, |v| v - mean);
        *rs = 1.0 / (dot(out, out) / c as f32 + epsilon).sqrt();
        scale(out, *rs);
    });
    let mut y = vec![0.0; x.len()];
    for_rows(&mut y, c, &mut [], |r, out, _: &mut ()| {
        for (((o, &h), &g), &b) in out.iter_mut().zip(&x_hat[r * c..(r + 1) * c]).zip(gamma).zip(beta) {
            *o = h * g + b;
        }
    });
    (y, x_hat, rstd)
}

/// LayerNorm's backward step from the upstream gradient `g`: (dx, dγ, dβ).
pub fn layer_norm_backward(g: &[f32], x_hat: &[f32], rstd: &[f32], gamma: &[f32]) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let c = gamma.len();
    let mut dx = vec![0.0; g.len()];
    for_rows(&mut dx, c, &mut [], |r, out, _: &mut ()| {
        let (gr, hr) = (&g[r * c..(r + 1) * c], &x_hat[r * c..(r + 1) * c]);
        // ĝ = g ⊙ γ (into `out`), then its mean and its mean against x̂.
        for ((o, &gv), &w) in out.iter_mut().zip(gr).zip(gamma) {
            *o = gv * w;
        }
        let (mean_g, mean_gh) = (sum(out) / c as f32, dot(out, hr) / c as f32);
        for (o, &hv) in out.iter_mut().zip(hr) {
            *o = rstd[r] * (*o - mean_g - hv * mean_gh);
        }
    });
    // Summed over rows in order, one row at a time: the same numbers on any thread count.
    let (mut d_gamma, mut d_beta) = (vec![0.0; c], vec![0.0; c]);
    for (gr, hr) in g.chunks(c).zip(x_hat.chunks(c)) {
        for (((dg, db), &gv), &hv) in d_gamma.iter_mut().zip(d_beta.iter_mut()).zip(gr).zip(hr) {
            *dg += gv * hv;
            *db += gv;
        }
    }
    (dx, d_gamma, d_beta)
}

/// log softmax(row)[target] of every row of `logits` (N × V): (log-probs, the
/// probabilities softmax(row)), the second kept for the backward step, which then
/// needs no `exp` of its own.
pub fn token_log_probs_forward(logits: &[f32], v: usize, targets: &[usize]) -> (Vec<f32>, Vec<f32>) {
    let mut lse = vec![0.0; targets.len()];
    let mut probs = vec![0.0; logits.len()];
    for_rows(&mut probs, v, &mut lse, |r, p, lse| {
        let row = &logits[r * v..(r + 1) * v];
        let m = max(row);
        let m8 = f32x8::splat(m);
        map(p, row, |x| exp8(x - m8), |x| exp(x - m));
        let total = sum(p);
        *lse = m + total.ln();
        scale(p, 1.0 / total);
    });
    let lp = targets.iter().enumerate().map(|(r, &t)| logits[r * v + t] - lse[r]).collect();
    (lp, probs)
}

/// dx = g·(onehot(target) − softmax(x)) per row.
pub fn token_log_probs_backward(probs: &[f32], v: usize, targets: &[usize], g: &[f32]) -> Vec<f32> {
    let mut dx = vec![0.0; probs.len()];
    for_rows(&mut dx, v, &mut [], |r, out, _: &mut ()| {
        let gr = g[r];
        for (o, &p) in out.iter_mut().zip(&probs[r * v..(r + 1) * v]) {
            *o = -gr * p;
        }
        out[targets[r]] += gr;
    });
    dx
}

/// Runs `f(row, out_row, stat)` over the rows (width `width`) of `out`, with one
/// `stat` per row when `stats` is not empty. With `fast-cpu` big tensors are split
/// across rayon's threads (each row is independent, so the numbers do not depend
/// on the split); otherwise, and in the browser, one row after another.
fn for_rows<S: Send + Default>(out: &mut [f32], width: usize, stats: &mut [S], f: impl Fn(usize, &mut [f32], &mut S) + Sync + Send) {
    if width == 0 {
        return;
    }
    let rows = out.len() / width;
    let mut none: Vec<S> = Vec::new();
    let stats = if stats.is_empty() {
        none.resize_with(rows, S::default);
        &mut none[..]
    } else {
        stats
    };
    #[cfg(feature = "fast-cpu")]
    if out.len() >= 1 << 16 {
        use rayon::prelude::*;
        out.par_chunks_mut(width).zip(stats.par_iter_mut()).enumerate().for_each(|(r, (o, s))| f(r, o, s));
        return;
    }
    out.chunks_mut(width).zip(stats.iter_mut()).enumerate().for_each(|(r, (o, s))| f(r, o, s));
}

// ---------------------------------------------------------------------------
// burn tensors → the kernels.
// ---------------------------------------------------------------------------

fn f32s(t: &FlexTensor) -> std::borrow::Cow<'_, [f32]> {
    assert_eq!(t.dtype(), DType::F32, "our CPU kernels take f32 tensors");
    match t.as_slice::<f32>() {
        Some(s) if s.len() == t.shape().num_elements() => std::borrow::Cow::Borrowed(s),
        _ => std::borrow::Cow::Owned(t.to_contiguous().as_slice::<f32>().expect("contiguous").to_vec()),
    }
}

fn indices(t: &FlexTensor, v: usize) -> Vec<usize> {
    let t = t.to_contiguous();
    let ids: Vec<i64> = match t.dtype() {
        DType::I64 => t.as_slice::<i64>().expect("contiguous").to_vec(),
        DType::I32 => t.as_slice::<i32>().expect("contiguous").iter().map(|&i| i as i64).collect(),
        dtype => panic!("token_log_probs: targets of {dtype:?}, expected i32 or i64"),
    };
    ids.into_iter()
        .map(|i| {
            assert!((0..v as i64).contains(&i), "token_log_probs: target {i} outside the vocabulary of {v}");
            i as usize
        })
        .collect()
}

fn tensor(values: Vec<f32>, shape: Shape) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

/// (Tq, Tk) of a (…, Tq, Tk) score tensor.
fn score_dims(shape: &Shape) -> (usize, usize) {
    let d = shape.num_dims();
    assert!(d >= 2, "causal_softmax takes (…, Tq, Tk) scores");
    let (tq, tk) = (shape[d - 2], shape[d - 1]);
    assert!(tq <= tk, "causal_softmax: {tq} queries over {tk} keys");
    (tq, tk)
}

fn flex_causal_softmax(scores: &FlexTensor) -> FlexTensor {
    let shape = scores.shape();
    let (tq, tk) = score_dims(&shape);
    tensor(causal_softmax_forward(&f32s(scores), tq, tk), shape)
}

/// (y, x̂, r) of [`layer_norm_forward`] as tensors.
fn flex_layer_norm(x: &FlexTensor, gamma: &FlexTensor, beta: &FlexTensor, epsilon: f32) -> (FlexTensor, FlexTensor, Vec<f32>) {
    let shape = x.shape();
    let c = shape[shape.num_dims() - 1];
    assert_eq!(gamma.shape().num_elements(), c, "layer_norm: γ has {} values for rows of {c}", gamma.shape().num_elements());
    let (y, x_hat, rstd) = layer_norm_forward(&f32s(x), &f32s(gamma), &f32s(beta), epsilon);
    (tensor(y, shape.clone()), tensor(x_hat, shape), rstd)
}

/// (log-probs, targets, probabilities) of [`token_log_probs_forward`].
fn flex_token_log_probs(logits: &FlexTensor, targets: &FlexTensor) -> (FlexTensor, Vec<usize>, Vec<f32>) {
    let shape = logits.shape();
    assert_eq!(shape.num_dims(), 2, "token_log_probs takes (N, V) logits");
    let (n, v) = (shape[0], shape[1]);
    let targets = indices(targets, v);
    assert_eq!(targets.len(), n, "token_log_probs: {} targets for {n} rows", targets.len());
    let (lp, probs) = token_log_probs_forward(&f32s(logits), v, &targets);
    (tensor(lp, Shape::from([n])), targets, probs)
}

impl CpuKernels for Flex {
    fn causal_softmax(scores: FloatTensor<Self>) -> FloatTensor<Self> {
        flex_causal_softmax(&scores)
    }

    fn layer_norm(x: FloatTensor<Self>, gamma: FloatTensor<Self>, beta: FloatTensor<Self>, epsilon: f32) -> FloatTensor<Self> {
        flex_layer_norm(&x, &gamma, &beta, epsilon).0
    }

    fn token_log_probs(logits: FloatTensor<Self>, targets: IntTensor<Self>) -> FloatTensor<Self> {
        flex_token_log_probs(&logits, &targets).0
    }

    fn gelu(x: FloatTensor<Self>) -> FloatTensor<Self> {
        tensor(gelu_forward(&f32s(&x)), x.shape())
    }
}

/// The softmax's probabilities, for its backward step.
#[derive(Debug)]
struct CausalSoftmaxBackward;

impl Backward<Flex, 1> for CausalSoftmaxBackward {
    type State = FlexTensor;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let Ops { parents, node, state: y } = ops;
        unary::<Flex, _>(parents, node, grads, |g| {
            let shape = y.shape();
            let (tq, tk) = score_dims(&shape);
            tensor(causal_softmax_backward(&f32s(&y), &f32s(&g), tq, tk), shape)
        });
    }
}

#[derive(Debug)]
struct LayerNormBackward;

impl Backward<Flex, 3> for LayerNormBackward {
    /// (x̂, r per row, γ).
    type State = (FlexTensor, Vec<f32>, FlexTensor);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let Ops { parents: [x, gamma, beta], node, state: (x_hat, rstd, g_weight) } = ops;
        let g = grads.consume::<Flex>(&node);
        let (dx, d_gamma, d_beta) = layer_norm_backward(&f32s(&g), &f32s(&x_hat), &rstd, &f32s(&g_weight));
        let c = d_gamma.len();
        if let Some(x) = x {
            grads.register::<Flex>(x.id, tensor(dx, x_hat.shape()));
        }
        if let Some(gamma) = gamma {
            grads.register::<Flex>(gamma.id, tensor(d_gamma, Shape::from([c])));
        }
        if let Some(beta) = beta {
            grads.register::<Flex>(beta.id, tensor(d_beta, Shape::from([c])));
        }
    }
}

#[derive(Debug)]
struct TokenLogProbsBackward;

impl Backward<Flex, 1> for TokenLogProbsBackward {
    /// (the logits' shape, targets, softmax(logits)).
    type State = (Shape, Vec<usize>, Vec<f32>);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let Ops { parents, node, state: (shape, targets, probs) } = ops;
        unary::<Flex, _>(parents, node, grads, |g| tensor(token_log_probs_backward(&probs, shape[1], &targets, &f32s(&g)), shape));
    }
}

#[derive(Debug)]
struct GeluBackward;

impl Backward<Flex, 1> for GeluBackward {
    /// The input.
    type State = FlexTensor;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let Ops { parents, node, state: x } = ops;
        unary::<Flex, _>(parents, node, grads, |g| tensor(gelu_backward(&f32s(&x), &f32s(&g)), x.shape()));
    }
}

impl<C: CheckpointStrategy> CpuKernels for Autodiff<Flex, C> {
    fn causal_softmax(scores: FloatTensor<Self>) -> FloatTensor<Self> {
        let (x, node) = scores.into_parts();
        // Compute bound: the probabilities are kept, not recomputed, for the backward step.
        match CausalSoftmaxBackward.prepare::<C>([node]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let y = flex_causal_softmax(&x);
                prep.finish(y.clone(), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(flex_causal_softmax(&x)),
        }
    }

    fn layer_norm(x: FloatTensor<Self>, gamma: FloatTensor<Self>, beta: FloatTensor<Self>, epsilon: f32) -> FloatTensor<Self> {
        let (x, x_node) = x.into_parts();
        let (gamma, gamma_node) = gamma.into_parts();
        let (beta, beta_node) = beta.into_parts();
        let (y, x_hat, rstd) = flex_layer_norm(&x, &gamma, &beta, epsilon);
        match LayerNormBackward.prepare::<C>([x_node, gamma_node, beta_node]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => prep.finish((x_hat, rstd, gamma), y),
            OpsKind::UnTracked(prep) => prep.finish(y),
        }
    }

    fn token_log_probs(logits: FloatTensor<Self>, targets: IntTensor<Self>) -> FloatTensor<Self> {
        let (logits, node) = logits.into_parts();
        let (lp, targets, probs) = flex_token_log_probs(&logits, &targets);
        match TokenLogProbsBackward.prepare::<C>([node]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => prep.finish((logits.shape(), targets, probs), lp),
            OpsKind::UnTracked(prep) => prep.finish(lp),
        }
    }

    fn gelu(x: FloatTensor<Self>) -> FloatTensor<Self> {
        let (x, node) = x.into_parts();
        let y = tensor(gelu_forward(&f32s(&x)), x.shape());
        match GeluBackward.prepare::<C>([node]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => prep.finish(x, y),
            OpsKind::UnTracked(prep) => prep.finish(y),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values across GELU's and exp's whole working range, both clamps, ±0 and a
    /// length that leaves a tail of 5 for the scalar form.
    fn inputs() -> Vec<f32> {
        let mut x: Vec<f32> = (0..4_000).map(|i| (i as f32 - 2_000.0) * 0.013).collect();
        x.extend([0.0, -0.0, 1e-30, -1e-30, 90.0, -90.0, 88.0, -87.0, 1e6, -1e6, f32::MIN_POSITIVE]);
        x.extend((0..2_000).map(|i| ((i * 7_919) % 1_000) as f32 * 0.2 - 100.0));
        x.truncate(8 * 750 + 5);
        x
    }

    #[test]
    fn eight_lanes_are_the_scalar_forms_bit_for_bit() {
        let x = inputs();
        let g: Vec<f32> = x.iter().map(|v| 0.5 - v * 0.37).collect();
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        let scalar: Vec<f32> = x.iter().map(|&v| v * normal_cdf_pdf(v).0).collect();
        assert_eq!(bits(&gelu_forward(&x)), bits(&scalar));
        let scalar: Vec<f32> = x
            .iter()
            .zip(&g)
            .map(|(&v, &g)| {
                let (cdf, pdf) = normal_cdf_pdf(v);
                g * (cdf + v * pdf)
            })
            .collect();
        assert_eq!(bits(&gelu_backward(&x, &g)), bits(&scalar));
        let mut e = vec![0.0; x.len()];
        map(&mut e, &x, exp8, exp);
        assert_eq!(bits(&e), bits(&x.iter().map(|&v| exp(v)).collect::<Vec<_>>()));
        // The 8 running sums, added up in lane order as before.
        let mut acc = [0.0f32; 8];
        x.chunks_exact(8).for_each(|c| acc.iter_mut().zip(c).for_each(|(a, v)| *a += v));
        let tail: f32 = x.chunks_exact(8).remainder().iter().sum();
        assert_eq!(sum(&x).to_bits(), (acc.iter().sum::<f32>() + tail).to_bits());
        assert_eq!(max(&x), x.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v)));
        assert!(gelu_forward(&[f32::NAN; 9]).iter().all(|v| v.is_nan()), "NaN stays NaN");
    }
}
