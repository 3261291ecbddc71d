//! Each RLHF loss against values computed by hand on tiny tensors, and its
//! gradient against finite differences (burn's `flex` CPU device).

use burn::prelude::*;
use pollster::block_on;
use rlhf_playground::losses::*;
use rlhf_playground::readback::read_vec;

mod common;
use common::numeric_grad;

fn t1(v: &[f32], device: &Device) -> Tensor<1> {
    Tensor::from_data(TensorData::new(v.to_vec(), [v.len()]), device)
}
fn t2(v: &[f32], rows: usize, device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(v.to_vec(), [rows, v.len() / rows]), device)
}
fn val(t: Tensor<1>) -> f32 {
    block_on(read_vec(t)).unwrap()[0]
}
fn close(a: f32, b: f32, tol: f32) -> bool {
    (a - b).abs() <= tol
}

#[test]
fn pairwise_loss_matches_hand_computation() {
    let d = Device::flex();
    // diffs 1 and −2: −log σ(1) = ln(1+e^−1) = 0.313262, −log σ(−2) = ln(1+e^2) = 2.126928
    let loss = val(pairwise_loss(t1(&[1.0, 0.0], &d), t1(&[0.0, 2.0], &d)));
    assert!(close(loss, (0.313262 + 2.126928) / 2.0, 1e-5), "{loss}");
    // A margin in the right direction drives the loss toward 0; equal rewards give ln 2.
    assert!(val(pairwise_loss(t1(&[20.0], &d), t1(&[0.0], &d))) < 1e-6);
    assert!(close(val(pairwise_loss(t1(&[0.3], &d), t1(&[0.3], &d))), std::f32::consts::LN_2, 1e-6));
}

#[test]
fn sft_loss_counts_answer_tokens_only() {
    let d = Device::flex();
    let logp = t2(&[-1.0, -2.0, -3.0, -4.0], 2, &d);
    let mask = t2(&[0.0, 1.0, 1.0, 1.0], 2, &d);
    assert!(close(val(sft_loss(logp, mask)), 3.0, 1e-6));
}

#[test]
fn gae_matches_hand_computation() {
    let (adv, ret) = gae(&[0.0, 0.0, 1.0], &[0.5, 0.4, 0.2], 1.0, 0.95);
    // δ = (−0.1, −0.2, 0.8); A2 = 0.8, A1 = −0.2 + 0.95·0.8 = 0.56, A0 = −0.1 + 0.95·0.56 = 0.432
    for (a, e) in adv.iter().zip([0.432, 0.56, 0.8]) {
        assert!(close(*a, e, 1e-6), "{adv:?}");
    }
    for (r, e) in ret.iter().zip([0.932, 0.96, 1.0]) {
        assert!(close(*r, e, 1e-6), "{ret:?}");
    }
    // λ = 1, γ = 1: the return is the sum of the rewards still to come (Monte Carlo).
    let (_, ret) = gae(&[0.5, -1.0, 2.0], &[3.0, -2.0, 7.0], 1.0, 1.0);
    assert_eq!(ret, vec![1.5, 1.0, 2.0]);
}

#[test]
fn whitening_gives_zero_mean_unit_variance() {
    let w = whiten(&[1.0, 2.0, 3.0, 6.0]);
    let mean = w.iter().sum::<f32>() / 4.0;
    let var = w.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / 4.0;
    assert!(close(mean, 0.0, 1e-6) && close(var, 1.0, 1e-4), "{w:?}");
    assert!(w.windows(2).all(|p| p[0] < p[1]), "order is kept");
}

#[test]
fn clipped_surrogate_matches_hand_computation() {
    let d = Device::flex();
    let old = t2(&[0.0, 0.0, 0.0], 1, &d);
    let new = t2(&[1.5f32.ln(), 0.5f32.ln(), 1.1f32.ln()], 1, &d);
    let adv = t2(&[1.0, 1.0, -1.0], 1, &d);
    let mask = t2(&[1.0, 1.0, 1.0], 1, &d);
    let out = clipped_surrogate(new, old, adv, mask, 0.2);
    // ρ = 1.5, A = 1: max(−1.5, −1.2) = −1.2 (clipped); ρ = 0.5, A = 1: max(−0.5, −0.8) = −0.5;
    // ρ = 1.1, A = −1: inside the band, 1.1.
    assert!(close(val(out.loss), (-1.2 - 0.5 + 1.1) / 3.0, 1e-6));
    assert!(close(val(out.clip_frac), 1.0 / 3.0, 1e-6));
    let kl = 0.5 * (1.5f32.ln().powi(2) + 0.5f32.ln().powi(2) + 1.1f32.ln().powi(2)) / 3.0;
    assert!(close(val(out.approx_kl), kl, 1e-6));
    assert!(close(val(out.ratio), (1.5 + 0.5 + 1.1) / 3.0, 1e-6));
}

#[test]
fn clipped_value_loss_matches_hand_computation() {
    let d = Device::flex();
    let (loss, clip) =
        clipped_value_loss(t2(&[1.0, 0.0], 1, &d), t2(&[0.5, 0.0], 1, &d), t2(&[2.0, 0.1], 1, &d), t2(&[1.0, 1.0], 1, &d), 0.2);
    // token 1: clipped value 0.7 → max((1−2)², (0.7−2)²) = 1.69; token 2: 0.01
    assert!(close(val(loss), 0.5 * (1.69 + 0.01) / 2.0, 1e-6));
    assert!(close(val(clip), 0.5, 1e-6));
}

#[test]
fn kl_estimate_is_the_log_ratio_and_zero_for_equal_policies() {
    let d = Device::flex();
    let p = t2(&[-1.0, -2.0], 1, &d);
    assert_eq!(block_on(read_vec(kl_per_token(p.clone(), p.clone()))).unwrap(), vec![0.0, 0.0]);
    assert_eq!(block_on(read_vec(kl_per_token(p, t2(&[-1.5, -1.0], 1, &d)))).unwrap(), vec![0.5, -1.0]);
}

#[test]
fn pairwise_loss_gradient_matches_finite_differences() {
    let d = Device::flex().autodiff();
    let chosen = [0.3f32, -1.2, 2.0];
    let rejected = [0.1f32, 0.4, 1.5];
    let c = t1(&chosen, &d).require_grad();
    let r = t1(&rejected, &d).require_grad();
    let grads = pairwise_loss(c.clone(), r.clone()).backward();
    let gc = block_on(read_vec(c.grad(&grads).unwrap())).unwrap();
    let gr = block_on(read_vec(r.grad(&grads).unwrap())).unwrap();
    let plain = Device::flex();
    let nc = numeric_grad(&|x| val(pairwise_loss(t1(x, &plain), t1(&rejected, &plain))), &chosen);
    let nr = numeric_grad(&|x| val(pairwise_loss(t1(&chosen, &plain), t1(x, &plain))), &rejected);
    for (a, n) in gc.iter().chain(&gr).zip(nc.iter().chain(&nr)) {
        assert!(close(*a, *n, 2e-3), "autodiff {gc:?} {gr:?} vs numeric {nc:?} {nr:?}");
    }
    // d/dr_w = −σ(r_l − r_w)/P: pushing the chosen answer up always lowers the loss.
    assert!(gc.iter().all(|g| *g < 0.0) && gr.iter().all(|g| *g > 0.0));
}

#[test]
fn dpo_loss_matches_hand_computation() {
    let d = Device::flex();
    // Pair 1: policy moved chosen up 0.5 and rejected down 1.5 from the reference:
    // z = 0.1·(0.5 − (−1.5)) = 0.2, −log σ(0.2) = ln(1 + e^−0.2) = 0.598139.
    // Pair 2: the wrong way by 1 nat each: z = 0.1·(−1 − 1) = −0.2, ln(1 + e^0.2) = 0.798139.
    let loss = val(dpo_loss(t1(&[-3.5, -6.0], &d), t1(&[-5.5, -3.0], &d), t1(&[-4.0, -5.0], &d), t1(&[-4.0, -4.0], &d), 0.1));
    assert!(close(loss, (0.598139 + 0.798139) / 2.0, 1e-5), "{loss}");
    // The policy equal to the reference: ln 2 whatever the answers' likelihoods.
    let same = t1(&[-7.0, -2.0], &d);
    assert!(close(val(dpo_loss(same.clone(), t1(&[-1.0, -9.0], &d), same, t1(&[-1.0, -9.0], &d), 0.5)), std::f32::consts::LN_2, 1e-6));
}

#[test]
fn dpo_loss_gradient_matches_finite_differences() {
    let d = Device::flex().autodiff();
    let (chosen, rejected) = ([-3.0f32, -8.0, -1.5], [-4.0f32, -2.5, -6.0]);
    let (ref_chosen, ref_rejected) = ([-3.5f32, -7.0, -2.0], [-3.0f32, -3.0, -5.5]);
    let beta = 0.3;
    let c = t1(&chosen, &d).require_grad();
    let r = t1(&rejected, &d).require_grad();
    let grads = dpo_loss(c.clone(), r.clone(), t1(&ref_chosen, &d), t1(&ref_rejected, &d), beta).backward();
    let gc = block_on(read_vec(c.grad(&grads).unwrap())).unwrap();
    let gr = block_on(read_vec(r.grad(&grads).unwrap())).unwrap();
    let p = Device::flex();
    let loss = |c: &[f32], r: &[f32]| val(dpo_loss(t1(c, &p), t1(r, &p), t1(&ref_chosen, &p), t1(&ref_rejected, &p), beta));
    let nc = numeric_grad(&|x| loss(x, &rejected), &chosen);
    let nr = numeric_grad(&|x| loss(&chosen, x), &rejected);
    for (a, n) in gc.iter().chain(&gr).zip(nc.iter().chain(&nr)) {
        assert!(close(*a, *n, 2e-3), "autodiff {gc:?} {gr:?} vs numeric {nc:?} {nr:?}");
    }
    // By hand: ∂L/∂log π(y_w) = −β σ(−z)/P, the rejected side's its negative.
    for i in 0..3 {
        let z = beta * ((chosen[i] - ref_chosen[i]) - (rejected[i] - ref_rejected[i]));
        let want = -beta / (1.0 + z.exp()) / 3.0;
        assert!(close(gc[i], want, 1e-5) && close(gr[i], -want, 1e-5), "pair {i}: {} {} vs {want}", gc[i], gr[i]);
    }
}

#[test]
fn clipped_surrogate_gradient_matches_finite_differences() {
    let d = Device::flex().autodiff();
    // Ratios inside and outside the band, advantages of both signs.
    let new = [0.05f32, 0.6, -0.5, -0.02];
    let old = [0.0f32; 4];
    let adv = [1.0f32, 1.0, -0.7, -2.0];
    let mask = [1.0f32, 1.0, 1.0, 0.0];
    let x = t2(&new, 1, &d).require_grad();
    let loss = clipped_surrogate(x.clone(), t2(&old, 1, &d), t2(&adv, 1, &d), t2(&mask, 1, &d), 0.2).loss;
    let g = block_on(read_vec(x.grad(&loss.backward()).unwrap())).unwrap();
    let plain = Device::flex();
    let n = numeric_grad(
        &|v| val(clipped_surrogate(t2(v, 1, &plain), t2(&old, 1, &plain), t2(&adv, 1, &plain), t2(&mask, 1, &plain), 0.2).loss),
        &new,
    );
    for (a, e) in g.iter().zip(&n) {
        assert!(close(*a, *e, 2e-3), "autodiff {g:?} vs numeric {n:?}");
    }
    // Clipped tokens (ratio e^0.6 with A > 0) and masked tokens get no gradient.
    assert_eq!(g[1], 0.0);
    assert_eq!(g[3], 0.0);
}
