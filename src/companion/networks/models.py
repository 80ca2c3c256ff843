"""Finite-width FFNet and ResNet ("model H") in the NTK parametrization, as the papers define them.

All weights are i.i.d. N(0, 1); scale factors sit in the forward pass (NTK parametrization), so
gradient descent on these parameters is the dynamics whose infinite-width limit is the NTK.
Inputs ``x`` have shape ``(n, d)``; outputs have shape ``(n,)``.

FFNet (Arora et al. 2019 form), ``L`` hidden layers of width ``m``::

    x_0 = x,   x_l = sqrt(2/m) phi(W_l x_{l-1})   (l = 1..L),   f(x) = v^T x_L

ResNet, model H of Huang et al. (2020), residual scaling ``alpha``::

    x_0 = A x / sqrt(m)
    x_l = x_{l-1} + alpha V_l phi(sqrt(2/m) W_l x_{l-1}) / sqrt(m)   (l = 1..L)
    f(x) = v^T x_L

With ``phi = relu`` and ``m -> infinity`` their kernels are those of :mod:`companion.kernels`.
The networks are built like ``neural_tangents.stax`` layers: a constructor returns an
``init(key, in_dim) -> params`` and an ``apply(params, x) -> f`` pair, plus ``hidden`` which
returns every layer's representation (for signal-propagation plots). Hidden layers are stacked
along a leading depth axis and applied with ``jax.lax.scan`` so compile time does not grow with L.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from companion.util import validate as check
from companion.kernels.scaling import branch_scaling  # noqa: F401  (re-exported: models.branch_scaling)

Params = dict
ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "relu": jax.nn.relu,
    "tanh": jnp.tanh,
    # Exact (erf) GELU: smooth and Lipschitz, as the neural tangent hierarchy theorem needs.
    "gelu": lambda z: jax.nn.gelu(z, approximate=False),
}


class Network(NamedTuple):
    """A finite-width network: ``init``, ``apply``, ``hidden`` and which parameters are trained.

    Attributes:
      init: ``init(key, in_dim) -> params`` (a dict of arrays, weights N(0, 1)).
      apply: ``apply(params, x) -> f`` with ``x`` of shape ``(n, d)`` and ``f`` of shape ``(n,)``.
      hidden: ``hidden(params, x) -> h`` with ``h`` of shape ``(L, n, m)``: the representations
        ``x_1 .. x_L`` (``apply`` is ``h[-1] @ v``).
      trained: the parameter names that gradient descent updates (the NTK's terms).
      arch, depth, width, alpha, activation: the hyper-parameters, for records and plots.
    """

    init: Callable[[jax.Array, int], Params]
    apply: Callable[[Params, jax.Array], jax.Array]
    hidden: Callable[[Params, jax.Array], jax.Array]
    trained: tuple[str, ...]
    arch: str
    depth: int
    width: int
    alpha: float | None
    activation: str


def _dtype_of(dtype) -> jnp.dtype:
    dt = check.dtype("dtype", dtype)
    if dt == np.float64 and not jax.config.jax_enable_x64:
        raise check.fail("dtype", "float64", "float32, or float64 after jax.config.update('jax_enable_x64', True)")
    return jnp.dtype(dt)


def _inputs(x, dt, in_dim: int) -> jax.Array:
    """``x`` as a ``(n, in_dim)`` array of dtype ``dt``: shapes are static, so this check also runs on
    traced arrays (inside ``jit``/``grad``), where a mismatch would otherwise be a ``dot_general`` error."""
    x = jnp.asarray(x, dt)
    if x.ndim != 2 or x.shape[1] != in_dim:
        raise check.fail("x", f"array of shape {x.shape}", f"shape (n, {in_dim}): the in_dim the parameters were built with")
    return x




def ffnet(depth: int, width: int, activation: str = "relu", dtype="float64") -> Network:
    """FFNet with ``depth`` hidden layers of ``width`` units (all ``L + 1`` matrices trained).

    Implements ``eq-ffnet`` (chapter 1), in the form of Arora et al. (2019):
    ``x_l = sqrt(2/m) relu(W_l x_{l-1})``, ``f = v^T x_L``.

    Args:
      depth: L >= 1, the number of hidden layers.
      width: m >= 1.
      activation: ``"relu"`` (the papers' choice), ``"tanh"`` or ``"gelu"``.
      dtype: ``"float64"`` (needs ``jax_enable_x64``) or ``"float32"``.
    """
    depth = check.integer("depth", depth, minimum=1)
    width = check.integer("width", width, minimum=1)
    check.choice("activation", activation, ACTIVATIONS)
    phi = ACTIVATIONS[activation]
    dt = _dtype_of(dtype)
    scale = np.sqrt(2.0 / width)

    def init(key: jax.Array, in_dim: int) -> Params:
        in_dim = check.integer("in_dim", in_dim, minimum=1)
        k_in, k_hid, k_out = jax.random.split(key, 3)
        return {
            "W_in": jax.random.normal(k_in, (width, in_dim), dt),
            "W": jax.random.normal(k_hid, (depth - 1, width, width), dt),
            "v": jax.random.normal(k_out, (width,), dt),
        }

    def hidden(params: Params, x: jax.Array) -> jax.Array:
        x1 = scale * phi(_inputs(x, dt, params["W_in"].shape[1]) @ params["W_in"].T)

        def step(h, W):
            h = scale * phi(h @ W.T)
            return h, h

        _, hs = jax.lax.scan(step, x1, params["W"])
        return jnp.concatenate([x1[None], hs], axis=0)

    def apply(params: Params, x: jax.Array) -> jax.Array:
        return hidden(params, x)[-1] @ params["v"]

    return Network(init, apply, hidden, ("W_in", "W", "v"), "ffnet", depth, width, None, activation)


def resnet(
    depth: int,
    width: int,
    alpha: float,
    activation: str = "relu",
    trained: str = "hidden",
    dtype="float64",
) -> Network:
    """ResNet model H with ``depth`` residual blocks of ``width`` units and branch scaling ``alpha``.

    Implements ``eq-resnet`` (chapter 1): ``x_0 = A x / sqrt(m)``,
    ``x_l = x_{l-1} + alpha V_l relu(sqrt(2/m) W_l x_{l-1}) / sqrt(m)``, ``f = v^T x_L`` (model H of Huang
    et al. 2020 as reconstructed in this book; the structure is checked against neural-tangents in chapter 2).

    Args:
      depth: L >= 1 residual blocks.
      width: m >= 1.
      alpha: residual scaling >= 0 (the papers use ``alpha = L**-gamma``).
      activation: ``"relu"``, ``"tanh"`` or ``"gelu"``.
      trained: ``"hidden"`` (only ``W_l, V_l``, the papers' setting) or ``"all"`` (also ``A, v``).
      dtype: ``"float64"`` (needs ``jax_enable_x64``) or ``"float32"``.
    """
    depth = check.integer("depth", depth, minimum=1)
    width = check.integer("width", width, minimum=1)
    alpha = check.real("alpha", alpha, minimum=0.0)
    check.choice("activation", activation, ACTIVATIONS)
    check.choice("trained", trained, check.TRAINED)
    phi = ACTIVATIONS[activation]
    dt = _dtype_of(dtype)
    inner, outer = np.sqrt(2.0 / width), 1.0 / np.sqrt(width)

    def init(key: jax.Array, in_dim: int) -> Params:
        in_dim = check.integer("in_dim", in_dim, minimum=1)
        k_a, k_w, k_v, k_out = jax.random.split(key, 4)
        return {
            "A": jax.random.normal(k_a, (width, in_dim), dt),
            "W": jax.random.normal(k_w, (depth, width, width), dt),
            "V": jax.random.normal(k_v, (depth, width, width), dt),
            "v": jax.random.normal(k_out, (width,), dt),
        }

    def hidden(params: Params, x: jax.Array) -> jax.Array:
        x0 = _inputs(x, dt, params["A"].shape[1]) @ params["A"].T * outer

        def step(h, WV):
            W, V = WV
            h = h + alpha * outer * (phi(inner * (h @ W.T)) @ V.T)
            return h, h

        _, hs = jax.lax.scan(step, x0, (params["W"], params["V"]))
        return hs

    def apply(params: Params, x: jax.Array) -> jax.Array:
        return hidden(params, x)[-1] @ params["v"]

    names = ("W", "V") if trained == "hidden" else ("A", "W", "V", "v")
    return Network(init, apply, hidden, names, "resnet", depth, width, alpha, activation)


def split(net: Network, params: Params) -> tuple[Params, Params]:
    """Split ``params`` into ``(trained, frozen)`` according to ``net.trained``."""
    trained = {k: v for k, v in params.items() if k in net.trained}
    frozen = {k: v for k, v in params.items() if k not in net.trained}
    return trained, frozen


def signal_propagation(net: Network, params: Params, x: jax.Array) -> dict[str, np.ndarray]:
    """Per-layer squared norms and pairwise correlations of the hidden representations.

    Args:
      net, params: a network and its parameters.
      x: inputs of shape ``(n, d)``.

    Returns:
      ``{"sq_norm": (L + 1, n), "corr": (L + 1, n, n)}`` where ``sq_norm[l, i] = |x_l(x_i)|^2`` and
      ``corr[l, i, j] = <x_l(x_i), x_l(x_j)> / (|x_l(x_i)| |x_l(x_j)|)``: the finite-width estimates of
      the NNGP recursion's ``q_l`` and ``rho_l``. Layer 0 is the input itself (``K_0 = <x, x'>``).
    """
    x = jnp.asarray(check.matrix("x", x))
    hs = net.hidden(params, x)
    gram = jnp.einsum("lim,ljm->lij", hs, hs)
    gram = jnp.concatenate([(x @ x.T).astype(gram.dtype)[None], gram], axis=0)
    sq = jnp.diagonal(gram, axis1=1, axis2=2)
    norm = jnp.sqrt(jnp.maximum(sq, jnp.finfo(sq.dtype).tiny))
    corr = gram / (norm[:, :, None] * norm[:, None, :])
    return {"sq_norm": np.asarray(sq), "corr": np.asarray(corr)}
