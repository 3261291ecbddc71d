//! Beside PPO: over-optimisation against a gold judge (the persona's score and the
//! reward model's, against √KL to SFT, for best-of-n, each PPO run and DPO), the
//! signs of reward hacking, and DPO trained on the same pairs.

use super::chart::{BLUE, GREEN, LineChart, ORANGE, PURPLE, Series, VERMILLION};
use super::controls::RunControls;
use super::heatmap::kl_colour;
use super::i18n::tr;
use super::view::dpo::DpoUi;
use super::view::dpo::{DpoBusy, DpoPoint};
use super::view::ppo::{AnswerView, OverOptUi};
use crate::corpus::Lang;
use crate::overopt::{Form, GoldProxy, fit};
use crate::session::Session;
use leptos::prelude::*;

/// The chart's methods: name in the data, label, colour, dashed.
const METHODS: [(&str, (&str, &str), &str, bool); 4] = [
    ("best_of_n", ("best-of-n", "n 选 1"), GREEN, true),
    ("main", ("PPO", "PPO"), BLUE, false),
    ("beside", ("PPO beside it", "对照组 PPO"), VERMILLION, true),
    ("dpo", ("DPO", "DPO"), PURPLE, false),
];

fn label(lang: Lang, method: &str) -> String {
    METHODS.iter().find(|m| m.0 == method).map_or(method.to_string(), |m| tr(lang, m.1.0, m.1.1).to_string())
}

fn series(points: &[GoldProxy], lang: Lang, y: fn(&GoldProxy) -> f32) -> Vec<Series> {
    METHODS
        .iter()
        .filter_map(|&(method, names, color, dashed)| {
            let mut pts: Vec<&GoldProxy> = points.iter().filter(|p| p.method == method).collect();
            pts.sort_by_key(|p| p.step);
            (!pts.is_empty()).then(|| Series {
                label: tr(lang, names.0, names.1).to_string(),
                color,
                dashed,
                points: pts.iter().map(|p| (p.sqrt_kl as f64, y(p) as f64)).collect(),
            })
        })
        .collect()
}

/// Where a method's measured gold score peaked, when it has fallen since, with
/// Gao et al.'s form fitted to its points.
fn peaks(points: &[GoldProxy], lang: Lang) -> Vec<String> {
    METHODS
        .iter()
        .filter_map(|&(method, ..)| {
            let pts: Vec<GoldProxy> = points.iter().filter(|p| p.method == method).cloned().collect();
            let (first, last) = (pts.first()?, pts.last()?);
            let top = pts.iter().max_by(|a, b| a.gold.total_cmp(&b.gold))?;
            let form = if method == "best_of_n" { Form::BestOfN } else { Form::Rl };
            // A form fitted to a handful of noisy points says little: five at least.
            let fitted = (pts.len() >= 5)
                .then(|| fit(&pts, first.gold, form))
                .flatten()
                .and_then(|f| f.peak_sqrt_kl.map(|d| format!(" · {} √KL = {d:.2}", tr(lang, "Gao's form peaks at", "Gao 公式的峰值在"))))
                .unwrap_or_default();
            let what = label(lang, method);
            Some(if top.gold > last.gold + 0.02 && top.step != last.step {
                format!(
                    "{what}: {} {:.2} {} √KL = {:.2} ({} {}), {} {:.2}{fitted}",
                    tr(lang, "gold peaked at", "金标准得分峰值"),
                    top.gold,
                    tr(lang, "at", "于"),
                    top.sqrt_kl,
                    if method == "best_of_n" { "n =" } else { tr(lang, "step", "步") },
                    top.step,
                    tr(lang, "now", "现在"),
                    last.gold
                )
            } else {
                format!("{what}: {} {:.2} → {:.2}{fitted}", tr(lang, "gold", "金标准"), first.gold, last.gold)
            })
        })
        .collect()
}

/// The latest rollout's answers: length in tokens against score, per run.
fn length_score(main: &[AnswerView], beside: &[AnswerView], lang: Lang) -> Vec<Series> {
    let dots = |v: &[AnswerView]| v.iter().map(|a| (a.tokens.len() as f64, a.score as f64)).collect::<Vec<_>>();
    let mut out = vec![Series { label: tr(lang, "PPO", "PPO").into(), color: BLUE, dashed: false, points: dots(main) }];
    if !beside.is_empty() {
        out.push(Series {
            label: tr(lang, "PPO beside it", "对照组 PPO").into(), color: VERMILLION, dashed: false, points: dots(beside)
        });
    }
    out
}

#[component]
pub fn OverOptCard(
    lang: RwSignal<Lang>,
    overopt: OverOptUi,
    answers: RwSignal<Vec<AnswerView>>,
    beside_answers: RwSignal<Vec<AnswerView>>,
) -> impl IntoView {
    let scatter = Signal::derive(move || length_score(&answers.get(), &beside_answers.get(), lang.get()));
    let tokens =
        Signal::derive(move || tr(lang.get(), "answer length (tokens), latest rollout", "回答长度（词元），最近一次采样").to_string());
    let gold = Signal::derive(move || series(&overopt.points.get(), lang.get(), |p| p.gold));
    let proxy = Signal::derive(move || series(&overopt.points.get(), lang.get(), |p| p.proxy));
    let x = Signal::derive(move || tr(lang.get(), "√KL to SFT (nats per answer)", "与微调模型的 √KL（每个回答，nats）").to_string());
    view! {
        <div class="card" data-testid="overopt">
            <h3>{move || tr(lang.get(), "Over-optimisation: the gold judge against the reward model", "过度优化：金标准评判与奖励模型")}</h3>
            <p class="muted small">{move || tr(lang.get(),
                "The reward model is a proxy learned from a few pairs; the persona is the judge whose taste is known exactly (gold). Every few iterations each run answers the same held-out questions, and we measure how far it has moved from SFT and how both judges score it. The distance is the KL divergence: how much more surprising the policy's words are to SFT than to the policy itself, on average (0 = it picks words exactly as SFT does); the x axis is its square root. Optimise the proxy hard enough and it keeps rising while gold rises, peaks and falls: past the peak the policy games the reward model (Gao, Schulman & Hilton 2022). Best-of-n reaches its points without training: sample n answers from SFT and keep the one the reward model likes best. β is what delays the fall.",
                "奖励模型是从少量排序对中学到的代理；人设评审的偏好是确切已知的（金标准）。每隔几次迭代，每个运行回答同一组留出问题，我们测量它离微调模型有多远，以及两个评审给它的分数。距离用 KL 散度衡量：策略选出的词，对微调模型来说平均比对策略自己多出多少“意外”（0 = 和微调模型选词完全一样）；横轴是它的平方根。对代理优化得足够狠，它会一直上升，而金标准先升、到顶、再降：过了峰值，策略就在钻奖励模型的空子（Gao、Schulman 与 Hilton，2022）。n 选 1 不用训练就能得到它的点：从微调模型采样 n 个回答，留下奖励模型最喜欢的那个。β 的作用就是推迟这种下降。")}</p>
            <div class="grid">
                <div class="card"><h3>{move || tr(lang.get(), "gold: the persona's mean score", "金标准：人设的平均分")}</h3><LineChart series=gold testid="overopt-gold" x_label=x /></div>
                <div class="card"><h3>{move || tr(lang.get(), "proxy: the reward each method optimised", "代理：各方法所优化的奖励")}</h3><LineChart series=proxy testid="overopt-proxy" x_label=x /></div>
            </div>
            <ul data-testid="overopt-peaks">
                {move || peaks(&overopt.points.get(), lang.get()).into_iter().map(|l| view! { <li>{l}</li> }).collect_view()}
            </ul>
            <details>
                <summary>{move || tr(lang.get(), "The points as a table", "数据表")}</summary>
                <table class="compare" data-testid="overopt-table">
                    <thead><tr>
                        <th>{move || tr(lang.get(), "method", "方法")}</th>
                        <th>{move || tr(lang.get(), "n or step", "n 或步数")}</th>
                        <th>"√KL"</th>
                        <th>{move || tr(lang.get(), "proxy", "代理")}</th>
                        <th>{move || tr(lang.get(), "gold", "金标准")}</th>
                    </tr></thead>
                    <tbody>
                        {move || overopt.points.get().into_iter().map(|p| view! {
                            <tr data-testid="overopt-row" data-method=p.method.clone()>
                                <td>{label(lang.get_untracked(), &p.method)}</td>
                                <td class="mono">{p.step}</td>
                                <td class="mono">{format!("{:.2}", p.sqrt_kl)}</td>
                                <td class="mono">{format!("{:.3}", p.proxy)}</td>
                                <td class="mono">{format!("{:.3}", p.gold)}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </details>
            <h3>{move || tr(lang.get(), "Signs of reward hacking (latest probe)", "奖励投机的迹象（最近一次测量）")}</h3>
            <p class="muted small">{move || tr(lang.get(),
                "What practitioners watch: answers growing longer because length pays (a length–score correlation near 1), the same few words for every question (distinct-1 and distinct-2 falling), and answers that stop mid-sentence.",
                "实践中要盯着看的：回答因为“越长越得分”而变长（长度与得分的相关接近 1）、对每个问题都说同样几个词（distinct-1、distinct-2 下降）、回答在半句话处断掉。")}</p>
            <div class="grid">
                <div class="card">
                    <h3>{move || tr(lang.get(), "answer length against the reward model's score", "回答长度与奖励模型得分")}</h3>
                    <LineChart series=scatter testid="overopt-length-score" x_label=tokens dots=true />
                </div>
                <div class="card">
                    <table class="compare" data-testid="overopt-signs">
                        <thead><tr>
                            <th>{move || tr(lang.get(), "method", "方法")}</th>
                            <th>{move || tr(lang.get(), "words per answer", "每个回答的词数")}</th>
                            <th>"distinct-1"</th>
                            <th>"distinct-2"</th>
                            <th>{move || tr(lang.get(), "ended", "完整结束")}</th>
                            <th>{move || tr(lang.get(), "length–score r", "长度–得分 r")}</th>
                        </tr></thead>
                        <tbody>
                            {move || overopt.signs.get().into_iter().map(|(m, d)| view! {
                                <tr data-testid="overopt-sign">
                                    <td>{label(lang.get_untracked(), &m)}</td>
                                    <td class="mono">{format!("{:.1}", d.mean_words)}</td>
                                    <td class="mono">{format!("{:.3}", d.distinct_1)}</td>
                                    <td class="mono">{format!("{:.3}", d.distinct_2)}</td>
                                    <td class="mono">{format!("{:.0} %", 100.0 * d.ended)}</td>
                                    <td class="mono">{format!("{:+.2}", d.length_score_correlation)}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
            </div>
        </div>
    }
}

fn dpo_series(points: &[DpoPoint], lang: Lang) -> Vec<Series> {
    vec![
        Series {
            label: tr(lang, "loss", "损失").into(),
            color: PURPLE,
            dashed: false,
            points: points.iter().map(|p| (p.step as f64, p.loss as f64)).collect(),
        },
        Series {
            label: tr(lang, "pairs ordered right", "排对的比例").into(),
            color: ORANGE,
            dashed: true,
            points: points.iter().map(|p| (p.step as f64, p.accuracy as f64)).collect(),
        },
    ]
}

/// DPO on the pairs you ranked, beside PPO.
#[component]
pub fn DpoCard(dpo: DpoUi, sft_step: RwSignal<usize>, session: RwSignal<Session>) -> impl IntoView {
    let lang = expect_context::<RwSignal<Lang>>();
    let ready = Signal::derive(move || sft_step.get() > 0 && session.with(|s| s.comparisons.iter().any(|c| !c.pairs.is_empty())));
    let chart = Signal::derive(move || dpo_series(&dpo.points.get(), lang.get()));
    let x = Signal::derive(move || tr(lang.get(), "DPO step", "DPO 步数").to_string());
    let restart = move || {
        dpo.running.set(false);
        dpo.restart_requests.update(|n| *n += 1);
    };
    let busy = move || match dpo.busy.get() {
        Some(DpoBusy::Probing) => tr(lang.get(), "answering the held-out questions and the watched prompt…", "回答留出问题与观察中的问题…"),
        Some(DpoBusy::Step) => tr(lang.get(), "fitting the policy to your pairs…", "让策略拟合你的排序对…"),
        None => "",
    };
    let last = move || dpo.points.with(|v| v.last().cloned());
    view! {
        <div class="card" data-testid="dpo">
            <h3>{move || tr(lang.get(), "DPO on the same pairs", "在同样的排序对上做 DPO")}</h3>
            <p class="muted small">{move || tr(lang.get(),
                "Direct preference optimisation skips the reward model and the sampling: starting from SFT, it makes each chosen answer more likely and each rejected one less likely, relative to the frozen SFT model. Its implicit reward for an answer is β·(log π − log π_ref): below, each token of its answer is coloured by its share of it, beside the reward model's score. Its points join the chart above, so you can compare it with PPO and best-of-n at the same distance from SFT.",
                "直接偏好优化（DPO）跳过奖励模型和采样：从微调模型出发，相对于冻结的微调模型，让被选中的回答更可能、被拒绝的更不可能。它对一个回答的隐式奖励是 β·(log π − log π_ref)：下面按每个词元所占的份额给它的回答着色，旁边是奖励模型的分数。它的点也画在上面的图里，可以在离微调模型同样远的地方和 PPO、n 选 1 比较。")}</p>
            <div class="controls">
                <label>"β_DPO "
                    <input type="number" data-testid="dpo-beta" min="0.001" max="10" step="0.05" prop:value=move || format!("{}", dpo.beta.get())
                        on:change=move |ev| { if let Ok(v) = event_target_value(&ev).trim().parse::<f32>() && v.is_finite() { dpo.beta.set(v.clamp(0.001, 10.0)) } } />
                </label>
                <label>{move || tr(lang.get(), "learning rate ", "学习率 ")}
                    <select data-testid="dpo-lr" on:change=move |ev| { if let Ok(v) = event_target_value(&ev).parse() { dpo.lr.set(v) } }>
                        {[3e-5, 1e-4, 3e-4, 1e-3].into_iter().map(|v| view! { <option value=v.to_string() selected=move || dpo.lr.get() == v>{format!("{v:e}")}</option> }).collect_view()}
                    </select>
                </label>
                <RunControls running=dpo.running step_requests=dpo.step_requests enabled=ready prefix="dpo" />
                <button data-testid="dpo-restart" disabled=move || dpo.points.with(Vec::is_empty) on:click=move |_| restart()>{move || tr(lang.get(), "↺ Restart from SFT", "↺ 从微调模型重新开始")}</button>
                <span class="stat" data-testid="dpo-stats">{move || last().map(|p| format!("{} {} · loss {:.3} · {:.0} % · margin {:.3}", tr(lang.get(), "step", "步"), p.step, p.loss, 100.0 * p.accuracy, p.margin)).unwrap_or_default()}</span>
                <span class="muted" data-testid="dpo-busy">{busy}</span>
            </div>
            <p class="muted small">{move || tr(lang.get(), "β_DPO and the learning rate take effect when DPO (re)starts from SFT.", "β_DPO 和学习率在 DPO 从微调模型（重新）开始时生效。")}</p>
            <div class="grid"><div class="card"><h3>{move || tr(lang.get(), "DPO loss and pairs ordered right", "DPO 损失与排对的比例")}</h3><LineChart series=chart testid="dpo-chart" x_label=x /></div></div>
            {move || dpo.answer.get().map(|a| view! {
                <p data-testid="dpo-answer">
                    <span class="mono">{a.prompt.trim().to_string()}</span>" → "
                    <span class="tokens">
                        {a.tokens.into_iter().map(|(t, r)| {
                            let title = format!("{t:?}  β·(log π − log π_ref) = {r:.3}");
                            view! { <span class="tok kl" data-testid="dpo-token" style=format!("background:{}", kl_colour(r)) title=title>{t.replace('\n', "⏎").replace("<|endoftext|>", "⟂")}</span> }
                        }).collect_view()}
                    </span>
                    <span class="muted">{format!("  r = {:.2}  (#{})", a.score, a.at)}</span>
                </p>
            })}
        </div>
    }
}
