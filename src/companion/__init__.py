"""companion: the executable companion to the NTK theory of deep ResNets versus deep FFNets.

Modules (each holds one thing):
  models         finite-width FFNet / ResNet (NTK parametrization)
  kernels        exact NNGP / NTK recursions, depth-free evaluation, depth limits, degeneracy measures
  empirical      empirical NTK of a finite network (Jacobian contraction)
  training       full-batch gradient descent and its linearised (NTK) prediction
  fits           log-log slopes and power laws with intervals
  sweep          resumable, content-addressed parameter sweeps with progress
  data           MNIST / CIFAR loaders with checksums, preprocessing onto the sphere
  regression     kernel ridge and early-stopped (gradient-flow) kernel regression from one eigendecomposition
  io             atomic writes, hashes and a verified content-addressed cache
  figures        citable figure files (PDF/SVG/PNG + sidecar JSON) and glue into chapters
  claims         the claim tables that chapters end with and the test suite re-checks
  chapters       every chapter's parameter sets (smoke / default / paper), validated
  signal, kernel_checks, depth, phase, spectral, synthetic, finite_width, experiments
                 the experiments of chapters 1-6 (computation, claims and plots)
  reference      neural-tangents models of the same networks (imported only on use; needs jax 0.5.3)
  build, colab, site, cli
                 chapter execution with caching, Colab notebooks, generated pages, command line

The package core never imports neural-tangents; it runs on the pinned JAX 0.5.3 and on current JAX.

Importing the package changes no global JAX setting (in particular not ``jax_enable_x64``): the kernel
functions compute float64 results inside a scoped float64 context (``companion.kernels.precision``).
Code that builds its own float64 JAX arrays (finite networks, regression on the device, the chapters)
switches x64 on itself: ``jax.config.update("jax_enable_x64", True)`` before creating arrays.
"""

__version__ = "0.1.0"
