"""Finite-width networks: the FFNet and ResNet models (NTK parametrization), their empirical NTK, full-batch
gradient descent with its linearised prediction, and the neural-tangents reference models.

``models``, ``empirical``, ``training``, ``reference`` (imported only on use; needs jax 0.5.3).
"""
