//! Helpers shared by the native test binaries.

/// Central finite differences of `f` at `x`, one coordinate at a time (step 1e-2:
/// f32 loses the derivative below that).
pub fn numeric_grad(f: &dyn Fn(&[f32]) -> f32, x: &[f32]) -> Vec<f32> {
    let h = 1e-2;
    (0..x.len())
        .map(|i| {
            let (mut a, mut b) = (x.to_vec(), x.to_vec());
            a[i] += h;
            b[i] -= h;
            (f(&a) - f(&b)) / (2.0 * h)
        })
        .collect()
}
