//! Small summaries the panels draw. Hand-rolled: a histogram of a few hundred
//! rewards is ten lines, not worth a statistics crate in the wasm bundle.

use serde::Serialize;

/// One bar: values in [lo, hi) (the last bar also holds its upper edge).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Bin {
    pub lo: f32,
    pub hi: f32,
    pub count: usize,
}

/// `bins` equal-width bars spanning the finite values (non-finite ones are left
/// out); none when there is no finite value.
pub fn histogram(values: &[f32], bins: usize) -> Vec<Bin> {
    let finite: Vec<f32> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let (Some(lo), Some(hi)) = (finite.iter().copied().reduce(f32::min), finite.iter().copied().reduce(f32::max)) else { return vec![] };
    let bins = bins.max(1);
    // All equal: one unit-wide span centred on the value, so the bars have a width.
    let (lo, hi) = if hi - lo < 1e-6 { (lo - 0.5, hi + 0.5) } else { (lo, hi) };
    let width = (hi - lo) / bins as f32;
    let mut out: Vec<Bin> = (0..bins).map(|i| Bin { lo: lo + width * i as f32, hi: lo + width * (i + 1) as f32, count: 0 }).collect();
    for v in finite {
        let i = (((v - lo) / width) as usize).min(bins - 1);
        out[i].count += 1;
    }
    out
}
