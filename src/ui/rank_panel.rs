//! Stage 3, ranking: K answers the SFT model sampled for one prompt, ordered by
//! the user — keyboard (arrows move, a number key places, "=" ties with the answer
//! above) or the ▲/▼ buttons — or by the persona; the ranking becomes its pairs
//! live. Every saved ranking goes into the session, kept in the browser.

use super::controls::Intro;
use super::i18n::tr;
use super::storage;
use super::view::{RankUi, SettingsUi};
use crate::corpus::Lang;
use crate::persona::{Persona, Weights};
use crate::rank::{Comparison, K_MAX, K_MIN, Labeler, move_answer, pairs_from_ranking, set_place, tie_with_above};
use crate::sft;
use leptos::prelude::*;
use rand::SeedableRng;
use wasm_bindgen::JsCast;

fn focus_answer(i: usize) {
    request_animation_frame(move || {
        if let Some(el) = document().get_element_by_id(&format!("rank-item-{i}")).and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok()) {
            let _ = el.focus();
        }
    });
}

#[component]
pub fn RankPanel(
    rank: RankUi,
    session: RwSignal<crate::session::Session>,
    sft_step: RwSignal<usize>,
    sft_running: RwSignal<bool>,
    error: RwSignal<Option<String>>,
) -> impl IntoView {
    let lang = expect_context::<RwSignal<Lang>>();
    let prompts = move || sft::prompts(lang.get()).rl;
    // Go on where the saved session stopped.
    let index = RwSignal::new(session.with_untracked(|s| s.comparisons.len()));
    let ranks = RwSignal::new(Vec::<u32>::new());
    let labeler = RwSignal::new(Labeler::Human);
    let weights = rank.weights;
    // Drag and drop by the handle, with pointer events: one code path for mouse,
    // touch and pen (HTML5 drag and drop never fires on touch screens).
    let dragging = RwSignal::new(None::<usize>);
    let drop_place = RwSignal::new(None::<u32>);

    // New answers: the sampled order, no ties, ranked by nobody yet.
    Effect::new(move |_| {
        let n = rank.answers.with(Vec::len);
        ranks.set((0..n as u32).collect());
        labeler.set(Labeler::Human);
    });

    let current_prompt = move || {
        let ps = prompts();
        ps[index.get() % ps.len()].clone()
    };
    let sample = move || {
        rank.prompt.set(current_prompt());
        rank.answers.set(vec![]);
        rank.sampling.set(true);
        rank.requests.update(|n| *n += 1);
    };
    let can_sample = move || sft_step.get() > 0 && !rank.sampling.get() && !sft_running.get();
    let have = move || !rank.answers.with(Vec::is_empty) && !rank.sampling.get();
    let change = move |new: Vec<u32>, i: usize| {
        ranks.set(new);
        labeler.set(Labeler::Human);
        focus_answer(i);
    };
    let save = move || {
        let answers = rank.answers.get_untracked();
        if answers.is_empty() {
            return;
        }
        let c = Comparison {
            prompt: rank.prompt.get_untracked(),
            pairs: pairs_from_ranking(&ranks.get_untracked()),
            answers,
            labeler: labeler.get_untracked(),
        };
        session.update(|s| s.comparisons.push(c));
        if let Err(e) = session.with_untracked(storage::save_session) {
            error.set(Some(e));
        }
        index.update(|i| *i += 1);
        sample();
    };
    let persona_rank = move || {
        let w = weights.get_untracked();
        let persona = Persona::new(lang.get_untracked(), w, 0.0);
        let mut rng = rand::rngs::StdRng::seed_from_u64(0);
        ranks.set(persona.rank(&rank.prompt.get_untracked(), &rank.answers.get_untracked(), &mut rng));
        labeler.set(Labeler::Persona);
    };
    let drag_start = move |i: usize, ev: leptos::ev::PointerEvent| {
        ev.prevent_default();
        if let Some(el) = ev.target().and_then(|t| t.dyn_into::<web_sys::Element>().ok()) {
            let _ = el.set_pointer_capture(ev.pointer_id());
        }
        dragging.set(Some(i));
        drop_place.set(None);
    };
    let drag_move = move |i: usize, ev: leptos::ev::PointerEvent| {
        if dragging.get_untracked() != Some(i) {
            return;
        }
        let place = document()
            .element_from_point(ev.client_x() as f32, ev.client_y() as f32)
            .and_then(|el| el.closest("[data-testid=rank-item]").ok().flatten())
            .and_then(|li| li.get_attribute("data-place"))
            .and_then(|p| p.parse::<u32>().ok());
        if place.is_some() {
            drop_place.set(place);
        }
    };
    let drag_end = move |i: usize, drop: bool| {
        if dragging.get_untracked() == Some(i)
            && let (true, Some(place)) = (drop, drop_place.get_untracked())
        {
            change(set_place(&ranks.get_untracked(), i, place.saturating_sub(1) as usize), i);
        }
        dragging.set(None);
        drop_place.set(None);
    };
    let on_key = move |i: usize, ev: leptos::ev::KeyboardEvent| {
        let r = ranks.get_untracked();
        let key = ev.key();
        let new = match key.as_str() {
            "ArrowUp" => Some(move_answer(&r, i, true)),
            "ArrowDown" => Some(move_answer(&r, i, false)),
            "=" => Some(tie_with_above(&r, i)),
            k if k.len() == 1 && k.chars().all(|c| c.is_ascii_digit()) && k != "0" => {
                Some(set_place(&r, i, k.parse::<usize>().unwrap_or(1) - 1))
            }
            _ => None,
        };
        if let Some(new) = new {
            ev.prevent_default();
            change(new, i);
        }
    };
    // Display order: best place first, sampled order within a tie.
    let rows = move || {
        let r = ranks.get();
        let answers = rank.answers.get();
        let mut order: Vec<usize> = (0..answers.len().min(r.len())).collect();
        order.sort_by_key(|&i| (r[i], i));
        order.into_iter().map(|i| (i, r[i], answers[i].clone())).collect::<Vec<_>>()
    };
    let pair_line = move || {
        let r = ranks.get();
        let k = r.len();
        let n = pairs_from_ranking(&r).len();
        match lang.get() {
            crate::corpus::Lang::En => {
                format!("K = {k}: K·(K−1)/2 = {} possible pairs; this ranking gives {n} (ties give none)", k * k.saturating_sub(1) / 2)
            }
            crate::corpus::Lang::Zh => {
                format!("K = {k}：最多 K·(K−1)/2 = {} 对；当前排序给出 {n} 对（并列不产生比较对）", k * k.saturating_sub(1) / 2)
            }
        }
    };
    let counter = move || {
        let (prompts, (human, persona)) = session.with(|s| (s.comparisons.len(), s.pair_counts()));
        match lang.get() {
            crate::corpus::Lang::En => {
                format!("{prompts} prompts ranked · {} pairs ({human} by you, {persona} by the persona)", human + persona)
            }
            crate::corpus::Lang::Zh => format!("已排序 {prompts} 个问题 · {} 对（你标注 {human}，角色标注 {persona}）", human + persona),
        }
    };
    let slider = move |label_en: &'static str,
                       label_zh: &'static str,
                       testid: &'static str,
                       get: fn(&Weights) -> f32,
                       set: fn(&mut Weights, f32)| {
        view! {
            <label class="slider">{move || tr(lang.get(), label_en, label_zh)}
                <input type="range" min="0" max="2" step="0.5" data-testid=testid
                    prop:value=move || get(&weights.get()).to_string()
                    on:input=move |ev| { let v = event_target_value(&ev).parse().unwrap_or(1.0); weights.update(|w| set(w, v)) } />
                <span class="stat">{move || format!("{:.1}", get(&weights.get()))}</span>
            </label>
        }
    };

    view! {
        <section class="panel" data-testid="panel-rank">
            <Intro lang=lang title=("3 · Rank: which answer is better?", "3 · 排序：哪个回答更好？")
                explain=("The SFT model answers the same prompt K times. You order the answers from best to worst; every two answers you placed differently become one comparison \"this one is better than that one\". The reward model will learn from these pairs what you prefer. Drag an answer by its ⠿ handle (mouse or touch), or use the keyboard: focus an answer, ↑/↓ move it, a number key puts it at that place, \"=\" ties it with the answer above.",
                    "微调模型对同一个问题回答 K 次。你把回答从好到差排序；每两个名次不同的回答构成一条“这个比那个好”的比较。奖励模型会从这些比较对中学习你的偏好。用 ⠿ 手柄拖动回答（鼠标或触屏），或用键盘：聚焦一个回答，↑/↓ 移动，数字键放到该名次，“=” 与上一个回答并列。") />
            <div class="controls">
                <label>"K "
                    <select data-testid="rank-k" on:change=move |ev| rank.k.set(event_target_value(&ev).parse().unwrap_or(K_MAX))>
                        {(K_MIN..=K_MAX).map(|k| view! { <option value=k selected=move || rank.k.get() == k>{k}</option> }).collect_view()}
                    </select>
                </label>
                <button data-testid="rank-sample" disabled=move || !can_sample() on:click=move |_| sample()>{move || tr(lang.get(), "Sample answers", "采样回答")}</button>
                <button data-testid="rank-resample" disabled=move || !can_sample() || !have() on:click=move |_| sample()>{move || tr(lang.get(), "Re-sample", "重新采样")}</button>
                <button data-testid="rank-skip" disabled=move || !can_sample() on:click=move |_| { index.update(|i| *i += 1); sample() }>{move || tr(lang.get(), "Skip prompt", "跳过")}</button>
                <button data-testid="rank-persona" disabled=move || !have() on:click=move |_| persona_rank()>{move || tr(lang.get(), "Let the persona rank", "让角色来排序")}</button>
                <button data-testid="rank-submit" class="primary" disabled=move || !have() on:click=move |_| save()>{move || tr(lang.get(), "Save ranking ✓", "保存排序 ✓")}</button>
                <span class="stat" data-testid="rank-counter">{counter}</span>
            </div>
            <Show when=move || sft_step.get() == 0>
                <p class="muted" data-testid="rank-gate">{move || tr(lang.get(), "Train the SFT model first (stage 2): ranking compares its answers.", "请先训练微调模型（第 2 步）：排序比较的是它的回答。")}</p>
            </Show>
            <div class="controls persona">
                <span class="muted">{move || tr(lang.get(), "Persona weights:", "角色权重：")}</span>
                {slider("helpful", "有用", "persona-helpful", |w| w.helpful, |w, v| w.helpful = v)}
                {slider("honest", "诚实", "persona-honest", |w| w.honest, |w, v| w.honest = v)}
                {slider("harmless", "无害", "persona-harmless", |w| w.harmless, |w, v| w.harmless = v)}
            </div>
            <div class="card">
                <h3 data-testid="rank-prompt">{move || format!("{} {} · {}", tr(lang.get(), "Prompt", "问题"), index.get() % prompts().len() + 1, current_prompt().trim())}</h3>
                <Show when=move || rank.sampling.get()>
                    <p class="muted">{move || tr(lang.get(), "sampling answers…", "正在采样回答…")}</p>
                </Show>
                <ol class="rank-list" data-testid="rank-list">
                    <For each=rows key=|(i, place, text)| (*i, *place, text.clone()) let:row>
                        {
                            let (i, place, text) = row;
                            let empty = text.is_empty();
                            view! {
                                <li id=format!("rank-item-{i}") tabindex="0" data-testid="rank-item" data-answer=i data-place={place + 1}
                                    class:dragging=move || dragging.get() == Some(i)
                                    class:drop-target=move || dragging.get().is_some_and(|d| d != i) && drop_place.get() == Some(place + 1)
                                    on:keydown=move |ev| on_key(i, ev)>
                                    <span class="handle" data-testid="rank-handle" aria-hidden="true" title="drag to reorder"
                                        on:pointerdown=move |ev| drag_start(i, ev)
                                        on:pointermove=move |ev| drag_move(i, ev)
                                        on:pointerup=move |_| drag_end(i, true)
                                        on:pointercancel=move |_| drag_end(i, false)>"⠿"</span>
                                    <span class="place">{place + 1}</span>
                                    <span class="answer-text" class:empty=empty>{if empty { "∅ (empty answer)".to_string() } else { text }}</span>
                                    <span class="moves">
                                        <button aria-label="move up" tabindex="-1" on:click=move |_| change(move_answer(&ranks.get_untracked(), i, true), i)>"▲"</button>
                                        <button aria-label="move down" tabindex="-1" on:click=move |_| change(move_answer(&ranks.get_untracked(), i, false), i)>"▼"</button>
                                    </span>
                                </li>
                            }
                        }
                    </For>
                </ol>
                <p class="stat" data-testid="rank-pairs">{pair_line}</p>
                <p class="muted small" data-testid="rank-labeler">{move || match labeler.get() { Labeler::Human => tr(lang.get(), "ranked by: you", "排序者：你"), Labeler::Persona => tr(lang.get(), "ranked by: the persona", "排序者：角色") }}</p>
            </div>
        </section>
    }
}

/// The session's export and import, on every panel: the labels are the user's.
#[component]
pub fn SessionBar(settings: SettingsUi, error: RwSignal<Option<String>>) -> impl IntoView {
    let lang = settings.lang;
    let import_error = RwSignal::new(None::<String>);
    let import_note = RwSignal::new(None::<String>);
    let on_import = move |ev: leptos::ev::Event| {
        let Some(input) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()) else { return };
        let Some(file) = input.files().and_then(|f| f.get(0)) else { return };
        input.set_value("");
        leptos::task::spawn_local(async move {
            match storage::read_session_file(file, settings.session.get_untracked()).await {
                Ok((s, what)) => {
                    let l = lang.get_untracked();
                    let note = match what {
                        storage::Imported::Demonstrations => format!("{} {} ✓", s.demonstrations.len(), tr(l, "demonstrations", "条示范")),
                        _ => format!("{} {} ✓", s.comparisons.len(), tr(l, "prompts", "个问题")),
                    };
                    settings.apply_settings(&s.settings);
                    settings.session.set(s);
                    if let Err(e) = settings.session.with_untracked(storage::save_session) {
                        error.set(Some(e));
                    }
                    import_error.set(None);
                    import_note.set(Some(note));
                }
                Err(e) => {
                    import_note.set(None);
                    import_error.set(Some(e));
                }
            }
        });
    };
    let counter = move || {
        let (prompts, (human, persona)) = settings.session.with(|s| (s.comparisons.len(), s.pair_counts()));
        match lang.get() {
            crate::corpus::Lang::En => format!("Your labels, kept in this browser: {prompts} prompts, {} pairs", human + persona),
            crate::corpus::Lang::Zh => format!("你的标注（保存在本浏览器）：{prompts} 个问题，{} 对", human + persona),
        }
    };
    view! {
        <div class="session-bar" data-testid="session-bar">
            <div class="controls">
                <span class="stat" data-testid="session-counter">{counter}</span>
                <button data-testid="session-export" on:click=move |_| { if let Err(e) = settings.session.with_untracked(storage::export_session) { error.set(Some(e)) } }>{move || tr(lang.get(), "Export JSON", "导出 JSON")}</button>
                <button data-testid="preferences-export" on:click=move |_| { if let Err(e) = settings.session.with_untracked(storage::export_preferences) { error.set(Some(e)) } }
                    title=move || tr(lang.get(), "one line per ranked pair: prompt, chosen, rejected (TRL / Hugging Face datasets)", "每对排序一行：prompt、chosen、rejected（TRL / Hugging Face datasets 格式）")>
                    {move || tr(lang.get(), "Export pairs (JSONL)", "导出偏好对（JSONL）")}
                </button>
                <button data-testid="demonstrations-export" on:click=move |_| { if let Err(e) = storage::export_demonstrations(&settings.demonstrations()) { error.set(Some(e)) } }
                    title=move || tr(lang.get(), "the SFT demonstrations in use, one per line: prompt, completion (TRL's SFT format)", "当前使用的 SFT 示范，每行一条：prompt、completion（TRL 的 SFT 格式）")>
                    {move || tr(lang.get(), "Export demonstrations (JSONL)", "导出示范（JSONL）")}
                </button>
                <label class="file">{move || tr(lang.get(), "Import JSON / JSONL: ", "导入 JSON / JSONL：")}
                    <input type="file" accept=".json,.jsonl,application/json" data-testid="session-import" on:change=on_import />
                </label>
                <span class="stat" data-testid="import-ok">{move || import_note.get().unwrap_or_default()}</span>
                <a data-testid="share-link" href=move || settings.share_query() title=move || tr(lang.get(), "open this page with the current settings; copy the link to share the set-up", "用当前设置打开本页；复制链接即可分享这套设置")>
                    {move || tr(lang.get(), "🔗 Link to these settings", "🔗 这些设置的链接")}
                </a>
            </div>
            <Show when=move || import_error.get().is_some()>
                <div class="error" role="alert" data-testid="import-error">{move || format!("{} {}", tr(lang.get(), "Not imported — nothing changed:", "未导入，未做任何更改："), import_error.get().unwrap_or_default())}</div>
            </Show>
        </div>
    }
}
