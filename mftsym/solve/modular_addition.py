r"""Modular addition with a square-activation two-layer network in mean-field scaling (Rubin, Seroussi
& Ringel, ICLR 2024, Sec. 3; docs/theory/grokking.md, "Modular addition").

Data (``[data] inputs = "two_hot"``, ``modulus = "P"``): all P² pairs (a, b) ∈ Z_P², x_ab = e_a ⊕ e_b ∈ R^{2P};
target y_c(a, b) = δ_{c, (a+b) mod P} − 1/P (one-hot, centred), c = 0 … P−1 (readout width P).
A hidden neuron w = (u, v) ∈ R^P × R^P sees w·x_ab = u_a + v_b, φ = (u_a + v_b)².  With the unnormalised
DFT U_q = Σ_a u_a e^{iθqa} (θ = 2π/P) and a discrepancy t_c(a, b) = t(a + b − c), t(s) = (1/P) Σ_{q≠0} τ_q e^{iθqs},
the data term of the per-neuron action reduces to single Fourier modes:

    Σ_c (Σ_{a,b} t_c(a, b) φ_ab)² = (4/P) Σ_{q≠0} τ_q² |U_q|² |V_q|²,

and with the prior w ~ N(0, σ_w²/(2P) I) (Σ_a u_a² = (1/P) Σ_q |U_q|²) the per-neuron action splits into
independent modes q = 1 … (P−1)/2 (P odd), x = |U_q|², y = |V_q|² (flat measure dx dy):

    S_q(x, y) = λ (x + y) − g_q x y,   λ = 2/σ_w²,   g_q = 4 σ̃_a² τ_q² / (N P),

σ̃_a² the readout-kernel variance.  S_q is unbounded below (the mean-field square network has no
normalisable single-neuron measure once g_q > 0); the Gaussian closure ⟨x⟩ = ⟨y⟩ = s_q solves
s_q = 1/(λ − g_q s_q) and exists, stable, for g_q < λ²/4 (the Gaussian phase).  The readout coefficient of
mode q is f̄_q = (4 σ̃_a²/P²) τ_q s_q² and τ_q = (1 − f̄_q)/σ² (the target has c_q = 1 for every q ≠ 0).
The Gaussian phase ends (its spinodal) where the self-consistent g reaches λ²/4:

    σ_c² = [1 − 16 σ̃_a² τ_c/(P² λ²)] / τ_c,   τ_c = (λ/4) √(N P/σ̃_a²).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import sympy as sp

from ..derive.derivation import Definition, Derivation
from ..errors import SpecError
from ..spec import X
from ..spec.expressions import parse_expression
from .adaptive import two_layer
from .common import _value, noise_expression, readout, readout_variance_expr
from .solution import Saddle, Solution

XQ, YQ = sp.Symbol("x_q", nonnegative=True), sp.Symbol("y_q", nonnegative=True)   # |U_q|², |V_q|²
TAU = sp.Symbol("tau_q", real=True)


@dataclass(frozen=True, eq=False)
class ModularAdditionTheory:
    action: sp.Expr        # S_q(x, y; τ)
    coupling: sp.Expr      # g_q(τ)
    lam: sp.Expr           # λ
    params: dict           # P, sw2, sa2, N, noise (expressions)
    derivation: Derivation


def _check(spec):
    data = spec.data or {}
    if data.get("inputs") != "two_hot":
        raise SpecError('modular addition needs [data] inputs = "two_hot"', "data.inputs")
    unknown = set(data) - {"inputs", "modulus", "target"}
    if unknown:
        raise SpecError(f"unknown keys {sorted(unknown)} in [data]; known for two_hot: inputs, modulus, target",
                        "data")
    if data.get("target", "sum_mod") != "sum_mod":
        raise SpecError('[data] target for two_hot inputs must be "sum_mod" (one-hot of (a+b) mod P, centred)',
                        "data.target")
    if "modulus" not in data:
        raise SpecError('[data] needs modulus = "P" (the group Z_P)', "data.modulus")
    hidden, phi = two_layer(spec.network)
    if not sp.simplify(phi - X ** 2).is_zero:
        raise SpecError(f"the modular-addition reduction is derived for the square activation x**2, got {phi}",
                        "network.layers")
    P = parse_expression(str(data["modulus"]), "data.modulus")
    ro = readout(spec.network, allow_multi=True)
    if sp.simplify(ro.width - P) != 0:
        raise SpecError(f"the readout must have width P = {P} (one output per residue), got {ro.width}",
                        "network.layers[-1].width")
    return hidden, P


def modular_addition_theory(spec) -> ModularAdditionTheory:
    hidden, P = _check(spec)
    return _theory(hidden.weight_var, readout_variance_expr(spec.network), hidden.width, P, noise_expression(spec))


@lru_cache(maxsize=8)
def _theory(sw2, sa2, N, P, noise):
    lam = 2 / sw2
    g = 4 * sa2 * TAU ** 2 / (N * P)
    S = lam * (XQ + YQ) - g * XQ * YQ
    gs = sp.Symbol("g_q", positive=True)
    s = sp.Symbol("s_q", positive=True)
    closure = (lam - sp.sqrt(lam ** 2 - 4 * gs)) / (2 * gs)
    fb = sp.Symbol("fbar_q", real=True)
    defs = (Definition(sp.Symbol("noise", positive=True), noise, r"\sigma^2", "noise"),
            Definition(sp.Symbol("lambda", positive=True), lam, r"\lambda", "prior precision per mode"),
            Definition(gs, g, r"g_q", "mode coupling"),
            Definition(sp.Symbol("S_q", real=True), S, r"S_q(x, y)", "per-Fourier-mode reduced action"),
            Definition(s, closure, r"s_q", "Gaussian closure <|U_q|^2> = 1/(lambda - g s)"),
            Definition(fb, 4 * sa2 / P ** 2 * TAU * s ** 2, r"\bar f_q", "readout coefficient of mode q"))
    eqs = (sp.Eq(TAU, (1 - fb) / sp.Symbol("noise", positive=True)),)
    notes = (r"Two-hot inputs $x_{ab} = e_a\oplus e_b$ over $\mathbb Z_P$ (all $P^2$ pairs), target "
             r"$y_c(a,b) = \delta_{c,(a+b)\bmod P} - 1/P$, square activation. $x = |U_q|^2$, $y = |V_q|^2$ with "
             r"$U_q = \sum_a u_a e^{2\pi i q a/P}$; data term "
             r"$\sum_c(\sum_{ab} t_c\phi)^2 = \frac4P\sum_{q\ne0}\tau_q^2|U_q|^2|V_q|^2$. "
             r"The Gaussian phase exists while $g_q < \lambda^2/4$.",)
    der = Derivation("Modular addition, square activation: per-Fourier-mode reduced action", (XQ, YQ), defs,
                     {"action": sp.Symbol("S_q", real=True)}, equations=eqs,
                     input_latex={XQ: "x", YQ: "y", TAU: r"\tau_q"}, notes=notes)
    return ModularAdditionTheory(S, g, lam, {"P": P, "sw2": sw2, "sa2": sa2, "N": N, "noise": noise}, der)


def data_term_brute(u, v, t):
    """Σ_c (Σ_{a,b} t((a+b−c) mod P) (u_a + v_b)²)² by direct summation over Z_P³."""
    P = len(u)
    phi = (u[:, None] + v[None, :]) ** 2
    s = (np.arange(P)[:, None] + np.arange(P)[None, :]) % P
    return float(sum(np.sum(t[(s - c) % P] * phi) ** 2 for c in range(P)))


def data_term_fourier(u, v, tau):
    """(4/P) Σ_{q≠0} τ_q² |U_q|² |V_q|² with U_q = Σ_a u_a e^{2πiqa/P} (``tau`` indexed by q = 0 … P−1)."""
    P = len(u)
    U, V = np.fft.ifft(u) * P, np.fft.ifft(v) * P
    tau = np.asarray(tau, dtype=float)
    return float(4 / P * np.sum((tau ** 2 * np.abs(U) ** 2 * np.abs(V) ** 2)[1:]))


def discrepancy_from_modes(tau):
    """t(s) = (1/P) Σ_{q≠0} τ_q e^{2πiqs/P} (real for τ_q = τ_{−q})."""
    tau = np.asarray(tau, dtype=float).copy()
    tau[0] = 0.0
    return np.real(np.fft.ifft(tau))


class _Values:
    def __init__(self, spec, params=None):
        theory = modular_addition_theory(spec)
        values = {**spec.params, **(params or {})}
        sv = spec.with_params(**values)
        v = {k: _value(e, sv, f"modular addition {k}") for k, e in theory.params.items()}
        if v["noise"] <= 0:
            raise SpecError("noise_var must be positive", "posterior.noise_var")
        P = v["P"]
        if not (float(P).is_integer() and P >= 3 and int(P) % 2 == 1):
            raise SpecError(f"the modulus P must be an odd integer >= 3, got {P}", "data.modulus")
        d = _value(spec.network.input_dim, sv, "network.input_dim")
        if d != 2 * P:
            raise SpecError(f"two-hot inputs over Z_P need input_dim = 2P = {2 * P:g}, got {d:g}", "network.input_dim")
        self.__dict__.update(v)
        self.lam = 2 / v["sw2"]
        self.tau_c = self.lam / 4 * np.sqrt(v["N"] * P / v["sa2"])     # g(τ_c) = λ²/4

    def g(self, tau):
        return 4 * self.sa2 * tau ** 2 / (self.N * self.P)

    def closure(self, tau):
        g = self.g(tau)
        if g <= 0:
            return 1 / self.lam
        disc = self.lam ** 2 - 4 * g
        return None if disc < 0 else 2 / (self.lam + np.sqrt(disc))      # = (λ − √disc)/(2g), stable

    def fbar(self, tau):
        s = self.closure(tau)
        return None if s is None else 4 * self.sa2 / self.P ** 2 * tau * s ** 2

    def residual(self, tau):
        return self.noise * tau - 1 + self.fbar(tau)

    def spinodal_noise(self):
        """σ² at which the Gaussian phase ends (the self-consistent τ reaches τ_c)."""
        return (1 - 16 * self.sa2 * self.tau_c / (self.P ** 2 * self.lam ** 2)) / self.tau_c


def solve_modular_addition(spec, params=None) -> Solution:
    """The symmetric Gaussian phase (all modes q ≠ 0 equal) of the per-mode action, or the report that
    it does not exist (feature learning: beyond the Gaussian phase's spinodal)."""
    from scipy.optimize import brentq
    v = _Values(spec, params)
    extras = {"P": v.P, "lambda": v.lam, "tau_c": v.tau_c, "noise_spinodal": v.spinodal_noise()}
    if v.residual(v.tau_c * (1 - 1e-15)) < 0:
        msg = ("no stable Gaussian closure: the mode coupling g reaches lambda^2/4 before the self-consistency "
               "is met (feature-learning side of the Gaussian phase's spinodal)")
        return Solution("modular_addition", {"tau": float("nan")}, float("nan"), None, None, True, 0.0, 0, (),
                        msg, extras={**extras, "phase": "feature_learning"})
    tau = brentq(v.residual, 0.0, v.tau_c * (1 - 1e-15), xtol=1e-14, rtol=1e-14)
    s = v.closure(tau)
    g = v.g(tau)
    # the closure's stationary point of S_q at ⟨x⟩ = ⟨y⟩ = s: Hessian of the decoupled quadratic form
    sd = Saddle({"x": s, "y": s}, float(v.lam * 2 * s - g * s * s), float(abs(v.residual(tau))),
                (v.lam - g * s, v.lam - g * s))
    ops = {"tau": float(tau), "fbar": float(v.fbar(tau)), "s_over_prior": float(s * v.lam), "g_over_gc": float(
        4 * g / v.lam ** 2)}
    return Solution("modular_addition", ops, sd.action, None, None, True, sd.residual, 0, (sd,), "",
                    extras={**extras, "phase": "gaussian"})


def sweep_modular_addition(spec, param, values) -> dict:
    """Solve along ``param``; the Gaussian phase's spinodal is reported in closed form (and checked
    against the phases of the sweep)."""
    values = [float(v) for v in values]
    sols = [solve_modular_addition(spec, {param: v}) for v in values]
    phases = [s.extras["phase"] for s in sols]
    transitions = []
    if param == _noise_param(spec):
        sc = sols[0].extras["noise_spinodal"]
        if min(values) <= sc <= max(values):
            transitions.append({"value": float(sc), "kind": "spinodal",
                                "definition": "Gaussian phase loses its stable Gaussian closure (g = lambda^2/4)",
                                "from": "feature_learning", "to": "gaussian"})
    else:
        for i in range(len(values) - 1):
            if phases[i] != phases[i + 1]:
                transitions.append({"value": 0.5 * (values[i] + values[i + 1]), "kind": "spinodal",
                                    "bracket": [values[i], values[i + 1]],
                                    "definition": "Gaussian phase loses its stable Gaussian closure",
                                    "from": phases[i], "to": phases[i + 1]})
    return {"param": param, "values": values, "phases": phases, "transitions": transitions,
            "solutions": [s.to_dict() for s in sols]}


def _noise_param(spec):
    e = noise_expression(spec)
    return e.name if isinstance(e, sp.Symbol) else None


__all__ = ["ModularAdditionTheory", "data_term_brute", "data_term_fourier", "discrepancy_from_modes",
           "modular_addition_theory", "solve_modular_addition", "sweep_modular_addition"]
