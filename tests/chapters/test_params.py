"""Chapter parameter sets: every scale validates, and a bad parameter fails with a clear message."""

from __future__ import annotations

import pytest

from companion import chapters


@pytest.mark.parametrize("chapter", sorted(chapters.CHAPTERS))
@pytest.mark.parametrize("scale", chapters.SCALES)
def test_every_scale_validates(chapter, scale):
    p = chapters.params(chapter, scale)
    assert p["chapter"] == chapter and p["scale"] == scale


@pytest.mark.parametrize("chapter", sorted(chapters.CHAPTERS))
def test_scales_have_the_same_keys(chapter):
    keys = {s: set(v) for s, v in chapters.CHAPTERS[chapter].items()}
    assert keys["smoke"] == keys["default"] == keys["paper"]


def test_bad_scale_and_chapter():
    with pytest.raises(ValueError, match=r"scale='huge' is invalid; allowed: one of 'smoke', 'default', 'paper'"):
        chapters.params("01_models", "huge")
    with pytest.raises(ValueError, match=r"chapter='99_nope'"):
        chapters.params("99_nope")


def test_bad_overrides_name_the_argument():
    with pytest.raises(ValueError, match=r"depth=-1 is invalid; allowed: an integer >= 0"):
        chapters.params("01_models", "smoke", {"depth": -1})
    with pytest.raises(ValueError, match=r"width=2.5 is invalid"):
        chapters.params("01_models", "smoke", {"width": 2.5})
    with pytest.raises(ValueError, match=r"overrides=\{'bogus': 1\}"):
        chapters.params("01_models", "smoke", {"bogus": 1})
    with pytest.raises(ValueError, match=r"gammas\[1\]=nan"):
        chapters.params("01_models", "smoke", {"gammas": [0.0, float("nan")]})


def test_overrides_apply_and_do_not_leak():
    p = chapters.params("01_models", "smoke", {"width": 8})
    assert p["width"] == 8
    assert chapters.params("01_models", "smoke")["width"] != 8 or chapters.CHAPTERS["01_models"]["smoke"]["width"] == 8
