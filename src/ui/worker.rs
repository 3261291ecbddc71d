//! The engine's own thread: a dedicated Web Worker running this same wasm module.
//! The page posts the worker the module it has already compiled
//! (`wasm_bindgen::module()`) and the address of the JS glue that loaded it, so
//! nothing is fetched or compiled twice; in the worker `start` finds no window and
//! calls [`serve`] instead of mounting the page (the static constructors still run
//! once per instance). Page and worker speak [`Command`] and [`Event`], plain
//! serde values (serde-wasm-bindgen). Work here never holds the page's thread: it
//! may run for seconds without a breath, and the page still paints.
//!
//! Today the worker runs `?bench=` on a device of its own; the stage drivers are to
//! follow (issue 18), through the same two enums.

use super::BenchRun;
use super::engine::{BackendInfo, choose_backend, yield_to_browser};
use super::status;
use crate::kernel_check::Check;
use crate::model::Preset;
use leptos::prelude::Update;
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;

/// What the page asks of the worker.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Command {
    /// src/bench.rs's measurements on the worker's device (the GPU if it has
    /// WebGPU and `force_cpu` is off), then, for [`BenchRun::All`], our kernels' check.
    Bench { run: BenchRun, preset: Preset, seed: u64, steps: usize, force_cpu: bool },
}

/// What the worker tells the page.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Event {
    /// The device it chose.
    Backend(BackendInfo),
    /// One measurement, as src/bench.rs reports it.
    Bench(serde_json::Value),
    Checks(Vec<Check>),
    BenchDone,
    /// Something failed; the worker may go on with the next command.
    Failed(String),
    /// The worker panicked: its module is stopped, and it takes no more commands.
    Stopped(String),
}

/// In the worker, from `start`: takes commands and answers with events.
pub fn serve() {
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        post(&Event::Stopped(format!("the engine's worker stopped: {info}")));
    }));
    let scope: web_sys::DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let on_command = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(|e: web_sys::MessageEvent| {
        match serde_wasm_bindgen::from_value::<Command>(e.data()) {
            Ok(command) => wasm_bindgen_futures::spawn_local(run(command)),
            Err(err) => post(&Event::Failed(format!("an unreadable command: {err}"))),
        }
    });
    scope.set_onmessage(Some(on_command.as_ref().unchecked_ref()));
    on_command.forget(); // lives as long as the worker
}

fn post(event: &Event) {
    let scope: web_sys::DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    // Plain objects, not JS Maps, for the measurements' JSON.
    match event.serialize(&serde_wasm_bindgen::Serializer::json_compatible()) {
        Ok(v) => {
            let _ = scope.post_message(&v);
        }
        Err(e) => web_sys::console::error_1(&format!("an event that does not serialise: {e}").into()),
    }
}

async fn run(command: Command) {
    match command {
        Command::Bench { run, preset, seed, steps, force_cpu } => {
            let (backend, info) = choose_backend(force_cpu).await;
            post(&Event::Backend(info));
            measure(run, preset, seed, steps, &backend.device).await;
            post(&Event::BenchDone);
        }
    }
}

/// src/bench.rs's measurements, each posted as it is done.
async fn measure(run: BenchRun, preset: Preset, seed: u64, steps: usize, device: &burn::prelude::Device) {
    use crate::bench;
    let each = |v: Result<Vec<serde_json::Value>, crate::TrainError>| match v {
        Ok(rows) => rows.into_iter().for_each(|r| post(&Event::Bench(r))),
        Err(e) => post(&Event::Bench(serde_json::json!({ "error": e.to_string() }))),
    };
    fn rows<T: Serialize>(v: Result<Vec<T>, crate::TrainError>) -> Result<Vec<serde_json::Value>, crate::TrainError> {
        v.map(|rows| rows.iter().map(|r| serde_json::to_value(r).unwrap_or_default()).collect())
    }
    // A rollout of the PPO panel's 8 prompts × 4 answers, 16 tokens each (a
    // software GPU takes about a second a token).
    each(rows(bench::rollout(preset, device, 8, 4, 16, 1).await));
    if run == BenchRun::Rollout {
        return;
    }
    yield_to_browser(0).await;
    each(rows(bench::pretrain(preset, device, steps).await.map(|b| vec![b])));
    yield_to_browser(0).await;
    each(rows(bench::sampling_both(preset, device, 2).await));
    yield_to_browser(0).await;
    each(rows(bench::ranking(preset, device, 8, 4, 1).await));
    yield_to_browser(0).await;
    let cfg = crate::ppo::PpoConfig { rollout_size: 4, ppo_epochs: 1, max_new_tokens: 16, ..bench::ppo_config() };
    each(rows(bench::ppo(preset, device, cfg, 1).await.map(|b| vec![b])));
    match crate::kernel_check::check(device, seed).await {
        Ok(c) => post(&Event::Checks(c)),
        Err(e) => post(&Event::Failed(e.to_string())),
    }
}

/// On the page: `?bench=` in a worker of its own. Its measurements go into
/// `rlhfStatus().bench` (the device first, as `{"bench": "worker", …}`), the
/// kernel check into the "look inside" view; the worker ends when it is done.
pub fn bench(run: BenchRun, params: &super::Params, ui: super::engine::Ui) {
    let command = Command::Bench { run, preset: params.preset, seed: params.seed, steps: params.bench_steps, force_cpu: params.force_cpu };
    let failed = |e: String| {
        status::update(|s| {
            s.bench.push(serde_json::json!({ "error": e }));
            s.bench_done = true;
        })
    };
    let worker = match spawn() {
        Ok(w) => w,
        Err(e) => return failed(e),
    };
    let handle = worker.clone();
    let on_event = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
        match serde_wasm_bindgen::from_value::<Event>(e.data()) {
            Ok(Event::Backend(info)) => status::update(|s| {
                let backend = if info.webgpu { "webgpu" } else { "cpu" };
                s.bench.push(serde_json::json!({ "bench": "worker", "backend": backend, "adapter": info.adapter, "note": info.note }))
            }),
            Ok(Event::Bench(v)) => status::update(|s| s.bench.push(v)),
            Ok(Event::Checks(c)) => {
                status::update(|s| s.kernel_checks = c.clone()); // before bench_done, as the engine would
                ui.inside.update(|v| v.checks = c);
            }
            Ok(Event::BenchDone) => {
                status::update(|s| s.bench_done = true);
                handle.terminate(); // gives its device back
            }
            Ok(Event::Failed(e)) => status::update(|s| s.bench.push(serde_json::json!({ "error": e }))),
            Ok(Event::Stopped(e)) => {
                failed(e);
                handle.terminate();
            }
            Err(err) => failed(format!("an unreadable event from the worker: {err}")),
        }
    });
    worker.set_onmessage(Some(on_event.as_ref().unchecked_ref()));
    on_event.forget(); // as long as the page
    let on_error = Closure::<dyn FnMut(web_sys::ErrorEvent)>::new(move |e: web_sys::ErrorEvent| {
        failed(format!("the engine worker failed: {}", e.message()));
    });
    worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    on_error.forget();
    match command.serialize(&serde_wasm_bindgen::Serializer::json_compatible()) {
        Ok(v) => {
            if let Err(e) = worker.post_message(&v) {
                failed(format!("the worker took no command: {e:?}"));
            }
        }
        Err(e) => failed(e.to_string()),
    }
}

/// The script a worker starts with: it holds the commands that arrive while it
/// loads the glue and instantiates the page's module, then `start` installs the
/// real handler and the held commands are handed to it.
const BOOT: &str = r#"
self.onmessage = async (first) => {
  const held = [];
  self.onmessage = (e) => held.push(e);
  try {
    const glue = await import(first.data.glue);
    await glue.default({ module_or_path: first.data.module });
  } catch (err) {
    self.postMessage({ Stopped: 'the engine worker could not start: ' + err });
    return;
  }
  for (const e of held) self.onmessage(e);
};
"#;

/// A worker running this page's wasm module.
fn spawn() -> Result<web_sys::Worker, String> {
    let glue = glue_url().ok_or("the page's JS glue was not found (no modulepreload link)")?;
    let parts = js_sys::Array::of1(&JsValue::from_str(BOOT));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("text/javascript");
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options).map_err(|e| format!("{e:?}"))?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(|e| format!("{e:?}"))?;
    let worker_options = web_sys::WorkerOptions::new();
    worker_options.set_type(web_sys::WorkerType::Module);
    let worker = web_sys::Worker::new_with_options(&url, &worker_options).map_err(|e| format!("no worker: {e:?}"))?;
    let boot = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&boot, &"glue".into(), &glue.into());
    let _ = js_sys::Reflect::set(&boot, &"module".into(), &wasm_bindgen::module());
    worker.post_message(&boot).map_err(|e| format!("{e:?}"))?;
    Ok(worker)
}

/// The absolute address of the JS glue Trunk loaded this module with (its
/// `<link rel="modulepreload">`).
fn glue_url() -> Option<String> {
    let doc = web_sys::window()?.document()?;
    let links = doc.query_selector_all("link[rel=modulepreload]").ok()?;
    (0..links.length())
        .filter_map(|i| links.item(i))
        .filter_map(|n| n.dyn_into::<web_sys::HtmlLinkElement>().ok())
        .map(|l| l.href())
        .find(|href| href.ends_with(".js"))
}
