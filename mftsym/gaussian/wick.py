"""Gaussian-times-polynomial family: Isserlis/Wick moments, Gaussian absorption, mean shifts.

* Isserlis (1918) / Wick: for (u, v) ~ N(0, [[A, B], [B, C]]),
      E[u^k v^l] = sum_j  C(k,j) C(l,j) j! (k-j-1)!! (l-j-1)!! A^{(k-j)/2} C^{(l-j)/2} B^j,
  the sum over j = number of u-v pairings, k - j and l - j even.
* Absorbing a Gaussian factor: E_K[exp(-a u^2 - b v^2) F(u, v)] = E_{K'}[F] / sqrt(det(I + D K)),
  D = diag(2a, 2b), K' = (K^-1 + D)^-1.  Componentwise, with Delta = AC - B^2 and
  M = det(I + DK) = (1 + 2aA)(1 + 2bC) - 4ab B^2:
      K'11 = (A + 2b Delta)/M,  K'12 = B/M,  K'22 = (C + 2a Delta)/M   (valid also for Delta = 0).
* Linear exponent (exp / sin / cos activations): E_K[exp(L.w) p(w)] = exp(L^T K L / 2) E_K[p(w + K L)].
"""

from __future__ import annotations

from functools import lru_cache

import sympy as sp

from ..spec.expressions import is_zero


def _dfact(n: int) -> int:
    return 1 if n <= 0 else int(sp.factorial2(n))


@lru_cache(maxsize=4096)
def isserlis(k: int, l: int, A, B, C):
    """E[u^k v^l] for (u, v) ~ N(0, [[A, B], [B, C]])."""
    if (k + l) % 2:
        return sp.S.Zero
    total = sp.S.Zero
    for j in range(min(k, l) + 1):
        if (k - j) % 2 or (l - j) % 2:
            continue
        total += (sp.binomial(k, j) * sp.binomial(l, j) * sp.factorial(j) * _dfact(k - j - 1)
                  * _dfact(l - j - 1) * A ** ((k - j) // 2) * C ** ((l - j) // 2) * B**j)
    return total


@lru_cache(maxsize=4096)
def absorb_gaussian(a, b, A, B, C):
    """(prefactor, A', B', C') with E_K[e^{-a u^2 - b v^2} F] = prefactor * E_{K'}[F]."""
    if is_zero(a) and is_zero(b):
        return sp.S.One, A, B, C
    d1, d2 = 2 * a, 2 * b
    delta = A * C - B**2
    M = sp.cancel((1 + d1 * A) * (1 + d2 * C) - d1 * d2 * B**2)
    A2 = sp.cancel((A + d2 * delta) / M)
    B2 = sp.cancel(B / M)
    C2 = sp.cancel((C + d1 * delta) / M)
    return 1 / sp.sqrt(M), A2, B2, C2


@lru_cache(maxsize=4096)
def shifted_moment(k: int, l: int, bu, bv, A, B, C):
    """E[u^k v^l exp(bu u + bv v)] = exp(L^T K L / 2) E[(u + m1)^k (v + m2)^l], m = K L."""
    if is_zero(bu) and is_zero(bv):
        return isserlis(k, l, A, B, C)
    m1 = A * bu + B * bv
    m2 = B * bu + C * bv
    total = sp.S.Zero
    for i in range(k + 1):
        for j in range(l + 1):
            mom = isserlis(i, j, A, B, C)
            if not is_zero(mom):
                total += sp.binomial(k, i) * sp.binomial(l, j) * m1 ** (k - i) * m2 ** (l - j) * mom
    return sp.exp((bu**2 * A + 2 * bu * bv * B + bv**2 * C) / 2) * total
