//! The engine's own thread: a dedicated Web Worker running this same wasm module.
//! The page posts the worker the module it has already compiled
//! (`wasm_bindgen::module()`) and the address of the JS glue that loaded it, so
//! nothing is fetched or compiled twice; in the worker `start` finds no window and
//! calls [`serve`] instead of mounting the page (the static constructors still run
//! once per instance). Page and worker speak [`Command`] and [`Event`]: serde
//! values (postcard), with a file's bytes beside them where one travels.
//! Work here never holds the page's thread: it may run for seconds without a
//! breath, and the page still paints.
//!
//! Two uses: the engine ([`engine`]: the lab, every stage, keeping) with the page's
//! [`Ui`] mirrored into it (src/ui/mirror.rs), and `?bench=` on a device of its own.

use super::engine::{choose_backend, yield_to_browser};
use super::mirror::{Field, Mirror, PageMirror};
use super::view::{BackendInfo, Ui};
use super::{BenchRun, Params, status};
use crate::kernel_check::Check;
use crate::model::Preset;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use web_time::{Duration, Instant};

/// What the page asks of the worker.
#[derive(Serialize, Deserialize)]
pub enum Command {
    /// src/bench.rs's measurements on the worker's device (the GPU if it has
    /// WebGPU and `force_cpu` is off), then, for [`BenchRun::All`], our kernels' check.
    Bench { run: BenchRun, preset: Preset, seed: u64, steps: usize, force_cpu: bool },
    /// Runs the engine: the page's settings and the value of every mirrored signal.
    Start { params: Params, fields: Vec<Field> },
    /// The page's changes since its last sync; syncs are numbered from 1.
    Sync { number: u64, fields: Vec<Field> },
    /// A checkpoint file the user picked; its bytes travel beside the command.
    Import { name: String },
}

/// What the worker tells the page.
#[derive(Serialize, Deserialize)]
pub enum Event {
    /// The device it chose.
    Backend(BackendInfo),
    /// One measurement, as src/bench.rs reports it (JSON text: postcard carries
    /// no free-form values).
    Bench(String),
    Checks(Vec<Check>),
    BenchDone,
    /// The engine's changes, made after it had applied `seen` of the page's syncs;
    /// `turn_end`: made between two turns of its loop, where `rlhfStatus()` is
    /// consistent (mid-turn, PPO's iteration may be counted before its probe).
    View {
        seen: u64,
        fields: Vec<Field>,
        turn_end: bool,
    },
    /// A model to save as a file; its bytes travel beside the event.
    Download {
        name: String,
    },
    /// Something failed; the worker may go on with the next command.
    Failed(String),
    /// The worker panicked: its module is stopped, and it takes no more commands.
    Stopped(String),
}

/// A message as it travels: `[value]` or `[value, bytes]`, the value in postcard's
/// compact binary form. Binary, so NaN (a metric not measured) and u64s survive,
/// which JSON would not; and not self-describing, so serde's code for field and
/// variant names is left out of the download (measured: 45 KB gzipped less
/// than serde-wasm-bindgen). A text in place of the value is the boot script's word
/// that the worker could not start.
fn pack<T: Serialize>(message: &T, bytes: Option<&[u8]>) -> Result<js_sys::Array, String> {
    let value = postcard::to_allocvec(message).map_err(|e| format!("a message that does not serialise: {e}"))?;
    let out = js_sys::Array::of1(&js_sys::Uint8Array::from(value.as_slice()));
    if let Some(b) = bytes {
        out.push(&js_sys::Uint8Array::from(b));
    }
    Ok(out)
}

fn unpack<T: for<'a> Deserialize<'a>>(data: &JsValue) -> Result<(T, Option<Vec<u8>>), String> {
    let parts: &js_sys::Array = data.dyn_ref().ok_or("a message that is not an array")?;
    let first = parts.get(0);
    if let Some(text) = first.as_string() {
        return Err(text);
    }
    let value = first.dyn_ref::<js_sys::Uint8Array>().ok_or("a message without its value")?.to_vec();
    let message = postcard::from_bytes(&value).map_err(|e| format!("an unreadable message: {e}"))?;
    let bytes = parts.get(1).dyn_ref::<js_sys::Uint8Array>().map(js_sys::Uint8Array::to_vec);
    Ok((message, bytes))
}

/// In the worker, from `start`: takes commands and answers with events.
pub fn serve() {
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        post(&Event::Stopped(format!("the engine's worker stopped: {info}")), None);
    }));
    let scope: web_sys::DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let on_command = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(|e: web_sys::MessageEvent| match unpack::<Command>(&e.data()) {
        Ok((command, bytes)) => take(command, bytes),
        Err(err) => post(&Event::Failed(err), None),
    });
    scope.set_onmessage(Some(on_command.as_ref().unchecked_ref()));
    on_command.forget(); // lives as long as the worker
}

fn post(event: &Event, bytes: Option<&[u8]>) {
    let scope: web_sys::DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    match pack(event, bytes) {
        Ok(v) => {
            let _ = scope.post_message(&v);
        }
        Err(e) => web_sys::console::error_1(&e.into()),
    }
}

/// The engine's side of the mirror, in the worker.
struct Engine {
    ui: Ui,
    mirror: Mirror,
    /// How many of the page's syncs have been applied.
    seen: u64,
    /// Since the last turn's end was shown, a sync came from the page or a view
    /// went out mid-turn: show the next turn's end even if nothing changed since,
    /// so the page's status counts it.
    owed: bool,
    last_view: Option<Instant>,
}

thread_local! {
    static ENGINE: RefCell<Option<Engine>> = const { RefCell::new(None) };
}

/// How often the engine's changes go to the page at most: often enough for
/// live charts, seldom enough that the page's thread stays free.
const VIEW_EVERY: Duration = Duration::from_millis(40);

fn take(command: Command, bytes: Option<Vec<u8>>) {
    match command {
        Command::Bench { run, preset, seed, steps, force_cpu } => wasm_bindgen_futures::spawn_local(async move {
            let (backend, info) = choose_backend(force_cpu).await;
            post(&Event::Backend(info), None);
            measure(run, preset, seed, steps, &backend).await;
            post(&Event::BenchDone, None);
        }),
        Command::Start { params, fields } => {
            // A fresh session: the page's, whatever it kept, comes with the fields.
            let session = crate::session::Session::new(crate::session::Settings { lang: params.lang, ..Default::default() });
            let ui = Ui::new(params.lang, &params, session);
            // Seen there: the page's values, which it sends whole.
            let mut mirror = Mirror::default();
            mirror.apply(&ui, fields);
            ENGINE.with(|e| *e.borrow_mut() = Some(Engine { ui, mirror, seen: 0, owed: false, last_view: None }));
            crate::breathe::set(|| {
                Box::pin(async {
                    super::engine::yield_for_breath().await;
                    view(false);
                })
            });
            super::engine::spawn_with(params, ui, |_| view(true), download);
        }
        Command::Sync { number, fields } => ENGINE.with(|e| {
            if let Some(e) = e.borrow_mut().as_mut() {
                e.mirror.apply(&e.ui, fields);
                e.seen = number;
                e.owed = true;
            }
        }),
        Command::Import { name } => ENGINE.with(|e| {
            if let Some(e) = e.borrow().as_ref() {
                e.ui.keep.import.set(Some((name, bytes.unwrap_or_default())));
            }
        }),
    }
}

/// Posts the engine's changes, if there are any and the last view is old enough
/// (a turn's end that is owed is shown in any case).
fn view(turn_end: bool) {
    ENGINE.with(|e| {
        let mut e = e.borrow_mut();
        let Some(e) = e.as_mut() else { return };
        let owed = turn_end && e.owed;
        if !owed && e.last_view.is_some_and(|t| t.elapsed() < VIEW_EVERY) {
            return;
        }
        let fields = e.mirror.changed(&e.ui);
        if fields.is_empty() && !owed {
            return;
        }
        e.last_view = Some(Instant::now());
        e.owed = !turn_end;
        post(&Event::View { seen: e.seen, fields, turn_end }, None);
    });
}

/// In the worker: hands the page a model file to save.
fn download(bytes: &[u8], name: &str) -> Result<(), String> {
    post(&Event::Download { name: name.to_string() }, Some(bytes));
    Ok(())
}

/// On the page: the engine in a worker, the page's `ui` mirrored into it. An
/// error means no worker could be made (the caller runs the engine on the page);
/// a worker that fails before it says anything (no module workers, a blocked
/// script) hands the engine to the page's thread too: training goes on, only the
/// page's frames pay for it.
pub fn engine(params: &Params, ui: Ui) -> Result<(), String> {
    let worker = spawn()?;
    let (mirror, fields) = PageMirror::new(&ui);
    let mirror = Rc::new(RefCell::new(mirror));
    send(&worker, &Command::Start { params: params.clone(), fields }, None)?;
    let stopped = move |why: String| {
        ui.pretrain.running.set(false);
        super::show_fatal(&why);
    };
    let (started, on_page) = (Rc::new(Cell::new(false)), Rc::new(Cell::new(false)));
    let fall_back: Rc<dyn Fn(&str) -> bool> = {
        let (started, on_page, worker, params) = (started.clone(), on_page.clone(), worker.clone(), params.clone());
        Rc::new(move |why: &str| {
            if started.get() || on_page.replace(true) {
                return false;
            }
            worker.terminate();
            web_sys::console::warn_1(&format!("{why}; the engine runs on the page's thread").into());
            super::engine::spawn(params.clone(), ui);
            true
        })
    };
    let on_event = {
        let (mirror, fall_back) = (mirror.clone(), fall_back.clone());
        move |event: Result<(Event, Option<Vec<u8>>), String>| {
            started.set(started.get() || event.is_ok());
            match event {
                Ok((Event::View { seen, fields, turn_end }, _)) => {
                    mirror.borrow_mut().incoming(&ui, seen, fields);
                    if turn_end {
                        super::engine::publish_status(&ui);
                    }
                }
                Ok((Event::Download { name }, Some(bytes))) => {
                    if let Err(err) = super::storage::download(&bytes, &name, "application/octet-stream") {
                        ui.keep.error.set(Some(err));
                    }
                }
                Ok((Event::Failed(err), _)) => ui.error.set(Some(err)),
                Ok((Event::Stopped(err), _)) => stopped(err),
                Ok(_) => {}
                Err(err) => {
                    if !fall_back(&err) {
                        ui.error.set(Some(err))
                    }
                }
            }
        }
    };
    listen(&worker, on_event, move |e| {
        let why = format!("the engine's worker failed: {e}");
        if !fall_back(&why) {
            stopped(why)
        }
    });
    // The page's changes go out on every turn of a short timer: a click reaches
    // the engine within a few milliseconds, and typing is sent as it settles.
    let on_tick = Closure::<dyn FnMut()>::new(move || {
        if on_page.get() {
            return;
        }
        if let Some((name, bytes)) = ui.keep.import.get_untracked() {
            ui.keep.import.set(None);
            if let Err(err) = send(&worker, &Command::Import { name }, Some(&bytes)) {
                ui.keep.error.set(Some(err));
            }
        }
        let outgoing = mirror.borrow_mut().outgoing(&ui);
        // `rlhfStatus()` counts these at the end of the engine's next turn, as it
        // did with the engine on the page.
        if let Some((number, fields)) = outgoing
            && let Err(err) = send(&worker, &Command::Sync { number, fields }, None)
        {
            ui.error.set(Some(err));
        }
    });
    let window = web_sys::window().ok_or("no window")?;
    window
        .set_interval_with_callback_and_timeout_and_arguments_0(on_tick.as_ref().unchecked_ref(), 16)
        .map_err(|e| format!("no timer: {e:?}"))?;
    on_tick.forget();
    Ok(())
}

/// src/bench.rs's measurements, each posted as it is done.
async fn measure(run: BenchRun, preset: Preset, seed: u64, steps: usize, backend: &crate::backend::Backend) {
    use crate::bench;
    let device = &backend.device;
    let each = |v: Result<Vec<serde_json::Value>, crate::TrainError>| match v {
        Ok(rows) => rows.into_iter().for_each(|r| post(&Event::Bench(r.to_string()), None)),
        Err(e) => post(&Event::Bench(serde_json::json!({ "error": e.to_string() }).to_string()), None),
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
    match crate::kernel_check::check(backend, seed).await {
        Ok(c) => post(&Event::Checks(c), None),
        Err(e) => post(&Event::Failed(e.to_string()), None),
    }
}

/// On the page: `?bench=` in a worker of its own. Its measurements go into
/// `rlhfStatus().bench` (the device first, as `{"bench": "worker", …}`), the
/// kernel check into the "look inside" view; the worker ends when it is done.
pub fn bench(run: BenchRun, params: &Params, ui: Ui) {
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
    let on_event = move |event: Result<(Event, Option<Vec<u8>>), String>| {
        match event.map(|(e, _)| e) {
            Ok(Event::Backend(info)) => status::update(|s| {
                let backend = if info.webgpu { "webgpu" } else { "cpu" };
                s.bench.push(serde_json::json!({ "bench": "worker", "backend": backend, "adapter": info.adapter, "note": info.note }))
            }),
            Ok(Event::Bench(v)) => status::update(|s| s.bench.push(serde_json::from_str(&v).unwrap_or_default())),
            Ok(Event::Checks(c)) => {
                status::update(|s| s.kernel_checks = c.clone()); // before bench_done, as the engine would
                ui.inside.update(|v| v.checks = c);
            }
            Ok(Event::BenchDone) => {
                status::update(|s| s.bench_done = true);
                handle.terminate(); // gives its device back
            }
            Ok(Event::Failed(e)) => status::update(|s| s.bench.push(serde_json::json!({ "error": e }))),
            Ok(Event::View { .. } | Event::Download { .. }) => {} // the engine's, not the bench's
            Ok(Event::Stopped(e)) => {
                failed(e);
                handle.terminate();
            }
            Err(err) => failed(format!("an unreadable event from the worker: {err}")),
        }
    };
    listen(&worker, on_event, move |e| failed(format!("the engine worker failed: {e}")));
    if let Err(e) = send(&worker, &command, None) {
        failed(e);
    }
}

/// Posts `command` to a worker, a file's bytes beside it.
fn send(worker: &web_sys::Worker, command: &Command, bytes: Option<&[u8]>) -> Result<(), String> {
    let message = pack(command, bytes)?;
    worker.post_message(&message).map_err(|e| format!("the worker took no command: {e:?}"))
}

/// Hands a worker's events (or why one was unreadable) and its failure to the
/// page, for as long as the page lives.
fn listen(
    worker: &web_sys::Worker,
    mut on_event: impl FnMut(Result<(Event, Option<Vec<u8>>), String>) + 'static,
    mut on_error: impl FnMut(String) + 'static,
) {
    let on_message = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| on_event(unpack(&e.data())));
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();
    let on_failure = Closure::<dyn FnMut(web_sys::ErrorEvent)>::new(move |e: web_sys::ErrorEvent| on_error(e.message()));
    worker.set_onerror(Some(on_failure.as_ref().unchecked_ref()));
    on_failure.forget();
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
    self.postMessage(['the engine worker could not start: ' + err]);
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
