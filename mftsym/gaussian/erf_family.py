"""erf and polynomial x erf products by Stein's lemma, down to Williams' arcsine kernel.

Base case (Williams 1997, "Computing with infinite networks"):
    E[erf(c u) erf(d v)] = (2/pi) arcsin( 2 c d K12 / sqrt((1 + 2c^2 K11)(1 + 2d^2 K22)) ),
written with SafeCorrelation(2cd K12, 1 + 2c^2 K11, 1 + 2d^2 K22) so the argument is clipped.

Reduction (Stein's lemma / Gaussian integration by parts, Stein 1981):
    E[u F(u, v)] = K11 E[d_u F] + K12 E[d_v F],   E[v F] = K12 E[d_u F] + K22 E[d_v F].
d/du erf(c u) = (2c/sqrt(pi)) exp(-c^2 u^2) is a Gaussian factor, absorbed into the covariance
(:func:`mftsym.gaussian.wick.absorb_gaussian`), so every term ends at E[1], E[erf] = 0 (odd) or
the arcsine above with a modified covariance.  This closes gelu x gelu and gelu' x gelu'.
"""

from __future__ import annotations

from functools import lru_cache

import sympy as sp

from ..spec.expressions import is_zero
from .safe_correlation import SafeCorrelation
from .wick import absorb_gaussian, isserlis


def williams(c, d, A, B, C):
    """E[erf(c u) erf(d v)] (Williams 1997)."""
    rho = SafeCorrelation(2 * c * d * B, sp.cancel(1 + 2 * c**2 * A), sp.cancel(1 + 2 * d**2 * C))
    return 2 / sp.pi * sp.asin(rho)


@lru_cache(maxsize=8192)
def erf_moment(k: int, l: int, c, d, A, B, C):
    """E[u^k v^l erf(c u)^[c is not None] erf(d v)^[d is not None]], (u, v) ~ N(0, [[A,B],[B,C]])."""
    n_erf = (c is not None) + (d is not None)
    if (k + l + n_erf) % 2:                         # odd under (u, v) -> (-u, -v)
        return sp.S.Zero
    if n_erf == 0:
        return isserlis(k, l, A, B, C)
    if is_zero(B) and ((k + (c is not None)) % 2):      # independent and the u-part is odd
        return sp.S.Zero
    if k > 0:
        return A * _d_u(k - 1, l, c, d, A, B, C) + B * _d_v(k - 1, l, c, d, A, B, C)
    if l > 0:
        return B * _d_u(k, l - 1, c, d, A, B, C) + C * _d_v(k, l - 1, c, d, A, B, C)
    return williams(c, d, A, B, C)                  # k = l = 0, both erf present (parity)


def _d_u(k, l, c, d, A, B, C):
    """E[d/du (u^k v^l erf(cu) erf(dv))]."""
    out = k * erf_moment(k - 1, l, c, d, A, B, C) if k else sp.S.Zero
    if c is not None:
        pref, A2, B2, C2 = absorb_gaussian(c**2, sp.S.Zero, A, B, C)
        out += 2 * c / sp.sqrt(sp.pi) * pref * erf_moment(k, l, None, d, A2, B2, C2)
    return out


def _d_v(k, l, c, d, A, B, C):
    """E[d/dv (u^k v^l erf(cu) erf(dv))]."""
    out = l * erf_moment(k, l - 1, c, d, A, B, C) if l else sp.S.Zero
    if d is not None:
        pref, A2, B2, C2 = absorb_gaussian(sp.S.Zero, d**2, A, B, C)
        out += 2 * d / sp.sqrt(sp.pi) * pref * erf_moment(k, l, c, None, A2, B2, C2)
    return out
