"""Gaussian-expectation engine: E[f(u) g(v)] for jointly Gaussian (u, v), symbolically.

Public API::

    gaussian_expectation(f, g, K11, K12, K22, *, method="auto", order=None) -> sympy.Expr
    GaussianExpectation(Lambda(x, f), Lambda(x, g), K11, K12, K22)   # unevaluated, differentiable
    SafeCorrelation(K12, K11, K22)            # K12/sqrt(K11 K22), printed clipped by the compilers
    gauss_hermite_expectation(f_num, g_num, K11, K12, K22, order=64)  # numpy reference
    hermite_nodes(order)                       # cached probabilists' Gauss-Hermite rule
    hermite_series(f, g, K11, K12, K22, order) # dual-activation series

One-dimensional E[f(u)], u ~ N(0, K) is ``gaussian_expectation(f, 1, K, 0, 1)``; its unevaluated
form is ``GaussianExpectation(Lambda(x, f), Lambda(x, 1), K, 0, 1)``.
"""

from .expectation import gaussian_expectation
from .hermite_series import hermite_series
from .node import GaussianExpectation, expectation_node
from .quadrature import gauss_hermite_expectation, gauss_hermite_expectation_1d, hermite_nodes
from .safe_correlation import SafeCorrelation, unsafe_correlations

__all__ = [
    "GaussianExpectation", "SafeCorrelation", "expectation_node", "gauss_hermite_expectation",
    "gauss_hermite_expectation_1d", "gaussian_expectation", "hermite_nodes", "hermite_series",
    "unsafe_correlations",
]
