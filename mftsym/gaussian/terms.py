"""Decomposition of an activation into a sum of canonical terms (linearity of E).

Every supported activation (or derivative) is rewritten as

    f(x) = sum_t  coef_t * x**k_t * exp(-alpha_t x**2 + beta_t x) * S_t(x),

with one "special" factor S_t in {1, erf(c x), Heaviside(s x) (s = +-1), DiracDelta^(j)(c x)}.
The rewrite rules (valid for real x, no sign assumptions needed) are

    Max(0, y) = y H(y),  Min(0, y) = y H(-y),  |y| = y H(y) - y H(-y),  sign(y) = H(y) - H(-y),
    sin y = (e^{iy} - e^{-iy}) / 2i,  cos y = (e^{iy} + e^{-iy}) / 2  (likewise sinh, cosh),

and H(c x) = H(sign(c) x) when the sign of c is known.  Trig and exp activations therefore land
in the Gaussian-times-polynomial family with a (possibly imaginary) linear exponent beta.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ..spec.expressions import X, as_expr, is_zero

SMOOTH, ERF, STEP, DELTA = "smooth", "erf", "step", "delta"


class Unclosed(Exception):
    """Raised internally when a term (or pair of terms) has no closed form in the engine."""

    def __init__(self, what):
        self.what = what
        super().__init__(str(what))


@dataclass(frozen=True)
class Term:
    """coef * x**k * exp(-alpha x^2 + beta x) * special; ``param`` is c (erf), s (step) or (c, j) (delta)."""

    coef: sp.Expr
    k: int = 0
    alpha: sp.Expr = sp.S.Zero
    beta: sp.Expr = sp.S.Zero
    kind: str = SMOOTH
    param: object = None

    def as_expr(self):
        special = {SMOOTH: sp.S.One, ERF: lambda: sp.erf(self.param * X),
                   STEP: lambda: sp.Heaviside(self.param * X),
                   DELTA: lambda: sp.DiracDelta(self.param[0] * X, self.param[1])}[self.kind]
        special = special() if callable(special) else special
        return self.coef * X**self.k * sp.exp(-self.alpha * X**2 + self.beta * X) * special


def _linear_coeff(arg):
    """c if arg == c*x (c free of x), else None."""
    if not arg.has(X):
        return None
    c = sp.diff(arg, X)
    if c.has(X) or not is_zero(sp.expand(arg - c * X)):
        return None
    return c


def _max_rule(*args):
    if len(args) == 2 and any(is_zero(a) for a in args):
        y = args[0] if is_zero(args[1]) else args[1]
        return y * sp.Heaviside(y)
    return sp.Max(*args)


def _min_rule(*args):
    if len(args) == 2 and any(is_zero(a) for a in args):
        y = args[0] if is_zero(args[1]) else args[1]
        return y * sp.Heaviside(-y)
    return sp.Min(*args)


_REWRITES = [
    (sp.Max, _max_rule),
    (sp.Min, _min_rule),
    (sp.Abs, lambda y: y * sp.Heaviside(y) - y * sp.Heaviside(-y)),
    (sp.sign, lambda y: sp.Heaviside(y) - sp.Heaviside(-y)),
    (sp.sin, lambda y: (sp.exp(sp.I * y) - sp.exp(-sp.I * y)) / (2 * sp.I)),
    (sp.cos, lambda y: (sp.exp(sp.I * y) + sp.exp(-sp.I * y)) / 2),
    (sp.sinh, lambda y: (sp.exp(y) - sp.exp(-y)) / 2),
    (sp.cosh, lambda y: (sp.exp(y) + sp.exp(-y)) / 2),
]


def canonical_form(expr):
    """Apply the rewrite rules above and expand into a sum of products."""
    expr = as_expr(expr)
    for cls, rule in _REWRITES:
        if expr.has(cls):
            expr = expr.replace(cls, rule)
    return sp.expand(expr)


def _special_of(factor):
    """(kind, param) of a single special factor, or raise Unclosed."""
    if isinstance(factor, sp.erf):
        c = _linear_coeff(factor.args[0])
        if c is not None:
            return ERF, c
    elif isinstance(factor, sp.Heaviside):
        c = _linear_coeff(factor.args[0])
        if c is not None and c.is_positive:
            return STEP, 1
        if c is not None and c.is_negative:
            return STEP, -1
    elif isinstance(factor, sp.DiracDelta):
        c = _linear_coeff(factor.args[0])
        j = int(factor.args[1]) if len(factor.args) > 1 else 0
        if c is not None and c.is_nonzero and c.is_real:
            return DELTA, (c, j)
    raise Unclosed(factor)


def _classify(product):
    coef, k, alpha, beta, kind, param = sp.S.One, 0, sp.S.Zero, sp.S.Zero, SMOOTH, None
    for factor in sp.Mul.make_args(product):
        if not factor.has(X):
            coef *= factor
            continue
        base, e = factor.as_base_exp()
        if base == X and e.is_Integer and e >= 0:
            k += int(e)
            continue
        if isinstance(base, sp.exp) or base is sp.E:
            arg = sp.expand(base.args[0] * e if isinstance(base, sp.exp) else e)
            if arg.is_polynomial(X) and sp.degree(arg, X) <= 2:
                p = sp.Poly(arg, X)
                coef *= sp.exp(p.coeff_monomial(1))
                beta += p.coeff_monomial(X)
                alpha -= p.coeff_monomial(X**2)
                continue
            raise Unclosed(factor)
        if not (e.is_Integer and e >= 1):
            raise Unclosed(factor)
        new_kind, new_param = _special_of(base)
        if e > 1 and new_kind != STEP:
            raise Unclosed(factor)                      # erf**2, delta**2: not in the table
        if kind == SMOOTH:
            kind, param = new_kind, new_param
        elif kind == STEP and new_kind == STEP:
            if param != new_param:
                return None                             # H(x) H(-x) = 0 almost everywhere
        else:
            raise Unclosed(product)
    return Term(coef, k, alpha, beta, kind, param)


def decompose(expr):
    """List of :class:`Term` whose sum is ``expr``; raises :class:`Unclosed` naming the culprit."""
    terms = []
    for product in sp.Add.make_args(canonical_form(expr)):
        t = _classify(product)
        if t is not None and not is_zero(t.coef):
            terms.append(t)
    return terms
