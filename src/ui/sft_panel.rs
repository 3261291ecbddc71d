//! Stage 2, supervised fine-tuning: the demonstrations, live loss and token
//! accuracy on answer tokens, the loss mask on one example, and the same prompts
//! answered by the pretrained and the SFT model side by side.

use super::chart::{BLUE, LineChart, ORANGE, Series};
use super::engine::Ui;
use super::i18n::tr;
use crate::sft;
use leptos::prelude::*;

#[component]
pub fn SftPanel(ui: Ui) -> impl IntoView {
    let lang = ui.lang;
    let series = Signal::derive(move || {
        let l = lang.get();
        ui.sft_points.with(|pts| {
            vec![
                Series { label: tr(l, "loss (answer tokens)", "损失（仅答案词元）").into(), color: BLUE, dashed: false, points: pts.iter().map(|p| (p.step as f64, p.loss as f64)).collect() },
                Series { label: tr(l, "token accuracy", "词元准确率").into(), color: ORANGE, dashed: true, points: pts.iter().map(|p| (p.step as f64, p.token_accuracy as f64)).collect() },
            ]
        })
    });
    let demos = move || sft::demonstrations(lang.get());
    view! {
        <section class="panel" data-testid="panel-sft">
            <h2>{move || tr(lang.get(), "2 · SFT: learn to answer from demonstrations", "2 · 监督微调：从示范中学会回答")}</h2>
            <p class="explain">{move || tr(lang.get(),
                "The pretrained model only continues text — ask it a question and it asks more questions. Supervised fine-tuning shows it prompt → answer pairs written by people and trains it to predict the answers. The loss counts only the answer's tokens (highlighted below): the model is not asked to predict the question.",
                "预训练模型只会续写——问它一个问题，它会接着提出更多问题。监督微调给它看人写的“问题 → 回答”示范，训练它预测回答。损失只计算回答部分的词元（下方高亮）：不要求模型预测问题本身。")}</p>
            <div class="controls">
                <button data-testid="sft-start" disabled=move || ui.sft_running.get() || !ui.ready.get() on:click=move |_| { ui.running.set(false); ui.sft_running.set(true) }>
                    {move || tr(lang.get(), "▶ Start", "▶ 开始")}
                </button>
                <button data-testid="sft-pause" disabled=move || !ui.sft_running.get() on:click=move |_| ui.sft_running.set(false)>
                    {move || tr(lang.get(), "❚❚ Pause", "❚❚ 暂停")}
                </button>
                <button data-testid="sft-step" disabled=move || ui.sft_running.get() || !ui.ready.get() on:click=move |_| ui.sft_step_requests.update(|n| *n += 1)>
                    {move || tr(lang.get(), "Step", "单步")}
                </button>
                <span class="stat" data-testid="sft-step-count">{move || format!("{} {}", tr(lang.get(), "SFT step", "微调步数"), ui.sft_step.get())}</span>
                <span class="stat">{move || ui.sft_points.with(|v| v.last().map(|p| format!("{} {:.3} · {} {:.0}%", tr(lang.get(), "loss", "损失"), p.loss, tr(lang.get(), "token accuracy", "词元准确率"), p.token_accuracy * 100.0)).unwrap_or_default())}</span>
            </div>
            <div class="grid">
                <div class="card">
                    <h3>{move || tr(lang.get(), "SFT loss and token accuracy", "微调损失与词元准确率")}</h3>
                    <LineChart series=series testid="sft-chart" x_label=Signal::derive(move || tr(lang.get(), "SFT step", "微调步数").to_string()) />
                </div>
                <div class="card">
                    <h3>{move || tr(lang.get(), "The loss mask on one demonstration", "一条示范上的损失掩码")}</h3>
                    <p class="tokens" data-testid="sft-mask">
                        {move || ui.sft_mask.get().into_iter().map(|(t, counted)| view! {
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
                        {move || ui.sft_watch.get().into_iter().map(|w| view! {
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
                <summary>{move || format!("{} ({})", tr(lang.get(), "The demonstrations", "示范数据"), demos().len())}</summary>
                <ol class="samples">
                    {move || demos().into_iter().map(|d| view! { <li>{d.prompt.trim().to_string()}" → "{d.answer}</li> }).collect_view()}
                </ol>
            </details>
        </section>
    }
}
