//! Stage 5, PPO: the settings (β, γ_ptx, learning rate, answers per prompt),
//! Start / Pause / Step, TRL's live charts, the latest answers with their scores and
//! a per-token KL heatmap, the watched prompts changing, the policy's attention, and
//! a second run beside the main one (β = 0 for reward hacking, or ptx toggled).

use super::chart::{BLUE, GREEN, LineChart, ORANGE, PURPLE, Series, VERMILLION};
use super::controls::{Intro, RunControls};
use super::heatmap::{Heatmap, kl_colour};
use super::i18n::tr;
use super::view::Runs;
use super::view::dpo::DpoUi;
use super::view::ppo::PpoUi;
use super::view::ppo::{AnswerView, Beside, PpoBusy, PpoPoint};
use crate::corpus::Lang;
use crate::ppo::PpoStats;
use crate::session::Session;
use leptos::prelude::*;

fn series_of(points: &[PpoPoint], metric: fn(&PpoStats) -> f32, label: String, color: &'static str, dashed: bool) -> Series {
    Series { label, color, dashed, points: points.iter().filter_map(|p| p.get(metric).map(|v| (p.iteration as f64, v as f64))).collect() }
}

/// The rollout's answers: prompt, score, KL, and each token coloured by its KL term.
#[component]
fn Answers(answers: RwSignal<Vec<AnswerView>>, testid: &'static str) -> impl IntoView {
    let lang = expect_context::<RwSignal<Lang>>();
    view! {
        <table class="compare" data-testid=testid>
            <thead><tr>
                <th>{move || tr(lang.get(), "prompt", "问题")}</th>
                <th>{move || tr(lang.get(), "score", "得分")}</th>
                <th>"KL"</th>
                <th>{move || tr(lang.get(), "answer, each token coloured by log π − log π_ref", "回答（每个词元按 log π − log π_ref 着色）")}</th>
            </tr></thead>
            <tbody>
                {move || answers.get().into_iter().map(|a| view! {
                    <tr data-testid="ppo-answer">
                        <td class="mono">{a.prompt.trim().to_string()}</td>
                        <td class="mono">{format!("{:.2}{}", a.score, if a.ended { "" } else { " …" })}</td>
                        <td class="mono">{format!("{:.2}", a.kl)}</td>
                        <td class="tokens">
                            {a.tokens.into_iter().map(|t| {
                                let title = format!("{:?}  log π = {:.3}  log π_ref = {:.3}  KL term = {:.3}", t.text, t.log_prob, t.ref_log_prob, t.kl());
                                view! { <span class="tok kl" data-testid="ppo-kl-token" style=format!("background:{}", kl_colour(t.kl())) title=title>{t.text.replace('\n', "⏎").replace("<|endoftext|>", "⟂")}</span> }
                            }).collect_view()}
                        </td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
pub fn PpoPanel(ppo: PpoUi, dpo: DpoUi, rm_step: RwSignal<usize>, sft_step: RwSignal<usize>, session: RwSignal<Session>) -> impl IntoView {
    let lang = expect_context::<RwSignal<Lang>>();
    let layer = RwSignal::new(0usize);
    let head = RwSignal::new(0usize);
    let names = move || {
        let l = lang.get();
        let main = ppo
            .labels
            .get()
            .map(|(m, _)| format!("β {:.2} γ {:.1}", m.beta, m.gamma_ptx))
            .unwrap_or_else(|| tr(l, "policy", "策略").to_string());
        let beside = ppo.labels.get().and_then(|(_, b)| b).map(|b| format!("β {:.2} γ {:.1}", b.beta, b.gamma_ptx));
        (main, beside)
    };
    let both = move |key: fn(&PpoStats) -> f32, what_en: &'static str, what_zh: &'static str| {
        Signal::derive(move || {
            let (m, b) = names();
            let what = tr(lang.get(), what_en, what_zh);
            let mut v = vec![series_of(&ppo.points.get(), key, format!("{what} · {m}"), BLUE, false)];
            if let Some(b) = b {
                v.push(series_of(&ppo.beside_points.get(), key, format!("{what} · {b}"), VERMILLION, true));
            }
            v
        })
    };
    let scores = both(|s| s.scores, "score", "得分");
    let kl = both(|s| s.kl, "KL", "KL");
    let entropy = both(|s| s.entropy, "entropy", "熵");
    let length = both(|s| s.answer_tokens, "answer length (tokens)", "回答长度（词元）");
    let policy_stats = Signal::derive(move || {
        let pts = ppo.points.get();
        vec![
            series_of(&pts, |s| s.clip_frac, "policy/clipfrac_avg".into(), ORANGE, false),
            series_of(&pts, |s| s.approx_kl, "policy/approxkl_avg".into(), PURPLE, true),
        ]
    });
    let value = Signal::derive(move || vec![series_of(&ppo.points.get(), |s| s.value_loss, "loss/value_avg".into(), GREEN, false)]);
    let x = Signal::derive(move || tr(lang.get(), "PPO iteration", "PPO 迭代").to_string());
    let ready = Signal::derive(move || rm_step.get() > 0);
    let busy = move || {
        let l = lang.get();
        match ppo.busy.get() {
            Some(PpoBusy::Normalising) => tr(
                l,
                "shifting the reward model so the demonstrations score 0, and measuring its spread on your ranked answers…",
                "平移奖励模型，让示范回答的平均分为 0，并在你排过序的回答上测量分数的分布…",
            ),
            Some(PpoBusy::Rollout) => tr(l, "sampling answers, scoring them, updating the policy…", "采样回答、打分、更新策略…"),
            Some(PpoBusy::RolloutBoth) => {
                tr(l, "both runs sample, score and update, one after the other…", "两个运行依次采样、打分、更新…")
            }
            Some(PpoBusy::BestOfN) => {
                tr(l, "sampling SFT's answers to the held-out questions for best-of-n…", "为 n 选 1 采样微调模型对留出问题的回答…")
            }
            Some(PpoBusy::Probing) => tr(
                l,
                "answering the held-out questions: gold and proxy scores, KL to SFT…",
                "回答留出问题：金标准与代理得分、与微调模型的 KL…",
            ),
            Some(PpoBusy::Watching) => tr(l, "re-answering the watched prompts…", "重新回答观察中的问题…"),
            None => "",
        }
    };
    let restart = move || {
        ppo.running.set(false);
        ppo.restart_requests.update(|n| *n += 1);
    };
    let hacking = move || {
        ppo.beside.set(Beside::Beta0);
        restart();
        expect_context::<Runs>().pause_all();
        ppo.running.set(true);
    };
    let number =
        move |testid: &'static str, min: &'static str, max: &'static str, step: &'static str, get: Signal<String>, set: Callback<f64>| {
            view! {
                <input type="number" data-testid=testid min=min max=max step=step prop:value=move || get.get()
                    on:change=move |ev| { if let Ok(v) = event_target_value(&ev).trim().parse::<f64>() && v.is_finite() { set.run(v) } } />
            }
        };
    let lrs = [1e-4, 3e-4, 1e-3, 3e-3];

    view! {
        <section class="panel" data-testid="panel-ppo">
            <Intro lang=lang title=("5 · PPO: chase the reward, stay near SFT", "5 · PPO：追求奖励，同时不远离微调模型")
                explain=("The policy starts as a copy of the SFT model. Each iteration it answers prompts, the reward model scores each answer, and every token pays a KL price, β·(log π − log π_ref), for drifting from the frozen SFT model (the reference). A value head estimates how good each point of an answer is (GAE), and the clipped PPO update makes better-than-expected tokens more likely, a little at a time. γ_ptx mixes in the pretraining loss so the policy does not forget language (PPO-ptx). Set β = 0 and nothing holds the policy: its score climbs while its answers turn strange — reward hacking.",
                    "策略从微调模型的一份拷贝开始。每次迭代它回答一批问题，奖励模型给每个回答打分，而每个词元都要为偏离冻结的微调模型（参考模型）付出 KL 代价 β·(log π − log π_ref)。价值头估计回答中每个位置有多好（GAE），裁剪后的 PPO 更新一点点地让好于预期的词元更可能出现。γ_ptx 混入预训练损失，让策略不忘记语言（PPO-ptx）。把 β 设为 0，就没有东西约束策略：得分上升，回答却越来越怪——这就是奖励投机（reward hacking）。") />
            <div class="controls">
                <label>"β "{number("ppo-beta", "0", "10", "0.01", Signal::derive(move || format!("{}", ppo.beta.get())), Callback::new(move |v: f64| ppo.beta.set(v.clamp(0.0, 10.0) as f32)))}</label>
                <label>"γ_ptx "{number("ppo-ptx", "0", "10", "0.1", Signal::derive(move || format!("{}", ppo.gamma_ptx.get())), Callback::new(move |v: f64| ppo.gamma_ptx.set(v.clamp(0.0, 10.0) as f32)))}</label>
                <label>{move || tr(lang.get(), "learning rate ", "学习率 ")}
                    <select data-testid="ppo-lr" on:change=move |ev| { if let Ok(v) = event_target_value(&ev).parse() { ppo.lr.set(v) } }>
                        {lrs.into_iter().chain((!lrs.contains(&ppo.lr.get_untracked())).then(|| ppo.lr.get_untracked())).map(|v| view! { <option value=v.to_string() selected=move || ppo.lr.get() == v>{format!("{v:e}")}</option> }).collect_view()}
                    </select>
                </label>
                <label>{move || tr(lang.get(), "answers per prompt ", "每个问题的回答数 ")}
                    <select data-testid="ppo-k" on:change=move |ev| ppo.k.set(event_target_value(&ev).parse().unwrap_or(1))>
                        {(1..=4usize).map(|k| view! { <option value=k selected=move || ppo.k.get() == k>{k}</option> }).collect_view()}
                    </select>
                </label>
                <label>{move || tr(lang.get(), "beside it ", "对照组 ")}
                    <select data-testid="ppo-beside" on:change=move |ev| ppo.beside.set(Beside::parse(&event_target_value(&ev)))>
                        <option value=Beside::None.code() selected=move || ppo.beside.get() == Beside::None>{move || tr(lang.get(), "nothing", "无")}</option>
                        <option value=Beside::Beta0.code() selected=move || ppo.beside.get() == Beside::Beta0>{move || tr(lang.get(), "β = 0, no ptx (reward hacking)", "β = 0、无 ptx（奖励投机）")}</option>
                        <option value=Beside::PtxToggled.code() selected=move || ppo.beside.get() == Beside::PtxToggled>{move || tr(lang.get(), "same β, ptx toggled", "同样的 β、切换 ptx")}</option>
                    </select>
                </label>
            </div>
            <div class="controls">
                <RunControls running=ppo.running step_requests=ppo.step_requests enabled=ready prefix="ppo" />
                <button data-testid="ppo-restart" disabled=move || !ready.get() on:click=move |_| restart()>{move || tr(lang.get(), "↺ Restart from SFT", "↺ 从微调模型重新开始")}</button>
                <button data-testid="ppo-hacking" disabled=move || !ready.get() on:click=move |_| hacking()>{move || tr(lang.get(), "Show reward hacking (β = 0 beside)", "演示奖励投机（对照 β = 0）")}</button>
                <span class="stat" data-testid="ppo-iteration">{move || format!("{} {}", tr(lang.get(), "iteration", "迭代"), ppo.iteration.get())}</span>
                <span class="muted" data-testid="ppo-busy">{busy}</span>
            </div>
            <p class="muted small">{move || tr(lang.get(),
                "β and γ_ptx act from the next iteration; learning rate, answers per prompt and the run beside it take effect when PPO (re)starts from SFT.",
                "β 与 γ_ptx 从下一次迭代起生效；学习率、每题回答数和对照组在 PPO 从微调模型（重新）开始时生效。")}</p>
            <div class="grid">
                <div class="card"><h3>"objective/scores"</h3><LineChart series=scores testid="ppo-chart-scores" x_label=x /></div>
                <div class="card"><h3>"objective/kl"</h3><LineChart series=kl testid="ppo-chart-kl" x_label=x /></div>
                <div class="card"><h3>"objective/entropy"</h3><LineChart series=entropy testid="ppo-chart-entropy" x_label=x /></div>
                <div class="card"><h3>{move || tr(lang.get(), "answer length", "回答长度")}</h3><LineChart series=length testid="ppo-chart-length" x_label=x /></div>
                <div class="card"><h3>"policy/clipfrac_avg · policy/approxkl_avg"</h3><LineChart series=policy_stats testid="ppo-chart-policy" x_label=x /></div>
                <div class="card"><h3>"loss/value_avg"</h3><LineChart series=value testid="ppo-chart-value" x_label=x /></div>
            </div>
            <div class="card">
                <h3>{move || tr(lang.get(), "Watched prompts (greedy answers, re-sampled every few iterations)", "观察中的问题（贪心解码，每隔几次迭代重新生成）")}</h3>
                <table class="compare" data-testid="ppo-watched">
                    <thead><tr>
                        <th>{move || tr(lang.get(), "prompt", "问题")}</th>
                        <th>"SFT"</th>
                        <th>{move || names().0}</th>
                        <Show when=move || names().1.is_some()><th>{move || names().1.unwrap_or_default()}</th></Show>
                    </tr></thead>
                    <tbody>
                        {move || ppo.watched.get().into_iter().map(|w| view! {
                            <tr data-testid="ppo-watched-row">
                                <td class="mono">{w.prompt.trim().to_string()}</td>
                                <td class="mono">{w.sft}</td>
                                <td class="mono" data-testid="ppo-watched-policy">{w.policy}<span class="muted">{format!("  (#{})", w.at)}</span></td>
                                {w.beside.map(|b| view! { <td class="mono" data-testid="ppo-watched-beside">{b}</td> })}
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
            <div class="card">
                <h3>{move || tr(lang.get(), "Latest rollout: scores and per-token KL (hover a token)", "最近一次采样：得分与逐词元 KL（悬停查看）")}</h3>
                <Answers answers=ppo.answers testid="ppo-answers" />
                <Show when=move || !ppo.beside_answers.with(Vec::is_empty)>
                    <h3>{move || format!("{} · {}", tr(lang.get(), "The run beside it", "对照组"), names().1.unwrap_or_default())}</h3>
                    <Answers answers=ppo.beside_answers testid="ppo-beside-answers" />
                </Show>
            </div>
            <super::overopt_panel::OverOptCard lang=lang overopt=ppo.overopt answers=ppo.answers beside_answers=ppo.beside_answers />
            <super::overopt_panel::DpoCard dpo=dpo sft_step=sft_step session=session />
            <div class="card">
                <h3>{move || tr(lang.get(), "The policy's attention over the first watched prompt and its answer", "策略对第一个观察问题及其回答的注意力")}</h3>
                <div class="controls">
                    <label>{move || tr(lang.get(), "layer ", "层 ")}
                        <select data-testid="ppo-attention-layer" on:change=move |ev| layer.set(event_target_value(&ev).parse().unwrap_or(0))>
                            {move || (0..ppo.attention.with(|a| a.as_ref().map_or(1, |m| m.n_layer))).map(|i| view! { <option value=i>{i}</option> }).collect_view()}
                        </select>
                    </label>
                    <label>{move || tr(lang.get(), "head ", "头 ")}
                        <select data-testid="ppo-attention-head" on:change=move |ev| head.set(event_target_value(&ev).parse().unwrap_or(0))>
                            {move || (0..ppo.attention.with(|a| a.as_ref().map_or(1, |m| m.n_head))).map(|i| view! { <option value=i>{i}</option> }).collect_view()}
                        </select>
                    </label>
                </div>
                <Heatmap maps=ppo.attention layer=layer head=head testid="ppo-attention-heatmap" />
            </div>
        </section>
    }
}
