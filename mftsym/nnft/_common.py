"""Shared helpers: activation derivatives; the layer stages of a spec come from
:mod:`mftsym.derive.blocks`."""

from __future__ import annotations

import sympy as sp

from ..derive.blocks import dense_blocks, effective_weight_vars, stages  # noqa: F401  (the shared rules)
from ..errors import MftsymError
from ..spec import X


def derivative(phi: sp.Expr, order: int, term: str) -> sp.Expr:
    """phi^(order); Dirac deltas are dropped for order 1 (the autograd convention) and raise a
    clear error at order >= 2, naming the term that needs them."""
    d = sp.diff(phi, X, order)
    if not d.has(sp.DiracDelta):
        return d
    if order == 1:
        return d.replace(lambda e: isinstance(e, sp.DiracDelta), lambda e: sp.S.Zero)
    raise MftsymError(
        f"the term {term} needs phi^({order})(x) = {d}, which is a distribution for phi = {phi}; "
        "use the Gaussian-weight (Stein) form E[phi^2 He_n(z)]/K^n instead, which mftsym applies "
        "automatically to single-input recursions")


__all__ = ["dense_blocks", "derivative", "effective_weight_vars", "stages"]
