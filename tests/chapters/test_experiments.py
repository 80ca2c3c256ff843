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


# ---------------------------------------------------------------------------------------------------
# claims: the same function as the chapter
def test_claims_pass_at_smoke_scale(smoke):
    checked = E.claims(smoke)
    failed = [f"{c.id}: measured {c.measured:.4g}, target {c.target}" for c in checked if not c.passed]
    assert not failed, "claims that failed at smoke scale:\n" + "\n".join(failed)
    ids = {c.id for c in checked}
    assert {"06-ffnet-collapses-two-ridge", "06-resnet-holds-two-ridge", "06-constant-alpha-collapses-two-flow",
            "06-ffnet-r2-two", "06-balanced-kernel-sum"} <= ids


def test_claims_detect_a_resnet_that_degenerates(smoke):
    """The checks can fail: relabel the FFNet rows as the gamma = 1 ResNet and the hold check must fail."""
    rows = [dict(r) for r in smoke["rows"] if r["arch"] == "ffnet"]
    fake = [dict(r, arch="resnet", gamma=1.0, label="ResNet gamma=1") for r in rows]
    ref = {"n_train": 400.0, "n_test": 400.0, "depth": 1e4, "r2": 0.0, "sign_agreement": 1.0, "accuracy": 0.9}
    checked = {c.id: c for c in E.claims({**smoke, "rows": rows + fake}, reference=ref)}
    assert not checked["06-resnet-holds-two-ridge"].passed
    assert checked["06-ffnet-collapses-two-ridge"].passed


# ---------------------------------------------------------------------------------------------------
# result rows and CSV
def test_rows_have_the_columns_and_sizes(smoke):
    P = smoke["params"]
    rows = smoke["rows"]
    n_kernels = len(P["depths"]) * (1 + len(P["gammas"]))
    assert len(rows) == len(E.tasks(P)) * P["seeds"] * n_kernels * len(P["regression_methods"])
    required = {"dataset", "classes", "arch", "depth", "alpha", "gamma", "trained", "n_train", "n_test", "method",
                "regularization", "test_accuracy", "test_mse", "data_source", "seed"}
    assert required <= set(E.COLUMNS)
    grids = {"ridge": set(E.RIDGES), "flow": set(E.TIMES)}
    for r in rows:
        assert set(r) == set(E.COLUMNS)
        assert r["n_train"] % 2 == 1 and r["task"] == "two"  # odd for two classes
        assert r["regularization"] in grids[r["method"]]
        assert 0.0 <= r["test_accuracy"] <= 1.0 and r["test_mse"] >= 0.0
        assert r["data_source"] and len(r["data_sha256"]) == 64
        assert (r["trained"], math.isnan(r["gamma"])) == (("all", True) if r["arch"] == "ffnet" else ("hidden", False))
        if r["arch"] == "resnet":
            assert r["alpha"] == pytest.approx(r["depth"] ** -r["gamma"])
        assert r["n_fit"] + r["n_val"] == r["n_train"]


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
    md = E.pivot_markdown(s, "ridge")
    assert "L=10,000" in md and "FFNet" in md and "±" in md and " / " in md
    assert E.regularization_markdown(s, "ridge", "two").count("\n") >= 3
    assert "offline" in E.table_note(smoke) or "official" in E.table_note(smoke)
    text, digest = E.provenance(smoke)
    assert "MNIST 3 vs 5" in text and len(digest) == 64


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
    made_up = {"dataset": "mnist", "task": "two", "classes": "3,5", "arch": "ffnet", "depth": 1, "method": "ridge",
               "test_accuracy": 0.5, "paper": "MADE-UP TEST ROW", "table_or_figure": "Table 0", "page": 1}
    no_match = {"dataset": "mnist", "task": "two", "arch": "ffnet", "depth": 123456, "test_mse": 0.25,
                "paper": "MADE-UP TEST ROW", "table_or_figure": "Fig. 0", "page": 2}
    path.write_text(E.to_csv([made_up, no_match], E.PAPER_COLUMNS))
    paper = E.read_paper(path)
    assert len(paper) == 2 and paper[0]["depth"] == 1 and math.isnan(paper[0]["gamma"])
    joined = E.compare_with_paper(smoke["rows"], paper)
    assert len(joined) == 2
    j = joined[0]
    measured = [r["test_accuracy"] for r in smoke["rows"] if r["dataset"] == "mnist" and r["arch"] == "ffnet"
                and r["depth"] == 1 and r["method"] == "ridge"]
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
])
def test_run_rejects_bad_arguments_before_loading(no_loading, override, message):
    P = {**chapters.CHAPTERS["06_experiments"]["smoke"], **override}
    with pytest.raises(ValueError, match=message):
        E.run(P, log=lambda *a: None)


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
def test_sizes_are_odd_for_two_classes_and_capped():
    two, all_ = E.Task("cifar100", "two", (0, 53)), E.Task("mnist", "all", None)
    assert E.sizes(two, 500, 500, 108, 200) == (85, 200)  # 80 % of 108 = 86, made odd
    assert E.sizes(two, 40, 10, 108, 200) == (39, 10)
    assert E.sizes(all_, 500, 500, 60000, 10000) == (500, 500)
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


def test_fit_and_score_selects_on_validation_and_handles_one_hot():
    rng = np.random.default_rng(1)
    n, m = 60, 40
    x = rng.standard_normal((n + m, 3))
    y = np.sign(x[:, 0])
    K = (x @ x[:n].T + 1.0)  # a linear kernel with a constant: the sign of x_0 is learnable
    out = E.fit_and_score(K, y[:n], y[n:], ["ridge", "flow"], seed=0)
    assert [o["method"] for o in out] == ["ridge", "flow"]
    for o in out:
        assert o["test_accuracy"] >= 0.9 and o["n_fit"] + o["n_val"] == n
    assert out[0]["regularization"] in E.RIDGES and out[1]["regularization"] in E.TIMES
    onehot = np.eye(3)[np.digitize(x[:, 0], [-0.5, 0.5])]
    res = E.fit_and_score(K, onehot[:n], onehot[n:], ["ridge"], seed=0)[0]
    assert 0.0 <= res["test_accuracy"] <= 1.0 and math.isfinite(res["interpolant_test_mse"])
    with pytest.raises(ValueError, match="K="):
        E.fit_and_score(K[:n], y[:n], y[n:], ["ridge"])


def test_fit_and_score_on_an_accelerator_path_matches(monkeypatch):
    """The GPU path (JAX arrays into companion.learning.regression) gives the NumPy path's choices and scores."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((50, 4))
    y = np.where(x[:, 1] > 0, 1.0, -1.0)
    K = np.exp(-0.5 * ((x[:, None, :] - x[None, :30, :]) ** 2).sum(-1))
    cpu = E.fit_and_score(K, y[:30], y[30:], ["ridge", "flow"], seed=3)
    monkeypatch.setattr(E, "_on_accelerator", lambda: True)
    dev = E.fit_and_score(K, y[:30], y[30:], ["ridge", "flow"], seed=3)
    for a, b in zip(cpu, dev):
        assert a["regularization"] == b["regularization"]
        assert a["test_mse"] == pytest.approx(b["test_mse"], rel=1e-8)
        assert a["test_accuracy"] == b["test_accuracy"]


def test_trivial_predictor():
    acc, mse = E.trivial(np.array([1.0, 1.0, -1.0]), np.array([1.0, -1.0, -1.0, -1.0]))
    assert acc == 0.25 and mse == pytest.approx(np.mean((1 / 3 - np.array([1, -1, -1, -1])) ** 2))
    acc, _ = E.trivial(np.eye(3)[[0, 1, 1]], np.eye(3)[[1, 2]])
    assert acc == 0.5


def test_blas_threads_sets_and_restores():
    import ctypes

    np.linalg.eigh(np.eye(3))  # make sure NumPy's BLAS is loaded
    libs = E._openblas_libraries()
    if not libs:
        pytest.skip("no OpenBLAS loaded (another BLAS): blas_threads does nothing")
    lib = libs[0]
    get = next(getattr(lib, g) for g in E._GET if hasattr(lib, g))
    get.restype = ctypes.c_int
    before = get()
    with E.blas_threads(1):
        assert get() == 1
    assert get() == before
    with pytest.raises(ValueError, match="n=0"):
        E.blas_threads(0)


def test_unknown_method_and_bad_architectures_fail_with_clear_messages():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((20, 3))
    y = np.sign(x[:, 0])
    K = x @ x[:12].T + 1.0
    with pytest.raises(ValueError, match=r"methods\[1\]='lasso' is invalid; allowed: one of 'ridge', 'flow'"):
        E.fit_and_score(K, y[:12], y[12:], ["ridge", "lasso"])
    with pytest.raises(ValueError, match=r"methods\[0\]='flow' is invalid; allowed: one of 'ridge'"):
        E.fit_and_score(K, y[:12], y[12:], ["flow"], grids={"ridge": [0.0, 1.0]})
    assert E.architectures(4, [0.5])[1]["alpha"] == 0.5
    with pytest.raises(ValueError, match=r"depth=0 is invalid; allowed: an integer >= 1"):
        E.architectures(0, [1.0])
    with pytest.raises(ValueError, match=r"gammas\[1\]=nan is invalid"):
        E.architectures(10, [1.0, math.nan])
