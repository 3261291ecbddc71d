//! "Look inside": the WGSL kernels we wrote (src/kernels), their source, how often
//! each ran in the last step that used the GPU and in all, how many readbacks that
//! step made, and a button that compares each kernel with the burn computation it
//! replaces on this very device.

use super::i18n::tr;
use super::view::{BackendInfo, InsideView};
use crate::corpus::Lang;
use crate::kernels::KERNELS;
use leptos::prelude::*;

#[component]
pub fn InsidePanel(
    inside: RwSignal<InsideView>,
    kernel_check_requests: RwSignal<u64>,
    backend: RwSignal<Option<BackendInfo>>,
    ready: RwSignal<bool>,
) -> impl IntoView {
    let lang = expect_context::<RwSignal<Lang>>();
    let on_gpu = move || backend.get().is_some_and(|b| b.webgpu);
    let rows = KERNELS
        .iter()
        .enumerate()
        .map(|(i, k)| {
            view! {
                <div class="card kernel" data-testid="inside-kernel" data-kernel=k.name>
                    <h3><code>{k.file}</code></h3>
                    <p class="muted">{k.used_by}</p>
                    <p>
                        <span data-testid="inside-last" data-kernel=k.name>{move || format!("{}: {}", tr(lang.get(), "dispatches in the last GPU step", "最近一步的调度次数"), inside.with(|v| v.last[i]))}</span>
                        " · "
                        <span data-testid="inside-total" data-kernel=k.name>{move || format!("{}: {}", tr(lang.get(), "since the page opened", "页面打开以来"), inside.with(|v| v.total[i]))}</span>
                    </p>
                    <details>
                        <summary>{move || tr(lang.get(), "WGSL source", "WGSL 源码")}</summary>
                        <pre class="wgsl" data-testid="inside-source">{k.source}</pre>
                    </details>
                </div>
            }
        })
        .collect_view();
    view! {
        <details class="panel inside" data-testid="panel-inside">
            <summary>{move || tr(lang.get(), "🔍 Look inside: the GPU kernels we wrote ourselves", "🔍 看看内部：我们亲手写的 GPU 内核")}</summary>
            <p class="explain">{move || tr(lang.get(),
                "burn turns every tensor operation into WGSL compute shaders for your GPU. Three of them we wrote by hand: sampling the next token right on the GPU (so an answer is read back once, not once per token), the per-token log-probabilities and KL that PPO needs (one pass over both models' logits), and causal attention that also hands the heatmaps their probabilities (one dispatch per layer whenever no gradients are needed). Here is their source, how often they ran, and a check that they compute exactly what burn's own operations compute.",
                "burn 把每个张量运算编译成在你的 GPU 上运行的 WGSL 计算着色器。其中三个是我们手写的：直接在 GPU 上采样下一个词元（一个回答只读回一次，而不是每个词元一次），PPO 需要的逐词元对数概率和 KL（一次遍历两个模型的 logits），以及同时为热力图给出概率的因果注意力（不需要梯度时每层只调度一次）。这里是它们的源码、运行次数，以及它们与 burn 自身运算结果一致的检验。")}</p>
            <Show when=move || !on_gpu()>
                <p class="muted" data-testid="inside-cpu">{move || tr(lang.get(),
                    "This page runs on the CPU backend, so these kernels do not run: the CPU computes the same thing in plain Rust (src/kernels/reference.rs).",
                    "本页运行在 CPU 后端，这些内核不会运行：CPU 用普通 Rust 计算同样的结果（src/kernels/reference.rs）。")}</p>
            </Show>
            <p>
                <span data-testid="inside-readbacks">{move || format!("{}: {}", tr(lang.get(), "readbacks from the device in the last step", "最近一步从设备读回的次数"), inside.with(|v| v.last_readbacks))}</span>
            </p>
            <div class="grid">{rows}</div>
            <div class="controls">
                <button data-testid="inside-check" disabled=move || !ready.get() || inside.with(|v| v.checking)
                    on:click=move |_| kernel_check_requests.update(|n| *n += 1)>
                    {move || tr(lang.get(), "Compare each kernel with burn on this device", "在本设备上将每个内核与 burn 对比")}
                </button>
            </div>
            <table data-testid="inside-checks">
                <thead><tr>
                    <th>{move || tr(lang.get(), "kernel", "内核")}</th>
                    <th>{move || tr(lang.get(), "rows", "行数")}</th>
                    <th>{move || tr(lang.get(), "agreement", "一致率")}</th>
                    <th>{move || tr(lang.get(), "max |error|", "最大误差")}</th>
                    <th>{move || tr(lang.get(), "inside top-k", "在 top-k 内")}</th>
                    <th>{move || tr(lang.get(), "ran WGSL", "运行了 WGSL")}</th>
                    <th>{move || tr(lang.get(), "GPU time, ours", "GPU 耗时（我们的）")}</th>
                    <th>{move || tr(lang.get(), "GPU time, burn's ops", "GPU 耗时（burn 运算）")}</th>
                </tr></thead>
                <tbody>
                    {move || inside.with(|v| v.checks.iter().map(|c| view! {
                        <tr data-testid="inside-check-row">
                            <td><code>{c.kernel.to_string()}</code></td>
                            <td>{c.rows}</td>
                            <td>{format!("{:.1} %", 100.0 * c.agreement)}</td>
                            <td>{format!("{:.2e}", c.max_abs_error)}</td>
                            <td>{if c.within_top_k { "✓" } else { "✗" }}</td>
                            <td>{if c.on_gpu { "✓" } else { "—" }}</td>
                            <td data-testid="inside-gpu-us">{us(c.gpu_us)}</td>
                            <td>{us(c.burn_gpu_us)}</td>
                        </tr>
                    }).collect_view())}
                </tbody>
            </table>
            <p class="muted">{move || tr(lang.get(),
                "GPU time is one call on the check's inputs, read from the GPU's own clock (timestamp queries); “—” where this adapter has no timestamp-query, or for sample, which replaces a readback rather than GPU work.",
                "GPU 耗时是在检验输入上调用一次的时间，读自 GPU 自己的时钟（时间戳查询）；适配器不支持 timestamp-query 时显示“—”，sample 替代的是一次读回而非 GPU 运算，也显示“—”。")}</p>
        </details>
    }
}

fn us(t: Option<f32>) -> String {
    t.map_or_else(|| "—".into(), |t| format!("{t:.1} µs"))
}
