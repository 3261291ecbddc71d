//! The page: a thin leptos layer over the compute core. It renders what the core
//! computed and sends the user's commands to the [`engine`] task that owns it.

mod chart;
mod controls;
mod dpo_stage;
mod engine;
mod eval_panel;
mod eval_stage;
mod heatmap;
mod i18n;
mod inside_panel;
mod keep;
mod keep_panel;
mod keep_stage;
mod mirror;
mod overopt_panel;
mod ppo_panel;
mod ppo_stage;
mod pretrain_panel;
mod rank_panel;
mod reward_panel;
mod reward_stage;
mod sft_panel;
mod stages;
mod status;
mod storage;
mod view;
mod worker;

use crate::corpus::Lang;
use crate::model::Preset;
use i18n::tr;
use leptos::prelude::*;
use view::{Tab, Ui};
use wasm_bindgen::prelude::*;

/// What `?bench=` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum BenchRun {
    /// `1`: every benchmark, then our kernels' check.
    All,
    /// `rollout`: only a rollout's generation, all prompts together beside prompt
    /// by prompt.
    Rollout,
}

/// Settings read from the URL, so a set-up can be shared as a link. Out-of-range
/// values are clamped to what the page allows; unreadable ones are ignored. The
/// engine's worker gets them whole.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Params {
    pub preset: Preset,
    pub seed: u64,
    pub lang: Lang,
    /// `backend=cpu` skips WebGPU (to compare, or where a GPU driver misbehaves).
    pub force_cpu: bool,
    /// `engine=page` trains on the page's own thread instead of a worker (to
    /// compare; the page falls back to it where no worker starts).
    pub engine_on_page: bool,
    /// `k`: answers sampled per prompt for ranking (4–9).
    pub k: usize,
    /// `rm_lr`, `rm_heldout`: the reward model's learning rate, and how many unseen
    /// prompts the persona ranks to measure its held-out accuracy.
    pub rm_lr: f64,
    pub rm_heldout: usize,
    /// `beta`, `ptx`, `ppo_lr`, `ppo_k`: PPO's KL weight, γ_ptx, learning rate and
    /// answers per prompt (the panel's controls start from these).
    pub beta: f32,
    pub gamma_ptx: f32,
    pub ppo_lr: f64,
    pub ppo_k: usize,
    /// `ppo_rollout`, `ppo_epochs`, `ppo_tokens`, `watch_every`: the size of a PPO
    /// iteration and how often watched prompts are re-answered — smaller values make
    /// each iteration quick on a software GPU (the e2e tests use them).
    pub ppo_rollout: usize,
    pub ppo_epochs: usize,
    pub ppo_tokens: usize,
    pub watch_every: usize,
    /// `beside`: the PPO run trained beside the main one (`none`, `beta0`, `ptx`).
    pub beside: view::ppo::Beside,
    /// `overopt_every`, `probe_prompts`, `probe_pool`: PPO iterations between the
    /// over-optimisation chart's probes (0: none), the held-out questions each probe
    /// asks (4 answers each), and the SFT answers per question best-of-n picks from.
    pub overopt_every: usize,
    pub probe_prompts: usize,
    pub probe_pool: usize,
    /// `dpo_beta`, `dpo_lr`: DPO's β and learning rate (the panel starts from them).
    pub dpo_beta: f32,
    pub dpo_lr: f64,
    /// `eval_prompts`: unseen prompts in the blind evaluation.
    pub eval_prompts: usize,
    /// `bench=1` or `bench=rollout`: which benchmarks of src/bench.rs to run on
    /// this device once the page is ready (reported in `rlhfStatus().bench`).
    pub bench: Option<BenchRun>,
    /// `bench_steps`: the pretraining steps `bench=1` times (10: a software GPU
    /// takes seconds a step; the CPU backend's figure steadies over more).
    pub bench_steps: usize,
    /// Teacher links: `resume=1` resumes the work this browser kept without asking;
    /// `models=URL,…` imports these safetensors files (a course's checkpoints) in
    /// order; `open=STAGE` opens that panel; `hide=…` hides stage tabs and bars a
    /// lesson does not need (`pretrain`, …, `evaluate`, `keep`, `session`, `inside`).
    pub resume: bool,
    pub models: Vec<String>,
    pub open: Option<Tab>,
    pub hide: Vec<String>,
    /// The parameter names the URL gave (the others may come from the kept session).
    pub named: Vec<String>,
}

impl Params {
    fn from_url() -> Self {
        let search = web_sys::window().and_then(|w| w.location().search().ok()).unwrap_or_default();
        let q = web_sys::UrlSearchParams::new_with_str(&search).ok();
        let get = |k: &str| q.as_ref().and_then(|q| q.get(k));
        let num = |k: &str, lo: f64, hi: f64, default: f64| {
            get(k).and_then(|v| v.trim().parse::<f64>().ok()).filter(|v| v.is_finite()).map_or(default, |v| v.clamp(lo, hi))
        };
        // The runner's recipe and defaults; the URL may change them (docs/automation.md).
        let preset = get("preset").and_then(|p| Preset::parse(&p)).unwrap_or(Preset::Small);
        let ppo = crate::stages::ppo::PpoSettings::for_preset(preset);
        Self {
            preset,
            seed: get("seed").and_then(|s| s.trim().parse().ok()).unwrap_or(1),
            lang: get("lang").and_then(|l| Lang::parse(&l)).unwrap_or_default(),
            force_cpu: get("backend").is_some_and(|b| b.eq_ignore_ascii_case("cpu")),
            engine_on_page: get("engine").is_some_and(|e| e.eq_ignore_ascii_case("page")),
            k: num("k", crate::rank::K_MIN as f64, crate::rank::K_MAX as f64, crate::rank::K_MAX as f64) as usize,
            rm_lr: num("rm_lr", 1e-6, 1e-1, crate::stages::reward::RewardSettings::default().lr),
            rm_heldout: num("rm_heldout", 1.0, 20.0, 6.0) as usize,
            beta: num("beta", 0.0, 10.0, ppo.beta as f64) as f32,
            gamma_ptx: num("ptx", 0.0, 10.0, ppo.gamma_ptx as f64) as f32,
            ppo_lr: num("ppo_lr", 1e-6, 1e-1, ppo.recipe.lr),
            ppo_k: num("ppo_k", 1.0, 8.0, ppo.recipe.samples_per_prompt as f64) as usize,
            ppo_rollout: num("ppo_rollout", 1.0, 64.0, ppo.recipe.rollout as f64) as usize,
            ppo_epochs: num("ppo_epochs", 1.0, 8.0, ppo.recipe.epochs as f64) as usize,
            ppo_tokens: num("ppo_tokens", 4.0, 64.0, ppo.recipe.max_new_tokens as f64) as usize,
            watch_every: num("watch_every", 1.0, 100.0, 5.0) as usize,
            beside: get("beside").map_or(view::ppo::Beside::None, |b| view::ppo::Beside::parse(&b)),
            overopt_every: num("overopt_every", 0.0, 100.0, 5.0) as usize,
            probe_prompts: num("probe_prompts", 1.0, 42.0, 8.0) as usize,
            probe_pool: num("probe_pool", 1.0, 64.0, 16.0) as usize,
            dpo_beta: num("dpo_beta", 0.001, 10.0, crate::stages::dpo::DpoSettings::default().beta as f64) as f32,
            dpo_lr: num("dpo_lr", 1e-6, 1e-1, crate::stages::dpo::DpoSettings::default().lr),
            eval_prompts: num("eval_prompts", 1.0, 40.0, 10.0) as usize,
            bench: match get("bench").as_deref() {
                Some("1") => Some(BenchRun::All),
                Some("rollout") => Some(BenchRun::Rollout),
                _ => None,
            },
            bench_steps: num("bench_steps", 1.0, 1000.0, 10.0) as usize,
            resume: get("resume").is_some_and(|r| r == "1"),
            // Whole addresses: the engine's worker resolves nothing against the page.
            models: get("models").map(|m| m.split(',').map(|u| absolute(u.trim())).filter(|u| !u.is_empty()).collect()).unwrap_or_default(),
            open: get("open").and_then(|t| Tab::parse(t.trim())),
            hide: get("hide").map(|h| h.split(',').map(|x| x.trim().to_ascii_lowercase()).collect()).unwrap_or_default(),
            named: q
                .as_ref()
                .map(|q| js_sys::Array::from(&JsValue::from(q.keys())).iter().filter_map(|k| k.as_string()).collect())
                .unwrap_or_default(),
        }
    }

    pub fn given(&self, key: &str) -> bool {
        self.named.iter().any(|k| k == key)
    }

    /// Whether a teacher link hid this tab or bar.
    pub fn hides(&self, name: &str) -> bool {
        self.hide.iter().any(|h| h == name)
    }
}

/// `url` resolved against the page's address (unchanged if it cannot be).
fn absolute(url: &str) -> String {
    let base = web_sys::window().and_then(|w| w.location().href().ok());
    match base.and_then(|b| web_sys::Url::new_with_base(url, &b).ok()) {
        Some(u) if !url.is_empty() => u.href(),
        _ => url.to_string(),
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
    // The same module in the engine's worker (no window there): no page to mount.
    if web_sys::window().is_none() {
        worker::serve();
        return;
    }
    // A panic stops the wasm module; the user sees why in a box at the top, and the
    // labels, saved after every change, are still in the browser.
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        show_fatal(&info.to_string());
    }));
    status::install_global();
    leptos::mount::mount_to_body(App);
}

/// Writes the panic into the page with plain DOM calls (the reactive system may be
/// what broke).
pub(crate) fn show_fatal(message: &str) {
    let Some(doc) = web_sys::window().and_then(|w| w.document()) else { return };
    let Ok(div) = doc.create_element("div") else { return };
    div.set_class_name("error fatal");
    let _ = div.set_attribute("role", "alert");
    let _ = div.set_attribute("data-testid", "fatal");
    div.set_text_content(Some(&format!(
        "Something broke inside the page and it stopped: {message}. Your labels and demonstrations are kept in this browser — reload the page to go on. / 页面内部出错并已停止：{message}。你的标注和示范仍保存在本浏览器中——刷新页面即可继续。"
    )));
    if let Some(body) = doc.body() {
        let _ = body.prepend_with_node_1(&div);
    }
}

/// The global scope's `navigator`: the page's window or the engine worker's.
pub fn navigator() -> Option<wasm_bindgen::JsValue> {
    use wasm_bindgen::JsValue;
    js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("navigator")).ok().filter(|n| !n.is_undefined())
}

#[component]
fn App() -> impl IntoView {
    let params = Params::from_url();
    let ui = Ui::new(params.lang, &params, storage::load_session(params.lang));
    // The engine trains in a worker, so the page's thread only renders; on the page
    // itself where no worker starts (the page breathes between its steps).
    let in_worker = !params.engine_on_page && worker::engine(&params, ui).map_err(|e| web_sys::console::warn_1(&e.into())).is_ok();
    if !in_worker {
        engine::spawn(params.clone(), ui);
    }
    // `?bench=`: in a worker of its own, once the page is ready.
    if let Some(run) = params.bench {
        let params = params.clone();
        Effect::new(move |started: Option<bool>| {
            if started == Some(true) {
                return true;
            }
            let ready = ui.ready.get();
            if ready {
                worker::bench(run, &params, ui);
            }
            ready
        });
    }
    // Settings changed on the page are written into the kept session (and so into
    // an export); the first run stores the page's starting settings.
    Effect::new(move |_| {
        let (_, _, _, _) = (ui.rank.k.get(), ui.ppo.beta.get(), ui.ppo.gamma_ptx.get(), ui.rank.weights.get());
        let settings = ui.settings();
        if ui.session.with_untracked(|s| s.settings != settings) {
            ui.session.update(|s| s.settings = settings);
            let _ = ui.session.with_untracked(storage::save_session);
        }
    });
    // Page-wide: the language every panel speaks, and every stage's Start/Pause
    // (one stage trains at a time). Each panel gets only its own stage's signals.
    let lang = ui.lang;
    provide_context(lang);
    provide_context(ui.runs());
    let backend_line = move || {
        let l = lang.get();
        match ui.backend.get() {
            None => tr(l, "Looking for a GPU…", "正在寻找 GPU…").to_string(),
            Some(b) if b.webgpu => format!("{} {}", tr(l, "WebGPU on", "WebGPU："), b.adapter.unwrap_or_default()),
            Some(b) => format!("{} {}", tr(l, "CPU (burn flex) —", "CPU（burn flex）——"), b.note),
        }
    };
    // The models that exist now, for the export buttons.
    let made = Signal::derive(move || {
        use crate::checkpoint::Role;
        let mut v = vec![];
        if ui.pretrain.step.get() > 0 {
            v.push(Role::Pretrained);
        }
        if ui.sft.step.get() > 0 {
            v.push(Role::Sft);
        }
        if ui.rm.step.get() > 0 {
            v.push(Role::RewardModel);
        }
        if ui.ppo.iteration.get() > 0 {
            v.extend([Role::Policy, Role::Value]);
        }
        v
    });
    // The stepper: each stage opens once the one before it has run.
    let open = |f: fn(&Ui) -> bool| Signal::derive(move || f(&ui));
    let tabs = [
        (Tab::Pretrain, ("1 · Pretrain", "1 · 预训练"), open(|_| true), ("", "")),
        (Tab::Sft, ("2 · SFT", "2 · 监督微调"), open(|ui| ui.pretrain.step.get() > 0), ("after at least one pretraining step", "至少预训练一步之后")),
        (Tab::Rank, ("3 · Rank", "3 · 排序"), open(|ui| ui.sft.step.get() > 0), ("after at least one SFT step", "至少微调一步之后")),
        (Tab::Reward, ("4 · Reward model", "4 · 奖励模型"), open(|ui| ui.session.with(|s| s.pair_counts() != (0, 0))), ("after at least one ranked pair", "至少有一对排序之后")),
        (Tab::Ppo, ("5 · PPO", "5 · PPO"), open(|ui| ui.rm.step.get() > 0), ("after at least one reward-model step", "奖励模型至少训练一步之后")),
        (Tab::Evaluate, ("6 · Evaluate", "6 · 评估"), open(|ui| ui.ppo.iteration.get() > 0), ("after at least one PPO iteration", "PPO 至少迭代一次之后")),
    ]
    .into_iter()
    .filter(|(tab, ..)| !params.hides(tab.name()))
    .map(|(tab, name, open, why)| {
        view! {
            <button class="stage" data-testid=format!("tab-{}", tab.name()) class:current=move || ui.tab.get() == tab disabled=move || !open.get()
                title=move || tr(lang.get(), why.0, why.1) on:click=move |_| ui.tab.set(tab)>
                {move || tr(lang.get(), name.0, name.1)}
            </button>
        }
    })
    .collect_view();
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
            {tabs}
        </nav>
        {(!params.hides("session")).then(|| view! { <rank_panel::SessionBar settings=ui.settings_ui() error=ui.error /> })}
        {(!params.hides("keep")).then(|| view! { <keep_panel::KeepBar keep=ui.keep lang=ui.lang made=made /> })}
        <Show when=move || ui.error.get().is_some()>
            <div class="error" role="alert" data-testid="error">{move || ui.error.get().unwrap_or_default()}</div>
        </Show>
        <main>
            <div hidden=move || ui.tab.get() != Tab::Pretrain>
                <pretrain_panel::PretrainPanel pretrain=ui.pretrain ready=ui.ready preset=params.preset />
            </div>
            <div hidden=move || ui.tab.get() != Tab::Sft>
                <sft_panel::SftPanel sft=ui.sft session=ui.session world=ui.world ready=ui.ready error=ui.error />
            </div>
            <div hidden=move || ui.tab.get() != Tab::Rank>
                <rank_panel::RankPanel rank=ui.rank session=ui.session sft_step=ui.sft.step sft_running=ui.sft.running error=ui.error />
            </div>
            <div hidden=move || ui.tab.get() != Tab::Reward>
                <reward_panel::RewardPanel rm=ui.rm session=ui.session sft_step=ui.sft.step />
            </div>
            <div hidden=move || ui.tab.get() != Tab::Ppo>
                <ppo_panel::PpoPanel ppo=ui.ppo dpo=ui.dpo rm_step=ui.rm.step sft_step=ui.sft.step session=ui.session />
            </div>
            <div hidden=move || ui.tab.get() != Tab::Evaluate>
                <eval_panel::EvalPanel ev=ui.eval ppo_iteration=ui.ppo.iteration dpo_points=ui.dpo.points />
            </div>
            {(!params.hides("inside")).then(|| view! { <inside_panel::InsidePanel inside=ui.inside kernel_check_requests=ui.kernel_check_requests backend=ui.backend ready=ui.ready /> })}
        </main>
    }
}
