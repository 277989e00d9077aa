"""The scaling view of a spec: the input dimension, the hidden layers (type, width, activation)
and the readout, with the widths and the input dimension as scale variables.

Each hidden layer is a weight layer followed by its activation; its ``kind`` keys the per-layer-type
cost rule table (``layer_rules.RULES``).  The readout is the last dense layer; its prior scale
(from the parametrization) multiplies the target's norm a_y (docs/theory/scaling.md, "Readout").
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import SpecError
from ..spec.layers import Dense, Nonlinearity
from .monomial import Monomial


@dataclass(frozen=True)
class ScalingLayer:
    """Hidden layer ``index`` (1-based): ``kind`` ("dense", ...), width as a monomial, its activation."""

    index: int
    kind: str
    width: Monomial
    width_name: str
    activation: object


@dataclass(frozen=True)
class ScalingArchitecture:
    input_dim: Monomial
    input_dim_name: str
    layers: tuple
    readout_scale: Monomial
    parametrization: str

    @property
    def scale_variables(self) -> tuple:
        names = [self.input_dim_name] + [l.width_name for l in self.layers]
        return tuple(n for n in dict.fromkeys(names) if n in self._symbolic)

    @property
    def _symbolic(self) -> set:
        out = set(self.input_dim.exps)
        for layer in self.layers:
            out |= set(layer.width.exps)
        return out


def _dimension(expr, what: str, where: str):
    if expr.is_Symbol:
        return Monomial.var(expr.name), expr.name
    if expr.is_Integer and expr > 0:
        return Monomial.const(expr), str(expr)
    raise SpecError(f"{what} must be a symbol or a positive integer for a scaling argument, got {expr}", where)


def scaling_architecture(network) -> ScalingArchitecture:
    """Read a Network into hidden layers (weight layer + activation) and a readout."""
    layers = list(network.layers)
    dense = [l for l in layers if isinstance(l, Dense)]
    if len(dense) < 2:
        raise SpecError("a scaling argument needs at least one hidden layer and a readout "
                        "(dense, activation, dense)", "network.layers")
    readout = dense[-1]
    if not (readout.width.is_Integer and int(readout.width) == 1):
        raise SpecError(f"the readout (last dense layer) must have width 1 for a scalar target, got "
                        f"{readout.width}", "network.layers")
    hidden, i = [], 0
    while i < len(layers) - 1:
        layer = layers[i]
        if not isinstance(layer, Dense):
            raise SpecError(f"layer {i} ({layer.type}) must follow a dense layer", f"network.layers[{i}]")
        nxt = layers[i + 1]
        if not isinstance(nxt, Nonlinearity):
            raise SpecError(f"hidden dense layer {i} must be followed by an activation for a scaling "
                            "argument (a linear hidden layer is not supported yet)", f"network.layers[{i + 1}]")
        width, name = _dimension(layer.width, f"width of layer {i}", f"network.layers[{i}].width")
        hidden.append(ScalingLayer(len(hidden) + 1, layer.type, width, name, nxt.fn))
        i += 2
    if i != len(layers) - 1:
        raise SpecError("the network must end with a single dense readout", "network.layers")
    d, dname = _dimension(network.input_dim, "input_dim", "network.input_dim")
    # readout prior variance weight_var/N (standard, ntk) or weight_var/N**2 (mean_field): the
    # target's norm under the readout kernel is multiplied by N_L in the mean-field case.
    scale = hidden[-1].width if network.parametrization == "mean_field" else Monomial.const(1)
    return ScalingArchitecture(d, dname, tuple(hidden), scale, network.parametrization)


__all__ = ["ScalingArchitecture", "ScalingLayer", "scaling_architecture"]
