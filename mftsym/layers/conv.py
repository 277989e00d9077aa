r"""Convolution: spec table, kernel map, finite torch forward.

    h(s) = sqrt(C_W / n) sum_{d in k} W_d x(st s + d - p) + sqrt(C_b) b,   n = C_in |k|

(ntk parametrization; neural-tangents' ``Conv(out_chan, filter_shape, strides, padding,
W_std=sqrt(C_W), b_std=sqrt(C_b))``, channels last).  Kernel map (Novak et al. 2019; Garriga-Alonso
et al. 2019)::

    K'(s,s')     = C_W P[K](s,s') + C_b,      P[K](s,s') = (1/|k|) sum_d K(st s + d - p, st s' + d - p)
    Theta'(s,s') = [own] + C_W P[Theta](s,s')

with zero padding (``same``), none (``valid``) or periodic (``circular``).  P acts on the
position diagonal alone when the network never mixes positions.  See docs/theory/layers.md, "conv".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import sympy as sp

from ..errors import SpecError
from ..spec.layers import _check_variance, _check_width, _to_data
from . import parametrization as par
from ._spatial_common import check_keys, check_padding, check_rank, int_tuple
from .operators import PatchAverage, output_shape, padding_amounts
from .state import PAIRS, ZERO_MEAN, KernelBuilder, KernelState

LAYER_TYPE = "conv"
LINEAR = True


@dataclass(frozen=True)
class Conv:
    """Convolution with ``width`` output channels, a ``kernel`` window, ``stride`` and ``padding``."""

    width: sp.Expr
    kernel: tuple
    weight_var: sp.Expr
    bias_var: sp.Expr = sp.Integer(0)
    stride: tuple | None = None
    padding: str = "same"
    where: str = field(default="conv", compare=False, repr=False)

    type = "conv"

    def __post_init__(self):
        w = self.where
        object.__setattr__(self, "width", _check_width(self.width, f"{w}.width"))
        object.__setattr__(self, "weight_var", _check_variance(self.weight_var, f"{w}.weight_var"))
        object.__setattr__(self, "bias_var", _check_variance(self.bias_var, f"{w}.bias_var"))
        kernel = int_tuple(self.kernel, f"{w}.kernel", "kernel")
        stride = int_tuple(self.stride if self.stride is not None else [1] * len(kernel), f"{w}.stride", "stride")
        if len(stride) != len(kernel):
            raise SpecError(f"stride {stride} and kernel {kernel} have different ranks", f"{w}.stride")
        object.__setattr__(self, "kernel", kernel)
        object.__setattr__(self, "stride", stride)
        object.__setattr__(self, "padding", check_padding(self.padding, f"{w}.padding"))

    @property
    def has_bias(self) -> bool:
        return not bool(self.bias_var.is_zero)

    @property
    def free_symbols(self) -> set:
        return self.width.free_symbols | self.weight_var.free_symbols | self.bias_var.free_symbols

    @classmethod
    def from_dict(cls, d: dict, where: str) -> "Conv":
        check_keys(d, {"width", "kernel", "stride", "padding", "weight_var", "bias_var"},
                   {"width", "kernel", "weight_var"}, "conv", where)
        return cls(d["width"], d["kernel"], d["weight_var"], d.get("bias_var", 0), d.get("stride"),
                   d.get("padding", "same"), where=where)

    def to_dict(self) -> dict:
        d = {"type": "conv", "width": _to_data(self.width), "kernel": list(self.kernel),
             "stride": list(self.stride), "padding": self.padding, "weight_var": _to_data(self.weight_var)}
        if self.has_bias:
            d["bias_var"] = _to_data(self.bias_var)
        return d


def geometry(layer, spatial):
    """(pad_lo, pad_hi, output shape) of ``layer`` on inputs of position shape ``spatial``."""
    lo, hi = padding_amounts(layer.padding, spatial, layer.kernel, layer.stride)
    out = output_shape(spatial, layer.kernel, layer.stride, lo, hi)
    if any(n < 1 for n in out):
        raise SpecError(f"a {layer.kernel} window with {layer.padding!r} padding does not fit inputs of "
                        f"shape {tuple(spatial)}", layer.where)
    return lo, hi, out


def kernel_map(layer, state: KernelState, b: KernelBuilder, is_readout: bool = False) -> KernelState:
    check_rank(layer.kernel, state.spatial, "conv", layer.where)
    lo, hi, out = geometry(layer, state.spatial)
    args = (sp.Tuple(*state.spatial), sp.Tuple(*layer.kernel), sp.Tuple(*layer.stride), sp.Tuple(*lo),
            sp.Tuple(*hi), sp.Integer(layer.padding == "circular"), sp.Integer(state.full))

    def patch(k):
        return PatchAverage(k, *args)

    layer_no = b.next_layer()
    fan_in = state.channels * math.prod(layer.kernel)
    cw = par.kernel_weight_var(b.parametrization, layer.weight_var, fan_in, is_readout)
    post = {p: patch(state.nngp[p]) for p in PAIRS}
    new_state = state.with_(spatial=tuple(out))
    pre = {p: b.define("K", p, cw * post[p] + layer.bias_var,
                       f"NNGP of the pre-activations of conv layer {layer_no}: patch average P", new_state)
           for p in PAIRS}
    theta = 0
    if b.ntk:
        own = par.ntk_own_term(b.parametrization, pre["12"], post["12"], fan_in, layer.has_bias)
        theta = b.define("Theta", "12", own + cw * patch(state.ntk),
                         f"NTK after conv layer {layer_no} ({par.ntk_own_description(b.parametrization)})",
                         new_state, latex_stem=r"\Theta")
    return new_state.with_(nngp=pre, ntk=theta, channels=layer.width, is_gaussian=True, is_input=False,
                          mean=ZERO_MEAN)


# --------------------------------------------------------------------------- numeric plan
@dataclass(frozen=True)
class ConvPlan:
    in_channels: int
    width: int
    kernel: tuple
    stride: tuple
    pad_lo: tuple
    pad_hi: tuple
    circular: bool
    w_mult: float
    b_mult: float
    w_prior_var: float
    b_prior_var: float

    @property
    def has_bias(self) -> bool:
        return self.b_mult != 0.0 and self.b_prior_var != 0.0

    def param_shapes(self, index: int) -> list:
        out = [(f"conv{index}_W", (*self.kernel, self.in_channels, self.width), self.w_prior_var)]
        if self.has_bias:
            out.append((f"conv{index}_b", (self.width,), self.b_prior_var))
        return out

    def forward(self, params, h):
        import torch.nn.functional as F
        W = next(params)                                 # (M, *k, Cin, Cout)
        r = len(self.kernel)
        members = W.shape[0]
        if h.dim() == r + 2:
            h = h.expand(members, *h.shape)
        P, spatial, cin = h.shape[1], h.shape[2:2 + r], h.shape[-1]
        x = h.permute(1, 0, r + 2, *range(2, 2 + r)).reshape(P, members * cin, *spatial)
        pads = []
        for lo, hi in zip(reversed(self.pad_lo), reversed(self.pad_hi)):
            pads += [lo, hi]
        if any(pads):
            x = F.pad(x, pads, mode="circular" if self.circular else "constant")
        w = W.permute(0, r + 2, r + 1, *range(1, r + 1)).reshape(members * self.width, cin, *self.kernel)
        conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[r]
        y = conv(x, w, stride=self.stride, groups=members) * self.w_mult
        out_sp = y.shape[2:]
        y = y.reshape(P, members, self.width, *out_sp).permute(1, 0, *range(3, 3 + r), 2)
        if self.has_bias:
            y = y + self.b_mult * next(params).reshape(members, *([1] * (r + 1)), self.width)
        return y


def numeric_plan(layer, ctx, is_readout: bool = False):
    check_rank(layer.kernel, ctx.spatial, "conv", layer.where)
    lo, hi, out = geometry(layer, ctx.spatial)
    width = ctx.integer(layer.width, f"{layer.where}.width", "width")
    wv = ctx.number(layer.weight_var, f"{layer.where}.weight_var")
    bv = ctx.number(layer.bias_var, f"{layer.where}.bias_var")
    fan_in = ctx.channels * math.prod(layer.kernel)
    mults = par.numeric_multipliers(ctx.parametrization, wv, bv, fan_in, is_readout)
    plan = ConvPlan(ctx.channels, width, layer.kernel, layer.stride, lo, hi, layer.padding == "circular", *mults)
    return plan, tuple(out), width
