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
    """The layers with consecutive activations composed: [Dense | ActivationFunction, ...]."""
    out = []
    for layer in network.layers:
        if isinstance(layer, Nonlinearity):
            fn = layer.fn
            if out and isinstance(out[-1], ActivationFunction):
                prev = out[-1]
                fn = ActivationFunction(f"{fn.source}∘{prev.source}", fn.expr.subs(X, prev.expr))
                out[-1] = fn
            else:
                out.append(fn)
        else:
            out.append(layer)
    return out


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
    dense = network.dense_layers
    fans = network.fan_ins()
    out = []
    for i, layer in enumerate(dense):
        cw = layer.weight_var
        if network.parametrization == "mean_field" and i == len(dense) - 1 and len(dense) > 1:
            cw = cw / fans[i]
        out.append(cw)
    return out


__all__ = ["dense_blocks", "effective_weight_vars", "stages"]
