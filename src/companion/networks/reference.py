"""neural-tangents 0.6.5 models of the companion's architectures: the reference the kernels are checked
against (tests, benchmark, chapter 2). Not part of the core: neural-tangents is imported only when one of
these functions is called, and needs the pinned ``jax==0.5.3`` (``pip install companion[reference]``).

Mapping (the models of chapter 1, eq-ffnet and eq-resnet): ``stax.Dense`` divides the input Gram matrix by ``d``, so inputs are
multiplied by ``sqrt(d)``.

- FFNet: ``Dense(W_std=1), Relu, [Dense(W_std=sqrt 2), Relu] x (L-1), Dense(1, W_std=sqrt 2)``.
- ResNet: ``Dense(W_std=1)``, then ``L`` blocks ``FanOut(2) -> parallel(serial(Dense(sqrt 2), Relu,
  Dense(alpha)), Identity) -> FanInSum``, readout ``Dense(1, W_std=1)``; that trains everything
  (``trained="all"``). For ``trained="hidden"`` the input layer's kernel is passed on with ``ntk = 0``
  and the readout's contribution (its input NNGP) is subtracted at the end.

``stax.repeat`` keeps neural-tangents' compile time flat in depth (``stax.serial`` of ``L`` copies
compiles for minutes at ``L = 100``).
"""

from __future__ import annotations

import functools
import warnings
from typing import Any, Callable

import numpy as np

from companion.util import validate as check

WIDTH = 8  # neural-tangents' infinite-width kernels ignore the finite width given to its layers


# neural-tangents warns on every FanInSum evaluation that "`FanIn` layers assume independent inputs which
# is not verified in the code" (a UserWarning whose location is the package's path in the virtual
# environment). Here the assumption holds: FanInSum adds the branch V_l relu(W_l x) to the identity, and the
# branch is independent of it because V_l is a fresh zero-mean Gaussian, so the sum's kernel is the sum of the
# kernels; the kernels match the closed forms to 1e-13 (tests/kernels/test_reference.py). So exactly this
# message is filtered, only while these models run.
_FANIN_MESSAGE = r"`FanIn` layers assume independent inputs"


def _quiet_fanin(kernel_fn: Callable) -> Callable:
    """``kernel_fn`` without neural-tangents' FanIn warning (see ``_FANIN_MESSAGE``); jit-able like it."""

    @functools.wraps(kernel_fn)
    def wrapped(*args, **kwargs):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_FANIN_MESSAGE, category=UserWarning)
            return kernel_fn(*args, **kwargs)

    return wrapped


def _stax():
    try:
        from neural_tangents import stax
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "neural-tangents is the reference implementation and is not importable here "
            f"({err}); it needs jax==0.5.3: pip install 'companion[reference]'"
        ) from err
    return stax


def ffnet_kernel_fn(depth: int, serial: bool = False):
    """neural-tangents ``kernel_fn`` of the FFNet with ``depth >= 1`` hidden layers (``serial``: the
    layers spelled out with ``stax.serial`` instead of ``stax.repeat``, as the benchmark compares)."""
    stax = _stax()
    depth = check.integer("depth", depth, minimum=1)
    layer = stax.serial(stax.Dense(WIDTH, W_std=2**0.5), stax.Relu())
    mid = ([layer] * (depth - 1) if serial else [stax.repeat(layer, depth - 1)]) if depth > 1 else []
    return stax.serial(stax.Dense(WIDTH, W_std=1.0), stax.Relu(), *mid, stax.Dense(1, W_std=2**0.5))[2]


def resnet_kernel_fns(depth: int, alpha: float, serial: bool = False):
    """``(input_fn, rest_fn)``: the input layer's and the blocks-plus-readout's ``kernel_fn``."""
    stax = _stax()
    depth = check.integer("depth", depth, minimum=1)
    alpha = check.real("alpha", alpha, minimum=0.0)
    branch = stax.serial(stax.Dense(WIDTH, W_std=2**0.5), stax.Relu(), stax.Dense(WIDTH, W_std=alpha))
    block = stax.serial(stax.FanOut(2), stax.parallel(branch, stax.Identity()), stax.FanInSum())
    first = stax.Dense(WIDTH, W_std=1.0)[2]
    rest = stax.serial(*([block] * depth if serial else [stax.repeat(block, depth)]), stax.Dense(1, W_std=1.0))[2]
    return first, _quiet_fanin(rest)


def kernels(x1: Any, x2: Any = None, *, arch: str, depth: int, alpha: float | None = None,
            trained: str = "all") -> tuple[np.ndarray, np.ndarray]:
    """``(nngp, ntk)`` of shape ``(n1, n2)`` from neural-tangents, in the companion's conventions.

    Args:
      x1, x2: inputs ``(n1, d)``, ``(n2, d)`` (``x2=None`` means ``x1``).
      arch: ``"ffnet"`` (all layers trained) or ``"resnet"``.
      depth: ``L >= 1``.
      alpha: the ResNet's branch scaling.
      trained: the ResNet's ``"hidden"`` or ``"all"``.
    """
    import jax.numpy as jnp

    check.choice("arch", arch, ("ffnet", "resnet"))
    a = check.matrix("x1", x1)
    b = None if x2 is None else check.matrix("x2", x2, features=a.shape[1], other="x1")
    s = np.sqrt(a.shape[1])
    a, b = a * s, (None if b is None else b * s)
    if arch == "ffnet":
        k = ffnet_kernel_fn(depth)(a, b, ("nngp", "ntk"))
        return np.asarray(k.nngp), np.asarray(k.ntk)
    check.choice("trained", trained, check.TRAINED)
    if alpha is None:
        raise check.fail("alpha", alpha, "a finite real number >= 0 for arch='resnet'")
    first, rest = resnet_kernel_fns(depth, alpha)
    k_in = first(a, b)
    if trained == "all":
        k = rest(k_in)
        return np.asarray(k.nngp), np.asarray(k.ntk)
    k = rest(k_in.replace(ntk=jnp.zeros_like(k_in.ntk)))
    return np.asarray(k.nngp), np.asarray(k.ntk - k.nngp)
