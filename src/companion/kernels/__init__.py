"""Exact infinite-width kernels (NNGP and NTK) of the ReLU FFNet and ResNet "model H".

Main entry points::

    k = ffnet_kernels(x1, x2, depth=L)                                   # FFNet, all layers trained
    k = resnet_kernels(x1, x2, depth=L, alpha=a, trained="hidden")       # ResNet, only W_l, V_l trained
    k = resnet_kernels(x1, x2, depth=L, alpha=a, trained="all")          # also input A and readout v
    k.nngp, k.ntk                                                        # (n1, n2) arrays

Scale conventions (``K_0 = <x, x'>``; all kernels positively homogeneous, any input norms): for a
unit-norm ``x`` the FFNet NTK is ``L + 1`` on the diagonal and the ResNet ``trained="hidden"`` NTK is
``2 L alpha^2 (1 + alpha^2)^(L-1)``; see :func:`diagonal`.

Methods: ``method="recursion"`` runs the layer recursion on every Gram entry (``L`` elementwise
passes); ``method="depthfree"`` evaluates a cached piecewise-Chebyshev table of the depth-L map in the
input angle (one pass whatever the depth; error bound in ``Kernels.error_bound``, ~1e-14 relative to
the diagonal); ``"auto"`` picks the cheaper. Results stay on the device(s) when one chunk suffices,
otherwise they are assembled in host memory (NumPy), so very large n fits on one accelerator.

Correlations: :func:`correlations` gives ``rho`` with ``1 - rho`` and ``1 + rho`` free of cancellation
(nearly aligned pairs recomputed from the rows), the representation every kernel here maps;
:func:`normalized_kernels` gives ``K / sqrt(K(x, x) K(x', x'))`` from inputs, with no overflow limit.

Precision: importing the package changes no JAX setting. float64 results are computed in float64
whatever ``jax_enable_x64`` is (a scoped switch, :mod:`.precision`); float32 results are within 1e-5
(normalised units) of float64. Derivatives: forward and reverse mode (see :mod:`.api`).

Modules: :mod:`.correlation` (``1 -+ rho`` without cancellation, the one validated correlation
argument), :mod:`.precision` (scoped float64), :mod:`.arccos` (``kappa0``, ``kappa1`` and the stable one-layer step), :mod:`.recursion`
(layer recursion carried in ``1 - rho``, one compiled loop over depth), :mod:`.depthfree` (one table of the depth-L map in
the angle, then O(1) per entry), :mod:`.gram` (blocked, sharded evaluation), :mod:`.products` (entries
``|x| |x'| S k`` without overflow, and their Cauchy-Schwarz bound), :mod:`.limits`
(closed-form depth limits), :mod:`.degeneracy` (how far a kernel matrix is from "constant + nugget"),
:mod:`.scaling` (the branch scaling ``alpha = L^-gamma``), :mod:`.trajectory` (``q_l`` and ``rho_l`` layer by layer).
"""

from .api import (
    Correlations,
    Kernels,
    NotDifferentiableError,
    choose_method,
    correlations,
    diagonal,
    ffnet_kernels,
    ffnet_normalized,
    normalized_kernels,
    resnet_kernels,
    resnet_normalized,
)
from .arccos import kappa0, kappa1
from .degeneracy import (
    constant_kernel_distance,
    degeneracy_report,
    effective_rank,
    gram_spectrum,
    normalize_kernel,
)
from .limits import depth1_limit, ffnet_limit, ode_limit, resnet_limit
from .scaling import branch_scaling
from .trajectory import nngp_trajectory, two_inputs

__all__ = [
    "Correlations",
    "Kernels",
    "branch_scaling",
    "NotDifferentiableError",
    "correlations",
    "normalized_kernels",
    "choose_method",
    "constant_kernel_distance",
    "degeneracy_report",
    "depth1_limit",
    "diagonal",
    "effective_rank",
    "ffnet_kernels",
    "ffnet_limit",
    "ffnet_normalized",
    "gram_spectrum",
    "kappa0",
    "kappa1",
    "nngp_trajectory",
    "normalize_kernel",
    "ode_limit",
    "resnet_kernels",
    "resnet_limit",
    "resnet_normalized",
    "two_inputs",
]
