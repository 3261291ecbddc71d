"""Do the models this app exports work outside it?

For every model folder of a directory written by `rlhf --save DIR` (or files the
page exported), this loads `model.safetensors` into a PyTorch GPT written from the
model card alone (no code of ours is imported), asks the runner (`rlhf --probe`)
what the same weights compute on the same texts, and prints the largest
difference: the logits at every position for a GPT, the reward for a reward model
(head at the last token + alpha * mean log p of the answer). The tokenizer in the
file's header is loaded with Hugging Face `tokenizers` and must give the runner's
ids. Where a folder has `page_probe.json` (tests/e2e/run.mjs writes one beside the
reward model the page exported, with E2E_EXPORT_DIR), the page's own score of that
answer is compared too. Every `*.jsonl` in DIR is loaded with `datasets`.

Usage (scripts/check_export.sh trains a short run and installs what this needs):
    python3 benches/check_export.py DIR --runner target/debug/rlhf [--tol 1e-4]
Not part of the tests: PyTorch is not a dependency of the app.
"""

import argparse
import json
import pathlib
import subprocess
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file


class CausalSelfAttention(nn.Module):
    def __init__(self, c, nh):
        super().__init__()
        self.c_attn, self.c_proj, self.nh = nn.Linear(c, 3 * c), nn.Linear(c, c), nh

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.c_attn(x).split(c, dim=2)
        q, k, v = (z.view(b, t, self.nh, c // self.nh).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.c_proj(y.transpose(1, 2).reshape(b, t, c))


class Mlp(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c_fc, self.c_proj = nn.Linear(c, 4 * c), nn.Linear(4 * c, c)

    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x)))  # exact (erf) GELU


class Block(nn.Module):
    def __init__(self, c, nh, eps):
        super().__init__()
        self.ln_1, self.attn = nn.LayerNorm(c, eps=eps), CausalSelfAttention(c, nh)
        self.ln_2, self.mlp = nn.LayerNorm(c, eps=eps), Mlp(c)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class Gpt(nn.Module):
    """Pre-LN GPT with the LM head tied to the token embedding (the card says so)."""

    def __init__(self, a, eps):
        super().__init__()
        self.wte = nn.Embedding(a["vocab_size"], a["n_embd"])
        self.wpe = nn.Embedding(a["block_size"], a["n_embd"])
        self.blocks = nn.ModuleList(Block(a["n_embd"], a["n_head"], eps) for _ in range(a["n_layer"]))
        self.ln_f = nn.LayerNorm(a["n_embd"], eps=eps)

    def hidden(self, idx):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
        for block in self.blocks:
            x = block(x)
        return self.ln_f(x)

    def forward(self, idx):
        return self.hidden(idx) @ self.wte.weight.T


class RewardModel(nn.Module):
    def __init__(self, a, eps):
        super().__init__()
        self.backbone = Gpt(a, eps)
        self.head = nn.Linear(a["n_embd"], 1)
        self.fluency = nn.Parameter(torch.zeros(1))

    def reward(self, ids, answer_start):
        """head(h_last) + alpha * mean log p of the answer's tokens (and its end)."""
        h = self.backbone.hidden(ids)
        logp = F.log_softmax(h[:, :-1] @ self.backbone.wte.weight.T, -1)
        targets = ids[:, 1:]
        lp = logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)[0, answer_start - 1 :]
        return self.head(h[0, -1]).squeeze() + self.fluency[0] * lp.mean()


def check_folder(folder, runner, tol):
    path = folder / "model.safetensors"
    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
    card = json.loads(meta["rlhf_playground"])
    eps, arch = card["layer_norm_epsilon"], card["architecture"]
    reward_shaped = card["role"] in ("reward_model", "value")
    model = (RewardModel if reward_shaped else Gpt)(arch, eps)
    model.load_state_dict(load_file(str(path)), strict=True)  # every tensor, each its shape
    model.eval()
    from tokenizers import Tokenizer

    tok = Tokenizer.from_str(meta["tokenizer"])
    eot = tok.token_to_id("<|endoftext|>")
    probe = json.loads(subprocess.run([runner, "--probe", str(folder)], check=True, capture_output=True, text=True).stdout)
    worst, worst_reward = 0.0, 0.0
    with torch.no_grad():
        for p in probe["probes"]:
            ids = [eot] + tok.encode(p["prompt"] + p["answer"]).ids
            assert ids == p["ids"], f"{folder.name}: HF tokenizers gives {ids}, the runner {p['ids']}"
            x = torch.tensor([ids])
            if reward_shaped:
                ans = [eot] + tok.encode(p["prompt"]).ids
                r = model.reward(torch.tensor([ids + [eot]]), len(ans)).item()
                worst_reward = max(worst_reward, abs(r - p["reward"]))
            else:
                ours = torch.tensor(p["logits"])
                worst = max(worst, (model(x)[0] - ours).abs().max().item())
        # What the page computed with the same file (tests/e2e with E2E_EXPORT_DIR).
        page = folder / "page_probe.json"
        if page.exists() and reward_shaped:
            q = json.loads(page.read_text())
            ans = [eot] + tok.encode(q["prompt"]).ids
            ids = ans + tok.encode(q["answer"]).ids + [eot]
            r = model.reward(torch.tensor([ids]), len(ans)).item()
            print(f"{folder.name:20s} the page scored {q['answer']!r} {q['reward']:.6f}, PyTorch {r:.6f}: |diff| = {abs(r - q['reward']):.2e}")
            worst_reward = max(worst_reward, abs(r - q["reward"]))
    what = "reward" if reward_shaped else "logits"
    diff = worst_reward if reward_shaped else worst
    ok = diff <= tol
    print(f"{folder.name:20s} {card['role']:13s} {card['preset']:6s} {what:7s} max |PyTorch - runner| = {diff:.2e}  {'ok' if ok else 'TOO FAR'}")
    return ok


def check_jsonl(files):
    from datasets import load_dataset

    for f in files:
        ds = load_dataset("json", data_files=str(f), split="train")
        print(f"{f.name:28s} datasets: {ds.num_rows} rows, columns {ds.column_names}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir", type=pathlib.Path)
    ap.add_argument("--runner", default="target/debug/rlhf")
    ap.add_argument("--tol", type=float, default=1e-4)
    args = ap.parse_args()
    torch.manual_seed(0)
    folders = sorted(p.parent for p in args.dir.glob("*/model.safetensors"))
    if not folders:
        sys.exit(f"no */model.safetensors under {args.dir}")
    ok = all([check_folder(f, args.runner, args.tol) for f in folders])
    check_jsonl(sorted(args.dir.glob("*.jsonl")))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
