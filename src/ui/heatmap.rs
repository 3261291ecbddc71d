//! Attention heatmap: row = the position that looks, column = the position it
//! looks at; darker = more attention. SVG for the same reasons as the chart.

use crate::inspect::AttentionMaps;
use leptos::prelude::*;

/// Sequential colour ramp from pale to dark blue (readable in greyscale too).
fn ramp(p: f32) -> String {
    let p = p.clamp(0.0, 1.0).sqrt(); // sqrt: small weights stay visible
    let lerp = |a: f32, b: f32| (a + (b - a) * p).round() as u8;
    format!("rgb({},{},{})", lerp(247.0, 8.0), lerp(251.0, 48.0), lerp(255.0, 107.0))
}

/// Token text made visible: spaces and newlines would otherwise be blank labels.
fn label(s: &str) -> String {
    s.replace(' ', "·").replace('\n', "⏎").replace("<|endoftext|>", "<eot>")
}

#[component]
pub fn Heatmap(
    #[prop(into)] maps: Signal<Option<AttentionMaps>>,
    #[prop(into)] layer: Signal<usize>,
    #[prop(into)] head: Signal<usize>,
    #[prop(default = "attention-heatmap")] testid: &'static str,
) -> impl IntoView {
    move || {
        let Some(m) = maps.get() else {
            return view! { <p class="muted">"…"</p> }.into_any();
        };
        let (layer, head) = (layer.get().min(m.n_layer.saturating_sub(1)), head.get().min(m.n_head.saturating_sub(1)));
        let t = m.len();
        let cell = (360.0 / t.max(1) as f64).clamp(6.0, 22.0);
        let margin = 64.0;
        let size = margin + cell * t as f64;
        let cells = (0..t)
            .flat_map(|q| (0..t).map(move |k| (q, k)))
            .map(|(q, k)| {
                let p = m.row(layer, head, q)[k];
                view! {
                    <rect x=margin + cell * k as f64 y=margin + cell * q as f64 width=cell height=cell fill=ramp(p)>
                        <title>{format!("{} → {}: {:.3}", label(&m.tokens[q]), label(&m.tokens[k]), p)}</title>
                    </rect>
                }
            })
            .collect_view();
        let labels = m
            .tokens
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let c = margin + cell * (i as f64 + 0.5);
                view! {
                    <text x=margin - 4.0 y=c + 3.0 text-anchor="end" class="heat-label">{label(s)}</text>
                    <text x=c y=margin - 4.0 text-anchor="start" class="heat-label" transform=format!("rotate(-60 {c} {})", margin - 4.0)>{label(s)}</text>
                }
            })
            .collect_view();
        view! {
            <svg class="heatmap" data-testid=testid data-cells=t * t viewBox=format!("0 0 {size} {size}") role="img">
                {labels}
                {cells}
            </svg>
        }
        .into_any()
    }
}

/// Diverging colour for a per-token KL term log π − log π_ref: vermillion where the
/// policy now likes the token more than SFT did, blue where less, white where the
/// same (Okabe–Ito ends; the sign is also in each token's hover text).
pub fn kl_colour(kl: f32) -> String {
    let p = (kl.abs() / 2.0).clamp(0.0, 1.0).sqrt();
    let (r, g, b) = if kl >= 0.0 { (213.0, 94.0, 0.0) } else { (0.0, 114.0, 178.0) };
    let lerp = |end: f32| (255.0 + (end - 255.0) * p).round() as u8;
    format!("rgb({},{},{})", lerp(r), lerp(g), lerp(b))
}
