"""Every chapter's parameters, in one place: ``smoke`` (seconds, for tests), ``default`` (a few minutes on
a laptop CPU, what the book shows) and ``paper`` (the papers' sizes, for a GPU).

A chapter's tagged ``parameters`` cell sets ``scale`` (and optionally ``overrides``); its next cell calls
:func:`params`, which validates everything at once, so a bad parameter fails before any computation.
"""

from __future__ import annotations

import copy
from typing import Any, Callable, Mapping

from companion.util import validate as check

SCALES = ("smoke", "default", "paper")
DATASETS = ("mnist", "cifar10", "cifar100")
ACTIVATIONS = ("relu", "tanh", "gelu")  # = companion.networks.models.ACTIVATIONS (a test checks), without importing JAX here

# name -> {scale -> parameters}. Keep the three scales' keys identical.
CHAPTERS: dict[str, dict[str, dict[str, Any]]] = {
    "01_models": {
        "smoke": {"width": 64, "depth": 6, "gammas": [0.0, 0.5, 1.0], "seeds": 1, "rho0": 0.5},
        "default": {"width": 512, "depth": 32, "gammas": [0.0, 0.5, 1.0], "seeds": 3, "rho0": 0.5},
        # All block weights are held at once: depth 128 x 2 x 2048^2 float64 = 8.6 GB, fine on one GPU.
        "paper": {"width": 2048, "depth": 128, "gammas": [0.0, 0.25, 0.5, 1.0], "seeds": 16, "rho0": 0.5},
    },
    # Chapter 2 (companion.chapters.kernel_checks): depths compared with neural-tangents; widths for the
    # finite-width check (fw_depth hidden layers, fw_n inputs).
    "02_kernels": {
        "smoke": {"depths": [1, 4], "n": 6, "widths": [64, 256, 1024], "seeds": 3, "fw_depth": 2, "fw_n": 6},
        "default": {"depths": [1, 2, 5, 10, 20, 50, 100], "n": 10, "widths": [128, 512, 2048], "seeds": 4,
                    "fw_depth": 3, "fw_n": 8},
        "paper": {"depths": [1, 2, 5, 10, 20, 50, 100, 200, 500], "n": 16,
                  "widths": [64, 256, 1024, 4096, 16384], "seeds": 8, "fw_depth": 4, "fw_n": 16},
    },
    # Chapter 3 (companion.chapters.degeneracy). The limit checks run at L = 10^4 at every scale; the MNIST Gram study
    # costs O(n^2) per depth (depth-free kernel tables) plus one n x n eigendecomposition. n_train is odd so
    # that the +-1 labels (drawn without class balancing) cannot average to exactly 0.
    "03_degeneracy": {
        "smoke": {"depths": [1, 10, 100, 1000, 10000], "gamma": 1.0, "rho_points": 101, "max_depth": 10000,
                  "per_decade": 2, "fit_from": 100, "gammas": [0.75, 1.0], "asymptotic_depths": [100, 10000],
                  "dataset": "mnist", "classes": [3, 5], "n_train": 61, "n_test": 60, "seed": 0,
                  "gram_depths": [1, 100, 10000]},
        "default": {"depths": [1, 3, 10, 30, 100, 300, 1000, 3000, 10000], "gamma": 1.0, "rho_points": 400,
                    "max_depth": 10000, "per_decade": 4, "fit_from": 100, "gammas": [0.75, 1.0],
                    "asymptotic_depths": [100, 1000, 10000], "dataset": "mnist", "classes": [3, 5],
                    "n_train": 301, "n_test": 300, "seed": 0,
                    "gram_depths": [1, 3, 10, 30, 100, 300, 1000, 3000, 10000]},
        "paper": {"depths": [1, 3, 10, 30, 100, 300, 1000, 3000, 10000, 30000, 100000], "gamma": 1.0,
                  "rho_points": 2000, "max_depth": 100000, "per_decade": 8, "fit_from": 100, "gammas": [0.75, 1.0],
                  "asymptotic_depths": [100, 1000, 10000, 100000], "dataset": "mnist", "classes": [3, 5],
                  "n_train": 2001, "n_test": 2000, "seed": 0,
                  "gram_depths": [1, 3, 10, 30, 100, 300, 1000, 3000, 10000, 30000, 100000]},
    },
    # Chapter 4 (companion.chapters.alpha_scaling.phase, .spectral, .synthetic). Phase diagram: one recursion per (gamma, L,
    # setting), O(L) each; spectra: positive series with ~40 k^2 terms per degree; synthetic: one n x n
    # eigendecomposition per (n, seed, kernel) and the depth-free kernel on n x (n + n_test) entries.
    "04_alpha_scaling": {
        "smoke": {"gamma_step": 0.25, "gamma_max": 1.5, "max_depth": 10000, "per_decade": 1, "rho_points": 48,
                  "trained": ["hidden", "all"], "gammas": [0.0, 0.25, 0.5, 1.0], "fit_from": 100,
                  "kmax": 80, "dims": [3, 10],
                  "dim": 3, "ns": [100, 200, 400], "seeds": 3, "n_test": 300, "centers": 20, "noise": 0.5,
                  "depth": 100, "learn_gammas": [1.0, 0.0], "times_per_decade": 5, "seed": 0},
        "default": {"gamma_step": 0.05, "gamma_max": 1.5, "max_depth": 10000, "per_decade": 3, "rho_points": 96,
                    "trained": ["hidden", "all"], "gammas": [0.0, 0.25, 0.5, 0.75, 1.0], "fit_from": 100,
                    "kmax": 120, "dims": [3, 10],
                    "dim": 3, "ns": [100, 200, 400, 800, 1600], "seeds": 4, "n_test": 600, "centers": 20,
                    "noise": 0.5, "depth": 1000, "learn_gammas": [1.0, 0.0], "times_per_decade": 10, "seed": 0},
        "paper": {"gamma_step": 0.025, "gamma_max": 1.5, "max_depth": 10000, "per_decade": 6, "rho_points": 200,
                  "trained": ["hidden", "all"], "gammas": [0.0, 0.125, 0.25, 0.375, 0.5, 0.75, 1.0], "fit_from": 100,
                  "kmax": 240, "dims": [3, 10],
                  "dim": 3, "ns": [250, 500, 1000, 2000, 4000, 8000], "seeds": 8, "n_test": 4000, "centers": 20,
                  "noise": 0.5, "depth": 10000, "learn_gammas": [1.0, 0.0], "times_per_decade": 20, "seed": 0},
    },
    # Chapter 5 (companion.chapters.finite_width): init error, NTK change over training, width needed vs n.
    "05_finite_width": {
    "smoke": {
        "depth": 2, "d": 8, "n": 8, "ns": [4, 8], "n_test": 16, "widths": [16, 64], "seeds": 2,
        "gammas": [0.5], "activations": ["relu"], "scaling_activation": "relu", "init_widths": [16, 256],
        "init_n": 6, "max_steps": 300, "tol": 1e-3, "lr_factor": 1.0, "threshold": 0.1,
    },
    "default": {
        "depth": 4, "d": 16, "n": 16, "ns": [8, 16, 32, 64], "n_test": 32, "widths": [32, 64, 128, 256],
        "seeds": 3, "gammas": [0.0, 0.5, 1.0], "activations": ["relu", "gelu"], "scaling_activation": "relu",
        "init_widths": [32, 128, 512, 2048], "init_n": 16, "max_steps": 2000, "tol": 1e-3, "lr_factor": 1.0,
        "threshold": 0.1,
    },
    "paper": {
        "depth": 4, "d": 16, "n": 16, "ns": [16, 32, 64, 128, 256], "n_test": 128,
        "widths": [64, 128, 256, 512, 1024, 2048, 4096, 8192], "seeds": 8, "gammas": [0.0, 0.5, 1.0],
        "activations": ["relu", "gelu", "tanh"], "scaling_activation": "relu",
        "init_widths": [64, 256, 1024, 4096, 8192], "init_n": 64, "max_steps": 20000, "tol": 1e-3,
        "lr_factor": 1.0, "threshold": 0.05,
    },
    },
    # Chapter 6 (companion.chapters.experiments): NTK regression on real data against depth. Two-class pairs:
    # MNIST 3 vs 5, CIFAR-10 deer (4) vs horse (7), CIFAR-100 apple (0) vs orange (53); see the chapter.
    # n_train / n_test are upper limits: a task uses what its data holds (the offline CIFAR-100 subset has
    # 108 apple + orange training images). Depth costs nothing per kernel entry (depth-free tables).
    "06_experiments": {
        "smoke": {"datasets": ["mnist", "cifar10", "cifar100"], "class_sets": ["two"],
                  "pairs": {"mnist": [3, 5], "cifar10": [4, 7], "cifar100": [0, 53]},
                  "n_train": 80, "n_test": 100, "depths": [1, 10000], "gammas": [0.0, 1.0], "seeds": 1,
                  "regression_methods": ["ridge", "flow"], "val_fraction": 0.2, "data_source": "auto"},
        "default": {"datasets": ["mnist", "cifar10", "cifar100"], "class_sets": ["two", "all"],
                    "pairs": {"mnist": [3, 5], "cifar10": [4, 7], "cifar100": [0, 53]},
                    "n_train": 500, "n_test": 500, "depths": [1, 10, 100, 1000, 10000],
                    "gammas": [0.0, 0.25, 0.5, 1.0], "seeds": 3,
                    "regression_methods": ["ridge", "flow"], "val_fraction": 0.2, "data_source": "auto"},
        # The papers' sample sizes are unknown here ([U]); these are a GPU-sized choice: 6 tasks x 3 seeds
        # x 7 depths x 6 kernels, each two float64 eigendecompositions of ~5000 x 5000 (on the GPU).
        # Depths to 10^6: the FFNet's collapse onto the training mean needs L large compared with n.
        "paper": {"datasets": ["mnist", "cifar10", "cifar100"], "class_sets": ["two", "all"],
                  "pairs": {"mnist": [3, 5], "cifar10": [4, 7], "cifar100": [0, 53]},
                  "n_train": 5000, "n_test": 2000, "depths": [1, 10, 100, 1000, 10000, 100000, 1000000],
                  "gammas": [0.0, 0.25, 0.5, 0.75, 1.0], "seeds": 3,
                  "regression_methods": ["ridge", "flow"], "val_fraction": 0.2, "data_source": "auto"},
    },
}

# Chapters also need pip extras in Colab beyond the core package (e.g. neural-tangents).
COLAB_EXTRAS: dict[str, tuple[str, ...]] = {"02_kernels": ("reference",)}


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


_N_CLASSES = {"mnist": 10, "cifar10": 10, "cifar100": 100}


def _pairs(name: str, value: Any) -> dict[str, list[int]]:
    """``{dataset: [class, class]}`` (chapter 6): two distinct class ids of that dataset per entry."""
    if not isinstance(value, Mapping) or not value:
        raise check.fail(name, value, "a non-empty mapping {dataset: [class id, class id]}")
    out = {}
    for ds, pair in value.items():
        check.choice(f"{name} key", ds, DATASETS)
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise check.fail(f"{name}[{ds!r}]", pair, "a list of two class ids")
        ids = [check.integer(f"{name}[{ds!r}][{i}]", c, minimum=0, maximum=_N_CLASSES[ds] - 1) for i, c in enumerate(pair)]
        if ids[0] == ids[1]:
            raise check.fail(f"{name}[{ds!r}]", pair, "two distinct class ids")
        out[ds] = ids
    return out


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
    "fw_depth": lambda n, v: check.integer(n, v, minimum=1),
    "fw_n": lambda n, v: check.integer(n, v, minimum=2),
    "dataset": lambda n, v: check.choice(n, v, DATASETS),
    "datasets": lambda n, v: _choice_list(n, v, DATASETS),
    # chapters 3 and 4 (companion.chapters.degeneracy, .phase, .spectral, .synthetic)
    "gamma": lambda n, v: check.real(n, v, minimum=0.0),
    "rho_points": lambda n, v: check.integer(n, v, minimum=2),
    "max_depth": lambda n, v: check.integer(n, v, minimum=1),
    "per_decade": lambda n, v: check.integer(n, v, minimum=1),
    "fit_from": lambda n, v: check.integer(n, v, minimum=1),
    "asymptotic_depths": lambda n, v: _int_list(n, v, 1),
    "classes": lambda n, v: _int_list(n, v, 0),
    "gram_depths": lambda n, v: _int_list(n, v, 1),
    "gamma_step": lambda n, v: check.real(n, v, minimum=0.0, min_inclusive=False),
    "gamma_max": lambda n, v: check.real(n, v, minimum=0.0),
    "trained": lambda n, v: _choice_list(n, v, check.TRAINED),
    "kmax": lambda n, v: check.integer(n, v, minimum=8),
    "dims": lambda n, v: _int_list(n, v, 3),
    "dim": lambda n, v: check.integer(n, v, minimum=3),
    "centers": lambda n, v: check.integer(n, v, minimum=1),
    "noise": lambda n, v: check.real(n, v, minimum=0.0),
    "learn_gammas": lambda n, v: _real_list(n, v, 0.0),
    "times_per_decade": lambda n, v: check.integer(n, v, minimum=1),
    # chapter 5 (companion.chapters.finite_width)
    "d": lambda n, v: check.integer(n, v, minimum=2),
    "init_n": lambda n, v: check.integer(n, v, minimum=2),
    "init_widths": lambda n, v: _int_list(n, v, 1),
    "activations": lambda n, v: _choice_list(n, v, ACTIVATIONS),
    "scaling_activation": lambda n, v: check.choice(n, v, ACTIVATIONS),
    "max_steps": lambda n, v: check.integer(n, v, minimum=1),
    "tol": lambda n, v: check.real(n, v, minimum=0.0, maximum=1.0, max_inclusive=False),
    "lr_factor": lambda n, v: check.real(n, v, minimum=0.0, maximum=2.0, min_inclusive=False, max_inclusive=False),
    "threshold": lambda n, v: check.real(n, v, minimum=0.0, min_inclusive=False),
    # chapter 6 (companion.chapters.experiments)
    "class_sets": lambda n, v: _choice_list(n, v, ("two", "all")),
    "pairs": lambda n, v: _pairs(n, v),
    "regression_methods": lambda n, v: _choice_list(n, v, ("ridge", "flow")),
    "val_fraction": lambda n, v: check.real(n, v, minimum=0.0, maximum=0.5, min_inclusive=False),
    "data_source": lambda n, v: check.choice(n, v, ("auto", "official", "offline")),
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
