"""Chapter 4 (``notebooks/04_alpha_scaling.md``): which branch scaling alpha = L^-gamma keeps the kernel.

``phase`` (the phase diagram in gamma and L), ``spectral`` (eigenvalue decay on the sphere), ``synthetic``
(early-stopped kernel regression against the minimax rate).
"""
