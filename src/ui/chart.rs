//! A small SVG line chart.
//!
//! Hand-rolled on purpose: the plotting crates draw imperatively onto a canvas,
//! while an SVG produced by `view!` re-renders reactively, stays crisp at any zoom,
//! is readable by tests, and costs nothing in bundle size.

use leptos::prelude::*;

/// Okabe–Ito colours (distinguishable with the common colour-vision deficiencies);
/// series also differ by dash pattern, so colour is never the only cue.
pub const BLUE: &str = "#0072B2";
pub const ORANGE: &str = "#E69F00";
pub const GREEN: &str = "#009E73";
pub const VERMILLION: &str = "#D55E00";
pub const PURPLE: &str = "#CC79A7";

#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub label: String,
    pub color: &'static str,
    pub dashed: bool,
    pub points: Vec<(f64, f64)>,
}

const W: f64 = 560.0;
const H: f64 = 220.0;
const PAD_L: f64 = 44.0;
const PAD_R: f64 = 12.0;
const PAD_T: f64 = 12.0;
const PAD_B: f64 = 28.0;

fn bounds(series: &[Series]) -> Option<(f64, f64, f64, f64)> {
    let pts = series.iter().flat_map(|s| s.points.iter()).filter(|p| p.0.is_finite() && p.1.is_finite());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    let mut any = false;
    for &(x, y) in pts {
        any = true;
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if !any {
        return None;
    }
    if x1 - x0 < 1e-9 {
        x1 = x0 + 1.0;
    }
    if y1 - y0 < 1e-9 {
        y1 = y0 + 1.0;
    }
    Some((x0, x1, y0.min(0.0f64.max(y0 - 0.05 * (y1 - y0))), y1))
}

/// Series with at most this many points get a marker at each.
const MARKED: usize = 40;

/// An x-axis end: whole numbers for steps, one decimal for short spans (√KL).
fn tick(x: f64, span: f64) -> String {
    if span < 10.0 && x.fract() != 0.0 { format!("{x:.1}") } else { format!("{x:.0}") }
}

#[component]
pub fn LineChart(
    #[prop(into)] series: Signal<Vec<Series>>,
    #[prop(into)] testid: String,
    #[prop(into)] x_label: Signal<String>,
    /// A scatter plot: every point marked, none joined.
    #[prop(optional)]
    dots: bool,
) -> impl IntoView {
    let body = move || {
        let series = series.get();
        let Some((x0, x1, y0, y1)) = bounds(&series) else {
            return view! { <text x=W / 2.0 y=H / 2.0 text-anchor="middle" class="chart-empty">"—"</text> }.into_any();
        };
        let sx = move |x: f64| PAD_L + (x - x0) / (x1 - x0) * (W - PAD_L - PAD_R);
        let sy = move |y: f64| H - PAD_B - (y - y0) / (y1 - y0) * (H - PAD_T - PAD_B);
        let ticks: Vec<f64> = (0..=4).map(|i| y0 + (y1 - y0) * i as f64 / 4.0).collect();
        let lines = series
            .iter()
            .map(|s| {
                let pts = s.points.iter().map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y))).collect::<Vec<_>>().join(" ");
                let dash = if s.dashed { "6 4" } else { "none" };
                // Few points (probes, best-of-n's n): each marked, so one point shows too.
                let marks = (dots || s.points.len() <= MARKED).then(|| {
                    s.points
                        .iter()
                        .filter(|p| p.0.is_finite() && p.1.is_finite())
                        .map(|&(x, y)| view! { <circle cx=sx(x) cy=sy(y) r="3" fill=s.color /> })
                        .collect_view()
                });
                let line =
                    (!dots).then(|| view! { <polyline points=pts fill="none" stroke=s.color stroke-width="2" stroke-dasharray=dash /> });
                view! { {line}{marks} }
            })
            .collect_view();
        let legend = series
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let y = PAD_T + 4.0 + 16.0 * i as f64;
                let last = if dots { String::new() } else { s.points.last().map(|p| format!(" {:.3}", p.1)).unwrap_or_default() };
                let dash = if s.dashed { "6 4" } else { "none" };
                view! {
                    <line x1=W - 190.0 x2=W - 166.0 y1=y y2=y stroke=s.color stroke-width="2" stroke-dasharray=dash />
                    <text x=W - 160.0 y=y + 4.0 class="chart-legend">{format!("{}{}", s.label, last)}</text>
                }
            })
            .collect_view();
        view! {
            {ticks.into_iter().map(|v| view! {
                <line x1=PAD_L x2=W - PAD_R y1=sy(v) y2=sy(v) class="chart-grid" />
                <text x=PAD_L - 6.0 y=sy(v) + 4.0 text-anchor="end" class="chart-tick">{format!("{v:.2}")}</text>
            }).collect_view()}
            <text x=PAD_L y=H - 8.0 class="chart-tick">{tick(x0, x1 - x0)}</text>
            <text x=W - PAD_R y=H - 8.0 text-anchor="end" class="chart-tick">{tick(x1, x1 - x0)}</text>
            <text x=(PAD_L + W) / 2.0 y=H - 8.0 text-anchor="middle" class="chart-tick">{move || x_label.get()}</text>
            {lines}
            {legend}
        }
        .into_any()
    };
    view! {
        <svg class="chart" data-testid=testid viewBox=format!("0 0 {W} {H}") role="img">
            {body}
        </svg>
    }
}

/// Bars of a histogram (e.g. of rewards), with the range of each bar on hover.
#[component]
pub fn Histogram(#[prop(into)] bins: Signal<Vec<crate::stats::Bin>>, #[prop(into)] testid: String) -> impl IntoView {
    let body = move || {
        let bins = bins.get();
        let top = bins.iter().map(|b| b.count).max().unwrap_or(0);
        if top == 0 {
            return view! { <text x=W / 2.0 y=H / 2.0 text-anchor="middle" class="chart-empty">"—"</text> }.into_any();
        }
        let n = bins.len() as f64;
        let bw = (W - PAD_L - PAD_R) / n;
        let bars = bins
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let h = b.count as f64 / top as f64 * (H - PAD_T - PAD_B);
                view! {
                    <rect x=PAD_L + bw * i as f64 + 1.0 y=H - PAD_B - h width=(bw - 2.0).max(1.0) height=h fill=BLUE data-count=b.count>
                        <title>{format!("[{:.2}, {:.2}): {}", b.lo, b.hi, b.count)}</title>
                    </rect>
                }
            })
            .collect_view();
        let (lo, hi) = (bins.first().map_or(0.0, |b| b.lo), bins.last().map_or(0.0, |b| b.hi));
        view! {
            <line x1=PAD_L x2=W - PAD_R y1=H - PAD_B y2=H - PAD_B class="chart-grid" />
            <text x=PAD_L - 6.0 y=PAD_T + 8.0 text-anchor="end" class="chart-tick">{top}</text>
            <text x=PAD_L y=H - 8.0 class="chart-tick">{format!("{lo:.2}")}</text>
            <text x=W - PAD_R y=H - 8.0 text-anchor="end" class="chart-tick">{format!("{hi:.2}")}</text>
            {bars}
        }
        .into_any()
    };
    view! {
        <svg class="chart" data-testid=testid viewBox=format!("0 0 {W} {H}") role="img">
            {body}
        </svg>
    }
}
