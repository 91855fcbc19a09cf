"""The MPI module's benchmark rows (called by bench/dist/run after the build):
  - allreduce: lg_dist_allreduce_grads and one plain MPI_Allreduce against bytes, at 2 and
    3 processes (bench/dist/allreduce.c);
  - mnist_dist --model mlp and --model cnn: samples/s at 2 processes x 1 thread against
    1 process x 1 thread at the same global batch, the two alternating for several rounds,
    medians; with the allreduce's share of a step;
  - examples/cnn (lg_train_fit with lagrad_dist's collectives), the issue's bench row: the
    same comparison, with the test accuracy of each (goal: >= 1.7x, within 0.3%).
Prints markdown tables, with the load average before every run, and writes
bench/dist/results.json (--only example-cnn: that row alone, merged into the file).
  /usr/bin/python3 bench/dist/suite.py --build BUILD_DIR --data DIR [--quick]
                                       [--only example-cnn]"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMP_NUM_THREADS="1", OMP_WAIT_POLICY="PASSIVE")


def mpiexec(np, cmd, cwd=ROOT):
    full = ["mpiexec", "-np", str(np), "--oversubscribe"] + cmd
    p = subprocess.run(full, cwd=cwd, env=ENV, stdout=subprocess.PIPE, text=True)
    if p.returncode:
        sys.exit(f"bench/dist: {' '.join(full)} failed with status {p.returncode}")
    return p.stdout


def load1():
    return os.getloadavg()[0]


def result(out):
    line = [l for l in out.splitlines() if l.startswith("RESULT ")][-1]
    return {k: float(v) for k, v in re.findall(r"(\w+)=([0-9.]+)", line)}


# Assumed networks for the predictions: (name, latency alpha in s, bandwidth beta in B/s).
# Loopback cannot measure a network: alpha is a typical MPI latency over TCP (10 Gbit/s)
# and over RDMA (100 Gbit/s); beta is the line rate.
NETWORKS = [("10 Gbit/s", 25e-6, 1.25e9), ("100 Gbit/s", 5e-6, 12.5e9)]
GRAD_BYTES = {"mlp": 940584, "cnn": 201512}


def allreduce_model(n, nbytes, alpha, beta):
    """Rabenseifner's allreduce (OpenMPI's choice for large messages): reduce-scatter by
    recursive halving, then allgather: 2 ceil(log2 n) latencies and 2 (n-1)/n of the
    bytes through each link."""
    import math
    return 2 * math.ceil(math.log2(n)) * alpha + 2 * (n - 1) / n * nbytes / beta


def fit(points):
    """Least squares of t = alpha_term * x1 + x2 * inv_beta over (x1, x2, t) points."""
    s11 = sum(p[0] * p[0] for p in points)
    s12 = sum(p[0] * p[1] for p in points)
    s22 = sum(p[1] * p[1] for p in points)
    b1 = sum(p[0] * p[2] for p in points)
    b2 = sum(p[1] * p[2] for p in points)
    det = s11 * s22 - s12 * s12
    return (b1 * s22 - b2 * s12) / det, (s11 * b2 - s12 * b1) / det


def cost_model(rows):
    """Fits the allreduce model to the 2-process points (the 3-process ones oversubscribe
    2 cores), checks it on the step times, and predicts 8, 64 and 512 processes."""
    import math
    pts = [(2 * math.ceil(math.log2(r["np"])), 2 * (r["np"] - 1) / r["np"] * r["bytes"],
            r["lagrad_min_ms"] * 1e-3) for r in rows["allreduce"] if r["np"] == 2 and
           r["bytes"] <= 1 << 20]
    if len(pts) < 2:
        return
    alpha, inv_beta = fit(pts)
    rows["fit"] = {"alpha_s": alpha, "beta_bytes_per_s": 1 / inv_beta}
    print(f"\nallreduce fit to the fastest repetitions on loopback, 2 processes, up to 1 MB: "
          f"alpha = {alpha * 1e6:.2f} us, "
          f"beta = {1 / inv_beta / 1e9:.2f} GB/s")
    print("\nThe model on the 2-process step (best rounds):\n")
    print("| model | gradient | step 1x1 at B/2 + modelled allreduce | measured step 2x1 |")
    print("| --- | --- | --- | --- |")
    for r in rows["training"]:
        g = GRAD_BYTES[r["model"]]
        b = r["best"]
        pred = b["step_ms_1x1_half_batch"] + 1e3 * allreduce_model(2, g, alpha, 1 / inv_beta)
        print(f"| {r['model']} | {g} B | {pred:.2f} ms | {b['step_ms_2x1']:.2f} ms |")
    print("\nPredicted weak scaling (each process keeps the per-process batch; compute = the "
          "measured 1-process step at that batch):")
    print("\n| model | per-process batch | network | N | allreduce | step | samples/s | "
          "efficiency |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    rows["predictions"] = []
    for r in rows["training"]:
        g = GRAD_BYTES[r["model"]]
        b = r["global_batch"] // 2
        comp = r["best"]["step_ms_1x1_half_batch"] * 1e-3
        for name, al, be in NETWORKS:
            for n in (8, 64, 512):
                ar = allreduce_model(n, g, al, be)
                step = comp + ar
                rows["predictions"].append({"model": r["model"], "network": name, "n": n,
                                            "allreduce_ms": ar * 1e3, "step_ms": step * 1e3})
                print(f"| {r['model']} | {b} | {name} | {n} | {ar * 1e3:.2f} ms | "
                      f"{step * 1e3:.2f} ms | {n * b / step:.0f} | {comp / step:.0%} |")


def example_cnn(build, data, quick):
    """examples/cnn at global batch 64, 1 process x 1 thread and 2 x 1, alternating for a
    few rounds (its default flags: Adam, cosine, batch norm with per-rank statistics)."""
    prog = os.path.join(build, "examples/cnn")
    flags = ["--data", data, "--batch", "64", "--threads", "1", "--epochs", "1",
             "--train-limit", "256" if quick else "3840", "--test-limit", "1000",
             "--csv", "c.csv", "--png", "", "--checkpoint", "c.safetensors"]
    runs = {1: [], 2: []}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(1 if quick else 3):
            for np in (1, 2):
                load = load1()
                r = result(mpiexec(np, [prog] + flags, cwd=tmp))
                r["load_before"] = load
                runs[np].append(r)
    med = {np: statistics.median(r["samples_per_s"] for r in runs[np]) for np in runs}
    acc = {np: statistics.median(r["test_accuracy"] for r in runs[np]) for np in runs}
    row = {"model": "examples/cnn", "global_batch": 64, "train_samples": int(flags[9]),
           "samples_per_s_1x1": med[1], "samples_per_s_2x1": med[2],
           "speedup": med[2] / med[1], "test_accuracy_1x1": acc[1], "test_accuracy_2x1": acc[2],
           "runs": {str(np): runs[np] for np in runs}}
    loads = [r["load_before"] for np in runs for r in runs[np]]
    print(f"\nexamples/cnn (lg_train_fit), global batch 64, {row['train_samples']} samples, "
          f"1 epoch, {len(runs[1])} rounds alternating, medians; 1-min load average before "
          f"the runs: {min(loads):.2f} to {max(loads):.2f} on {os.cpu_count()} cores\n")
    print("| program | 1 proc x 1 thread | 2 procs x 1 thread | speed-up (goal >= 1.7x) | "
          "test acc 1x1 / 2x1 (goal: within 0.003) |")
    print("| --- | --- | --- | --- | --- |")
    print(f"| examples/cnn | {med[1]:.0f} samples/s | {med[2]:.0f} samples/s | "
          f"{row['speedup']:.2f}x | {acc[1]:.4f} / {acc[2]:.4f} |")
    return row


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", choices=["example-cnn"])
    a = ap.parse_args()
    build = os.path.join(ROOT, a.build)
    load = load1()
    if a.only:
        row = example_cnn(build, a.data, a.quick)
        path = os.path.join(ROOT, "bench/dist/results.json")
        if not a.quick:
            rows = json.load(open(path)) if os.path.exists(path) else {}
            rows["example_cnn"] = row
            with open(path, "w") as f:
                json.dump(rows, f, indent=1)
                f.write("\n")
        return
    rows = {"load_average_1min": load, "allreduce": [], "training": []}

    for np in (2, 3):
        args = [os.path.join(build, "bench/dist/dist_allreduce")] + (["--quick"] if a.quick else [])
        for line in mpiexec(np, args).splitlines():
            if line.startswith("{"):
                rows["allreduce"].append(json.loads(line))

    prog = os.path.join(build, "examples/dist/mnist_dist")
    setups = [("mlp", ["--model", "mlp", "--batch", "128", "--train-limit", "1024" if a.quick else "30720",
                       "--epochs", "1", "--test-limit", "1000"]),
              ("cnn", ["--model", "cnn", "--batch", "64", "--shift", "0", "--train-limit",
                       "256" if a.quick else "3840", "--epochs", "1", "--test-limit", "1000"])]
    rounds = 1 if a.quick else 3
    with tempfile.TemporaryDirectory() as tmp:
        for model, flags in setups:
            res = {1: [], 2: [], "half": []}
            batch = int(flags[flags.index("--batch") + 1])
            half = flags[:flags.index("--batch") + 1] + [str(batch // 2)] + \
                flags[flags.index("--batch") + 2:]
            for _ in range(rounds):
                # 1 process at the global batch, 2 processes, and 1 process at one shard's
                # rows: the 2-process step without communication
                for np, f in ((1, flags), (2, flags), ("half", half)):
                    out = mpiexec(1 if np == "half" else np,
                                  [prog, "--data", a.data, "--csv", "c.csv", "--checkpoint",
                                   "c.safetensors"] + f, cwd=tmp)
                    res[np].append(result(out))
            med = {np: {k: statistics.median(r[k] for r in res[np]) for k in res[np][0]}
                   for np in res}
            best = {np: {"samples_per_s": max(r["samples_per_s"] for r in res[np]),
                         "step_ms": min(r["step_ms"] for r in res[np]),
                         "allreduce_ms": min(r["allreduce_ms"] for r in res[np])}
                    for np in res}
            rows["training"].append({
                "model": model, "global_batch": int(flags[flags.index("--batch") + 1]),
                "samples_per_s_1x1": med[1]["samples_per_s"],
                "samples_per_s_2x1": med[2]["samples_per_s"],
                "speedup": med[2]["samples_per_s"] / med[1]["samples_per_s"],
                "step_ms_1x1": med[1]["step_ms"], "step_ms_2x1": med[2]["step_ms"],
                "step_ms_1x1_half_batch": med["half"]["step_ms"],
                "best": {"samples_per_s_1x1": best[1]["samples_per_s"],
                         "samples_per_s_2x1": best[2]["samples_per_s"],
                         "speedup": best[2]["samples_per_s"] / best[1]["samples_per_s"],
                         "step_ms_1x1": best[1]["step_ms"], "step_ms_2x1": best[2]["step_ms"],
                         "step_ms_1x1_half_batch": best["half"]["step_ms"],
                         "allreduce_ms_2x1": best[2]["allreduce_ms"]},
                "allreduce_ms_2x1": med[2]["allreduce_ms"],
                "test_accuracy_1x1": med[1]["test_accuracy"],
                "test_accuracy_2x1": med[2]["test_accuracy"]})

    print(f"load average (1 min) at the start: {load:.2f} on {os.cpu_count()} cores\n")
    print("| model | global batch | 1 proc x 1 thread | 2 procs x 1 thread | speed-up | "
          "step (2x1) | allreduce (2x1) | test acc 1x1 / 2x1 |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows["training"]:
        print(f"| {r['model']} | {r['global_batch']} | {r['samples_per_s_1x1']:.0f} samples/s | "
              f"{r['samples_per_s_2x1']:.0f} samples/s | {r['speedup']:.2f}x | "
              f"{r['step_ms_2x1']:.2f} ms | {r['allreduce_ms_2x1']:.2f} ms "
              f"({100 * r['allreduce_ms_2x1'] / r['step_ms_2x1']:.0f}%) | "
              f"{r['test_accuracy_1x1']:.4f} / {r['test_accuracy_2x1']:.4f} |")
    print("\nBest of the rounds (fastest 1x1 and 2x1 runs):\n")
    print("| model | 1 proc x 1 thread | 2 procs x 1 thread | speed-up | step 1x1 / 2x1 / "
          "1x1 at B/2 | allreduce (2x1) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows["training"]:
        b = r["best"]
        print(f"| {r['model']} | {b['samples_per_s_1x1']:.0f} samples/s | "
              f"{b['samples_per_s_2x1']:.0f} samples/s | {b['speedup']:.2f}x | "
              f"{b['step_ms_1x1']:.2f} / {b['step_ms_2x1']:.2f} / "
              f"{b['step_ms_1x1_half_batch']:.2f} ms | {b['allreduce_ms_2x1']:.2f} ms |")
    print("\n| processes | bytes | lg_dist_allreduce_grads | MPI_Allreduce | fastest of each |")
    print("| --- | --- | --- | --- | --- |")
    for r in rows["allreduce"]:
        print(f"| {r['np']} | {r['bytes']} | {r['lagrad_ms']:.3f} ms | {r['mpi_ms']:.3f} ms | "
              f"{r['lagrad_min_ms']:.3f} / {r['mpi_min_ms']:.3f} ms |")
    cost_model(rows)
    rows["example_cnn"] = example_cnn(build, a.data, a.quick)
    if not a.quick:
        with open(os.path.join(ROOT, "bench/dist/results.json"), "w") as f:
            json.dump(rows, f, indent=1)
            f.write("\n")


main()
