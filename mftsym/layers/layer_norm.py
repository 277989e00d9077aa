r"""LayerNorm over the channels at every position, without affine parameters.

    y(s) = (x(s) - mean_c x(s)) / std_c x(s)

On zero-mean Gaussian inputs the channel mean vanishes and the channel variance concentrates on
K(s,s) as the width grows, so (neural-tangents' ``LayerNorm(axis=-1)``, which needs
``is_gaussian`` inputs too)::

    K'(x,x';s,s') = K(x,x';s,s') / sqrt(K(x,x;s,s) K(x',x';s',s'))

and the same division of the NTK.  The diagonal of the kernel becomes 1.  See docs/theory/layers.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

from ._spatial_common import check_keys
from .state import PAIRS, KernelBuilder, KernelState, require_gaussian

LAYER_TYPE = "layer_norm"
LINEAR = False
EPS = 1e-12


@dataclass(frozen=True)
class LayerNorm:
    where: str = field(default="layer_norm", compare=False, repr=False)
    type = "layer_norm"
    free_symbols = frozenset()

    @classmethod
    def from_dict(cls, d, where):
        check_keys(d, set(), set(), "layer_norm", where)
        return cls(where=where)

    def to_dict(self):
        return {"type": "layer_norm"}


def kernel_map(layer, state: KernelState, b: KernelBuilder, is_readout: bool = False) -> KernelState:
    require_gaussian(state, "layer_norm", layer.where)
    nngp = {}
    for p in PAIRS:
        v1, v2 = state.variances(p)
        nngp[p] = b.define("LN", p, state.nngp[p] / sp.sqrt(v1 * v2), "LayerNorm: K / sqrt(K(x,x) K(x',x'))",
                           state, latex_stem=r"\hat{K}")
    theta = 0
    if b.ntk:
        v1, v2 = state.variances("12")
        theta = b.define("ThetaLN", "12", state.ntk / sp.sqrt(v1 * v2), "NTK after LayerNorm", state,
                         latex_stem=r"\hat{\Theta}")
    return state.with_(nngp=nngp, ntk=theta)


@dataclass(frozen=True)
class LayerNormPlan:
    eps: float = EPS

    def param_shapes(self, index):
        return []

    def forward(self, params, h):
        h = h - h.mean(-1, keepdim=True)
        return h / (h.pow(2).mean(-1, keepdim=True) + self.eps).sqrt()


def numeric_plan(layer, ctx, is_readout: bool = False):
    return LayerNormPlan(), ctx.spatial, ctx.channels
