"""Claim records, comparisons and the table."""

from __future__ import annotations

import csv
import io
import math

from companion.publish import claims as C


def test_comparisons():
    assert C.within("x-1", "c", "s", 0.251, 0.25, 0.005).passed
    assert not C.within("x-2", "c", "s", 0.26, 0.25, 0.005).passed
    assert not C.within("x-3", "c", "s", math.nan, 0.25, 1.0).passed
    assert C.at_most("x-4", "c", "s", 1.0, 1.0).passed and not C.at_most("x-5", "c", "s", 1.1, 1.0).passed
    assert C.at_least("x-6", "c", "s", 2.0, 1.0).passed and not C.at_least("x-7", "c", "s", math.inf, 1.0).passed


def test_csv_and_markdown(tmp_path):
    cl = [C.within("x-1", "a, with comma", "s", 0.25, 0.25, 0.01), C.at_most("x-2", "b", "s", 3.0, 1.0)]
    rows = list(csv.DictReader(io.StringIO(C.to_csv(cl))))
    assert [r["id"] for r in rows] == ["x-1", "x-2"] and rows[0]["claim"] == "a, with comma"
    assert rows[1]["passed"] == "False"
    md = C.to_markdown(cl)
    assert "**FAIL**" in md and md.count("\n") == 3
    assert "| a, with comma (s) | 0.25 | 0.25 ± 0.01 | pass |" in md and "| b (s) | 3 | <= 1 | **FAIL** |" in md
    path = C.write(cl, "99_test", tmp_path)
    assert path.read_text() == C.to_csv(cl)
    assert C.failures(cl) == [cl[1]]


def test_exact_boundaries_pass():
    """The comparisons are inclusive: ``<=`` and ``>=``, never ``<`` or ``>`` (a value on the bound passes)."""
    assert C.within("b-1", "c", "s", 0.5, 0.25, 0.25).passed  # |0.5 - 0.25| == 0.25 exactly
    assert C.within("b-2", "c", "s", 0.0, 0.25, 0.25).passed
    assert not C.within("b-3", "c", "s", 0.5 + 2**-50, 0.25, 0.25).passed
    assert C.within("b-4", "c", "s", 3.0, 3.0, 0.0).passed  # zero tolerance: equality passes
    assert C.at_most("b-5", "c", "s", 1.0, 1.0).passed and not C.at_most("b-6", "c", "s", 1.0 + 2**-52, 1.0).passed
    assert C.at_least("b-7", "c", "s", 1.0, 1.0).passed and not C.at_least("b-8", "c", "s", 1.0 - 2**-53, 1.0).passed
    assert C.at_most("b-9", "c", "s", -1e300, 0.0).passed and C.at_least("b-10", "c", "s", 1e300, 0.0).passed


def test_non_finite_measured_values_fail():
    """NaN fails every comparison; -inf fails at_most (a measurement that returned -inf is broken, not
    small), +inf fails at_least, and either infinity fails within."""
    for bad in (math.nan, math.inf, -math.inf):
        assert not C.within("n-1", "c", "s", bad, 0.0, 1e300).passed
        assert not C.at_most("n-2", "c", "s", bad, 1e300).passed
        assert not C.at_least("n-3", "c", "s", bad, -1e300).passed
    # the same holds for a counterfactual's value: a non-finite counterfactual is rejected
    c = C.at_most("n-4", "c", "s", 0.5, 1.0, counterfactual=("broken", -math.inf))
    assert c.passed and c.counterfactual_passed is False


def test_counterfactual_fields():
    ok = C.within("c-1", "c", "s", 0.25, 0.25, 0.01, counterfactual=("the other gamma", 0.3))
    assert (ok.counterfactual, ok.counterfactual_measured, ok.counterfactual_passed) == ("the other gamma", 0.3, False)
    weak = C.at_most("c-2", "c", "s", 0.1, 1.0, counterfactual=("a shallower depth", 1.0))
    assert weak.counterfactual_passed is True  # on the bound: the check also accepts it
    assert C.without_failing_counterfactual([ok, weak]) == [weak]
    lo = C.at_least("c-3", "c", "s", 2.0, 1.0, counterfactual=("shuffled labels", 1.0 - 1e-12))
    assert lo.counterfactual_passed is False
    none = C.at_most("c-4", "c", "s", 0.1, 1.0)
    assert none.counterfactual_passed is None and math.isnan(none.counterfactual_measured)
    assert C.without_failing_counterfactual([none]) == [none]
    rows = list(csv.DictReader(io.StringIO(C.to_csv([ok, weak, none]))))
    assert [r["counterfactual_passed"] for r in rows] == ["False", "True", ""]
    assert rows[0]["counterfactual"] == "the other gamma" and float(rows[0]["counterfactual_measured"]) == 0.3
    md = C.to_markdown([ok, weak, none]).splitlines()
    assert md[0] == "| " + " | ".join(C.TABLE_HEADER) + " |"
    assert md[2].endswith("| the other gamma: 0.3 | yes |") and md[3].endswith("| **NO** |")
    assert md[4].endswith("| none | **none** |")
    for bad in (("only words",), ("", 1.0), ("words", "1.0"), ["words", 1.0], ("words", None)):
        try:
            C.within("c-5", "c", "s", 0.0, 0.0, 1.0, counterfactual=bad)
        except ValueError as e:
            assert "counterfactual" in str(e) or "measured" in str(e)
        else:
            raise AssertionError(f"counterfactual={bad!r} was accepted")
