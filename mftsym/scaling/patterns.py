"""Enumerate the candidate feature-learning patterns of a network: one PatternStep per hidden layer,
chained by propagating the target's Signal through the layers.

The bound on the large-deviation cost of reaching alignment O(1) is (Rubin, Davidovich & Ringel,
arXiv:2512.04165, Sec. 3)

    E~ = sum_l sum_i Delta_{l,i}  +  a_y,      a_y = <y, K_L^{-1} y> ~ readout_scale / lambda_L,

with Delta the per-neuron costs of leaving the prior (layer rules) and lambda_L the target's
eigenvalue in the last hidden layer's features (docs/theory/scaling.md, "Patterns").
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from .layer_rules import layer_patterns
from .monomial import Monomial
from .signal import Signal, input_signal


@dataclass(frozen=True)
class CostTerm:
    monomial: Monomial
    origin: str          # "layer 1 (spec)", "target norm a_y"


@dataclass(frozen=True)
class Pattern:
    steps: tuple         # PatternStep per hidden layer
    terms: tuple         # CostTerm
    degree: int          # Hermite degree of the target

    @property
    def name(self) -> str:
        return "-".join(s.label for s in self.steps)

    @property
    def free(self) -> tuple:
        return tuple(q for s in self.steps for q in s.free)

    @property
    def free_names(self) -> tuple:
        return tuple(q.name for q in self.free)

    @property
    def latex(self) -> str:
        return r" \to ".join(s.latex for s in self.steps)

    def cost_sum(self) -> sp.Expr:
        return sum(t.monomial.to_sympy() for t in self.terms)


def enumerate_patterns(arch, degree: int) -> list:
    """Every chain of per-layer patterns feasible for ``arch`` on a He_degree target."""
    chains = [((), input_signal(arch.input_dim, degree))]
    for layer in arch.layers:
        nxt = []
        for steps, sig in chains:
            for step in layer_patterns(sig, layer):
                nxt.append((steps + (step,), Signal(step.output_eigenvalue, 1)))
        chains = nxt
    out = []
    for steps, sig in chains:
        terms = [CostTerm(c, f"layer {s.layer} ({s.pattern})") for s in steps for c in s.costs]
        terms.append(CostTerm(arch.readout_scale / sig.v, "target norm a_y"))
        out.append(Pattern(tuple(steps), tuple(terms), degree))
    return out


__all__ = ["CostTerm", "Pattern", "enumerate_patterns"]
