"""Empirical neural tangent kernel of a finite network: a Jacobian contraction over the trained parameters.

For a network ``f(x; p)`` with scalar output and trained parameters ``p`` (the names in
``net.trained``; the others are frozen), the empirical NTK is::

    Theta(x, x') = sum_p  df(x)/dp  df(x')/dp   =  J(x) J(x')^T

Methods (all exact, float64 by default, and equal to rounding):

* ``method="structured"`` (used by ``"auto"`` for the networks of :mod:`companion.networks.models`): every
  trained weight matrix enters as a product ``z = a W^T``, so its per-example gradient is the outer
  product ``outer(df/dz, a)`` and its NTK term is ``(D D'^T) * (a a'^T)`` (elementwise), with
  ``D = df/dz`` for all examples from one backward pass. Cost ``O(n L m^2 + n1 n2 L m)``, memory
  ``O(n L m)``: the full ``(n, P)`` Jacobian is never formed (``P ~ L m^2``).
* ``method="jacobian"``: generic; per-example gradients ``J1`` (and ``J2``) in one batch, then
  ``J1 J2^T`` (memory ``(n1 + n2) P``).
* ``method="jvp"``: generic; the columns ``Theta[:, j] = J1 J(x'_j)^T`` as forward-mode products of the
  network at ``x1`` along the gradients at ``x'_j``, a chunk of ``c`` columns at a time (memory ``c P``
  plus activations), ``c`` from ``max_bytes``.
* ``method="auto"`` (default): ``"structured"`` when it applies; else ``"jacobian"`` if it fits in
  ``max_bytes``; else, for two input sets, the smaller set's gradients are held and the other set is
  streamed through in chunks; else ``"jvp"``.

The test suite checks the methods against each other for every architecture, activation and
``trained`` option, against a finite-difference Jacobian, and against the analytic kernels at large
width.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from companion.util import validate as check
from companion.networks.models import Network, Params, split

__all__ = ["empirical_ntk", "param_count"]

DEFAULT_MAX_BYTES = 1 << 30  # 1 GiB of per-example gradients at a time


def param_count(net: Network, params: Params) -> int:
    """Number of trained scalars (the size of one Jacobian row)."""
    trained, _ = split(net, params)
    return int(sum(np.size(v) for v in jax.tree_util.tree_leaves(trained)))


def _scalar_fn(net: Network):
    def f1(trained, frozen, x):  # one input of shape (d,) -> scalar
        return net.apply({**trained, **frozen}, x[None, :])[0]

    return f1


@functools.partial(jax.jit, static_argnums=0)
def _per_example_grads(net: Network, trained: Params, frozen: Params, x: jax.Array) -> Params:
    return jax.vmap(jax.grad(_scalar_fn(net)), in_axes=(None, None, 0))(trained, frozen, x)


@jax.jit
def _contract(g1: Params, g2: Params) -> jax.Array:
    leaves = zip(jax.tree_util.tree_leaves(g1), jax.tree_util.tree_leaves(g2))
    return sum(a.reshape(a.shape[0], -1) @ b.reshape(b.shape[0], -1).T for a, b in leaves)


@functools.partial(jax.jit, static_argnums=0)
def _jvp_columns(net: Network, trained: Params, frozen: Params, x1: jax.Array, x2c: jax.Array) -> jax.Array:
    g = _per_example_grads(net, trained, frozen, x2c)

    def column(tangent):
        return jax.jvp(lambda p: net.apply({**p, **frozen}, x1), (trained,), (tangent,))[1]

    return jax.vmap(column)(g).T  # (n1, c)


def _taps(net: Network, params: Params, x: jax.Array, eps: dict) -> tuple[jax.Array, dict]:
    """The forward pass of a :mod:`companion.networks.models` FFNet/ResNet with additive perturbations ``eps`` on the
    output of every weight matrix's product ``z = a W^T``; returns ``f`` and each product's input ``a``.

    The gradient of ``f`` in that weight is ``outer(df/dz, a)`` per example, so its NTK term is
    ``(D D'^T) * (a a'^T)`` with ``D = df/dz`` (obtained for all examples at once by differentiating
    ``sum f`` in ``eps``). This mirrors ``models.ffnet`` / ``models.resnet`` exactly; the test suite checks it
    against the generic Jacobian contraction for every architecture, activation and ``trained`` option.
    """
    from companion.networks.models import ACTIVATIONS

    phi = ACTIVATIONS[net.activation]
    m = net.width
    if net.arch == "ffnet":
        s = np.sqrt(2.0 / m)
        z1 = x @ params["W_in"].T + eps["W_in"]
        h1 = s * phi(z1)

        def step(h, inp):
            W, e = inp
            z = h @ W.T + e
            return s * phi(z), h

        hL, ins = jax.lax.scan(step, h1, (params["W"], eps["W"]))
        return hL @ params["v"], {"W_in": x, "W": ins, "v": hL}
    inner, outer = np.sqrt(2.0 / m), 1.0 / np.sqrt(m)
    h0 = (x @ params["A"].T + eps["A"]) * outer

    def block(h, inp):
        W, V, eW, eV = inp
        a = phi(inner * (h @ W.T + eW))
        return h + net.alpha * outer * (a @ V.T + eV), (h, a)

    hL, (hs, acts) = jax.lax.scan(block, h0, (params["W"], params["V"], eps["W"], eps["V"]))
    return hL @ params["v"], {"A": x, "W": hs, "V": acts, "v": hL}


_STRUCTURED_KEYS = {"ffnet": {"W_in", "W", "v"}, "resnet": {"A", "W", "V", "v"}}


def _is_structured(net: Network, params: Params) -> bool:
    keys = _STRUCTURED_KEYS.get(net.arch)
    return keys is not None and set(params) == keys and set(net.trained) <= keys


def _zero_eps(net: Network, params: Params, n: int, dt) -> dict:
    m = net.width
    return {k: jnp.zeros(params[k].shape[:-2] + (n, m), dt) for k in params if k != "v"}


@functools.partial(jax.jit, static_argnums=0)
def _structured_ntk(net: Network, params: Params, x1: jax.Array, x2: jax.Array | None) -> jax.Array:
    """``x2=None``: the symmetric kernel of ``x1`` (one forward/backward pass, half the compile time)."""

    def factors(x):
        eps = _zero_eps(net, params, x.shape[0], x.dtype)
        f = lambda e: _taps(net, params, x, e)  # noqa: E731
        _, ins = f(eps)
        deltas = jax.grad(lambda e: f(e)[0].sum())(eps)
        return ins, deltas

    i1, d1 = factors(x1)
    i2, d2 = (i1, d1) if x2 is None else factors(x2)
    theta = jnp.zeros((x1.shape[0], x1.shape[0] if x2 is None else x2.shape[0]), x1.dtype)
    for name in net.trained:
        if name == "v":
            theta = theta + i1["v"] @ i2["v"].T
        elif i1[name].ndim == 2:  # a single matrix
            theta = theta + (d1[name] @ d2[name].T) * (i1[name] @ i2[name].T)
        else:  # matrices stacked along depth: sum over layers
            dd = jnp.einsum("lim,ljm->lij", d1[name], d2[name])
            aa = jnp.einsum("lik,ljk->lij", i1[name], i2[name])
            theta = theta + jnp.sum(dd * aa, axis=0)
    return theta


def _chunks(x: jax.Array, c: int) -> list[jax.Array]:
    """Split rows into chunks of exactly ``c`` (the last padded by repeating its final row): one compile."""
    n = x.shape[0]
    k = math.ceil(n / c)
    pad = k * c - n
    xp = jnp.concatenate([x, jnp.repeat(x[-1:], pad, axis=0)]) if pad else x
    return [xp[i * c : (i + 1) * c] for i in range(k)]


def empirical_ntk(
    net: Network,
    params: Params,
    x1,
    x2=None,
    *,
    method: str = "auto",
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> jax.Array:
    """The empirical NTK ``Theta(x1, x2)`` of ``net`` at ``params`` over the trained parameters
    (``eq-05-empirical``: the sum over trained weights of ``df(x1)/dp df(x2)/dp``; Jacot et al. 2018).

    Args:
      net: a :class:`companion.networks.models.Network` (scalar output); only ``net.trained`` parameters count.
      params: its parameters (from ``net.init``).
      x1: inputs of shape ``(n1, d)``.
      x2: inputs of shape ``(n2, d)``; ``None`` means ``x1`` (the result is then exactly symmetric).
      method: ``"auto"``, ``"structured"``, ``"jacobian"`` or ``"jvp"`` (see the module docstring).
      max_bytes: memory budget for per-example gradients held at once (``"auto"`` and ``"jvp"``
        chunk size); at least one example's gradient is always held.

    Returns:
      A ``(n1, n2)`` array in the parameters' dtype.

    Raises:
      ValueError: on malformed inputs or options.
    """
    check.choice("method", method, ("auto", "structured", "jacobian", "jvp"))
    max_bytes = check.integer("max_bytes", max_bytes, minimum=1)
    trained, frozen = split(net, params)
    if not trained:
        raise check.fail("net.trained", net.trained, f"names among the parameters {sorted(params)}")
    dt = jax.tree_util.tree_leaves(trained)[0].dtype
    a = check.matrix("x1", x1)
    symmetric = x2 is None
    b = a if symmetric else check.matrix("x2", x2, features=a.shape[1], other="x1")
    a, b = jnp.asarray(a, dt), jnp.asarray(b, dt)
    if method == "structured" or (method == "auto" and _is_structured(net, params)):
        if not _is_structured(net, params):
            raise check.fail("method", method, "'auto', 'jacobian' or 'jvp' for a network not built by companion.networks.models")
        in_dim = params["W_in" if net.arch == "ffnet" else "A"].shape[1]
        if a.shape[1] != in_dim:
            raise check.fail("x1", f"array with {a.shape[1]} features", f"the network's input dimension ({in_dim})")
        theta = _structured_ntk(net, params, a, None if symmetric else b)
        return 0.5 * (theta + theta.T) if symmetric else theta
    row_bytes = param_count(net, params) * jnp.dtype(dt).itemsize
    rows = max(1, max_bytes // max(row_bytes, 1))  # per-example gradients that fit in the budget
    n1, n2 = a.shape[0], b.shape[0]
    small = min(n1, n2)
    if method == "jacobian" or (method == "auto" and (n1 if symmetric else n1 + n2) <= rows):
        g1 = _per_example_grads(net, trained, frozen, a)
        g2 = g1 if symmetric else _per_example_grads(net, trained, frozen, b)
        theta = _contract(g1, g2)
    elif method == "auto" and not symmetric and small < rows:
        # Hold the smaller set's gradients; stream the other set through in chunks.
        swap = n1 < n2
        held, other = (a, b) if swap else (b, a)
        g_held = _per_example_grads(net, trained, frozen, held)
        blocks = [
            _contract(_per_example_grads(net, trained, frozen, chunk_x), g_held)
            for chunk_x in _chunks(other, rows - small)
        ]
        theta = jnp.concatenate(blocks, axis=0)[: other.shape[0]]
        theta = theta.T if swap else theta
    else:
        cols = [_jvp_columns(net, trained, frozen, a, chunk_x) for chunk_x in _chunks(b, min(n2, rows))]
        theta = jnp.concatenate(cols, axis=1)[:, :n2]
    if symmetric:
        theta = 0.5 * (theta + theta.T)
    return theta
