"""``GaussianExpectation``: the unevaluated E[f(u) g(v)] as a differentiable SymPy function.

``GaussianExpectation(Lambda(x, f), Lambda(x, g), K11, K12, K22)`` stands for
E[f(u) g(v)] with (u, v) ~ N(0, [[K11, K12], [K12, K22]]).  One-dimensional expectations
E[f(u)], u ~ N(0, K) are written ``GaussianExpectation(Lambda(x, f), Lambda(x, 1), K, 0, 1)``
(see :func:`expectation_node`), so every derivative below stays in the same class.

Derivatives follow Price's theorem (Price 1958; for Gaussian kernels e.g. Poole et al. 2016):
    d/dK12 E[f g] = E[f' g'],   d/dK11 E[f g] = 1/2 E[f'' g],   d/dK22 E[f g] = 1/2 E[f g''].
``evalf`` integrates numerically (:mod:`mftsym.gaussian.quadrature`): split Gauss-Legendre in double
precision, nested mpmath tanh-sinh above it.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from ..spec.expressions import X, as_expr
from .quadrature import (mpmath_expectation, split_quadrature_expectation,
                         split_quadrature_expectation_1d)

_U = sp.Symbol("u", real=True)
_V = sp.Symbol("v", real=True)


def _as_lambda(f):
    if isinstance(f, sp.Lambda):
        return f
    return sp.Lambda(X, as_expr(f))


class GaussianExpectation(sp.Function):
    r"""E[f(u) g(v)], (u, v) ~ N(0, [[K11, K12], [K12, K22]]); args (Lambda f, Lambda g, K11, K12, K22)."""

    nargs = 5

    def __new__(cls, f, g, K11, K12, K22, **options):
        return super().__new__(cls, _as_lambda(f), _as_lambda(g), K11, K12, K22, **options)

    @classmethod
    def eval(cls, fl, gl, K11, K12, K22):  # sympy's evaluation hook, not Python eval (safe)
        f, g = fl.expr, gl.expr
        if f.is_zero or g.is_zero:
            return sp.S.Zero
        fv, gv = fl.variables[0], gl.variables[0]
        if not f.has(fv) and not g.has(gv):
            return f * g
        return None

    # -- access for printers -------------------------------------------------------------------
    @property
    def f(self):
        """f as an expression in X."""
        return self.args[0](X)

    @property
    def g(self):
        """g as an expression in X."""
        return self.args[1](X)

    @property
    def K11(self):
        return self.args[2]

    @property
    def K12(self):
        return self.args[3]

    @property
    def K22(self):
        return self.args[4]

    @property
    def is_one_dimensional(self):
        """True for E[f(u)] (g constant): then only K11 matters."""
        return not self.g.has(X)

    # -- calculus -----------------------------------------------------------------------------
    def fdiff(self, argindex=1):
        f, g = self.f, self.g
        K = self.args[2:]
        if argindex == 3:
            return sp.S.Half * GaussianExpectation(sp.diff(f, X, 2), g, *K)
        if argindex == 4:
            return GaussianExpectation(sp.diff(f, X), sp.diff(g, X), *K)
        if argindex == 5:
            return sp.S.Half * GaussianExpectation(f, sp.diff(g, X, 2), *K)
        raise sp.ArgumentIndexError(self, argindex)

    # -- numerics -----------------------------------------------------------------------------
    def _eval_evalf(self, prec):
        K = [k.evalf(prec) for k in self.args[2:]]
        if not all(k.is_number and k.is_real for k in K):
            return None
        f, g = self.f, self.g
        if f.has(sp.DiracDelta) or g.has(sp.DiracDelta):
            return None
        dps = max(15, int(prec * 0.30103) + 3)
        if prec <= 80:                                  # evalf(15) asks ~57-74 bits
            fn = sp.lambdify(X, f, ["scipy", "numpy"])
            gn = sp.lambdify(X, g, ["scipy", "numpy"])
            vec = lambda h: (lambda t: np.broadcast_to(np.asarray(h(t), dtype=float), np.shape(t)))
            if self.is_one_dimensional:
                val = split_quadrature_expectation_1d(vec(fn), float(K[0])) * float(g)
            else:
                val = split_quadrature_expectation(vec(fn), vec(gn), *map(float, K))
            return sp.Float(val, dps)
        fm = sp.lambdify(X, f, "mpmath")
        gm = sp.lambdify(X, g, "mpmath")
        if self.is_one_dimensional:
            val = mpmath_expectation(fm, None, K[0]._to_mpmath(prec), 0, 1, dps=dps, one_dimensional=True)
            return sp.Float(val, dps) * g.evalf(prec)
        val = mpmath_expectation(fm, gm, *(k._to_mpmath(prec) for k in K), dps=dps)
        return sp.Float(val, dps)

    # -- printing -----------------------------------------------------------------------------
    def _latex(self, printer):
        f = printer._print(self.f.subs(X, _U))
        K11 = printer._print(self.K11)
        if self.is_one_dimensional:
            c = printer._print(self.g)
            body = rf"\mathbb{{E}}_{{u \sim \mathcal{{N}}(0,\, {K11})}}\left[{f}\right]"
            return body if self.g == 1 else rf"{c}\, {body}"
        g = printer._print(self.g.subs(X, _V))
        K12, K22 = printer._print(self.K12), printer._print(self.K22)
        return (rf"\mathbb{{E}}\left[{f}\, {g}\right]_{{\left(\begin{{smallmatrix}}{K11} & {K12}"
                rf" \\ {K12} & {K22}\end{{smallmatrix}}\right)}}")

    def _sympystr(self, printer):
        args = [printer._print(self.f), printer._print(self.g)] + [printer._print(a) for a in self.args[2:]]
        return "GaussianExpectation(%s)" % ", ".join(args)


def expectation_node(f, g, K11, K12, K22):
    """The unevaluated node for E[f(u) g(v)], using the 1-D form when f or g is constant."""
    f, g = as_expr(f), as_expr(g)
    if not g.has(X):
        return g * GaussianExpectation(f, sp.S.One, K11, sp.S.Zero, sp.S.One) if f.has(X) else f * g
    if not f.has(X):
        return f * GaussianExpectation(g, sp.S.One, K22, sp.S.Zero, sp.S.One)
    return GaussianExpectation(f, g, K11, K12, K22)
