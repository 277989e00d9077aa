r"""Residual block: out = x + scale * branch(x).

In the infinite-width limit the covariance of the skip path x_i and the branch output b_i vanishes
when the branch ends with a linear layer (its zero-mean weights are independent of everything
else: b_i has zero mean given x), or when x has zero mean and the branch starts with a linear
layer (then b_i is independent of x_i); the kernels then add (neural-tangents' ``FanOut(2)``,
``parallel(Identity(), branch)``, ``FanInSum()``)::

    K'(x,x') = K(x,x') + scale^2 K_branch(x,x'),     Theta' = Theta + scale^2 Theta_branch

where the branch is folded from the block's input kernel (its NTK carries the skip's Theta).  Any
other combination (e.g. a post-ReLU skip plus a branch ending in a ReLU) has cross terms
E[x_i] E[b_i] this map leaves out: it raises.  See docs/theory/layers.md, "residual".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

from ..errors import SpecError
from ..spec.expressions import parse_expression
from .state import PAIRS, KernelBuilder, KernelState

LAYER_TYPE = "residual"
LINEAR = False


@dataclass(frozen=True)
class Residual:
    branch: tuple
    scale: sp.Expr = sp.Integer(1)
    where: str = field(default="residual", compare=False, repr=False)
    type = "residual"

    def __post_init__(self):
        from . import rule
        branch = tuple(self.branch)
        if not branch:
            raise SpecError("a residual block needs at least one layer in its branch", f"{self.where}.branch")
        for i, layer in enumerate(branch):
            rule(layer, f"{self.where}.branch[{i}]")
        object.__setattr__(self, "branch", branch)
        scale = parse_expression(self.scale, f"{self.where}.scale")
        if scale.has(sp.Symbol("x", real=True)):
            raise SpecError("scale may not depend on x", f"{self.where}.scale")
        object.__setattr__(self, "scale", scale)

    @property
    def free_symbols(self) -> set:
        from . import layer_free_symbols
        syms = set(self.scale.free_symbols)
        for layer in self.branch:
            syms |= layer_free_symbols(layer)
        return syms

    @classmethod
    def from_dict(cls, d, where):
        from ..spec.layers import layer_from_dict
        from ._spatial_common import check_keys
        check_keys(d, {"branch", "scale"}, {"branch"}, "residual", where)
        if not isinstance(d["branch"], list) or not d["branch"]:
            raise SpecError("branch must be a list of layer tables ([[network.layers.branch]])", f"{where}.branch")
        branch = tuple(layer_from_dict(b, f"{where}.branch[{i}]") for i, b in enumerate(d["branch"]))
        return cls(branch, d.get("scale", 1), where=where)

    def to_dict(self):
        from ..spec.layers import _to_data
        return {"type": "residual", "scale": _to_data(self.scale), "branch": [b.to_dict() for b in self.branch]}


def starts_linear(branch) -> bool:
    """Whether a linear layer (dense, conv, attention) comes before the branch's first nonlinearity."""
    from . import rule
    for layer in branch:
        if rule(layer).LINEAR:
            return True
        if layer.type == "activation":
            return False
    return False


def kernel_map(layer, state: KernelState, b: KernelBuilder, is_readout: bool = False) -> KernelState:
    from . import fold_kernel
    out = fold_kernel(layer.branch, state, b)
    if out.spatial != state.spatial or sp.simplify(out.channels - state.channels) != 0:
        raise SpecError(f"the branch maps features of shape {state.spatial or ()} x {state.channels} to "
                        f"{out.spatial or ()} x {out.channels}: a residual sum needs the same shape",
                        layer.where)
    if not (out.is_gaussian or (state.is_gaussian and starts_linear(layer.branch))):
        raise SpecError("the skip path and the branch are correlated in the infinite-width limit (the branch "
                        "ends in a nonlinearity, and it does not start with a linear layer acting on a "
                        "zero-mean skip), so their kernels would not add; end the branch with a dense/conv "
                        "layer", layer.where)
    s2 = layer.scale ** 2
    nngp = {p: b.define("R", p, state.nngp[p] + s2 * out.nngp[p], "residual sum: skip + scale^2 branch", out)
            for p in PAIRS}
    theta = 0
    if b.ntk:
        theta = b.define("ThetaR", "12", state.ntk + s2 * out.ntk, "NTK of the residual sum", out,
                         latex_stem=r"{\Theta_{R}}")
    return out.with_(nngp=nngp, ntk=theta, is_gaussian=state.is_gaussian and out.is_gaussian,
                     is_input=False)


@dataclass(frozen=True)
class ResidualPlan:
    branch: tuple
    scale: float

    def param_shapes(self, index):
        out = []
        for j, p in enumerate(self.branch):
            out += [(f"res{index}_{name}", shape, var) for name, shape, var in p.param_shapes(j)]
        return out

    def forward(self, params, h):
        y = h
        for p in self.branch:
            y = p.forward(params, y)
        return h + self.scale * y


def numeric_plan(layer, ctx, is_readout: bool = False):
    from . import fold_numeric
    plans, spatial, channels = fold_numeric(layer.branch, ctx)
    if spatial != ctx.spatial or channels != ctx.channels:
        raise SpecError("a residual branch must keep the shape of its input", layer.where)
    return ResidualPlan(tuple(plans), ctx.number(layer.scale, f"{layer.where}.scale")), spatial, channels
