"""Which Hermite degrees an activation carries: ``c_k = E_z[phi(z) He_k(z)] / k!`` for z ~ N(0, 1).

A pattern can only pass degree k through an activation with c_k != 0 (erf is odd: c_k = 0 for
even k, so an erf network cannot represent He_2 of its input at all).  Computed by Gauss-Hermite
quadrature of the activation's SymPy expression; a coefficient is zero when below ZERO_TOL
(the quadrature is exact for polynomials and converges fast for the smooth activations here).
"""

from __future__ import annotations

from functools import lru_cache
from math import factorial

import numpy as np
import sympy as sp

from ..spec.activations import X

ZERO_TOL = 1e-9
_NODES = 160


@lru_cache(maxsize=64)
def _coefficients(expr: sp.Expr, max_degree: int) -> tuple:
    f = sp.lambdify(X, expr, modules=["scipy", "numpy"])
    z, w = np.polynomial.hermite_e.hermegauss(_NODES)
    w = w / np.sqrt(2 * np.pi)
    vals = np.asarray(f(z), dtype=float) * np.ones_like(z)
    out = []
    for k in range(max_degree + 1):
        he = np.polynomial.hermite_e.hermeval(z, [0] * k + [1])
        out.append(float(np.sum(w * vals * he)) / factorial(k))
    return tuple(out)


def hermite_coefficients(activation, max_degree: int = 12) -> tuple:
    """(c_0, ..., c_max_degree) of ``activation`` (an ActivationFunction) at unit input variance."""
    return _coefficients(activation.expr, max_degree)


def carries_degree(activation, k: int) -> bool:
    """True when phi has a non-zero He_k coefficient."""
    c = hermite_coefficients(activation, max(k, 1))
    scale = max(abs(x) for x in c) or 1.0
    return abs(c[k]) > ZERO_TOL * scale


__all__ = ["hermite_coefficients", "carries_degree", "ZERO_TOL"]
