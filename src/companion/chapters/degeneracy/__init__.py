"""Degeneracy with depth (chapter 3, ``notebooks/03_degeneracy.md``; Huang et al. 2020): the normalised
NNGP and NTK of the FFNet and the ResNet as functions of the input correlation, how fast they reach
their depth limits, why the FFNet limit is 1/4, and what the degenerate kernel does to learning on real
MNIST points.

Normalised kernels ``k(rho0) = K(x, x') / sqrt(K(x, x) K(x', x'))`` of unit inputs with correlation
``rho0`` come from :mod:`companion.kernels`; the depth limits and how they are approached::

    FFNet NTK        -> 1/4 for rho0 < 1, 1 at rho0 = 1  ("constant + nugget")
                        k_L = 1/4 + (3/8) ln L / L + h(rho0) / L + o(1/L)              (eq-03-rates)
    FFNet NNGP       -> 1                                                               (rank one)
    ResNet, alpha = L^-gamma, gamma > 1/2, trained="hidden":
        NTK          -> (kappa1(rho0) + rho0 kappa0(rho0)) / 2  (the depth-1 kernel k_1)
                        k_L = k_1 + L^(1 - 2 gamma) g1(rho0) + ...                      (eq-03-first-order)
        NNGP         -> rho0

Both expansions are this book's derivation (chapter 3), not the papers'. Why 1/4, and where the
``ln L / L`` comes from: with ``theta_l = arccos rho_l``, the FFNet's map is ``theta_{l+1} = theta_l -
theta_l^2 / (3 pi) - theta_l^3 / (18 pi^2) + ...``, so ``1 - kappa0(rho_l) = theta_l / pi =
3 / (l + (3/2) ln l + c(rho0) + o(1))``; the backward products ``P_l = prod_{j=l}^{L-1} kappa0(rho_j)``
are ``(l / L)^3`` times ``exp((9/2)(ln l / l - ln L / L) + O(1/l))``, and ``(1 / (L + 1)) sum_l rho_l P_l``
is ``1/4 + (9/2)(1/3 - 1/4) ln L / L + O(1/L)`` (see :mod:`.rate`).

Modules: :mod:`.study` (kernel curves, the MNIST Gram study, claims, tables), :mod:`.rate` (rates and the
derivation's steps), :mod:`.plots` (figures).
"""

from companion.chapters.common import ffnet_ntk, log_depths, resnet_ntk, rho_grid
from companion.chapters.degeneracy.rate import (
    BACKWARD_LOG_COEF, FFNET_LOG_COEF, KAPPA0_LOG_COEF, RATE_FIT, RATE_RHO0, asymptotics, backward_products,
    depth_rates, first_order_check, kappa0_log_slope, log_coefficient, ntk_from_sum, plain_trajectory, rate_study,
)
from companion.chapters.degeneracy.study import (
    CLAIM_DEPTH, claims, degenerate_prediction, gram_study, gram_table, limit_checks, log_rate_table,
    normalized_curves, rates_table, run,
)
from companion.chapters.degeneracy.plots import (
    plot_asymptotics, plot_gram_measures, plot_log_rate, plot_nngp_curves, plot_ntk_curves, plot_rates, plot_spectra,
)

__all__ = [
    "BACKWARD_LOG_COEF", "CLAIM_DEPTH", "FFNET_LOG_COEF", "KAPPA0_LOG_COEF", "RATE_FIT", "RATE_RHO0", "asymptotics",
    "backward_products", "claims", "degenerate_prediction", "depth_rates", "ffnet_ntk", "first_order_check",
    "gram_study", "gram_table", "kappa0_log_slope", "limit_checks", "log_coefficient", "log_depths", "log_rate_table",
    "normalized_curves", "ntk_from_sum", "plain_trajectory", "plot_asymptotics", "plot_gram_measures", "plot_log_rate",
    "plot_nngp_curves", "plot_ntk_curves", "plot_rates", "plot_spectra", "rate_study", "rates_table", "resnet_ntk", "rho_grid", "run",
]
