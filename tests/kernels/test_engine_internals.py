"""Issue 13 (kernel files): the depth-free table's degree doubling, tolerance and error path, the error
bound's margin, the gamma = 1/2 limit, and ``Spec.effective_depth`` (``Spec.c`` and ``_ntk_norm`` removed)."""

from __future__ import annotations

import numpy as np
import pytest

from companion.kernels import api, depthfree, ffnet_limit, ode_limit, resnet_limit
from companion.kernels.recursion import Spec, normalized_from_uv

RHO = np.array([-0.9, -0.5, 0.0, 0.5, 0.9, 0.99])


@pytest.fixture
def fresh_tables():
    depthfree.build_table.cache_clear()
    api._BUILT.clear()
    yield
    depthfree.build_table.cache_clear()  # no table built under a patched setting survives the test
    api._BUILT.clear()


def _measured_error(table):
    rng = np.random.default_rng(3)
    theta = np.concatenate([rng.uniform(0, np.pi, 1500), np.exp(rng.uniform(-25, 0, 300)),
                            np.pi - np.exp(rng.uniform(-25, 0, 300))])
    s = np.minimum(theta, np.pi - theta)
    a = 2 * np.sin(s / 2) ** 2
    u, v = np.where(theta > np.pi / 2, 2 - a, a), np.where(theta > np.pi / 2, a, 2 - a)
    ref = normalized_from_uv(u, v, table.spec)
    got = depthfree.evaluate(table, None, theta)
    return max(float(np.max(np.abs(np.asarray(g) - np.asarray(r)))) for g, r in zip(got, ref))


def test_degree_doubling_runs_until_the_tolerance_is_met(monkeypatch, fresh_tables):
    monkeypatch.setattr(depthfree, "DEGREES", (6, 10, 20))  # 6 and 10 points cannot reach 1e-13
    tab = depthfree.build_table(Spec("ffnet", 100))
    assert tab.degree == 19 and tab.error_bound <= depthfree.tolerance(100)
    assert tab.error_bound >= 2 * tab.check_error + depthfree.rounding(100)
    assert _measured_error(tab) <= tab.error_bound


@pytest.mark.parametrize("spec", [Spec("ffnet", 300), Spec("resnet", 200, 0.1, "hidden")], ids=str)
def test_error_bound_covers_a_coarse_table(monkeypatch, fresh_tables, spec):
    # a loose tolerance accepts a low degree, whose error is far above rounding: the bound (twice the
    # larger of check-point error and Chebyshev tail, plus rounding) must still cover the true error
    monkeypatch.setattr(depthfree, "DEGREES", (5, 7))
    monkeypatch.setattr(depthfree, "tolerance", lambda depth: 1e-2)
    tab = depthfree.build_table(spec)
    assert tab.degree <= 6  # 5 or 7 points
    err = _measured_error(tab)
    assert 1e-12 < err <= tab.error_bound  # a real error (far above rounding), and covered
    assert tab.error_bound >= 2 * tab.check_error


def test_table_that_cannot_meet_the_tolerance_is_an_error(monkeypatch, fresh_tables):
    monkeypatch.setattr(depthfree, "DEGREES", (4, 6))
    with pytest.raises(RuntimeError, match=r"did not reach tolerance .* use method='recursion'"):
        depthfree.build_table(Spec("ffnet", 50))


def test_resnet_limit_at_gamma_half_is_the_ode_limit():
    for trained in ("hidden", "all"):
        got, want = resnet_limit(RHO, 0.5, trained), ode_limit(RHO, trained)
        np.testing.assert_array_equal(got.ntk, want.ntk)
        np.testing.assert_array_equal(got.nngp, want.nngp)
        assert np.abs(got.ntk - ffnet_limit(RHO).ntk).max() > 0.1  # not the FFNet limit


def test_effective_depth():
    assert Spec("ffnet", 70).effective_depth == 70.0
    assert Spec("resnet", 100, 0.5, "all").effective_depth == pytest.approx(100 * 0.25 / 1.25, rel=1e-15)
    assert Spec("resnet", 100, 0.0, "hidden").effective_depth == 0.0
    assert not hasattr(Spec("resnet", 1, 1.0), "c")
