"""Dual-activation (Hermite) series (Daniely, Frostig & Singer 2016; see docs/theory/nngp_ntk.md):

    E[f(u) g(v)] = sum_{n>=0} c_n(K11) d_n(K22) K12^n / n!,
    c_n(K) = E_{z~N(0,K)}[f^(n)(z)],  d_n(K) = E_{z~N(0,K)}[g^(n)(z)].

(Expand the bivariate density in K12 (Mehler's formula) and integrate by parts n times.)  The
coefficients are closed forms from the engine when possible (derivatives of steps give
DiracDelta terms, which the 1-D engine handles), otherwise 1-D ``GaussianExpectation`` nodes.
"""

from __future__ import annotations

import sympy as sp

from ..spec.expressions import X, as_expr, is_zero


def hermite_series(f, g, K11, K12, K22, order: int):
    """Truncated series sum_{n <= order} c_n(K11) d_n(K22) K12^n / n!."""
    from .expectation import gaussian_expectation

    f, g, K11, K12, K22 = (as_expr(a) for a in (f, g, K11, K12, K22))
    total = sp.S.Zero
    fn, gn = f, g
    for n in range(int(order) + 1):
        if is_zero(fn) or is_zero(gn):
            break
        c = gaussian_expectation(fn, 1, K11, 0, 1)
        d = gaussian_expectation(gn, 1, K22, 0, 1) if not is_zero(c) else sp.S.Zero
        total += c * d * K12**n / sp.factorial(n)
        fn, gn = sp.diff(fn, X), sp.diff(gn, X)
    return total
