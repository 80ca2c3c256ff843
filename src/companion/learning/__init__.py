"""Learning with kernels: kernel ridge and early-stopped (gradient-flow) regression from one
eigendecomposition, model selection on a validation split, and power-law fits.

``regression``, ``fits``.
"""
