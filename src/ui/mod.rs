//! The page: a thin leptos layer over the compute core. It renders what the core
//! computed and sends the user's commands to the [`engine`] task that owns it.

mod chart;
mod engine;
mod heatmap;
mod i18n;
mod pretrain_panel;
mod rank_panel;
mod sft_panel;
mod stages;
mod status;
mod storage;

use crate::corpus::Lang;
use crate::model::Preset;
use engine::{Tab, Ui};
use i18n::tr;
use leptos::prelude::*;
use wasm_bindgen::prelude::*;

/// Settings read from the URL, so a set-up can be shared as a link.
#[derive(Clone, Debug)]
pub struct Params {
    pub preset: Preset,
    pub seed: u64,
    pub lang: Lang,
    /// `backend=cpu` skips WebGPU (to compare, or where a GPU driver misbehaves).
    pub force_cpu: bool,
}

impl Params {
    fn from_url() -> Self {
        let search = web_sys::window().and_then(|w| w.location().search().ok()).unwrap_or_default();
        let q = web_sys::UrlSearchParams::new_with_str(&search).ok();
        let get = |k: &str| q.as_ref().and_then(|q| q.get(k));
        Self {
            preset: get("preset").and_then(|p| Preset::parse(&p)).unwrap_or(Preset::Small),
            seed: get("seed").and_then(|s| s.trim().parse().ok()).unwrap_or(1),
            lang: get("lang").and_then(|l| Lang::parse(&l)).unwrap_or_default(),
            force_cpu: get("backend").is_some_and(|b| b.eq_ignore_ascii_case("cpu")),
        }
    }
}

unsafe extern "C" {
    /// Synthesised by wasm-ld: runs the static constructors (cubecl and burn register
    /// their kernels and dialects through `inventory`).
    fn __wasm_call_ctors();
}

#[wasm_bindgen(start)]
pub fn start() {
    // Calling the constructors ourselves, once, tells wasm-ld this is not a
    // "command" module; otherwise it wraps *every* export so the constructors re-run
    // on each call from JS (each callback, each resolved GPU promise) — measured:
    // most of the main thread's time during training went there.
    // SAFETY: called once, first thing, before any code that relies on them.
    unsafe { __wasm_call_ctors() };
    console_error_panic_hook::set_once();
    status::install_global();
    leptos::mount::mount_to_body(App);
}

#[component]
fn App() -> impl IntoView {
    let params = Params::from_url();
    let ui = Ui::new(params.lang);
    engine::spawn(params.clone(), ui);
    let lang = ui.lang;
    let backend_line = move || {
        let l = lang.get();
        match ui.backend.get() {
            None => tr(l, "Looking for a GPU…", "正在寻找 GPU…").to_string(),
            Some(b) if b.webgpu => format!("{} {}", tr(l, "WebGPU on", "WebGPU："), b.adapter.unwrap_or_default()),
            Some(b) => format!("{} {}", tr(l, "CPU (burn flex) —", "CPU（burn flex）——"), b.note),
        }
    };
    view! {
        <header class="top">
            <h1>{move || tr(lang.get(), "rlhf-playground: train a tiny ChatGPT", "rlhf-playground：亲手训练一个小 ChatGPT")}</h1>
            <div class="top-right">
                <span class="backend" data-testid="backend" class:cpu=move || ui.backend.get().is_some_and(|b| !b.webgpu)>{backend_line}</span>
                <select data-testid="lang" aria-label="language"
                    on:change=move |ev| { if let Some(l) = Lang::parse(&event_target_value(&ev)) { lang.set(l) } }
                    prop:value=move || lang.get().code().to_string()>
                    <option value="en">"English"</option>
                    <option value="zh">"简体中文"</option>
                </select>
            </div>
        </header>
        <nav class="stages" data-testid="stages" aria-label="stages">
            <button class="stage" data-testid="tab-pretrain" class:current=move || ui.tab.get() == Tab::Pretrain on:click=move |_| ui.tab.set(Tab::Pretrain)>
                {move || tr(lang.get(), "1 · Pretrain", "1 · 预训练")}
            </button>
            <button class="stage" data-testid="tab-sft" class:current=move || ui.tab.get() == Tab::Sft disabled=move || ui.step.get() == 0
                title=move || tr(lang.get(), "after at least one pretraining step", "至少预训练一步之后")
                on:click=move |_| ui.tab.set(Tab::Sft)>
                {move || tr(lang.get(), "2 · SFT", "2 · 监督微调")}
            </button>
            <button class="stage" data-testid="tab-rank" class:current=move || ui.tab.get() == Tab::Rank disabled=move || ui.sft_step.get() == 0
                title=move || tr(lang.get(), "after at least one SFT step", "至少微调一步之后")
                on:click=move |_| ui.tab.set(Tab::Rank)>
                {move || tr(lang.get(), "3 · Rank", "3 · 排序")}
            </button>
            <span class="stage later" title="coming next">{move || tr(lang.get(), "4 · Reward model", "4 · 奖励模型")}</span>
            <span class="stage later" title="coming next">{move || tr(lang.get(), "5 · PPO", "5 · PPO")}</span>
            <span class="stage later" title="coming next">{move || tr(lang.get(), "6 · Evaluate", "6 · 评估")}</span>
        </nav>
        <rank_panel::SessionBar ui=ui />
        <Show when=move || ui.error.get().is_some()>
            <div class="error" role="alert" data-testid="error">{move || ui.error.get().unwrap_or_default()}</div>
        </Show>
        <main>
            <div hidden=move || ui.tab.get() != Tab::Pretrain>
                <pretrain_panel::PretrainPanel ui=ui preset=params.preset />
            </div>
            <div hidden=move || ui.tab.get() != Tab::Sft>
                <sft_panel::SftPanel ui=ui />
            </div>
            <div hidden=move || ui.tab.get() != Tab::Rank>
                <rank_panel::RankPanel ui=ui />
            </div>
        </main>
    }
}
