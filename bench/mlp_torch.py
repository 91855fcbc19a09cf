"""PyTorch side of bench/mlp: the same recipe (nn.Linear + ReLU layers, cross-entropy, Adam
lr 1e-3 with the cosine schedule set every step, batches drawn from the shuffled, standardised
Fashion-MNIST training set, no augmentation), timed the same way. Prints one JSON object.

  mlp_torch.py [--widths 784,256,128,10] [--batch 128] [--threads 1] [--steps N] [--reps 3]
               [--mode train|epoch|peak] [--train-limit N] [--data DIR]

train: median samples/s of `reps` windows after a warm-up; a window is --steps steps, or
       without it as many as fit in 0.4 s (so a slow setting cannot stretch the run).
epoch: median seconds of `reps` whole epochs over the first --train-limit samples.
peak:  one epoch over the whole set plus a test pass, as examples/mnist does (for peak RSS).
The thread setting is the caller's: --threads calls torch.set_num_threads; OMP_WAIT_POLICY
and OPENBLAS_NUM_THREADS come from the environment.
Run with Debian's interpreter: /usr/bin/python3 bench/mlp_torch.py ..."""
import argparse
import gzip
import json
import math
import os
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F


def load_idx(path):
    """An IDX file (plain or .gz) as a numpy array."""
    if not os.path.exists(path):
        path += ".gz"
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(data, split):
    x = load_idx(f"{data}/{split}-images-idx3-ubyte")
    y = load_idx(f"{data}/{split}-labels-idx1-ubyte")
    x = torch.from_numpy(x.reshape(len(x), -1).astype(np.float32) / 255.0)
    return x, torch.from_numpy(y.astype(np.int64))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--widths", default="784,256,128,10")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=0)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--mode", default="train", choices=("train", "epoch", "peak"))
    ap.add_argument("--train-limit", type=int, default=0)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(42)
    widths = [int(w) for w in a.widths.split(",")]

    x, y = load(a.data, "train")
    mean, std = x.mean().item(), x.std(unbiased=False).item()
    x = (x - mean) / std
    n = min(a.train_limit, len(x)) if a.train_limit else len(x)
    x, y = x[:n], y[:n]
    layers = [torch.nn.Linear(widths[k], widths[k + 1]) for k in range(len(widths) - 1)]
    mods = []
    for k, lin in enumerate(layers):
        mods.append(lin)
        if k < len(layers) - 1:
            mods.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*mods)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    state = {"perm": None, "cursor": n // a.batch, "step": 0, "total": 1}

    def step():
        if state["cursor"] >= n // a.batch:
            state["perm"] = torch.randperm(n)
            state["cursor"] = 0
        idx = state["perm"][state["cursor"] * a.batch:(state["cursor"] + 1) * a.batch]
        state["cursor"] += 1
        opt.zero_grad(set_to_none=True)  # no memset: lagrad's step zeroes in place
        loss = F.cross_entropy(model(x[idx]), y[idx])
        loss.backward()
        lr = 0.5e-3 * (1 + math.cos(math.pi * state["step"] / state["total"]))
        for g in opt.param_groups:
            g["lr"] = lr
        state["step"] += 1
        opt.step()
        return loss.item()

    def window(seconds):
        """Steps for one window; returns (steps, elapsed seconds)."""
        t0, t, i = time.perf_counter(), 0.0, 0
        while (i < a.steps) if a.steps else (t < seconds):
            step()
            i += 1
            t = time.perf_counter() - t0
        return i, t

    if a.mode == "train":
        state["total"] = 1000000  # nominal: lr stays near 1e-3, as in bench/mlp
        window(0.1)
        rates, total = [], 0
        for _ in range(a.reps):
            i, t = window(0.4)
            rates.append(i * a.batch / t)
            total += i
        print(json.dumps({"samples_per_s": statistics.median(rates), "steps": total}))
    elif a.mode == "epoch":
        per_epoch = n // a.batch
        state["total"] = (a.reps + 1) * per_epoch
        for _ in range(per_epoch):
            step()
        times = []
        for _ in range(a.reps):
            t0 = time.perf_counter()
            for _ in range(per_epoch):
                step()
            times.append(time.perf_counter() - t0)
        print(json.dumps({"epoch_s": statistics.median(times), "samples": per_epoch * a.batch}))
    else:
        xt, yt = load(a.data, "t10k")
        xt = (xt - mean) / std
        state["total"] = n // a.batch
        t0 = time.perf_counter()
        for _ in range(n // a.batch):
            step()
        with torch.no_grad():
            acc = sum((model(xt[i:i + 1000]).argmax(1) == yt[i:i + 1000]).sum().item()
                      for i in range(0, len(xt), 1000)) / len(xt)
        import resource
        print(json.dumps({"seconds": time.perf_counter() - t0, "test_accuracy": acc,
                          "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))


if __name__ == "__main__":
    main()
