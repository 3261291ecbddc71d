//! `window.rlhfStatus()`: the automation contract read by our e2e tests and by
//! courses that embed the app. The engine writes a snapshot after every change;
//! the function returns it as a plain JS object.

use serde::Serialize;
use std::cell::RefCell;
use std::collections::BTreeMap;
use wasm_bindgen::prelude::*;

#[derive(Clone, Debug, Default, Serialize)]
pub struct Status {
    pub stage: &'static str,
    pub running: bool,
    pub step: usize,
    pub metrics: BTreeMap<&'static str, f64>,
    /// "webgpu" or "cpu"; empty while the device is being chosen.
    pub backend: &'static str,
    pub adapter: Option<String>,
    pub error: Option<String>,
    /// The model preset and seed in use.
    pub preset: &'static str,
    pub seed: u64,
    /// True once the tokenizer is trained and the model built.
    pub ready: bool,
    /// Our WGSL kernels compared with burn on this device (after "look inside" → compare).
    pub kernel_checks: Vec<crate::kernel_check::Check>,
    /// `?bench=1`: the same measurements as the native benches (src/bench.rs), one
    /// object each, and whether they are all done.
    pub bench: Vec<serde_json::Value>,
    pub bench_done: bool,
    /// Models kept in this browser (role → steps), whether kept work is offered for
    /// resuming, and why the last keep / import failed.
    pub kept: std::collections::BTreeMap<String, usize>,
    pub resume_offered: bool,
    pub keep_error: Option<String>,
    pub keep_busy: Option<&'static str>,
    /// The last keep's milliseconds and bytes, and the last resume's milliseconds.
    pub keep_ms: Option<f64>,
    pub keep_bytes: Option<usize>,
    pub resume_ms: Option<f64>,
}

thread_local! {
    static STATUS: RefCell<Status> = RefCell::new(Status { stage: "pretrain", ..Default::default() });
}

pub fn update(f: impl FnOnce(&mut Status)) {
    STATUS.with(|s| f(&mut s.borrow_mut()));
}

fn snapshot() -> JsValue {
    let mut status = STATUS.with(|s| s.borrow().clone());
    // A metric not measured (NaN) is absent, not `null`.
    status.metrics.retain(|_, v| v.is_finite());
    // Through JSON text: plain objects, and no second serde format in the download.
    serde_json::to_string(&status).ok().and_then(|json| js_sys::JSON::parse(&json).ok()).unwrap_or(JsValue::NULL)
}

/// Exported through wasm-bindgen and also placed on `window`, since Trunk's loader
/// keeps the module's exports off the global object.
#[wasm_bindgen(js_name = rlhfStatus)]
pub fn rlhf_status() -> JsValue {
    snapshot()
}

pub fn install_global() {
    let f = Closure::<dyn Fn() -> JsValue>::new(snapshot);
    if let Some(w) = web_sys::window() {
        let _ = js_sys::Reflect::set(&w, &JsValue::from_str("rlhfStatus"), f.as_ref());
    }
    f.forget(); // lives as long as the page
}
