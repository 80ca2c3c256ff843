"""The datasets the book uses: names, class counts and names, titles, and the default two-class pairs.

One source for these facts; the loaders (:mod:`companion.data`), the chapter parameters
(:mod:`companion.chapters.params`) and chapter 6 read them from here. Class names come from
``datasets.json`` beside this file.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from companion.util import validate as check

DATASETS = ("mnist", "cifar10", "cifar100")
N_CLASSES = {"mnist": 10, "cifar10": 10, "cifar100": 100}
TITLES = {"mnist": "MNIST", "cifar10": "CIFAR-10", "cifar100": "CIFAR-100"}

# The two-class problem of each dataset (the papers' classes are not known; chapter 6 says why these):
# MNIST 3 vs 5, CIFAR-10 deer (4) vs horse (7), CIFAR-100 apple (0) vs orange (53).
DEFAULT_PAIRS: dict[str, tuple[int, int]] = {"mnist": (3, 5), "cifar10": (4, 7), "cifar100": (0, 53)}
# Aliases accepted by companion.data.prepare: "mnist2" and "cifar2" fix the classes to the pair above.
TWO_CLASS: dict[str, tuple[str, tuple[int, int]]] = {
    "mnist2": ("mnist", DEFAULT_PAIRS["mnist"]),
    "cifar2": ("cifar10", DEFAULT_PAIRS["cifar10"]),
}


@lru_cache(maxsize=1)
def _registry() -> dict:
    return json.loads((Path(__file__).with_name("datasets.json")).read_text())


def class_names(name: str, *, coarse: bool = False) -> tuple[str, ...]:
    """Class names of ``name`` (``coarse=True``: the 20 CIFAR-100 superclasses).

    Raises:
      ValueError: ``name`` not one of :data:`DATASETS`; ``coarse=True`` for a dataset other than CIFAR-100.
    """
    check.choice("name", name, DATASETS)
    if coarse and name != "cifar100":
        raise check.fail("coarse", coarse, "False unless name='cifar100'")
    return tuple(_registry()["classes"]["cifar100_coarse" if coarse else name])
