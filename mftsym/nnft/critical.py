r"""Criticality of deep networks (Poole et al. 2016; Schoenholz et al. 2017; Roberts, Yaida & Hanin 2022).

For a hidden layer with activation phi and prior variances (C_b, C_W), the single-input kernel
has a fixed point K* = C_b + C_W g(K*), g(K) = <phi^2>_K.  Perturbations along and across the
input direction grow by

    chi_par  = C_W g'(K*)          (parallel susceptibility)
    chi_perp = C_W <phi'^2>_{K*}   (perpendicular susceptibility).

The *critical line* chi_perp = 1 is parametrised by K*:
    C_W(K*) = 1 / <phi'^2>_{K*},   C_b(K*) = K* - C_W(K*) g(K*),
kept symbolic where the Gaussian averages close; a *critical point* also has chi_par = 1, i.e.
g'(K*) = <phi'^2>_{K*}.  K* -> 0 is one whenever phi is smooth with phi(0) = 0 (g'(0) = phi'(0)^2
= <phi'^2>_0): C_W = 1/phi'(0)^2, C_b = 0 (tanh: (0, 1)).  ReLU has chi_par = chi_perp = C_W/2 at
every K*, so C_b = 0 and C_W = 2 along the whole line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from ..derive.derivation import Definition, Derivation
from ..errors import MftsymError
from ._common import dense_blocks
from .deep import _k, single_input_moments


@dataclass(frozen=True)
class CriticalityResult:
    """The critical line and points of one activation, and the spec's own susceptibilities."""

    activation: str
    line: Derivation                       # C_W(K*), C_b(K*), chi_par(K*) along chi_perp = 1
    samples: np.ndarray                    # rows (K*, C_b, C_W, chi_par) along the line
    points: tuple                          # ((C_b, C_W, K*), ...) where chi_par = chi_perp = 1
    spec_susceptibilities: dict = field(default_factory=dict)   # per hidden layer: K, chi_par, chi_perp

    def report(self) -> str:
        lines = [f"activation phi(x) = {self.activation}",
                 "critical line chi_perp = 1, parametrised by the fixed point Kstar = K*:"]
        for out, label in (("C_W", "sigma_w^2 = C_W"), ("C_b", "sigma_b^2 = C_b"), ("chi_par", "chi_par")):
            expr = self.line.expression(out)
            kstar = {k: sp.Symbol("Kstar", positive=True) for k in self.line.inputs}
            lines.append(f"  {label} = {sp.sstr(expr.xreplace(kstar))}")
        lines.append(f"  {'K*':>10} {'sigma_b^2':>12} {'sigma_w^2':>12} {'chi_par':>10}")
        for row in self.samples:
            lines.append(f"  {row[0]:10.4g} {row[1]:12.6g} {row[2]:12.6g} {row[3]:10.6g}")
        if self.points:
            for cb, cw, k in self.points:
                where = "every K*" if np.isnan(k) else f"K* = {k:.4g}"
                lines.append(f"critical point (chi_par = chi_perp = 1): (sigma_b^2, sigma_w^2) = "
                             f"({cb:.6g}, {cw:.6g}) at {where}")
        else:
            lines.append("no critical point (chi_par = chi_perp = 1) found for K* in [0, 30]")
        if self.spec_susceptibilities:
            lines.append("this spec's susceptibilities, hidden layer l into layer l+1 (one input with x.x/d = 1):")
            for name, vals in self.spec_susceptibilities.items():
                lines.append(f"  {name}: K = {vals['K']:.6g}, chi_par = {vals['chi_par']:.6g}, "
                             f"chi_perp = {vals['chi_perp']:.6g}")
        return "\n".join(lines)


def critical_line(phi) -> Derivation:
    """C_W(K*), C_b(K*) and chi_par(K*) along chi_perp = 1, as a chain in the input k = K*."""
    m = single_input_moments(phi)
    CW, Cb, chi = sp.Symbol("CW", positive=True), sp.Symbol("Cb", real=True), sp.Symbol("chipar", real=True)
    gs, dgs, dps = sp.Symbol("g", positive=True), sp.Symbol("dg", real=True), sp.Symbol("dphisq", positive=True)
    defs = (Definition(gs, m["g"], r"g(K^*)"), Definition(dgs, m["dg"], r"g'(K^*)"),
            Definition(dps, m["dphi2"], r"\langle\phi'^2\rangle_{K^*}"),
            Definition(CW, 1 / dps, r"C_W", "chi_perp = 1"),
            Definition(Cb, _k - CW * gs, r"C_b", "fixed point K* = C_b + C_W g(K*)"),
            Definition(chi, CW * dgs, r"\chi_\parallel", "parallel susceptibility on the line"))
    return Derivation(title=f"Criticality: the line chi_perp = 1 for phi(x) = {phi}", inputs=(_k,),
                      definitions=defs, outputs={"C_W": CW, "C_b": Cb, "chi_par": chi},
                      input_latex={_k: "K^*"},
                      notes=(r"Critical line $\chi_\perp = 1$ parametrised by the fixed point $K^*$; a critical "
                             r"point also has $\chi_\parallel = 1$.",))


def _hidden_activation(network):
    blocks = dense_blocks(network)
    if len(blocks) < 2:
        raise MftsymError("criticality needs at least one hidden layer (dense -> activation -> dense)")
    phis = {str(phi) for _, phi in blocks[:-1]}
    if len(phis) > 1:
        raise MftsymError(f"criticality assumes one activation for every hidden layer; found {sorted(phis)}")
    return blocks[0][1]


def criticality(spec, k_grid=None, x_sq_over_d: float = 1.0) -> CriticalityResult:
    """The critical line and critical points for the spec's hidden activation, plus the spec's own
    susceptibilities per hidden layer at an input with x.x/d = ``x_sq_over_d``."""
    from ..compile.chain import compile_chain
    network = getattr(spec, "network", spec)
    phi = _hidden_activation(network)
    line = critical_line(phi)
    fn = compile_chain(line, "numpy")
    ks = np.asarray(k_grid if k_grid is not None else np.concatenate([[1e-6], np.geomspace(1e-3, 30, 60)]))
    out = fn({"k": ks})
    cw, cb, chi = (np.broadcast_to(np.asarray(out[n], dtype=float), ks.shape) for n in ("C_W", "C_b", "chi_par"))
    samples = np.stack([ks, cb, cw, chi], 1)
    points = []
    # the K* -> 0 limit (smooth phi, phi(0) = 0)
    if abs(chi[0] - 1) < 1e-4 and abs(cb[0]) < 1e-4:
        points.append((0.0, float(cw[0]), 0.0))
    # chi_par = 1 identically (ReLU-like)
    if np.all(np.abs(chi - 1) < 1e-8):
        points = [(float(np.median(cb)), float(np.median(cw)), float("nan"))]
    else:
        f = chi - 1
        for i in np.nonzero(np.sign(f[1:]) * np.sign(f[:-1]) < 0)[0]:
            lo, hi = ks[i + 1 - 1], ks[i + 1]
            for _ in range(60):
                mid = np.sqrt(lo * hi)
                fm = float(np.asarray(fn({"k": mid})["chi_par"])) - 1
                flo = float(np.asarray(fn({"k": lo})["chi_par"])) - 1
                lo, hi = (lo, mid) if np.sign(fm) != np.sign(flo) else (mid, hi)
            r = fn({"k": np.sqrt(lo * hi)})
            if float(np.asarray(r["C_b"])) >= -1e-9:
                points.append((float(np.asarray(r["C_b"])), float(np.asarray(r["C_W"])), float(np.sqrt(lo * hi))))
    sus = {}
    if hasattr(spec, "params"):
        try:
            sus = spec_susceptibilities(spec, x_sq_over_d)
        except MftsymError:
            sus = {}
    return CriticalityResult(str(phi), line, samples[:: max(1, len(ks) // 12)], tuple(points), sus)


def spec_susceptibilities(spec, x_sq_over_d: float = 1.0) -> dict:
    """{"layer l": {"K", "chi_par", "chi_perp"}} from the single-input recursion at x.x/d = x_sq_over_d."""
    from .deep import deep_recursion
    net = spec.network
    dim = net.input_dim
    d = int(dim) if dim.is_Integer else 1
    x = np.zeros((1, d))
    x[0, 0] = np.sqrt(x_sq_over_d * d)
    params = dict(spec.params)
    if dim.is_Symbol:
        params.setdefault(dim.name, 1.0)
    for layer in net.dense_layers:
        if layer.width.is_Symbol:
            params.setdefault(layer.width.name, 1.0)   # widths do not enter K or chi
    r = deep_recursion(spec, x, params=params)
    out = {}
    l = 1
    while f"chi_par{l}" in r:
        out[f"layer {l}"] = {"K": float(r[f"K{l}"][0]), "chi_par": float(r[f"chi_par{l}"][0]),
                             "chi_perp": float(r[f"chi_perp{l}"][0])}
        l += 1
    return out


def susceptibilities(spec, x_sq_over_d: float = 1.0) -> dict:
    """Alias of :func:`spec_susceptibilities`."""
    return spec_susceptibilities(spec, x_sq_over_d)


__all__ = ["CriticalityResult", "critical_line", "criticality", "spec_susceptibilities", "susceptibilities"]
