"""companion.chapters.experiments (chapter 6): the claims at smoke scale, result rows and CSV, the paper join,
argument validation, the kernel routes and the regression with model selection."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

from companion import chapters
from companion import data
from companion.chapters import experiments as E

ROOT = Path(__file__).resolve().parents[2]


def _data_available() -> bool:
    try:
        for name in ("mnist", "cifar10", "cifar100"):
            data.load(name, download=False, progress=False)
    except data.DataNotFoundError:
        return False
    return True


@pytest.fixture(scope="module")
def smoke():
    """The chapter's grid at smoke scale (the same call as the chapter), run once for this module."""
    if not _data_available():
        pytest.skip("MNIST / CIFAR not available offline (shared/data) or in the cache")
    P = chapters.params("06_experiments", "smoke")
    return E.run(P, log=lambda *a: None)


@pytest.fixture(scope="module")
def mechanism(smoke):
    """The onset study and the nugget-as-ridge measurement at smoke scale (as in the chapter)."""
    on = E.onset(smoke["params"], log=lambda *a: None)
    return on, E.measure(smoke["params"], on["ridge_inputs"])


# ---------------------------------------------------------------------------------------------------
# claims: the same function as the chapter
def test_claims_pass_at_smoke_scale_and_every_counterfactual_fails(smoke, mechanism):
    on, mech = mechanism
    checked = E.claims(smoke, mech, on)
    failed = [f"{c.id}: measured {c.measured:.4g}, target {c.target}" for c in checked if not c.passed]
    assert not failed, "claims that failed at smoke scale:\n" + "\n".join(failed)
    weak = [f"{c.id}: counterfactual {c.counterfactual_measured:.4g}" for c in checked if c.counterfactual_passed is not False]
    assert not weak, "claims whose counterfactual does not fail:\n" + "\n".join(weak)
    ids = {c.id for c in checked}
    assert {"06-ffnet-r2-two-balanced", "06-ffnet-r2-two-uniform", "06-resnet-r2-two-balanced",
            "06-constant-alpha-r2-two-uniform", "06-uniform-accuracy-collapses", "06-balanced-kernel-sum",
            "06-nugget-ridge", "06-nngp-collapse", "06-onset-l-over-n"} <= ids
    assert E.scaling_exponent(on) > 0  # the collapse depth grows with n (a reported measurement)


def test_claims_detect_a_resnet_that_degenerates(smoke):
    """The checks can fail: relabel the FFNet rows as the gamma = 1 ResNet and its R^2 check must fail."""
    rows = [dict(r) for r in smoke["rows"] if r["arch"] == "ffnet"]
    fake = [dict(r, arch="resnet", gamma=1.0, label="ResNet gamma=1") for r in rows]
    checked = {c.id: c for c in E.grid_claims({**smoke, "rows": rows + fake})}
    assert not checked["06-resnet-r2-two-balanced"].passed
    assert checked["06-ffnet-r2-two-balanced"].passed


def test_effective_ridge_matches_three_quarters_L(mechanism):
    """eq-06-nugget-ridge: Lambda_L / (3/4 L) -> 1 for the FFNet, and the decomposition fits (tiny residual)."""
    _, mech = mechanism
    ff = {r["depth"]: r for r in mech["ridge"] if r["kind"] == "ffnet"}
    assert abs(ff[1000]["ratio"] - 1) < 0.01 and ff[1000]["residual"] < 1e-3
    assert ff[1000]["scale"] * 1000 == pytest.approx(1.0, abs=0.01)  # informative part ~ H / L
    res = {r["depth"]: r for r in mech["ridge"] if r["kind"] == "resnet"}
    assert res[1000]["ratio"] < 0.01  # alpha = 1/L: no growing ridge
    ng = {r["depth"]: r for r in mech["nngp"] if r["kernel"] == "nngp"}
    assert ng[10000]["gap_l2"] == pytest.approx(E.NNGP_COEFF, rel=0.05)


# ---------------------------------------------------------------------------------------------------
# the test set never chooses: the reported score is the one at the validation choice
def _leaky_data():
    """A kernel and targets where the value chosen on validation is not the best on the test set."""
    rng = np.random.default_rng(5)
    n, m = 40, 60
    x = rng.standard_normal((n + m, 6))
    y = np.sign(x[:, 0] + 0.8 * rng.standard_normal(n + m))
    K = np.exp(-0.5 * ((x[:, None, :] - x[None, :n, :]) ** 2).sum(-1) / 6.0)
    return K, y[:n], y[n:]


def test_reported_scores_are_at_the_validation_choice_not_the_test_optimum():
    from companion.learning import selection as S

    K, ytr, yte = _leaky_data()
    n = len(ytr)
    rows = E.score_kernel(K, ytr, yte, ["ridge", "flow"], val_fraction=0.2, seed=0)
    reports = S.report(0.5 * (K[:n] + K[:n].T), ytr, K[n:], yte, {"ridge": E.RIDGES, "flow": E.TIMES},
                       center=(False, True), val_fraction=0.2, seed=0)
    differs = 0
    for row, rep in zip(rows, reports):
        assert row["regularization"] == rep.values[rep.index] == rep.value
        assert row["test_accuracy"] == rep.test_accuracy[rep.index]
        assert row["test_mse"] == rep.test_mse[rep.index]
        # the choice is made on the validation split alone: recomputing it from validation scores agrees
        sel = S.select(0.5 * (K[:n] + K[:n].T), ytr, rep.method, rep.values, val_fraction=0.2, seed=0)
        if not rep.centered:
            assert sel.index == rep.index
        differs += row["test_accuracy"] != row["oracle_test_accuracy"] or row["test_mse"] != row["oracle_test_mse"]
    assert differs, "the data must separate the validation choice from the test optimum for this test to bite"


def test_a_mutant_reporting_the_test_optimum_is_caught(monkeypatch):
    """Counterfactual of the test above: a score_kernel that reports the oracle fails the same check."""
    from companion.learning import selection as S

    K, ytr, yte = _leaky_data()
    real = S.report

    def leaky(*a, **k):
        out = real(*a, **k)
        import dataclasses

        return [dataclasses.replace(r, index=int(np.argmin(r.test_mse)), value=float(r.values[np.argmin(r.test_mse)]),
                                    selected_test_mse=float(np.min(r.test_mse)),
                                    selected_test_accuracy=float(r.test_accuracy[np.argmin(r.test_mse)])) for r in out]

    monkeypatch.setattr(S, "report", leaky)
    rows = E.score_kernel(K, ytr, yte, ["ridge"], val_fraction=0.2, seed=0)
    n = len(ytr)
    sel = S.select(0.5 * (K[:n] + K[:n].T), ytr, "ridge", E.RIDGES, val_fraction=0.2, seed=0)
    assert rows[0]["regularization"] != E.RIDGES[sel.index]


# ---------------------------------------------------------------------------------------------------
# result rows and CSV
def test_rows_have_the_columns_sizes_and_both_designs(smoke):
    P = smoke["params"]
    rows = smoke["rows"]
    n_kernels = len(P["depths"]) * (1 + len(P["gammas"]))
    per = len(P["regression_methods"]) * len(E.TARGETS) * len(E.SAMPLINGS)
    assert len(rows) == len(E.tasks(P)) * P["seeds"] * n_kernels * per
    grids = {"ridge": set(E.RIDGES), "flow": set(E.TIMES)}
    for r in rows:
        assert set(r) == set(E.COLUMNS)
        assert r["sampling"] in E.SAMPLINGS and r["targets"] in E.TARGETS and r["task"] == "two"
        if r["sampling"] == "balanced":
            assert r["n_train"] % 2 == 0 and r["train_mean"] == 0.0 and r["trivial_accuracy"] == 0.5
        else:
            assert r["n_train"] % 2 == 1 and r["train_mean"] != 0.0  # odd: the training mean is never 0
        assert r["regularization"] in grids[r["method"]] and r["oracle_regularization"] in grids[r["method"]]
        assert 0.0 <= r["test_accuracy"] <= 1.0 and r["test_mse"] >= 0.0 and 0.0 <= r["sign_agreement"] <= 1.0
        assert r["r2"] == pytest.approx(1.0 - r["test_mse"] / r["trivial_mse"])
        assert r["data_source"] and len(r["data_sha256"]) == 64
        assert (r["trained"], math.isnan(r["gamma"])) == (("all", True) if r["arch"] == "ffnet" else ("hidden", False))
        if r["arch"] == "resnet":
            assert r["alpha"] == pytest.approx(r["depth"] ** -r["gamma"])
        assert r["n_fit"] + r["n_val"] == r["n_train"]
    by = {(r["dataset"], r["sampling"]) for r in rows}
    assert by == {(d, s) for d in P["datasets"] for s in E.SAMPLINGS}


def test_csv_is_written_atomically_and_reads_back(smoke, tmp_path):
    path = E.write_results(smoke, tmp_path)
    assert path == tmp_path / "experiments.csv"
    with open(path, newline="") as f:
        header = next(csv.reader(f))
    assert tuple(header) == E.COLUMNS
    back = E.read_csv(path)
    assert len(back) == len(smoke["rows"])
    for a, b in zip(back, smoke["rows"]):
        for k in E.COLUMNS:
            if isinstance(b[k], float) and math.isnan(b[k]):
                assert math.isnan(a[k])
            elif isinstance(b[k], float):
                assert a[k] == pytest.approx(b[k], rel=1e-9)
            else:
                assert a[k] == b[k]
    side = json.loads((tmp_path / "experiments.json").read_text())
    assert side["parameters"]["depths"] == smoke["params"]["depths"] and side["rows"] == len(back)
    assert "inf" in side["grids (normalised kernel)"]["flow"]
    assert not list(tmp_path.glob("*.tmp*"))  # no temporary files left behind


def test_default_output_folder(smoke, tmp_path, monkeypatch):
    monkeypatch.setenv("COMPANION_OUTPUT", str(tmp_path))
    assert E.write_results(smoke) == tmp_path / "results" / "experiments.csv"


def test_read_csv_rejects_a_wrong_header(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("dataset,accuracy\nmnist,0.9\n")
    with pytest.raises(ValueError, match="header is exactly"):
        E.read_csv(bad)


def test_summary_and_tables(smoke):
    s = E.summarize(smoke["rows"])
    assert len(s) == len(smoke["rows"]) // smoke["params"]["seeds"]
    md = E.pivot_markdown(s, "ridge", "r2")
    assert "L=10,000" in md and "FFNet" in md and "±" in md and "balanced" in md and "uniform" in md
    assert "trivial" in E.pivot_markdown(s, "ridge", "test_accuracy")
    design = E.design_markdown(s, 10000)
    assert design.count("\n") == 1 + 2 * len(smoke["params"]["datasets"]) and "kernel sum" in design
    assert E.regularization_markdown(s, "ridge", "two").count("\n") >= 3
    assert E.interpolation_markdown(s, 10000, "flow").count("γ=1") == len(smoke["params"]["datasets"])
    assert "balanced" in E.table_note(smoke)
    text, digest = E.provenance(smoke)
    assert "MNIST 3 vs 5" in text and len(digest) == 64
    with pytest.raises(ValueError, match="metric='accuracy' is invalid"):
        E.pivot_markdown(s, "ridge", "accuracy")


def test_figures_have_at_most_six_series_per_panel_and_legible_text(smoke, mechanism):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from companion.publish.figures import MAX_SERIES, MIN_FONT_PT, STYLE, legibility

    on, mech = mechanism
    with plt.style.context(STYLE):  # the book's style, without changing the other tests' defaults
        figs = [E.plot_r2(smoke), E.plot_accuracy(smoke), E.plot_mechanism(mech), E.plot_onset(on)]
        printed = [legibility(fig) for fig in figs]  # at the size each prints in the text column
    for fig, pr in zip(figs, printed):
        assert pr["scale"] == 1.0 and pr["min_font_pt"] >= MIN_FONT_PT, pr
        assert pr["max_series"] <= MAX_SERIES, pr
        for ax in fig.axes:
            if not ax.get_visible():
                continue
            assert len(ax.get_lines()) <= 6 + 12  # <= 6 data series (+ error-bar caps and reference lines)
            labels = [t for t in ax.get_legend_handles_labels()[1] if "training" not in t and "prediction" not in t]
            assert len(labels) <= 6
            for t in ax.get_xticklabels() + ax.get_yticklabels() + [ax.xaxis.label, ax.yaxis.label, ax.title]:
                if t.get_text():
                    assert t.get_fontsize() >= 8
        for leg in fig.legends:
            assert all(t.get_fontsize() >= 8 for t in leg.get_texts())
        plt.close(fig)


# ---------------------------------------------------------------------------------------------------
# the join with numbers typed in from the papers
def test_paper_file_is_header_only():
    path = ROOT / "results" / "paper_reported.csv"
    assert path.is_file() and E.paper_reported_path() == path
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows == [list(E.PAPER_COLUMNS)]
    assert E.read_paper(path) == []


def test_paper_join_with_a_made_up_row(smoke, tmp_path):
    path = tmp_path / "paper_reported.csv"
    made_up = {"dataset": "mnist", "task": "two", "classes": "3,5", "sampling": "balanced", "targets": "raw",
               "arch": "ffnet", "depth": 1, "method": "ridge", "test_accuracy": 0.5, "paper": "MADE-UP TEST ROW", "table_or_figure": "Table 0", "page": 1}
    no_match = {"dataset": "mnist", "task": "two", "arch": "ffnet", "depth": 123456, "test_mse": 0.25,
                "paper": "MADE-UP TEST ROW", "table_or_figure": "Fig. 0", "page": 2}
    path.write_text(E.to_csv([made_up, no_match], E.PAPER_COLUMNS))
    paper = E.read_paper(path)
    assert len(paper) == 2 and paper[0]["depth"] == 1 and math.isnan(paper[0]["gamma"])
    joined = E.compare_with_paper(smoke["rows"], paper)
    assert len(joined) == 2
    j = joined[0]
    measured = [r["test_accuracy"] for r in smoke["rows"] if r["dataset"] == "mnist" and r["arch"] == "ffnet"
                and r["depth"] == 1 and r["method"] == "ridge" and r["sampling"] == "balanced" and r["targets"] == "raw"]
    assert j["matched"] == len(measured) == smoke["params"]["seeds"]
    assert j["measured_mean"] == pytest.approx(np.mean(measured))
    assert j["difference"] == pytest.approx(np.mean(measured) - 0.5)
    assert j["metric"] == "test_accuracy" and j["paper_value"] == 0.5 and j["page"] == "1"
    assert joined[1]["matched"] == 0 and math.isnan(joined[1]["difference"]) and joined[1]["metric"] == "test_mse"
    md = E.paper_markdown(joined)
    assert "MADE-UP TEST ROW" in md and "Table 0 p. 1" in md and md.count("\n") == 3


# ---------------------------------------------------------------------------------------------------
# argument validation: before any data is loaded
@pytest.fixture
def no_loading(monkeypatch):
    def boom(*a, **k):
        raise AssertionError("data was loaded before the arguments were checked")

    monkeypatch.setattr(data, "load", boom)
    monkeypatch.setattr(data, "prepare", boom)


@pytest.mark.parametrize("override, message", [
    ({"datasets": ["svhn"]}, r"datasets\[0\]='svhn' is invalid"),
    ({"depths": [1, -3]}, r"depths\[1\]=-3 is invalid"),
    ({"depths": [0, 10]}, r"depths\[0\]=0 is invalid; allowed: an integer >= 1"),
    ({"gammas": [0.5, -1.0]}, r"gammas\[1\]=-1.0 is invalid"),
    ({"n_train": 2}, r"n_train=2 is invalid"),
    ({"regression_methods": ["lasso"]}, r"regression_methods\[0\]='lasso' is invalid"),
    ({"class_sets": ["three"]}, r"class_sets\[0\]='three' is invalid"),
    ({"pairs": {"mnist": [3, 3]}}, r"pairs\['mnist'\]=\[3, 3\] is invalid"),
    ({"pairs": {"cifar10": [4, 7]}}, r"pairs=.* \(missing \['mnist'"),
    ({"val_fraction": 0.9}, r"val_fraction=0.9 is invalid"),
    ({"onset_ns": [2]}, r"onset_ns\[0\]=2 is invalid"),
])
def test_run_rejects_bad_arguments_before_loading(no_loading, override, message):
    P = {**chapters.CHAPTERS["06_experiments"]["smoke"], **override}
    with pytest.raises(ValueError, match=message):
        E.run(P, log=lambda *a: None)


def test_default_pairs_are_the_registry_pairs():
    from companion.data.registry import DEFAULT_PAIRS

    for scale in chapters.SCALES:
        assert {k: tuple(v) for k, v in chapters.params("06_experiments", scale)["pairs"].items()} == DEFAULT_PAIRS


def test_chapter_parameters_reject_bad_values():
    with pytest.raises(ValueError, match=r"datasets\[0\]='svhn' is invalid"):
        chapters.params("06_experiments", "smoke", {"datasets": ["svhn"]})
    with pytest.raises(ValueError, match=r"depths\[0\]=-1 is invalid"):
        chapters.params("06_experiments", "smoke", {"depths": [-1]})
    with pytest.raises(ValueError, match=r"pairs\['cifar100'\]\[1\]=100 is invalid"):
        chapters.params("06_experiments", "smoke", {"pairs": {"cifar100": [0, 100]}})
    with pytest.raises(ValueError, match="missing 'seeds'"):
        E.validate({k: v for k, v in chapters.CHAPTERS["06_experiments"]["smoke"].items() if k != "seeds"})


# ---------------------------------------------------------------------------------------------------
# pieces
def test_sizes_are_balanced_multiples_and_capped():
    two, all_ = E.Task("cifar100", "two", (0, 53)), E.Task("mnist", "all", None)
    assert E.sizes(two, 500, 500, [54, 54], [100, 100]) == (86, 200)  # 80 % of each class: 43 + 43
    assert E.sizes(two, 41, 11, [500, 500], [500, 500]) == (40, 10)  # multiples of the class count
    assert E.sizes(all_, 505, 500, [6000] * 10, [1000] * 10) == (500, 500)
    with pytest.raises(ValueError, match="n_train=500 is invalid"):
        E.sizes(two, 500, 500, [1, 54], [100, 100])
    assert E.Task("cifar10", "two", (4, 7)).title() == "CIFAR-10 deer vs horse"


def test_normalized_ntk_routes_agree():
    from companion import kernels

    rng = np.random.default_rng(0)
    x = rng.standard_normal((7, 5))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    k, route = E.normalized_ntk(x, x[:4], "resnet", 50, 1.0)
    assert route == "scaled"
    rho = np.clip(x @ x[:4].T, -1, 1)
    ref = np.asarray(kernels.resnet_normalized(rho, 50, 1.0, "hidden", method="recursion").ntk)
    np.testing.assert_allclose(k, ref, atol=1e-10)
    big, route = E.normalized_ntk(x, x[:4], "resnet", 3000, 1.0)  # (1 + 1)^3000 overflows: direct route
    assert route == "normalized"
    np.testing.assert_allclose(np.diag(big[:4]), 1.0, atol=1e-12)
    assert np.all(np.abs(big[4:] - 0.25) < 0.02)  # constant alpha at depth 3000: close to the 1/4 limit
    ff, route = E.normalized_ntk(x, x, "ffnet", 10)
    np.testing.assert_allclose(ff, np.asarray(kernels.ffnet_kernels(x, x, depth=10).ntk) / 11, atol=1e-12)
    with pytest.raises(ValueError, match="depth=0"):
        E.normalized_ntk(x, x, "ffnet", 0)


def test_score_kernel_handles_both_fits_and_one_hot():
    rng = np.random.default_rng(1)
    n, m = 60, 40
    x = rng.standard_normal((n + m, 3))
    y = np.sign(x[:, 0])
    K = x @ x[:n].T + 1.0  # a linear kernel with a constant: the sign of x_0 is learnable
    out = E.score_kernel(K, y[:n], y[n:], ["ridge", "flow"], val_fraction=0.2, seed=0)
    assert [(o["method"], o["targets"]) for o in out] == [("ridge", "raw"), ("ridge", "centred"), ("flow", "raw"),
                                                          ("flow", "centred")]
    for o in out:
        assert o["test_accuracy"] >= 0.9 and o["n_fit"] + o["n_val"] == n and o["kernel_sum_accuracy"] >= 0.9
    onehot = np.eye(3)[np.digitize(x[:, 0], [-0.5, 0.5])]
    res = E.score_kernel(K, onehot[:n], onehot[n:], ["ridge"], val_fraction=0.2, seed=0)[0]
    assert 0.0 <= res["test_accuracy"] <= 1.0 and math.isfinite(res["interpolant_test_mse"])
    with pytest.raises(ValueError, match="K="):
        E.score_kernel(K[:n], y[:n], y[n:], ["ridge"], val_fraction=0.2, seed=0)


def test_score_kernel_on_an_accelerator_path_matches(monkeypatch):
    """The GPU path (JAX arrays into the library's model selection) gives the NumPy path's choices and scores."""
    from companion.chapters.experiments import grid as R

    rng = np.random.default_rng(2)
    x = rng.standard_normal((50, 4))
    y = np.where(x[:, 1] > 0, 1.0, -1.0)
    K = np.exp(-0.5 * ((x[:, None, :] - x[None, :30, :]) ** 2).sum(-1))
    cpu = E.score_kernel(K, y[:30], y[30:], ["ridge", "flow"], val_fraction=0.2, seed=3)
    monkeypatch.setattr(R, "_on_accelerator", lambda: True)
    dev = E.score_kernel(K, y[:30], y[30:], ["ridge", "flow"], val_fraction=0.2, seed=3)
    for a, b in zip(cpu, dev):
        assert a["regularization"] == b["regularization"]
        assert a["test_mse"] == pytest.approx(b["test_mse"], rel=1e-8)
        assert a["test_accuracy"] == b["test_accuracy"]


def test_kernel_sum_and_agreement():
    K = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.2]])
    y = np.array([1.0, -1.0, 1.0])
    np.testing.assert_allclose(E.kernel_sum(K, y), K @ (y - 1 / 3))
    assert E.agreement(np.array([1.0, -2.0]), np.array([3.0, 1.0])) == 0.5


def test_half_depth_interpolates_and_reports_never():
    rows = [{"kernel": "ntk", "n": 10, "depth": d, "r2": r} for d, r in ((1, 0.8), (10, 0.6), (100, 0.2))]
    assert 10 < E.half_depth(rows, 10) < 100
    assert E.half_depth([dict(r, r2=0.8) for r in rows], 10) == math.inf
    with pytest.raises(ValueError, match="n=3 is invalid"):
        E.half_depth(rows, 3)


def test_architectures_fail_with_clear_messages():
    assert E.architectures(4, [0.5])[1]["alpha"] == 0.5
    with pytest.raises(ValueError, match=r"depth=0 is invalid; allowed: an integer >= 1"):
        E.architectures(0, [1.0])
    with pytest.raises(ValueError, match=r"gammas\[1\]=nan is invalid"):
        E.architectures(10, [1.0, math.nan])
