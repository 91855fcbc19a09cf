"""PyTorch side of bench/linalg --backward: forward and backward of the same losses with
torch.linalg in float64 on one thread, median of several runs. Prints one JSON object.
  cholesky: sum(W * L)                                        A SPD (R R^T / n + I)
  eigh:     sum(w * lam) + sum(W * V * V)                     A symmetric
  svd:      sum(w * S) + sum(W * U * U) + sum(W * Vh * Vh)    A square
Run with Debian's interpreter: /usr/bin/python3 bench/linalg_torch.py [n] [reps]"""
import json
import statistics
import sys
import time

import torch

torch.set_num_threads(1)
torch.manual_seed(7)
n = int(sys.argv[1]) if len(sys.argv) > 1 else 256
reps = int(sys.argv[2]) if len(sys.argv) > 2 else 7
dt = torch.float64
wm = torch.randn(n, n, dtype=dt)
wv = torch.randn(n, dtype=dt)


def make(op):
    r = torch.randn(n, n, dtype=dt)
    if op == "cholesky":
        return r @ r.T / n + torch.eye(n, dtype=dt)
    if op == "eigh":
        return (r + r.T) / 2
    return r


def loss_of(op, a):
    if op == "cholesky":
        return (wm * torch.linalg.cholesky(a)).sum()
    if op == "eigh":
        lam, v = torch.linalg.eigh(a)
        return (wv * lam).sum() + (wm * v * v).sum()
    u, s, vh = torch.linalg.svd(a, full_matrices=False)
    return (wv * s).sum() + (wm * u * u).sum() + (wm * vh * vh).sum()


out = {"n": n, "torch": torch.__version__}
for op in ("cholesky", "eigh", "svd"):
    a = make(op).requires_grad_(True)
    tf, tb = [], []
    for r in range(reps + 1):  # the first run warms up
        a.grad = None
        t0 = time.perf_counter()
        loss = loss_of(op, a)
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        if r:
            tf.append(t1 - t0)
            tb.append(t2 - t1)
    out[op] = {"forward_ms": statistics.median(tf) * 1e3,
               "backward_ms": statistics.median(tb) * 1e3}
print(json.dumps(out))
