"""Prints burn's pretraining throughput as a ratio of PyTorch's, preset by preset,
from the JSON lines of `cargo bench --bench pretrain` and benches/torch_reference.py
(files given as arguments). Ratio ≥ 1.0 means burn is at least as fast."""

import json
import sys

rows = []
for path in sys.argv[1:]:
    with open(path) as f:
        rows += [json.loads(line) for line in f if line.startswith("{")]
pre = [r for r in rows if r.get("bench") == "pretrain"]
torch = [r for r in pre if r["device"].startswith("torch")]
for burn in (r for r in pre if not r["device"].startswith("torch")):
    for t in (t for t in torch if t["preset"] == burn["preset"]):
        print(json.dumps({
            "bench": "ratio", "preset": burn["preset"], "burn": burn["device"], "torch": f'{t["device"]} ({t["threads"]} threads)',
            "burn_threads": burn.get("threads"), "burn_sharded": burn.get("sharded"), "burn_cpu_kernels": burn.get("cpu_kernels"), "same_threads": burn.get("threads") == t["threads"],
            "burn_ms_per_step": burn["ms_per_step"], "torch_ms_per_step": t["ms_per_step"],
            "burn_throughput_vs_torch": round(t["ms_per_step"] / burn["ms_per_step"], 3),
        }))
