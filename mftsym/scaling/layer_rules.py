"""Per-layer-type cost rules: the candidate feature-learning patterns of one hidden layer.

Each rule maps the incoming Signal(v, m) and the layer (width N, activation phi) to a PatternStep:
its cost terms (monomials of the variational bound, Rubin, Davidovich & Ringel, arXiv:2512.04165,
Sec. 3-4), its free quantity with its range, and the target's eigenvalue lambda in the layer's
output features (the next layer's Signal(lambda, 1)).  Per-neuron costs are KL divergences of a
factorised Gaussian ansatz from the prior, kept at their leading scaling:

=============  ======================  =================  =========================  ==========
pattern        free quantity           cost               lambda (output)            range
=============  ======================  =================  =========================  ==========
GP (lazy)      --                      0                  v**m (relative spectrum)   --
GFL            boost D of the          N * D              (D v)**m  (D of a          1 <= D <= 1/v
               direction's variance                       direction boosts its m-th
                                                          power by D**m)
specialisation M of the N neurons      M / v  (each fixes M / N  (rank-one update:   1 <= M <= N
               align with the          the 1/v-dimensional downstream norm ~ N/M)
               direction               direction)
magnetisation  common mean beta of     N * beta**2 / v    beta**(2 m)                sqrt(v) <= beta <= 1
               all N neurons along it
=============  ======================  =================  =========================  ==========

A rule returns None where the activation cannot carry the degree it needs (c_m = 0, e.g. erf and
even m).

Convolution over non-overlapping patches (``conv``): the channels are the neurons and their filter
is shared by the n patches, so the dense rules apply with the channel's input dimension p (the
incoming ``Signal(1/p, k)``, set by architecture.py): a specialised channel costs p, not d = n p;
a GFL boost or a magnetisation is paid once per channel, not per patch.  The pooling enters only
the readout (architecture.py: a flatten readout multiplies a_y by n).

Softmax attention head over L tokens (``attention``, H heads, N output channels, then an
activation): the head's attention either stays lazy (near-uniform weights ~ 1/L: a target carried
by one token keeps a share 1/L of the head's output spectrum, lambda -> lambda / L) or boosts the
target token's share by a factor A (1 <= A <= L: share A/L), a Gaussian boost of the query-key
logits' variance along that token paid once per head, cost H * A (KL 1/2 (A - 1 - ln A) ~ A/2, as
for GFL); lambda -> A lambda / L.  The token share enters linearly (the attention mixes the
tokens' features; m = 1 in "a boost D boosts the m-th power by D^m").  The value/output channels then
follow the dense rules on the attended token (input dimension d).  Each attention pattern is one of
{lazy, attend(A)} times one of the dense rules (docs/theory/scaling.md, "Attention").
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ..errors import SpecError
from .activation_hermite import carries_degree
from .monomial import Monomial
from .signal import Signal


@dataclass(frozen=True)
class FreeQuantity:
    """A pattern's free quantity: ``name`` (monomial variable), its range, LaTeX and meaning."""

    name: str
    lower: Monomial
    upper: Monomial
    latex: str
    meaning: str


@dataclass(frozen=True)
class PatternStep:
    pattern: str            # "GP", "GFL", "spec", "mag"
    layer: int
    costs: tuple            # Monomials
    free: tuple             # FreeQuantity
    output_eigenvalue: Monomial
    latex: str

    @property
    def label(self) -> str:
        return f"{self.pattern}{self.layer}"


def _gp(sig: Signal, layer) -> PatternStep | None:
    if not carries_degree(layer.activation, sig.m):
        return None
    return PatternStep("GP", layer.index, (), (), sig.lazy_eigenvalue, r"\mathrm{GP}")


def _gfl(sig: Signal, layer) -> PatternStep | None:
    if not carries_degree(layer.activation, sig.m):
        return None
    name = f"D_{layer.index}"
    D = Monomial.var(name)
    q = FreeQuantity(name, Monomial.const(1), sig.v ** -1, f"D_{{{layer.index}}}",
                     f"GFL boost of the target direction's variance in layer {layer.index}")
    return PatternStep("GFL", layer.index, (layer.width * D,), (q,), (D * sig.v) ** sig.m,
                       rf"\mathrm{{GFL}}(D_{{{layer.index}}})")


def _spec(sig: Signal, layer) -> PatternStep | None:
    if not carries_degree(layer.activation, sig.m):
        return None
    name = f"M_{layer.index}"
    M = Monomial.var(name)
    q = FreeQuantity(name, Monomial.const(1), layer.width, f"M_{{{layer.index}}}",
                     f"number of specialised neurons in layer {layer.index}")
    return PatternStep("spec", layer.index, (M / sig.v,), (q,), M / layer.width,
                       rf"\mathrm{{spec}}(M_{{{layer.index}}})")


def _mag(sig: Signal, layer) -> PatternStep | None:
    if not carries_degree(layer.activation, sig.m):
        return None
    name = f"beta_{layer.index}"
    b = Monomial.var(name)
    q = FreeQuantity(name, sig.v ** sp.Rational(1, 2), Monomial.const(1), rf"\beta_{{{layer.index}}}",
                     f"magnetisation (common mean overlap) of layer {layer.index}")
    return PatternStep("mag", layer.index, (layer.width * b ** 2 / sig.v,), (q,), b ** (2 * sig.m),
                       rf"\mathrm{{mag}}(\beta_{{{layer.index}}})")


DENSE_RULES = (_gp, _gfl, _spec, _mag)


def _attention_rule(value_rule, attend: bool):
    """{lazy, attend(A)} x a dense rule for the head's value/output channels (module docstring)."""

    def rule(sig: Signal, layer) -> PatternStep | None:
        step = value_rule(sig, layer)
        if step is None:
            return None
        L, H = layer.extras["L"], layer.extras["heads"]
        if not attend:
            return PatternStep(step.pattern, step.layer, step.costs, step.free, step.output_eigenvalue / L,
                               step.latex)
        name = f"A_{layer.index}"
        A = Monomial.var(name)
        q = FreeQuantity(name, Monomial.const(1), L, f"A_{{{layer.index}}}",
                         f"boost of the target token's share of the attention head's output in layer "
                         f"{layer.index} (share A/L)")
        pattern = "attn" if step.pattern == "GP" else f"attn+{step.pattern}"
        latex = rf"\mathrm{{attn}}(A_{{{layer.index}}})" + ("" if step.pattern == "GP" else r"+" + step.latex)
        return PatternStep(pattern, step.layer, (H * A,) + step.costs, (q,) + step.free,
                           step.output_eigenvalue * A / L, latex)

    return rule


#: layer type -> its candidate patterns, in display order.
RULES = {
    "dense": DENSE_RULES,
    "conv": DENSE_RULES,
    "attention": tuple(_attention_rule(r, False) for r in DENSE_RULES)
                 + tuple(_attention_rule(r, True) for r in DENSE_RULES),
}


def layer_patterns(sig: Signal, layer) -> list:
    """The feasible PatternSteps of ``layer`` given its incoming signal."""
    try:
        rules = RULES[layer.kind]
    except KeyError:
        raise SpecError(f"no scaling rules for layer type {layer.kind!r}; known: {', '.join(RULES)}. "
                        "Add its cost/propagation rules to mftsym.scaling.layer_rules.RULES",
                        f"hidden layer {layer.index}") from None
    return [step for rule in rules if (step := rule(sig, layer)) is not None]


__all__ = ["FreeQuantity", "PatternStep", "RULES", "layer_patterns"]
