"""Float64 without touching the global JAX setting.

Importing :mod:`companion` changes no JAX configuration. JAX creates 64-bit arrays only while
``jax_enable_x64`` is on, so every kernel function that is asked for float64 does its float64 work
inside :func:`float64_scope`, a *scoped* switch (``jax.enable_x64(True)`` on JAX >= 0.8,
``jax.experimental.enable_x64()`` on the pinned 0.5.3; both restore the previous value on exit and
are part of the jit cache key, so compiled functions never mix the two modes). Arrays created inside
keep their dtype afterwards; ``np.asarray`` of them is float64 whatever the flag is.
"""

from __future__ import annotations

import contextlib

import jax
import numpy as np


def x64_enabled() -> bool:
    """Whether ``jax_enable_x64`` is on in the current context."""
    return bool(jax.config.jax_enable_x64)


def float64_scope(enable: bool = True):
    """Context manager in which JAX creates float64 arrays (a no-op if ``enable`` is False or x64 is
    already on). Never changes the setting outside the ``with`` block."""
    if not enable or x64_enabled():
        return contextlib.nullcontext()
    state = getattr(jax, "enable_x64", None)
    if state is not None and callable(state):  # JAX >= 0.8: a config State usable as a context manager
        return state(True)
    from jax.experimental import enable_x64  # JAX 0.4 - 0.7

    return enable_x64()


def is_traced(*values) -> bool:
    """True if any value is a JAX tracer (inside ``jit``, ``grad``, ``vmap``...): then no value checks."""
    return any(isinstance(v, jax.core.Tracer) for v in values)


def work_dtype(dtype) -> np.dtype:
    """The float dtype a computation asked for ``dtype`` runs in (float32 or float64)."""
    return np.dtype(np.float64) if np.dtype(dtype) == np.float64 else np.dtype(np.float32)
