"""A small mutation sample: do the fast tests notice plausible one-line errors in the scientific core?

Developer tool, run by hand (not in CI)::

    python benchmarks/mutants.py                 # every mutant (a few minutes per mutant on 2 CPUs)
    python benchmarks/mutants.py --list          # the mutants and the tests each one runs
    python benchmarks/mutants.py --only claims-at-most-lt regression-absolute-cut
    python benchmarks/mutants.py --control       # the same tests without mutations: all must pass

Each mutant replaces one exact string in one file of ``src/companion`` (it must occur exactly once; a
mutant whose string is gone is reported ``stale``: update it to the code as it now reads). For each
mutant the tool copies ``src``, ``tests``, ``results``, ``notebooks``, ``book`` and the top-level
configuration files into a temporary folder, applies the
edit there (the working tree is never touched), runs the named fast tests with ``pytest -x`` and reports
``killed`` (a test failed), ``survived`` (every test passed: a missing test) or ``timeout``. The kill
rate counts timeouts as killed and leaves stale mutants out.

Target: every mutant that changes a visible value is killed by a fast test.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclasses.dataclass(frozen=True)
class Mutant:
    id: str
    file: str  # relative to src/companion
    old: str
    new: str
    tests: tuple[str, ...]  # pytest arguments (paths, ``-k`` expressions)
    what: str


M = Mutant
MUTANTS: tuple[Mutant, ...] = (
    # --- kernels (the kernel-specific tests are on the kernels branch)
    M("arccos-kappa1-branches", "kernels/arccos.py",
      "return jnp.where(r >= 0, upper, jnp.maximum(lower, 0.0))",
      "return jnp.where(r >= 0, jnp.maximum(lower, 0.0), upper)",
      ("tests/kernels/test_gradients.py", "-k", "accuracy"), "kappa1's two stable branches swapped"),
    M("limits-half-to-ffnet", "kernels/limits.py",
      "    if gamma == 0.5:\n        return ode_limit(rho0, trained)",
      "    if gamma == 0.5:\n        return ffnet_limit(rho0)",
      ("tests/kernels/test_kernels.py",), "resnet_limit at gamma = 1/2 sent to the FFNet limit"),
    M("depthfree-tolerance", "kernels/depthfree.py",
      "return 1e-13 + 1e-15 * math.sqrt(depth) + 2.5e-16 * depth",
      "return 1e-9 + 1e-15 * math.sqrt(depth) + 2.5e-16 * depth",
      ("tests/kernels/test_kernels.py",), "depth-free table tolerance 10^4 times looser"),
    M("depthfree-safety-factor", "kernels/depthfree.py",
      "bound = 2.0 * max(check, tail) + rounding(spec.depth)",
      "bound = 0.5 * max(check, tail) + rounding(spec.depth)",
      ("tests/kernels/test_kernels.py",), "error bound's safety factor 2 -> 0.5 (bound below the measured error)"),
    M("recursion-scale-c", "kernels/recursion.py",
      "lc = L * math.log1p(a2)",
      "lc = L * math.log1p(spec.alpha)",
      ("tests/kernels/test_kernels.py",), "log of the scale c^L with c = 1 + alpha instead of 1 + alpha^2"),
    # --- learning
    M("regression-absolute-cut", "learning/regression.py",
      "floor = rcond * float(smax)  # the kernel's rounding level",
      "floor = rcond  # the kernel's rounding level",
      ("tests/learning/test_regression.py",), "eigenvalue cut absolute instead of relative to the largest"),
    M("fits-solve-subnormal", "learning/fits.py",
      "if sys.float_info.min <= ratio < math.inf:",
      "if 0.0 < ratio < math.inf:",
      ("tests/test_properties.py", "-k", "power_law_solve"), "power_law_solve trusts a subnormal ratio"),
    M("fits-t-interval", "learning/fits.py",
      "se = float(np.std(slopes, ddof=1) / math.sqrt(slopes.size))",
      "se = float(np.std(slopes, ddof=1))",
      ("tests/learning/test_fits.py",), "t-interval without the 1/sqrt(S)"),
    # --- publish.claims
    M("claims-within-lt", "publish/claims.py",
      "return math.isfinite(m) and abs(m - target) <= tol",
      "return math.isfinite(m) and abs(m - target) < tol",
      ("tests/publish/test_claims.py",), "within: <= turned into <"),
    M("claims-at-most-lt", "publish/claims.py",
      "return math.isfinite(m) and m <= bound",
      "return math.isfinite(m) and m < bound",
      ("tests/publish/test_claims.py",), "at_most: <= turned into <"),
    M("claims-at-least-gt", "publish/claims.py",
      "return math.isfinite(m) and m >= bound",
      "return math.isfinite(m) and m > bound",
      ("tests/publish/test_claims.py",), "at_least: >= turned into >"),
    M("claims-at-most-minus-inf", "publish/claims.py",
      "return math.isfinite(m) and m <= bound",
      "return not math.isnan(m) and m <= bound",
      ("tests/publish/test_claims.py",), "at_most lets -inf pass"),
    M("claims-counterfactual-untested", "publish/claims.py",
      '"counterfactual_passed": bool(test(value))}',
      '"counterfactual_passed": False}',
      ("tests/publish/test_claims.py",), "a counterfactual is recorded as rejected without being tested"),
    # --- data
    M("data-two-class-swap", "data/__init__.py",
      "return np.where(labels == cls[0], 1.0, -1.0)",
      "return np.where(labels == cls[1], 1.0, -1.0)",
      ("tests/data/test_data.py", "-k", "fake_data"), "two-class labels swapped (second class +1)"),
    M("data-test-mean", "data/__init__.py",
      "mean = xtr.mean(axis=0) if center else None",
      "mean = xte.mean(axis=0) if center else None",
      ("tests/data/test_data.py", "-k", "fake_data"), "centring with the test mean"),
    # --- chapters
    M("ch1-rate-constant", "chapters/signal_propagation.py",
      "return (1.0 - final_correlation(arch, depth, rho0, gamma)) / (9.0 * np.pi**2 / (2.0 * depth**2))",
      "return (1.0 - final_correlation(arch, depth, rho0, gamma)) / (9.0 * np.pi**2 / (4.0 * depth**2))",
      ("tests/chapters/test_signal_propagation.py", "-k", "rates or claims"), "FFNet rate constant halved"),
    M("ch1-standard-error", "chapters/signal_propagation.py",
      "se = float(np.sqrt(np.mean(hat.std(axis=0, ddof=1) ** 2)) / np.sqrt(seeds))",
      "se = float(np.sqrt(np.mean(hat.std(axis=0, ddof=1) ** 2)))",
      ("tests/chapters/test_signal_propagation.py", "-k", "follow_z"), "standard error without 1/sqrt(seeds)"),
    M("ch2-width-rate-target", "chapters/kernel_checks.py",
      "return max(halfwidths_from(f, -0.5) for f in fits.values())",
      "return max(halfwidths_from(f, -1.0) for f in fits.values())",
      ("tests/chapters/test_kernel_checks.py", "-m", "not reference"), "width-rate compared with -1 instead of -1/2"),
    M("ch5-lazy-bound", "chapters/finite_width.py",
      "worst_gap = max(f.low for f in fits[\"gap\"].values())",
      "worst_gap = max(f.slope for f in fits[\"gap\"].values())",
      ("tests/chapters/test_finite_width.py", "-k", "claims"), "gap exponent's point estimate instead of its interval"),
    M("ch6-best-test-accuracy", "learning/selection.py",
      "selected_test_accuracy=nan if acc_t is None else float(acc_t[i]),",
      "selected_test_accuracy=nan if acc_t is None else float(acc_t[j]),",
      ("tests/learning/test_selection_report.py",), "reported test accuracy = the best on the test set"),
)


def _copy_tree(dest: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".hypothesis")
    shutil.copytree(ROOT / "src", dest / "src", ignore=ignore)
    shutil.copytree(ROOT / "tests", dest / "tests", ignore=ignore)
    for name in ("results", "notebooks", "book"):  # small files some tests read from the repository
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, dest / name, ignore=ignore)
    for name in ("pyproject.toml", "_toc.yml", "_config.yml"):
        if (ROOT / name).is_file():
            shutil.copy2(ROOT / name, dest / name)


def run_one(m: Mutant, timeout: float, control: bool = False) -> tuple[str, float]:
    """``("killed" | "survived" | "timeout" | "stale", seconds)`` for one mutant. ``control=True`` runs the
    same tests on the unmutated copy: they must pass ("survived"), else a kill means nothing."""
    target = ROOT / "src" / "companion" / m.file
    text = target.read_text() if target.is_file() else ""
    if text.count(m.old) != 1:
        return "stale", 0.0
    with tempfile.TemporaryDirectory(prefix="mutant-") as tmp:
        tmp = Path(tmp)
        _copy_tree(tmp)
        if not control:
            (tmp / "src" / "companion" / m.file).write_text(text.replace(m.old, m.new))
        env = {**os.environ, "PYTHONPATH": str(tmp / "src"), "PYTHONDONTWRITEBYTECODE": "1"}
        cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *m.tests]
        start = time.perf_counter()
        try:
            proc = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return "timeout", time.perf_counter() - start
        seconds = time.perf_counter() - start
        if proc.returncode == 5:  # no tests collected: the mutant's test selection is wrong
            return "stale", seconds
        return ("killed" if proc.returncode != 0 else "survived"), seconds


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="+", metavar="ID", help="run only these mutants")
    ap.add_argument("--list", action="store_true", help="list the mutants and exit")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per mutant (default 900)")
    ap.add_argument("--control", action="store_true",
                    help="run each mutant's tests without the mutation (they must all pass: 'survived')")
    args = ap.parse_args(argv)
    chosen = [m for m in MUTANTS if not args.only or m.id in args.only]
    if args.only and len(chosen) != len(set(args.only)):
        ap.error(f"unknown mutant ids: {sorted(set(args.only) - {m.id for m in MUTANTS})}")
    if args.list:
        for m in chosen:
            print(f"{m.id:32s} {m.file:32s} {m.what}  [{' '.join(m.tests)}]")
        return 0
    results = []
    for m in chosen:
        status, seconds = run_one(m, args.timeout, args.control)
        results.append((m, status))
        print(f"{status:9s} {seconds:7.1f} s  {m.id:32s} {m.what}", flush=True)
    if args.control:
        broken = [m.id for m, s in results if s in ("killed", "timeout")]
        print(f"\ncontrol: tests fail without any mutation for {broken}" if broken else "\ncontrol: all tests pass")
        return 1 if broken else 0
    live = [s for _, s in results if s != "stale"]
    killed = sum(s in ("killed", "timeout") for s in live)
    print(f"\nkilled {killed} of {len(live)} ({100.0 * killed / max(len(live), 1):.0f}%); "
          f"stale {len(results) - len(live)}; survived: {[m.id for m, s in results if s == 'survived']}")
    return 0 if killed == len(live) else 1


if __name__ == "__main__":
    sys.exit(main())
