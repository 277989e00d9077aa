r"""The NNFT action to O(1/N) (Halverson, Maiti & Stoner 2021; docs/theory/nnft.md).

On a finite set of inputs, with K = G2 and G4c the connected four-point function (Edgeworth
expansion at tree level)::

    S[f] = 1/2 f_a A_ab f_b + 1/4! lambda_abcd f_a f_b f_c f_d,
    lambda_abcd = - K^-1_aa' K^-1_bb' K^-1_cc' K^-1_dd' G4c(a'b'c'd'),
    A_ab = K^-1_ab - 1/2 lambda_abcd K_cd        (keeps the two-point function equal to K).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp

from ..derive.derivation import Definition, Derivation
from ..derive.kernels import INPUT_LATEX, INPUT_SYMBOLS


@dataclass(frozen=True)
class NNFTAction:
    """Quadratic and quartic couplings of the O(1/N) action on P inputs."""

    K: np.ndarray          # (P, P) two-point function G2
    G4c: np.ndarray        # (P, P, P, P)
    A: np.ndarray          # (P, P)
    lam: np.ndarray        # (P, P, P, P)

    def action(self, f) -> np.ndarray:
        """S[f] for f of shape (..., P)."""
        f = np.asarray(f, dtype=float)
        quad = 0.5 * np.einsum("...a,ab,...b->...", f, self.A, f)
        quart = np.einsum("...a,...b,...c,...d,abcd->...", f, f, f, f, self.lam) / 24
        return quad + quart


def couplings(K, G4c):
    """(A, lambda) from the two-point matrix and the connected four-point tensor."""
    Ki = np.linalg.inv(K)
    lam = -np.einsum("ai,bj,ck,dl,ijkl->abcd", Ki, Ki, Ki, Ki, G4c)
    A = Ki - 0.5 * np.einsum("abcd,cd->ab", lam, K)
    return A, lam


def nnft_action(spec, x, params=None, method: str = "auto") -> NNFTAction:
    """The O(1/N) NNFT action of a one-hidden-layer spec on the rows of ``x``."""
    from .single_layer import connected_four_point_tensor
    K, G4 = connected_four_point_tensor(spec, x, params=params, method=method)
    A, lam = couplings(K, G4)
    return NNFTAction(K, G4, A, lam)


def derive_action(spec) -> Derivation:
    """The action at one input, for any depth: S(f) = A f^2/2 + lambda f^4/4!, with
    K = E[f^2] and G4c = E[f^4] - 3E[f^2]^2 from the single-input recursion (exact for one hidden
    layer, O(1/N) for deeper ones)."""
    from .deep import derive_deep_recursion
    deep = derive_deep_recursion(spec)
    x11 = INPUT_SYMBOLS["11"]
    Ksym, Gsym = sp.Symbol("Gtwo", positive=True), sp.Symbol("Gfourc", real=True)
    lam, A = sp.Symbol("lambdafour", real=True), sp.Symbol("Atwo", real=True)
    f = sp.Symbol("f", real=True)
    defs = list(deep.definitions) + [
        Definition(Ksym, deep.outputs["second_moment"], r"G_2(x,x)", "two-point function"),
        Definition(Gsym, deep.outputs["kappa4"], r"G_{4,c}(x,x,x,x)", "connected four-point function"),
        Definition(lam, -Gsym / Ksym**4, r"\lambda", "quartic coupling"),
        Definition(A, 1 / Ksym - lam * Ksym / 2, r"A", "quadratic coupling"),
    ]
    S = sp.Function("S")(f)
    eq = sp.Eq(S, A * f**2 / 2 + lam * f**4 / 24)
    notes = (r"NNFT action to $O(1/N)$ (Halverson, Maiti \& Stoner 2021), on inputs $x_a$: "
             r"$S[f] = \tfrac12 f_a A_{ab} f_b + \tfrac{1}{4!}\lambda_{abcd} f_a f_b f_c f_d$ with "
             r"$\lambda_{abcd} = -K^{-1}_{aa'}K^{-1}_{bb'}K^{-1}_{cc'}K^{-1}_{dd'} G_{4,c}(a'b'c'd')$ and "
             r"$A_{ab} = K^{-1}_{ab} - \tfrac12 \lambda_{abcd}K_{cd}$. Below: one input.",)
    return Derivation(title="Finite width: the NNFT action to O(1/N) at one input", inputs=(x11,),
                      definitions=tuple(defs), outputs={**deep.outputs, "lambda": lam, "A": A, "G2": Ksym,
                                                        "G4c": Gsym},
                      equations=(eq,), input_latex={x11: INPUT_LATEX[x11], f: "f"}, notes=notes)


__all__ = ["NNFTAction", "couplings", "derive_action", "nnft_action"]
