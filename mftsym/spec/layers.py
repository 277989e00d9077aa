"""Layers of a network spec.

A layer is an immutable value.  Its *semantics* -- the kernel map it applies, its torch module,
its contribution to a mean-field action -- live in the pipeline stages (``derive``, ``validate``),
which dispatch on the layer type; the layer itself only holds validated symbolic data.

Conventions (NTK parametrization, as neural-tangents' ``Dense(W_std, b_std)`` with
``weight_var = W_std**2`` and ``bias_var = b_std**2``)::

    h = sqrt(weight_var / fan_in) W x + sqrt(bias_var) b,    W, b ~ N(0, 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

from ..errors import SpecError
from .activations import ActivationFunction, resolve_activation
from .expressions import is_zero, parse_expression


def _check_variance(value, where: str) -> sp.Expr:
    expr = parse_expression(value, where)
    if expr.has(sp.Symbol("x", real=True)):
        raise SpecError("a variance may not depend on the activation variable x", where)
    if expr.is_number:
        if not expr.is_real:
            raise SpecError(f"variance must be a real number, got {expr}", where)
        if expr < 0:
            raise SpecError(f"variance must be non-negative, got {expr}", where)
    elif expr.is_negative:
        raise SpecError(f"variance {expr} is negative for every value of its symbols", where)
    return expr


def _check_width(value, where: str) -> sp.Expr:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    expr = parse_expression(value, where)
    if expr.is_number:
        if not expr.is_Integer:
            raise SpecError(f"width must be a positive integer or a symbol, got {expr}", where)
        if expr <= 0:
            raise SpecError(f"width must be positive, got {expr}; a layer needs at least one unit", where)
    elif not expr.is_Symbol:
        raise SpecError(f"width must be a positive integer or a single symbol, got {expr}", where)
    return expr


@dataclass(frozen=True)
class Dense:
    """Fully connected layer with ``width`` outputs, prior variances ``weight_var`` and ``bias_var``."""

    width: sp.Expr
    weight_var: sp.Expr
    bias_var: sp.Expr = sp.Integer(0)
    where: str = field(default="dense", compare=False, repr=False)

    type = "dense"

    def __post_init__(self):
        object.__setattr__(self, "width", _check_width(self.width, f"{self.where}.width"))
        object.__setattr__(self, "weight_var", _check_variance(self.weight_var, f"{self.where}.weight_var"))
        object.__setattr__(self, "bias_var", _check_variance(self.bias_var, f"{self.where}.bias_var"))

    @property
    def has_bias(self) -> bool:
        return not is_zero(self.bias_var)

    def to_dict(self) -> dict:
        d = {"type": "dense", "width": _to_data(self.width), "weight_var": _to_data(self.weight_var)}
        if self.has_bias:
            d["bias_var"] = _to_data(self.bias_var)
        return d


@dataclass(frozen=True)
class Nonlinearity:
    """Pointwise activation layer ``phi``; ``fn`` is a name, ``"leaky_relu(0.2)"`` or an expression in x."""

    fn: ActivationFunction
    where: str = field(default="activation", compare=False, repr=False)

    type = "activation"

    def __post_init__(self):
        object.__setattr__(self, "fn", resolve_activation(self.fn, f"{self.where}.fn"))

    def to_dict(self) -> dict:
        return {"type": "activation", "fn": self.fn.source}


def _to_data(expr: sp.Expr):
    """A TOML-friendly value for an expression: int, float, or a string the parser reads back."""
    if expr.is_Integer:
        return int(expr)
    if expr.is_Float:
        return float(expr)
    return sp.sstr(expr)


LAYER_TYPES = {"dense": Dense, "activation": Nonlinearity}


def layer_from_dict(d: dict, where: str):
    """Build a layer from its TOML table, with errors naming ``where``."""
    if not isinstance(d, dict):
        raise SpecError("each layer must be a table with a 'type' key", where)
    kind = d.get("type")
    if kind not in LAYER_TYPES:
        from ..layers import layer_class, spec_types
        cls = layer_class(kind) if isinstance(kind, str) else None
        if cls is None:
            raise SpecError(f"unknown layer type {kind!r}; known types: {', '.join(spec_types())}", f"{where}.type")
        return cls.from_dict(d, where)
    if kind == "dense":
        unknown = set(d) - {"type", "width", "weight_var", "bias_var"}
        if unknown:
            raise SpecError(f"unknown keys {sorted(unknown)} for a dense layer", where)
        if "width" not in d or "weight_var" not in d:
            raise SpecError("a dense layer needs 'width' and 'weight_var'", where)
        return Dense(d["width"], d["weight_var"], d.get("bias_var", 0), where=where)
    unknown = set(d) - {"type", "fn"}
    if unknown:
        raise SpecError(f"unknown keys {sorted(unknown)} for an activation layer", where)
    if "fn" not in d:
        raise SpecError("an activation layer needs 'fn' (e.g. fn = \"relu\")", where)
    return Nonlinearity(d["fn"], where=where)


__all__ = ["Dense", "Nonlinearity", "LAYER_TYPES", "layer_from_dict"]
