"""PyTorch side of bench/cnn_bench: the network of examples/cnn (conv 1->32 3x3 pad 1, BN, ReLU,
maxpool 2; conv 32->64, BN, ReLU, maxpool 2; linear 3136->10), Adam lr 1e-3 with the cosine
schedule set every step, batch 64 drawn from the shuffled, standardised Fashion-MNIST training
set, timed as bench/cnn_bench times lagrad: the median samples/s of `reps` windows of `steps`
training steps after a warm-up. Prints one line:

  cnn_torch threads=1 batch=64 samples_per_s=1234.5 peak_rss_kb=56789 setup_rss_kb=45678

peak_rss_kb is getrusage's ru_maxrss at the end (the training set as f32 included, as in
bench/cnn_bench); setup_rss_kb the same before the first step.
Run with Debian's interpreter: /usr/bin/python3 bench/cnn_torch.py [--threads N] ..."""
import argparse
import math
import resource
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F

from mlp_torch import load_idx  # bench/ is on sys.path: it holds this script


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 32, 3, padding=1)
        self.bn1 = torch.nn.BatchNorm2d(32)
        self.conv2 = torch.nn.Conv2d(32, 64, 3, padding=1)
        self.bn2 = torch.nn.BatchNorm2d(64)
        self.fc = torch.nn.Linear(64 * 7 * 7, 10)

    def forward(self, x):
        h = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        h = F.max_pool2d(F.relu(self.bn2(self.conv2(h))), 2)
        return self.fc(h.flatten(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(42)

    x = load_idx(f"{a.data}/train-images-idx3-ubyte").astype(np.float32) / 255.0
    y = torch.from_numpy(load_idx(f"{a.data}/train-labels-idx1-ubyte").astype(np.int64))
    x = torch.from_numpy(x).reshape(-1, 1, 28, 28)
    x = (x - x.mean()) / x.std(unbiased=False)
    n = len(x)
    model = Net()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    total = (a.reps * a.steps + 5) * 2
    state = {"perm": torch.randperm(n), "cursor": 0, "step": 0}

    def step():
        if (state["cursor"] + 1) * a.batch > n:
            state["perm"], state["cursor"] = torch.randperm(n), 0
        idx = state["perm"][state["cursor"] * a.batch:(state["cursor"] + 1) * a.batch]
        state["cursor"] += 1
        for grp in opt.param_groups:
            grp["lr"] = 0.5e-3 * (1 + math.cos(math.pi * state["step"] / total))
        state["step"] += 1
        opt.zero_grad(set_to_none=True)  # no memset: lagrad's step zeroes in place
        F.cross_entropy(model(x[idx]), y[idx]).backward()
        opt.step()

    setup_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    model.train()
    for _ in range(5):
        step()
    rates = []
    for _ in range(a.reps):
        t0 = time.perf_counter()
        for _ in range(a.steps):
            step()
        rates.append(a.steps * a.batch / (time.perf_counter() - t0))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"cnn_torch threads={a.threads} batch={a.batch} "
          f"samples_per_s={statistics.median(rates):.1f} peak_rss_kb={peak} "
          f"setup_rss_kb={setup_rss}")


if __name__ == "__main__":
    main()
