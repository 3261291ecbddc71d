//! Start / Pause / Step, the same three buttons on every stage that trains.
//! Starting or stepping one stage pauses the others: one model trains at a time.

use super::i18n::tr;
use super::view::Runs;
use crate::corpus::Lang;
use leptos::prelude::*;

#[component]
pub fn RunControls(
    running: RwSignal<bool>,
    step_requests: RwSignal<u64>,
    #[prop(into)] enabled: Signal<bool>,
    prefix: &'static str,
) -> impl IntoView {
    let (lang, runs) = (expect_context::<RwSignal<Lang>>(), expect_context::<Runs>());
    view! {
        <button data-testid=format!("{prefix}-start") disabled=move || running.get() || !enabled.get()
            on:click=move |_| { runs.pause_all(); running.set(true) }>
            {move || tr(lang.get(), "▶ Start", "▶ 开始")}
        </button>
        <button data-testid=format!("{prefix}-pause") disabled=move || !running.get() on:click=move |_| running.set(false)>
            {move || tr(lang.get(), "❚❚ Pause", "❚❚ 暂停")}
        </button>
        <button data-testid=format!("{prefix}-step") disabled=move || running.get() || !enabled.get()
            on:click=move |_| { runs.pause_all(); step_requests.update(|n| *n += 1) }>
            {move || tr(lang.get(), "Step", "单步")}
        </button>
    }
}

/// A panel's title and its plain-language explanation of what the stage does and
/// why, in both languages.
#[component]
pub fn Intro(
    lang: RwSignal<crate::corpus::Lang>,
    title: (&'static str, &'static str),
    explain: (&'static str, &'static str),
) -> impl IntoView {
    view! {
        <h2>{move || tr(lang.get(), title.0, title.1)}</h2>
        <p class="explain">{move || tr(lang.get(), explain.0, explain.1)}</p>
    }
}
