r"""Residual block: out = x + scale * branch(x).

When the branch has a linear layer (dense, conv, attention) at its top level, the branch's output
channel c depends on the skip x only through that layer's fresh zero-mean weights, i.e. through
averages over all channels: at infinite width b_c(x') is independent of x_c(x), so the cross
covariance is the product of the feature means (m_x from the skip, m_b from the branch, tracked
by the kernel state; Yang 2019, Tensor Programs I; Hayou et al. 2021)::

    K'(x,x')  = K(x,x') + scale^2 K_b(x,x') + scale (m_x(x) m_b(x') + m_b(x) m_x(x'))
    m'(x)     = m_x(x) + scale m_b(x)
    Theta'    = Theta + scale^2 Theta_b

The NTK has no cross term: the gradient of b_c with respect to any parameter the skip depends on
passes through the zero-mean weights W_c. of the branch's last linear layer, and its inner
product with the skip's gradient is an O(1/sqrt(n)) sum (Jacot et al. 2018; Yang 2020, Tensor
Programs II).  The branch is folded from the block's input kernel (its NTK carries the skip's
Theta).  When either mean is zero (a branch ending with a linear layer, or a zero-mean skip) the
kernels add, as neural-tangents' ``FanOut(2)``, ``parallel(Identity(), branch)``, ``FanInSum()``.

A branch without a top-level linear layer (e.g. only a nonlinearity, or only LayerNorm) is a
function of x_c itself, and a skip on the raw input with a branch of non-zero mean needs the
data's channel means: both raise.  See docs/theory/layers.md, "residual".
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


def has_linear(branch) -> bool:
    """Whether a linear layer (dense, conv, attention) is at the branch's top level (not only inside a
    nested residual, whose skip would pass the outer skip through)."""
    from . import rule
    return any(rule(layer).LINEAR for layer in branch)


def kernel_map(layer, state: KernelState, b: KernelBuilder, is_readout: bool = False) -> KernelState:
    from . import fold_kernel
    out = fold_kernel(layer.branch, state, b)
    if out.spatial != state.spatial or sp.simplify(out.channels - state.channels) != 0:
        raise SpecError(f"the branch maps features of shape {state.spatial or ()} x {state.channels} to "
                        f"{out.spatial or ()} x {out.channels}: a residual sum needs the same shape",
                        layer.where)
    if not has_linear(layer.branch):
        raise SpecError("the skip path and the branch are correlated in the infinite-width limit: the branch "
                        "has no dense/conv/attention layer, so its output is a function of the skip's own "
                        "channel and the kernels would not add; put a linear layer in the branch", layer.where)
    s = layer.scale
    cross = None   # the skip-branch cross term, where both means are non-zero
    if not (state.mean_is_zero or out.mean_is_zero):
        if state.mean is None:
            raise SpecError("the skip path is the raw input, whose channel means are data, and the branch has "
                            "non-zero mean (it ends in a nonlinearity), so the cross term m_x m_branch is not "
                            "available and the kernels would not add; put a dense/conv layer before the "
                            "residual block or end the branch with a linear layer", layer.where)
        state = b.name_means(state, "muskip", "feature mean of the skip path", r"{\mu_{\mathrm{skip}}}")
        out = b.name_means(out, "mubranch", "feature mean of the branch (E[phi(u)])", r"{\mu_{\mathrm{branch}}}")

        def cross(p):
            (mx1, mx2), (mb1, mb2) = state.mean_pair(p), out.mean_pair(p)
            return s * (mx1 * mb2 + mb1 * mx2)
    nngp = {}
    for p in PAIRS:
        if cross is None:
            nngp[p] = b.define("R", p, state.nngp[p] + s ** 2 * out.nngp[p], "residual sum: skip + scale^2 branch",
                               out)
        else:
            nngp[p] = b.define("R", p, state.nngp[p] + s ** 2 * out.nngp[p] + cross(p),
                               "residual sum: skip + scale^2 branch + scale (m_x m_b' + m_b m_x')", out)
    theta = 0
    if b.ntk:
        theta = b.define("ThetaR", "12", state.ntk + s ** 2 * out.ntk, "NTK of the residual sum (no cross term)",
                         out, latex_stem=r"{\Theta_{R}}")
    if state.mean is None:
        mean = None
    elif out.mean_is_zero:
        mean = state.mean
    else:
        mean = {k: state.mean[k] + s * out.mean[k] for k in state.mean}
    return out.with_(nngp=nngp, ntk=theta, is_gaussian=state.is_gaussian and out.is_gaussian,
                     is_input=False, mean=mean)


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
