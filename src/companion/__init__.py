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

Importing the package changes no global JAX setting (in particular not ``jax_enable_x64``): the kernel
functions compute float64 results inside a scoped float64 context (``companion.kernels.precision``).
Code that builds its own float64 JAX arrays (finite networks, regression on the device, the chapters)
switches x64 on itself: ``jax.config.update("jax_enable_x64", True)`` before creating arrays.
"""

__version__ = "0.1.0"
