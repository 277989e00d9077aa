"""The scaling view of a spec: the input dimension, the hidden layers (type, width, activation,
the layer's own scale variables) and the readout, with the sizes as scale variables.

Each hidden layer is a weight layer followed by its activation; its ``kind`` keys the per-layer-type
cost rule table (``layer_rules.RULES``).  The readout is the last dense layer; its prior scale
(from the parametrization and, for a CNN, the pooling over patches) multiplies the target's norm
a_y (docs/theory/scaling.md, "Readout").  Three network families are read:

* fully connected: ``(dense, activation)*, dense(1)`` on inputs of dimension d;
* a CNN with non-overlapping patches: ``conv(kernel = stride, padding "valid"), activation,
  flatten | global_avg_pool, dense(1)``: patch dimension p = prod(kernel) * C_in, number of patches
  n = prod(spatial) / prod(kernel), d = n p.  A channel's filter is shared by the patches, so the
  channel's input dimension is p (``Signal(1/p, k)``); a flatten readout weighs the n patches
  separately and multiplies a_y by n, a pooled readout does not;
* a softmax attention head on L tokens of dimension d: ``attention, activation, flatten |
  global_avg_pool, dense(1)`` with H heads and N output channels.

Spatial sizes in a spec are integers (one instance); the scaling argument treats them as the scale
variables ``p, n`` (CNN) and ``d, L`` (attention), and keeps a symbolic width or head count as is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import prod

from ..errors import SpecError
from ..spec.layers import Dense, Nonlinearity
from .monomial import Monomial

#: scale-variable names of the spatial families (their instance values come from the spec)
PATCH_DIM, N_PATCHES, SEQ_LEN, TOKEN_DIM = "p", "n", "L", "d"


@dataclass(frozen=True)
class ScalingLayer:
    """Hidden layer ``index`` (1-based): ``kind`` ("dense", "conv", "attention"), width as a monomial,
    its activation and the layer's own scale variables (``extras``: e.g. heads H, sequence length L)."""

    index: int
    kind: str
    width: Monomial
    width_name: str
    activation: object
    extras: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ScalingArchitecture:
    input_dim: Monomial
    input_dim_name: str
    layers: tuple
    readout_scale: Monomial
    parametrization: str
    family: str = "dense"            # "dense", "cnn", "attention"
    instance: dict = field(default_factory=dict)   # the spec's numeric sizes of the scale variables

    @property
    def scale_variables(self) -> tuple:
        names = [self.input_dim_name] + [l.width_name for l in self.layers]
        names += [n for l in self.layers for m in l.extras.values() for n in m.exps]
        names += list(self.readout_scale.exps)
        return tuple(n for n in dict.fromkeys(names) if n in self._symbolic)

    @property
    def _symbolic(self) -> set:
        out = set(self.input_dim.exps) | set(self.readout_scale.exps)
        for layer in self.layers:
            out |= set(layer.width.exps)
            for m in layer.extras.values():
                out |= set(m.exps)
        return out


def _dimension(expr, what: str, where: str):
    if expr.is_Symbol:
        return Monomial.var(expr.name), expr.name
    if expr.is_Integer and expr > 0:
        return Monomial.const(expr), str(expr)
    raise SpecError(f"{what} must be a symbol or a positive integer for a scaling argument, got {expr}", where)


def _readout(layers, where_last: int) -> Dense:
    readout = layers[-1]
    if not isinstance(readout, Dense):
        raise SpecError("the network must end with a single dense readout", f"network.layers[{where_last}]")
    if not (readout.width.is_Integer and int(readout.width) == 1):
        raise SpecError(f"the readout (last dense layer) must have width 1 for a scalar target, got "
                        f"{readout.width}", "network.layers")
    return readout


def _mean_field_scale(network, width: Monomial) -> Monomial:
    # readout prior variance weight_var/N (standard, ntk) or weight_var/N**2 (mean_field): the
    # target's norm under the readout kernel is multiplied by N_L in the mean-field case.
    return width if network.parametrization == "mean_field" else Monomial.const(1)


def scaling_architecture(network) -> ScalingArchitecture:
    """Read a Network into hidden layers (weight layer + activation) and a readout."""
    layers = list(network.layers)
    kinds = {l.type for l in layers}
    if "conv" in kinds:
        return _cnn_architecture(network, layers)
    if "attention" in kinds:
        return _attention_architecture(network, layers)
    return _dense_architecture(network, layers)


def _dense_architecture(network, layers) -> ScalingArchitecture:
    dense = [l for l in layers if isinstance(l, Dense)]
    if len(dense) < 2:
        raise SpecError("a scaling argument needs at least one hidden layer and a readout "
                        "(dense, activation, dense)", "network.layers")
    _readout(layers, len(layers) - 1)
    hidden, i = [], 0
    while i < len(layers) - 1:
        layer = layers[i]
        if not isinstance(layer, Dense):
            raise SpecError(f"layer {i} ({layer.type}) must follow a dense layer; the scaling rules read "
                            "fully connected networks, a CNN (conv with kernel = stride, activation, flatten or "
                            "global_avg_pool, dense) or an attention head (attention, activation, flatten or "
                            "global_avg_pool, dense)", f"network.layers[{i}]")
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
    return ScalingArchitecture(d, dname, tuple(hidden), _mean_field_scale(network, hidden[-1].width),
                               network.parametrization)


def _spatial_shape(layers, kind: str, expected: str):
    """Check ``[kind, activation, flatten | global_avg_pool, dense(1)]``; return the pooling type."""
    types = [l.type for l in layers]
    if (len(layers) != 4 or types[0] != kind or types[1] != "activation"
            or types[2] not in ("flatten", "global_avg_pool") or types[3] != "dense"):
        raise SpecError(f"a scaling argument for a {kind} network reads the layers {expected}; got "
                        f"[{', '.join(types)}]", "network.layers")
    _readout(layers, 3)
    return types[2]


def _cnn_architecture(network, layers) -> ScalingArchitecture:
    pooling = _spatial_shape(layers, "conv", "[conv (kernel = stride, padding 'valid'), activation, "
                             "flatten or global_avg_pool, dense (width 1)]")
    conv, act = layers[0], layers[1]
    if conv.stride != conv.kernel or conv.padding != "valid":
        raise SpecError(f"the CNN scaling rules need non-overlapping patches: kernel = stride and padding "
                        f"'valid' (got kernel {list(conv.kernel)}, stride {list(conv.stride)}, padding "
                        f"{conv.padding!r})", "network.layers[0]")
    shape = network.input_shape
    spatial, channels = shape[:-1], shape[-1]
    if any(s % k for s, k in zip(spatial, conv.kernel)):
        raise SpecError(f"the kernel {list(conv.kernel)} must tile the input {list(spatial)} exactly "
                        "(non-overlapping patches covering the input)", "network.layers[0].kernel")
    p_val = prod(conv.kernel) * channels
    n_val = prod(spatial) // prod(conv.kernel)
    width, name = _dimension(conv.width, "conv width (channels)", "network.layers[0].width")
    p, n = Monomial.var(PATCH_DIM), Monomial.var(N_PATCHES)
    layer = ScalingLayer(1, "conv", width, name, act.fn)
    scale = _mean_field_scale(network, width)
    if pooling == "flatten":
        scale = scale * n          # the readout weighs each patch separately: a_y ~ n / lambda
    return ScalingArchitecture(p, PATCH_DIM, (layer,), scale, network.parametrization, "cnn",
                               {PATCH_DIM: p_val, N_PATCHES: n_val, "pooling": pooling})


def _attention_architecture(network, layers) -> ScalingArchitecture:
    _spatial_shape(layers, "attention", "[attention, activation, flatten or global_avg_pool, dense (width 1)]")
    att, act = layers[0], layers[1]
    if att.mechanism != "softmax":
        raise SpecError(f"the attention scaling rules are for a softmax head, got mechanism {att.mechanism!r}",
                        "network.layers[0].mechanism")
    shape = network.input_shape
    if len(shape) != 2:
        raise SpecError(f"an attention head reads sequences: input_shape = [L, d], got {list(shape)}",
                        "network.input_shape")
    width, name = _dimension(att.width, "attention width (output channels)", "network.layers[0].width")
    heads, _ = _dimension(att.heads, "number of heads", "network.layers[0].heads")
    layer = ScalingLayer(1, "attention", width, name, act.fn, {"heads": heads, SEQ_LEN: Monomial.var(SEQ_LEN)})
    return ScalingArchitecture(Monomial.var(TOKEN_DIM), TOKEN_DIM, (layer,), _mean_field_scale(network, width),
                               network.parametrization, "attention",
                               {SEQ_LEN: int(shape[0]), TOKEN_DIM: int(shape[1])})


__all__ = ["ScalingArchitecture", "ScalingLayer", "scaling_architecture"]
