"""Shared helpers: the layer stages of a spec, activation derivatives, symbols."""

from __future__ import annotations

import sympy as sp

from ..errors import MftsymError
from ..spec import Dense, Nonlinearity, X
from ..spec.activations import ActivationFunction


def stages(network):
    """The layers with consecutive activations composed: [Dense | ActivationFunction, ...]."""
    from ..layers import require_supported
    require_supported(network, "the finite-width (NNFT) theory")
    from ..layers.activation import merge
    return [layer.fn if isinstance(layer, Nonlinearity) else layer for layer in merge(network.layers)]


def dense_blocks(network):
    """[(Dense, phi_after or None)] : each dense layer with the (composed) activation that follows it.

    A dense layer followed directly by another dense layer gets phi = x (identity)."""
    st = stages(network)
    blocks = []
    for i, s in enumerate(st):
        if isinstance(s, Dense):
            nxt = st[i + 1] if i + 1 < len(st) else None
            blocks.append((s, nxt.expr if isinstance(nxt, ActivationFunction) else (X if nxt is not None else None)))
    return blocks


def effective_weight_vars(network):
    """C_W per dense layer as it enters the kernel recursion (mean-field readout: C_W / fan_in)."""
    from ..layers.parametrization import kernel_weight_var
    dense = network.dense_layers
    fans = network.fan_ins()
    return [kernel_weight_var(network.parametrization, layer.weight_var, fans[i],
                              is_readout=(i == len(dense) - 1 and len(dense) > 1))
            for i, layer in enumerate(dense)]


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
