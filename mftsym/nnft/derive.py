"""``derive_finite_width(spec)``: the finite-width derivations that ``mftsym derive --finite-width`` adds."""

from __future__ import annotations

from ..errors import MftsymError
from ._common import dense_blocks


def derive_finite_width(spec) -> list:
    """[one-hidden-layer G2/G4c (when the spec has exactly one hidden layer),
    single-input recursions for K, V, chi_par, chi_perp, G1 with the O(1/N) NNFT action,
    the critical line of the hidden activation (when there is one)]."""
    from .action import derive_action
    from .critical import critical_line
    from .single_layer import derive_single_layer
    network = getattr(spec, "network", spec)
    out = []
    blocks = dense_blocks(network)
    if len(blocks) == 2:
        out.append(derive_single_layer(network))
    out.append(derive_action(network))
    if len(blocks) >= 2:
        try:
            out.append(critical_line(blocks[0][1]))
        except MftsymError:
            pass
    return out


__all__ = ["derive_finite_width"]
