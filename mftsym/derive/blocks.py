"""A network read as the stages the theories fold over, with the two rules every stage shares:

* activation composition: consecutive activation layers act as one, φ = φ_k ∘ … ∘ φ_1;
* the readout of the ``mean_field`` parametrization: the last dense layer's C_W enters the kernel
  recursion divided by its fan-in (f = (1/N) Σ_i a_i φ_i; docs/theory/conventions.md).

Used by :mod:`mftsym.nnft` and :mod:`mftsym.solve` (one copy of each rule for both).
"""

from __future__ import annotations

from ..spec import Dense, Nonlinearity, X
from ..spec.activations import ActivationFunction


def stages(network):
    """The layers with consecutive activations composed: [Dense | ActivationFunction, ...]
    (the composition rule of :func:`mftsym.layers.activation.merge`)."""
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
    """C_W per dense layer as it enters the kernel recursion (the rule of
    :func:`mftsym.layers.parametrization.kernel_weight_var`; mean-field readout: C_W / fan_in)."""
    from ..layers.parametrization import kernel_weight_var
    dense = network.dense_layers
    fans = network.fan_ins()
    return [kernel_weight_var(network.parametrization, layer.weight_var, fans[i],
                              is_readout=(i == len(dense) - 1 and len(dense) > 1))
            for i, layer in enumerate(dense)]


__all__ = ["dense_blocks", "effective_weight_vars", "stages"]
