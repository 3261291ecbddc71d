"""PyTorch reference of the app's pretraining step, for side-by-side benchmarks.

The same GPT as src/model.rs (token + position embeddings, pre-LN blocks of causal
self-attention and an exact-GELU MLP, final LayerNorm, LM head tied to the token
embedding), the same preset sizes (src/model.rs `Preset::gpt`), the same batch
shape (src/pretrain.rs `PretrainConfig::for_preset`), and the same training step
(src/train.rs): mean next-token cross-entropy, per-tensor gradient-norm clipping at
1.0 (burn clips each parameter separately), AdamW (lr, weight decay 0.01), and the
loss read back once per step. Prints one JSON line per preset, in the shape of
`cargo bench --bench pretrain`'s, so scripts/bench.sh can print ratios.

Usage: python3 benches/torch_reference.py [--steps N] [--threads N] [--device cpu|cuda]
Not part of the tests: PyTorch is not a dependency of the app.
"""

import argparse
import json
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

VOCAB = 512  # src/lab.rs VOCAB_SIZE
# preset: (block_size, n_layer, n_head, n_embd), (batch, window, lr)
PRESETS = {
    "micro": ((64, 2, 4, 96), (8, 32, 3e-3)),
    "small": ((128, 4, 4, 128), (16, 96, 1e-3)),
    # src/bench.rs WIDE: the speed issue's starting sizes (1 block).
    "w128": ((64, 1, 4, 128), (32, 64, 3e-3)),
    "w256": ((128, 1, 4, 256), (64, 128, 3e-3)),
}


class CausalSelfAttention(nn.Module):
    def __init__(self, c, nh):
        super().__init__()
        self.c_attn = nn.Linear(c, 3 * c)
        self.c_proj = nn.Linear(c, c)
        self.nh = nh

    def forward(self, x):
        b, t, c = x.shape
        hs = c // self.nh
        q, k, v = self.c_attn(x).split(c, dim=2)
        q, k, v = (z.view(b, t, self.nh, hs).transpose(1, 2) for z in (q, k, v))  # (B, nh, T, hs)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(hs)
        future = torch.triu(torch.ones(t, t, dtype=torch.bool, device=x.device), 1)
        att = att.masked_fill(future, -1.0e9).softmax(-1)
        y = (att @ v).transpose(1, 2).reshape(b, t, c)
        return self.c_proj(y)


class Block(nn.Module):
    def __init__(self, c, nh):
        super().__init__()
        self.ln_1 = nn.LayerNorm(c)
        self.attn = CausalSelfAttention(c, nh)
        self.ln_2 = nn.LayerNorm(c)
        self.c_fc = nn.Linear(c, 4 * c)
        self.c_proj = nn.Linear(4 * c, c)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.c_proj(F.gelu(self.c_fc(self.ln_2(x))))


class Gpt(nn.Module):
    def __init__(self, block_size, n_layer, n_head, n_embd):
        super().__init__()
        self.wte = nn.Embedding(VOCAB, n_embd)
        self.wpe = nn.Embedding(block_size, n_embd)
        self.blocks = nn.ModuleList(Block(n_embd, n_head) for _ in range(n_layer))
        self.ln_f = nn.LayerNorm(n_embd)
        for name, p in self.named_parameters():
            if p.dim() == 2:
                std = 0.02 / math.sqrt(2 * n_layer) if name.endswith("c_proj.weight") else 0.02
                nn.init.normal_(p, 0.0, std)

    def forward(self, idx):
        t = idx.shape[1]
        x = self.wte(idx) + self.wpe(torch.arange(t, device=idx.device))
        for block in self.blocks:
            x = block(x)
        return self.ln_f(x) @ self.wte.weight.T  # tied LM head


def bench(preset, steps, device):
    (block_size, n_layer, n_head, n_embd), (batch, window, lr) = PRESETS[preset]
    torch.manual_seed(1)
    model = Gpt(block_size, n_layer, n_head, n_embd).to(device)
    params = [p for p in model.parameters()]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)

    def step():
        tokens = torch.randint(0, VOCAB, (batch, window + 1), device=device)
        x, y = tokens[:, :-1], tokens[:, 1:]
        loss = F.cross_entropy(model(x).reshape(-1, VOCAB), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        grads = [p.grad for p in params]
        norms = torch._foreach_norm(grads)
        torch._foreach_mul_(grads, [torch.clamp(1.0 / (n + 1e-6), max=1.0) for n in norms])
        opt.step()
        return loss.item()  # one readback per step, as in the app

    for _ in range(3):
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    secs = time.perf_counter() - t0
    n_params = sum(p.numel() for p in params)
    print(json.dumps({
        "bench": "pretrain", "device": f"torch-{device}", "threads": torch.get_num_threads(), "preset": preset,
        "params": n_params, "batch": batch, "block": window, "steps": steps,
        "ms_per_step": round(1e3 * secs / steps, 2), "steps_per_sec": round(steps / secs, 2),
        "tokens_per_sec": round(batch * window * steps / secs),
    }), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--threads", type=int, default=0, help="0 = PyTorch's default")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--presets", default="micro,small,w128,w256")
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    for preset in a.presets.split(","):
        bench(preset, a.steps if preset in ("micro", "small") else max(3, a.steps // 3), a.device)


if __name__ == "__main__":
    main()
