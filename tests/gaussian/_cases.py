"""Shared helpers for the Gaussian-engine tests: activations, numeric references, lambdify."""

from functools import lru_cache

import numpy as np
import sympy as sp

from mftsym.gaussian import SafeCorrelation, gauss_hermite_expectation, gaussian_expectation
from mftsym.gaussian.quadrature import split_quadrature_expectation
from mftsym.spec.expressions import X

K11, K12, K22 = sp.symbols("K11 K12 K22", positive=True)
x = X


def clipped_correlation(k12, k11, k22):
    """What the compiled backends print for SafeCorrelation."""
    return np.clip(k12 / np.sqrt(np.maximum(k11 * k22, 1e-300)), -1.0, 1.0)


NUMPY_MODULES = [{"SafeCorrelation": clipped_correlation}, "scipy", "numpy"]

SMOOTH = {
    "x": x,
    "cubic": x**3 - 3 * x,
    "erf": sp.erf(x),
    "erf_half": sp.erf(x / 2),
    "gelu": x * (1 + sp.erf(x / sp.sqrt(2))) / 2,
    "sin": sp.sin(x),
    "cos2": sp.cos(2 * x),
    "exp_half": sp.exp(x / 2),
    "gaussian": sp.exp(-x**2),
    "gaussian_b": sp.exp(-sp.Rational(3, 10) * x**2),
}
KINKED = {
    "relu": sp.Max(0, x),
    "leaky": sp.Rational(1, 5) * x + sp.Rational(4, 5) * sp.Max(0, x),
    "abs": sp.Abs(x),
    "step": sp.Heaviside(x),
    "sign": sp.sign(x),
    "relu2": sp.Max(0, x) ** 2,
    "relu3": sp.Max(0, x) ** 3,
    "relu_neg": sp.Max(0, -x),
    "relu_scaled": sp.Max(0, 2 * x),
}


@lru_cache(maxsize=None)
def closed_numeric(f, g):
    """(closed-form expr, numpy callable of (K11, K12, K22))."""
    expr = gaussian_expectation(f, g, K11, K12, K22, method="closed")
    return expr, sp.lambdify((K11, K12, K22), expr, modules=NUMPY_MODULES)


@lru_cache(maxsize=None)
def numpy_fn(f):
    fn = sp.lambdify(x, f, modules=["scipy", "numpy"])
    return lambda t: np.broadcast_to(np.asarray(fn(t), dtype=float), np.shape(t))


def reference(f, g, k11, k12, k22, kinked):
    """Quadrature reference: split Gauss-Legendre for kinks, Gauss-Hermite otherwise."""
    fn, gn = numpy_fn(f), numpy_fn(g)
    if kinked:
        return split_quadrature_expectation(fn, gn, k11, k12, k22, n=96)
    return float(gauss_hermite_expectation(fn, gn, k11, k12, k22, order=96))
