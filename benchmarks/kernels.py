"""Benchmark: companion.kernels against neural-tangents 0.6.5 and against the Gram matrix alone.

For each input size n, depth L, architecture and dtype it prints

* **gram**: ``x @ x.T`` alone (jitted; the floor any kernel method must pay),
* **companion**: ``ffnet_kernels`` / ``resnet_kernels(trained="hidden", alpha=L^-1/2)`` with
  ``method="auto"`` (the depth-free path for these sizes), first call (table build + any compile,
  with every cache cleared first) and steady state (median of ``--reps`` calls, table cached),
* **nt repeat**: neural-tangents ``stax.repeat`` (the recommended deep form), jitted kernel_fn, first
  call (compile + run) and steady state; skipped with ``skipped (est. > X s)`` when an estimate from a
  shallow run exceeds ``--nt-max-seconds``;
* **nt serial**: ``stax.serial`` with the layers spelled out, only up to ``--nt-serial-max-depth``
  (its compile time and memory grow with L: ~60 s and ~10 GB at L = 100),

plus the peak resident-memory increase during the steady-state call (sampled every 2 ms; on a GPU
the allocator's peak instead) and, wherever neural-tangents ran, the largest relative off-diagonal
difference between the two. Inputs: n random points on the unit sphere in d = 784 dimensions.

    python benchmarks/kernels.py --quick                 # n = 1024, L in {10, 1000}, FFNet, float64
    python benchmarks/kernels.py                         # the full grid (long on a CPU)
    python benchmarks/kernels.py --n 2048 --depths 10 100 1000 10000 --arch ffnet resnet --dtype float64 float32

    python benchmarks/kernels.py --float32 --n 2048 --depths 1000 --x64 off   # float32 fast path (issue 12)

``--float32``: for each n, L and architecture prints the float32 kernels' steady time against the
float32 Gram matrix ``x @ x.T`` alone (target: at most 2x at n = 2048, d = 784, L = 1000) and their
largest error against float64 in normalised units, ``max |K32 - K64| / sqrt(K64(x,x) K64(x',x'))``
(target: 1e-5), with ``jax_enable_x64`` as given by ``--x64`` (the kernels do not depend on it).

Results: benchmarks/README.md, section "Kernels".
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import threading
import time

import numpy as np

import jax
import jax.numpy as jnp

import companion  # noqa: F401  (changes no JAX setting: float64 is switched on below where wanted)

from companion.kernels import api, depthfree, ffnet_kernels, resnet_kernels


# ---------------------------------------------------------------------------- measurement helpers
class PeakMemory:
    """Peak memory increase during a block: the accelerator allocator's peak, or sampled host RSS."""

    def __init__(self):
        self.device = jax.devices()[0]
        self.gpu = "bytes_limit" in (self._stats() or {})

    def _stats(self):
        try:
            return self.device.memory_stats()
        except Exception:  # noqa: BLE001
            return None

    def __enter__(self):
        if self.gpu:
            self.base = self._stats().get("bytes_in_use", 0)
            return self
        import psutil

        self.proc = psutil.Process()
        self.base = self.proc.memory_info().rss
        self.peak = self.base
        self.stop = False

        def sample():
            while not self.stop:
                self.peak = max(self.peak, self.proc.memory_info().rss)
                time.sleep(0.002)

        self.thread = threading.Thread(target=sample, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        if self.gpu:
            self.value = self._stats().get("peak_bytes_in_use", 0) - self.base
        else:
            self.stop = True
            self.thread.join()
            self.peak = max(self.peak, self.proc.memory_info().rss)
            self.value = self.peak - self.base
        return False


def timed(fn):
    t = time.perf_counter()
    out = fn()
    jax.block_until_ready(out)
    return time.perf_counter() - t, out


def steady(fn, reps):
    times = []
    for _ in range(reps):
        t, out = timed(fn)
        times.append(t)
    return statistics.median(times), out


def clear_caches():
    depthfree.build_table.cache_clear()
    api._BUILT.clear()


# ---------------------------------------------------------------------------- neural-tangents
def nt_kernel_fn(arch, L, alpha, serial):
    """neural-tangents' kernel function for the companion's architecture (mapping: companion.networks.reference)."""
    from companion.networks import reference

    if arch == "ffnet":
        return jax.jit(reference.ffnet_kernel_fn(L, serial), static_argnames="get"), None
    first, rest = reference.resnet_kernel_fns(L, alpha, serial)

    def hidden(x):  # trained="hidden": the input layer's NTK zeroed, the readout's NNGP removed
        k = first(x, None)
        k = rest(k.replace(ntk=jnp.zeros_like(k.ntk)))
        return k.nngp, k.ntk - k.nngp

    return jax.jit(hidden), "hidden"


def run_nt(arch, L, alpha, x, serial, reps):
    fn, mode = nt_kernel_fn(arch, L, alpha, serial)
    xs = jnp.asarray(x * np.sqrt(x.shape[1]))
    call = (lambda: fn(xs)) if mode == "hidden" else (lambda: fn(xs, None, ("nngp", "ntk")))
    first, out = timed(call)
    st, out = steady(call, reps)
    nngp, ntk = out
    return first, st, np.asarray(ntk)


# ---------------------------------------------------------------------------- main
def rel_off(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    off = ~np.eye(a.shape[0], dtype=bool)
    return float(np.max(np.abs(a - b)[off] / np.abs(b)[off]))


def fmt_t(t):
    return "-" if t is None else (f"{t * 1e3:.1f} ms" if t < 1 else f"{t:.2f} s")


def fmt_b(b):
    return "-" if b is None else f"{b / 2**20:.0f} MiB"


def float32_rows(a):
    """The float32 fast path against the float32 Gram matrix and against float64 (see the module doc)."""
    jax.config.update("jax_enable_x64", a.x64 == "on")
    print(f"# {platform.node()} | {platform.processor() or platform.machine()} | {os.cpu_count()} CPUs | "
          f"jax {jax.__version__} | devices {jax.devices()} | x64 {a.x64}")
    rows = []
    for n in a.n:
        x = np.random.default_rng(0).normal(size=(n, a.d))
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        x[1] = x[0] + 1e-7 * np.random.default_rng(1).normal(size=a.d) / np.sqrt(a.d)  # one near-duplicate pair
        x32 = jnp.asarray(x, jnp.float32)
        gram = jax.jit(lambda z: jnp.matmul(z, z.T, precision=jax.lax.Precision.HIGHEST))
        timed(lambda: gram(x32))
        g_st, _ = steady(lambda: gram(x32), a.reps)
        print(f"\nn={n} d={a.d}: float32 gram steady {fmt_t(g_st)}")
        print(f"{'arch':7} {'L':>6} | {'f32 first':>10} {'f32 steady':>10} {'x gram':>6} | {'f64 steady':>10} | "
              f"{'max err (normalised)':>20} {'near pair err':>13}")
        for arch in a.arch:
            for L in a.depths:
                def call(dt, arch=arch, L=L):
                    if arch == "ffnet":
                        return ffnet_kernels(x, depth=L, dtype=dt)
                    return resnet_kernels(x, depth=L, alpha=L**-0.5, trained="hidden", dtype=dt)
                first, _ = timed(lambda: call("float32").ntk)
                st32, k32 = steady(lambda: call("float32").ntk, a.reps)
                st64, k64 = steady(lambda: call("float64").ntk, 1)
                k32, k64 = np.asarray(k32, np.float64), np.asarray(k64)
                dg = np.sqrt(np.diag(k64))
                err = np.abs(k32 - k64) / np.outer(dg, dg)
                row = dict(n=n, arch=arch, L=L, x64=a.x64, gram32=g_st, first32=first, steady32=st32,
                           ratio=st32 / g_st, steady64=st64, err=float(err.max()), near_err=float(err[0, 1]))
                rows.append(row)
                print(f"{arch:7} {L:>6} | {fmt_t(first):>10} {fmt_t(st32):>10} {st32 / g_st:>5.2f}x | "
                      f"{fmt_t(st64):>10} | {err.max():>20.2e} {err[0, 1]:>13.2e}", flush=True)
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, nargs="+", default=[1024, 2048, 8192])
    p.add_argument("--depths", type=int, nargs="+", default=[10, 100, 1000, 10000])
    p.add_argument("--arch", nargs="+", default=["ffnet", "resnet"], choices=["ffnet", "resnet"])
    p.add_argument("--dtype", nargs="+", default=["float64", "float32"], choices=["float64", "float32"])
    p.add_argument("--d", type=int, default=784, help="input dimension")
    p.add_argument("--reps", type=int, default=3, help="steady-state repetitions (median)")
    p.add_argument("--nt-max-seconds", type=float, default=60.0, help="skip NT runs estimated to take longer")
    p.add_argument("--nt-serial-max-depth", type=int, default=20)
    p.add_argument("--no-nt", action="store_true", help="do not run neural-tangents at all")
    p.add_argument("--quick", action="store_true", help="n = 1024, L in {10, 1000}, FFNet, float64")
    p.add_argument("--json", help="also write the rows to this JSON file")
    p.add_argument("--float32", action="store_true", help="the float32 fast path: time vs float32 Gram, error vs float64")
    p.add_argument("--x64", choices=["on", "off"], default="off", help="jax_enable_x64 for --float32")
    a = p.parse_args(argv)
    if a.float32:
        rows = float32_rows(a)
        if a.json:
            with open(a.json, "w") as f:
                json.dump(rows, f, indent=1, default=float)
        return rows
    jax.config.update("jax_enable_x64", True)  # the float64 Gram baseline and neural-tangents need it
    if a.quick:
        a.n, a.depths, a.arch, a.dtype = [1024], [10, 1000], ["ffnet"], ["float64"]

    print(f"# {platform.node()} | {platform.processor() or platform.machine()} | {os.cpu_count()} CPUs | "
          f"jax {jax.__version__} | devices {jax.devices()}")
    rows = []
    for n in a.n:
        x = np.random.default_rng(0).normal(size=(n, a.d))
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        for dtype in a.dtype:
            xd = jnp.asarray(x, dtype)
            gram = jax.jit(lambda z: jnp.matmul(z, z.T, precision=jax.lax.Precision.HIGHEST))
            g_first, _ = timed(lambda: gram(xd))
            with PeakMemory() as mem:
                g_st, _ = steady(lambda: gram(xd), a.reps)
            print(f"\nn={n} {dtype}: gram first {fmt_t(g_first)}, steady {fmt_t(g_st)}, peak +{fmt_b(mem.value)}")
            print(f"{'arch':7} {'L':>6} | {'companion first':>15} {'steady':>9} {'x gram':>6} {'peak':>9} | "
                  f"{'nt repeat first':>16} {'steady':>9} {'speed-up':>8} {'max rel diff':>12} | {'nt serial':>10}")
            nt_per_unit = {}  # seconds per (n^2 * layer), from the shallowest NT run, per arch
            for arch in a.arch:
                clear_caches()
                for L in a.depths:
                    alpha = L**-0.5
                    if arch == "ffnet":
                        call = lambda: ffnet_kernels(x, depth=L, dtype=dtype)  # noqa: E731
                    else:
                        call = lambda: resnet_kernels(x, depth=L, alpha=alpha, trained="hidden", dtype=dtype)  # noqa: E731
                    c_first, k = timed(lambda: call().ntk)
                    with PeakMemory() as mem:
                        c_st, k = steady(lambda: call().ntk, a.reps)
                    row = dict(n=n, dtype=dtype, arch=arch, L=L, gram_first=g_first, gram=g_st,
                               first=c_first, steady=c_st, ratio_gram=c_st / g_st, peak=mem.value,
                               method=api.choose_method(api.Spec(arch, L, alpha if arch == "resnet" else 0.0,
                                                                 "hidden" if arch == "resnet" else "all"), n, n))
                    nt_txt = ["-", "-", "-", "-"]
                    if not a.no_nt:
                        est = nt_per_unit.get(arch, None)
                        est = None if est is None else est * n * n * L
                        if est is not None and est > a.nt_max_seconds:
                            nt_txt = [f"skipped (est. > {a.nt_max_seconds:.0f} s, ~{est:.0f} s)", "", "", ""]
                            row["nt"] = f"skipped (est. {est:.0f} s)"
                        else:
                            nf, ns, ntk_ref = run_nt(arch, L, alpha, x.astype(dtype), False, 1 if ns_guess(est) else a.reps)
                            nt_per_unit[arch] = ns / (n * n * L)
                            diff = rel_off(np.asarray(k), ntk_ref)
                            row.update(nt_first=nf, nt=ns, speedup=ns / c_st, rel_diff=diff)
                            nt_txt = [fmt_t(nf), fmt_t(ns), f"{ns / c_st:.0f}x", f"{diff:.1e}"]
                        if L <= a.nt_serial_max_depth:
                            sf, ss, _ = run_nt(arch, L, alpha, x.astype(dtype), True, 1)
                            row.update(nt_serial_first=sf, nt_serial=ss)
                            nt_txt.append(f"{fmt_t(sf)}/{fmt_t(ss)}")
                        else:
                            nt_txt.append("-")
                    else:
                        nt_txt.append("-")
                    rows.append(row)
                    print(f"{arch:7} {L:>6} | {fmt_t(c_first):>15} {fmt_t(c_st):>9} {c_st / g_st:>5.1f}x "
                          f"{fmt_b(mem.value):>9} | {nt_txt[0]:>16} {nt_txt[1]:>9} {nt_txt[2]:>8} {nt_txt[3]:>12} | "
                          f"{nt_txt[4]:>10}", flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1, default=float)
    return rows


def ns_guess(est):
    """One steady-state repetition is enough for NT runs longer than ~10 s."""
    return est is not None and est > 10.0


if __name__ == "__main__":
    sys.exit(0 if main() is not None else 1)
