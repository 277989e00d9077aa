"""Shared helpers: activation derivatives; the layer stages of a spec come from
:mod:`mftsym.derive.blocks`."""

from __future__ import annotations

import sympy as sp

from ..derive import blocks as _blocks
from ..derive.blocks import effective_weight_vars  # noqa: F401  (the shared rule)
from ..errors import MftsymError
from ..spec import X


def stages(network):
    """The layers with consecutive activations composed (:func:`mftsym.derive.blocks.stages`), for a
    network the NNFT theory supports (dense and activation layers)."""
    from ..layers import require_supported
    require_supported(network, "the finite-width (NNFT) theory")
    return _blocks.stages(network)


def dense_blocks(network):
    """Each dense layer with the activation that follows it (:func:`mftsym.derive.blocks.dense_blocks`)."""
    from ..layers import require_supported
    require_supported(network, "the finite-width (NNFT) theory")
    return _blocks.dense_blocks(network)


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
