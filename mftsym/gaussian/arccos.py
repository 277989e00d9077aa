"""Arc-cosine family: rectified monomials u^n H(u) (Cho & Saul 2009) and their polynomial mixes.

Equal orders (Cho & Saul 2009, "Kernel methods for deep learning", eq. 3-4):
    E[u^n H(u) v^n H(v)] = (K11 K22)^{n/2} J_n(theta) / (2 pi),   theta = arccos(rho),
    J_n(theta) = (-1)^n (sin theta)^{2n+1} ((1/sin theta) d/dtheta)^n ((pi - theta)/sin theta),
    J_0 = pi - theta,  J_1 = sin theta + (pi - theta) cos theta,
    J_2 = 3 sin theta cos theta + (pi - theta)(1 + 2 cos^2 theta).
Mixed orders (same polar-coordinate derivation as Cho & Saul): with z1 = r cos phi, the whitened
v is r cos(phi - theta), and the positive quadrant is phi in (theta - pi/2, pi/2), so
    E[u^m H(u) v^n H(v)] = K11^{m/2} K22^{n/2} 2^{p/2} Gamma(p/2 + 1)/(2 pi)
                           * int_{theta-pi/2}^{pi/2} cos^m(phi) cos^n(phi - theta) dphi,  p = m + n.
One rectified factor (conditioning on u: v | u ~ N(K12 u / K11, K22 - K12^2/K11)):
    E[u^k H(u) v^l] = sum_j C(l, j) (K12/K11)^{l-j} E[w^j] E[u^{k+l-j} H(u)],
with the half moments E[u^p H(u)] = K11^{p/2} E[z^p H(z)], E[z^p H(z)] = (p-1)!!/2 (p even),
2^{(p-1)/2} ((p-1)/2)! / sqrt(2 pi) (p odd).
rho is always SafeCorrelation(K12, K11, K22).
"""

from __future__ import annotations

from functools import lru_cache

import sympy as sp

from .safe_correlation import SafeCorrelation
from .wick import _dfact

_theta = sp.Symbol("theta", positive=True)
_r = sp.Symbol("rho", real=True)


@lru_cache(maxsize=64)
def cho_saul_J(n: int):
    """J_n(theta) of Cho & Saul (2009), as an expression in the symbol ``theta``."""
    expr = (sp.pi - _theta) / sp.sin(_theta)
    for _ in range(n):
        expr = sp.diff(expr, _theta) / sp.sin(_theta)
    return sp.trigsimp(sp.expand((-1) ** n * sp.sin(_theta) ** (2 * n + 1) * expr))


def _in_rho(expr_theta):
    """Substitute theta = arccos(rho): cos -> rho, sin -> sqrt(1 - rho^2); simplified in rho."""
    e = sp.expand_trig(sp.expand(expr_theta))
    e = e.subs(_theta, sp.acos(_r))
    return sp.expand(sp.cancel(e))


@lru_cache(maxsize=64)
def _J_rho(n: int):
    return _in_rho(cho_saul_J(n))


@lru_cache(maxsize=64)
def _angular_rho(m: int, n: int):
    """int_{theta-pi/2}^{pi/2} cos^m(phi) cos^n(phi - theta) dphi, as an expression in rho."""
    phi = sp.Symbol("phi", real=True)
    integrand = sp.expand(sp.cos(phi) ** m * (sp.cos(phi) * sp.cos(_theta) + sp.sin(phi) * sp.sin(_theta)) ** n)
    total = sp.S.Zero
    for term in sp.Add.make_args(integrand):
        coef, rest = term.as_independent(phi)
        anti = sp.integrate(rest, phi)
        total += coef * (anti.subs(phi, sp.pi / 2) - anti.subs(phi, _theta - sp.pi / 2))
    return _in_rho(total)


def arccos_moment(m: int, n: int, A, B, C):
    """E[u^m H(u) v^n H(v)] for (u, v) ~ N(0, [[A, B], [B, C]])."""
    rho = SafeCorrelation(B, A, C)
    if m == n:
        body = _J_rho(n) / (2 * sp.pi)
    else:
        p = m + n
        body = 2 ** sp.Rational(p, 2) * sp.gamma(sp.Rational(p, 2) + 1) / (2 * sp.pi) * _angular_rho(m, n)
    return (A ** sp.Rational(m, 2) * C ** sp.Rational(n, 2)) * body.subs(_r, rho)


def half_moment(p: int, A):
    """E[u^p H(u)], u ~ N(0, A)."""
    if p % 2 == 0:
        h = sp.Rational(_dfact(p - 1), 2)
    else:
        h = 2 ** sp.Rational(p - 1, 2) * sp.factorial((p - 1) // 2) / sp.sqrt(2 * sp.pi)
    return A ** sp.Rational(p, 2) * h


def rectified_poly_moment(k: int, l: int, A, B, C):
    """E[u^k H(u) v^l] by conditioning on u.

    In terms of rho (B/A = rho sqrt(C/A), K22 - K12^2/K11 = C (1 - rho^2)) this is
        A^{k/2} C^{l/2} sum_{j even} C(l, j) rho^{l-j} (1 - rho^2)^{j/2} (j-1)!! E[z^{k+l-j} H(z)],
    which has no negative powers of K11.  The plain polynomial form is returned when it has none
    either (e.g. E[relu(u) v] = K12/2), else the SafeCorrelation form.
    """
    if l == 0:
        return half_moment(k, A)
    rho = _r
    total = sp.S.Zero
    for j in range(0, l + 1, 2):
        total += (sp.binomial(l, j) * rho ** (l - j) * (1 - rho**2) ** (j // 2) * _dfact(j - 1)
                  * half_moment(k + l - j, 1))
    total = A ** sp.Rational(k, 2) * C ** sp.Rational(l, 2) * sp.expand(total)
    plain = sp.expand(total.subs(rho, SafeCorrelation.plain(B, A, C)))
    if all(sp.Pow(t, 1).as_powers_dict().get(A, 0) >= 0 for t in sp.Add.make_args(plain)):
        return plain
    return total.subs(rho, SafeCorrelation(B, A, C))
