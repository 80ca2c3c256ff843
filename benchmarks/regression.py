"""Benchmark: kernel regression over a grid of 50 ridges / stopping times.

Compares the approach of ``companion.learning.regression`` (one eigendecomposition of the train kernel, then
every grid value for the price of two small matrix products) with the naive approach of one solve
per grid value (a Cholesky factorisation per ridge; an eigendecomposition per stopping time; for
reference also the textbook ``K^-1 (I - expm(-K t/n)) y`` with ``scipy.linalg.expm``).

The kernel is the one-hidden-layer ReLU NTK (the "depth-1" kernel of shared/papers.md) of n + m
random points on S^49 (m = 1000 test points); its spectrum decays like a real NTK's. Time to build
the kernel is not counted. Naive per-value costs are measured on ``--naive-reps`` values and
multiplied by the grid size when the full loop would be long ("k measured"). Both wall-clock and
process CPU time (all threads) are reported: on a shared machine the CPU-time ratios are the
more stable ones.

    OPENBLAS_NUM_THREADS=1 python benchmarks/regression.py            # n = 2000 and 8000
    OPENBLAS_NUM_THREADS=1 python benchmarks/regression.py --quick    # n = 2000 only

(One BLAS thread gives stable CPU times on a shared machine; drop the variable for best wall time.)
Results: benchmarks/README.md, section "Kernel regression".
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import numpy as np
import scipy
import scipy.linalg as sl

from companion.learning import regression as R


def relu_ntk(a, b):
    r = np.clip(a @ b.T, -1.0, 1.0)
    k1 = (np.sqrt(1 - r**2) + (np.pi - np.arccos(r)) * r) / np.pi
    k0 = (np.pi - np.arccos(r)) / np.pi
    return (k1 + r * k0) / 2


CPU: list[float] = []  # process CPU seconds of the last timed() call (all threads)


def timed(fn, *args, **kw):
    """Run ``fn``; return (result, wall seconds); the process CPU seconds go to ``CPU[-1]``."""
    c0, t0 = time.process_time(), time.perf_counter()
    out = fn(*args, **kw)
    t1, c1 = time.perf_counter(), time.process_time()
    CPU.append(c1 - c0)
    return out, t1 - t0


def _enough(times: list, reps: int, grid: int, limit: float) -> bool:
    """Stop measuring per-value solves once the full loop would exceed ``limit`` seconds and ``reps``
    values were measured, or once the measured ones alone took longer than ``limit``."""
    full = sum(times) / len(times) * grid
    return (len(times) >= reps and full > limit) or sum(times) > limit


def run(n: int, m: int, grid: int, naive_reps: int, full_naive_limit: float, expm: bool) -> dict:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n + m, 50))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    Ktr, Kte = relu_ntk(x[:n], x[:n]), relu_ntk(x[n:], x[:n])
    y = np.sign(x[:n, 0] + 0.3 * rng.standard_normal(n))
    ridges, times = np.logspace(-6, 0, grid), np.logspace(0, 6, grid)
    wall, cpu = {}, {}

    model, wall["eigh"] = timed(R.KernelRegression, Ktr, y)
    cpu["eigh"] = CPU[-1]
    pr, wall["grid_ridge"] = timed(model.predict, Kte, "ridge", ridges)
    cpu["grid_ridge"] = CPU[-1]
    pf, wall["grid_flow"] = timed(model.predict, Kte, "flow", times)
    cpu["grid_flow"] = CPU[-1]

    # naive ridge: one Cholesky solve per value
    err_ridge, w_chol, c_chol = 0.0, [], []
    for j in range(grid):
        out, dt = timed(R.kernel_ridge, Ktr, y, Kte, ridges[j])
        err_ridge = max(err_ridge, float(np.max(np.abs(out - pr[j]))))
        w_chol.append(dt)
        c_chol.append(CPU[-1])
        if _enough(w_chol, naive_reps, grid, full_naive_limit):
            break
    # naive flow: one eigendecomposition (and one prediction) per stopping time
    err_flow, w_eig, c_eig = 0.0, [], []
    for j in range(grid):
        out, dt = timed(lambda t: R.KernelRegression(Ktr, y).predict(Kte, "flow", [t])[0], times[j])
        err_flow = max(err_flow, float(np.max(np.abs(out - pf[j]))))
        w_eig.append(dt)
        c_eig.append(CPU[-1])
        if _enough(w_eig, naive_reps, grid, full_naive_limit):
            break
    for d, wc, ce in ((wall, w_chol, w_eig), (cpu, c_chol, c_eig)):
        d["cholesky_one"] = float(np.median(wc))
        d["naive_ridge"] = float(np.mean(wc) * grid)
        d["naive_flow"] = float(np.mean(ce) * grid)
        d["ratio_ridge"] = d["naive_ridge"] / (d["eigh"] + d["grid_ridge"])
        d["ratio_flow"] = d["naive_flow"] / (d["eigh"] + d["grid_flow"])
    res = {
        "n": n, "m": m, "grid": grid, "wall_s": wall, "cpu_s": cpu,
        "naive_ridge_measured": len(w_chol), "naive_flow_measured": len(w_eig),
        "max_abs_diff_ridge_vs_cholesky": err_ridge,
        "max_abs_diff_flow_vs_per_value": err_flow,
    }
    if expm:  # textbook formula, one value
        t = times[grid // 2]
        ref, dt = timed(lambda: Kte @ np.linalg.solve(Ktr, (np.eye(n) - sl.expm(-Ktr * t / n)) @ y))
        res["expm_one_s"] = {"wall": dt, "cpu": CPU[-1]}
        res["max_abs_diff_flow_vs_expm"] = float(np.max(np.abs(ref - pf[grid // 2])))
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="n = 2000 only")
    ap.add_argument("--sizes", type=int, nargs="+", default=None)
    ap.add_argument("--grid", type=int, default=50)
    ap.add_argument("--test", type=int, default=1000, help="number of test points m")
    ap.add_argument("--naive-reps", type=int, default=3, help="per-value solves measured before extrapolating")
    ap.add_argument("--full-naive-limit", type=float, default=60.0,
                    help="run the whole naive Cholesky loop when it is predicted to take less than this (s)")
    ap.add_argument("--json", default=None, help="write the results here")
    args = ap.parse_args(argv)
    sizes = args.sizes or ([2000] if args.quick else [2000, 8000])
    warm = np.eye(64) + 0.1  # load LAPACK and start the BLAS threads before anything is timed
    np.linalg.eigh(warm), sl.cho_factor(warm), sl.expm(-warm)
    rows = []
    for n in sizes:
        res = run(n, args.test, args.grid, args.naive_reps, args.full_naive_limit, expm=n <= 2000)
        rows.append(res)
        print(json.dumps(res), file=sys.stderr, flush=True)
    threads = os.environ.get("OMP_NUM_THREADS") or os.cpu_count()
    print(f"\nmachine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs (threads {threads}), "
          f"numpy {np.__version__}, scipy {scipy.__version__}, float64; m = {args.test} test points, "
          f"grid of {args.grid} values\n")
    g = args.grid
    print(f"| n | clock | eigh | + {g} ridges | + {g} times | 1 Cholesky | naive {g} ridges | ratio | "
          f"naive {g} times (eigh each) | ratio |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        ex_r = f" ({r['naive_ridge_measured']} measured)" if r["naive_ridge_measured"] < r["grid"] else ""
        ex_f = f" ({r['naive_flow_measured']} measured)" if r["naive_flow_measured"] < r["grid"] else ""
        for clock in ("wall", "cpu"):
            d = r[f"{clock}_s"]
            print(f"| {r['n']} | {clock} | {d['eigh']:.2f} s | {d['grid_ridge']:.3f} s | {d['grid_flow']:.3f} s | "
                  f"{d['cholesky_one']:.2f} s | {d['naive_ridge']:.1f} s{ex_r} | {d['ratio_ridge']:.1f}x | "
                  f"{d['naive_flow']:.0f} s{ex_f} | {d['ratio_flow']:.0f}x |")
    for r in rows:
        extra = (f"; expm formula, one value: {r['expm_one_s']['wall']:.1f} s wall, {r['expm_one_s']['cpu']:.1f} s cpu, "
                 f"max |diff| {r['max_abs_diff_flow_vs_expm']:.1e}") if "expm_one_s" in r else ""
        print(f"n={r['n']}: max |grid - Cholesky| {r['max_abs_diff_ridge_vs_cholesky']:.1e}, "
              f"max |grid - per-value flow| {r['max_abs_diff_flow_vs_per_value']:.1e}{extra}")
    if args.json:
        from companion.util.storage import atomic_write_text

        atomic_write_text(args.json, json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
