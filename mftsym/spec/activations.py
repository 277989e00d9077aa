"""ActivationFunction functions: built-in names, parametrised names and free expressions in ``x``.

Every activation becomes a SymPy expression in the real symbol :data:`X` (``x``).  The
Gaussian-expectation engine recognises the closed-form families in these expressions
(``Max(0, x)`` for ReLU, ``erf``, ``exp``, polynomials, ...), so a user expression such as
``"x**3 - 3*x"`` or ``"tanh(2*x)"`` is handled by the same code path as a built-in name.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ..errors import SpecError
from .expressions import FUNCTIONS, X, as_expr, parse_expression


def _gaussian(a=1):
    return sp.exp(-a * X**2)


#: name -> function of the (numeric) parameters returning an expression in x.
BUILTIN = {
    "identity": lambda: X,
    "linear": lambda: X,
    "relu": lambda: sp.Max(0, X),
    "leaky_relu": lambda a=sp.Rational(1, 100): a * X + (1 - a) * sp.Max(0, X),
    "abs": lambda: sp.Abs(X),
    "step": lambda: sp.Heaviside(X),
    "heaviside": lambda: sp.Heaviside(X),
    "sign": lambda: sp.sign(X),
    "erf": lambda a=1: sp.erf(a * X),
    "tanh": lambda a=1: sp.tanh(a * X),
    "sigmoid": lambda a=1: 1 / (1 + sp.exp(-a * X)),
    "gelu": lambda: X * (1 + sp.erf(X / sp.sqrt(2))) / 2,
    "softplus": lambda: sp.log(1 + sp.exp(X)),
    "sin": lambda a=1: sp.sin(a * X),
    "cos": lambda a=1: sp.cos(a * X),
    "exp": lambda a=1: sp.exp(a * X),
    "gaussian": _gaussian,
    "relu2": lambda: sp.Max(0, X) ** 2,
    "rectified_monomial": lambda n=1: sp.Max(0, X) ** n,
}


@dataclass(frozen=True)
class ActivationFunction:
    """A pointwise nonlinearity phi(x): its source text and its SymPy expression in ``x``."""

    source: str
    expr: sp.Expr

    def __call__(self, z):
        return self.expr.subs(X, z)

    def derivative(self, order: int = 1) -> sp.Expr:
        return sp.diff(self.expr, X, order)

    def _repr_latex_(self):
        return rf"$\phi(x) = {sp.latex(self.expr)}$"


def resolve_activation(fn, where: str | None = None) -> ActivationFunction:
    """Turn ``"relu"``, ``"leaky_relu(0.2)"``, ``"x**3 - 3*x"`` or a SymPy expression into an ActivationFunction."""
    if isinstance(fn, ActivationFunction):
        return fn
    if isinstance(fn, sp.Expr):
        extra = fn.free_symbols - {X}
        if extra:
            raise SpecError(f"an activation may only depend on x, found {sorted(map(str, extra))}", where)
        return ActivationFunction(sp.sstr(fn), fn)
    if not isinstance(fn, str):
        raise SpecError(f"activation must be a name or an expression string, got {fn!r}", where)
    text = fn.strip()
    name, _, rest = text.partition("(")
    name = name.strip()
    if name in BUILTIN and (not rest or "x" not in rest):
        args = []
        if rest:
            inner = rest.rstrip()
            if not inner.endswith(")"):
                raise SpecError(f"malformed activation {text!r}: missing ')'", where)
            inner = inner[:-1]
            args = [parse_expression(a, where, allowed_symbols=set()) for a in inner.split(",") if a.strip()]
        try:
            expr = BUILTIN[name](*args)
        except TypeError:
            raise SpecError(f"activation {name!r} takes different parameters than {args}", where) from None
        return ActivationFunction(text, as_expr(expr))
    if "(" not in text and "x" not in text.replace("exp", "") and text.isidentifier():
        known = sorted(BUILTIN)
        raise SpecError(
            f"unknown activation {text!r}; use one of {', '.join(known)}, a name with parameters "
            "like 'leaky_relu(0.2)', or an expression in x like 'x**3 - 3*x'", where)
    expr = parse_expression(text, where, allowed_symbols={"x"})
    if not expr.has(X):
        raise SpecError(f"activation expression {text!r} does not depend on x", where)
    return ActivationFunction(text, expr)


__all__ = ["ActivationFunction", "BUILTIN", "FUNCTIONS", "X", "resolve_activation"]
