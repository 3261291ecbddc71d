//! 95 % intervals for means whose samples come in clusters (several answers to one
//! prompt are not independent): the cluster-robust ("CR1") variance of a mean, with
//! a Student t quantile for the number of clusters. Hand-rolled: it is a dozen
//! lines, and no kept crate offers it without pulling in a statistics stack.

use serde::Serialize;

/// A mean and its 95 % interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct Interval {
    pub mean: f32,
    pub low: f32,
    pub high: f32,
    /// Samples and clusters (independent units) behind it.
    pub n: usize,
    pub clusters: usize,
}

impl Interval {
    /// Half the interval's width.
    pub fn half_width(&self) -> f32 {
        (self.high - self.low) / 2.0
    }

    /// True when the whole interval lies above `x`.
    pub fn above(&self, x: f32) -> bool {
        self.low > x
    }

    /// The mean, or `empty` where there were no samples (whose mean is NaN).
    pub fn mean_or(&self, empty: f32) -> f32 {
        if self.n == 0 { empty } else { self.mean }
    }

    /// True when `x` lies inside the interval: the data cannot tell the mean from it.
    pub fn contains(&self, x: f32) -> bool {
        self.low <= x && x <= self.high
    }
}

/// The standard normal's 0.975 quantile.
const Z975: f64 = 1.959_964;

/// The 0.975 quantile of Student's t with `df` degrees of freedom: the table for
/// df ≤ 5, beyond it the Cornish–Fisher expansion around the normal's 1.96 (within
/// 0.003 of the table from df = 6 on).
pub fn t975(df: usize) -> f64 {
    const TABLE: [f64; 6] = [f64::INFINITY, 12.706, 4.303, 3.182, 2.776, 2.571];
    if df < TABLE.len() {
        return TABLE[df];
    }
    let (z, d) = (Z975, df as f64);
    z + (z.powi(3) + z) / (4.0 * d)
        + (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / (96.0 * d * d)
        + (3.0 * z.powi(7) + 19.0 * z.powi(5) + 17.0 * z.powi(3) - 15.0 * z) / (384.0 * d.powi(3))
}

/// Mean of all samples with a 95 % interval that treats each cluster (each inner
/// slice: the samples of one prompt) as one independent unit. Empty clusters are
/// skipped; with fewer than two clusters the interval is the whole real line
/// clamped to `bounds`; where all clusters agree, within finite bounds, Wilson's.
pub fn clustered_mean(clusters: &[Vec<f32>], bounds: (f32, f32)) -> Interval {
    let groups: Vec<&Vec<f32>> = clusters.iter().filter(|c| !c.is_empty()).collect();
    let n: usize = groups.iter().map(|c| c.len()).sum();
    let g = groups.len();
    if n == 0 {
        return Interval { mean: f32::NAN, low: bounds.0, high: bounds.1, n, clusters: g };
    }
    let mean = groups.iter().flat_map(|c| c.iter()).map(|&x| x as f64).sum::<f64>() / n as f64;
    let half = if g < 2 {
        f64::INFINITY
    } else {
        // CR1: Σ_g (Σ_{i∈g} (x_i − mean))² / N², scaled by G / (G − 1).
        let s: f64 = groups.iter().map(|c| c.iter().map(|&x| x as f64 - mean).sum::<f64>().powi(2)).sum();
        let var = s / (n as f64).powi(2) * g as f64 / (g as f64 - 1.0);
        t975(g - 1) * var.sqrt()
    };
    let clamp = |x: f64| (x as f32).clamp(bounds.0, bounds.1);
    let (a, b) = (bounds.0 as f64, bounds.1 as f64);
    if g >= 2 && a.is_finite() && b.is_finite() && half < 1e-6 * (b - a) {
        // Every prompt agreed (all ties, say): the plug-in variance is 0 and would
        // claim certainty from a few duels. A sample in [a, b] with mean m has a
        // variance of at most (m − a)(b − m) (Bhatia–Davis); with it, one unit per
        // prompt, the interval is Wilson's score interval.
        let (lo, hi) = wilson((mean - a) / (b - a), g as f64);
        return Interval { mean: mean as f32, low: clamp(a + lo * (b - a)), high: clamp(a + hi * (b - a)), n, clusters: g };
    }
    Interval { mean: mean as f32, low: clamp(mean - half), high: clamp(mean + half), n, clusters: g }
}

/// Wilson's 95 % score interval for a proportion `p` of `n` units.
fn wilson(p: f64, n: f64) -> (f64, f64) {
    let z2 = Z975.powi(2);
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = z2.sqrt() / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    (centre - half, centre + half)
}
