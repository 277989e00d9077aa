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
even m).  New layer types (convolution over non-overlapping patches, attention over L tokens) add
a row to RULES with their own cost and propagation rules; nothing else changes
(docs/theory/scaling.md, "Adding a layer type").
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


#: layer type -> its candidate patterns, in display order.
RULES = {
    "dense": (_gp, _gfl, _spec, _mag),
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
