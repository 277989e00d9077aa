r"""Average pooling over windows of positions (no parameters).

    y(s) = (1/|w|) sum_{a in W(s)} x(a),     K'(s,s') = (1/|w|^2) sum_{a in W(s), b in W(s')} K(a,b)

the mean of the features m'(s) = (1/|w|) sum_{a in W(s)} m(a), and the same map on the NTK (neural-tangents' ``AvgPool(window, strides, padding)`` with
``normalize_edges=False``: zero padding counts in the average).  It mixes positions, so the
network keeps every position pair.  See docs/theory/layers.md, "avg_pool".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

from ..errors import SpecError
from ._spatial_common import check_keys, check_padding, check_rank, int_tuple
from .operators import MeanWindowAverage, WindowAverage, output_shape, padding_amounts
from .state import PAIRS, KernelBuilder, KernelState

LAYER_TYPE = "avg_pool"
LINEAR = False
MIXES_POSITIONS = True


@dataclass(frozen=True)
class AvgPool:
    window: tuple
    stride: tuple | None = None
    padding: str = "valid"
    where: str = field(default="avg_pool", compare=False, repr=False)

    type = "avg_pool"

    def __post_init__(self):
        window = int_tuple(self.window, f"{self.where}.window", "window")
        stride = int_tuple(self.stride if self.stride is not None else window, f"{self.where}.stride", "stride")
        if len(stride) != len(window):
            raise SpecError(f"stride {stride} and window {window} have different ranks", f"{self.where}.stride")
        object.__setattr__(self, "window", window)
        object.__setattr__(self, "stride", stride)
        object.__setattr__(self, "padding", check_padding(self.padding, f"{self.where}.padding"))

    free_symbols = frozenset()

    @classmethod
    def from_dict(cls, d, where):
        check_keys(d, {"window", "stride", "padding"}, {"window"}, "avg_pool", where)
        return cls(d["window"], d.get("stride"), d.get("padding", "valid"), where=where)

    def to_dict(self):
        return {"type": "avg_pool", "window": list(self.window), "stride": list(self.stride), "padding": self.padding}


def geometry(layer, spatial):
    lo, hi = padding_amounts(layer.padding, spatial, layer.window, layer.stride)
    out = output_shape(spatial, layer.window, layer.stride, lo, hi)
    if any(n < 1 for n in out):
        raise SpecError(f"a {layer.window} pooling window does not fit inputs of shape {tuple(spatial)}", layer.where)
    return lo, hi, out


def kernel_map(layer, state: KernelState, b: KernelBuilder, is_readout: bool = False) -> KernelState:
    check_rank(layer.window, state.spatial, "avg_pool", layer.where)
    if not state.full:
        raise ValueError("avg_pool needs the full position-pair kernel")
    lo, hi, out = geometry(layer, state.spatial)
    args = (sp.Tuple(*state.spatial), sp.Tuple(*layer.window), sp.Tuple(*layer.stride), sp.Tuple(*lo),
            sp.Tuple(*hi), sp.Integer(layer.padding == "circular"))
    new_state = state.with_(spatial=tuple(out))
    nngp = {p: b.define("A", p, WindowAverage(state.nngp[p], *args), "average pooling of the kernel W",
                        new_state, latex_stem=r"\bar{K}") for p in PAIRS}
    theta = 0
    if b.ntk:
        theta = b.define("ThetaA", "12", WindowAverage(state.ntk, *args), "NTK after average pooling",
                         new_state, latex_stem=r"\bar{\Theta}")
    mean = None if state.mean is None else \
        {(i, side): MeanWindowAverage(m, *args, sp.Integer(side)) for (i, side), m in state.mean.items()}
    return new_state.with_(nngp=nngp, ntk=theta, mean=mean)


@dataclass(frozen=True)
class AvgPoolPlan:
    window: tuple
    stride: tuple
    pad_lo: tuple
    pad_hi: tuple
    circular: bool

    def param_shapes(self, index):
        return []

    def forward(self, params, h):
        import torch.nn.functional as F
        r = len(self.window)
        lead = h.shape[:h.dim() - r - 1]
        x = h.reshape(-1, *h.shape[-r - 1:])                    # (B, *S, C)
        x = x.permute(0, r + 1, *range(1, r + 1))               # (B, C, *S)
        pads = []
        for lo, hi in zip(reversed(self.pad_lo), reversed(self.pad_hi)):
            pads += [lo, hi]
        if any(pads):
            x = F.pad(x, pads, mode="circular" if self.circular else "constant")
        pool = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}[r]
        y = pool(x, self.window, self.stride)
        y = y.permute(0, *range(2, 2 + r), 1)
        return y.reshape(*lead, *y.shape[1:])


def numeric_plan(layer, ctx, is_readout: bool = False):
    check_rank(layer.window, ctx.spatial, "avg_pool", layer.where)
    lo, hi, out = geometry(layer, ctx.spatial)
    return AvgPoolPlan(layer.window, layer.stride, lo, hi, layer.padding == "circular"), tuple(out), ctx.channels
