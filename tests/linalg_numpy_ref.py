"""numpy's side of tests/test_linalg_numpy.c: reads the matrices the test wrote, computes
numpy.linalg's results with the same tolerances lagrad documents, and writes them back.
Usage: /usr/bin/python3 tests/linalg_numpy_ref.py IN OUT
IN holds one matrix a line, "name rows cols v0 v1 ..." (row-major, %.17g). OUT gets one
result a line, "key count v0 v1 ..."; the test looks results up by key."""
import sys

import numpy as np

mats = {}
with open(sys.argv[1]) as f:
    for line in f:
        name, r, c, *v = line.split()
        mats[name] = np.array([float(x) for x in v]).reshape(int(r), int(c))

out = {}


def put(key, value):
    out[key] = np.atleast_1d(np.asarray(value, dtype=np.float64)).ravel()


def default_rcond(a):
    return max(a.shape) * np.finfo(np.float64).eps


a, b, s = mats["A"], mats["B"], mats["S"]
put("solve", np.linalg.solve(a, b))
put("solve_vec", np.linalg.solve(a, b[:, 0]))
put("inv", np.linalg.inv(a))
put("det", np.linalg.det(a))
sign, logdet = np.linalg.slogdet(a)
put("slogdet", [sign, logdet])
put("cholesky", np.linalg.cholesky(s))
put("eigvalsh", np.linalg.eigvalsh(s))
put("det_spd", np.linalg.det(s))
put("trace", np.trace(a))

for name in ("A", "R", "W", "D"):
    m = mats[name]
    put(f"sv_{name}", np.linalg.svd(m, compute_uv=False))
    # numpy's pinv default rcond is 1e-15; lagrad's is max(m,n) eps, as torch. Pass it.
    put(f"pinv_{name}", np.linalg.pinv(m, rcond=default_rcond(m)))
    put(f"rank_{name}", np.linalg.matrix_rank(m))
    put(f"cond_{name}", np.linalg.cond(m))
    put(f"fro_{name}", np.linalg.norm(m, "fro"))
    put(f"spectral_{name}", np.linalg.norm(m, 2))
    put(f"nuclear_{name}", np.linalg.norm(m, "nuc"))
    x = m.ravel()
    put(f"vnorms_{name}", [np.linalg.norm(x, o) for o in (0, 1, 2, np.inf)])

for name, rhs in (("R", "Y"), ("D", "Z")):
    x, res, rank, sv = np.linalg.lstsq(mats[name], mats[rhs], rcond=None)
    put(f"lstsq_x_{name}", x)
    put(f"lstsq_res_{name}", res)
    put(f"lstsq_rank_{name}", rank)
    put(f"lstsq_sv_{name}", sv)

with open(sys.argv[2], "w") as f:
    for key, v in out.items():
        f.write(f"{key} {v.size} " + " ".join(f"{x:.17g}" for x in v) + "\n")
