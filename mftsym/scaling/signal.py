"""How a layer's input carries the target: ``Signal(v, m)``.

The target is the m-th Hermite power of a direction whose share of the layer input's prior
variance is v.  Under a lazy (GP) kernel the target's eigenvalue is then ~ v**m, so its norm is
a_y ~ v**(-m) (Rubin, Davidovich & Ringel, arXiv:2512.04165; docs/theory/scaling.md, "Signal").
At the input, ``y = He_k(w*.x)`` with x ~ N(0, I_d): ``Signal(1/d, k)``.  After a hidden layer
the target is carried linearly by the layer's features: ``Signal(lambda, 1)``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .monomial import Monomial


@dataclass(frozen=True)
class Signal:
    v: Monomial
    m: int

    @property
    def lazy_eigenvalue(self) -> Monomial:
        """The target's eigenvalue under a lazy kernel of this input: v**m (relative spectrum kept)."""
        return self.v ** self.m


def input_signal(input_dim: Monomial, degree: int) -> Signal:
    return Signal(input_dim ** -1, degree)


__all__ = ["Signal", "input_signal"]
