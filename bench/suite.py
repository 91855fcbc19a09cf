"""Runs every benchmark of issue 5 beside its reference, lagrad and reference alternating for
several rounds, and takes medians. Prints one markdown table and writes bench/results.json,
one record per row: {"name", "lagrad", "reference", "unit", "ratio", "goal", "met", "note"}.
Called by bench/run after the build; run it directly with:
  /usr/bin/python3 bench/suite.py --build BUILD_DIR [--quick] [--json PATH]
--quick runs each program once on a small problem and checks nothing about speed."""
import argparse
import json
import os
import re
import statistics
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = "/usr/bin/python3"
ROWS = []


def run(cmd, env=None, rusage=False):
    """Runs cmd from the repository root; returns its stdout (and the child's rusage)."""
    e = dict(os.environ)
    for k, v in (env or {}).items():  # None: unset
        if v is None:
            e.pop(k, None)
        else:
            e[k] = v
    p = subprocess.Popen(cmd, cwd=ROOT, env=e, stdout=subprocess.PIPE, text=True)
    out = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode:
        sys.exit(f"bench: {' '.join(cmd)} failed with status {p.returncode}")
    return (out, ru) if rusage else out


def last_json(out):
    return json.loads(out.strip().splitlines()[-1])


def alternate(rounds, *cmds):
    """Runs the commands in turn, `rounds` times; returns one list of parsed outputs each."""
    res = [[] for _ in cmds]
    for _ in range(rounds):
        for i, (cmd, env) in enumerate(cmds):
            res[i].append(last_json(run(cmd, env)))
    return res


def med(records, key):
    return statistics.median(r[key] for r in records)


def row(name, lagrad, reference, unit, ratio, goal=None, met=None, note=""):
    ROWS.append({"name": name, "lagrad": lagrad, "reference": reference, "unit": unit,
                 "ratio": ratio, "goal": goal, "met": met, "note": note})


def have_torch():
    return subprocess.run([PY, "-c", "import torch"], capture_output=True).returncode == 0


def overhead(b, a, torch):
    lg = [last_json(run([f"{b}/bench/overhead", str(a.iters), "--json"]))]
    pt = [last_json(run([PY, "bench/overhead_torch.py", str(a.titers)]))] if torch else []
    for _ in range(a.rounds - 1):
        lg.append(last_json(run([f"{b}/bench/overhead", str(a.iters), "--json"])))
        if torch:
            pt.append(last_json(run([PY, "bench/overhead_torch.py", str(a.titers)])))
    for key, what, goal in (("forward_backward_us", "forward + backward", 30),
                            ("forward_us", "forward only", None)):
        l = med(lg, key)
        t = med(pt, key) if pt else None
        r = t / l if t else None
        row(f"per-op overhead, sum(relu(A x) * w), A 4x4, {what}, 1 thread", l, t, "us",
            r, f">= {goal}x faster" if goal else None,
            (r >= goal) if goal and r else None, "ratio = pytorch / lagrad")


def linear(b, a, torch=None):
    for th in ((1,) if a.quick else (1, 2)):
        runs = [last_json(run([f"{b}/bench/linear", "--threads", str(th)] +
                              (["--quick"] if a.quick else ["--reps", "5"])))
                for _ in range(a.rounds)]
        for i, shape in enumerate(runs[0]):
            l = statistics.median(r[i]["lagrad_ms"] for r in runs)
            s = statistics.median(r[i]["sgemm_ms"] for r in runs)
            row(f"linear layer fwd+bwd ({shape['n']}x{shape['k']})(x{shape['m']}), "
                f"{th} thread(s), vs 3 raw cblas_sgemm", l, s, "ms", l / s, "<= 1.10",
                l / s <= 1.10)


def has_avx512():
    try:
        with open("/proc/cpuinfo") as f:
            return " avx512f" in f.read()
    except OSError:
        return False


def gemm(b, a, torch=None):
    """lagrad's f32 GEMM (backend/cpu/cpu_sgemm.c where the processor has AVX-512) against
    one raw cblas_sgemm of the same shape, the OpenBLAS lagrad links."""
    wide = has_avx512()
    for th in ((1,) if a.quick else (1, 2)):
        runs = [last_json(run([f"{b}/bench/gemm", "--threads", str(th), "--reps",
                               "1" if a.quick else "5"])) for _ in range(a.rounds)]
        for i, sh in enumerate(runs[0]):
            l = statistics.median(r[i]["lagrad_gflops"] for r in runs)
            s = statistics.median(r[i]["sgemm_gflops"] for r in runs)
            ops = ("A^T " if sh["ta"] else "A ") + ("B^T" if sh["tb"] else "B")
            row(f"f32 GEMM {sh['m']}x{sh['n']}x{sh['k']} ({ops}), {th} thread(s), vs raw "
                "cblas_sgemm", l, s, "GFLOP/s", l / s, ">= 1.5" if wide else None,
                l / s >= 1.5 if wide else None,
                "lagrad: lg_matmul_t (AVX-512 kernel)" if wide else
                "no AVX-512 here: lagrad calls the same sgemm")


def mlp_cmds(b, a, batch, threads, widths="784,256,128,10", torch_env=None, torch_threads=None):
    extra = ["--steps", "5", "--reps", "1", "--train-limit", "2000"] if a.quick else []
    lg = ([f"{b}/bench/mlp", "--batch", str(batch), "--threads", str(threads),
           "--widths", widths, "--data", a.data] + extra, None)
    pt = ([PY, "bench/mlp_torch.py", "--batch", str(batch), "--threads",
           str(torch_threads or threads), "--widths", widths, "--data", a.data] + extra,
          torch_env)
    return lg, pt


def contention(gf1, gf2):
    """A note when sgemm at 2 threads ran under 1.6x its 1-thread rate in this run: then
    another process holds a core, and every 2-thread figure measures that process."""
    if gf1 and gf2 and gf2 / gf1 < 1.6:
        return (f"CONTENDED: sgemm on 2 threads ran at {gf2 / gf1:.2f}x its 1-thread rate in "
                "this run (quiet: ~1.95x); rerun on a quiet machine")
    return None


def mlp(b, a, torch):
    goals = {1: 10, 32: 1.8, 128: 1.3}
    configs = [(32, 1)] if a.quick else [(1, 1), (32, 1), (128, 1), (1, 2), (32, 2), (128, 2)]
    sps = {}
    for batch, th in configs:
        lg, pt = mlp_cmds(b, a, batch, th)
        res = alternate(a.rounds, lg, pt) if torch else alternate(a.rounds, lg)
        l, gf = med(res[0], "samples_per_s"), med(res[0], "sgemm_gflops")
        fps = res[0][0]["flops_per_sample"]
        t = med(res[1], "samples_per_s") if torch else None
        sps[batch, th] = (l, t, gf, res)
        bad = contention(sps[batch, 1][2], gf) if th == 2 else None
        met = None if bad or not t else l / t >= goals[batch]
        row(f"MLP 784-256-128-10 Adam, Fashion-MNIST, batch {batch}, {th} thread(s)", l, t,
            "samples/s", l / t if t else None, f">= {goals[batch]}x", met,
            bad or "ratio = lagrad / pytorch")
        lf = l * fps / (gf * 1e9)
        tf = t * fps / (gf * 1e9) if t else None
        row(f"  GEMM-limit fraction, batch {batch}, {th} thread(s)", lf, tf, "fraction",
            lf, ">= 0.85" if batch == 128 else None,
            lf >= 0.85 if batch == 128 and not bad else None,
            (bad + "; " if bad else "") +
            f"samples/s x {fps / 1e6:.3f} MFLOP/sample / OpenBLAS sgemm {gf:.0f} GFLOP/s "
            "(1024^3; lagrad's AVX-512 GEMM can pass it, "
            "same run, same threads); reference column: pytorch's fraction")
        ceilings(batch, th, l, t, gf, fps, res[0], bad)
    return sps


def ceilings(batch, th, l, t, gf, fps, lg, bad):
    """What no step can beat, measured in the same lagrad processes: at batch 128 the step's
    own sgemm calls alone; at batch 1 the Adam update alone."""
    pre = (bad + "; ") if bad else ""
    if batch == 128:
        gms = med(lg, "step_sgemm_ms")
        ceil = batch * fps / (gf * 1e9) / (gms * 1e-3)
        row(f"  ceiling: GEMM-limit fraction of the step's raw sgemm calls alone, batch 128, "
            f"{th} thread(s)", ceil, None, "fraction", None, None, None,
            pre + f"the step's 8 cblas_sgemm calls (forward, dW, dX; same shapes and flags) "
            f"take {gms:.3f} ms of lagrad's {1e3 * batch / l:.3f} ms step; lagrad reaches "
            f"{l * fps / (gf * 1e9) / ceil:.2f} of this ceiling")
    if batch == 1:
        us = med(lg, "optim_us")
        cap = 1e6 / us
        row(f"  ceiling: the Adam update alone (235,146 parameters), batch 1, {th} thread(s)",
            us, None, "us", None, None, None,
            pre + f"no step runs faster than its update: at most {cap:,.0f} samples/s"
            + (f" = {cap / t:.1f}x pytorch" if t else "")
            + f"; lagrad's step takes {1e6 / l:.0f} us")


def small_net(b, a, torch):
    if a.quick:  # the same programs as mlp(), other widths: nothing new to smoke-test
        return
    for batch in (32, 128):
        lg, pt = mlp_cmds(b, a, batch, 1, "784,128,10")
        res = alternate(a.rounds, lg, pt) if torch else alternate(a.rounds, lg)
        l = med(res[0], "samples_per_s")
        t = med(res[1], "samples_per_s") if torch else None
        row(f"MLP 784-128-10 Adam, batch {batch}, 1 thread", l, t, "samples/s",
            l / t if t else None, None, None, "for comparison with other C frameworks")


def threads(b, a, torch, sps):
    if a.quick:
        return
    l1, t1, gf1, _ = sps[128, 1]
    l2, t2, gf2, _ = sps[128, 2]
    bad = contention(gf1, gf2)
    row("threads: lagrad MLP batch 128, 2 threads vs 1", l2, l1, "samples/s", l2 / l1,
        ">= 1.6x", None if bad else l2 / l1 >= 1.6,
        bad or "reference column: lagrad on 1 thread")
    g1, g2 = med(sps[128, 1][3][0], "step_sgemm_ms"), med(sps[128, 2][3][0], "step_sgemm_ms")
    row("threads: the step's raw sgemm calls alone, batch 128, 2 threads vs 1", g2, g1, "ms",
        g1 / g2, None, None, (bad + "; " if bad else "") +
        "ratio = 1-thread ms / 2-thread ms: the scaling the step's GEMMs allow")
    if not torch:
        return
    settings = [("default OpenMP settings, 2 threads", {"OMP_WAIT_POLICY": None}, 2),
                ("OMP_WAIT_POLICY=PASSIVE, 2 threads", {"OMP_WAIT_POLICY": "PASSIVE"}, 2),
                ("1 torch thread + OPENBLAS_NUM_THREADS=2", {"OPENBLAS_NUM_THREADS": "2"}, 1)]
    best = None
    for name, env, tth in settings:
        _, pt = mlp_cmds(b, a, 128, 2, torch_env=env, torch_threads=tth)
        t = med(alternate(a.rounds, pt)[0], "samples_per_s")
        row(f"threads: pytorch MLP batch 128, {name}, vs 1 thread", t, t1, "samples/s",
            t / t1, None, None, bad or "reference column: pytorch on 1 thread")
        best = max(best or 0, t)
    row("threads: lagrad 2 threads vs pytorch at its best 2-thread setting, batch 128", l2,
        best, "samples/s", l2 / best, ">= 1.3x", None if bad else l2 / best >= 1.3,
        bad or "")


def memory(b, a, torch):
    lg = run([f"{b}/bench/mlp", "--batch", "128", "--steps", "20" if a.quick else "200",
              "--reps", "1", "--data", a.data])
    allocs = last_json(lg)["allocs_per_step"]
    row("heap allocations per training step after the first (lg_set_allocator hook)", allocs,
        0, "allocations", None, "0", allocs == 0)
    tmp = tempfile.mkdtemp(prefix="lagrad-bench-")
    lim = ["--train-limit", "2000", "--test-limit", "1000"] if a.quick else []
    out, ru = run([f"{b}/examples/mnist", "--epochs", "1", "--shift", "0", "--data", a.data,
                   "--csv", f"{tmp}/rss_curves.csv", "--checkpoint", f"{tmp}/rss.safetensors"]
                  + lim, rusage=True)
    shutil.rmtree(tmp)
    lk = ru.ru_maxrss
    tk = None
    if torch:
        _, tru = run([PY, "bench/mlp_torch.py", "--mode", "peak", "--data", a.data] +
                     (["--train-limit", "2000"] if a.quick else []), rusage=True)
        tk = tru.ru_maxrss
    row("peak RSS, one epoch of examples/mnist vs bench/mlp_torch.py --mode peak",
        lk / 1024, tk / 1024 if tk else None, "MiB", lk / tk if tk else None, "<= 1",
        lk <= tk if tk else None,
        "Fashion-MNIST: 70,000 images, 55 MB as bytes, 220 MB as float32")


def linalg(b, a, torch):
    q = ["--quick"] if a.quick else []
    for dt in ("f64", "f32"):
        fw = [last_json(run([f"{b}/bench/linalg", "--json", "--dtype", dt] + q))
              for _ in range(1 if a.quick else 2)]
        for i, r in enumerate(fw[0]):
            l = statistics.median(f[i]["lagrad_ms"] for f in fw)
            m = statistics.median(f[i]["minimal_ms"] for f in fw)
            rm = statistics.median(f[i]["rowmajor_ms"] for f in fw)
            row(f"linalg forward {r['op']}, n = {r['n']}, {dt}, 1 thread", l, m,
                "ms", l / m, "<= 1.15", l / m <= 1.15,
                f"reference: minimal direct LAPACKE; row-major LAPACKE {rm:.3f} ms")
    bw = last_json(run([f"{b}/bench/linalg", "--backward", "--json"] + q))
    pt = last_json(run([PY, "bench/linalg_torch.py"] + (["64", "3"] if a.quick else
                                                         [str(bw["n"]), "7"]))) if torch else {}
    for op in ("cholesky", "eigh", "svd"):
        l = bw[op]["forward_ms"] + bw[op]["backward_ms"]
        t = pt[op]["forward_ms"] + pt[op]["backward_ms"] if torch else None
        goal = 0.5 if op == "cholesky" else 1.0
        row(f"linalg forward+backward {op}, n = {bw['n']}, f64, vs torch.linalg", l, t, "ms",
            l / t if t else None, f"<= {goal}", l / t <= goal if t else None,
            f"backward alone: lagrad {bw[op]['backward_ms']:.3f} ms" +
            (f", pytorch {pt[op]['backward_ms']:.3f} ms" if t else ""))


def scaling(b, a, torch):
    sizes = [2048] if a.quick else [7500, 15000, 30000, 60000]
    rounds = 1 if a.quick else 2
    per = {}
    for n in sizes:
        reps = ["--reps", "1" if a.quick else "2", "--data", a.data]
        lg = ([f"{b}/bench/mlp", "--mode", "epoch", "--train-limit", str(n)] + reps, None)
        pt = ([PY, "bench/mlp_torch.py", "--mode", "epoch", "--train-limit", str(n)] + reps,
              None)
        res = alternate(rounds, lg, pt) if torch else alternate(rounds, lg)
        l = med(res[0], "epoch_s")
        t = med(res[1], "epoch_s") if torch else None
        per[n] = (l / res[0][0]["samples"], t)
    full = per[sizes[-1]][0]
    for n in sizes:
        us, t = per[n]
        l = us * n
        dev = us / full - 1
        row(f"scaling: epoch of {n} samples, batch 128, 1 thread", l, t, "s",
            l / t if t else None, "linear in samples (±15%)", abs(dev) <= 0.15,
            f"{us * 1e6:.2f} us/sample, {dev * 100:+.0f}% vs the whole set; "
            "reference: pytorch")
    widths = [128] if a.quick else [128, 256, 512, 1024]
    base = None
    for w in widths:
        extra = ["--steps", "5", "--reps", "1", "--train-limit", "2000"] if a.quick else []
        r = last_json(run([f"{b}/bench/mlp", "--widths", f"784,{w},{w},10", "--data", a.data]
                          + extra))
        gemm_ms = 128 * r["flops_per_sample"] / (r["sgemm_gflops"] * 1e9) * 1e3
        ratio = r["ms_per_step"] / gemm_ms
        base = base or ratio
        row(f"scaling: step time, 784-{w}-{w}-10, batch 128, 1 thread", r["ms_per_step"],
            gemm_ms, "ms", ratio, "follows GEMM cost", ratio <= 1.25 * base,
            "reference: the step's matmul FLOPs at the sgemm rate of the same run; "
            "met when time / GEMM time stays within 1.25x of width 128's")


def anomaly(b, a, torch=None):
    extra = ["--steps", "5", "--reps", "1", "--train-limit", "2000"] if a.quick else []
    r = alternate(a.rounds, ([f"{b}/bench/mlp", "--mode", "anomaly", "--data", a.data]
                             + extra, None))[0]
    on, off = med(r, "on_ms"), med(r, "off_ms")
    row("anomaly mode: MLP forward+backward, batch 128, on vs off", on, off, "ms", on / off,
        None, None, "lg_graph_set_anomaly: one extra read of every output and gradient, and weight gradients through the arena (checked) instead of straight into .grad")


def train_helper(b, a, torch=None):
    """lg_train_fit's step against the loop written by hand (examples/mnist's)."""
    size = ["--train-limit", "2000", "--epochs", "1", "--reps", "1"] if a.quick else \
        ["--train-limit", "20000", "--epochs", "2", "--reps", "7"]
    r = last_json(run([f"{b}/bench/train_helper", "--data", a.data] + size,
                      {"OMP_WAIT_POLICY": "PASSIVE"}))
    row("training helper: lg_train_fit step vs the hand-written loop (examples/mnist), MLP "
        "784-256-128-10, batch 128, 1 thread", r["helper_ms_per_step"], r["hand_ms_per_step"],
        "ms/step", r["ratio"], "<= 1.02", r["ratio"] <= 1.02,
        f"median of {r['reps']} paired runs of {r['steps']} steps each, alternating; both "
        "shuffle, copy batches, reset, forward, cross-entropy, backward, cosine lr, Adam, "
        "running loss and accuracy")


def kv(out, prefix):
    for line in out.splitlines():
        if line.startswith(prefix):
            return dict(f.split("=", 1) for f in line.split()[1:] if "=" in f)
    return None


def others(b, a, torch):
    """The CNN and conv-layer benchmarks of the other engineers, when they exist."""
    notes = []
    if os.path.exists(f"{ROOT}/{b}/bench/cnn_bench"):
        size = ["--steps", "3", "--reps", "1"] if a.quick else ["--steps", "40", "--reps", "3"]
        for th in ((1,) if a.quick else (1, 2)):
            common = ["--threads", str(th), "--data", a.data] + size
            lv, tv, lrss, trss = [], [], 0, 0
            for _ in range(1 if a.quick else a.rounds):  # lagrad and torch alternate
                l = kv(run([f"{b}/bench/cnn_bench"] + common), "cnn ")
                t = kv(run([PY, "bench/cnn_torch.py"] + common), "cnn_torch") if torch else None
                if not l or "samples_per_s" not in l:
                    notes.append("CNN row skipped: bench/cnn_bench printed no 'cnn ...' line")
                    break
                lv.append(float(l["samples_per_s"]))
                lrss = max(lrss, int(l.get("peak_rss_kb", 0)))
                if t and "samples_per_s" in t:
                    tv.append(float(t["samples_per_s"]))
                    trss = max(trss, int(t.get("peak_rss_kb", 0)))
            if not lv:
                break
            lm = statistics.median(lv)
            tm = statistics.median(tv) if tv else None
            ratio = lm / tm if tm else None
            row(f"CNN training (examples/cnn_model.h), Fashion-MNIST, batch 64, {th} thread(s)",
                lm, tm, "samples/s", ratio, ">= 1.2x", ratio >= 1.2 if ratio else None,
                f"peak RSS lagrad {lrss // 1024} MiB" +
                (f", pytorch {trss // 1024} MiB" if tv else ""))
    else:
        notes.append("CNN row skipped: bench/cnn_bench was not built")
    if os.path.exists(f"{ROOT}/{b}/bench/conv_layer"):
        for th in ((1,) if a.quick else (1, 2)):
            out = run([f"{b}/bench/conv_layer", str(th), "--header"])
            lines = [[c.strip() for c in x.strip().strip("|").split("|")]
                     for x in out.splitlines() if x.startswith("|") and "---" not in x]
            head = lines[0] if lines else []
            for cells in lines[1:]:
                cell = dict(zip(head, cells))
                try:
                    l = float(cells[2])
                    ref = float(cell["3 batched sgemms ms"])
                except (ValueError, IndexError, KeyError):
                    notes.append(f"conv_layer row not understood: {' | '.join(cells)}")
                    continue
                row(f"conv layer fwd+bwd {cells[0]}, {th} thread(s), vs 3 batched sgemm", l,
                    ref, "ms", l / ref, None, None, "bench/conv_layer: " + "; ".join(
                        f"{h} {c}" for h, c in zip(head[3:], cells[3:])))
    else:
        notes.append("conv-layer rows skipped: bench/conv_layer.c does not exist yet")
    return notes


def curvature(b, a, torch):
    """Issue 17: one HVP over the whole store against one gradient of the same loss
    (bench/hvp, and bench/sharpness_torch.py --hvp-only), then examples/sharpness against its
    PyTorch twin on fewer steps (power iteration there, 20 HVPs per estimate)."""
    n, reps = (500, 3) if a.quick else (5000, 10)
    lg = ([f"{b}/bench/hvp", "--n", str(n), "--reps", str(reps), "--threads", "2"],
          {"OMP_WAIT_POLICY": "PASSIVE"})
    pt = ([PY, "bench/sharpness_torch.py", "--hvp-only", str(reps), "--n", str(n),
           "--threads", "2", "--data", a.data], {"OMP_WAIT_POLICY": "PASSIVE"})
    res = alternate(a.rounds, lg, pt) if torch else alternate(a.rounds, lg)
    lr = med(res[0], "ratio")
    tr = med(res[1], "ratio") if torch else None
    row(f"HVP cost / gradient cost, tanh MLP 784-200-200-10 f32, N = {n}, 2 threads", lr, tr,
        "x", lr, "<= 2.5", lr <= 2.5,
        f"lagrad HVP {1e3 * med(res[0], 'hvp_s'):.0f} ms, gradient "
        f"{1e3 * med(res[0], 'grad_s'):.0f} ms" + (
            f"; pytorch HVP {1e3 * med(res[1], 'hvp_s'):.0f} ms, gradient "
            f"{1e3 * med(res[1], 'grad_s'):.0f} ms (reference column: its ratio)" if torch
            else ""))
    rr = med(res[0], "reuse_ratio")
    row(f"  HVP with lg_hessian_reuse (each product after the first of a Lanczos run) / "
        f"gradient, N = {n}, 2 threads", rr, tr, "x", rr, None, None,
        f"lagrad {1e3 * med(res[0], 'hvp_reuse_s'):.0f} ms: the kept forward and gradient, "
        "only the backward of <grad, v> replayed; reference column: pytorch's ratio without "
        "reuse, as its twin runs")
    steps = 20 if a.quick else 300
    tmp = tempfile.mkdtemp()
    common = ["--steps", str(steps), "--every", "100", "--data", a.data, "--threads", "2",
              "--n", str(n)]
    # Wall seconds (the RESULT line, the JSON) and, less sensitive to other load on a shared
    # machine, the process's CPU seconds (user + sys, loading included on both sides).
    lv, tv, lc, tc, loads = [], [], [], [], []
    for _ in range(a.rounds):
        loads.append(os.getloadavg()[0])
        out, ru = run([f"{b}/examples/sharpness", "--csv", f"{tmp}/s.csv", "--png", ""] +
                      common, {"OMP_WAIT_POLICY": "PASSIVE"}, rusage=True)
        lv.append(float(kv(out, "RESULT ")["seconds"]))
        lc.append(ru.ru_utime + ru.ru_stime)
        if torch:
            out, ru = run([PY, "bench/sharpness_torch.py"] + common,
                          {"OMP_WAIT_POLICY": "PASSIVE"}, rusage=True)
            tv.append(last_json(out)["seconds"])
            tc.append(ru.ru_utime + ru.ru_stime)
    shutil.rmtree(tmp, ignore_errors=True)
    l = statistics.median(lv)
    t = statistics.median(tv) if tv else None
    r = l / t if t else None
    cpu = (f"; CPU seconds lagrad {statistics.median(lc):.1f}" +
           (f", pytorch {statistics.median(tc):.1f}" if tc else "") +
           f"; load average {min(loads):.1f}-{max(loads):.1f}")
    row(f"examples/sharpness, N = {n}, {steps} steps + {steps // 100 + 1} sharpness estimates, "
        "eta 0.04, 2 threads, vs bench/sharpness_torch.py", l, t, "s", r, "<= 0.5",
        r <= 0.5 if r else None, "ratio = lagrad / pytorch; lagrad: Lanczos warm-started "
        "from the last top eigenvector (tol 1e-3); pytorch: power iteration, 20 HVPs" + cpu)


def charlm(b, a, torch):
    """examples/charlm's GPT training steps beside bench/charlm_torch.py (same recipe, text,
    batch 12 x context 64), alternating; tokens/s of training steps, evaluations excluded."""
    if not a.text:
        return
    steps = "3" if a.quick else "150"
    tmp = tempfile.mkdtemp(prefix="lagrad-bench-")
    common = ["--data", a.text, "--steps", steps, "--eval-every", "100000", "--eval-iters", "1"]
    for th in (1,) if a.quick else (1, 2):
        env = {"OMP_WAIT_POLICY": "PASSIVE"}
        lv, lc, lr, tv, tc, tr = [], [], [], [], [], []
        for _ in range(a.rounds):
            out, ru = run([f"{b}/examples/charlm", "--threads", str(th), "--sample-len", "0",
                           "--csv", f"{tmp}/c.csv", "--ckpt", f"{tmp}/c.safetensors"] + common,
                          env, rusage=True)
            lv.append(float(kv(out, "RESULT ")["tokens_per_s"]))
            lc.append(float(re.search(r"([0-9.]+) tokens/s of CPU time", out).group(1)))
            lr.append(ru.ru_maxrss)
            if torch:
                out, ru = run([PY, "bench/charlm_torch.py", "--threads", str(th)] + common, env,
                              rusage=True)
                j = last_json(out)
                tv.append(j["tokens_per_s"])
                tc.append(j["cpu_tokens_per_s"])
                tr.append(ru.ru_maxrss)
        l, t = statistics.median(lv), statistics.median(tv) if tv else None
        lcpu, tcpu = statistics.median(lc), statistics.median(tc) if tc else None
        gf = med(alternate(1, ([f"{b}/bench/mlp", "--mode", "sgemm", "--threads", str(th)],
                               env))[0], "sgemm_gflops")
        note = (f"ratio = lagrad / pytorch, wall clock; by CPU time {lcpu:,.0f} vs "
                f"{tcpu:,.0f} tokens/s = {lcpu / tcpu:.2f}x" if tcpu else "") + \
               f"; {steps} steps of batch 12 x 64, warm-up and cosine as in the recipe"
        row(f"charlm GPT 4x4x128 training on Moby Dick, {th} thread(s), vs "
            "bench/charlm_torch.py", l, t, "tokens/s", l / t if t else None, ">= 2x",
            l / t >= 2 if t else None, note)
        # Matmul FLOPs per training token (forward x 3): per layer QKV 6C^2, output 2C^2, MLP
        # 16C^2 and the attention products 4TC over the full T x T; the tied head 2CV.
        C, T, V, L = 128, 64, 83, 4
        fpt = 3 * (L * (24 * C * C + 4 * T * C) + 2 * C * V)
        lf, tf = l * fpt / (gf * 1e9), (t * fpt / (gf * 1e9) if t else None)
        row(f"  GEMM-limit fraction, charlm, {th} thread(s)", lf, tf, "fraction", None, None,
            None, f"tokens/s x {fpt / 1e6:.2f} MFLOP/token / OpenBLAS sgemm {gf:.0f} GFLOP/s "
            "(1024^3; lagrad's AVX-512 GEMM can pass it, "
            f"same run, same threads); 2x pytorch would need {2 * tf:.2f}" if tf else
            f"tokens/s x {fpt / 1e6:.2f} MFLOP/token / sgemm {gf:.0f} GFLOP/s")
        if th == 1:
            lk, tk = statistics.median(lr), statistics.median(tr) if tr else None
            row("peak RSS, examples/charlm vs bench/charlm_torch.py", lk / 1024,
                tk / 1024 if tk else None, "MiB", lk / tk if tk else None, "<= 0.5",
                lk / tk <= 0.5 if tk else None, "the whole process, text included")
    shutil.rmtree(tmp, ignore_errors=True)


def lstm(b, a, torch):
    """The LSTM layer, forward + backward, beside torch.nn.LSTM (bench/lstm_torch.py)."""
    it = ["--iters", "2" if a.quick else "20"]
    cmds = [([f"{b}/bench/lstm"] + it, {"OMP_WAIT_POLICY": "PASSIVE"})]
    if torch:
        cmds.append(([PY, "bench/lstm_torch.py"] + it, None))
    res = alternate(a.rounds, *cmds)
    l, lc = med(res[0], "ms"), med(res[0], "cpu_ms")
    t, tc = (med(res[1], "ms"), med(res[1], "cpu_ms")) if torch else (None, None)
    row("LSTM layer fwd+bwd, batch 12 x 64 steps, 128 -> 256, 1 thread, vs torch.nn.LSTM", l, t,
        "ms", t / l if t else None, ">= 1.0x", t / l >= 1.0 if t else None,
        "ratio = pytorch / lagrad" + (f"; by CPU time {lc:.1f} vs {tc:.1f} ms = {tc / lc:.2f}x"
                                      if tc else ""))


def fmt(v, unit=""):
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "**no**"
    if unit == "allocations":
        return f"{v:g}"
    return f"{v:.3g}" if abs(v) < 100 else f"{v:,.0f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--text", help="Moby Dick (scripts/fetch-moby-dick.sh) for the charlm rows")
    ap.add_argument("--json", help="default: bench/results.json; with --quick, "
                    "BUILD/bench/results-quick.json, so a smoke run leaves the tree alone")
    ap.add_argument("--only", help="run only these groups, comma-separated (e.g. curvature); "
                    "the table is printed, bench/results.json is not written")
    a = ap.parse_args()
    a.json = a.json or (os.path.join(ROOT, a.build, "bench", "results-quick.json") if a.quick
                        else os.path.join(ROOT, "bench", "results.json"))
    a.rounds = 1 if a.quick else 3
    a.iters, a.titers = (2000, 200) if a.quick else (200000, 20000)
    torch = have_torch()
    b = a.build
    load0 = os.getloadavg()[0]
    if a.only:
        for name in a.only.split(","):
            globals()[name](b, a, torch)
        notes = []
    else:
        overhead(b, a, torch)
        gemm(b, a)
        linear(b, a)
        sps = mlp(b, a, torch)
        small_net(b, a, torch)
        threads(b, a, torch, sps)
        memory(b, a, torch)
        linalg(b, a, torch)
        scaling(b, a, torch)
        anomaly(b, a)
        train_helper(b, a)
        curvature(b, a, torch)
        charlm(b, a, torch)
        lstm(b, a, torch)
        notes = others(b, a, torch)
    if not torch:
        notes.append("pytorch not installed (apt-get install python3-torch): no reference")
    print("| benchmark | lagrad | reference | unit | ratio | goal | met | note |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in ROWS:
        print(f"| {r['name']} | {fmt(r['lagrad'], r['unit'])} | "
              f"{fmt(r['reference'], r['unit'])} | {r['unit']} | {fmt(r['ratio'])} | "
              f"{r['goal'] or '-'} | {fmt(r['met'])} | {r['note']} |")
    notes.append(f"1-minute load average: {load0:.2f} at the start, {os.getloadavg()[0]:.2f} "
                 f"at the end, on {os.cpu_count()} CPUs (above ~0.5 the 2-thread rows measure "
                 "the other processes)")
    for n in notes:
        print(f"\n{n}")
    if a.only:
        return
    with open(a.json, "w") as f:
        json.dump(ROWS, f, indent=1)
        f.write("\n")
    print(f"\nwrote {os.path.relpath(a.json, ROOT)} ({len(ROWS)} rows)"
          + (" -- quick run: the numbers say nothing about speed" if a.quick else ""))


if __name__ == "__main__":
    main()
