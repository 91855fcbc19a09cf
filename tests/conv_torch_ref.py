#!/usr/bin/python3
"""Prints the PyTorch reference values recorded in tests/test_ops_conv.c and
tests/test_ops_pool.c (run with python3-torch 1.13; the tests themselves need no torch).
Inputs follow the tests' formula: element i of a tensor is ((i * a) % m - m // 2) / d."""
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)


def pattern(shape, a, m, d):
    n = 1
    for s in shape:
        n *= s
    return torch.tensor([((i * a) % m - m // 2) / d for i in range(n)]).reshape(shape)


def show(name, t):
    vals = ", ".join("%.17g" % v for v in t.flatten().tolist())
    print("%s (%s): %s" % (name, tuple(t.shape), vals))


# conv A: x (1,2,4,5), w (3,2,3,3), bias, padding 1.
x = pattern((1, 2, 4, 5), 7, 11, 4.0)
w = pattern((3, 2, 3, 3), 5, 9, 8.0)
b = torch.tensor([0.5, -0.25, 1.0])
show("conv A", F.conv2d(x, w, b, padding=1))

# conv B: x (2,4,6,5), w (4,2,3,2), stride (2,1), padding (1,0), dilation (1,2), groups 2.
x = pattern((2, 4, 6, 5), 3, 13, 4.0)
w = pattern((4, 2, 3, 2), 7, 5, 4.0)
show("conv B", F.conv2d(x, w, None, stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2))

# pooling: x (1,2,5,5).
x = pattern((1, 2, 5, 5), 7, 17, 4.0)
show("max_pool k3 s2 p1", F.max_pool2d(x, 3, 2, 1))
show("avg_pool k3 s2 p1", F.avg_pool2d(x, 3, 2, 1))
show("max_pool k(2,3) s(1,2) p(1,1)", F.max_pool2d(x, (2, 3), (1, 2), (1, 1)))
show("max_pool k3 default stride p1", F.max_pool2d(x, 3, None, 1))
show("max_pool k2", F.max_pool2d(x, 2))
show("avg_pool k(2,3) s(1,2) p(1,1)", F.avg_pool2d(x, (2, 3), (1, 2), (1, 1)))
show("global avg", x.mean(dim=(2, 3)))
