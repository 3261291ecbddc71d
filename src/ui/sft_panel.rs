//! Stage 2, supervised fine-tuning: the demonstrations, live loss and token
//! accuracy on answer tokens, the loss mask on one example, and the same prompts
//! answered by the pretrained and the SFT model side by side.

use super::chart::{BLUE, LineChart, ORANGE, Series};
use super::controls::{Intro, RunControls};
use super::i18n::tr;
use super::storage;
use super::view::{SftUi, demonstrations};
use crate::corpus::Lang;
use crate::session::check_demonstration;
use crate::sft::Demonstration;
use leptos::prelude::*;

#[component]
pub fn SftPanel(
    sft: SftUi,
    session: RwSignal<crate::session::Session>,
    world: Lang,
    ready: RwSignal<bool>,
    error: RwSignal<Option<String>>,
) -> impl IntoView {
    let lang = expect_context::<RwSignal<Lang>>();
    let series = Signal::derive(move || {
        let l = lang.get();
        sft.points.with(|pts| {
            vec![
                Series {
                    label: tr(l, "loss (answer tokens)", "损失（仅答案词元）").into(),
                    color: BLUE,
                    dashed: false,
                    points: pts.iter().map(|p| (p.step as f64, p.loss as f64)).collect(),
                },
                Series {
                    label: tr(l, "token accuracy", "词元准确率").into(),
                    color: ORANGE,
                    dashed: true,
                    points: pts.iter().map(|p| (p.step as f64, p.token_accuracy as f64)).collect(),
                },
            ]
        })
    });
    // Read through the session so the list re-renders when it changes.
    let demos = move || {
        session.track();
        demonstrations(session, world)
    };
    let demo_error = RwSignal::new(None::<String>);
    let (new_prompt, new_answer) = (RwSignal::new(String::new()), RwSignal::new(String::new()));
    // Every edit lands in the session (kept in the browser, exported with the labels).
    let edit = move |f: &dyn Fn(&mut Vec<Demonstration>) -> Result<(), String>| {
        let mut d = demonstrations(session, world);
        match f(&mut d) {
            Ok(()) => {
                demo_error.set(None);
                session.update(|s| s.demonstrations = d);
                if let Err(e) = session.with_untracked(storage::save_session) {
                    error.set(Some(e));
                }
            }
            Err(e) => demo_error.set(Some(e)),
        }
    };
    let add = move || {
        let d = Demonstration::from_user(world, &new_prompt.get_untracked(), &new_answer.get_untracked());
        if new_prompt.get_untracked().trim().is_empty() || new_answer.get_untracked().trim().is_empty() {
            demo_error.set(Some(tr(lang.get_untracked(), "Write both a prompt and an answer.", "请同时写下问题和回答。").into()));
            return;
        }
        edit(&|list: &mut Vec<Demonstration>| {
            check_demonstration(&d)?;
            list.push(d.clone());
            Ok(())
        });
        if demo_error.get_untracked().is_none() {
            new_prompt.set(String::new());
            new_answer.set(String::new());
        }
    };
    let set_text = move |i: usize, answer: bool, text: String| {
        edit(&|list: &mut Vec<Demonstration>| {
            let mut d = list.get(i).cloned().ok_or("no such demonstration")?;
            let fixed =
                if answer { Demonstration::from_user(world, &d.prompt, &text) } else { Demonstration::from_user(world, &text, &d.answer) };
            d = if answer { Demonstration { answer: fixed.answer, ..d } } else { Demonstration { prompt: fixed.prompt, ..d } };
            check_demonstration(&d)?;
            list[i] = d;
            Ok(())
        })
    };
    let remove = move |i: usize| {
        edit(&|list: &mut Vec<Demonstration>| {
            if list.len() <= 1 {
                return Err("SFT needs at least one demonstration".into());
            }
            list.remove(i);
            Ok(())
        })
    };
    view! {
        <section class="panel" data-testid="panel-sft">
            <Intro lang=lang title=("2 · SFT: learn to answer from demonstrations", "2 · 监督微调：从示范中学会回答")
                explain=("The pretrained model only continues text — ask it a question and it asks more questions. Supervised fine-tuning shows it prompt → answer pairs written by people and trains it to predict the answers. The loss counts only the answer's tokens (highlighted below): the model is not asked to predict the question. Like real demonstrators, ours are not perfect: about one answer in four ends with a rude remark, and SFT copies that habit — ranking and PPO are how it gets trained away (or edit the demonstrations below).",
                    "预训练模型只会续写——问它一个问题，它会接着提出更多问题。监督微调给它看人写的“问题 → 回答”示范，训练它预测回答。损失只计算回答部分的词元（下方高亮）：不要求模型预测问题本身。和真实的示范者一样，我们的示范也不完美：大约四分之一的回答带着一句粗鲁的话，微调会学到这个习惯——排序和 PPO 正是用来纠正它的（也可以在下方直接修改示范）。") />
            <div class="controls">
                <RunControls running=sft.running step_requests=sft.step_requests enabled=ready prefix="sft" />
                <span class="stat" data-testid="sft-step-count">{move || format!("{} {}", tr(lang.get(), "SFT step", "微调步数"), sft.step.get())}</span>
                <span class="stat">{move || sft.points.with(|v| v.last().map(|p| format!("{} {:.3} · {} {:.0}%", tr(lang.get(), "loss", "损失"), p.loss, tr(lang.get(), "token accuracy", "词元准确率"), p.token_accuracy * 100.0)).unwrap_or_default())}</span>
            </div>
            <div class="grid">
                <div class="card">
                    <h3>{move || tr(lang.get(), "SFT loss and token accuracy", "微调损失与词元准确率")}</h3>
                    <LineChart series=series testid="sft-chart" x_label=Signal::derive(move || tr(lang.get(), "SFT step", "微调步数").to_string()) />
                </div>
                <div class="card">
                    <h3>{move || tr(lang.get(), "The loss mask on one demonstration", "一条示范上的损失掩码")}</h3>
                    <p class="tokens" data-testid="sft-mask">
                        {move || sft.mask.get().into_iter().map(|(t, counted)| view! {
                            <span class="tok" class:counted=counted title={if counted { "counted" } else { "not counted" }}>{t.replace('\n', "⏎")}</span>
                        }).collect_view()}
                    </p>
                    <p class="muted small">{move || tr(lang.get(), "Highlighted tokens (and the final end-of-text) are predicted and counted; the prompt is only read.", "高亮的词元（以及结尾的文本结束符）计入损失；问题部分只读不学。")}</p>
                </div>
            </div>
            <div class="card">
                <h3>{move || tr(lang.get(), "Same prompts, before and after SFT (greedy)", "同样的问题，微调前后对比（贪心解码）")}</h3>
                <table class="compare" data-testid="sft-compare">
                    <thead><tr>
                        <th>{move || tr(lang.get(), "prompt", "问题")}</th>
                        <th>{move || tr(lang.get(), "pretrained model", "预训练模型")}</th>
                        <th>{move || tr(lang.get(), "SFT model", "微调后模型")}</th>
                    </tr></thead>
                    <tbody>
                        {move || sft.watch.get().into_iter().map(|w| view! {
                            <tr>
                                <td class="mono">{w.prompt.trim().to_string()}</td>
                                <td class="mono" data-testid="sft-base-answer">{w.base}</td>
                                <td class="mono" data-testid="sft-answer">{w.sft}<span class="muted">{format!("  (#{})", w.at_step)}</span></td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
            <details class="card" data-testid="sft-demos">
                <summary>{move || format!("{} ({}) — {}", tr(lang.get(), "The demonstrations", "示范数据"), demos().len(), tr(lang.get(), "edit them, delete them, add your own", "可编辑、删除、添加你自己的"))}</summary>
                <p class="muted small">{move || tr(lang.get(),
                    "SFT trains on these when it starts; after a change, restart SFT to train on the new set. Your changes are kept in this browser and in the exported session.",
                    "SFT 开始时用这些示范训练；修改之后，请重新开始 SFT 以使用新的示范。你的修改保存在本浏览器和导出的会话中。")}</p>
                <div class="controls">
                    <input type="text" data-testid="sft-new-prompt" maxlength="2000" placeholder=move || tr(lang.get(), "a question…", "一个问题…") aria-label="new prompt"
                        prop:value=move || new_prompt.get() on:input=move |ev| new_prompt.set(event_target_value(&ev)) />
                    <input type="text" data-testid="sft-new-answer" maxlength="2000" placeholder=move || tr(lang.get(), "…and its answer", "……和它的回答") aria-label="new answer"
                        prop:value=move || new_answer.get() on:input=move |ev| new_answer.set(event_target_value(&ev))
                        on:keydown=move |ev| if ev.key() == "Enter" { add() } />
                    <button data-testid="sft-add-demo" on:click=move |_| add()>{move || tr(lang.get(), "+ Add", "+ 添加")}</button>
                    <button data-testid="sft-demos-reset" on:click=move |_| edit(&|list: &mut Vec<Demonstration>| { *list = vec![]; Ok(()) })>{move || tr(lang.get(), "Restore the shipped ones", "恢复内置示范")}</button>
                    <button data-testid="sft-restart" disabled=move || sft.step.get() == 0 on:click=move |_| { sft.running.set(false); sft.restart_requests.update(|n| *n += 1) }>
                        {move || tr(lang.get(), "↺ Restart SFT (and the stages after it)", "↺ 重新开始 SFT（及其后各阶段）")}
                    </button>
                </div>
                <Show when=move || demo_error.get().is_some()>
                    <p class="error" role="alert" data-testid="sft-demo-error">{move || demo_error.get().unwrap_or_default()}</p>
                </Show>
                <ol class="demos">
                    {move || demos().into_iter().enumerate().map(|(i, d)| view! {
                        <li data-testid="sft-demo">
                            <input type="text" class="mono" maxlength="2000" aria-label="prompt" prop:value=d.prompt.trim().to_string() on:change=move |ev| set_text(i, false, event_target_value(&ev)) />
                            " → "
                            <input type="text" class="mono" maxlength="2000" aria-label="answer" prop:value=d.answer.clone() on:change=move |ev| set_text(i, true, event_target_value(&ev)) />
                            <button aria-label="delete" data-testid="sft-demo-delete" on:click=move |_| remove(i)>"✕"</button>
                        </li>
                    }).collect_view()}
                </ol>
            </details>
        </section>
    }
}
