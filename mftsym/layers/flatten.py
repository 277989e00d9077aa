r"""Flatten: positions and channels into one feature vector (no parameters).

The next dense layer sees n = |S| C features, so (neural-tangents' ``Flatten``)::

    K' = mean_s K(s,s),     Theta' = mean_s Theta(s,s)

(the per-feature covariance; only the position diagonal is needed).  The feature means are
averaged too, m' = mean_s m(s): the feature average mean_f m(f) that a later LayerNorm centres by,
and that a residual cross term needs (its branch has a linear layer, so its mean is uniform).  See docs/theory/layers.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import sympy as sp

from ._spatial_common import check_keys, check_rank
from .operators import DiagonalAverage, MeanPositionAverage
from .state import PAIRS, KernelBuilder, KernelState

LAYER_TYPE = "flatten"
LINEAR = False


@dataclass(frozen=True)
class Flatten:
    where: str = field(default="flatten", compare=False, repr=False)
    type = "flatten"
    free_symbols = frozenset()

    @classmethod
    def from_dict(cls, d, where):
        check_keys(d, set(), set(), "flatten", where)
        return cls(where=where)

    def to_dict(self):
        return {"type": "flatten"}


def kernel_map(layer, state: KernelState, b: KernelBuilder, is_readout: bool = False) -> KernelState:
    check_rank(state.spatial or (), state.spatial, "flatten", layer.where)
    args = (sp.Tuple(*state.spatial), sp.Integer(state.full))
    new_state = state.with_(spatial=None, full=False, channels=state.channels * math.prod(state.spatial))
    nngp = {p: b.define("F", p, DiagonalAverage(state.nngp[p], *args), "flatten: mean over positions of K(s,s)",
                        new_state, latex_stem=r"{K^{\flat}}") for p in PAIRS}
    theta = 0
    if b.ntk:
        theta = b.define("ThetaF", "12", DiagonalAverage(state.ntk, *args), "NTK after flatten", new_state,
                         latex_stem=r"{\Theta^{\flat}}")
    mean = None if state.mean is None else \
        {(i, side): MeanPositionAverage(state.mean[(i, 0)], args[0], sp.Integer(0), args[1])
         for (i, side) in state.mean}      # flat output: both placements are the same mean
    return new_state.with_(nngp=nngp, ntk=theta, mean=mean)


@dataclass(frozen=True)
class FlattenPlan:
    rank: int

    def param_shapes(self, index):
        return []

    def forward(self, params, h):
        return h.flatten(h.dim() - 1 - self.rank)


def numeric_plan(layer, ctx, is_readout: bool = False):
    check_rank(ctx.spatial or (), ctx.spatial, "flatten", layer.where)
    return FlattenPlan(len(ctx.spatial)), None, ctx.channels * math.prod(ctx.spatial)
