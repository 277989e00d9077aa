r"""Dense (fully connected) layer: kernel map, numeric plan, finite torch forward.

    h = sqrt(C_W / n) W x + sqrt(C_b) b,   W, b ~ N(0, 1)          (ntk; see parametrization.py)

On a spatial input it acts on the channel axis at every position (neural-tangents' ``Dense``
on an (N, H, W, C) input).  Kernel map (Neal 1996; Lee et al. 2018; Jacot et al. 2018)::

    K'(x,x') = C_W K(x,x') + C_b
    Theta'(x,x') = [own parameters] + C_W Theta(x,x')

position pair by position pair.  See docs/theory/layers.md, section "dense".
"""

from __future__ import annotations

from dataclasses import dataclass

from . import parametrization as par
from .state import PAIRS, ZERO_MEAN, KernelBuilder, KernelState

LAYER_TYPE = "dense"
LINEAR = True


def kernel_map(layer, state: KernelState, b: KernelBuilder, is_readout: bool = False) -> KernelState:
    layer_no = b.next_layer()
    fan_in = state.channels
    cw = par.kernel_weight_var(b.parametrization, layer.weight_var, fan_in, is_readout)
    cb = par.kernel_bias_var(b.parametrization, layer.bias_var, fan_in, is_readout)
    post = state.nngp
    pre = {}
    for p in PAIRS:
        pre[p] = b.define("K", p, cw * post[p] + cb,
                          f"NNGP of the pre-activations of dense layer {layer_no}", state)
    theta = 0
    if b.ntk:
        own = par.ntk_own_term(b.parametrization, pre["12"], post["12"], fan_in, layer.has_bias)
        theta = b.define("Theta", "12", own + cw * state.ntk,
                         f"NTK after dense layer {layer_no} ({par.ntk_own_description(b.parametrization)})",
                         state, latex_stem=r"\Theta")
    return state.with_(nngp=pre, ntk=theta, channels=layer.width, is_gaussian=True, is_input=False,
                          mean=ZERO_MEAN)


# --------------------------------------------------------------------------- numeric plan
@dataclass(frozen=True)
class DensePlan:
    """A dense layer's numbers: effective weight = w_mult * raw W (fan_in x width), raw prior
    variances; ``spatial`` is the position shape it acts on (None: flat features)."""

    fan_in: int
    width: int
    w_mult: float
    b_mult: float
    w_prior_var: float
    b_prior_var: float
    spatial: tuple | None = None

    @property
    def has_bias(self) -> bool:
        return self.b_mult != 0.0 and self.b_prior_var != 0.0

    def param_shapes(self, index: int) -> list:
        out = [(f"W{index}", (self.fan_in, self.width), self.w_prior_var)]
        if self.has_bias:
            out.append((f"b{index}", (self.width,), self.b_prior_var))
        return out

    def forward(self, params, h):
        """``params``: iterator over raw parameters with a leading member axis (M, ...);
        ``h``: (M, P, [*S,] fan_in), or (P, [*S,] fan_in) shared by the members."""
        W = next(params)
        if self.spatial is None:
            h = h.matmul(W) * self.w_mult
            if self.has_bias:
                h = h + self.b_mult * next(params)[:, None, :]
            return h
        r = len(self.spatial)
        members = W.shape[0]
        if h.dim() == r + 2:                       # shared input (P, *S, C)
            h = h.expand(members, *h.shape)
        shape = h.shape
        h = (h.reshape(members, -1, shape[-1]).matmul(W) * self.w_mult).reshape(*shape[:-1], self.width)
        if self.has_bias:
            h = h + self.b_mult * next(params).reshape(members, *([1] * (h.dim() - 2)), self.width)
        return h


def numeric_plan(layer, ctx, is_readout: bool = False):
    width = ctx.integer(layer.width, f"{ctx.where}.width", "width")
    wv = ctx.number(layer.weight_var, f"{ctx.where}.weight_var")
    bv = ctx.number(layer.bias_var, f"{ctx.where}.bias_var")
    g0 = None
    if ctx.parametrization == "mu_p" and is_readout:
        g0 = ctx.number(par.MUP_RICHNESS, f"params.{par.MUP_RICHNESS} (the richness of the mu_p parametrization)")
        if not g0 > 0:
            from ..errors import SpecError
            raise SpecError(f"{par.MUP_RICHNESS} must be positive, got {g0}", f"params.{par.MUP_RICHNESS}")
    mults = par.numeric_multipliers(ctx.parametrization, wv, bv, ctx.channels, is_readout, richness=g0)
    return DensePlan(ctx.channels, width, *mults, spatial=ctx.spatial), ctx.spatial, width
