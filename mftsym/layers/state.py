r"""The frozen kernel state that layers map, and the builder that records a derivation's definitions.

A :class:`KernelState` is what the infinite-width network knows after a layer: the NNGP at the
three entries (x,x), (x,x'), (x',x') of the 2x2 covariance (``nngp``), the NTK at (x,x')
(``ntk``), the number of features per position the next linear layer sees (``channels``), the
spatial shape (``None`` for flat features), whether every position pair is kept (``full``, needed
once a layer mixes positions) or only the position diagonal, and ``is_gaussian``: whether the
features are zero-mean Gaussian in the limit (the output of a linear layer), the condition for a
nonlinearity's Gaussian expectation and for a residual sum without cross terms (neural-tangents'
``Kernel.is_gaussian``).  ``mean`` holds the mean of the features per input and position,
m(x; s) = E[h_c(x; s)] (the same for every channel c in the limit): keys (i, side) for the input
i in "1" (x), "2" (x') laid along the positions s (side 0) or s' (side 1); ``None`` where it is not
tracked (the raw input, whose channel means are data).  It is zero after a linear layer with
zero-mean weights, E[phi(u)] after a nonlinearity, averaged by pooling; residual sums and LayerNorm
use it.  See docs/theory/layers.md, "means".
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Mapping

import sympy as sp

from ..errors import SpecError
from ..spec.expressions import as_expr
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
    mean: Mapping | None = None

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


    def variance(self, i: str, side: int):
        """K(x_i, x_i; s, s) laid along the positions of ``side`` (0: s, 1: s'); the plain entry
        ``nngp[ii]`` unless every position pair is kept."""
        k = self.nngp[i + i]
        if self.spatial is not None and self.full:
            return PositionDiagonal(k, sp.Tuple(*self.spatial), side)
        return k

    @property
    def mean_is_zero(self) -> bool:
        return self.mean is not None and all(as_expr(v).is_zero for v in self.mean.values())

    def mean_pair(self, pair: str):
        """(m(x_a; s), m(x_b; s')) of the entry ``pair`` = "ab", or None when means are not tracked."""
        if self.mean is None:
            return None
        return self.mean[(pair[0], 0)], self.mean[(pair[1], 1)]


#: the mean of features that are zero-mean (the output of a linear layer with zero-mean weights)
ZERO_MEAN = {(i, side): sp.S.Zero for i in ("1", "2") for side in (0, 1)}
_MEAN_LATEX = {"1": "x", "2": "x'"}


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


    def name_means(self, state: KernelState, stem: str = "mu", description: str = "feature mean",
                   latex_stem: str = r"\mu") -> KernelState:
        """``state`` with every non-zero, non-symbol mean expression replaced by a named definition
        (means are named only where a layer uses them, so chains that never need them are unchanged)."""
        from ..derive.derivation import Definition
        if state.mean is None:
            return state
        separate = state.spatial is not None and state.full
        named, out = {}, {}
        for (i, side), expr in state.mean.items():
            expr = as_expr(expr)
            if expr.is_zero or expr.is_Symbol or expr.is_number:
                out[(i, side)] = expr
                continue
            if expr not in named:
                name = f"{stem}{self.layer}_{i}" + ("p" if side == 1 and separate else "")
                while name in self._names:
                    name += "q"
                self._names.add(name)
                sym = sp.Symbol(name, real=True)
                pos = "" if state.spatial is None else ("(s')" if side == 1 and separate else "(s)")
                latex = rf"{latex_stem}^{{({self.layer})}}_{{{_MEAN_LATEX[i]}}}{pos}"
                self.definitions.append(Definition(sym, expr, latex, description))
                named[expr] = sym
            out[(i, side)] = named[expr]
        return state.with_(mean=out)


def require_gaussian(state: KernelState, what: str, where: str):
    """Raise a SpecError when ``what`` needs zero-mean Gaussian inputs and the state is not."""
    if not state.is_gaussian:
        raise SpecError(f"{what} acts on features that are not zero-mean Gaussian in the infinite-width "
                        "limit (e.g. the output of a nonlinearity, or a residual sum of such); put a dense "
                        "or conv layer before it", where)


def require_means(state: KernelState, what: str, where: str):
    """Raise a SpecError when ``what`` needs the feature means and the state does not track them."""
    if state.mean is None:
        raise SpecError(f"{what} needs the mean of its input features, which is not tracked for the raw "
                        "input (its channel means are data); put a dense or conv layer before it", where)


__all__ = ["INPUT_LATEX", "INPUT_SYMBOLS", "KernelBuilder", "KernelState", "PAIRS", "ZERO_MEAN", "kernel_latex",
           "kernel_symbol", "require_gaussian", "require_means"]
