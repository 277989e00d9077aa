r"""Global average pooling: the mean over all positions (no parameters).

    y = mean_s x(s),     K' = mean_{s,s'} K(s,s'),     Theta' = mean_{s,s'} Theta(s,s'),     m' = mean_s m(s)

(neural-tangents' ``GlobalAvgPool``).  The output is flat: the features are the channels.
See docs/theory/layers.md, "global_avg_pool".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

from ._spatial_common import check_keys
from .operators import GlobalAverage, MeanPositionAverage
from .state import PAIRS, KernelBuilder, KernelState

LAYER_TYPE = "global_avg_pool"
LINEAR = False
MIXES_POSITIONS = True


@dataclass(frozen=True)
class GlobalAvgPool:
    where: str = field(default="global_avg_pool", compare=False, repr=False)
    type = "global_avg_pool"
    free_symbols = frozenset()

    @classmethod
    def from_dict(cls, d, where):
        check_keys(d, set(), set(), "global_avg_pool", where)
        return cls(where=where)

    def to_dict(self):
        return {"type": "global_avg_pool"}


def kernel_map(layer, state: KernelState, b: KernelBuilder, is_readout: bool = False) -> KernelState:
    from ._spatial_common import check_rank
    check_rank(state.spatial or (), state.spatial, "global_avg_pool", layer.where)
    if not state.full:
        raise ValueError("global_avg_pool needs the full position-pair kernel")
    shape = sp.Tuple(*state.spatial)
    new_state = state.with_(spatial=None, full=False)
    nngp = {p: b.define("G", p, GlobalAverage(state.nngp[p], shape), "global average pooling", new_state,
                        latex_stem=r"\langle K \rangle") for p in PAIRS}
    theta = 0
    if b.ntk:
        theta = b.define("ThetaG", "12", GlobalAverage(state.ntk, shape), "NTK after global average pooling",
                         new_state, latex_stem=r"\langle \Theta \rangle")
    mean = None if state.mean is None else \
        {(i, side): MeanPositionAverage(state.mean[(i, 0)], shape, sp.Integer(0), sp.Integer(1))
         for (i, side) in state.mean}      # flat output: both placements are the same mean
    return new_state.with_(nngp=nngp, ntk=theta, mean=mean)


@dataclass(frozen=True)
class GlobalAvgPoolPlan:
    rank: int

    def param_shapes(self, index):
        return []

    def forward(self, params, h):
        return h.mean(dim=tuple(range(h.dim() - 1 - self.rank, h.dim() - 1)))


def numeric_plan(layer, ctx, is_readout: bool = False):
    from ._spatial_common import check_rank
    check_rank(ctx.spatial or (), ctx.spatial, "global_avg_pool", layer.where)
    return GlobalAvgPoolPlan(len(ctx.spatial)), None, ctx.channels
