//! The engine task: the one owner of the lab (tokenizer, model, optimizer). The
//! page never touches tensors; it flips command signals, and this loop reads them
//! between steps, trains, inspects, and publishes plain results into signals. It
//! runs in the engine's worker (src/ui/worker.rs, the signals mirrored to the
//! page), or with `engine=page` on the page's thread, yielding between steps.

use super::status;
use super::view::{BackendInfo, LossPoint, Ui};
use super::{Params, navigator};
use crate::backend::{Backend, BackendKind};
use crate::inspect::{attention_maps, top_next_tokens};
use crate::lab::Lab;
use crate::model::Preset;
use leptos::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use wasm_bindgen::prelude::*;
use web_time::Instant;

/// What the page looks at while pretraining: the core's held-out and sample
/// cadence, and how often the next-token table and attention maps refresh.
struct Cadence {
    look: crate::stages::pretrain::Cadence,
    inspect: usize,
}

fn cadence(preset: Preset) -> Cadence {
    Cadence { look: crate::stages::pretrain::Cadence::for_page(preset), inspect: 10 }
}

/// Lets the browser paint and handle input (in a worker: take messages): resolves
/// on the next macrotask. `setTimeout` of the global scope, a window's or a worker's.
pub async fn yield_to_browser(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let global = js_sys::global();
        if let Ok(set_timeout) =
            js_sys::Reflect::get(&global, &JsValue::from_str("setTimeout")).and_then(|f| f.dyn_into::<js_sys::Function>())
        {
            let _ = set_timeout.call2(&global, &resolve, &JsValue::from(ms));
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// One turn of the event loop for [`crate::breathe`]: a message to ourselves, which
/// (unlike a zero-delay timeout called from a timeout, clamped to 4 ms from the 5th
/// nested one) costs no wait, so breathing every few milliseconds does not slow
/// training; a timeout where MessageChannel is missing.
pub async fn yield_for_breath() {
    let Ok(channel) = web_sys::MessageChannel::new() else { return yield_to_browser(0).await };
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        channel.port1().set_onmessage(Some(resolve.unchecked_ref()));
        let _ = channel.port2().post_message(&JsValue::NULL);
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// Is `navigator.gpu` there at all? (wgpu would otherwise fail deep inside.)
fn has_webgpu() -> bool {
    navigator()
        .map(|n| js_sys::Reflect::get(&n, &JsValue::from_str("gpu")).map(|g| !g.is_undefined() && !g.is_null()).unwrap_or(false))
        .unwrap_or(false)
}

/// The adapter as the browser describes it (`GPUAdapter.info`): wgpu's own
/// adapter name is empty on the web.
async fn adapter_description() -> Option<String> {
    let gpu = js_sys::Reflect::get(&navigator()?, &JsValue::from_str("gpu")).ok()?;
    let request = js_sys::Reflect::get(&gpu, &JsValue::from_str("requestAdapter")).ok()?.dyn_into::<js_sys::Function>().ok()?;
    let promise = request.call0(&gpu).ok()?.dyn_into::<js_sys::Promise>().ok()?;
    let adapter = wasm_bindgen_futures::JsFuture::from(promise).await.ok()?;
    let info = js_sys::Reflect::get(&adapter, &JsValue::from_str("info")).ok()?;
    let field = |k: &str| js_sys::Reflect::get(&info, &JsValue::from_str(k)).ok().and_then(|v| v.as_string()).filter(|s| !s.is_empty());
    let parts: Vec<String> = ["vendor", "architecture", "device", "description"].iter().filter_map(|k| field(k)).collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

pub async fn choose_backend(force_cpu: bool) -> (Backend, BackendInfo) {
    let cpu = |note: String| (Backend::cpu(), BackendInfo { webgpu: false, adapter: None, note });
    if force_cpu {
        return cpu("chosen with backend=cpu in the URL".into());
    }
    if !has_webgpu() {
        return cpu("this browser has no WebGPU, so training runs on the CPU and is slower".into());
    }
    match Backend::gpu().await {
        Ok(b) if b.kind == BackendKind::Wgpu => {
            let adapter = adapter_description().await.or(b.adapter.clone());
            let info = BackendInfo { webgpu: true, adapter, note: String::new() };
            (b, info)
        }
        Ok(b) => (b, BackendInfo { webgpu: false, adapter: None, note: String::new() }),
        Err(e) => cpu(format!("WebGPU is present but gave no device ({e}); training runs on the CPU")),
    }
}

/// The engine on the page's own thread (where no worker could start, or `engine=page`).
pub fn spawn(params: Params, ui: Ui) {
    crate::breathe::set(|| Box::pin(yield_for_breath()));
    spawn_with(params, ui, publish_status, |bytes, name| super::storage::download(bytes, name, "application/octet-stream"));
}

/// The engine on this thread; `on_turn` runs after each turn of its loop (on the
/// page: publish `rlhfStatus()`; in the worker: send the page what changed), and
/// `save` hands the user an exported model (on the page: a download; in the
/// worker: the bytes go to the page, which saves them).
pub fn spawn_with(params: Params, ui: Ui, on_turn: fn(&Ui), save: super::keep_stage::Save) {
    // wasm-bindgen's executor: in the worker no leptos runtime is set up, and the
    // engine needs none (it only reads and writes signals).
    wasm_bindgen_futures::spawn_local(async move { run(params, ui, on_turn, save).await });
}

/// `rlhfStatus()` from the page's signals, once the engine is ready.
pub fn publish_status(ui: &Ui) {
    if !ui.ready.get_untracked() {
        return;
    }
    let losses = ui.pretrain.losses.get_untracked();
    let last = losses.last().cloned();
    let held = losses.iter().rev().find_map(|p| p.held_out);
    let first_held = losses.iter().find_map(|p| p.held_out);
    let (running, step, tps, error, backend) = (
        ui.pretrain.running.get_untracked(),
        ui.pretrain.step.get_untracked(),
        ui.pretrain.tokens_per_sec.get_untracked(),
        ui.error.get_untracked(),
        ui.backend.get_untracked(),
    );
    let tab = ui.tab.get_untracked();
    let (sft_running, sft_step, sft_last) =
        (ui.sft.running.get_untracked(), ui.sft.step.get_untracked(), ui.sft.points.with_untracked(|v| v.last().cloned()));
    let (prompts, (human, persona)) = ui.session.with_untracked(|s| (s.comparisons.len(), s.pair_counts()));
    let answers = ui.rank.answers.with_untracked(Vec::len);
    status::update(|s| {
        s.stage = tab.name();
        s.running = running || sft_running;
        s.step = step;
        s.ready = true;
        s.preset = ui.preset.name();
        s.seed = ui.seed;
        s.error = error;
        s.backend = if backend.as_ref().is_some_and(|b| b.webgpu) { "webgpu" } else { "cpu" };
        s.adapter = backend.and_then(|b| b.adapter);
        s.metrics.clear();
        if let Some(p) = last {
            s.metrics.insert("train_loss", p.train as f64);
        }
        if let Some(h) = held {
            s.metrics.insert("held_out_loss", h as f64);
        }
        if let Some(h) = first_held {
            s.metrics.insert("initial_held_out_loss", h as f64);
        }
        s.metrics.insert("tokens_per_sec", tps);
        s.metrics.insert("samples", ui.pretrain.samples.with_untracked(|v| v.len()) as f64);
        s.metrics.insert("attention_cells", ui.pretrain.attention.with_untracked(|a| a.as_ref().map_or(0, |m| m.len() * m.len())) as f64);
        s.metrics.insert("sft_step", sft_step as f64);
        s.kept = ui.keep.kept.get_untracked();
        s.resume_offered = ui.keep.offer.with_untracked(Option::is_some);
        s.keep_error = ui.keep.error.get_untracked();
        s.keep_busy = ui.keep.busy.get_untracked().map(super::view::keep::KeepBusy::code);
        (s.keep_ms, s.keep_bytes) = ui.keep.last_keep.get_untracked().unzip();
        s.resume_ms = ui.keep.resume_ms.get_untracked();
        if let Some(p) = sft_last {
            s.metrics.insert("sft_loss", p.loss as f64);
            s.metrics.insert("sft_token_accuracy", p.token_accuracy as f64);
        }
        s.metrics.insert("labelled_prompts", prompts as f64);
        s.metrics.insert("labelled_pairs", (human + persona) as f64);
        s.metrics.insert("human_pairs", human as f64);
        s.metrics.insert("persona_pairs", persona as f64);
        s.metrics.insert("rank_answers", answers as f64);
        ui.rm.publish(&mut s.metrics);
        ui.ppo.publish(&mut s.metrics);
        ui.dpo.publish(&mut s.metrics);
        ui.eval.publish(&mut s.metrics);
        ui.inside.with_untracked(|v| {
            for (k, (last, total)) in crate::kernels::KERNELS.iter().zip(v.last.iter().zip(&v.total)) {
                s.metrics.insert(k.metrics[0], *last as f64);
                s.metrics.insert(k.metrics[1], *total as f64);
            }
            s.metrics.insert("readbacks_last_step", v.last_readbacks as f64);
            s.kernel_checks = v.checks.clone();
        });
        s.running = s.running || ui.rm.running.get_untracked() || ui.ppo.running.get_untracked();
    });
}

fn build_lab(params: &Params, backend: &Backend, ui: &Ui) -> Option<Lab> {
    match Lab::new(params.preset, params.seed, params.lang, &backend.device) {
        Ok(lab) => {
            ui.pretrain.vocab.set(lab.tokenizer.merges().iter().map(|m| format!("{}+{}", m.left, m.right)).collect());
            ui.sft.mask.set(super::stages::mask_example(&lab));
            Some(lab)
        }
        Err(e) => {
            ui.error.set(Some(format!("could not build the model: {e}")));
            None
        }
    }
}

async fn run(params: Params, ui: Ui, on_turn: fn(&Ui), save: super::keep_stage::Save) {
    let (backend, info) = choose_backend(params.force_cpu).await;
    ui.backend.set(Some(info));
    yield_to_browser(0).await;
    let Some(mut lab) = build_lab(&params, &backend, &ui) else { return };
    let cadence = cadence(params.preset);
    let mut rng = StdRng::seed_from_u64(params.seed ^ 0x5eed);
    let (mut seen_steps, mut seen_resets, mut seen_checks) = (0u64, 0u64, 0u64);
    let mut inspected_prompt: Option<String> = None;
    let mut tps_ema: Option<f64> = None;
    let mut stages = super::stages::Stages::new(&params);
    let mut keeper = super::keep_stage::KeepStage::new(&lab, !params.models.is_empty(), save);

    // First held-out point at step 0, so the chart starts from the untrained loss.
    match lab.pretrainer.held_out_loss().await {
        Ok(h) => ui.pretrain.losses.set(vec![LossPoint { step: 0, train: h, held_out: Some(h) }]),
        Err(e) => ui.error.set(Some(e.to_string())),
    }
    keeper.offer(&ui).await;
    keeper.teacher_link(&params, &ui, &mut lab, &mut stages).await;
    ui.ready.set(true);
    on_turn(&ui);

    loop {
        let (dispatched, read) = (crate::kernels::dispatches(), crate::readback::readbacks());
        let checks = ui.kernel_check_requests.get_untracked();
        if checks != seen_checks {
            seen_checks = checks;
            ui.inside.update(|v| v.checking = true);
            yield_to_browser(0).await;
            match crate::kernel_check::check(&backend, params.seed).await {
                Ok(c) => ui.inside.update(|v| v.checks = c),
                Err(e) => ui.error.set(Some(e.to_string())),
            }
            ui.inside.update(|v| v.checking = false);
        }
        let resets = ui.pretrain.reset_requests.get_untracked();
        if resets != seen_resets {
            seen_resets = resets;
            ui.pretrain.running.set(false);
            ui.pretrain.step.set(0);
            ui.pretrain.samples.set(vec![]);
            ui.error.set(None);
            tps_ema = None;
            stages.reset(&ui);
            keeper.forget_kept();
            if let Some(l) = build_lab(&params, &backend, &ui) {
                lab = l;
            }
            let h = lab.pretrainer.held_out_loss().await.ok();
            ui.pretrain.losses.set(h.map(|h| vec![LossPoint { step: 0, train: h, held_out: Some(h) }]).unwrap_or_default());
            inspected_prompt = None;
        }

        let requested = ui.pretrain.step_requests.get_untracked();
        let want_step = ui.pretrain.running.get_untracked() || requested != seen_steps;
        seen_steps = requested;
        if want_step {
            let t0 = Instant::now();
            match crate::stages::pretrain::step(&mut lab.pretrainer, &lab.tokenizer, &lab.device, &cadence.look, None, &mut rng).await {
                Ok(s) => {
                    let dt = t0.elapsed().as_secs_f64().max(1e-6);
                    let tps = s.stats.tokens as f64 / dt;
                    let ema = tps_ema.map_or(tps, |e| 0.8 * e + 0.2 * tps);
                    tps_ema = Some(ema);
                    ui.pretrain.tokens_per_sec.set(ema);
                    let step = s.stats.step;
                    ui.pretrain.step.set(step);
                    ui.pretrain.losses.update(|v| v.push(LossPoint { step, train: s.stats.train_loss, held_out: s.held_out_loss }));
                    if step % cadence.inspect == 0 {
                        inspected_prompt = None;
                    }
                    if let Some(text) = s.sample {
                        ui.pretrain.samples.update(|v| {
                            v.insert(0, (step, text));
                            v.truncate(8);
                        });
                    }
                }
                Err(e) => {
                    ui.pretrain.running.set(false);
                    ui.pretrain.step.set(lab.pretrainer.step_count());
                    ui.error.set(Some(e.to_string()));
                }
            }
        }

        let prompt = ui.pretrain.prompt.get_untracked();
        if inspected_prompt.as_deref() != Some(prompt.as_str()) {
            let model = lab.pretrainer.model();
            match (
                top_next_tokens(&model, &lab.tokenizer, &prompt, 10, &lab.device).await,
                attention_maps(&model, &lab.tokenizer, &prompt, &lab.device).await,
            ) {
                (Ok(top), Ok(maps)) => {
                    ui.pretrain.next_tokens.set(top);
                    ui.pretrain.attention.set(Some(maps));
                }
                (Err(e), _) | (_, Err(e)) => ui.error.set(Some(e.to_string())),
            }
            inspected_prompt = Some(prompt);
        }

        let mut stage_busy = stages.tick(&ui, &lab).await;
        stage_busy |= keeper.tick(&ui, &mut lab, &mut stages).await;
        let (now, read_now) = (crate::kernels::dispatches(), crate::readback::readbacks());
        if want_step || stage_busy {
            ui.inside.update(|v| {
                if now != dispatched {
                    v.last = std::array::from_fn(|i| now[i] - dispatched[i]);
                }
                v.total = now;
                v.last_readbacks = read_now - read;
            });
        }
        on_turn(&ui);
        // Busy: give the browser one macrotask; idle: poll the commands gently.
        yield_to_browser(if want_step || stage_busy { 0 } else { 50 }).await;
    }
}
