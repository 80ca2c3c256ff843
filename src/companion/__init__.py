"""companion: the executable companion to the NTK theory of deep ResNets versus deep FFNets.

Modules (each holds one thing):
  models        finite-width FFNet / ResNet (NTK parametrization)
  kernels       exact NNGP / NTK recursions, depth-free evaluation, depth limits, degeneracy
  empirical     empirical NTK of a finite network (Jacobian contraction)
  training      full-batch gradient descent and its kernel (linearised) prediction
  data          MNIST / CIFAR loaders with checksums, preprocessing onto the sphere
  regression    kernel ridge and early-stopped (gradient-flow) kernel regression
  figures       citable figure files (PDF/SVG/PNG + sidecar JSON) and glue into chapters
  claims        the claim tables that chapters end with and the test suite re-checks
  chapters      every chapter's parameter sets (smoke / default / paper), validated
  build         executes chapters with caching and assembles the book

The package core never imports neural-tangents; it runs on the pinned JAX 0.5.3 and on current JAX.
"""

import jax

# Kernels are computed in float64 by default (deep recursions lose digits in float32); float32 stays
# available on request. This must happen before any array is created.
jax.config.update("jax_enable_x64", True)

__version__ = "0.1.0"
