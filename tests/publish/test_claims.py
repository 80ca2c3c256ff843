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
    path = C.write(cl, "99_test", tmp_path)
    assert path.read_text() == C.to_csv(cl)
    assert C.failures(cl) == [cl[1]]
