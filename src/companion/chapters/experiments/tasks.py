"""Chapter 6's tasks and samples: which images, how many, drawn how, and the kernels compared.

A *task* is a dataset with a set of classes (a pair, +-1 targets; or all classes, one-hot targets). For
each task, seed and *sampling design* the training and test points are drawn either with **exactly
balanced** classes (equally many points per class: the training mean of +-1 targets is 0) or
**uniformly** at random from the task's classes (class counts vary, so with an odd number of two-class
training points the training mean is never 0). Both designs use the numbers of points of :func:`sizes` (one training point
fewer for a uniform two-class draw), so they differ essentially only in the class counts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from companion.util import validate as check
from companion.data.registry import DATASETS, N_CLASSES, TITLES
from companion.kernels import branch_scaling

KINDS = ("two", "all")
METHODS = ("ridge", "flow")
SAMPLINGS = ("balanced", "uniform")
TARGETS = ("raw", "centred")

#: Ridge grid (normalised kernel, ``f = k(x, X) (k + n lambda I)^-1 y``); 0 is the interpolant.
RIDGES = tuple([0.0] + [float(v) for v in np.logspace(-7, 1, 17)])
#: Stopping-time grid (normalised kernel, ``f_t = k(x, X) k^-1 (I - exp(-k t / n)) y``); inf interpolates.
TIMES = tuple([float(v) for v in np.logspace(-1, 7, 17)] + [math.inf])

#: At most this fraction of a task's available training points (and of each class's) is drawn, so that
#: seeds draw different training sets even where the data holds few points (the offline CIFAR-100 pair).
MAX_TRAIN_FRACTION = 0.8


@dataclass(frozen=True)
class Task:
    """One classification problem: ``dataset`` with ``classes`` (``None``: all) of ``kind`` two/all."""

    dataset: str
    kind: str
    classes: tuple[int, ...] | None

    @property
    def n_classes(self) -> int:
        return N_CLASSES[self.dataset] if self.classes is None else len(self.classes)

    def title(self) -> str:
        """E.g. ``"MNIST 3 vs 5"`` or ``"CIFAR-10, all 10 classes"``."""
        from companion.data.registry import class_names

        if self.classes is None:
            return f"{TITLES[self.dataset]}, all {self.n_classes} classes"
        names = class_names(self.dataset)
        return f"{TITLES[self.dataset]} " + " vs ".join(names[c] for c in self.classes)

    def classes_text(self) -> str:
        return "all" if self.classes is None else ",".join(str(c) for c in self.classes)


def validate(P: Mapping[str, Any]) -> dict[str, Any]:
    """Check the experiment parameters (:class:`companion.chapters.params.ExperimentsParams`) as a dict.

    Raises ``ValueError`` naming the first invalid argument, before any data is loaded. Unlike the
    parameter class, depths must be ``>= 1`` here (the depth-0 ResNet NTK with only the hidden layers
    trained is identically zero), and every dataset of a two-class run needs a pair.
    """
    from companion.chapters.params import ExperimentsParams, _pairs

    if not isinstance(P, Mapping):
        raise check.fail("P", P, "a mapping of parameters (companion.chapters.params('06_experiments', ...))")
    need = [n for n in ExperimentsParams._names() if n != "scale"]
    for key in need:
        if key not in P:
            raise check.fail("P", sorted(P), f"a mapping with the keys {need} (missing {key!r})")
    out = dict(P)
    out.update(ExperimentsParams(scale=P.get("scale", "default"), **{k: P[k] for k in need}).to_dict())
    out.pop("chapter", None)
    out["pairs"] = {k: tuple(v) for k, v in _pairs("pairs", P["pairs"]).items()}
    if "two" in out["class_sets"]:
        missing = [d for d in out["datasets"] if d not in out["pairs"]]
        if missing:
            raise check.fail("pairs", P["pairs"], f"a pair of classes for every dataset in datasets (missing {missing})")
    for name in ("depths", "ridge_depths", "onset_depths"):
        out[name] = sorted({check.integer(f"{name}[{i}]", d, minimum=1) for i, d in enumerate(out[name])})
    out["onset_ns"] = sorted(set(out["onset_ns"]))
    return out


def tasks(P: Mapping[str, Any]) -> list[Task]:
    """The tasks of validated parameters ``P``: for each dataset, the two-class task then all classes."""
    return [Task(d, kind, tuple(P["pairs"][d]) if kind == "two" else None)
            for d in P["datasets"] for kind in P["class_sets"]]


def architectures(depth: int, gammas: Sequence[float]) -> list[dict[str, Any]]:
    """The FFNet and one ResNet per ``gamma`` at ``depth``: ``[{arch, gamma, alpha, trained, label}]``,
    ``alpha = depth^-gamma`` (``depth >= 1``, each gamma finite).

    Raises ``ValueError`` for a depth below 1 or a non-finite gamma."""
    depth = check.integer("depth", depth, minimum=1)
    gammas = [check.real(f"gammas[{i}]", g) for i, g in enumerate(gammas)]
    out = [{"arch": "ffnet", "gamma": math.nan, "alpha": math.nan, "trained": "all", "label": "FFNet"}]
    for g in gammas:
        out.append({"arch": "resnet", "gamma": g, "alpha": branch_scaling(depth, g), "trained": "hidden",
                    "label": f"ResNet gamma={g:g}"})
    return out


def sizes(task: Task, n_train: int, n_test: int, train_counts: Sequence[int], test_counts: Sequence[int]
          ) -> tuple[int, int]:
    """The numbers of points drawn for ``task`` under **both** sampling designs.

    ``train_counts``/``test_counts``: the available points per class of the task. Training: ``n_train``
    capped at :data:`MAX_TRAIN_FRACTION` of each class's points times the number of classes (so an
    exactly balanced draw exists and seeds differ); test: capped by the smallest class times the number
    of classes. Both are rounded down to a multiple of the number of classes (exact balance).

    Raises ``ValueError`` if fewer than two training points per class remain.
    """
    k = task.n_classes
    if len(train_counts) != k or len(test_counts) != k:
        raise check.fail("train_counts", list(train_counts), f"{k} class counts (one per class of {task.title()})")
    ntr = min(n_train, k * int(MAX_TRAIN_FRACTION * min(train_counts)))
    nte = min(n_test, k * min(test_counts))
    ntr, nte = k * (ntr // k), k * (nte // k)
    if ntr < 2 * k or nte < k:
        raise check.fail("n_train", n_train, f"enough points for {task.title()}: available per class "
                         f"{min(train_counts)} train / {min(test_counts)} test")
    return ntr, nte


def class_counts(labels: np.ndarray, classes: Sequence[int]) -> list[int]:
    """Number of points of each class in ``labels`` (``(N,)`` integer labels)."""
    return [int(np.sum(labels == c)) for c in classes]


def draw(task: Task, P: Mapping[str, Any], seed: int, raw: Any, sampling: str):
    """The task's data for ``seed`` and ``sampling`` (``"balanced"`` or ``"uniform"``), sizes from
    :func:`sizes`; ``raw`` is the loaded dataset (:func:`companion.data.load`). Both designs of one seed
    use the same random streams, so they differ only where the class counts differ."""
    from companion import data

    check.choice("sampling", sampling, SAMPLINGS)
    cls = list(range(task.n_classes)) if task.classes is None else list(task.classes)
    ntr_p, nte_p = (P["n_train"], P["n_test"]) if task.kind == "two" else (P["n_train_all"], P["n_test_all"])
    n_train, n_test = sizes(task, ntr_p, nte_p, class_counts(raw.y_train, cls), class_counts(raw.y_test, cls))
    if sampling == "uniform" and task.kind == "two":
        n_train -= 1  # odd: a uniform draw of two classes then always has a majority (training mean not 0)
    return data.prepare(task.dataset, task.classes, n_train, n_test, seed=seed,
                        balanced=sampling == "balanced", raw=raw)


__all__ = ["KINDS", "METHODS", "SAMPLINGS", "TARGETS", "RIDGES", "TIMES", "MAX_TRAIN_FRACTION", "DATASETS",
           "Task", "validate", "tasks", "architectures", "sizes", "class_counts", "draw"]
