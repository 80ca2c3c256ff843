"""The residual branch scaling ``alpha = L^-gamma`` (Tian & Yu 2024, Sec. 2; Huang et al. 2020 use
``gamma = 1``). One validated function, used by the networks, the kernels' callers and every chapter.
"""

from __future__ import annotations

import math

from companion.util import validate as check

_LOG_MAX = math.log(1.7976931348623157e308)  # log of the largest float64


def branch_scaling(depth: int, gamma: float) -> float:
    """The residual branch scaling ``alpha = L^-gamma`` (equation ``eq-resnet``, chapter 1).

    Args:
      depth: ``L >= 1``, the number of residual blocks (an integer).
      gamma: the decay exponent, any finite real (``gamma > 1/2`` keeps the kernel, Tian & Yu 2024).

    Returns:
      ``alpha = L^-gamma`` as a Python float (dimensionless).

    Raises:
      ValueError: ``depth < 1`` or not an integer; ``gamma`` not finite; ``L^-gamma`` overflows float64
        (checked in log space: ``-gamma ln L`` must stay below ``ln(max float64)``).
    """
    depth = check.integer("depth", depth, minimum=1)
    gamma = check.real("gamma", gamma)
    log_alpha = -gamma * math.log(depth)
    if log_alpha > _LOG_MAX:
        raise check.fail("gamma", gamma, f"gamma >= {-_LOG_MAX / math.log(depth):.6g} at depth={depth} "
                         f"(L^-gamma = exp({log_alpha:.4g}) overflows float64)")
    return float(depth) ** (-gamma)  # the power itself: exp(log_alpha) would differ in the last digit
