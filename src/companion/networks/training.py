"""Full-batch gradient descent on the squared loss, and the kernel (linearised-network) prediction of the same run.

The loss is ``L(p) = 1/(2n) sum_i (f(x_i; p) - y_i)^2`` over the trained parameters ``p`` (the names in
``net.trained``), and gradient descent is ``p <- p - eta grad L(p)``. For the network linearised at
initialisation, ``f_lin(x; p) = f(x; p0) + J(x) (p - p0)``, the same iteration is exactly::

    f_t = f_0 + (I - (I - eta Theta_0 / n)^t) (y - f_0)                               (train)
    f_t(x*) = f_0(x*) + Theta_0(x*, X) Theta_0^{-1} (I - (I - eta Theta_0 / n)^t) (y - f_0)   (test)

with ``Theta_0`` the empirical NTK at initialisation: that is the NTK (kernel regression) prediction
of the run, which the network follows as its width grows. The step size is set from the kernel:
``eta = lr_factor * n / lambda_max(Theta_0)``; the linearised iteration is stable for
``lr_factor < 2`` and its top mode is solved in one step at ``lr_factor = 1`` (the default).

The steps run inside ``jax.lax.scan`` in chunks of ``chunk`` steps (compiled once per network and
chunk length) and stop at the first step whose training loss is at most ``tol`` times the initial
loss, or after ``steps`` steps. A run whose loss becomes non-finite or grows 1e6-fold is stopped and
marked ``diverged``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np

from companion.util import validate as check
from companion.networks.empirical import empirical_ntk
from companion.networks.models import Network, Params, split

__all__ = ["TrainResult", "train", "linearised", "relative_change", "step_size"]


def _array(name: str, value, shape: tuple[int, ...] | None = None, what: str = "") -> np.ndarray:
    """``value`` as a finite float64 array (of ``shape`` if given); the standard error otherwise."""
    try:
        a = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise check.fail(name, value, f"a real numeric array{what}") from None
    if shape is not None and a.shape != shape:
        raise check.fail(name, f"array of shape {a.shape}", f"shape {shape}{what}")
    if not np.all(np.isfinite(a)):
        raise check.fail(name, "array with non-finite entries", "finite entries only (no NaN or inf)")
    return a


def _kernel(name: str, value) -> np.ndarray:
    a = _array(name, value)
    if a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape[0] < 1:
        raise check.fail(name, f"array of shape {a.shape}", "a square (n, n) kernel matrix, n >= 1")
    return a


def relative_change(theta0, theta1) -> float:
    """``||theta1 - theta0||_F / ||theta0||_F`` (both finite, same shape, ``theta0`` not zero)."""
    a = _array("theta0", theta0)
    b = _array("theta1", theta1, a.shape, " (the shape of theta0)")
    norm = float(np.linalg.norm(a))
    if not norm > 0:
        raise check.fail("theta0", "a zero array", "an array with a non-zero norm (it is the denominator)")
    return float(np.linalg.norm(b - a) / norm)


def step_size(theta0, n: int, lr_factor: float = 1.0) -> float:
    """``eta = lr_factor * n / lambda_max(theta0)`` (gradient descent on the 1/(2n)-normalised loss)."""
    K = _kernel("theta0", theta0)
    n = check.integer("n", n, minimum=1)
    lr_factor = check.real("lr_factor", lr_factor, minimum=0.0, min_inclusive=False)
    lam = float(np.linalg.eigvalsh(K)[-1])
    if not lam > 0:
        raise check.fail("theta0", f"kernel with top eigenvalue {lam}", "a kernel with a positive top eigenvalue")
    return lr_factor * n / lam


def linearised(theta0, theta0_test, f0, f0_test, y, eta: float, steps: int) -> dict[str, np.ndarray]:
    """Predictions of the linearised network after ``0..steps`` gradient-descent steps (``eq-05-linearised``:
    the network replaced by its first-order Taylor expansion at initialisation, Lee et al. 2019).

    Args:
      theta0: ``(n, n)`` kernel on the training inputs.
      theta0_test: ``(n_test, n)`` kernel between test and training inputs (``n_test`` may be 0).
      f0, f0_test: the network's outputs at initialisation on train and test inputs.
      y: ``(n,)`` targets.
      eta: step size; steps: the last step.

    Returns:
      ``{"f_train": (steps+1, n), "f_test": (steps+1, n_test), "loss": (steps+1,)}`` where row ``t``
      is the prediction after ``t`` steps and ``loss = 1/(2n) |f_t - y|^2``.
    """
    K = _kernel("theta0", theta0)
    n = K.shape[0]
    Kt = _array("theta0_test", theta0_test)
    Kt = Kt.reshape(0, n) if Kt.size == 0 else Kt  # no test points: (0,), (0, 0) or (0, n)
    if Kt.ndim != 2 or Kt.shape[1] != n:
        raise check.fail("theta0_test", f"array of shape {Kt.shape}", f"shape (n_test, {n}): K(X_test, X_train)")
    f0 = _array("f0", f0, (n,))
    f0_test = _array("f0_test", f0_test, (Kt.shape[0],), " (one output per row of theta0_test)")
    y = _array("y", y, (n,))
    eta = check.real("eta", eta, minimum=0.0, min_inclusive=False)
    steps = check.integer("steps", steps, minimum=0)
    lam, U = np.linalg.eigh(0.5 * (K + K.T))
    lam = np.maximum(lam, 0.0)  # rounding can leave tiny negative eigenvalues of a PSD kernel
    t = np.arange(steps + 1, dtype=float)[:, None]
    a = eta * lam / n
    decay = (1.0 - a)[None, :] ** t  # (1 - eta lam / n)^t; t is integer-valued, so any sign is fine
    r0 = U.T @ (y - f0)  # residual y - f0 in the eigenbasis
    f_train = f0 + ((1.0 - decay) * r0) @ U.T
    # g_t(lam) = (1 - (1 - eta lam / n)^t) / lam, with its limit t eta / n as lam -> 0.
    tiny = 1e-12 * max(lam[-1], 1e-300)
    g = np.where(lam > tiny, (1.0 - decay) / np.where(lam > tiny, lam, 1.0), t * eta / n)
    f_test = f0_test + (g * r0) @ (Kt @ U).T
    loss = 0.5 * np.mean((f_train - y) ** 2, axis=1)
    return {"f_train": f_train, "f_test": f_test, "loss": loss}


@dataclass
class TrainResult:
    """One gradient-descent run and its NTK (linearised) prediction.

    Arrays indexed by step have ``steps + 1`` rows (step 0 is initialisation).

    Attributes:
      eta, lr_factor: the step size and ``eta * lambda_max(theta0) / n``.
      steps: gradient steps taken; converged: the loss reached ``tol`` times its initial value;
      diverged: the run was stopped because the loss blew up.
      loss, loss_lin: training loss of the network and of its linearisation, per step.
      loss_test, loss_test_lin: the same on the test set (``None`` without ``y_test``).
      f0_train, f_train, f_train_lin: outputs on the training inputs at init, at the end, linearised.
      f0_test, f_test, f_test_lin: the same on the test inputs (``None`` without ``x_test``).
      f_test_path: network test outputs per step, ``(steps + 1, n_test)`` (``None`` without ``x_test``).
      theta0, thetaT: the empirical NTK on the training inputs before and after training.
      params: the final parameters (trained and frozen).
    """

    eta: float
    lr_factor: float
    steps: int
    converged: bool
    diverged: bool
    loss: np.ndarray
    loss_lin: np.ndarray
    f0_train: np.ndarray
    f_train: np.ndarray
    f_train_lin: np.ndarray
    theta0: np.ndarray
    thetaT: np.ndarray
    params: Params = field(repr=False)
    loss_test: np.ndarray | None = None
    loss_test_lin: np.ndarray | None = None
    f0_test: np.ndarray | None = None
    f_test: np.ndarray | None = None
    f_test_lin: np.ndarray | None = None
    f_test_path: np.ndarray | None = field(default=None, repr=False)

    @property
    def rel_change(self) -> float:
        """``||Theta_T - Theta_0||_F / ||Theta_0||_F`` on the training inputs (NaN for a diverged run,
        whose ``thetaT`` is NaN)."""
        return math.nan if self.diverged else relative_change(self.theta0, self.thetaT)

    def prediction_gap(self, on: str = "test") -> float:
        """Distance between network and linearised predictions at the end, relative to how far the
        linearised prediction moved: ``||f_T - f_T^lin|| / ||f_T^lin - f_0||`` (``on="test"`` or ``"train"``)."""
        check.choice("on", on, ("test", "train"))
        if on == "test":
            if self.f_test is None:
                raise check.fail("on", on, "'train' (this run had no test inputs)")
            f, fl, f0 = self.f_test, self.f_test_lin, self.f0_test
        else:
            f, fl, f0 = self.f_train, self.f_train_lin, self.f0_train
        return float(np.linalg.norm(f - fl) / np.linalg.norm(fl - f0))


@functools.partial(jax.jit, static_argnums=0)
def _apply(net: Network, params: Params, x: jax.Array) -> jax.Array:
    return net.apply(params, x)


@functools.partial(jax.jit, static_argnums=(0, 1))
def _gd_chunk(net: Network, chunk: int, trained, frozen, x, y, x_test, eta, target, blowup, n_active):
    """``chunk`` gradient steps (none once ``n_active`` is reached or the loss hits ``target``).

    Records, per step, the training loss and the test outputs *before* that step's update. Test inputs
    ride along in the same forward pass (no gradient flows through them), so they cost little.
    """
    n = x.shape[0]
    xs = jnp.concatenate([x, x_test])

    def loss_fn(p):
        f = net.apply({**p, **frozen}, xs)
        return 0.5 * jnp.mean((f[:n] - y) ** 2), f[n:]

    def step(p, i):
        (loss, f_test), g = jax.value_and_grad(loss_fn, has_aux=True)(p)
        bad = ~jnp.isfinite(loss) | (loss > blowup)
        stop = (i >= n_active) | (loss <= target) | bad
        p = jax.lax.cond(stop, lambda: p, lambda: jax.tree_util.tree_map(lambda a, b: a - eta * b, p, g))
        return p, loss, stop, bad, f_test

    def skip(p, i):  # after stopping: no forward or backward pass at all
        return p, jnp.full((), jnp.nan, y.dtype), jnp.array(True), jnp.array(False), jnp.zeros(x_test.shape[:1], y.dtype)

    def body(carry, i):
        p, done = carry
        p, loss, stop, bad, f_test = jax.lax.cond(done, skip, step, p, i)
        return (p, stop), (loss, stop, bad, f_test)

    (p, _), (losses, stopped, bad, f_tests) = jax.lax.scan(body, (trained, jnp.array(False)), jnp.arange(chunk))
    return p, losses, stopped, bad, f_tests


def train(
    net: Network,
    params: Params,
    x,
    y,
    *,
    steps: int = 1000,
    lr_factor: float = 1.0,
    tol: float = 1e-4,
    x_test=None,
    y_test=None,
    chunk: int = 100,
    ntk_max_bytes: int | None = None,
) -> TrainResult:
    """Full-batch gradient descent from ``params`` and the linearised (NTK) prediction of the same run.

    Args:
      net, params: the network and its initial parameters.
      x: ``(n, d)`` training inputs; y: ``(n,)`` targets.
      steps: the most gradient steps.
      lr_factor: ``c`` in ``eta = c n / lambda_max(Theta_0)``; in ``(0, 2)``.
      tol: stop at the first step with training loss ``<= tol * loss_0`` (``0`` runs all ``steps``).
      x_test, y_test: optional test inputs ``(n_test, d)`` and targets.
      chunk: steps per compiled ``lax.scan`` call.
      ntk_max_bytes: memory budget passed to :func:`companion.networks.empirical.empirical_ntk`.

    Returns:
      A :class:`TrainResult`.
    """
    steps = check.integer("steps", steps, minimum=1)
    lr_factor = check.real("lr_factor", lr_factor, minimum=0.0, maximum=2.0, min_inclusive=False, max_inclusive=False)
    tol = check.real("tol", tol, minimum=0.0, maximum=1.0, max_inclusive=False)
    chunk = check.integer("chunk", chunk, minimum=1)
    trained, frozen = split(net, params)
    dt = jax.tree_util.tree_leaves(trained)[0].dtype
    xa = check.matrix("x", x)
    n, d = xa.shape
    first = params.get({"ffnet": "W_in", "resnet": "A"}.get(net.arch, ""))
    if first is not None and first.shape[-1] != d:  # a companion.networks.models network: its input dimension is known
        raise check.fail("x", f"array with {d} features", f"the network's input dimension ({first.shape[-1]})")
    ya = _array("y", y, (n,), " (one target per row of x)")
    if x_test is None:
        if y_test is not None:
            raise check.fail("y_test", "an array", "None when x_test is None")
        xt = np.zeros((0, d))
    else:
        xt = check.matrix("x_test", x_test, features=d, other="x")
    yt = None
    if y_test is not None:
        yt = _array("y_test", y_test, (xt.shape[0],), " (one target per row of x_test)")
    kw = {} if ntk_max_bytes is None else {"max_bytes": ntk_max_bytes}

    X, Y, XT = jnp.asarray(xa, dt), jnp.asarray(ya, dt), jnp.asarray(xt, dt)
    XA = jnp.concatenate([X, XT])  # train and test inputs in one batch: one compile, one pass
    n_test = xt.shape[0]

    def kernel_and_outputs(p):
        # The kernel of train and test inputs together: one compiled function for every use in this run.
        k = np.asarray(empirical_ntk(net, p, XA, **kw))
        f = np.asarray(_apply(net, p, XA))
        return k[:n, :n], k[n:, :n], f[:n], f[n:]

    theta0, theta0_test, f0, f0_test = kernel_and_outputs(params)
    eta = step_size(theta0, n, lr_factor)
    loss0 = 0.5 * float(np.mean((f0 - ya) ** 2))
    target, blowup = tol * loss0, 1e6 * max(loss0, 1e-300)

    losses, test_path = [], []
    p, taken, diverged, converged = trained, 0, False, False
    while taken < steps:
        p, ls, stopped, bad, ft = _gd_chunk(
            net, chunk, p, frozen, X, Y, XT, eta, target, blowup, jnp.asarray(steps - taken)
        )
        stopped, ls, bad = np.asarray(stopped), np.asarray(ls), np.asarray(bad)
        k = int(np.argmax(stopped)) if stopped.any() else chunk  # updates made in this chunk
        losses.append(ls[:k])
        test_path.append(np.asarray(ft)[:k])
        taken += k
        if stopped.any():
            diverged = bool(bad[k])
            converged = bool(ls[k] <= target) and not diverged
            break
    final = {**p, **frozen}
    thetaT, _, f_T, f_T_test = kernel_and_outputs(final)
    if diverged:
        thetaT = np.full_like(theta0, np.nan)
    test_path.append(f_T_test[None])
    loss = np.concatenate(losses + [[0.5 * float(np.mean((f_T - ya) ** 2))]])
    converged = (converged or bool(loss[-1] <= target)) and not diverged

    lin = linearised(theta0, theta0_test, f0, f0_test, ya, eta, taken)
    res = TrainResult(
        eta=eta,
        lr_factor=lr_factor,
        steps=taken,
        converged=converged,
        diverged=diverged,
        loss=loss,
        loss_lin=lin["loss"],
        f0_train=f0,
        f_train=f_T,
        f_train_lin=lin["f_train"][-1],
        theta0=theta0,
        thetaT=thetaT,
        params=final,
    )
    if n_test:
        path = np.concatenate(test_path)
        res.f0_test, res.f_test, res.f_test_lin, res.f_test_path = f0_test, path[-1], lin["f_test"][-1], path
        if yt is not None:
            res.loss_test = 0.5 * np.mean((path - yt) ** 2, axis=1)
            res.loss_test_lin = 0.5 * np.mean((lin["f_test"] - yt) ** 2, axis=1)
    return res
