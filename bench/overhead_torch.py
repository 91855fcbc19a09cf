"""PyTorch side of bench/overhead: the same graph, sum(relu(A x) * w) with A 4x4, forward
and forward + backward, median of 5 runs, on one thread. Prints one JSON object.
Run with Debian's interpreter: /usr/bin/python3 bench/overhead_torch.py [iters]"""
import json
import statistics
import sys
import time

import torch

torch.set_num_threads(1)
iters = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
a = torch.randn(4, 4, requires_grad=True)
x = torch.randn(4, 1)
w = torch.randn(4, 1, requires_grad=True)


def run(backward):
    t0 = time.perf_counter()
    for _ in range(iters):
        y = (torch.relu(a @ x) * w).sum()
        if backward:
            y.backward()
    return (time.perf_counter() - t0) / iters


fwd = statistics.median(run(False) for _ in range(5))
both = statistics.median(run(True) for _ in range(5))
print(json.dumps({"forward_us": fwd * 1e6, "forward_backward_us": both * 1e6}))
