"""PyTorch side of bench/lstm: torch.nn.LSTM (batch_first, one layer, input 128, hidden 256)
forward + backward of sum(out * w) on batch 12 x 64 steps, f32, median ms over 5 windows
(and the CPU-time median). Prints one JSON line.
Run with Debian's interpreter: /usr/bin/python3 bench/lstm_torch.py [--iters N] [--threads N]"""
import argparse
import json
import statistics
import time

import torch

ap = argparse.ArgumentParser()
ap.add_argument("--iters", type=int, default=20)
ap.add_argument("--threads", type=int, default=1)
a = ap.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(1)
m = torch.nn.LSTM(128, 256, batch_first=True)
x = torch.randn(12, 64, 128, requires_grad=True)
w = torch.randn(12, 64, 256)
ms, cms = [], []
for rep in range(6):
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(a.iters):
        out, _ = m(x)
        (out * w).sum().backward()
    if rep:
        ms.append((time.perf_counter() - t0) * 1e3 / a.iters)
        cms.append((time.process_time() - c0) * 1e3 / a.iters)
print(json.dumps({"ms": statistics.median(ms), "cpu_ms": statistics.median(cms),
                  "threads": a.threads}))
