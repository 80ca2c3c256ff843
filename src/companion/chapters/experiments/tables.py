"""Chapter 6's result rows as files and tables: CSV with a JSON sidecar, seed summaries, Markdown tables,
and the join with numbers typed in from the papers (``results/paper_reported.csv``)."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from companion.util import validate as check
from companion.data.registry import DATASETS, TITLES

from .grid import COLUMNS
from .tasks import KINDS, METHODS, SAMPLINGS

#: Columns of ``results/paper_reported.csv``: the result columns plus where the number was read.
PAPER_COLUMNS = COLUMNS + ("paper", "table_or_figure", "page")
#: Columns that identify a configuration when joining paper numbers with measurements.
JOIN_KEYS = ("dataset", "task", "classes", "sampling", "targets", "arch", "depth", "gamma", "trained", "method",
             "n_train", "n_test")
_NUMERIC = {"depth", "alpha", "gamma", "n_train", "n_test", "n_fit", "n_val", "seed", "regularization",
            "test_accuracy", "test_mse", "r2", "trivial_accuracy", "trivial_mse", "train_mean", "val_accuracy",
            "val_mse", "oracle_regularization", "oracle_test_accuracy", "oracle_test_mse",
            "interpolant_test_accuracy", "interpolant_test_mse", "kernel_sum_accuracy", "sign_agreement"}
_INTS = {"depth", "n_train", "n_test", "n_fit", "n_val", "seed"}


# ---------------------------------------------------------------------------------------------------
# CSV
def _fmt(key: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if math.isnan(v):
            return ""
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return f"{v:.10g}"
    return str(value)


def to_csv(rows: Iterable[Mapping[str, Any]], columns: Sequence[str] = COLUMNS) -> str:
    """Rows as CSV text with exactly ``columns`` (missing values empty; NaN empty; inf as ``inf``)."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n", extrasaction="raise")
    w.writeheader()
    for r in rows:
        w.writerow({k: _fmt(k, r.get(k)) for k in columns})
    return buf.getvalue()


def _parse(key: str, text: str) -> Any:
    if key not in _NUMERIC:
        return text
    if text.strip() == "":
        return math.nan
    v = float(text)
    return int(v) if key in _INTS and math.isfinite(v) and v == int(v) else v


def read_csv(path: str | Path, columns: Sequence[str] = COLUMNS) -> list[dict[str, Any]]:
    """Read rows written by :func:`to_csv` (numbers parsed, empty numbers as NaN).

    Raises ``ValueError`` naming the file if its header is not exactly ``columns``.
    """
    path = Path(path)
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if tuple(reader.fieldnames or ()) != tuple(columns):
            raise check.fail("path", str(path), f"a CSV whose header is exactly {','.join(columns)}")
        return [{k: _parse(k, v or "") for k, v in row.items()} for row in reader]


def write_results(result: Mapping[str, Any], out_dir: str | Path | None = None) -> Path:
    """Write ``experiments.csv`` and ``experiments.json`` (parameters, grids, provenance) atomically.

    Default folder: ``figures.output_dir() / "results"``. Returns the CSV path.
    """
    from companion.publish.figures import git_commit, output_dir
    from companion.util.storage import to_jsonable
    from companion.util.storage import atomic_write_text
    from companion import __version__

    out = Path(out_dir) if out_dir is not None else output_dir() / "results"
    out.mkdir(parents=True, exist_ok=True)
    path = out / "experiments.csv"
    atomic_write_text(path, to_csv(result["rows"]))
    grids = {k: [_fmt(k, v) for v in vals] for k, vals in result["grids"].items()}
    sidecar = {"file": path.name, "columns": list(COLUMNS), "rows": len(result["rows"]),
               "parameters": to_jsonable(dict(result["params"])), "grids (normalised kernel)": grids,
               "datasets": to_jsonable(result["datasets"]), "seconds": round(float(result["seconds"]), 1),
               "package": "companion", "version": __version__, "git_commit": git_commit()}
    atomic_write_text(out / "experiments.json", json.dumps(sidecar, indent=1, sort_keys=True) + "\n")
    return path




# ---------------------------------------------------------------------------------------------------
# numbers reported in the papers
def paper_reported_path() -> Path:
    """``results/paper_reported.csv`` at the repository root (absent in a pip-installed package)."""
    return Path(__file__).resolve().parents[4] / "results" / "paper_reported.csv"


def read_paper(path: str | Path | None = None) -> list[dict[str, Any]]:
    """Rows typed in from the papers (:data:`PAPER_COLUMNS`); ``[]`` if the file does not exist."""
    path = Path(path) if path is not None else paper_reported_path()
    if not path.is_file():
        return []
    return read_csv(path, PAPER_COLUMNS)


def _same(key: str, paper_value: Any, measured_value: Any) -> bool:
    if key in _NUMERIC:
        try:
            return math.isclose(float(paper_value), float(measured_value), rel_tol=1e-9, abs_tol=1e-12)
        except (TypeError, ValueError):
            return False
    return str(paper_value).strip() == str(measured_value).strip()


def compare_with_paper(rows: Sequence[Mapping[str, Any]], paper: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Join paper numbers with the measured seed means.

    A paper row matches the measured rows that agree with it on every key of :data:`JOIN_KEYS` the
    paper row fills in (an empty cell, e.g. an unknown ``n_train``, matches anything). For each paper
    row with a ``test_accuracy`` or ``test_mse``, the output has the paper value, the measured mean and
    standard deviation over the matching rows, their number, and ``difference = measured - paper``
    (NaN, with ``matched = 0``, when nothing matches).
    """
    out = []
    for p in paper:
        keys = {k: p.get(k) for k in JOIN_KEYS
                if p.get(k) not in (None, "") and not (isinstance(p.get(k), float) and math.isnan(p.get(k)))}
        match = [r for r in rows if all(_same(k, v, r.get(k)) for k, v in keys.items())]
        for metric in ("test_accuracy", "test_mse"):
            pv = p.get(metric)
            if pv in (None, "") or (isinstance(pv, float) and math.isnan(pv)):
                continue
            vals = np.array([float(r[metric]) for r in match], float)
            mean = float(vals.mean()) if len(vals) else math.nan
            out.append({**{k: p.get(k) for k in JOIN_KEYS}, "metric": metric, "paper_value": float(pv),
                        "measured_mean": mean, "measured_sd": float(vals.std(ddof=1)) if len(vals) > 1 else math.nan,
                        "matched": int(len(vals)), "difference": mean - float(pv),
                        "paper": p.get("paper", ""), "table_or_figure": p.get("table_or_figure", ""),
                        "page": p.get("page", "")})
    return out


def paper_markdown(joined: Sequence[Mapping[str, Any]]) -> str:
    """The joined table (paper beside measured, with the difference) as Markdown."""
    lines = ["| paper | where | task | kernel | depth | metric | paper | measured (mean ± sd, runs) | difference |",
             "|---|---|---|---|---|---|---|---|---|"]
    for j in joined:
        design = ", ".join(str(j[k]) for k in ("sampling", "targets") if j.get(k) not in (None, ""))
        task = f"{j.get('dataset', '')} {j.get('classes', '')}".strip() + (f" ({design})" if design else "")
        kernel = f"{j.get('arch', '')}" + ("" if j.get("gamma") in (None, "") or (isinstance(j.get("gamma"), float)
                                                                                 and math.isnan(j["gamma"]))
                                         else f" γ={j['gamma']:g}")
        sd = "" if math.isnan(j["measured_sd"]) else f" ± {j['measured_sd']:.4g}"
        lines.append(f"| {j['paper']} | {j['table_or_figure']} p. {j['page']} | {task} | {kernel} | {j.get('depth', '')} "
                     f"| {j['metric']} | {j['paper_value']:.4g} | {j['measured_mean']:.4g}{sd} ({j['matched']}) "
                     f"| {j['difference']:+.4g} |")
    return "\n".join(lines)




# ---------------------------------------------------------------------------------------------------
# summaries and tables
_GROUP = ("dataset", "task", "classes", "class_names", "sampling", "targets", "arch", "label", "depth", "gamma",
          "trained", "method")
_METRICS = ("test_accuracy", "test_mse", "r2", "trivial_accuracy", "trivial_mse", "interpolant_test_accuracy",
            "interpolant_r2", "kernel_sum_accuracy", "sign_agreement", "train_mean")


def summarize(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Seed means and standard deviations per configuration (``_GROUP`` keys).

    Each output dict has the group keys, ``seeds``, ``n_train``/``n_test`` (min-max text if they vary),
    ``<metric>_mean`` / ``<metric>_sd`` for the metrics in ``_METRICS`` (``interpolant_r2``: ridge 0 / time
    inf) and the median chosen regularisation as ``regularization_median``.
    """
    groups: dict[tuple, list[Mapping[str, Any]]] = {}
    for r in rows:
        key = tuple(("nan" if isinstance(r[k], float) and math.isnan(r[k]) else r[k]) for k in _GROUP)
        groups.setdefault(key, []).append(r)
    out = []
    for key, rs in groups.items():
        s = dict(zip(_GROUP, key))
        s["gamma"] = math.nan if s["gamma"] == "nan" else s["gamma"]
        s["seeds"] = len(rs)
        for k in ("n_train", "n_test"):
            vals = sorted({int(r[k]) for r in rs})
            s[k] = vals[0] if len(vals) == 1 else f"{vals[0]}-{vals[-1]}"
        for m in _METRICS:
            if m == "interpolant_r2":
                v = np.array([1.0 - float(r["interpolant_test_mse"]) / float(r["trivial_mse"]) for r in rs])
            else:
                v = np.array([float(r[m]) for r in rs])
            s[f"{m}_mean"] = float(v.mean())
            s[f"{m}_sd"] = float(v.std(ddof=1)) if len(v) > 1 else 0.0
        s["regularization_median"] = float(np.median([float(r["regularization"]) for r in rs]))
        out.append(s)
    return out


def task_order(s: Mapping[str, Any]) -> tuple:
    """Sort key: dataset, then two-class before all-class."""
    return (list(DATASETS).index(s["dataset"]), KINDS.index(s["task"]))


def arch_order(s: Mapping[str, Any]) -> tuple:
    """Sort key: the FFNet, then the ResNets by gamma."""
    return (0, 0.0) if s["arch"] == "ffnet" else (1, float(s["gamma"]))


def _label(label: str) -> str:
    return label.replace("gamma=", "γ=")


def pivot_markdown(summary: Sequence[Mapping[str, Any]], method: str = "ridge", metric: str = "r2",
                   targets: str = "raw", kind: str | None = None) -> str:
    """A Markdown table: one row per task, sampling design and kernel, one column per depth, entries
    mean ± sd over seeds; ``metric`` ``"r2"`` (as is) or ``"test_accuracy"`` (in %, with the trivial
    predictor's accuracy in a last column). Raises ``ValueError`` for an unknown method or metric."""
    check.choice("method", method, METHODS)
    check.choice("metric", metric, ("r2", "test_accuracy", "kernel_sum_accuracy"))
    sel = [s for s in summary if s["method"] == method and s["targets"] == targets
           and (kind is None or s["task"] == kind)]
    depths = sorted({int(s["depth"]) for s in sel})
    percent = metric != "r2"
    f, digits = (100.0, 1) if percent else (1.0, 2)
    head = "| task | sampling | n train / test | kernel | " + " | ".join(f"L={d:,}" for d in depths)
    head += " | trivial |" if percent else " |"
    lines = [head, "|" + "---|" * (len(depths) + 4 + int(percent))]
    keyed: dict[tuple, dict[int, Mapping[str, Any]]] = {}
    for s in sel:
        keyed.setdefault((task_order(s), s["class_names"], SAMPLINGS.index(s["sampling"]), arch_order(s), s["label"]),
                         {})[int(s["depth"])] = s
    for (_, names, si, _, label), by_depth in sorted(keyed.items()):
        first = next(iter(by_depth.values()))
        cells = ["" if d not in by_depth else
                 f"{f * by_depth[d][metric + '_mean']:.{digits}f} ± {f * by_depth[d][metric + '_sd']:.{digits}f}"
                 for d in depths]
        row = (f"| {TITLES[first['dataset']]} {names} | {SAMPLINGS[si]} | {first['n_train']} / {first['n_test']} | "
               f"{_label(label)} | " + " | ".join(cells))
        lines.append(row + (f" | {f * first['trivial_accuracy_mean']:.1f} |" if percent else " |"))
    return "\n".join(lines)


def design_markdown(summary: Sequence[Mapping[str, Any]], depth: int, method: str = "ridge") -> str:
    """The FFNet at ``depth``, two-class tasks: accuracy (%) under both designs with raw and centred
    targets, the kernel-sum classifier, the trivial predictor and the ``R^2`` (seed means, Markdown)."""
    sel = [s for s in summary if s["method"] == method and s["arch"] == "ffnet" and int(s["depth"]) == depth
           and s["task"] == "two"]
    by: dict[tuple, dict[str, Mapping[str, Any]]] = {}
    for s in sel:
        by.setdefault((task_order(s), s["class_names"], SAMPLINGS.index(s["sampling"])), {})[s["targets"]] = s
    lines = ["| task | sampling | n train / test | mean of the ±1 training targets | accuracy, raw targets | "
             "accuracy, centred targets | kernel sum | trivial | R², raw | R², centred |", "|" + "---|" * 10]
    for (_, names, si), t in sorted(by.items()):
        raw, cen = t.get("raw"), t.get("centred")
        if raw is None or cen is None:
            continue
        lines.append(f"| {TITLES[raw['dataset']]} {names} | {SAMPLINGS[si]} | {raw['n_train']} / {raw['n_test']} | "
                     f"{raw['train_mean_mean']:+.3f} ± {raw['train_mean_sd']:.3f} | "
                     f"{100 * raw['test_accuracy_mean']:.1f} | {100 * cen['test_accuracy_mean']:.1f} | "
                     f"{100 * raw['kernel_sum_accuracy_mean']:.1f} | {100 * raw['trivial_accuracy_mean']:.1f} | "
                     f"{raw['r2_mean']:.3f} | {cen['r2_mean']:.3f} |")
    return "\n".join(lines)


def regularization_markdown(summary: Sequence[Mapping[str, Any]], method: str = "ridge", task: str = "two",
                            sampling: str = "balanced") -> str:
    """Median validation-chosen ridge (or stopping time) per task, kernel and depth (Markdown)."""
    sel = [s for s in summary if s["method"] == method and s["task"] == task and s["sampling"] == sampling
           and s["targets"] == "raw"]
    depths = sorted({int(s["depth"]) for s in sel})
    lines = ["| task | kernel | " + " | ".join(f"L={d:,}" for d in depths) + " |", "|" + "---|" * (len(depths) + 2)]
    keyed: dict[tuple, dict[int, Mapping[str, Any]]] = {}
    for s in sel:
        keyed.setdefault((task_order(s), s["class_names"], arch_order(s), s["label"]), {})[int(s["depth"])] = s
    for (_, names, _, label), by_depth in sorted(keyed.items()):
        first = next(iter(by_depth.values()))
        cells = [f"{by_depth[d]['regularization_median']:.2g}" if d in by_depth else "" for d in depths]
        lines.append(f"| {TITLES[first['dataset']]} {names} | {_label(label)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def interpolation_markdown(summary: Sequence[Mapping[str, Any]], depth: int, method: str = "flow",
                           sampling: str = "balanced") -> str:
    """Validation-stopped (or ridge-selected) regression against interpolation (t = inf / ridge 0) for
    every task and ResNet at ``depth``: accuracy (%) and R², seed means (Markdown)."""
    sel = [s for s in summary if s["method"] == method and int(s["depth"]) == depth and s["arch"] == "resnet"
           and s["sampling"] == sampling and s["targets"] == "raw"]
    what = "stopped" if method == "flow" else "ridge chosen"
    lines = [f"| task | n train / test | kernel | R², {what} | R², interpolation | accuracy, {what} | "
             "accuracy, interpolation |", "|---|---|---|---|---|---|---|"]
    for s in sorted(sel, key=lambda s: (task_order(s), arch_order(s))):
        lines.append(f"| {TITLES[s['dataset']]} {s['class_names']} | {s['n_train']} / {s['n_test']} | "
                     f"{_label(s['label'])} | {s['r2_mean']:.2f} | {s['interpolant_r2_mean']:.2f} | "
                     f"{100 * s['test_accuracy_mean']:.1f} | {100 * s['interpolant_test_accuracy_mean']:.1f} |")
    return "\n".join(lines)


def sources_markdown(result: Mapping[str, Any]) -> str:
    """One line per task: data source (file and sha256), points drawn per seed and design, classes available."""
    lines = []
    for title, p in result["datasets"].items():
        ntr = sorted({d["n_train"] for d in p["draws"]})
        nte = sorted({d["n_test"] for d in p["draws"]})
        seeds = len({d["seed"] for d in p["draws"]})
        fmt = lambda v: str(v[0]) if len(v) == 1 else f"{v[0]}-{v[-1]}"  # noqa: E731
        runs = f"{seeds} seed{'s' if seeds != 1 else ''}"
        lines.append(f"- **{title}**: {fmt(ntr)} train / {fmt(nte)} test points per seed and design, drawn from "
                     f"the {p['n_train_available']} / {p['n_test_available']} available, {runs}; source: {p['source']}")
    return "\n".join(lines)


def provenance(result: Mapping[str, Any]) -> tuple[str, str]:
    """``(text, sha256)`` for figure sidecars: the data sources, and a hash over every draw's arrays."""
    import hashlib

    h = hashlib.sha256()
    parts = []
    for title, p in result["datasets"].items():
        ntr = sorted({d["n_train"] for d in p["draws"]})
        parts.append(f"{title}: {ntr[0]}{'' if len(ntr) == 1 else '-' + str(ntr[-1])} train points per seed and "
                     f"design, {len({d['seed'] for d in p['draws']})} seeds, from {p['source']}")
        for d in p["draws"]:
            h.update(d["fingerprint"].encode())
    return "; ".join(parts), h.hexdigest()


def table_note(result: Mapping[str, Any], short: bool = False) -> str:
    """The line under a table: sources and what the ± means; ``short``: only what the ± means, for the
    tables after the first (which carries the sources and the designs' definitions)."""
    seeds = int(result["params"]["seeds"])
    entries = (f"Entries: mean ± standard deviation over {seeds} seed{'s' if seeds != 1 else ''}, each an "
               "independent random draw of the training and test points")
    if short:
        return f"*{entries}; data and designs as described under the first table of test R².*"
    srcs: dict[str, str] = {}
    for p in result["datasets"].values():
        srcs.setdefault(TITLES[p["dataset"]], p["source"])
    return ("*Data:* " + "; ".join(f"{k}: {v}" for k, v in srcs.items())
            + f". {entries}; 'balanced': exactly equal class counts, 'uniform': drawn uniformly from "
            "the task's classes; 'trivial': the accuracy of predicting a training-majority class (either class "
            "when the classes are exactly balanced).")


__all__ = ["PAPER_COLUMNS", "JOIN_KEYS", "to_csv", "read_csv", "write_results", "paper_reported_path", "read_paper",
           "compare_with_paper", "paper_markdown", "summarize", "pivot_markdown", "design_markdown",
           "regularization_markdown", "interpolation_markdown", "sources_markdown", "provenance", "table_note",
           "task_order", "arch_order"]
