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


# ---------------------------------------------------------------- values from papermill and scripts (issue 12)

import json  # noqa: E402

import numpy as np  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from companion.book import build  # noqa: E402


def test_numpy_scalar_parameter_is_canonical_and_hashes_like_int():
    """The issue's input: np.int64(61) was accepted, then cache_key raised TypeError (not JSON serialisable)."""
    P = chapters.params("03_degeneracy", "smoke", {"n_train": np.int64(61)})
    assert type(P.n_train) is int and P.n_train == 61
    key = build.cache_key("03_degeneracy", "smoke", {"n_train": np.int64(61)})
    assert key == build.cache_key("03_degeneracy", "smoke", {"n_train": 61})
    assert key == build.cache_key("03_degeneracy", "smoke", {"n_train": "61"})
    assert key == build.cache_key("03_degeneracy", "smoke", '{"n_train": 61}')
    assert build.canonical_overrides("03_degeneracy", "smoke", {"n_train": np.int64(63)}) == {"n_train": 63}
    assert build.canonical_overrides("03_degeneracy", "smoke", {"n_train": np.int64(P.n_train)}) == {}  # the default


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 10_000), kind=st.sampled_from(["int", "np64", "np32", "str", "json"]))
def test_every_spelling_of_a_valid_value_gives_the_same_parameters(n, kind):
    value = {"int": n, "np64": np.int64(n), "np32": np.int32(n), "str": str(n), "json": json.dumps(n)}[kind]
    P = chapters.params("03_degeneracy", "smoke", {"n_train": value})
    assert P.n_train == n and type(P.n_train) is int
    assert json.loads(json.dumps(P.to_dict()))["n_train"] == n


@pytest.mark.parametrize("overrides, name", [
    ([("n_train", 5)], "overrides"), ("not json", "overrides"), (42, "overrides"),
    ({"n_train": "sixty"}, "n_train"), ({"n_train": np.float64(61.5)}, "n_train"), ({"n_train": True}, "n_train"),
    ({"gammas": "[0.5, -1]"}, r"gammas\[1\]"), ({"classes": np.array([3.5, 5])}, r"classes\[0\]"),
    ({"nope": 1}, "overrides"),
])
def test_a_value_that_means_no_valid_parameter_is_a_named_error(overrides, name):
    with pytest.raises(ValueError, match=rf"^{name}=.* is invalid; allowed: "):
        chapters.params("03_degeneracy", "smoke", overrides)
    with pytest.raises(ValueError, match=rf"^{name}="):
        build.cache_key("03_degeneracy", "smoke", overrides)


def test_lists_and_arrays_are_lists():
    P = chapters.params("03_degeneracy", "smoke", {"gammas": np.array([0.75, 1.0]), "classes": (3, 5)})
    assert P.gammas == [0.75, 1.0] and P.classes == [3, 5]
    assert P.to_dict()["gammas"] == [0.75, 1.0]


@pytest.mark.parametrize("chapter, overrides, name", [
    ("03_degeneracy", {"classes": [3, 50]}, "classes"), ("03_degeneracy", {"classes": [3, 3]}, "classes"),
    ("03_degeneracy", {"classes": [3]}, "classes"), ("03_degeneracy", {"gamma": 10**400}, "gamma"),
    ("01_models", {"rho0": 10**400}, "rho0"), ("06_experiments", {"pairs": {("a",): [3, 5]}}, r"pairs key"),
])
def test_more_members_of_the_kind_are_named_errors(chapter, overrides, name):
    with pytest.raises(ValueError, match=rf"^{name}=.* is invalid; allowed: "):
        chapters.params(chapter, "smoke", overrides)


def test_a_zero_dimensional_array_is_its_scalar():
    assert chapters.params("03_degeneracy", "smoke", {"n_train": np.array(63)}).n_train == 63
