"""The symbols of one eigenmode of the training kernel in a mode action
(docs/theory/kernel_renormalization.md): eigenvalue λ_μ, squared projected target ỹ_μ², and the
likelihood variance σ².  Shared by the derivation (:mod:`mftsym.solve.derive`) and the compiled
action (:mod:`mftsym.solve.compiled`)."""

from __future__ import annotations

import sympy as sp

#: One eigenmode of the training kernel: eigenvalue λ_μ and squared projected target ỹ_μ².
LAM = sp.Symbol("lam", nonnegative=True)
Y2 = sp.Symbol("y2", nonnegative=True)
NOISE = sp.Symbol("noise", positive=True)

__all__ = ["LAM", "NOISE", "Y2"]
