"""A network: input dimension, parametrization and a sequence of layers.

``parametrization``:

* ``"ntk"`` -- every dense layer is ``h = sqrt(weight_var/fan_in) W x + sqrt(bias_var) b`` with
  ``W, b ~ N(0, 1)`` trainable (Jacot et al. 2018; neural-tangents' default);
* ``"standard"`` -- ``W ~ N(0, weight_var/fan_in)`` and ``b ~ N(0, bias_var)`` trainable directly:
  the same NNGP, a different NTK;
* ``"mean_field"`` -- hidden layers as in ``"ntk"``, the readout (last dense layer) scaled by
  ``1/fan_in`` instead of ``1/sqrt(fan_in)``: prior variance ``weight_var/fan_in**2``
  (the scaling of Mei et al. 2018 / Rubin, Seroussi & Ringel 2024).
* ``"mu_p"`` -- maximal-update (μP) / mean-field scaling with richness ``gamma0`` (a ``[params]``
  entry), in the form of Bordelon & Pehlevan (NeurIPS 2022): the ``"ntk"`` network with its output
  multiplied by ``1/(gamma0 sqrt(N))``, N the readout's fan-in, i.e.
  ``f = (1/(gamma0 N)) sum_i sqrt(weight_var) a_i phi_i + sqrt(bias_var) b/(gamma0 sqrt(N))``,
  trained with the learning rate ``eta = eta0 gamma0^2 N`` (eta0 the base rate the user gives).
  Equivalent to Yang & Hu's (2021) μP for SGD.  Its NNGP and (bare) NTK are those of ``"ntk"``
  divided by ``gamma0^2 N``; the NTK times the learning-rate multiplier is the ``"ntk"`` one.
  See docs/theory/dynamics.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

from ..errors import SpecError
from .expressions import make_symbol, parse_expression
from .layers import Dense, Nonlinearity

PARAMETRIZATIONS = ("ntk", "standard", "mean_field", "mu_p")

#: The [params] name of μP's richness γ₀ (f = (1/(γ₀ N)) Σ a φ; see docs/theory/dynamics.md).
MUP_RICHNESS = "gamma0"


@dataclass(frozen=True)
class Network:
    """An architecture and its prior, in SymPy terms."""

    layers: tuple
    input_dim: sp.Expr = field(default_factory=lambda: make_symbol("d"))
    parametrization: str = "ntk"
    where: str = field(default="network", compare=False, repr=False)
    input_shape: tuple | None = None

    def __post_init__(self):
        w = self.where
        if self.input_shape is not None:
            shape = _check_input_shape(self.input_shape, f"{w}.input_shape")
            object.__setattr__(self, "input_shape", shape)
            dim = self.input_dim
            if str(dim) not in ("d", str(shape[-1])):
                raise SpecError(f"input_dim = {dim} but input_shape {list(shape)} has {shape[-1]} channels; "
                                "give only input_shape for spatial inputs", f"{w}.input_dim")
            object.__setattr__(self, "input_dim", sp.Integer(shape[-1]))
        if self.parametrization not in PARAMETRIZATIONS:
            raise SpecError(f"unknown parametrization {self.parametrization!r}; use one of {PARAMETRIZATIONS}",
                            f"{w}.parametrization")
        dim = self.input_dim
        if isinstance(dim, str) or isinstance(dim, int):
            dim = parse_expression(dim, f"{w}.input_dim")
        if dim.is_number and (not dim.is_Integer or dim <= 0):
            raise SpecError(f"input_dim must be a positive integer or a symbol, got {dim}", f"{w}.input_dim")
        if not dim.is_number and not dim.is_Symbol:
            raise SpecError(f"input_dim must be a positive integer or a single symbol, got {dim}", f"{w}.input_dim")
        object.__setattr__(self, "input_dim", dim)
        layers = tuple(self.layers)
        if not layers:
            raise SpecError("a network needs at least one layer", f"{w}.layers")
        from ..layers import spec_types
        for i, layer in enumerate(layers):
            if getattr(layer, "type", None) not in spec_types() or isinstance(layer, type):
                raise SpecError(f"layer {i} is {type(layer).__name__}, not a layer; use mftsym.Dense / mftsym.Activation",
                                f"{w}.layers[{i}]")
        if isinstance(layers[0], Nonlinearity) or layers[0].type == "layer_norm":
            raise SpecError("the first layer must be dense (an activation acts on Gaussian pre-activations)",
                            f"{w}.layers[0]")
        if self.input_shape is None:
            for layer in layers:
                if layer.type not in ("dense", "activation", "layer_norm", "residual"):
                    raise SpecError(f"a {layer.type} layer needs spatial inputs: set input_shape = [H, W, C] "
                                    "(or [L, C]) in [network]", getattr(layer, "where", w))
        object.__setattr__(self, "layers", layers)

    # -- structure -----------------------------------------------------------------
    @property
    def dense_layers(self) -> tuple:
        return tuple(layer for layer in self.layers if isinstance(layer, Dense))

    def fan_ins(self) -> list:
        """fan_in of each dense layer, in order (input_dim for the first)."""
        fans, fan = [], self.input_dim
        for layer in self.dense_layers:
            fans.append(fan)
            fan = layer.width
        return fans

    @property
    def output_dim(self) -> sp.Expr:
        return self.dense_layers[-1].width

    @property
    def hidden_widths(self) -> tuple:
        return tuple(layer.width for layer in self.dense_layers[:-1])

    @property
    def free_symbols(self) -> set:
        from ..layers import layer_free_symbols
        syms = set()
        for layer in self.layers:
            syms |= layer_free_symbols(layer)
        syms |= getattr(self.input_dim, "free_symbols", set())
        return syms

    def to_dict(self) -> dict:
        dim = int(self.input_dim) if self.input_dim.is_Integer else str(self.input_dim)
        shape = {"input_shape": list(self.input_shape)} if self.input_shape is not None else {"input_dim": dim}
        return {**shape, "parametrization": self.parametrization,
                "layers": [layer.to_dict() for layer in self.layers]}


def _check_input_shape(value, where: str) -> tuple:
    """(*positions, channels): 2 entries for sequences [L, C], 3 for images [H, W, C], 4 for volumes."""
    if not isinstance(value, (list, tuple)) or not 2 <= len(value) <= 4:
        raise SpecError(f"input_shape must be [L, C], [H, W, C] or [D, H, W, C] (channels last), got {value!r}",
                        where)
    out = []
    for v in value:
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise SpecError(f"input_shape entries must be positive integers, got {value!r}", where)
        out.append(int(v))
    return tuple(out)


__all__ = ["MUP_RICHNESS", "Network", "PARAMETRIZATIONS"]
