//! Stage 4, the reward model: training on the session's rankings with live loss and
//! accuracy, held-out accuracy against the persona, the model's scores beside each
//! ranking (disagreements marked), a histogram of rewards, and any typed answer scored.

use super::chart::{BLUE, GREEN, Histogram, LineChart, ORANGE, Series};
use super::controls::{Intro, RunControls};
use super::i18n::tr;
use super::view::reward::RewardBusy;
use super::view::reward::RewardUi;
use crate::corpus::Lang;
use crate::rank::Labeler;
use crate::session::MAX_TEXT;
use crate::session::Session;
use crate::sft;
use crate::stats::histogram;
use leptos::prelude::*;

#[component]
pub fn RewardPanel(rm: RewardUi, session: RwSignal<Session>, sft_step: RwSignal<usize>) -> impl IntoView {
    let lang = expect_context::<RwSignal<Lang>>();
    let series = Signal::derive(move || {
        let l = lang.get();
        let pts = rm.points.get();
        vec![
            Series {
                label: tr(l, "loss −log σ(r_w − r_l)", "损失 −log σ(r_w − r_l)").into(),
                color: BLUE,
                dashed: false,
                points: pts.iter().map(|p| (p.step as f64, p.loss as f64)).collect(),
            },
            Series {
                label: tr(l, "batch accuracy", "批内准确率").into(),
                color: ORANGE,
                dashed: true,
                points: pts.iter().map(|p| (p.step as f64, p.accuracy as f64)).collect(),
            },
            Series {
                label: tr(l, "held-out accuracy", "留出准确率").into(),
                color: GREEN,
                dashed: true,
                points: rm.held_out.get().iter().map(|&(s, a)| (s as f64, a as f64)).collect(),
            },
        ]
    });
    let bins = Signal::derive(move || histogram(&rm.rewards.get(), 12));
    let stats = move || {
        let l = lang.get();
        let mut parts = vec![format!("{} {} · {} {}", tr(l, "step", "步数"), rm.step.get(), tr(l, "pass", "轮"), rm.epoch.get())];
        if let Some(p) = rm.points.with(|v| v.last().cloned()) {
            parts.push(format!(
                "{} {:.3} · {} {:.0}%",
                tr(l, "loss", "损失"),
                p.loss,
                tr(l, "batch accuracy", "批内准确率"),
                p.accuracy * 100.0
            ));
        }
        match rm.held_out_interval.get() {
            Some(i) if i.n > 0 => parts.push(format!(
                "{} {:.0}% (95% {} {:.0}–{:.0}%, {} {} {} {})",
                tr(l, "held-out accuracy", "留出准确率"),
                i.mean * 100.0,
                tr(l, "interval", "区间"),
                i.low * 100.0,
                i.high * 100.0,
                i.n,
                tr(l, "pairs from", "对，来自"),
                i.clusters,
                tr(l, "prompts", "个问题")
            )),
            Some(_) => parts.push(
                tr(
                    l,
                    "held-out accuracy: no pairs to judge (the persona tied every held-out answer)",
                    "留出准确率：没有可评的对（角色给所有留出回答打了平分）",
                )
                .to_string(),
            ),
            // A resumed model: its curve was kept, the interval comes with the next step.
            None => {
                if let Some(&(_, a)) = rm.held_out.with(|v| v.last().cloned()).as_ref() {
                    parts.push(format!(
                        "{} {:.0}% ({} {})",
                        tr(l, "held-out accuracy", "留出准确率"),
                        a * 100.0,
                        rm.held_out_pairs.get(),
                        tr(l, "pairs", "对")
                    ));
                }
            }
        }
        if let Some(a) = rm.fluency.get() {
            parts.push(format!("α {a:.2}"));
        }
        parts.join(" · ")
    };
    let busy = move || {
        let l = lang.get();
        match rm.busy.get() {
            Some(RewardBusy::HeldOut) => tr(
                l,
                "the persona ranks SFT answers to unseen prompts (the held-out set)…",
                "角色正在为未见过的问题的微调回答排序（留出集）…",
            ),
            Some(RewardBusy::Scoring) => tr(l, "scoring the labelled answers…", "正在为已标注的回答打分…"),
            None => "",
        }
    };
    let prompt_choices = move || {
        let mut ps: Vec<String> = session.with(|s| s.comparisons.iter().map(|c| c.prompt.clone()).collect());
        ps.extend(sft::prompts(lang.get()).rl);
        let mut seen = std::collections::HashSet::new();
        ps.retain(|p| seen.insert(p.clone()));
        ps
    };
    let probe_error = RwSignal::new(None::<&'static str>);
    let probe = move || {
        let a = rm.probe_answer.get_untracked();
        let l = lang.get_untracked();
        probe_error.set(None);
        if a.trim().is_empty() {
            probe_error.set(Some(tr(l, "Type an answer first.", "请先输入一个回答。")));
        } else if a.chars().count() > MAX_TEXT {
            probe_error.set(Some(tr(l, "That answer is too long (at most 2000 characters).", "回答太长（最多 2000 个字符）。")));
        } else {
            if rm.probe_prompt.get_untracked().is_empty() {
                rm.probe_prompt.set(prompt_choices().into_iter().next().unwrap_or_default());
            }
            rm.probe_requests.update(|n| *n += 1);
        }
    };

    view! {
        <section class="panel" data-testid="panel-reward">
            <Intro lang=lang title=("4 · Reward model: learn what you prefer", "4 · 奖励模型：学会你的偏好")
                explain=("The reward model is the SFT network with a new head that outputs one number, the reward r, for a prompt and an answer. For each pair you ranked it is trained so that the better answer gets the higher reward: loss = −log σ(r_better − r_worse). All pairs of one prompt are one batch. Held-out accuracy is measured on prompts nobody ranked, against the persona: 50% is chance. PPO will then optimise the policy against this model — so whatever it gets wrong, PPO can exploit.",
                    "奖励模型就是微调后的网络换上一个只输出一个数（奖励 r）的新头，对“问题 + 回答”打分。对你排过的每一对，训练它让更好的回答得到更高的奖励：损失 = −log σ(r_好 − r_差)。同一个问题的所有比较对组成一批。留出准确率在没人排过的问题上、以角色的排序为准来衡量：50% 等于瞎猜。接下来 PPO 会针对这个模型优化策略——它哪里错了，PPO 就可能钻哪里的空子。") />
            <p class="muted small">{move || tr(lang.get(),
                "One departure from InstructGPT, measured on this toy model: r = head(last token) + α × the network's mean log-likelihood of the answer, α learned.",
                "与 InstructGPT 的一处不同（在这个小模型上实测过）：r = 头部(最后一个词元) + α × 网络对回答的平均对数似然，α 可学习。")}</p>
            <div class="controls">
                <RunControls running=rm.running step_requests=rm.step_requests enabled=Signal::derive(move || sft_step.get() > 0 && session.with(|s| s.pair_counts() != (0, 0))) prefix="rm" />
                <span class="stat" data-testid="rm-stats">{stats}</span>
                <span class="muted" data-testid="rm-busy">{busy}</span>
            </div>
            <div class="grid">
                <div class="card">
                    <h3>{move || tr(lang.get(), "Loss and accuracy", "损失与准确率")}</h3>
                    <LineChart series=series testid="rm-chart" x_label=Signal::derive(move || tr(lang.get(), "reward-model step", "奖励模型步数").to_string()) />
                </div>
                <div class="card">
                    <h3>{move || tr(lang.get(), "Rewards of the labelled answers", "已标注回答的奖励分布")}</h3>
                    <Histogram bins=bins testid="rm-histogram" />
                </div>
            </div>
            <div class="card">
                <h3>{move || tr(lang.get(), "Score any answer", "给任意回答打分")}</h3>
                <div class="controls">
                    <select data-testid="rm-probe-prompt" aria-label="prompt" on:change=move |ev| rm.probe_prompt.set(event_target_value(&ev))>
                        {move || prompt_choices().into_iter().map(|p| { let v = p.clone(); view! { <option value=v.clone() selected=move || rm.probe_prompt.get() == v>{p.trim().to_string()}</option> } }).collect_view()}
                    </select>
                    <input type="text" data-testid="rm-probe-answer" maxlength=MAX_TEXT.to_string() aria-label="answer"
                        placeholder=move || tr(lang.get(), "type an answer…", "输入一个回答…")
                        prop:value=move || rm.probe_answer.get()
                        on:input=move |ev| rm.probe_answer.set(event_target_value(&ev))
                        on:keydown=move |ev| if ev.key() == "Enter" { probe() } />
                    <button data-testid="rm-probe" disabled=move || rm.step.get() == 0 on:click=move |_| probe()>{move || tr(lang.get(), "Score", "打分")}</button>
                    <span class="stat" data-testid="rm-probe-score">{move || rm.probe_score.get().map(|s| format!("r = {s:.3}")).unwrap_or_default()}</span>
                </div>
                <Show when=move || probe_error.get().is_some()>
                    <p class="error" role="alert" data-testid="rm-probe-error">{move || probe_error.get().unwrap_or_default()}</p>
                </Show>
            </div>
            <div class="card">
                <h3>{move || tr(lang.get(), "Your rankings beside the reward model's scores", "你的排序与奖励模型的打分对照")}</h3>
                <p class="muted small">{move || tr(lang.get(),
                    "Rows marked ✗ are answers in a pair the model orders against the ranking.",
                    "标 ✗ 的行：该回答所在的某个比较对，模型的打分顺序与排序相反。")}</p>
                {move || rm.scored.get().into_iter().map(|p| {
                    let l = lang.get();
                    let who = match (p.labeler, l) { (Labeler::Human, Lang::En) => "you", (Labeler::Human, Lang::Zh) => "你", (Labeler::Persona, Lang::En) => "the persona", (Labeler::Persona, Lang::Zh) => "角色" };
                    let head = match l {
                        Lang::En => format!("{} — ranked by {who}; the model disagrees on {} of {} pairs", p.prompt.trim(), p.disagreements, p.pairs),
                        Lang::Zh => format!("{} —— 排序者：{who}；模型在 {} 对中的 {} 对上不同意", p.prompt.trim(), p.pairs, p.disagreements),
                    };
                    view! {
                        <div class="scored" data-testid="rm-scored">
                            <h4 class="mono">{head}</h4>
                            <table class="compare">
                                <thead><tr>
                                    <th>{tr(l, "rank", "名次")}</th><th>{tr(l, "reward", "奖励")}</th><th>{tr(l, "answer", "回答")}</th>
                                </tr></thead>
                                <tbody>
                                    {p.answers.into_iter().map(|a| view! {
                                        <tr class:disagree={a.disagreements > 0} data-testid="rm-scored-answer" data-disagreements=a.disagreements>
                                            <td>{a.place}{if a.disagreements > 0 { " ✗" } else { "" }}</td>
                                            <td class="mono">{format!("{:.3}", a.score)}</td>
                                            <td class="mono">{if a.text.is_empty() { "∅".to_string() } else { a.text }}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                    }
                }).collect_view()}
            </div>
        </section>
    }
}
