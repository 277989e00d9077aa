"""Monomials in positive scale variables: ``c * prod_i s_i**a_i`` with c > 0 and rational a_i.

The scaling arguments of Rubin, Davidovich & Ringel (arXiv:2512.04165) manipulate costs that are
sums of such monomials in the scale variables (d, N_l, ...) and the free quantities of a pattern
(M_l, D_l, beta_l).  Keeping them as (coefficient, exponent map) makes the optimisation exact
rational linear algebra on exponents (docs/theory/scaling.md, section "Sums of monomials").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

import sympy as sp

from ..spec.expressions import as_expr


def _positive_symbol(name: str) -> sp.Symbol:
    return sp.Symbol(name, positive=True)


@dataclass(frozen=True)
class Monomial:
    """``coef * prod(Symbol(name)**exp)``; names are plain strings, all symbols positive."""

    coef: sp.Expr = sp.Integer(1)
    exps: Mapping[str, sp.Rational] = field(default_factory=dict)

    def __post_init__(self):
        coef = sp.nsimplify(self.coef) if not isinstance(self.coef, sp.Basic) else self.coef
        if not (coef.is_positive and coef.is_number):
            raise ValueError(f"a monomial coefficient must be a positive number, got {coef}")
        exps = {k: sp.Rational(v) for k, v in dict(self.exps).items() if sp.Rational(v) != 0}
        object.__setattr__(self, "coef", coef)
        object.__setattr__(self, "exps", MappingProxyType(dict(sorted(exps.items()))))

    # -- construction ---------------------------------------------------------------
    @classmethod
    def var(cls, name: str, power=1) -> "Monomial":
        return cls(sp.Integer(1), {name: sp.Rational(power)})

    @classmethod
    def const(cls, c) -> "Monomial":
        return cls(as_expr(c), {})

    @classmethod
    def from_expr(cls, expr) -> "Monomial":
        """A monomial from a SymPy product of positive symbols and a positive number."""
        expr = as_expr(expr)
        coef, exps = sp.Integer(1), {}
        for factor in sp.Mul.make_args(expr):
            base, power = factor.as_base_exp()
            if base.is_Symbol:
                exps[base.name] = exps.get(base.name, 0) + sp.Rational(power)
            elif factor.is_number:
                coef *= factor
            else:
                raise ValueError(f"{factor} is not a power of a symbol")
        return cls(coef, exps)

    # -- algebra --------------------------------------------------------------------
    def __mul__(self, other) -> "Monomial":
        other = other if isinstance(other, Monomial) else Monomial.const(other)
        exps = dict(self.exps)
        for k, v in other.exps.items():
            exps[k] = exps.get(k, 0) + v
        return Monomial(self.coef * other.coef, exps)

    __rmul__ = __mul__

    def __pow__(self, p) -> "Monomial":
        p = sp.Rational(p)
        return Monomial(self.coef ** p, {k: v * p for k, v in self.exps.items()})

    def __truediv__(self, other) -> "Monomial":
        other = other if isinstance(other, Monomial) else Monomial.const(other)
        return self * other ** -1

    def __rtruediv__(self, other) -> "Monomial":
        return Monomial.const(other) * self ** -1

    def subs(self, values: Mapping[str, "Monomial"]) -> "Monomial":
        """Replace variables by monomials (e.g. a free quantity by its optimum)."""
        out = Monomial(self.coef, {k: v for k, v in self.exps.items() if k not in values})
        for k, v in self.exps.items():
            if k in values:
                out = out * values[k] ** v
        return out

    def exponent(self, name: str) -> sp.Rational:
        return self.exps.get(name, sp.Integer(0))

    @property
    def variables(self) -> frozenset:
        return frozenset(self.exps)

    def scaling(self) -> "Monomial":
        """The same monomial with coefficient 1 (its scaling class)."""
        return Monomial(sp.Integer(1), self.exps)

    def to_sympy(self) -> sp.Expr:
        out = self.coef
        for k, v in self.exps.items():
            out = out * _positive_symbol(k) ** v
        return out

    def log_value(self, logs: Mapping[str, float], with_coef: bool = True) -> float:
        """log of the value at log-variables ``logs``."""
        val = float(sp.log(self.coef)) if with_coef else 0.0
        return val + sum(float(v) * logs[k] for k, v in self.exps.items())

    def __str__(self):
        return sp.sstr(self.to_sympy())

    def __repr__(self):
        return f"Monomial({self})"


def symbol(name: str) -> sp.Symbol:
    """The positive SymPy symbol behind a monomial variable name."""
    return _positive_symbol(name)


__all__ = ["Monomial", "symbol"]
