"""Chapter 5's experiment functions: data, point functions, width-needed fits, the whole pipeline at a tiny scale."""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pytest

from companion import chapters
from companion.networks import models
from companion.chapters import finite_width as fw
from companion.chapters import common
from companion.networks import width
from companion.networks.training import train
from companion.learning.fits import PowerLawFit

matplotlib.use("Agg")


def test_sphere_data():
    a = width.sphere_data(10, 5, 3, 4)
    b = width.sphere_data(10, 5, 3, 4)
    assert a["x"].shape == (10, 5) and a["x_test"].shape == (4, 5)
    assert np.allclose(np.linalg.norm(np.vstack([a["x"], a["x_test"]]), axis=1), 1.0)
    assert set(np.unique(a["y"])) <= {-1.0, 1.0} and np.array_equal(a["y"], np.sign(a["x"][:, 0]))
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(width.sphere_data(10, 5, 4, 4)["x"], a["x"])
    with pytest.raises(ValueError, match="d"):
        width.sphere_data(10, 1, 0)


def test_network_cache_and_arguments():
    assert width.network("resnet", 2, 8, "relu", 0.5) is width.network("resnet", 2, 8, "relu", 0.5)
    assert math.isclose(width.network("resnet", 4, 8, "relu", 0.5).alpha, 0.5)
    assert width.network("ffnet", 2, 8, "gelu").trained == ("W_in", "W", "v")
    with pytest.raises(ValueError, match="gamma"):
        width.network("ffnet", 2, 8, "relu", 0.5)
    with pytest.raises(ValueError, match="arch"):
        width.network("cnn", 2, 8)


POINT = {"arch": "resnet", "activation": "relu", "gamma": 0.5, "depth": 2, "width": 32, "n": 6, "d": 5,
         "n_test": 4, "seed": 1, "max_steps": 500, "tol": 1e-3, "lr_factor": 1.0}


def test_change_point_matches_training():
    out = width.change_point(POINT)
    net = width.network("resnet", 2, 32, "relu", 0.5)
    data = width.sphere_data(6, 5, 1, 4)
    import jax

    r = train(net, net.init(jax.random.PRNGKey(1), 5), data["x"], data["y"], x_test=data["x_test"],
              y_test=data["y_test"], steps=500, tol=1e-3)
    assert out["converged"] and out["steps"] == r.steps
    assert math.isclose(out["rel_change"], r.rel_change, rel_tol=1e-12)
    assert math.isclose(out["gap_test"], r.prediction_gap("test"), rel_tol=1e-12)
    lam = np.linalg.eigvalsh(r.theta0)
    assert math.isclose(out["op_change_over_lmin"], np.linalg.norm(r.thetaT - r.theta0, 2) / lam[0], rel_tol=1e-9)
    assert out["curve_step"][0] == 0 and out["curve_step"][-1] == r.steps
    assert np.allclose(out["curve_loss"], r.loss[out["curve_step"]])


def test_init_point_error_shrinks():
    errs = [width.init_point({"arch": "ffnet", "gamma": None, "depth": 2, "width": m, "n": 5, "d": 4, "seed": 0})["rel_error"]
            for m in (16, 1024)]
    assert errs[1] < 0.5 * errs[0] and errs[1] < 0.2, errs


def test_width_needed_recovers_exponent():
    """change = c n^a m^-e with noise: m*(n) = (c n^a / t)^(1/e), so m* ~ n^(a/e)."""
    rng = np.random.default_rng(0)
    widths = np.array([32.0, 64, 128, 256, 512])
    a, e, c, t = 1.0, 0.8, 0.5, 0.05
    values = {n: c * n**a * widths**-e * np.exp(0.05 * rng.standard_normal((5, widths.size))) for n in (8, 16, 32, 64)}
    wn = fw.width_needed(widths, values, t, n_boot=400)
    assert abs(wn["exponent"] - a / e) < 0.1
    assert wn["low"] <= a / e <= wn["high"] and wn["high"] - wn["low"] < 0.3
    truth = (c * np.array([8, 16, 32, 64]) ** a / t) ** (1 / e)
    assert np.allclose(wn["m_star"], truth, rtol=0.15)
    assert list(wn["extrapolated"]) == list((truth < 32) | (truth > 512))
    with pytest.raises(ValueError, match="values_by_n"):
        fw.width_needed(widths, {8: values[8]}, t)


def test_table_and_width_fits():
    recs = [{"arch": "ffnet", "activation": "relu", "gamma": None, "n": 4, "width": w, "seed": s,
             "rel_change": 3.0 * w**-0.5 * (1 + 0.01 * s)} for w in (16, 64, 256) for s in range(3)]
    recs.append({"arch": "ffnet", "activation": "relu", "gamma": None, "n": 8, "width": 16, "seed": 0, "rel_change": 1.0})
    tab = common.table(recs, "rel_change")
    w, v = tab[("ffnet", "relu", None, 4)]
    assert list(w) == [16, 64, 256] and v.shape == (3, 3)
    fits = common.width_fits(recs[:-1], "rel_change")
    assert math.isclose(fits[("ffnet", "relu", None, 4)].slope, -0.5, abs_tol=1e-9)


def test_params_validate():
    for scale in chapters.SCALES:
        chapters.params("05_finite_width", scale)
    with pytest.raises(ValueError, match="activations"):
        chapters.params("05_finite_width", "smoke", {"activations": ["relu", "sigmoid"]})
    assert chapters.ACTIVATIONS == tuple(models.ACTIVATIONS)


def _assert_legible(*figs):
    """Each figure prints 1:1 in the text column with letters >= 8 pt and <= 6 labelled series per panel."""
    from companion.publish.figures import MAX_SERIES, MIN_FONT_PT, legibility

    for fig in figs:
        printed = legibility(fig)
        assert fig.axes and printed["scale"] == 1.0 and printed["min_font_pt"] >= MIN_FONT_PT, printed
        assert printed["max_series"] <= MAX_SERIES, printed
        matplotlib.pyplot.close(fig)


def _fake_runs(activations, gammas, widths, seeds=2, n=8):
    """Training records with the fields the per-activation figures read (values fall like 1/m)."""
    runs = []
    for act in activations:
        for arch, g in [("ffnet", None)] + [("resnet", g) for g in gammas]:
            for m in widths:
                for s in range(seeds):
                    v = (1 + s) / m
                    runs.append({"arch": arch, "activation": act, "gamma": g, "width": m, "n": n, "seed": s,
                                 "rel_change": v, "gap_test": v, "curve_step": [0, 1, 2],
                                 "curve_loss": [1.0, 0.1, v], "curve_loss_lin": [1.0, 0.1, v / 2]})
    return runs


def test_figures_at_the_largest_scale_stay_legible():
    """The paper scale's three activations, three gammas and eight widths: an odd panel is hidden (the one
    above it keeps its tick labels), every panel draws at most 1 + len(gammas) series, letters stay >= 8 pt."""
    from companion.publish.figures import STYLE

    widths = [64, 128, 256, 512, 1024, 2048, 4096, 8192]
    P = {**chapters.params("05_finite_width", "paper"), "n": 8}
    res = {"params": P, "change": _fake_runs(P["activations"], P["gammas"], widths)}
    with matplotlib.pyplot.style.context(STYLE):
        change = fw.plot_change(res, {})
        visible = [ax for ax in change.axes if ax.get_visible()]
        assert len(visible) == len(P["activations"]) == 3 and len(change.axes) == 4
        assert [ax.get_title()[:3] for ax in visible] == ["(a)", "(b)", "(c)"]
        assert all(len(ax.get_lines()) == 1 + len(P["gammas"]) for ax in visible)
        above_hidden = visible[1]  # (b): nothing below it, so its x tick labels are shown
        assert any(t.get_visible() for t in above_hidden.get_xticklabels())
        loss = fw.plot_loss_curves(res)
        assert len([ax for ax in loss.axes if ax.get_visible()]) == len(widths)
        _assert_legible(change, loss, fw.plot_gap(res, {"gap_metric": "gap_test"}))
    with pytest.raises(ValueError, match="cfg="):
        fw.plot_loss_curves(res, ("ffnet", "relu", None), seed=99)


def test_tiny_pipeline(tmp_path):
    """run -> summary -> claims -> figures, resumable: a second run reads everything from disk."""
    P = {**chapters.params("05_finite_width", "smoke"), "depth": 1, "widths": [8, 32], "init_widths": [8, 64], "ns": [4, 6], "n": 6,
         "n_test": 4, "d": 4, "seeds": 2, "max_steps": 300, "activations": ["relu", "gelu"], "smooth_ns": [4, 6]}
    logs = []
    res = fw.run(P, tmp_path, progress=False, log=logs.append)
    # configs at n = 6 (2 activations x 2 nets) plus the scaling runs at n = 4 (relu and gelu, 2 nets each)
    assert len(res["change"]) == len(fw.change_grid(P)) == (4 + 4) * 2 * 2
    assert len(res["init"]) == len(fw.init_grid(P)) == 2 * 2 * 2
    assert all("rel_error_other" in r for r in res["init"] if r["arch"] == "resnet")
    S = fw.summary(res)
    assert set(S["needed"]) == {"rel_change", "op_change_over_lmin"}
    assert len(S["needed"]["rel_change"]) == 4 and ("resnet", "gelu", 0.5) in S["needed"]["rel_change"]
    cl = fw.claims(res, S)
    assert [c.id for c in cl] == ["05-init-rate", "05-change-falls", "05-lazy"]
    assert all(c.counterfactual for c in cl)
    assert f"of {len(res['change'])} training runs" in fw.converged_sentence(S)
    assert "$" not in fw.difference_table(S) + fw.needed_table(S) + fw.change_table(res, S)
    _assert_legible(common.plot_init_error(res, S), fw.plot_change(res, S), fw.plot_width_needed(res, S),
                    fw.plot_loss_curves(res), fw.plot_gap(res, S))
    assert "|" in fw.fit_table(S["change"], ["arch", "activation", "gamma"])
    again = fw.run(P, tmp_path, progress=False, log=logs.append)
    assert all(r["_cached"] for r in again["change"] + again["init"])


def _fit(slope, half, seeds=6):
    se = half / 2.57  # t_{0.975, 5}
    return PowerLawFit(slope, 0.0, se, slope - half, slope + half, 0.95, "t-seeds", seeds)


def _fits(init=-0.5, change=-1.0, gap=-1.0):
    return {
        "init": {("ffnet", None): _fit(init, 0.05), ("resnet", 0.5): _fit(init + 0.02, 0.05)},
        "init_other": {("resnet", 0.5): _fit(-0.03, 0.05)},
        "change": {("ffnet", "relu", None): _fit(-0.8, 0.3), ("ffnet", "gelu", None): _fit(change, 0.2),
                   ("resnet", "gelu", 0.5): _fit(change + 0.1, 0.2)},
        "gap": {("ffnet", "gelu", None): _fit(gap, 0.2), ("resnet", "gelu", 0.5): _fit(gap, 0.2)},
        "converged": 10, "diverged": 0, "runs": 10,
    }


RESULT = {"params": {"activations": ["relu", "gelu"]}}


def test_claims_pass_and_reject_their_counterfactuals():
    out = fw.claims(RESULT, _fits())
    assert all(c.passed for c in out), [(c.id, c.measured) for c in out]
    assert all(c.counterfactual_passed is False for c in out), [(c.id, c.counterfactual_measured) for c in out]


def test_claims_fail_on_the_wrong_rates():
    # smooth change falling like m^-1/2, not 1/m: 05-change-falls fails
    assert not fw.claims(RESULT, _fits(change=-0.5))[1].passed
    # init error falling like 1/m: 05-init-rate fails
    assert not fw.claims(RESULT, _fits(init=-1.0))[0].passed
    # a gap whose interval lies above -1/2 (falls slower than m^-1/2): 05-lazy fails; one whose interval
    # reaches -1/2 (point estimate -0.4, half-width 0.2) is consistent with m^-1/2 and passes
    assert not fw.claims(RESULT, _fits(gap=-0.2))[2].passed
    assert fw.claims(RESULT, _fits(gap=-0.4))[2].passed
    with pytest.raises(ValueError, match="activations"):
        fw.claims({"params": {"activations": ["relu"]}}, {**_fits(), "change": {("ffnet", "relu", None): _fit(-1, 0.1)}})


def test_exponent_differences():
    fits = {("ffnet", "gelu", None): _fit(-1.0, 0.2), ("resnet", "gelu", 0.5): _fit(-0.6, 0.2),
            ("resnet", "relu", 0.5): _fit(-0.6, 0.2)}
    rows = fw.exponent_differences(fits)
    assert len(rows) == 1 and math.isclose(rows[0]["difference"], -0.4)
    half = rows[0]["high"] - rows[0]["difference"]
    assert math.isclose(half, 2.57 * math.hypot(0.2 / 2.57, 0.2 / 2.57) * 2.5706 / 2.57, rel_tol=1e-3)
    assert "γ = 0.5" in fw.difference_table({"change": fits})
