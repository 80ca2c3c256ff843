"""Chapter 2's checks (companion.chapters.kernel_checks) on a small set: the same functions the chapter runs."""

from __future__ import annotations

import pytest

from companion.chapters import kernel_checks as kc


def test_closed_forms_and_psd_up_to_depth_1e4():
    out = kc.closed_form_check({"depths": [1, 7], "n": 6})
    assert out["diag"] <= 1e-13 and out["psd"] <= 1e-10 and out["sym"] == 0.0


@pytest.mark.reference
def test_reference_rows_agree_with_neural_tangents():
    pytest.importorskip("neural_tangents")
    rows = kc.reference_check({"depths": [2], "n": 5}, log=lambda *_: None)
    assert len(rows) == 2 * len(kc.CONFIGS)
    assert max(max(r["off_nngp"], r["off_ntk"]) for r in rows) <= 1e-10
    assert max(r["diag_ours"] for r in rows) <= 1e-14
    # neural-tangents itself drifts on the diagonal (the reason the diagonal is checked in closed form)
    assert max(r["diag_nt"] for r in rows) > 1e-12


def test_claims_fail_when_a_check_fails():
    class Fit:
        slope = -0.1

    rows = [{"off_nngp": 1e-9, "off_ntk": 0.0}]
    out = kc.claims(rows, {"diag": 0.0, "psd": 0.0, "sym": 0.0}, {"fits": {"init": {("ffnet", None): Fit()}}})
    assert [c.passed for c in out] == [False, True, True, False]
