"""Records torch.nn.LSTM and torch.nn.GRU values for tests/test_rnn.c, in float64:
outputs, final states and the gradient of every input and parameter of the loss
    sum(out * w_out) + sum(h_n * w_h) [+ sum(c_n * w_c)]
with every tensor filled by the formula fill() below, which test_rnn.c repeats in C.
Usage: /usr/bin/python3 tests/rnn_torch_ref.py > tests/rnn_torch_ref.h
(PyTorch 1.13 from Debian's python3-torch recorded the committed header.)"""
import math

import torch

B, T, IN, H, L = 2, 3, 3, 3, 2


def fill(j, *shape):
    n = math.prod(shape)
    v = [0.5 * math.sin(0.9 * k + 1.7 * j + 0.3) for k in range(n)]
    return torch.tensor(v, dtype=torch.float64).reshape(shape)


def arr(name, t):
    vals = ", ".join("%.17g" % v for v in t.detach().reshape(-1).tolist())
    print("static const double %s[%d] = {%s};" % (name, t.numel(), vals))


def run(kind, mod_cls, gates):
    torch.manual_seed(0)
    m = mod_cls(IN, H, num_layers=L, batch_first=True).double()
    names = [n for n, _ in m.named_parameters()]
    with torch.no_grad():
        for j, (n, p) in enumerate(m.named_parameters()):
            p.copy_(fill(6 + j, *p.shape))
    x = fill(0, B, T, IN).requires_grad_()
    h0 = fill(1, L, B, H).requires_grad_()
    wo, wh = fill(3, B, T, H), fill(4, L, B, H)
    if kind == "LSTM":
        c0 = fill(2, L, B, H).requires_grad_()
        out, (hn, cn) = m(x, (h0, c0))
        loss = (out * wo).sum() + (hn * wh).sum() + (cn * fill(5, L, B, H)).sum()
    else:
        out, hn = m(x, h0)
        loss = (out * wo).sum() + (hn * wh).sum()
    loss.backward()
    arr(kind + "_OUT", out)
    arr(kind + "_HN", hn)
    if kind == "LSTM":
        arr(kind + "_CN", cn)
        arr(kind + "_DC0", c0.grad)
    arr(kind + "_DX", x.grad)
    arr(kind + "_DH0", h0.grad)
    for n, p in m.named_parameters():
        arr(kind + "_D_" + n, p.grad)
    print("/* parameter order: %s */" % ", ".join(names))


print("/* Recorded by tests/rnn_torch_ref.py with PyTorch %s (float64). Do not edit. */"
      % torch.__version__)
run("LSTM", torch.nn.LSTM, 4)
run("GRU", torch.nn.GRU, 3)
