r"""Global self-attention over positions (Hron, Bahri, Sohl-Dickstein & Novak 2020, "Infinite
attention"; neural-tangents' ``GlobalSelfAttention``), ntk and standard parametrizations.

Finite layer, H heads, key/query width n_k, value width n_v, input channels C, positions s, t::

    G_h(s,t) = sqrt(q k) (x_s W^Q_h) . (x_t W^K_h) / (C n_k^a)          a = 1 ("linear"), 1/2 ("sqrt")
    y(s)     = sqrt(v o / (C H n_v)) sum_h [sum_t mech(G_h)(s,t) x_t W^V_h] W^O + sqrt(C_b) b

with all raw weights N(0, 1), (q, k, v, o) = (query_var, key_var, value_var, out_var), and for the
``linear`` scaling the query and key weights tied (W^Q = W^K), so the logits converge to the
deterministic G(s,t) = sqrt(q k) K(x,x; s,t) as n_k grows.  Kernel maps (heads, widths -> infinity):

``linear`` (any mechanism; A_x = mech(sqrt(q k) K(x,x; s,.)), softmax over the key positions t)::

    K'(x,x';s,s') = v o sum_{t,t'} A_x(s,t) K(x,x';t,t') A_x'(s',t') + C_b
    Theta'        = v o sum A_x Theta A_x' + 2 v o sum A_x K A_x' + C_b

``sqrt`` with ``identity`` (the logits stay Gaussian; Hron et al. eq. for the identity mechanism)::

    K'     = q k v o [sum_{t,t'} K(t,t')^2] K(s,s') + C_b
    Theta' = q k v o ( 2 [sum K Theta] K + [sum K^2] (Theta + 4 K) ) + C_b

``sqrt`` with softmax / relu / abs has no closed form: the random logits enter a nonlinearity (the
kernel is an integral over them); it raises.  The output is zero-mean Gaussian.

Standard parametrization (``linear`` scaling): raw W^K ~ N(0, sqrt(q k)/C), logits / n_k, W^V ~ N(0, v/C),
W^O ~ N(0, o/(H n_v)), b ~ N(0, C_b); the same NNGP, and the NTK of the raw parameters::

    Theta' = v o sum A_x Theta A_x' + (H n_v v + C o) sum A_x K A_x' + 2 v o sqrt(q k) (C/n_k) T + [bias]

with T the key-weight term (:class:`~mftsym.layers.operators.AttentionKeyNTK`; in the ntk
parametrization it carries 1/C more and vanishes as 1/n_k).  See docs/theory/layers.md, "attention".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import sympy as sp

from ..errors import SpecError
from ..spec.layers import _check_variance, _check_width, _to_data
from ._spatial_common import check_keys
from .operators import MECHANISMS, AttentionKeyNTK, AttentionWeighting, AttentionWeights, PositionSum
from .state import PAIRS, ZERO_MEAN, KernelBuilder, KernelState

LAYER_TYPE = "attention"
LINEAR = True
MIXES_POSITIONS = True
SCALINGS = ("linear", "sqrt")


@dataclass(frozen=True)
class Attention:
    width: sp.Expr
    heads: sp.Expr
    key_width: sp.Expr
    value_width: sp.Expr
    query_var: sp.Expr = sp.Integer(1)
    key_var: sp.Expr = sp.Integer(1)
    value_var: sp.Expr = sp.Integer(1)
    out_var: sp.Expr = sp.Integer(1)
    bias_var: sp.Expr = sp.Integer(0)
    mechanism: str = "softmax"
    logit_scaling: str = "linear"
    where: str = field(default="attention", compare=False, repr=False)

    type = "attention"

    def __post_init__(self):
        w = self.where
        for name in ("width", "heads", "key_width", "value_width"):
            object.__setattr__(self, name, _check_width(getattr(self, name), f"{w}.{name}"))
        for name in ("query_var", "key_var", "value_var", "out_var", "bias_var"):
            object.__setattr__(self, name, _check_variance(getattr(self, name), f"{w}.{name}"))
        if self.mechanism not in MECHANISMS:
            raise SpecError(f"mechanism must be one of {MECHANISMS}, got {self.mechanism!r}", f"{w}.mechanism")
        if self.logit_scaling not in SCALINGS:
            raise SpecError(f"logit_scaling must be one of {SCALINGS}, got {self.logit_scaling!r}",
                            f"{w}.logit_scaling")

    @property
    def has_bias(self) -> bool:
        return not bool(self.bias_var.is_zero)

    @property
    def free_symbols(self) -> set:
        out = set()
        for name in ("width", "heads", "key_width", "value_width", "query_var", "key_var", "value_var",
                     "out_var", "bias_var"):
            out |= getattr(self, name).free_symbols
        return out

    _KEYS = ("width", "heads", "key_width", "value_width", "query_var", "key_var", "value_var", "out_var",
             "bias_var", "mechanism", "logit_scaling")

    @classmethod
    def from_dict(cls, d, where):
        check_keys(d, set(cls._KEYS), {"width", "heads", "key_width", "value_width"}, "attention", where)
        return cls(**{k: d[k] for k in cls._KEYS if k in d}, where=where)

    def to_dict(self):
        d = {"type": "attention"}
        for k in self._KEYS:
            v = getattr(self, k)
            d[k] = v if isinstance(v, str) else _to_data(v)
        return d


def _check_supported(layer, parametrization):
    if parametrization not in ("ntk", "standard"):
        raise SpecError(f"attention is implemented in the ntk and standard parametrizations, not {parametrization!r}",
                        layer.where)
    if parametrization == "standard" and layer.logit_scaling != "linear":
        raise SpecError("attention in the standard parametrization is implemented for logit_scaling = \"linear\" "
                        "only; use the ntk parametrization for \"sqrt\"", layer.where)
    if layer.logit_scaling == "sqrt" and layer.mechanism != "identity":
        raise SpecError(f"attention with logit_scaling = \"sqrt\" and mechanism = {layer.mechanism!r} has no "
                        "closed-form infinite-width kernel (the logits stay random and enter a nonlinearity); "
                        "use logit_scaling = \"linear\" (query and key weights tied, as in neural-tangents) or "
                        "mechanism = \"identity\"", layer.where)


def kernel_map(layer, state: KernelState, b: KernelBuilder, is_readout: bool = False) -> KernelState:
    from ._spatial_common import check_rank
    check_rank(state.spatial or (), state.spatial, "attention", layer.where)
    _check_supported(layer, b.parametrization)
    if not state.full:
        raise ValueError("attention needs the full position-pair kernel")
    shape = sp.Tuple(*state.spatial)
    ov, cb = layer.value_var * layer.out_var, layer.bias_var
    K, theta = state.nngp, state.ntk
    layer_no = b.next_layer()
    if layer.logit_scaling == "linear":
        qk = sp.sqrt(layer.query_var * layer.key_var)
        code = sp.Integer(MECHANISMS.index(layer.mechanism))
        A = {p: b.define("Att", p, AttentionWeights(qk * K[p], shape, code),
                         f"attention weights ({layer.mechanism}) of the {'first' if p == '11' else 'second'} input",
                         state, latex_stem=r"\mathcal{A}") for p in ("11", "22")}
        sides = {"11": ("11", "11"), "12": ("11", "22"), "22": ("22", "22")}
        new = {p: b.define("K", p, ov * AttentionWeighting(K[p], A[sides[p][0]], A[sides[p][1]], shape) + cb,
                           f"NNGP after attention layer {layer_no}", state) for p in PAIRS}
        nt = 0
        if b.ntk and b.parametrization == "standard":
            c, weighted = state.channels, AttentionWeighting(K["12"], A["11"], A["22"], shape)
            keys = 2 * ov * qk * c / layer.key_width * AttentionKeyNTK(K["12"], qk * K["11"], qk * K["22"], shape, code)
            nt = b.define("Theta", "12", ov * AttentionWeighting(theta, A["11"], A["22"], shape)
                          + (layer.heads * layer.value_width * layer.value_var + c * layer.out_var) * weighted
                          + keys + (1 if layer.has_bias else 0),
                          f"NTK after attention layer {layer_no} (standard parametrization: output weights "
                          "H n_v v, value weights C o, key weights 2 v o sqrt(qk) C/n_k T, bias 1)",
                          state, latex_stem=r"\Theta")
        elif b.ntk:
            nt = b.define("Theta", "12", ov * AttentionWeighting(theta, A["11"], A["22"], shape)
                          + 2 * (new["12"] - cb) + cb,
                          f"NTK after attention layer {layer_no} (values and output weights: 2 (K' - C_b))",
                          state, latex_stem=r"\Theta")
    else:
        qkov = layer.query_var * layer.key_var * ov
        new = {p: b.define("K", p, qkov * PositionSum(K[p] ** 2, shape) * K[p] + cb,
                           f"NNGP after identity attention layer {layer_no} (sqrt scaling)", state) for p in PAIRS}
        nt = 0
        if b.ntk:
            k12 = K["12"]
            nt = b.define("Theta", "12", qkov * (2 * PositionSum(k12 * theta, shape) * k12
                                                 + PositionSum(k12 ** 2, shape) * (theta + 4 * k12)) + cb,
                          f"NTK after identity attention layer {layer_no} (sqrt scaling)", state,
                          latex_stem=r"\Theta")
    return state.with_(nngp=new, ntk=nt, channels=layer.width, is_gaussian=True, is_input=False,
                          mean=ZERO_MEAN)


# --------------------------------------------------------------------------- numeric plan
@dataclass(frozen=True)
class AttentionPlan:
    in_channels: int
    width: int
    heads: int
    key_width: int
    value_width: int
    qk: float            # sqrt(query_var key_var)
    ov: float            # sqrt(value_var out_var)
    b_mult: float
    mechanism: str
    linear: bool
    rank: int
    standard: bool = False
    value_var: float = 1.0
    out_var: float = 1.0

    def _prior(self, ntk_mult_sq):
        """Prior variance of a raw weight: 1 (ntk), or the square of its ntk multiplier (standard)."""
        return ntk_mult_sq if self.standard else 1.0

    @property
    def has_bias(self) -> bool:
        return self.b_mult != 0.0

    def param_shapes(self, index):
        c, h = self.in_channels, self.heads
        out = [(f"att{index}_WK", (h, c, self.key_width), self._prior(self.qk / c))]
        if not self.linear:
            out.append((f"att{index}_WQ", (h, c, self.key_width), 1.0))
        out += [(f"att{index}_WV", (h, c, self.value_width), self._prior(self.value_var / c)),
                (f"att{index}_WO", (h * self.value_width, self.width), self._prior(self.out_var / (h * self.value_width)))]
        if self.has_bias:
            out.append((f"att{index}_b", (self.width,), self._prior(self.b_mult ** 2)))
        return out

    def forward(self, params, h):
        import torch
        WK = next(params)
        WQ = WK if self.linear else next(params)
        WV, WO = next(params), next(params)
        members = WK.shape[0]
        r = self.rank
        if h.dim() == r + 2:
            h = h.expand(members, *h.shape)
        spatial = h.shape[2:2 + r]
        x = h.reshape(members, h.shape[1], -1, self.in_channels)                 # (M, P, S, C)
        keys = torch.einsum("mpsc,mhck->mphsk", x, WK)
        queries = keys if self.linear else torch.einsum("mpsc,mhck->mphsk", x, WQ)
        if self.standard:            # the prior of W^K carries sqrt(qk)/C (linear scaling only)
            logits = torch.einsum("mphsk,mphtk->mphst", queries, keys) / self.key_width
        else:
            norm = self.in_channels * (self.key_width if self.linear else math.sqrt(self.key_width))
            logits = torch.einsum("mphsk,mphtk->mphst", queries, keys) * (self.qk / norm)
        weights = {"softmax": lambda a: torch.softmax(a, -1), "identity": lambda a: a,
                   "relu": torch.relu, "abs": torch.abs}[self.mechanism](logits)
        values = torch.einsum("mpsc,mhcv->mphsv", x, WV)
        heads = torch.einsum("mphst,mphtv->mpshv", weights, values).flatten(-2)   # (M, P, S, H n_v)
        if self.standard:            # priors: W^V ~ N(0, v/C), W^O ~ N(0, o / (H n_v)), b ~ N(0, C_b)
            out = heads @ WO[:, None]
        else:
            out = heads @ WO[:, None] * (self.ov / math.sqrt(self.value_width * self.heads * self.in_channels))
        if self.has_bias:
            out = out + (1.0 if self.standard else self.b_mult) * next(params)[:, None, None, :]
        return out.reshape(members, h.shape[1], *spatial, self.width)


def numeric_plan(layer, ctx, is_readout: bool = False):
    from ._spatial_common import check_rank
    check_rank(ctx.spatial or (), ctx.spatial, "attention", layer.where)
    _check_supported(layer, ctx.parametrization)
    w = layer.where
    ints = {k: ctx.integer(getattr(layer, k), f"{w}.{k}", k) for k in ("width", "heads", "key_width", "value_width")}
    num = {k: ctx.number(getattr(layer, k), f"{w}.{k}") for k in ("query_var", "key_var", "value_var", "out_var",
                                                                  "bias_var")}
    plan = AttentionPlan(ctx.channels, ints["width"], ints["heads"], ints["key_width"], ints["value_width"],
                         math.sqrt(num["query_var"] * num["key_var"]), math.sqrt(num["value_var"] * num["out_var"]),
                         math.sqrt(num["bias_var"]), layer.mechanism, layer.logit_scaling == "linear",
                         len(ctx.spatial), ctx.parametrization == "standard", num["value_var"], num["out_var"])
    return plan, ctx.spatial, ints["width"]
