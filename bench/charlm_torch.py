"""PyTorch twin of examples/charlm: nanoGPT's model (4 layers, 4 heads, width 128, context
64, tied head, N(0, 0.02) init with c_proj at 0.02/sqrt(2 n_layer), zero biases, LayerNorm
with bias, exact GELU, dropout 0) and recipe (batch 12, AdamW lr 1e-3, betas (0.9, 0.99),
weight decay 0.1 on every parameter, 100 warm-up steps then cosine to 1e-4 at the last step,
clip 1.0; every --eval-every steps the mean loss of --eval-iters random train and val
batches) on the same text, split and vocabulary. The schedule scales as charlm's does: the
warm-up is min(100, steps/20). Prints the same progress lines, then one JSON line:

  {"tokens_per_s": ..., "cpu_tokens_per_s": ..., "val_loss": ..., "steps": ..., "seconds": ..., "peak_rss_kb": ...}

tokens_per_s counts training steps only (evaluations excluded), as charlm's RESULT does;
cpu_tokens_per_s divides by the process's CPU time instead (a fairer clock on a busy machine).
Run with Debian's interpreter: /usr/bin/python3 bench/charlm_torch.py [--steps N] ..."""
import argparse
import json
import math
import resource
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Attn(nn.Module):
    def __init__(self, c, nh):
        super().__init__()
        self.c_attn, self.c_proj, self.nh = nn.Linear(c, 3 * c), nn.Linear(c, c), nh
        self.register_buffer("mask", torch.tril(torch.ones(64, 64)).bool())

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.nh, C // self.nh).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(C // self.nh)
        att = att.masked_fill(~self.mask[:T, :T], float("-inf")).softmax(-1)
        return self.c_proj((att @ v).transpose(1, 2).reshape(B, T, C))


class Block(nn.Module):
    def __init__(self, c, nh):
        super().__init__()
        self.ln_1, self.attn, self.ln_2 = nn.LayerNorm(c), Attn(c, nh), nn.LayerNorm(c)
        self.mlp = nn.ModuleDict(dict(c_fc=nn.Linear(c, 4 * c), c_proj=nn.Linear(4 * c, c)))

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp.c_proj(F.gelu(self.mlp.c_fc(self.ln_2(x))))


class GPT(nn.Module):
    def __init__(self, V, T=64, L=4, nh=4, C=128):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(V, C), nn.Embedding(T, C)
        self.h = nn.ModuleList(Block(C, nh) for _ in range(L))
        self.ln_f = nn.LayerNorm(C)
        for n, p in self.named_parameters():
            if n.endswith("c_proj.weight"):
                nn.init.normal_(p, 0, 0.02 / math.sqrt(2 * L))
            elif n.endswith("bias") and "ln" not in n:
                nn.init.zeros_(p)
            elif p.dim() == 2:
                nn.init.normal_(p, 0, 0.02)

    def forward(self, idx, targets):
        T = idx.shape[1]
        x = self.wte(idx) + self.wpe.weight[:T]
        for b in self.h:
            x = b(x)
        logits = self.ln_f(x) @ self.wte.weight.t()  # tied head
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="data/moby-dick/data.txt")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--eval-every", type=int, default=500)
    ap.add_argument("--eval-iters", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1337)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    text = open(a.data, encoding="utf-8").read()
    chars = sorted(set(text))
    stoi = {ch: i for i, ch in enumerate(chars)}
    data = torch.tensor([stoi[c] for c in text], dtype=torch.long)
    n = len(data) * 9 // 10
    splits = {"train": data[:n], "val": data[n:]}
    B, T = 12, 64

    def batch(split):
        d = splits[split]
        ix = torch.randint(len(d) - T, (B,))
        return torch.stack([d[i:i + T] for i in ix]), torch.stack([d[i + 1:i + T + 1] for i in ix])

    model = GPT(len(chars))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1)
    warmup = a.steps // 20 if a.steps < 2000 else 100

    def lr_at(t):
        if t < warmup:
            return 1e-3 * (t + 1) / (warmup + 1)
        r = (t - warmup) / max(1, a.steps - warmup)
        return 1e-4 + 0.5 * (1 + math.cos(math.pi * r)) * (1e-3 - 1e-4)

    @torch.no_grad()
    def estimate(split):
        model.eval()
        s = sum(model(*batch(split)).item() for _ in range(a.eval_iters)) / a.eval_iters
        model.train()
        return s

    t0, train_s, train_cpu, val = time.perf_counter(), 0.0, 0.0, float("nan")
    for step in range(a.steps + 1):
        if step % a.eval_every == 0 or step == a.steps:
            tr, val = estimate("train"), estimate("val")
            print(f"step {step:5d}  train {tr:.4f}  val {val:.4f}  lr {lr_at(step):.2e}  "
                  f"{time.perf_counter() - t0:.1f} s", flush=True)
        if step == a.steps:
            break
        s0, c0 = time.perf_counter(), time.process_time()
        for grp in opt.param_groups:
            grp["lr"] = lr_at(step)
        loss = model(*batch("train"))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        train_s += time.perf_counter() - s0
        train_cpu += time.process_time() - c0
    print(json.dumps({"tokens_per_s": a.steps * B * T / train_s,
                      "cpu_tokens_per_s": a.steps * B * T / train_cpu, "val_loss": val,
                      "steps": a.steps, "seconds": time.perf_counter() - t0,
                      "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))


if __name__ == "__main__":
    main()
