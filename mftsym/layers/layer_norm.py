r"""LayerNorm over the channels at every position, without affine parameters.

    y(s) = (x(s) - mean_c x(s)) / std_c x(s)

In the infinite-width limit the channels are i.i.d., so the channel mean concentrates on the
feature mean m(x;s) and the channel variance on V(x;s) = K(x,x;s,s) - m(x;s)^2::

    K'(x,x';s,s') = (K(x,x';s,s') - m(x;s) m(x';s')) / sqrt(V(x;s) V(x';s')),    m' = 0
    Theta'        = Theta / sqrt(V(x;s) V(x';s'))

(the Jacobian's rank-one projections contribute O(1/n) to the NTK).  On zero-mean Gaussian inputs
this is neural-tangents' ``LayerNorm(axis=-1)`` (which centres in its apply function and requires
``is_gaussian`` for its kernel, where m = 0): K / sqrt(K(x,x) K(x',x')).  With the tracked means it
also holds on non-Gaussian features (post-activation, residual sums), where it is exact
by the same law of large numbers.  The diagonal of the kernel becomes 1.  See docs/theory/layers.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

from ._spatial_common import check_keys
from .state import PAIRS, ZERO_MEAN, KernelBuilder, KernelState, require_means

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
    require_means(state, "layer_norm", layer.where)
    if state.mean_is_zero:
        def centred(p):
            v1, v2 = state.variances(p)
            return state.nngp[p], v1 * v2
        what = "LayerNorm: K / sqrt(K(x,x) K(x',x'))"
    else:
        state = b.name_means(state, "muLN", "the feature mean that LayerNorm subtracts", r"{\mu_{\mathrm{LN}}}")

        def centred(p):
            (v1, v2), (m1, m2) = state.variances(p), state.mean_pair(p)
            return state.nngp[p] - m1 * m2, (v1 - m1 ** 2) * (v2 - m2 ** 2)
        what = "LayerNorm: (K - m m') / sqrt(V(x) V(x')), V = K(x,x) - m^2"
    nngp = {}
    for p in PAIRS:
        num, den = centred(p)
        nngp[p] = b.define("LN", p, num / sp.sqrt(den), what, state, latex_stem=r"\hat{K}")
    theta = 0
    if b.ntk:
        theta = b.define("ThetaLN", "12", state.ntk / sp.sqrt(centred("12")[1]), "NTK after LayerNorm", state,
                         latex_stem=r"\hat{\Theta}")
    return state.with_(nngp=nngp, ntk=theta, mean=ZERO_MEAN)


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
