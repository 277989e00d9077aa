"""``gaussian_expectation``: E[f(u) g(v)] for (u, v) ~ N(0, [[K11, K12], [K12, K22]]).

The engine is linear: f and g are decomposed into canonical terms
(:mod:`mftsym.gaussian.terms`) and every pair of terms is closed by one rule:

* Gaussian factors exp(-a u^2 - b v^2) are first absorbed into the covariance (:mod:`.wick`);
* step/rectified terms u^k H(+-u): arc-cosine kernels (:mod:`.arccos`, Cho & Saul 2009) when both
  sides have one, conditioning on u when the other side is a polynomial; a flipped argument
  H(-u) is H(u) with K12 -> -K12;
* erf terms: Stein's lemma down to Williams' arcsine (:mod:`.erf_family`);
* pure polynomial x exponential (exp, sin, cos, sinh, cosh via complex exponentials): Wick after a
  mean shift (:mod:`.wick`), e.g. E[sin(au) sin(bv)] = exp(-(a^2 K11 + b^2 K22)/2) sinh(ab K12);
* DiracDelta^(j) terms (derivatives of steps) in one-dimensional expectations:
  E[h(u) delta^(j)(u)] = (-1)^j d^j/du^j [h(u) p_K(u)] at u = 0.
Anything else raises ``Unclosed`` internally and becomes a :class:`GaussianExpectation` node
(method "auto") or a :class:`~mftsym.errors.MftsymError` (method "closed").
"""

from __future__ import annotations

from functools import lru_cache

import sympy as sp

from ..errors import MftsymError
from ..spec.expressions import X, as_expr, is_zero
from .arccos import arccos_moment, rectified_poly_moment
from .erf_family import erf_moment
from .node import expectation_node
from .terms import DELTA, ERF, SMOOTH, STEP, Term, Unclosed, decompose
from .wick import absorb_gaussian, shifted_moment

METHODS = ("auto", "closed", "hermite", "quadrature")


def _flip(term: Term, B):
    """Map a H(-u) term to H(u): u^k H(-u) = (-1)^k (-u)^k H(-u); returns (sign, B)."""
    if term.kind == STEP and term.param == -1:
        return (-1) ** term.k, -B
    return 1, B


def _density_derivative_at_0(m: int, A):
    """p_A^(m)(0) for the N(0, A) density: (-1)^m A^{-m/2} He_m(0) / sqrt(2 pi A)."""
    if m % 2:
        return sp.S.Zero
    he0 = (-1) ** (m // 2) * (sp.factorial2(m - 1) if m > 1 else 1)
    return he0 / A ** sp.Rational(m, 2) / sp.sqrt(2 * sp.pi * A)


def _delta_1d(t: Term, A):
    """E[t(u)], u ~ N(0, A), for t = coef u^k exp(-alpha u^2 + beta u) delta^(j)(c u):
    (-1)^j (h p_A)^(j)(0) / (c^j |c|) with h = u^k exp(...), expanded by Leibniz' rule."""
    c, j = t.param
    u = sp.Dummy("u", real=True)
    h = u**t.k * sp.exp(-t.alpha * u**2 + t.beta * u)
    total = sp.S.Zero
    for i in range(j + 1):
        if is_zero(t.alpha) and is_zero(t.beta):
            hi = sp.factorial(t.k) if i == t.k else sp.S.Zero
        else:
            hi = h.subs(u, 0)
            h = sp.diff(h, u)
        if not is_zero(hi):
            total += sp.binomial(j, i) * hi * _density_derivative_at_0(j - i, A)
    return (-1) ** j * total / (c**j * sp.Abs(c))


def _pair(tf: Term, tg: Term, A, B, C):
    """E[tf(u) tg(v)] for one pair of canonical terms (raises Unclosed)."""
    coef = tf.coef * tg.coef
    trivial_g = tg.kind == SMOOTH and tg.k == 0 and is_zero(tg.alpha) and is_zero(tg.beta)
    if tf.kind == DELTA or tg.kind == DELTA:
        if tf.kind == DELTA and trivial_g:
            return coef * _delta_1d(tf, A)
        raise Unclosed(tf.as_expr() * tg.as_expr().subs(X, sp.Symbol("v")))
    pref, A2, B2, C2 = absorb_gaussian(tf.alpha, tg.alpha, A, B, C)
    kinds = {tf.kind, tg.kind}
    if STEP in kinds:
        if ERF in kinds or not is_zero(tf.beta) or not is_zero(tg.beta):
            raise Unclosed(tf.as_expr() * tg.as_expr().subs(X, sp.Symbol("v")))
        s1, B2 = _flip(tf, B2)
        s2, B2 = _flip(tg, B2)
        if tf.kind == STEP and tg.kind == STEP:
            val = arccos_moment(tf.k, tg.k, A2, B2, C2)
        elif tf.kind == STEP:
            val = rectified_poly_moment(tf.k, tg.k, A2, B2, C2)
        else:
            val = rectified_poly_moment(tg.k, tf.k, C2, B2, A2)
        return coef * pref * s1 * s2 * val
    if not is_zero(tf.beta) or not is_zero(tg.beta):
        if ERF in kinds:
            raise Unclosed(tf.as_expr() * tg.as_expr().subs(X, sp.Symbol("v")))
        return coef * pref * shifted_moment(tf.k, tg.k, tf.beta, tg.beta, A2, B2, C2)
    c = tf.param if tf.kind == ERF else None
    d = tg.param if tg.kind == ERF else None
    return coef * pref * erf_moment(tf.k, tg.k, c, d, A2, B2, C2)


def _pair_exponentials(expr):
    """c1 e^{m+t} + c2 e^{m-t} -> e^m [(c1 + c2) cosh t + (c1 - c2) sinh t].

    Applied to pairs whose coefficients are equal or opposite, or whose exponents are complex
    conjugates (trig activations), giving the usual sinh/cosh/sin/cos kernel forms.
    """
    groups, rest = {}, sp.S.Zero
    for term in sp.Add.make_args(expr):
        factors = sp.Mul.make_args(term)
        exps = [f for f in factors if isinstance(f, sp.exp)]
        if len(exps) != 1:
            rest += term
            continue
        E = sp.expand(exps[0].args[0])
        c = sp.Mul(*[f for f in factors if f is not exps[0]])
        groups[E] = groups.get(E, sp.S.Zero) + c
    items = list(groups.items())
    used, out = set(), rest
    for i, (E1, c1) in enumerate(items):
        if i in used:
            continue
        for j in range(i + 1, len(items)):
            E2, c2 = items[j]
            if j in used:
                continue
            conj = E1.has(sp.I) and is_zero(sp.expand(E1.subs(sp.I, -sp.I) - E2))
            if conj or is_zero(sp.expand(c1 - c2)) or is_zero(sp.expand(c1 + c2)):
                mid, t = (E1 + E2) / 2, (E1 - E2) / 2
                cp, cm = sp.expand(c1 + c2), sp.expand(c1 - c2)
                out += sp.exp(mid) * (cp * sp.cosh(t) + cm * sp.sinh(t))
                used.update((i, j))
                break
        else:
            out += c1 * sp.exp(E1)
    return out


def _tidy(expr):
    """Cancel the imaginary units of trig terms and pair exponentials into sinh/cosh."""
    if expr.has(sp.I):
        expr = sp.powsimp(sp.expand(expr, power_exp=False))
    if expr.has(sp.exp):
        expr = _pair_exponentials(expr)
    return expr


@lru_cache(maxsize=2048)
def _closed(f, g, K11, K12, K22):
    if not g.has(X):                                  # 1-D: E[f(u)] * g, independent of K12, K22
        f, g, K12, K22 = f * g, sp.S.One, sp.S.Zero, sp.S.One
    elif not f.has(X):
        f, g, K11, K12, K22 = g * f, sp.S.One, K22, sp.S.Zero, sp.S.One
    tfs = decompose(f)
    tgs = decompose(g)
    total = sp.S.Zero
    for tf in tfs:
        for tg in tgs:
            total += _pair(tf, tg, K11, K12, K22)
    return _tidy(total)


def gaussian_expectation(f, g, K11, K12, K22, *, method: str = "auto", order=None):
    """E[f(u) g(v)] for (u, v) ~ N(0, [[K11, K12], [K12, K22]]).

    ``f``, ``g``: SymPy expressions in ``mftsym.spec.expressions.X`` (constants allowed; then the
    result is a one-dimensional expectation independent of K12 and of the constant's variance).
    ``method``: "auto" (closed form, else an unevaluated :class:`GaussianExpectation`), "closed"
    (closed form or :class:`~mftsym.errors.MftsymError`), "hermite" (dual-activation series to
    ``order``, default 10; Daniely et al. 2016) or "quadrature" (always the node).
    """
    f, g, K11, K12, K22 = (as_expr(a) for a in (f, g, K11, K12, K22))
    if method not in METHODS:
        raise MftsymError(f"unknown method {method!r}; use one of {', '.join(METHODS)}")
    if method == "quadrature":
        return expectation_node(f, g, K11, K12, K22)
    if method == "hermite":
        from .hermite_series import hermite_series
        return hermite_series(f, g, K11, K12, K22, 10 if order is None else order)
    try:
        return _closed(f, g, K11, K12, K22)
    except Unclosed as exc:
        if method == "closed":
            raise MftsymError(
                f"no closed form for E[f(u) g(v)] with f = {f}, g = {g}: the term {exc.what} is not "
                "in the engine's table (polynomials, exp/sin/cos, Gaussians, erf, rectified "
                "monomials); use method='auto', 'hermite' or 'quadrature'") from None
        return expectation_node(f, g, K11, K12, K22)
