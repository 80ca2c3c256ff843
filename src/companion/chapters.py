"""Every chapter's parameters, in one place: ``smoke`` (seconds, for tests), ``default`` (a few minutes on
a laptop CPU, what the book shows) and ``paper`` (the papers' sizes, for a GPU).

A chapter's tagged ``parameters`` cell sets ``scale`` (and optionally ``overrides``); its next cell calls
:func:`params`, which validates everything at once, so a bad parameter fails before any computation.
"""

from __future__ import annotations

import copy
from typing import Any, Callable, Mapping

from . import _validate as check

SCALES = ("smoke", "default", "paper")
DATASETS = ("mnist", "cifar10", "cifar100")

# name -> {scale -> parameters}. Keep the three scales' keys identical.
CHAPTERS: dict[str, dict[str, dict[str, Any]]] = {
    "01_models": {
        "smoke": {"width": 64, "depth": 6, "gammas": [0.0, 0.5, 1.0], "seeds": 1, "rho0": 0.5},
        "default": {"width": 512, "depth": 32, "gammas": [0.0, 0.5, 1.0], "seeds": 3, "rho0": 0.5},
        # All block weights are held at once: depth 128 x 2 x 2048^2 float64 = 8.6 GB, fine on one GPU.
        "paper": {"width": 2048, "depth": 128, "gammas": [0.0, 0.25, 0.5, 1.0], "seeds": 16, "rho0": 0.5},
    },
}

# Chapters also need pip extras in Colab beyond the core package (e.g. neural-tangents).
COLAB_EXTRAS: dict[str, tuple[str, ...]] = {}


def _int_list(name: str, value: Any, minimum: int) -> list[int]:
    if not isinstance(value, (list, tuple)) or not value:
        raise check.fail(name, value, f"a non-empty list of integers >= {minimum}")
    return [check.integer(f"{name}[{i}]", v, minimum=minimum) for i, v in enumerate(value)]


def _real_list(name: str, value: Any, minimum: float) -> list[float]:
    if not isinstance(value, (list, tuple)) or not value:
        raise check.fail(name, value, f"a non-empty list of finite reals >= {minimum}")
    return [check.real(f"{name}[{i}]", v, minimum=minimum) for i, v in enumerate(value)]


def _choice_list(name: str, value: Any, allowed: tuple[str, ...]) -> list[str]:
    if not isinstance(value, (list, tuple)) or not value:
        raise check.fail(name, value, "a non-empty list of " + ", ".join(allowed))
    return [check.choice(f"{name}[{i}]", v, allowed) for i, v in enumerate(value)]


# How each parameter name is checked, wherever it appears. A name missing here is rejected, so every
# parameter a chapter takes is validated.
VALIDATORS: dict[str, Callable[[str, Any], Any]] = {
    "width": lambda n, v: check.integer(n, v, minimum=1),
    "widths": lambda n, v: _int_list(n, v, 1),
    "depth": lambda n, v: check.integer(n, v, minimum=0),
    "depths": lambda n, v: _int_list(n, v, 0),
    "seeds": lambda n, v: check.integer(n, v, minimum=1),
    "seed": lambda n, v: check.integer(n, v, minimum=0),
    "n": lambda n, v: check.integer(n, v, minimum=1),
    "ns": lambda n, v: _int_list(n, v, 1),
    "n_train": lambda n, v: check.integer(n, v, minimum=1),
    "n_test": lambda n, v: check.integer(n, v, minimum=1),
    "alphas": lambda n, v: _real_list(n, v, 0.0),
    "gammas": lambda n, v: _real_list(n, v, 0.0),
    "rho0": lambda n, v: check.real(n, v, minimum=-1.0, maximum=1.0),
    "dataset": lambda n, v: check.choice(n, v, DATASETS),
    "datasets": lambda n, v: _choice_list(n, v, DATASETS),
}


def register(chapter: str, scales: Mapping[str, Mapping[str, Any]], validators: Mapping[str, Callable] = ()) -> None:
    """Add a chapter's parameter sets (used by modules that own a chapter's experiments)."""
    if set(scales) != set(SCALES):
        raise check.fail("scales", sorted(scales), f"exactly the scales {SCALES}")
    CHAPTERS[chapter] = {s: dict(p) for s, p in scales.items()}
    VALIDATORS.update(dict(validators))


def params(chapter: str, scale: str = "default", overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The validated parameters of ``chapter`` at ``scale``, with ``overrides`` applied.

    Args:
      chapter: a chapter name such as ``"01_models"``.
      scale: ``"smoke"``, ``"default"`` or ``"paper"``.
      overrides: values replacing single parameters (names must exist at that scale).

    Returns:
      A new dict, including ``"chapter"`` and ``"scale"``.

    Raises:
      ValueError: naming the first invalid argument, its value and what is allowed.
    """
    check.choice("chapter", chapter, sorted(CHAPTERS))
    check.choice("scale", scale, SCALES)
    p = copy.deepcopy(CHAPTERS[chapter][scale])
    for key, value in dict(overrides or {}).items():
        if key not in p:
            raise check.fail("overrides", {key: value}, f"keys among {sorted(p)} for chapter {chapter!r}")
        p[key] = value
    for key, value in p.items():
        if key not in VALIDATORS:
            raise check.fail("parameter name", key, f"a name with a validator: {sorted(VALIDATORS)}")
        p[key] = VALIDATORS[key](key, value)
    return {"chapter": chapter, "scale": scale, **p}
