"""The over-optimisation figure of one runner run (Gao et al. 2022's picture): the
persona's (gold) and the reward model's (proxy) mean score against √KL to SFT, for
best-of-n, the PPO runs probed along the way and DPO. Reads the runner's JSON lines
(`rlhf --dpo > run.jsonl`), writes an SVG (stdlib only).

Usage: python3 benches/overopt_figure.py run.jsonl out.svg
"""

import json
import sys

COLOURS = {"best_of_n": ("#009E73", "6 4", "best-of-n (n = 1…32)"), "main": ("#0072B2", "none", "PPO-ptx (β 0.1)"),
           "beta0": ("#D55E00", "6 4", "PPO, β = 0, no anchor"), "dpo": ("#CC79A7", "none", "DPO")}
W, H, PAD = 420, 300, 48


def panel(points, key, title, x0):
    xs = [p["sqrt_kl"] for p in points]
    ys = [p[key] for p in points]
    lo, hi = min(ys), max(ys)
    lo, hi = lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo)
    xmax = max(xs) * 1.05
    sx = lambda x: x0 + PAD + x / xmax * (W - PAD - 12)
    sy = lambda y: H - PAD + 8 - (y - lo) / (hi - lo) * (H - PAD - 20)
    out = [f'<text x="{x0 + W / 2}" y="16" text-anchor="middle" font-weight="bold">{title}</text>']
    for i in range(5):
        y = lo + (hi - lo) * i / 4
        out.append(f'<line x1="{x0 + PAD}" x2="{x0 + W - 12}" y1="{sy(y):.1f}" y2="{sy(y):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{x0 + PAD - 4}" y="{sy(y) + 4:.1f}" text-anchor="end" font-size="11">{y:.2f}</text>')
    for i in range(5):
        x = xmax * i / 4
        out.append(f'<text x="{sx(x):.1f}" y="{H - PAD + 24}" text-anchor="middle" font-size="11">{x:.1f}</text>')
    out.append(f'<text x="{x0 + PAD + (W - PAD) / 2}" y="{H - 8}" text-anchor="middle" font-size="12">√KL(π ‖ SFT), nats per answer</text>')
    for method, (colour, dash, _) in COLOURS.items():
        pts = sorted((p for p in points if p["method"] == method), key=lambda p: p["step"])
        if not pts:
            continue
        line = " ".join(f"{sx(p['sqrt_kl']):.1f},{sy(p[key]):.1f}" for p in pts)
        out.append(f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="2" stroke-dasharray="{dash}"/>')
        out += [f'<circle cx="{sx(p["sqrt_kl"]):.1f}" cy="{sy(p[key]):.1f}" r="3" fill="{colour}"/>' for p in pts]
    return out


def main(src, dst):
    events = [json.loads(l) for l in open(src) if l.startswith("{")]
    summary = next((e for e in events if e.get("stage") == "summary"), {})
    points = [e for e in events if e.get("stage") == "overopt"]
    if not points:  # a --quiet run: the summary carries them
        points = summary.get("best_of_n_curve", []) + summary["ppo"]["overopt"]
        points += (summary.get("ppo_beta0") or {}).get("overopt", [])
        points += [summary["dpo"]["overopt"]] if summary.get("dpo") else []
    seed = summary.get("config", {}).get("seed", "?")
    body = panel(points, "gold", "gold: the persona's mean score", 0) + panel(points, "proxy", "proxy: the reward each optimised", W)
    for i, (method, (colour, dash, label)) in enumerate(COLOURS.items()):
        x = 60 + i * 200
        body.append(f'<line x1="{x}" x2="{x + 24}" y1="{H + 14}" y2="{H + 14}" stroke="{colour}" stroke-width="2" stroke-dasharray="{dash}"/>')
        body.append(f'<text x="{x + 30}" y="{H + 18}" font-size="12">{label}</text>')
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {2 * W} {H + 30}" font-family="sans-serif">'
           f'<title>Over-optimisation on micro, seed {seed}</title><rect width="100%" height="100%" fill="white"/>'
           + "".join(body) + "</svg>\n")
    open(dst, "w").write(svg)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
