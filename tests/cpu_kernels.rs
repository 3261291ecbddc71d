//! Our CPU kernels (src/kernels/cpu.rs) against the burn ops they replace, values
//! and gradients, and their gradients against finite differences; then a whole
//! training step of the model with them against one with burn's ops.

use burn::nn::LayerNormConfig;
use burn::prelude::*;
use burn::tensor::Distribution;
use pollster::block_on;
use rlhf_playground::kernels::{self, Kernels, cpu, reference};
use rlhf_playground::readback::read_vec;

mod common;
use common::numeric_grad;

/// Ours, where they apply (f32 on flex): what every test here checks.
const OURS: Kernels = Kernels { cpu: true, gpu_attention: false, gpu_sampling: false };

fn host<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    block_on(read_vec(t)).unwrap()
}

/// Largest |a − b| over both, and that every value is finite.
fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    assert!(a.iter().chain(b).all(|v| v.is_finite()), "non-finite values");
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

fn random<const D: usize>(shape: [usize; D], std: f64, seed: u64, device: &Device) -> Tensor<D> {
    rlhf_playground::backend::seeded(device, seed, || Tensor::random(shape, Distribution::Normal(0.0, std), device))
}

/// (value, gradient w.r.t. x) of Σ w ⊙ f(x), for a fixed random weighting w.
fn value_and_grad<const D: usize>(f: impl Fn(Tensor<D>) -> Tensor<D>, x: &Tensor<D>, w: &Tensor<D>) -> (Vec<f32>, Vec<f32>) {
    let x = x.clone().require_grad();
    let y = f(x.clone());
    let loss = (y.clone() * w.clone()).sum();
    let grads = loss.backward();
    (host(y.detach()), host(x.grad(&grads).expect("a gradient")))
}

#[test]
fn causal_softmax_equals_the_masked_burn_softmax_with_its_gradient() {
    let device = Device::flex().autodiff();
    // Scale 4: rows with a few dominant scores, as trained attention has.
    let x = random([2, 3, 9, 9], 4.0, 1, &device);
    let w = random([2, 3, 9, 9], 1.0, 2, &device);
    let (y, g) = value_and_grad(|x| kernels::causal_softmax(x, OURS), &x, &w);
    let (y_ref, g_ref) = value_and_grad(reference::causal_softmax, &x, &w);
    assert!(max_diff(&y, &y_ref) < 1e-6, "values {}", max_diff(&y, &y_ref));
    assert!(max_diff(&g, &g_ref) < 1e-5, "gradients {}", max_diff(&g, &g_ref));
    // Causal: row i of each (9, 9) matrix has exactly i + 1 non-zero probabilities, summing to 1.
    for (m, matrix) in y.chunks(81).enumerate() {
        for (i, row) in matrix.chunks(9).enumerate() {
            assert!(row[i + 1..].iter().all(|&p| p == 0.0), "matrix {m} row {i} sees the future: {row:?}");
            assert!(row[..=i].iter().all(|&p| p > 0.0));
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        }
    }
}

#[test]
fn causal_softmax_over_more_keys_than_queries_lets_the_last_query_see_all() {
    // 2 queries over 5 keys: the queries are the last 2 positions, so row 0 sees
    // keys 0..=3 and row 1 all 5 (what a KV cache would need).
    let x = vec![0.5f32, -1.0, 2.0, 0.0, 3.0, 1.0, 1.0, 1.0, 1.0, 1.0];
    let y = cpu::causal_softmax_forward(&x, 2, 5);
    let soft = |r: &[f32]| {
        let e: Vec<f32> = r.iter().map(|v| v.exp()).collect();
        let s: f32 = e.iter().sum();
        e.into_iter().map(|v| v / s).collect::<Vec<_>>()
    };
    let want = [soft(&x[..4]), vec![0.0], soft(&x[5..])].concat();
    assert!(max_diff(&y, &want) < 1e-6, "{y:?} vs {want:?}");
    // The masked burn softmax that other devices run agrees.
    let scores = Tensor::<4>::from_data(TensorData::new(x.clone(), [1, 1, 2, 5]), &Device::flex());
    let y_ref = host(reference::causal_softmax(scores));
    assert!(max_diff(&y_ref, &want) < 1e-6, "{y_ref:?} vs {want:?}");
}

fn assert_close(analytic: &[f32], numeric: &[f32], what: &str) {
    for (i, (a, n)) in analytic.iter().zip(numeric).enumerate() {
        assert!((a - n).abs() <= 2e-3 * (1.0 + n.abs()), "{what}[{i}]: kernel {a} vs finite differences {n}");
    }
}

#[test]
fn the_kernels_backward_steps_match_finite_differences() {
    let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
    let wave = |n: usize, k: f32| (0..n).map(|i| ((i as f32 + 1.0) * k).sin()).collect::<Vec<f32>>();

    // Causal softmax: 2 matrices of 3 × 3 scores.
    let x = wave(18, 0.7).iter().map(|v| v * 2.0).collect::<Vec<_>>();
    let w = wave(18, 1.3);
    let f = |x: &[f32]| dot(&cpu::causal_softmax_forward(x, 3, 3), &w);
    let y = cpu::causal_softmax_forward(&x, 3, 3);
    assert_close(&cpu::causal_softmax_backward(&y, &w, 3, 3), &numeric_grad(&f, &x), "causal softmax dx");

    // LayerNorm: 3 rows of 5, in x, γ and β.
    let (x, gamma, beta, w) = (wave(15, 0.9), wave(5, 0.4), wave(5, 2.1), wave(15, 1.7));
    let eps = 1e-5;
    let (_, x_hat, rstd) = cpu::layer_norm_forward(&x, &gamma, &beta, eps);
    let (dx, d_gamma, d_beta) = cpu::layer_norm_backward(&w, &x_hat, &rstd, &gamma);
    assert_close(&dx, &numeric_grad(&|x| dot(&cpu::layer_norm_forward(x, &gamma, &beta, eps).0, &w), &x), "layer norm dx");
    assert_close(&d_gamma, &numeric_grad(&|g| dot(&cpu::layer_norm_forward(&x, g, &beta, eps).0, &w), &gamma), "layer norm dγ");
    assert_close(&d_beta, &numeric_grad(&|b| dot(&cpu::layer_norm_forward(&x, &gamma, b, eps).0, &w), &beta), "layer norm dβ");

    // log p(target): 3 rows over a vocabulary of 6.
    let (logits, targets, w) = (wave(18, 0.8), vec![4, 0, 5], wave(3, 1.1));
    let (_, probs) = cpu::token_log_probs_forward(&logits, 6, &targets);
    let dx = cpu::token_log_probs_backward(&probs, 6, &targets, &w);
    assert_close(&dx, &numeric_grad(&|l| dot(&cpu::token_log_probs_forward(l, 6, &targets).0, &w), &logits), "log p dx");
}

#[test]
fn layer_norm_equals_burns_with_its_gradients_even_where_epsilon_matters() {
    let device = Device::flex().autodiff();
    // Row scales from 1 down to 1e-3: in the last rows σ² ≈ 1e-6 < ε, so using
    // another ε than burn's LayerNorm would show.
    let scale = Tensor::<3>::from_data(TensorData::new(vec![1.0f32, 0.1, 1e-3, 3.0], [1, 4, 1]), &device);
    let x = random([2, 4, 24], 1.0, 3, &device) * scale + 0.7;
    let w = random([2, 4, 24], 1.0, 4, &device);
    let mut ln = LayerNormConfig::new(24).with_epsilon(1e-5).init(&device);
    // Non-trivial γ and β, so their gradients and their use are both checked.
    let shifted =
        |t: Tensor<1>, seed| burn::module::Param::from_tensor((t.detach() + random([24], 0.5, seed, &device)).detach().require_grad());
    ln.gamma = shifted(ln.gamma.val(), 5);
    ln.beta = Some(shifted(ln.beta.as_ref().unwrap().val(), 6));
    let run = |fused: bool| {
        let x = x.clone().require_grad();
        let y = if fused { kernels::layer_norm(&ln, 1e-5, x.clone(), OURS) } else { ln.forward(x.clone()) };
        let grads = (y.clone() * w.clone()).sum().backward();
        let beta = ln.beta.as_ref().unwrap();
        [host(y.detach()), host(x.grad(&grads).unwrap()), host(ln.gamma.grad(&grads).unwrap()), host(beta.grad(&grads).unwrap())]
    };
    let (got, want) = (run(true), run(false));
    for (what, (a, b), tol) in
        ["y", "dx", "dγ", "dβ"].into_iter().zip(got.iter().zip(&want)).zip([2e-5, 2e-2, 1e-4, 1e-4]).map(|((w, p), t)| (w, p, t))
    {
        // dx of the 1e-3-scale rows is ~1000× the others': compare relative to the largest.
        let scale = b.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        assert!(max_diff(a, b) <= tol * scale, "{what}: differs by {} (largest {scale})", max_diff(a, b));
    }
}

#[test]
fn token_log_probs_equal_burns_log_softmax_and_gather_with_the_gradient() {
    let device = Device::flex().autodiff();
    let logits = random([3, 5, 40], 3.0, 7, &device);
    let targets =
        rlhf_playground::backend::seeded(&device, 8, || Tensor::<2, Int>::random([3, 5], Distribution::Uniform(0.0, 40.0), &device));
    let w = random([3, 5], 1.0, 9, &device);
    let run = |f: fn(Tensor<3>, Tensor<2, Int>) -> Tensor<2>| {
        let l = logits.clone().require_grad();
        let lp = f(l.clone(), targets.clone());
        let grads = (lp.clone() * w.clone()).sum().backward();
        (host(lp.detach()), host(l.grad(&grads).unwrap()))
    };
    let (lp, g) = run(|l, t| kernels::token_log_probs(l, t, OURS));
    let (lp_ref, g_ref) = run(reference::token_log_probs);
    assert!(max_diff(&lp, &lp_ref) < 2e-5, "log-probs {}", max_diff(&lp, &lp_ref));
    assert!(max_diff(&g, &g_ref) < 1e-6, "gradients {}", max_diff(&g, &g_ref));
    // Without autodiff too (rollouts, evaluation).
    let plain = Device::flex();
    let l = Tensor::<3>::from_data(logits.clone().inner().into_data(), &plain);
    let t = Tensor::<2, Int>::from_data(targets.clone().into_data(), &plain);
    assert!(max_diff(&host(kernels::token_log_probs(l.clone(), t.clone(), OURS)), &host(reference::token_log_probs(l, t))) < 2e-5);
}

#[test]
fn a_training_step_with_our_kernels_equals_one_with_burns_ops() {
    use rlhf_playground::model::Preset;
    let device = Device::flex().autodiff();
    let model = rlhf_playground::backend::seeded(&device, 11, || Preset::Micro.gpt(64).init(&device));
    let ids =
        rlhf_playground::backend::seeded(&device, 12, || Tensor::<2, Int>::random([3, 17], Distribution::Uniform(0.0, 64.0), &device));
    let (inputs, targets) = (ids.clone().slice([0..3, 0..16]), ids.slice([0..3, 1..17]));
    let step = |kernels: Kernels| {
        let model = model.clone().with_kernels(kernels);
        let logits = model.forward(inputs.clone());
        let loss = model.cross_entropy(logits.clone(), targets.clone());
        let grads = loss.clone().backward();
        let g = burn::optim::GradientsParams::from_grads(grads, &model);
        (host(loss.detach()), host(logits.detach()), g)
    };
    let ((loss, logits, g), (loss_ref, logits_ref, g_ref)) = (step(Kernels::default()), step(Kernels::BURN));
    assert!(max_diff(&loss, &loss_ref) < 1e-5, "loss {loss:?} vs {loss_ref:?}");
    assert!(max_diff(&logits, &logits_ref) < 1e-4, "logits {}", max_diff(&logits, &logits_ref));
    // Every parameter's gradient, the same to 1e-3 of its largest entry.
    struct Compare<'a> {
        got: &'a burn::optim::GradientsParams,
        want: &'a burn::optim::GradientsParams,
        checked: usize,
    }
    impl burn::module::ModuleVisitor for Compare<'_> {
        fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
            let (a, b) = (self.got.get::<D>(param.id).expect("gradient"), self.want.get::<D>(param.id).expect("reference gradient"));
            let (a, b) = (host(a), host(b));
            let scale = b.iter().fold(1e-6f32, |m, v| m.max(v.abs()));
            assert!(max_diff(&a, &b) <= 1e-3 * scale, "a gradient differs by {} (largest {scale})", max_diff(&a, &b));
            self.checked += 1;
        }
    }
    let mut cmp = Compare { got: &g, want: &g_ref, checked: 0 };
    model.visit(&mut cmp);
    assert!(cmp.checked >= 2 + 2 * 8 + 2, "checked {} parameters", cmp.checked);
}

#[test]
fn polynomial_exp_and_erf_are_as_accurate_as_f32_allows() {
    let mut worst_exp = 0.0f64;
    for i in 0..=175_000 {
        let x = (-87.0 + i as f64 * 1e-3) as f32; // up to 88, where the clamp starts
        let want = (x as f64).exp();
        worst_exp = worst_exp.max(((cpu::exp(x) as f64 - want) / want).abs());
    }
    // f32's own rounding is 6e-8; libm's expf is within 1 ulp (1.2e-7).
    assert!(worst_exp < 3e-7, "exp's largest relative error {worst_exp:e}");
    assert!(cpu::exp(f32::NAN).is_nan() && cpu::exp(-1e9) < 1e-37 && cpu::exp(0.0) == 1.0);
    // erf against its Taylor series (|x| ≤ 1) and its asymptote (erf(5) = 1 − 1.5e−12).
    let erf_series = |x: f64| {
        let (mut term, mut total) = (x, x);
        for n in 1..40 {
            term *= -x * x / n as f64;
            total += term / (2 * n + 1) as f64;
        }
        total * 2.0 / std::f64::consts::PI.sqrt()
    };
    // The approximation's own 1.5e−7, plus f32 rounding where 1 − t·P(t)·e^(−x²)
    // cancels near 0 (measured: 5.3e−7 at x = 0.046). GELU only needs 1 + erf.
    for i in -1000..=1000 {
        let x = i as f32 * 1e-3;
        assert!((cpu::erf(x) as f64 - erf_series(x as f64)).abs() < 6e-7, "erf({x}) = {} vs {}", cpu::erf(x), erf_series(x as f64));
    }
    assert!((cpu::erf(5.0) - 1.0).abs() < 2e-7 && (cpu::erf(-5.0) + 1.0).abs() < 2e-7 && cpu::erf(0.0).abs() < 2e-7);
}

#[test]
fn gelu_equals_burns_exact_gelu_with_its_gradient() {
    let device = Device::flex().autodiff();
    let x = random([4, 300], 2.5, 13, &device);
    let w = random([4, 300], 1.0, 14, &device);
    let (y, g) = value_and_grad(|x| kernels::gelu(x, OURS), &x, &w);
    let (y_ref, g_ref) = value_and_grad(burn::tensor::activation::gelu, &x, &w);
    assert!(max_diff(&y, &y_ref) < 2e-6, "values {}", max_diff(&y, &y_ref));
    assert!(max_diff(&g, &g_ref) < 2e-6, "gradients {}", max_diff(&g, &g_ref));
    let xs = host(x.detach());
    let wave: Vec<f32> = (0..xs.len()).map(|i| (i as f32 * 0.37).sin()).collect();
    let few = &xs[..12];
    let f = |v: &[f32]| cpu::gelu_forward(v).iter().zip(&wave).map(|(a, b)| a * b).sum::<f32>();
    assert_close(&cpu::gelu_backward(few, &wave[..12]), &numeric_grad(&f, few), "gelu dx");
}
