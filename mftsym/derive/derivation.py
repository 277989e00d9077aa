"""The value a derivation produces: a chain of named definitions and a set of equations.

Deep recursions swell exponentially when substituted into one expression tree, so a derivation
keeps them as a chain ``K1 := ..., K2 := f(K1), ...``: readable in LaTeX, and compiled one
definition at a time (with common-subexpression elimination inside each) by ``mftsym.compile``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import sympy as sp


@dataclass(frozen=True)
class Definition:
    """``symbol := expr``, with the symbol's LaTeX name and a one-line description."""

    symbol: sp.Symbol
    expr: sp.Expr
    latex_name: str
    description: str = ""

    def _repr_latex_(self):
        return f"${self.latex_name} = {self.latex_expr({})}$"

    def latex_expr(self, names: Mapping) -> str:
        return sp.latex(self.expr, symbol_names=dict(names))


@dataclass(frozen=True)
class Derivation:
    """A titled chain of definitions plus optional equations (e.g. saddle-point conditions).

    ``inputs`` are the data symbols a compiled function takes per evaluation point;
    ``outputs`` maps result names (``"nngp"``, ``"ntk"``, ...) to defined symbols.
    """

    title: str
    inputs: tuple
    definitions: tuple
    outputs: Mapping[str, sp.Symbol]
    equations: tuple = ()
    input_latex: Mapping = field(default_factory=dict)
    notes: tuple = ()

    # -- lookup -------------------------------------------------------------------
    @property
    def symbol_names(self) -> dict:
        """{Symbol: LaTeX name} for every input and defined symbol."""
        names = dict(self.input_latex)
        names.update({d.symbol: d.latex_name for d in self.definitions})
        return names

    def definition(self, symbol) -> Definition:
        for d in self.definitions:
            if d.symbol == symbol or d.symbol.name == str(symbol):
                return d
        raise KeyError(f"no definition of {symbol} in {self.title!r}")

    @property
    def parameters(self) -> set:
        """Free symbols that are neither inputs nor defined: the prior's parameters."""
        defined = {d.symbol for d in self.definitions} | set(self.inputs)
        free = set()
        for d in self.definitions:
            free |= d.expr.free_symbols
        for eq in self.equations:
            free |= eq.free_symbols
        return {s for s in free if s not in defined}

    def expression(self, output: str) -> sp.Expr:
        """The output written out in the inputs alone (substitutes the whole chain: small nets only)."""
        target = self.outputs[output]
        subs = {}
        for d in self.definitions:
            subs[d.symbol] = d.expr.xreplace(subs)
        return subs[target]

    def needed(self, outputs) -> tuple:
        """The definitions the given outputs depend on, in chain order."""
        defined = {d.symbol: d for d in self.definitions}
        need, stack = set(), [self.outputs[o] for o in outputs]
        while stack:
            s = stack.pop()
            if s in need or s not in defined:
                continue
            need.add(s)
            stack.extend(defined[s].expr.free_symbols)
        return tuple(d for d in self.definitions if d.symbol in need)

    # -- display --------------------------------------------------------------------
    def latex(self) -> str:
        """The chain (and equations) as an amsmath ``align*`` block."""
        from ..export.latex import derivation_to_latex
        return derivation_to_latex(self)

    def _repr_latex_(self):
        return self.latex()

    def __str__(self):
        lines = [self.title]
        for d in self.definitions:
            lines.append(f"  {d.symbol} := {d.expr}")
        for eq in self.equations:
            lines.append(f"  {eq.lhs} = {eq.rhs}")
        return "\n".join(lines)
