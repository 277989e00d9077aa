r"""Layer types and their semantics, one module per type (in the spirit of neural-tangents' stax).

Each module ``mftsym.layers.<type>`` carries everything a layer type means:

* its spec table (``dense`` and ``activation`` keep theirs in :mod:`mftsym.spec.layers`);
* ``kernel_map(layer, state, builder, is_readout)``: the infinite-width map of the frozen
  :class:`~mftsym.layers.state.KernelState` (NNGP, NTK, diagonal, spatial shape, ``is_gaussian``),
  recording named definitions in the :class:`~mftsym.layers.state.KernelBuilder`;
* ``numeric_plan(layer, ctx, is_readout)``: the layer's numbers and the torch forward of the
  finite network (:mod:`mftsym.layers.finite`);
* flags: ``LINEAR`` (has weights that start a Gaussian layer), ``MIXES_POSITIONS``.

The stages fold over the layers with :func:`fold_kernel` / :func:`fold_numeric`; the
parametrization rules live in :mod:`mftsym.layers.parametrization`.  A theory that supports only
some layer types says so with :func:`require_supported`.  See docs/theory/layers.md.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import sympy as sp

from ..errors import SpecError
from .state import INPUT_SYMBOLS, KernelBuilder, KernelState, PAIRS

#: layer type -> module name under mftsym.layers
MODULES = {
    "dense": "dense",
    "activation": "activation",
    "conv": "conv",
    "avg_pool": "avg_pool",
    "global_avg_pool": "global_avg_pool",
    "flatten": "flatten",
    "layer_norm": "layer_norm",
    "residual": "residual",
    "attention": "attention",
}

#: spec classes of the layer types defined in this package (dense/activation live in spec.layers)
_CLASSES = {"conv": ("conv", "Conv"), "avg_pool": ("avg_pool", "AvgPool"),
            "global_avg_pool": ("global_avg_pool", "GlobalAvgPool"), "flatten": ("flatten", "Flatten"),
            "layer_norm": ("layer_norm", "LayerNorm"), "residual": ("residual", "Residual"),
            "attention": ("attention", "Attention")}


def rule(layer, where: str | None = None):
    """The module giving semantics to ``layer`` (a layer value or a type name)."""
    kind = layer if isinstance(layer, str) else getattr(layer, "type", None)
    if kind not in MODULES:
        raise SpecError(f"{type(layer).__name__} is not a layer; known layer types: {', '.join(MODULES)}", where)
    return importlib.import_module(f"{__name__}.{MODULES[kind]}")


def layer_class(kind: str):
    """The spec class of a layer type defined in this package, or None."""
    if kind not in _CLASSES:
        return None
    mod, name = _CLASSES[kind]
    return getattr(importlib.import_module(f"{__name__}.{mod}"), name)


def spec_types() -> tuple:
    return tuple(MODULES)


def walk(layers):
    """Every layer, recursing into residual branches (in order)."""
    for layer in layers:
        yield layer
        if getattr(layer, "type", None) == "residual":
            yield from walk(layer.branch)


def mixes_positions(network) -> bool:
    """Whether a layer mixes positions, so that the kernel keeps every position pair."""
    return any(getattr(rule(layer), "MIXES_POSITIONS", False) for layer in walk(network.layers))


def layer_free_symbols(layer) -> set:
    syms = getattr(layer, "free_symbols", None)
    if syms is not None:
        return set(syms)
    out = set()
    for name in ("width", "weight_var", "bias_var"):
        if hasattr(layer, name):
            out |= getattr(layer, name).free_symbols
    return out


def readout_index(layers) -> int | None:
    """Index of the readout for the mean-field rule: the last dense layer, when there is more than
    one linear layer (a single linear layer is a linear model, not a mean-field readout)."""
    linear = [i for i, layer in enumerate(layers) if rule(layer).LINEAR]
    dense = [i for i, layer in enumerate(layers) if layer.type == "dense"]
    if len(linear) > 1 and dense:
        return dense[-1]
    return None


def require_supported(network, theory: str, supported=("dense", "activation")):
    """Raise one clear SpecError when ``network`` has a layer type the theory does not support."""
    for layer in walk(network.layers):
        if layer.type not in supported:
            raise SpecError(f"{theory} does not support `{layer.type}` layers (it supports: "
                            f"{', '.join(supported)}); use the NNGP/NTK kernels (mftsym kernel) for this network",
                            getattr(layer, "where", None))
    if getattr(network, "input_shape", None) is not None:
        raise SpecError(f"{theory} does not support spatial inputs (input_shape); use the NNGP/NTK kernels",
                        "network.input_shape")


# --------------------------------------------------------------------------- symbolic fold
def input_state(network) -> KernelState:
    """The kernel state of the raw input: x.x'/channels (per position pair for spatial inputs)."""
    shape = getattr(network, "input_shape", None)
    if shape is None:
        d = network.input_dim
        return KernelState({p: INPUT_SYMBOLS[p] / d for p in PAIRS}, sp.Integer(0), d)
    spatial, channels = tuple(shape[:-1]), int(shape[-1])
    return KernelState({p: INPUT_SYMBOLS[p] / channels for p in PAIRS}, sp.Integer(0), sp.Integer(channels),
                       spatial=spatial, full=mixes_positions(network))


def fold_kernel(layers, state: KernelState, builder: KernelBuilder, top_level: bool = False) -> KernelState:
    """Fold the layers' kernel maps over ``state`` (consecutive activations composed first);
    at the top level the mean-field readout rule applies to :func:`readout_index`."""
    from .activation import merge
    layers = merge(layers)
    readout = readout_index(layers) if top_level else None
    for i, layer in enumerate(layers):
        state = rule(layer).kernel_map(layer, state, builder, is_readout=(i == readout))
    return state


# --------------------------------------------------------------------------- numeric fold
@dataclass
class NumericContext:
    """What a layer's numeric plan needs: parameter values, the parametrization, and the shape of
    its input features (positions, channels)."""

    values: dict
    parametrization: str
    spatial: tuple | None
    channels: int
    where: str = "network"

    def number(self, expr, where) -> float:
        from ..spec.expressions import make_symbol, parse_expression
        expr = parse_expression(expr, where) if not isinstance(expr, sp.Basic) else expr
        val = expr.subs({make_symbol(k): v for k, v in self.values.items()})
        if not val.is_number:
            missing = sorted(str(s) for s in val.free_symbols)
            raise SpecError(f"no value for {missing}; give it in [params] or as a width", where)
        return float(val)

    def integer(self, expr, where, what="width") -> int:
        v = self.number(expr, where)
        if v < 1 or abs(v - round(v)) > 1e-9:
            raise SpecError(f"{what} must be a positive integer, got {v}", where)
        return int(round(v))


def fold_numeric(layers, ctx: NumericContext, readout: int | None = None):
    """([plan, ...], spatial, channels) of the layers at the context's numbers."""
    plans = []
    spatial, channels = ctx.spatial, ctx.channels
    for i, layer in enumerate(layers):
        sub = NumericContext(ctx.values, ctx.parametrization, spatial, channels, getattr(layer, "where", ctx.where))
        plan, spatial, channels = rule(layer).numeric_plan(layer, sub, is_readout=(i == readout))
        plans.append(plan)
    return plans, spatial, channels


def linear_widths(network) -> list:
    """Width expressions of every linear layer but the top-level readout (what ``width=N`` sets)."""
    layers = network.layers
    dense = [i for i, layer in enumerate(layers) if layer.type == "dense"]
    ro = dense[-1] if dense else None            # the last top-level dense layer is the readout
    out = []
    for i, layer in enumerate(layers):
        for sub in walk([layer]):
            if rule(sub).LINEAR and not (sub is layer and i == ro):
                out.append(sub.width)
    return out


__all__ = ["INPUT_SYMBOLS", "KernelBuilder", "KernelState", "MODULES", "NumericContext", "fold_kernel",
           "fold_numeric", "input_state", "layer_class", "layer_free_symbols", "linear_widths", "mixes_positions",
           "readout_index", "require_supported", "rule", "walk"]
