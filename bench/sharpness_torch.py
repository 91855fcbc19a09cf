"""PyTorch twin of examples/sharpness: full-batch gradient descent with step eta on the first
--n Fashion-MNIST training images (standardised per pixel, a pixel constant over them gets
std 1), a tanh MLP 784-H-H-10 in float32 with nn.Linear's default init, loss
0.5 * ||f(x) - onehot(y)||^2 averaged over the samples; every --every steps the sharpness
(the top Hessian eigenvalue) by power iteration on Hessian-vector products from double
backward (torch.autograd.grad with create_graph), as the issue's reference run did.
Prints progress lines to stderr and one JSON object on stdout.

  sharpness_torch.py [--steps 300] [--every 100] [--eta 0.04] [--n 5000] [--hidden 200]
                     [--power-iters 20] [--threads 2] [--data DIR] [--hvp-only N]

--hvp-only N: no training; the median seconds of one gradient and of one HVP over N reps
(the reference column of the HVP-cost bench row).
Run with Debian's interpreter: /usr/bin/python3 bench/sharpness_torch.py ..."""
import argparse
import json
import statistics
import sys
import time

import numpy as np
import torch

from mlp_torch import load_idx  # the same IDX reader as the MLP twin


def load(data, n):
    x = load_idx(f"{data}/train-images-idx3-ubyte")[:n].reshape(n, -1).astype(np.float64) / 255
    y = load_idx(f"{data}/train-labels-idx1-ubyte")[:n].astype(np.int64)
    sd = x.std(0)
    sd[~(sd > 1e-6)] = 1
    x = (x - x.mean(0)) / sd
    onehot = np.zeros((n, 10), np.float32)
    onehot[np.arange(n), y] = 1
    return torch.from_numpy(x.astype(np.float32)), torch.from_numpy(onehot)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--every", type=int, default=100)
    ap.add_argument("--eta", type=float, default=0.04)
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--hidden", type=int, default=200)
    ap.add_argument("--power-iters", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--hvp-only", type=int, default=0)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    x, y = load(a.data, a.n)
    h = a.hidden
    net = torch.nn.Sequential(torch.nn.Linear(x.shape[1], h), torch.nn.Tanh(),
                              torch.nn.Linear(h, h), torch.nn.Tanh(), torch.nn.Linear(h, 10))
    params = list(net.parameters())

    def loss_fn():
        d = net(x) - y
        return 0.5 * (d * d).sum() / x.shape[0]

    def hvp(v):
        g = torch.autograd.grad(loss_fn(), params, create_graph=True)
        dot = sum((gi * vi).sum() for gi, vi in zip(g, v))
        return torch.autograd.grad(dot, params)

    def sharpness():
        v = [torch.randn_like(p) for p in params]
        lam = 0.0
        for _ in range(a.power_iters):
            nrm = torch.sqrt(sum((vi * vi).sum() for vi in v))
            v = [vi / nrm for vi in v]
            hv = hvp(v)
            lam = sum((hi * vi).sum() for hi, vi in zip(hv, v)).item()
            v = [hi.detach() for hi in hv]
        return lam

    if a.hvp_only:
        v = [torch.randn_like(p) for p in params]
        tg, th = [], []
        for _ in range(a.hvp_only):
            t0 = time.perf_counter()
            torch.autograd.grad(loss_fn(), params)
            tg.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            hvp(v)
            th.append(time.perf_counter() - t0)
        g, hv = statistics.median(tg), statistics.median(th)
        print(json.dumps({"grad_s": g, "hvp_s": hv, "ratio": hv / g}))
        return

    opt = torch.optim.SGD(params, lr=a.eta)
    t0 = time.perf_counter()
    sharp, steps, hvp_s, loss = [], [], 0.0, float("nan")
    for step in range(a.steps + 1):
        opt.zero_grad(set_to_none=True)
        l = loss_fn()
        l.backward()
        loss = l.item()
        if step % a.every == 0:
            ts = time.perf_counter()
            lam = sharpness()
            hvp_s += time.perf_counter() - ts
            sharp.append(lam)
            steps.append(step)
            print(f"step {step:5d}  loss {loss:.4f}  sharpness {lam:7.3f}  "
                  f"{time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
        if step < a.steps:
            opt.step()
    secs = time.perf_counter() - t0
    print(json.dumps({"seconds": secs, "sharpness_seconds": hvp_s, "steps": a.steps,
                      "estimates": len(sharp), "hvps": len(sharp) * a.power_iters,
                      "sharpness_start": sharp[0], "sharpness_last": sharp[-1],
                      "train_loss": loss}))


if __name__ == "__main__":
    main()
