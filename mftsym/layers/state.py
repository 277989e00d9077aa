r"""The frozen kernel state that layers map, and the builder that records a derivation's definitions.

A :class:`KernelState` is what the infinite-width network knows after a layer: the NNGP at the
three entries (x,x), (x,x'), (x',x') of the 2x2 covariance (``nngp``), the NTK at (x,x')
(``ntk``), the number of features per position the next linear layer sees (``channels``), the
spatial shape (``None`` for flat features), whether every position pair is kept (``full``, needed
once a layer mixes positions) or only the position diagonal, and ``is_gaussian``: whether the
features are zero-mean Gaussian in the limit (the output of a linear layer), the condition for a
nonlinearity's Gaussian expectation and for a residual sum without cross terms (neural-tangents'
``Kernel.is_gaussian``).  See docs/theory/layers.md.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Mapping

import sympy as sp

from ..errors import SpecError
from .operators import PositionDiagonal

PAIRS = ("11", "12", "22")
_PAIR_LATEX = {"11": "x x", "12": "x x'", "22": "x' x'"}

#: Data symbols: raw inner products of the two inputs (per position pair for spatial inputs).
INPUT_SYMBOLS = {p: sp.Symbol(f"x{p}", real=True, **({"nonnegative": True} if p != "12" else {}))
                 for p in PAIRS}
INPUT_LATEX = {INPUT_SYMBOLS["11"]: r"x \cdot x", INPUT_SYMBOLS["12"]: r"x \cdot x'",
               INPUT_SYMBOLS["22"]: r"x' \cdot x'"}


def kernel_symbol(stem: str, layer: int, pair: str) -> sp.Symbol:
    if pair == "12":
        return sp.Symbol(f"{stem}{layer}_{pair}", real=True)
    return sp.Symbol(f"{stem}{layer}_{pair}", positive=True)


def kernel_latex(stem: str, layer: int, pair: str, positions: str = "") -> str:
    return rf"{stem}^{{({layer})}}_{{{_PAIR_LATEX[pair]}}}{positions}"


@dataclass(frozen=True)
class KernelState:
    """The infinite-width kernels after a layer (see the module docstring)."""

    nngp: Mapping
    ntk: sp.Expr
    channels: sp.Expr
    spatial: tuple | None = None
    full: bool = False
    is_gaussian: bool = False
    is_input: bool = True

    @property
    def positions_latex(self) -> str:
        if self.spatial is None:
            return ""
        return "(s,s')" if self.full else "(s)"

    def with_(self, **changes) -> "KernelState":
        return replace(self, **changes)

    def variances(self, pair: str):
        """(K11, K22) arguments of the Gaussian expectation for the entry ``pair``: the variances of
        the two pre-activations.  In full mode they are position diagonals of the x-x / x'-x' entries."""
        k = self.nngp
        left, right = {"11": ("11", "11"), "12": ("11", "22"), "22": ("22", "22")}[pair]
        if self.spatial is not None and self.full:
            shape = sp.Tuple(*self.spatial)
            return PositionDiagonal(k[left], shape, 0), PositionDiagonal(k[right], shape, 1)
        if pair == "12":
            return k["11"], k["22"]
        return k[pair], k[pair]


class KernelBuilder:
    """Collects the definitions of a kernel derivation while the layers fold over the state."""

    def __init__(self, parametrization: str, ntk: bool = True, method: str = "auto", order=None):
        self.parametrization = parametrization
        self.ntk = ntk
        self.method = method
        self.order = order
        self.definitions: list = []
        self.layer = 0
        self._names: set = set()

    def next_layer(self) -> int:
        self.layer += 1
        return self.layer

    def define(self, stem: str, pair: str, expr, description: str, state: KernelState,
               latex_stem: str | None = None, layer: int | None = None) -> sp.Symbol:
        from ..derive.derivation import Definition
        layer = self.layer if layer is None else layer
        name_stem, tex_stem = stem, latex_stem or stem
        while kernel_symbol(name_stem, layer, pair).name in self._names:
            name_stem, tex_stem = name_stem + "p", "{" + tex_stem + "'}"
        sym = kernel_symbol(name_stem, layer, pair)
        self._names.add(sym.name)
        self.definitions.append(Definition(sym, expr, kernel_latex(tex_stem, layer, pair, state.positions_latex),
                                           description))
        return sym


def require_gaussian(state: KernelState, what: str, where: str):
    """Raise a SpecError when ``what`` needs zero-mean Gaussian inputs and the state is not."""
    if not state.is_gaussian:
        raise SpecError(f"{what} acts on features that are not zero-mean Gaussian in the infinite-width "
                        "limit (e.g. the output of a nonlinearity, or a residual sum of such); put a dense "
                        "or conv layer before it", where)


__all__ = ["INPUT_LATEX", "INPUT_SYMBOLS", "KernelBuilder", "KernelState", "PAIRS", "kernel_latex",
           "kernel_symbol", "require_gaussian"]
