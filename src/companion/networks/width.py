"""Finite-width measurements, one network per call: how far a network of width ``m`` is from its NTK at
initialisation (:func:`init_point`) and after training (:func:`change_point`).

Each function takes and returns plain dicts, so that :func:`companion.util.sweep.run_sweep` can store every
finished network as its own entry. Chapters 2 and 5 sweep these over widths, depths and seeds.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Mapping

import jax
import numpy as np

from companion.util import validate as check
from companion.networks import models
from companion.networks.empirical import empirical_ntk
from companion.networks.training import train


SWEEP_VERSION = "2"  # part of every stored sweep entry's address: bump when a point function changes
INIT_VERSION = "3"  # the same for init_point (3: also the error against another gamma's kernel)


def other_gamma(gamma: float) -> float:
    """The branch scaling whose kernel serves as a wrong reference for ``gamma``: 1 for every gamma != 1,
    1/2 for gamma = 1 (the counterfactual of the width-rate claims of chapters 2 and 5)."""
    gamma = check.real("gamma", gamma, minimum=0.0)
    return 0.5 if gamma == 1.0 else 1.0


def sphere_data(n: int, d: int, seed: int, n_test: int = 0) -> dict[str, np.ndarray]:
    """``n`` training and ``n_test`` test inputs uniform on ``S^(d-1)`` with labels ``y = sign(x_1)``.

    Returns ``{"x": (n, d), "y": (n,), "x_test": (n_test, d), "y_test": (n_test,)}`` (float64). The
    draw depends only on ``(n, d, seed, n_test)``, so every width sees the same data for a seed.
    """
    n = check.integer("n", n, minimum=1)
    d = check.integer("d", d, minimum=2)
    seed = check.integer("seed", seed, minimum=0)
    n_test = check.integer("n_test", n_test, minimum=0)
    rng = np.random.default_rng([seed, n, d, n_test, 5])
    z = rng.standard_normal((n + n_test, d))
    x = z / np.linalg.norm(z, axis=1, keepdims=True)
    y = np.where(x[:, 0] >= 0, 1.0, -1.0)
    return {"x": x[:n], "y": y[:n], "x_test": x[n:], "y_test": y[n:]}


def network(arch: str, depth: int, width: int, activation: str = "relu", gamma: float | None = None,
            trained: str = "hidden") -> models.Network:
    """The chapter's networks, cached so that every seed reuses the same compiled functions.

    ``arch="ffnet"`` (``gamma`` must be ``None``; all layers trained) or ``"resnet"`` with
    ``alpha = depth ** -gamma`` and ``trained`` (default ``"hidden"``, the setting of Huang et al. 2020).
    """
    # Checked before the cache: it would take depth=True or 2.0 for the cached network of depth 1 or 2.
    check.choice("arch", arch, ("ffnet", "resnet"))
    depth = check.integer("depth", depth, minimum=1)  # before depth ** -gamma (0 ** -gamma would raise)
    width = check.integer("width", width, minimum=1)
    check.choice("activation", activation, models.ACTIVATIONS)
    check.choice("trained", trained, check.TRAINED)
    if arch == "ffnet":
        if gamma is not None:
            raise check.fail("gamma", gamma, "None for arch='ffnet'")
    else:
        gamma = check.real("gamma", gamma, minimum=0.0)
    return _network(arch, depth, width, activation, gamma, trained)


@functools.lru_cache(maxsize=256)
def _network(arch: str, depth: int, width: int, activation: str, gamma: float | None, trained: str) -> models.Network:
    if arch == "ffnet":
        return models.ffnet(depth, width, activation)
    return models.resnet(depth, width, models.branch_scaling(depth, gamma), activation, trained)


def label(arch: str, activation: str, gamma: float | None, *, tex: bool = True) -> str:
    """Legend text, e.g. ``"FFNet relu"`` or ``"ResNet gelu, gamma=0.5"``: LaTeX gamma for figures
    (``tex=True``), the Unicode letter for Markdown tables (``tex=False``)."""
    check.choice("arch", arch, ("ffnet", "resnet"))
    if arch == "resnet":
        gamma = check.real("gamma", gamma)
    if arch == "ffnet":
        return f"FFNet {activation}"
    return rf"ResNet {activation}, $\gamma={gamma:g}$" if tex else f"ResNet {activation}, γ = {gamma:g}"


CURVE_POINTS = 60  # log-spaced steps kept of each loss curve


def _curve_steps(T: int) -> np.ndarray:
    return np.unique(np.concatenate([[0], np.round(np.geomspace(1, max(T, 1), CURVE_POINTS)).astype(int), [T]]))


def change_point(point: Mapping[str, Any]) -> dict[str, Any]:
    """Train one network and measure how far it left its NTK.

    Args:
      point: ``arch``, ``activation``, ``gamma`` (``None`` for the FFNet), ``depth``, ``width``, ``n``,
        ``d``, ``n_test``, ``seed`` (data and initialisation), ``max_steps``, ``tol``, ``lr_factor``.

    Returns:
      ``rel_change`` (``||Theta_T - Theta_0||_F / ||Theta_0||_F``), ``op_change`` (``||Theta_T - Theta_0||_2``)
      and ``op_change_over_lmin`` (that over ``lambda_min(Theta_0)``: the quantity the convergence proofs
      keep below ~1/2, since it bounds how far the kernel's smallest eigenvalue can fall), ``gap_test`` / ``gap_train`` (network vs
      linearised predictions after training, relative to the linearised model's move), ``steps``,
      ``converged``, ``diverged``, ``eta``, ``lambda_max`` / ``lambda_min`` of ``Theta_0``, ``loss0``,
      ``loss``, ``loss_lin``, ``test_loss``, ``test_loss_lin`` (final), and log-spaced curves
      ``curve_step``, ``curve_loss``, ``curve_loss_lin``, ``curve_test``, ``curve_test_lin``.
    """
    p = dict(point)
    net = network(p["arch"], p["depth"], p["width"], p["activation"], p["gamma"])
    data = sphere_data(p["n"], p["d"], p["seed"], p["n_test"])
    params = net.init(jax.random.PRNGKey(p["seed"]), p["d"])
    r = train(net, params, data["x"], data["y"], steps=p["max_steps"], lr_factor=p["lr_factor"], tol=p["tol"],
              x_test=data["x_test"] if p["n_test"] else None, y_test=data["y_test"] if p["n_test"] else None)
    lam = np.linalg.eigvalsh(r.theta0)
    ks = _curve_steps(r.steps)
    op = float(np.linalg.norm(r.thetaT - r.theta0, 2)) if not r.diverged else math.nan
    out = {
        "rel_change": r.rel_change if not r.diverged else math.nan,
        "op_change": op, "op_change_over_lmin": op / float(lam[0]),
        "gap_train": r.prediction_gap("train"),
        "steps": r.steps, "converged": r.converged, "diverged": r.diverged, "eta": r.eta,
        "lambda_max": float(lam[-1]), "lambda_min": float(lam[0]),
        "loss0": float(r.loss[0]), "loss": float(r.loss[-1]), "loss_lin": float(r.loss_lin[-1]),
        "curve_step": ks, "curve_loss": r.loss[ks], "curve_loss_lin": r.loss_lin[ks],
    }
    if p["n_test"]:
        out.update({
            "gap_test": r.prediction_gap("test"),
            "test_loss": float(r.loss_test[-1]), "test_loss_lin": float(r.loss_test_lin[-1]),
            "curve_test": r.loss_test[ks], "curve_test_lin": r.loss_test_lin[ks],
        })
    return out


def analytic_ntk(arch: str, depth: int, gamma: float | None, x: np.ndarray) -> np.ndarray:
    """The exact infinite-width ReLU NTK (:mod:`companion.kernels`) of :func:`network`'s architecture."""
    from companion.kernels import ffnet_kernels, resnet_kernels

    check.choice("arch", arch, ("ffnet", "resnet"))
    depth = check.integer("depth", depth, minimum=1)
    if arch == "ffnet":
        return np.asarray(ffnet_kernels(x, depth=depth).ntk)
    gamma = check.real("gamma", gamma, minimum=0.0)
    return np.asarray(resnet_kernels(x, depth=depth, alpha=models.branch_scaling(depth, gamma), trained="hidden").ntk)


def init_point(point: Mapping[str, Any]) -> dict[str, Any]:
    """Empirical NTK of a ReLU network at initialisation against the exact kernel.

    Args:
      point: ``arch``, ``gamma``, ``depth``, ``width``, ``n``, ``d``, ``seed``.

    Returns:
      ``rel_error = ||Theta_m - Theta||_F / ||Theta||_F``, ``diag_error`` (the same on the diagonal) and,
      for a ResNet, ``rel_error_other``: the same error against the kernel of the ResNet with
      :func:`other_gamma` (a wrong reference: it must not fall with the width).
    """
    p = dict(point)
    net = network(p["arch"], p["depth"], p["width"], "relu", p["gamma"])
    x = sphere_data(p["n"], p["d"], p["seed"])["x"]
    emp = np.asarray(empirical_ntk(net, net.init(jax.random.PRNGKey(p["seed"]), p["d"]), x))
    ref = analytic_ntk(p["arch"], p["depth"], p["gamma"], x)
    out = {
        "rel_error": float(np.linalg.norm(emp - ref) / np.linalg.norm(ref)),
        "diag_error": float(np.linalg.norm(np.diag(emp) - np.diag(ref)) / np.linalg.norm(np.diag(ref))),
    }
    if p["arch"] == "resnet":
        other = analytic_ntk("resnet", p["depth"], other_gamma(p["gamma"]), x)
        out["rel_error_other"] = float(np.linalg.norm(emp - other) / np.linalg.norm(other))
    return out
