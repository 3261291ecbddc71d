//! Stage 6, evaluation: blind A/B of the PPO policy against SFT on unseen prompts,
//! judged by the user (buttons or keys A / B / T) — the persona's and the reward
//! model's verdicts beside; the alignment tax; one prompt answered by all three models.

use super::controls::Intro;
use super::i18n::tr;
use super::view::Runs;
use super::view::dpo::DpoPoint;
use super::view::eval::{Contestant, EvalUi};
use crate::corpus::Lang;
use crate::evaluate::{Judgement, WinRate, verdict, win_rate};
use leptos::prelude::*;

/// "PPO wins 58% ± 12% (… of 20)", and in plain words whether the duels can tell
/// PPO from SFT at all (the 95 % interval holds 50%).
fn rate_line(l: Lang, who_en: &str, who_zh: &str, name: &str, w: WinRate) -> String {
    let n = w.wins + w.ties + w.losses;
    let half = (w.high - w.low) * 50.0;
    let verdict = match (l, n, w.within_noise()) {
        (_, 0, _) => String::new(),
        (Lang::En, _, true) => format!(" — within noise: too few duels to tell {name} from SFT"),
        (Lang::En, _, false) if w.rate > 0.5 => format!(" — {name} is better, beyond noise"),
        (Lang::En, _, false) => format!(" — {name} is worse, beyond noise"),
        (Lang::Zh, _, true) => format!(" —— 在噪声范围内：对局太少，分不出 {name} 和微调模型"),
        (Lang::Zh, _, false) if w.rate > 0.5 => format!(" —— {name} 更好，超出噪声"),
        (Lang::Zh, _, false) => format!(" —— {name} 更差，超出噪声"),
    };
    match l {
        Lang::En => format!(
            "{who_en}: {name} wins {:.0}% ± {half:.0}% ({} wins, {} ties, {} losses of {n}){verdict}",
            w.rate * 100.0,
            w.wins,
            w.ties,
            w.losses
        ),
        Lang::Zh => format!(
            "{who_zh}：{name} 胜率 {:.0}% ± {half:.0}%（{} 胜 {} 平 {} 负，共 {n}）{verdict}",
            w.rate * 100.0,
            w.wins,
            w.ties,
            w.losses
        ),
    }
}

#[component]
pub fn EvalPanel(ev: EvalUi, ppo_iteration: RwSignal<usize>, dpo_points: RwSignal<Vec<DpoPoint>>) -> impl IntoView {
    let lang = expect_context::<RwSignal<Lang>>();
    let show_judges = RwSignal::new(false);
    let current = move || ev.duels.with(|d| d.iter().position(|x| x.judged.is_none()));
    let judge = move |j: Judgement| {
        let Some(i) = current() else { return };
        ev.duels.update(|d| {
            let v = d[i].blind.ppo_verdict(j);
            d[i].judged = Some(v);
        });
    };
    let on_key = move |e: leptos::ev::KeyboardEvent| {
        let j = match e.key().to_lowercase().as_str() {
            "a" | "1" => Judgement::A,
            "b" | "2" => Judgement::B,
            "t" | "=" | "0" => Judgement::Tie,
            _ => return,
        };
        e.prevent_default();
        judge(j);
    };
    let run = move || {
        expect_context::<Runs>().pause_all();
        show_judges.set(false);
        ev.busy.set(true);
        ev.requests.update(|n| *n += 1);
    };
    let ready =
        move || ppo_iteration.get() > 0 && !ev.busy.get() && (ev.against.get() != Contestant::Dpo || dpo_points.with(|p| !p.is_empty()));
    // The policy the duels were drawn from.
    let name = move || ev.judged.get().name().to_string();
    let progress = move || {
        let (judged, n) = ev.duels.with(|d| (d.iter().filter(|x| x.judged.is_some()).count(), d.len()));
        match lang.get() {
            Lang::En => format!("{judged} of {n} judged"),
            Lang::Zh => format!("已评判 {judged} / {n}"),
        }
    };
    let model_name = move |m: &str| {
        let l = lang.get();
        match m {
            "pretrained" => tr(l, "pretrained", "预训练模型"),
            "sft" => tr(l, "SFT", "微调模型"),
            "ppo" => tr(l, "PPO policy", "PPO 策略"),
            "dpo" => tr(l, "DPO policy", "DPO 策略"),
            _ => tr(l, "PPO run beside it", "PPO 对照组"),
        }
    };

    view! {
        <section class="panel" data-testid="panel-evaluate">
            <Intro lang=lang title=("6 · Evaluate: is the PPO policy better than SFT?", "6 · 评估：PPO 策略比微调模型更好吗？")
                explain=("On prompts about facts no stage but pretraining saw, the SFT model and the PPO policy each answer once. You see the two answers as A and B — which is which is decided by a coin — and pick the better one or call a tie. A win rate of 50% means PPO is no better. The persona and the reward model judge the same pairs; when the reward model likes PPO much more than the persona does, PPO has learned to please the reward model, not you. The alignment tax is how much worse each model predicts held-out pretraining text.",
                    "在只有预训练见过其事实的问题上，微调模型和 PPO 策略各回答一次。你看到的两个回答标为 A 和 B——哪个是哪个由抛硬币决定——选出更好的一个，或判平。胜率 50% 表示 PPO 没有更好。角色和奖励模型也评判同样的回答对；如果奖励模型比角色更偏爱 PPO，说明 PPO 学会的是讨好奖励模型，而不是讨好你。对齐税：各模型预测留出预训练文本变差了多少。") />
            <div class="controls">
                <label>{move || tr(lang.get(), "SFT against ", "微调模型对阵 ")}
                    <select data-testid="eval-against" on:change=move |ev_| ev.against.set(if event_target_value(&ev_) == "dpo" { Contestant::Dpo } else { Contestant::Ppo })>
                        <option value="ppo" selected=move || ev.against.get() == Contestant::Ppo>"PPO"</option>
                        <option value="dpo" selected=move || ev.against.get() == Contestant::Dpo disabled=move || dpo_points.with(Vec::is_empty)>{move || tr(lang.get(), "DPO (train it on the PPO tab)", "DPO（在 PPO 页训练）")}</option>
                    </select>
                </label>
                <button data-testid="eval-run" class="primary" disabled=move || !ready() on:click=move |_| run()>{move || tr(lang.get(), "Evaluate the current policy", "评估当前策略")}</button>
                <Show when=move || ev.busy.get()><span class="muted">{move || tr(lang.get(), "sampling answers and measuring…", "正在采样回答并测量…")}</span></Show>
                <span class="stat" data-testid="eval-progress">{progress}</span>
                <Show when=move || { ev.at_iteration.get() > 0 }><span class="muted">{move || format!("{} {}", tr(lang.get(), "policy at PPO iteration", "策略来自 PPO 迭代"), ev.at_iteration.get())}</span></Show>
            </div>
            <div class="card duel" data-testid="eval-duel" tabindex="0" on:keydown=on_key>
                {move || match current().and_then(|i| ev.duels.with(|d| d.get(i).cloned())) {
                    Some(d) => view! {
                        <h3 class="mono" data-testid="eval-prompt">{d.blind.prompt.trim().to_string()}</h3>
                        <div class="ab">
                            <div class="side"><h4>"A"</h4><p class="mono" data-testid="eval-a">{if d.blind.a.is_empty() { "∅".into() } else { d.blind.a.clone() }}</p></div>
                            <div class="side"><h4>"B"</h4><p class="mono" data-testid="eval-b">{if d.blind.b.is_empty() { "∅".into() } else { d.blind.b.clone() }}</p></div>
                        </div>
                        <div class="controls">
                            <button data-testid="eval-choose-a" on:click=move |_| judge(Judgement::A)>{move || tr(lang.get(), "A is better (A)", "A 更好 (A)")}</button>
                            <button data-testid="eval-tie" on:click=move |_| judge(Judgement::Tie)>{move || tr(lang.get(), "Tie (T)", "平局 (T)")}</button>
                            <button data-testid="eval-choose-b" on:click=move |_| judge(Judgement::B)>{move || tr(lang.get(), "B is better (B)", "B 更好 (B)")}</button>
                            <span class="muted small">{move || tr(lang.get(), "Keys: A, B, T (or 1, 2, =) while this card has focus.", "按键：焦点在此卡片上时按 A、B、T（或 1、2、=）。")}</span>
                        </div>
                    }.into_any(),
                    None if ev.duels.with(Vec::is_empty) => view! { <p class="muted">{move || tr(lang.get(), "Press “Evaluate” to draw answers.", "点击“评估”来生成回答。")}</p> }.into_any(),
                    None => view! { <p class="muted">{move || tr(lang.get(), "All judged. Evaluate again to draw new answers.", "全部评判完毕。再次评估可生成新的回答。")}</p> }.into_any(),
                }}
            </div>
            <div class="card" data-testid="eval-results">
                <h3>{move || tr(lang.get(), "Win rates (ties count half; 50% = no better)", "胜率（平局算半场；50% = 没有更好）")}</h3>
                <p class="stat" data-testid="eval-user-rate">{move || rate_line(lang.get(), "You", "你", &name(), ev.duels.with(|d| win_rate(d.iter().filter_map(|x| x.judged))))}</p>
                <Show when=move || show_judges.get()
                    fallback=move || view! { <button data-testid="eval-persona" disabled=move || ev.duels.with(Vec::is_empty) on:click=move |_| show_judges.set(true)>{move || tr(lang.get(), "Let the persona and the reward model judge", "让角色和奖励模型来评判")}</button> }>
                    <p class="stat" data-testid="eval-persona-rate">{move || rate_line(lang.get(), "Persona", "角色", &name(), ev.duels.with(|d| win_rate(d.iter().map(|x| x.persona))))}</p>
                    <p class="stat" data-testid="eval-rm-rate">{move || rate_line(lang.get(), "Reward model", "奖励模型", &name(), ev.duels.with(|d| win_rate(d.iter().map(|x| verdict(x.ppo_score, x.sft_score)))))}</p>
                </Show>
                <details>
                    <summary>{move || tr(lang.get(), "Judged pairs, unblinded", "已评判的回答对（揭晓）")}</summary>
                    <table class="compare" data-testid="eval-judged">
                        <thead><tr>
                            <th>{move || tr(lang.get(), "prompt", "问题")}</th><th>"SFT"</th><th>{name}</th>
                            <th>{move || format!("{} {}", tr(lang.get(), "your verdict for", "你的判定："), name())}</th><th>{move || format!("{} SFT / {}", tr(lang.get(), "reward", "奖励"), name())}</th>
                        </tr></thead>
                        <tbody>
                            {move || ev.duels.get().into_iter().filter(|d| d.judged.is_some()).map(|d| {
                                let (ppo, sft) = if d.blind.ppo_is_a { (d.blind.a.clone(), d.blind.b.clone()) } else { (d.blind.b.clone(), d.blind.a.clone()) };
                                let v = match d.judged { Some(v) if v > 0.5 => "win", Some(v) if v < 0.5 => "loss", _ => "tie" };
                                view! { <tr><td class="mono">{d.blind.prompt.trim().to_string()}</td><td class="mono">{sft}</td><td class="mono">{ppo}</td><td>{v}</td><td class="mono">{format!("{:.2} / {:.2}", d.sft_score, d.ppo_score)}</td></tr> }
                            }).collect_view()}
                        </tbody>
                    </table>
                </details>
            </div>
            <div class="grid">
                <div class="card">
                    <h3>{move || tr(lang.get(), "Alignment tax: held-out pretraining loss", "对齐税：留出预训练文本上的损失")}</h3>
                    <table class="compare" data-testid="eval-tax">
                        <thead><tr><th>{move || tr(lang.get(), "model", "模型")}</th><th>"β"</th><th>"γ_ptx"</th><th>{move || tr(lang.get(), "loss (nats/token)", "损失（nats/词元）")}</th></tr></thead>
                        <tbody>
                            {move || ev.tax.get().into_iter().map(|r| view! {
                                <tr data-testid="eval-tax-row" data-model=r.model>
                                    <td>{model_name(&r.model)}</td>
                                    <td class="mono">{r.beta.map(|b| format!("{b:.2}")).unwrap_or_default()}</td>
                                    <td class="mono">{r.gamma_ptx.map(|g| format!("{g:.1}")).unwrap_or_default()}</td>
                                    <td class="mono">{format!("{:.3}", r.loss)}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                    <p class="muted small">{move || tr(lang.get(), "Run PPO with a run beside it (ptx toggled) to read the tax with and without ptx.", "在 PPO 中加一个对照组（切换 ptx），即可对比有无 ptx 的对齐税。")}</p>
                </div>
                <div class="card">
                    <h3>{move || tr(lang.get(), "Same prompt, three models (greedy)", "同一个问题，三个模型（贪心解码）")}</h3>
                    <table class="compare" data-testid="eval-three-way">
                        <thead><tr><th>{move || tr(lang.get(), "prompt", "问题")}</th><th>{move || model_name("pretrained")}</th><th>{move || model_name("sft")}</th><th>{move || model_name("ppo")}</th></tr></thead>
                        <tbody>
                            {move || ev.three_way.get().into_iter().map(|r| view! {
                                <tr data-testid="eval-three-way-row"><td class="mono">{r.prompt.trim().to_string()}</td><td class="mono">{r.pretrained}</td><td class="mono">{r.sft}</td><td class="mono">{r.ppo}</td></tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
            </div>
        </section>
    }
}
