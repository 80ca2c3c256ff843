"""Every chapter's parameters, typed and validated in one place.

Each chapter has a frozen dataclass (:class:`ModelsParams` ... :class:`ExperimentsParams`) whose fields carry
their type, meaning and check; the three scales are instances of it: ``smoke`` (seconds, for tests),
``default`` (a few minutes on a laptop CPU, what the book shows) and ``paper`` (the papers' sizes, for a
GPU). A chapter's tagged ``parameters`` cell sets ``scale`` (and optionally ``overrides``); its next cell
calls :func:`params`, which validates everything at once, so a bad parameter fails before any computation.

Values arrive from papermill and scripts as Python, NumPy or JSON values. Every value that means a valid
parameter is accepted and stored in one canonical type (``np.int64(61)``, ``"61"`` and ``61`` are all the
int ``61``; a NumPy array or tuple is a list; a JSON string is parsed), so equal parameters hash to the
same cache entry; anything else is a ``ValueError`` naming the parameter, its value and what is allowed.

A parameters object is also a read-only mapping (``P["n_train"] == P.n_train``), so chapter code and
results can be written either way.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Iterator

import numpy as np

from companion.util import validate as check
from companion.data.registry import DATASETS, N_CLASSES

SCALES = ("smoke", "default", "paper")
ACTIVATIONS = ("relu", "tanh", "gelu")  # = companion.networks.models.ACTIVATIONS (a test checks), without importing JAX here


def canonical(value: Any) -> Any:
    """``value`` with NumPy scalars and arrays, tuples and mapping types turned into plain Python values.

    ``np.int64(61)`` -> ``61``, ``np.float32(0.5)`` -> ``0.5``, ``np.array([1, 2])`` -> ``[1, 2]``, a tuple
    -> a list, any mapping -> a dict. Strings, bools and Python numbers are returned as they are.
    """
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):  # a 0-d array is its scalar
        return canonical(value.tolist())
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    if isinstance(value, Mapping):  # keys stay hashable (a tuple key is not turned into a list)
        return {(k.item() if isinstance(k, np.generic) else k): canonical(v) for k, v in value.items()}
    return value


def param(validate: Callable[[str, Any], Any], doc: str) -> Any:
    """A required parameter field: ``validate(name, value)`` returns the checked value or raises."""
    return field(metadata={"check": validate, "doc": doc})


def _checked(name: str, value: Any, validate: Callable[[str, Any], Any]) -> Any:
    value = canonical(value)
    try:
        return validate(name, value)
    except ValueError:
        if not isinstance(value, str):
            raise
        try:  # a string that means a valid value ("61", "0.5", "[3, 5]" from papermill's command line)
            parsed = canonical(json.loads(value))
        except ValueError:
            parsed = None
        if parsed is None or isinstance(parsed, str):
            raise
        return validate(name, parsed)


@dataclass(frozen=True, kw_only=True)
class ChapterParams(Mapping):
    """Base of the chapters' parameter classes: validation on construction, read-only mapping access."""

    chapter: ClassVar[str] = ""
    scale: str = param(lambda n, v: check.choice(n, v, SCALES), "the scale these values start from")

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            object.__setattr__(self, f.name, _checked(f.name, getattr(self, f.name), f.metadata["check"]))

    # Mapping interface: "chapter", "scale", then the fields in declaration order (the order results record).
    def __getitem__(self, key: str) -> Any:
        if key == "chapter":
            return self.chapter
        if key in self._names():
            return getattr(self, key)
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        yield "chapter"
        yield from self._names()

    def __len__(self) -> int:
        return 1 + len(self._names())

    @classmethod
    def _names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    def to_dict(self) -> dict[str, Any]:
        """A plain, JSON-serialisable dict: ``{"chapter", "scale", **fields}`` (lists copied)."""
        return json.loads(json.dumps(dict(self)))

    def replace(self, **changes: Any) -> "ChapterParams":
        """A validated copy with some fields changed (``ValueError`` for an unknown name or a bad value)."""
        unknown = sorted(set(changes) - set(self._names()))
        if unknown:
            raise check.fail("overrides", {k: changes[k] for k in unknown},
                             f"keys among {sorted(n for n in self._names() if n != 'scale')} for chapter {self.chapter!r}")
        return dataclasses.replace(self, **changes)


# The three scales' values of every chapter. Keep the three scales' keys identical.
CHAPTERS: dict[str, dict[str, dict[str, Any]]] = {
    "01_models": {
        # Seeds: the finite-width check's tolerance is a standard error over seeds; at width 256 and depth 6,
        # 16 seeds are what it takes for the swapped-gamma counterfactual to be rejected (smoke).
        "smoke": {"width": 256, "depth": 6, "gammas": [0.0, 0.5, 1.0], "seeds": 16, "rho0": 0.5},
        "default": {"width": 512, "depth": 32, "gammas": [0.0, 0.5, 1.0], "seeds": 8, "rho0": 0.5},
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
    # setting), O(L) each; spectra: positive series with ~40 k^2 terms per degree (in each d and, for the
    # counterfactual, d +- 1); synthetic: one n x n eigendecomposition per (n, seed, kernel), shared by the two
    # targets, and the depth-free kernel on n x (n + n_test + n/4) entries. source_s > dim + 1 keeps the spread
    # target inside the RKHS (chapter 4, eq-04-spread).
    "04_alpha_scaling": {
        "smoke": {"gamma_step": 0.25, "gamma_max": 1.5, "max_depth": 10000, "per_decade": 1, "rho_points": 48,
                  "trained": ["hidden", "all"], "gammas": [0.0, 0.25, 0.5, 1.0], "fit_from": 100,
                  "kmax": 80, "dims": [3, 10],
                  "dim": 3, "ns": [100, 200, 400], "seeds": 3, "n_test": 300, "centers": 20, "noise": 0.5,
                  "depth": 100, "learn_gammas": [1.0, 0.0], "times_per_decade": 5, "seed": 0,
                  "source_s": 4.2, "target_degrees": 40, "target_centers": 200},
        "default": {"gamma_step": 0.05, "gamma_max": 1.5, "max_depth": 10000, "per_decade": 3, "rho_points": 96,
                    "trained": ["hidden", "all"], "gammas": [0.0, 0.25, 0.5, 0.75, 1.0], "fit_from": 100,
                    "kmax": 120, "dims": [3, 10],
                    "dim": 3, "ns": [100, 200, 400, 800, 1600], "seeds": 4, "n_test": 600, "centers": 20,
                    "noise": 0.5, "depth": 1000, "learn_gammas": [1.0, 0.0], "times_per_decade": 10, "seed": 0,
                    "source_s": 4.2, "target_degrees": 40, "target_centers": 200},
        "paper": {"gamma_step": 0.025, "gamma_max": 1.5, "max_depth": 10000, "per_decade": 6, "rho_points": 200,
                  "trained": ["hidden", "all"], "gammas": [0.0, 0.125, 0.25, 0.375, 0.5, 0.75, 1.0], "fit_from": 100,
                  "kmax": 240, "dims": [3, 10],
                  "dim": 3, "ns": [250, 500, 1000, 2000, 4000, 8000], "seeds": 8, "n_test": 4000, "centers": 20,
                  "noise": 0.5, "depth": 10000, "learn_gammas": [1.0, 0.0], "times_per_decade": 20, "seed": 0,
                  "source_s": 4.2, "target_degrees": 80, "target_centers": 400},
    },
    # Chapter 5 (companion.chapters.finite_width): init error, NTK change over training, width needed vs n.
    "05_finite_width": {
    # Seeds are cheap (a run takes well under a second once its network is compiled) and the claims'
    # tolerances are intervals over seeds; every new width, activation or n costs a compilation.
    "smoke": {
        "depth": 2, "d": 8, "n": 8, "ns": [4, 8], "n_test": 16, "widths": [16, 128], "seeds": 6,
        "gammas": [0.5], "activations": ["relu", "gelu"], "scaling_activation": "relu", "smooth_activation": "gelu",
        "smooth_ns": [4, 8], "init_widths": [16, 256, 1024], "init_n": 6, "max_steps": 300, "tol": 1e-3, "lr_factor": 1.0,
        "threshold": 0.1,
    },
    "default": {
        "depth": 4, "d": 16, "n": 16, "ns": [8, 16, 32, 64], "n_test": 32, "widths": [32, 64, 128, 256],
        "seeds": 6, "gammas": [0.0, 0.5, 1.0], "activations": ["relu", "gelu"], "scaling_activation": "relu",
        "smooth_activation": "gelu", "smooth_ns": [4, 8, 16],
        "init_widths": [32, 128, 512, 2048], "init_n": 16, "max_steps": 2000, "tol": 1e-3, "lr_factor": 1.0,
        "threshold": 0.1,
    },
    "paper": {
        "depth": 4, "d": 16, "n": 16, "ns": [16, 32, 64, 128, 256], "n_test": 128,
        "widths": [64, 128, 256, 512, 1024, 2048, 4096, 8192], "seeds": 8, "gammas": [0.0, 0.5, 1.0],
        "activations": ["relu", "gelu", "tanh"], "scaling_activation": "relu", "smooth_activation": "gelu",
        "smooth_ns": [4, 8, 16], "init_widths": [64, 256, 1024, 4096, 8192], "init_n": 64, "max_steps": 20000,
        "tol": 1e-3, "lr_factor": 1.0, "threshold": 0.05,
    },
    },
    # Chapter 6 (companion.chapters.experiments): NTK regression on real data against depth, under two sampling
    # designs (exactly balanced classes, uniform draws). Two-class pairs: MNIST 3 vs 5, CIFAR-10 deer (4) vs
    # horse (7), CIFAR-100 apple (0) vs orange (53); see the chapter. n_train / n_test (two-class tasks) and
    # n_train_all / n_test_all (all classes) are upper limits: a task uses what its data holds (the offline
    # CIFAR-10 file has ~800 deer + horse training images, the CIFAR-100 subset 108 apple + orange).
    # ridge_depths: the nugget-as-ridge measurement; onset_ns x onset_depths: R^2 against L / n (first dataset).
    "06_experiments": {
        "smoke": {"datasets": ["mnist", "cifar10", "cifar100"], "class_sets": ["two"],
                  "pairs": {"mnist": [3, 5], "cifar10": [4, 7], "cifar100": [0, 53]},
                  "n_train": 80, "n_test": 100, "n_train_all": 100, "n_test_all": 100, "depths": [1, 10000],
                  "gammas": [0.0, 1.0], "seeds": 1, "regression_methods": ["ridge", "flow"], "val_fraction": 0.2,
                  "data_source": "auto", "ridge_depths": [10, 100, 1000, 10000], "onset_ns": [50, 100, 200],
                  "onset_depths": [1, 3, 10, 30, 100, 300, 1000, 3000, 10000]},
        "default": {"datasets": ["mnist", "cifar10", "cifar100"], "class_sets": ["two", "all"],
                    "pairs": {"mnist": [3, 5], "cifar10": [4, 7], "cifar100": [0, 53]},
                    "n_train": 600, "n_test": 600, "n_train_all": 300, "n_test_all": 300,
                    "depths": [1, 10, 100, 1000, 10000], "gammas": [0.0, 0.5, 1.0], "seeds": 2,
                    "regression_methods": ["ridge", "flow"], "val_fraction": 0.2, "data_source": "auto",
                    "ridge_depths": [10, 30, 100, 300, 1000, 3000, 10000], "onset_ns": [100, 200, 400, 800],
                    "onset_depths": [1, 3, 10, 30, 100, 300, 1000, 3000, 10000, 30000, 100000]},
        # A GPU-sized choice (the papers' sample sizes are not known): the eigendecompositions run on the GPU.
        "paper": {"datasets": ["mnist", "cifar10", "cifar100"], "class_sets": ["two", "all"],
                  "pairs": {"mnist": [3, 5], "cifar10": [4, 7], "cifar100": [0, 53]},
                  "n_train": 5000, "n_test": 2000, "n_train_all": 5000, "n_test_all": 2000,
                  "depths": [1, 10, 100, 1000, 10000, 100000, 1000000],
                  "gammas": [0.0, 0.25, 0.5, 0.75, 1.0], "seeds": 3,
                  "regression_methods": ["ridge", "flow"], "val_fraction": 0.2, "data_source": "auto",
                  "ridge_depths": [10, 30, 100, 300, 1000, 3000, 10000, 30000, 100000],
                  "onset_ns": [250, 500, 1000, 2000, 4000],
                  "onset_depths": [1, 3, 10, 30, 100, 300, 1000, 3000, 10000, 30000, 100000, 300000, 1000000]},
    },
}


# ------------------------------------------------------------------------------------------ field checks

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


def _pairs(name: str, value: Any) -> dict[str, list[int]]:
    """``{dataset: [class, class]}`` (chapter 6): two distinct class ids of that dataset per entry."""
    if not isinstance(value, Mapping) or not value:
        raise check.fail(name, value, "a non-empty mapping {dataset: [class id, class id]}")
    out = {}
    for ds, pair in value.items():
        check.choice(f"{name} key", ds, DATASETS)
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise check.fail(f"{name}[{ds!r}]", pair, "a list of two class ids")
        ids = [check.integer(f"{name}[{ds!r}][{i}]", c, minimum=0, maximum=N_CLASSES[ds] - 1) for i, c in enumerate(pair)]
        if ids[0] == ids[1]:
            raise check.fail(f"{name}[{ds!r}]", pair, "two distinct class ids")
        out[ds] = ids
    return out


@dataclass(frozen=True, kw_only=True)
class ModelsParams(ChapterParams):
    """Parameters of chapter ``01_models`` (:mod:`companion.chapters.signal_propagation`)."""

    chapter: ClassVar[str] = "01_models"
    width: int = param(lambda n, v: check.integer(n, v, minimum=1), 'hidden width m (units per layer)')
    depth: int = param(lambda n, v: check.integer(n, v, minimum=0), 'depth L (hidden layers or residual blocks)')
    gammas: list[float] = param(lambda n, v: _real_list(n, v, 0.0), 'branch-scaling exponents gamma (alpha = L^-gamma)')
    seeds: int = param(lambda n, v: check.integer(n, v, minimum=2), 'number of random seeds (>= 2: tolerances are standard errors over seeds)')
    rho0: float = param(lambda n, v: check.real(n, v, minimum=-1.0, maximum=1.0), 'input correlation rho_0 in [-1, 1]')


@dataclass(frozen=True, kw_only=True)
class KernelsParams(ChapterParams):
    """Parameters of chapter ``02_kernels`` (:mod:`companion.chapters.kernel_checks`)."""

    chapter: ClassVar[str] = "02_kernels"
    depths: list[int] = param(lambda n, v: _int_list(n, v, 0), 'depths L')
    n: int = param(lambda n, v: check.integer(n, v, minimum=1), 'training points')
    widths: list[int] = param(lambda n, v: _int_list(n, v, 1), 'hidden widths m swept')
    seeds: int = param(lambda n, v: check.integer(n, v, minimum=1), 'number of random seeds')
    fw_depth: int = param(lambda n, v: check.integer(n, v, minimum=1), 'depth of the finite-width check')
    fw_n: int = param(lambda n, v: check.integer(n, v, minimum=2), 'inputs of the finite-width check')


@dataclass(frozen=True, kw_only=True)
class DegeneracyParams(ChapterParams):
    """Parameters of chapter ``03_degeneracy`` (:mod:`companion.chapters.degeneracy`)."""

    chapter: ClassVar[str] = "03_degeneracy"
    depths: list[int] = param(lambda n, v: _int_list(n, v, 0), 'depths L')
    gamma: float = param(lambda n, v: check.real(n, v, minimum=0.0), 'branch-scaling exponent gamma')
    rho_points: int = param(lambda n, v: check.integer(n, v, minimum=2), 'points of the correlation grid')
    max_depth: int = param(lambda n, v: check.integer(n, v, minimum=1), 'largest depth L of the sweep')
    per_decade: int = param(lambda n, v: check.integer(n, v, minimum=1), 'depths per decade')
    fit_from: int = param(lambda n, v: check.integer(n, v, minimum=1), 'smallest depth in the rate fits')
    gammas: list[float] = param(lambda n, v: _real_list(n, v, 0.0), 'branch-scaling exponents gamma (alpha = L^-gamma)')
    asymptotic_depths: list[int] = param(lambda n, v: _int_list(n, v, 1), 'depths of the asymptotic checks')
    dataset: str = param(lambda n, v: check.choice(n, v, DATASETS), 'dataset name')
    classes: list[int] = param(lambda n, v: _int_list(n, v, 0), 'the two class ids')
    n_train: int = param(lambda n, v: check.integer(n, v, minimum=1), 'training points (an upper limit where data is scarce)')
    n_test: int = param(lambda n, v: check.integer(n, v, minimum=1), 'test points')
    seed: int = param(lambda n, v: check.integer(n, v, minimum=0), 'random seed')
    gram_depths: list[int] = param(lambda n, v: _int_list(n, v, 1), 'depths of the Gram-matrix study')

    def __post_init__(self) -> None:
        super().__post_init__()
        # The pair must exist in the chosen dataset: checked here, where both fields are known.
        top = N_CLASSES[self.dataset] - 1
        if len(self.classes) != 2 or self.classes[0] == self.classes[1] or max(self.classes) > top:
            raise check.fail("classes", self.classes, f"two distinct class ids of {self.dataset!r}, each <= {top}")


@dataclass(frozen=True, kw_only=True)
class AlphaScalingParams(ChapterParams):
    """Parameters of chapter ``04_alpha_scaling`` (:mod:`companion.chapters.alpha_scaling`)."""

    chapter: ClassVar[str] = "04_alpha_scaling"
    gamma_step: float = param(lambda n, v: check.real(n, v, minimum=0.0, min_inclusive=False), 'step of the gamma grid')
    gamma_max: float = param(lambda n, v: check.real(n, v, minimum=0.0), 'largest gamma of the grid')
    max_depth: int = param(lambda n, v: check.integer(n, v, minimum=1), 'largest depth L of the sweep')
    per_decade: int = param(lambda n, v: check.integer(n, v, minimum=1), 'depths per decade')
    rho_points: int = param(lambda n, v: check.integer(n, v, minimum=2), 'points of the correlation grid')
    trained: list[str] = param(lambda n, v: _choice_list(n, v, check.TRAINED), "trained settings ('hidden', 'all')")
    gammas: list[float] = param(lambda n, v: _real_list(n, v, 0.0), 'branch-scaling exponents gamma (alpha = L^-gamma)')
    fit_from: int = param(lambda n, v: check.integer(n, v, minimum=1), 'smallest depth in the rate fits')
    kmax: int = param(lambda n, v: check.integer(n, v, minimum=8), 'largest spherical-harmonic degree k')
    dims: list[int] = param(lambda n, v: _int_list(n, v, 3), 'input dimensions d of the spectra')
    dim: int = param(lambda n, v: check.integer(n, v, minimum=3), 'input dimension d')
    ns: list[int] = param(lambda n, v: _int_list(n, v, 1), 'training-set sizes n')
    seeds: int = param(lambda n, v: check.integer(n, v, minimum=1), 'number of random seeds')
    n_test: int = param(lambda n, v: check.integer(n, v, minimum=1), 'test points')
    centers: int = param(lambda n, v: check.integer(n, v, minimum=1), 'centres of the synthetic target')
    noise: float = param(lambda n, v: check.real(n, v, minimum=0.0), 'label noise standard deviation sigma')
    depth: int = param(lambda n, v: check.integer(n, v, minimum=0), 'depth L (hidden layers or residual blocks)')
    learn_gammas: list[float] = param(lambda n, v: _real_list(n, v, 0.0), 'gammas of the learning-rate kernels')
    times_per_decade: int = param(lambda n, v: check.integer(n, v, minimum=1), 'stopping times per decade')
    seed: int = param(lambda n, v: check.integer(n, v, minimum=0), 'random seed')
    source_s: float = param(lambda n, v: check.real(n, v, minimum=1.0, min_inclusive=False),
                            'spread target: energy by degree E_k ~ k^-s (s > d + 1: inside the RKHS)')
    target_degrees: int = param(lambda n, v: check.integer(n, v, minimum=2), 'spread target: highest degree K')
    target_centers: int = param(lambda n, v: check.integer(n, v, minimum=1), 'spread target: centres (>= N(d, K))')


@dataclass(frozen=True, kw_only=True)
class FiniteWidthParams(ChapterParams):
    """Parameters of chapter ``05_finite_width`` (:mod:`companion.chapters.finite_width`)."""

    chapter: ClassVar[str] = "05_finite_width"
    depth: int = param(lambda n, v: check.integer(n, v, minimum=0), 'depth L (hidden layers or residual blocks)')
    d: int = param(lambda n, v: check.integer(n, v, minimum=2), 'input dimension d')
    n: int = param(lambda n, v: check.integer(n, v, minimum=1), 'training points')
    ns: list[int] = param(lambda n, v: _int_list(n, v, 1), 'training-set sizes n')
    n_test: int = param(lambda n, v: check.integer(n, v, minimum=1), 'test points')
    widths: list[int] = param(lambda n, v: _int_list(n, v, 1), 'hidden widths m swept')
    seeds: int = param(lambda n, v: check.integer(n, v, minimum=1), 'number of random seeds')
    gammas: list[float] = param(lambda n, v: _real_list(n, v, 0.0), 'branch-scaling exponents gamma (alpha = L^-gamma)')
    activations: list[str] = param(lambda n, v: _choice_list(n, v, ACTIVATIONS), 'activation functions')
    scaling_activation: str = param(lambda n, v: check.choice(n, v, ACTIVATIONS), 'activation of the width-needed study')
    smooth_activation: str = param(lambda n, v: check.choice(n, v, ACTIVATIONS), "smooth activation of the width-needed run in the theorem's setting")
    smooth_ns: list[int] = param(lambda n, v: _int_list(n, v, 1), 'training-set sizes n of the smooth-activation run (n <= d keeps its NTK well conditioned)')
    init_widths: list[int] = param(lambda n, v: _int_list(n, v, 1), 'widths of the initialisation check')
    init_n: int = param(lambda n, v: check.integer(n, v, minimum=2), 'inputs of the initialisation check')
    max_steps: int = param(lambda n, v: check.integer(n, v, minimum=1), 'largest number of gradient steps')
    tol: float = param(lambda n, v: check.real(n, v, minimum=0.0, maximum=1.0, max_inclusive=False), 'relative training-loss tolerance that stops training')
    lr_factor: float = param(lambda n, v: check.real(n, v, minimum=0.0, maximum=2.0, min_inclusive=False, max_inclusive=False), 'step size as a fraction of 2 / lambda_max')
    threshold: float = param(lambda n, v: check.real(n, v, minimum=0.0, min_inclusive=False), "relative NTK change that counts as 'far'")


@dataclass(frozen=True, kw_only=True)
class ExperimentsParams(ChapterParams):
    """Parameters of chapter ``06_experiments`` (:mod:`companion.chapters.experiments`)."""

    chapter: ClassVar[str] = "06_experiments"
    datasets: list[str] = param(lambda n, v: _choice_list(n, v, DATASETS), 'dataset names')
    class_sets: list[str] = param(lambda n, v: _choice_list(n, v, ("two", "all")), "class sets ('two': a pair, 'all': every class)")
    pairs: dict[str, list[int]] = param(lambda n, v: _pairs(n, v), 'two-class pair per dataset {dataset: [id, id]}')
    n_train: int = param(lambda n, v: check.integer(n, v, minimum=4), 'training points of a two-class task (an upper limit where data is scarce)')
    n_test: int = param(lambda n, v: check.integer(n, v, minimum=2), 'test points of a two-class task (an upper limit)')
    n_train_all: int = param(lambda n, v: check.integer(n, v, minimum=4), 'training points of an all-class task (an upper limit)')
    n_test_all: int = param(lambda n, v: check.integer(n, v, minimum=2), 'test points of an all-class task (an upper limit)')
    depths: list[int] = param(lambda n, v: _int_list(n, v, 0), 'depths L')
    gammas: list[float] = param(lambda n, v: _real_list(n, v, 0.0), 'branch-scaling exponents gamma (alpha = L^-gamma)')
    seeds: int = param(lambda n, v: check.integer(n, v, minimum=1), 'number of random seeds')
    regression_methods: list[str] = param(lambda n, v: _choice_list(n, v, ("ridge", "flow")), "regression methods ('ridge', 'flow')")
    val_fraction: float = param(lambda n, v: check.real(n, v, minimum=0.0, maximum=0.5, min_inclusive=False), 'fraction of training points held out for validation')
    data_source: str = param(lambda n, v: check.choice(n, v, ("auto", "official", "offline")), "where images come from ('auto', 'official', 'offline')")
    ridge_depths: list[int] = param(lambda n, v: _int_list(n, v, 1), 'depths L of the nugget-as-ridge measurement (the largest is the reference)')
    onset_ns: list[int] = param(lambda n, v: _int_list(n, v, 4), 'training-set sizes n of the collapse-onset study')
    onset_depths: list[int] = param(lambda n, v: _int_list(n, v, 1), 'depths L of the collapse-onset study')


PARAMS: dict[str, type[ChapterParams]] = {
    cls.chapter: cls
    for cls in (ModelsParams, KernelsParams, DegeneracyParams, AlphaScalingParams, FiniteWidthParams, ExperimentsParams)
}

# Chapters also need pip extras in Colab beyond the core package (e.g. neural-tangents).
COLAB_EXTRAS: dict[str, tuple[str, ...]] = {"02_kernels": ("reference",)}


def scales(chapter: str) -> dict[str, ChapterParams]:
    """The three scales of ``chapter`` as validated instances: ``{"smoke": ..., "default": ..., "paper": ...}``."""
    check.choice("chapter", chapter, sorted(PARAMS))
    return {s: PARAMS[chapter](scale=s, **CHAPTERS[chapter][s]) for s in SCALES}


def params(chapter: str, scale: str = "default", overrides: Mapping[str, Any] | str | None = None) -> ChapterParams:
    """The validated parameters of ``chapter`` at ``scale``, with ``overrides`` applied.

    Args:
      chapter: a chapter name such as ``"01_models"``.
      scale: ``"smoke"``, ``"default"`` or ``"paper"``.
      overrides: values replacing single parameters (names must exist for the chapter): a mapping, a JSON
        object as a string, or ``None``.

    Returns:
      The chapter's frozen parameters object (its class in :data:`PARAMS`), also usable as a mapping.

    Raises:
      ValueError: naming the first invalid argument (``chapter``, ``scale``, ``overrides`` or a parameter),
        its value and what is allowed.
    """
    check.choice("chapter", chapter, sorted(PARAMS))
    check.choice("scale", scale, SCALES)
    if isinstance(overrides, str):
        try:
            overrides = json.loads(overrides) if overrides.strip() else {}
        except ValueError:
            raise check.fail("overrides", overrides, "a mapping of parameter names to values (or a JSON object)") from None
    if overrides is None:
        overrides = {}
    if not isinstance(overrides, Mapping):
        raise check.fail("overrides", overrides, "a mapping of parameter names to values (or a JSON object)")
    for key in overrides:
        if not isinstance(key, str):
            raise check.fail("overrides", dict(overrides), "string parameter names")
    base = dict(CHAPTERS[chapter][scale])
    unknown = sorted(set(overrides) - set(base))
    if unknown:
        key = unknown[0]
        raise check.fail("overrides", {key: overrides[key]}, f"keys among {sorted(base)} for chapter {chapter!r}")
    return PARAMS[chapter](scale=scale, **{**base, **dict(overrides)})
