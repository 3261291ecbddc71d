//! Stage 1, pretraining: controls, the loss chart, throughput, samples, the
//! next-token table for the user's prompt, the attention heatmap, and the
//! tokenizer's merges.

use super::chart::{BLUE, LineChart, ORANGE, Series};
use super::controls::{Intro, RunControls};
use super::heatmap::Heatmap;
use super::i18n::tr;
use super::view::PretrainUi;
use crate::corpus::Lang;
use crate::model::Preset;
use leptos::prelude::*;

#[component]
pub fn PretrainPanel(pretrain: PretrainUi, ready: RwSignal<bool>, preset: Preset) -> impl IntoView {
    let lang = expect_context::<RwSignal<Lang>>();
    let layer = RwSignal::new(0usize);
    let head = RwSignal::new(0usize);
    let series = Signal::derive(move || {
        let l = lang.get();
        pretrain.losses.with(|pts| {
            vec![
                Series {
                    label: tr(l, "train", "训练").into(),
                    color: BLUE,
                    dashed: false,
                    points: pts.iter().map(|p| (p.step as f64, p.train as f64)).collect(),
                },
                Series {
                    label: tr(l, "held-out", "留出集").into(),
                    color: ORANGE,
                    dashed: true,
                    points: pts.iter().filter_map(|p| p.held_out.map(|h| (p.step as f64, h as f64))).collect(),
                },
            ]
        })
    });
    let n_layers = move || pretrain.attention.with(|a| a.as_ref().map_or(1, |m| m.n_layer));
    let n_heads = move || pretrain.attention.with(|a| a.as_ref().map_or(1, |m| m.n_head));
    let disabled = move || !ready.get();

    view! {
        <section class="panel" data-testid="panel-pretrain">
            <Intro lang=lang title=("1 · Pretraining: learn to predict the next token", "1 · 预训练：学会预测下一个词元")
                explain=("A GPT reads our toy world's text and learns one thing: given the tokens so far, how likely is each next token. Watch the loss fall, the samples turn from noise into sentences, and the attention heads find structure. Notice that the text lists questions without answers — so this model will continue a question with more questions.",
                    "GPT 阅读玩具世界的文本，只学一件事：给定前面的词元，下一个词元是什么的概率。看损失下降、样本从乱码变成句子、注意力头找到结构。注意语料里有只列问题不给答案的清单——所以这个模型会用更多问题来接一个问题。") />
            <div class="controls">
                <RunControls running=pretrain.running step_requests=pretrain.step_requests enabled=Signal::derive(move || !disabled()) prefix="pretrain" />
                <button data-testid="pretrain-reset" disabled=disabled on:click=move |_| pretrain.reset_requests.update(|n| *n += 1)>
                    {move || tr(lang.get(), "↺ Reset", "↺ 重置")}
                </button>
                <span class="stat" data-testid="pretrain-step-count">{move || format!("{} {}", tr(lang.get(), "step", "步数"), pretrain.step.get())}</span>
                <span class="stat" data-testid="tokens-per-sec">{move || format!("{:.0} {}", pretrain.tokens_per_sec.get(), tr(lang.get(), "tokens/s", "词元/秒"))}</span>
                <span class="stat muted">{move || format!("{} {}", tr(lang.get(), "preset", "规模"), preset.name())}</span>
                <Show when=move || !ready.get()>
                    <span class="stat muted" data-testid="loading">{move || tr(lang.get(), "training the tokenizer and building the model…", "正在训练分词器并构建模型…")}</span>
                </Show>
            </div>

            <div class="grid">
                <div class="card">
                    <h3>{move || tr(lang.get(), "Loss (cross-entropy, nats)", "损失（交叉熵，nats）")}</h3>
                    <LineChart series=series testid="loss-chart" x_label=Signal::derive(move || tr(lang.get(), "step", "步数").to_string()) />
                </div>
                <div class="card">
                    <h3>{move || tr(lang.get(), "Samples (from an empty prompt)", "样本（空提示生成）")}</h3>
                    <ol class="samples" data-testid="samples">
                        <For each=move || pretrain.samples.get() key=|(step, _)| *step let:s>
                            <li><span class="muted">{format!("#{} ", s.0)}</span><span class="sample-text">{s.1}</span></li>
                        </For>
                    </ol>
                </div>
            </div>

            <div class="grid">
                <div class="card">
                    <h3>{move || tr(lang.get(), "Next-token probabilities", "下一个词元的概率")}</h3>
                    <textarea data-testid="prompt-input" rows="2" aria-label="prompt"
                        prop:value=move || pretrain.prompt.get()
                        on:input=move |ev| pretrain.prompt.set(event_target_value(&ev).chars().take(2000).collect())></textarea>
                    <table class="probs" data-testid="next-token-table">
                        <tbody>
                            {move || pretrain.next_tokens.get().into_iter().map(|t| {
                                let width = format!("width: {:.1}%", (t.prob * 100.0).min(100.0));
                                view! {
                                    <tr>
                                        <td class="tok">{format!("{:?}", t.text)}</td>
                                        <td class="bar"><div class="bar-fill" style=width></div></td>
                                        <td class="num">{format!("{:.1}%", t.prob * 100.0)}</td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
                <div class="card">
                    <h3>{move || tr(lang.get(), "Attention (row attends to column)", "注意力（行关注列）")}</h3>
                    <div class="controls">
                        <label>{move || tr(lang.get(), "layer", "层")}
                            <select data-testid="attention-layer" on:change=move |ev| layer.set(event_target_value(&ev).parse().unwrap_or(0))>
                                {move || (0..n_layers()).map(|i| view! { <option value=i selected=move || layer.get() == i>{i + 1}</option> }).collect_view()}
                            </select>
                        </label>
                        <label>{move || tr(lang.get(), "head", "头")}
                            <select data-testid="attention-head" on:change=move |ev| head.set(event_target_value(&ev).parse().unwrap_or(0))>
                                {move || (0..n_heads()).map(|i| view! { <option value=i selected=move || head.get() == i>{i + 1}</option> }).collect_view()}
                            </select>
                        </label>
                    </div>
                    <Heatmap maps=pretrain.attention layer=layer head=head />
                </div>
            </div>

            <details class="card" data-testid="tokenizer-merges">
                <summary>{move || format!("{} ({})", tr(lang.get(), "Tokenizer: the BPE merges, in the order learned", "分词器：按学习顺序排列的 BPE 合并"), pretrain.vocab.with(|v| v.len()))}</summary>
                <p class="merges">{move || pretrain.vocab.get().into_iter().map(|m| view! { <code>{m.replace(' ', "·").replace('\n', "⏎")}</code>" "}).collect_view()}</p>
            </details>
        </section>
    }
}
