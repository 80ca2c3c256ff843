"""companion: the executable companion to the NTK theory of deep ResNets versus deep FFNets.

The package is built in layers; each imports only the layers below it (``tests/test_layers.py`` runs the
import-linter contracts that enforce this):

  book       build the book: execute chapters with caching, Colab notebooks, pages, command line
  chapters   one module (or subpackage) per chapter: its parameters, ``run``, claims and plots
  publish    what chapters publish: citable figures, plotting style, claim tables
  learning   kernel regression with model selection, power-law fits
  networks   finite-width FFNet / ResNet, empirical NTK, training, neural-tangents reference models
  data       dataset registry, verified downloads, preprocessing onto the sphere
  kernels    exact NNGP / NTK recursions, depth-free evaluation, depth limits, degeneracy measures
  util       argument validation, atomic files and caches, resumable sweeps

The package core never imports neural-tangents; it runs on the pinned JAX 0.5.3 and on current JAX.
"""

import jax

# Kernels are computed in float64 by default (deep recursions lose digits in float32); float32 stays
# available on request. This must happen before any array is created.
jax.config.update("jax_enable_x64", True)

__version__ = "0.1.0"
