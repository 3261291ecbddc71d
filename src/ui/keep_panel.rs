//! "Your models": what this browser keeps of the trained models, the offer to
//! resume after a reload, start over, and each model out (safetensors) or in.

use super::i18n::tr;
use super::view::keep::{KeepBusy, KeepUi};
use crate::checkpoint::Role;
use crate::corpus::Lang;
use leptos::prelude::*;
use wasm_bindgen::JsCast;

fn role_name(lang: Lang, role: Role) -> &'static str {
    match role {
        Role::Pretrained => tr(lang, "pretrained", "预训练模型"),
        Role::Sft => tr(lang, "SFT", "SFT 模型"),
        Role::RewardModel => tr(lang, "reward model", "奖励模型"),
        Role::Policy => tr(lang, "PPO policy", "PPO 策略"),
        Role::Value => tr(lang, "value network", "价值网络"),
    }
}

/// `made`: the models that exist on the page now (what can be exported).
#[component]
pub fn KeepBar(keep: KeepUi, lang: RwSignal<Lang>, made: Signal<Vec<Role>>) -> impl IntoView {
    let kept_line = move |models: &std::collections::BTreeMap<String, usize>| {
        let l = lang.get();
        Role::ALL
            .iter()
            .filter_map(|&r| models.get(r.name()).map(|s| format!("{} ({s} {})", role_name(l, r), tr(l, "steps", "步"))))
            .chain(models.get("dpo").map(|s| format!("{} ({s} {})", tr(l, "DPO policy", "DPO 策略"), tr(l, "steps", "步"))))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let offer_line = move || {
        keep.offer.get().map(|p| {
            let l = lang.get();
            let at = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(p.saved_at_ms));
            let when = at.to_locale_time_string("default").as_string().unwrap_or_default();
            format!(
                "{} {} — {} {when}.",
                tr(l, "This browser kept your work for these settings:", "本浏览器为这些设置保存了你的工作："),
                kept_line(&p.models),
                tr(l, "saved at", "保存于")
            )
        })
    };
    let status = move || {
        let l = lang.get();
        let kept = keep.kept.get();
        if kept.is_empty() {
            tr(
                l,
                "Your models: none kept in this browser yet (kept when a stage pauses).",
                "你的模型：本浏览器尚未保存（阶段暂停时保存）。",
            )
            .to_string()
        } else {
            format!("{} {}", tr(l, "Your models, kept in this browser:", "你的模型（保存在本浏览器）："), kept_line(&kept))
        }
    };
    let on_import = move |ev: leptos::ev::Event| {
        let Some(input) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()) else { return };
        let Some(file) = input.files().and_then(|f| f.get(0)) else { return };
        input.set_value("");
        leptos::task::spawn_local(async move {
            match super::storage::read_bytes(&file).await {
                Ok(bytes) => keep.import.set(Some((file.name(), bytes))),
                Err(e) => keep.error.set(Some(e)),
            }
        });
    };
    let exports = move || {
        made.get()
            .into_iter()
            .map(|role| {
                view! {
                    <button data-testid=format!("export-{}", role.name()) on:click=move |_| keep.export.set(Some(role))
                        title=move || tr(lang.get(), "download as safetensors (loads in PyTorch; see docs/building.md)", "下载为 safetensors（可在 PyTorch 中加载）")>
                        {move || format!("⬇ {}", role_name(lang.get(), role))}
                    </button>
                }
            })
            .collect_view()
    };
    view! {
        <div class="keep-bar" data-testid="keep-bar">
            <Show when=move || keep.offer.get().is_some()>
                <div class="offer" role="status" data-testid="resume-offer">
                    <span>{offer_line}</span>
                    <button data-testid="resume" on:click=move |_| keep.resume_requests.update(|n| *n += 1)>{move || tr(lang.get(), "Resume where you stopped", "从上次停下的地方继续")}</button>
                    <button data-testid="start-over" on:click=move |_| keep.forget_requests.update(|n| *n += 1)>{move || tr(lang.get(), "Start over", "重新开始")}</button>
                </div>
            </Show>
            <div class="controls">
                <span class="stat" data-testid="kept">{status}</span>
                {exports}
                <label class="file">{move || tr(lang.get(), "Import a model: ", "导入模型：")}
                    <input type="file" accept=".safetensors" data-testid="model-import" on:change=on_import />
                </label>
                <button data-testid="forget" on:click=move |_| keep.forget_requests.update(|n| *n += 1)
                    title=move || tr(lang.get(), "forget the kept models and start from an untrained GPT (your labels stay)", "删除保存的模型，从未训练的 GPT 重新开始（标注保留）")>
                    {move || tr(lang.get(), "Start over", "重新开始")}
                </button>
                <span class="muted small" data-testid="keep-busy">{move || {
                    let l = lang.get();
                    match keep.busy.get() {
                        Some(KeepBusy::Keeping) => tr(l, "keeping…", "正在保存…"),
                        Some(KeepBusy::Resuming) => tr(l, "resuming…", "正在恢复…"),
                        Some(KeepBusy::ResumingPpo) => tr(l, "resuming PPO…", "正在恢复 PPO…"),
                        Some(KeepBusy::Exporting) => tr(l, "exporting…", "正在导出…"),
                        None => "",
                    }
                }}</span>
                <span class="stat" data-testid="keep-note">{move || keep.note.get().unwrap_or_default()}</span>
            </div>
            <Show when=move || keep.error.get().is_some()>
                <div class="error" role="alert" data-testid="keep-error">{move || format!("{} {}", tr(lang.get(), "Models:", "模型："), keep.error.get().unwrap_or_default())}</div>
            </Show>
        </div>
    }
}
