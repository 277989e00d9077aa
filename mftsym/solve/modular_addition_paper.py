r"""The modular-addition reduction exactly as printed by Rubin, Seroussi & Ringel (ICLR 2024, Sec. 3.2 and
App. B.2-B.4), solved with the printed and with the derived kernel eigenvalue (docs/theory/grokking.md §6).

Setting of the paper: two-hot inputs over Z_P, square activation, P outputs, input weights of prior covariance 1,
readout-kernel variance σ_a² (Q = σ_a²⟨φφᵀ⟩, Eq. 10), discrepancy σ²t̄ = a y (a single mode, Claim I).  With
w_n = Σ_k w_k e^{−2πikn/P} (so |w|² = P Σ_k |w_k|²) and a sextic weight decay Γ = Σ_k P(γ/6)(|w_k|⁶ + |v_k|⁶) the
per-mode action (Eq. 16/33) on the symmetric line Φ = |w_k|² = |v_k|² is

    S_k(Φ) = P [Φ − u a² Φ² + (γ/3) Φ³],        u = 2σ_a²P²/(Nσ⁴),

with the non-trivial saddle Φ* = [u a² + √(u²a⁴ − γ)]/γ (Eq. 40).  The discrete saddle mixture (Eq. 41-42)
weights it by p_k = 4e^{−S_k(Φ*)}/(1 + 4e^{−S_k(Φ*)}), so ⟨|w_k|²|v_k|²⟩ = p_k Φ*², and the target eigenvalue
closes the loop a = σ²/(λ + σ²) (Eq. 38, whose printed sign is immaterial: only a² enters).

The eigenvalue.  The paper prints λ = σ_a²⟨|w_k|²|v_k|²⟩ (Eq. 37, App. B.3).  Its own Fourier algebra (Eq. 25,
31) and its NNGP kernel (Eq. 21, eigenvalue 4σ_a² on the target modes, i.e. ⟨|w_k|²|v_k|²⟩ = 1/P² in the prior)
give instead λ = 4P²σ_a²⟨|w_k|²|v_k|²⟩ (U_q = Σ_a u_a e^{2πiqa/P} = P w_q, and the toolkit's Λ_t =
(4σ_a²/P²)⟨|U_q|²|V_q|²⟩ of :mod:`.modular_addition`).  ``eigenvalue="printed"`` reproduces the paper's Fig. 3
(GMFL-I from σ² ≈ 0.23, a: 1 → 0.74, GMFL-II at σ² ≈ 0.18 for P = 401, N = 1000, σ_a² = 0.002/N, γ = 1e−4);
``eigenvalue="derived"`` (the default) shows that with the factor 4P² a condensed fraction p_k ~ 1e−6 already
fits the target: the self-consistency pins S_k(Φ*) near ln(4/p_k) ≈ 15 and GMFL-II (S_k(Φ*) < 0) is never
reached.

Phases: ``gfl`` (the condensed saddle absent or carrying λ < 1e−3 σ²: a at its GP value), ``gmfl_1`` (condensed
and Φ = 0 saddles both contribute), ``gmfl_2`` (the Φ = 0 saddle's weight 1 − p_k < 1e−6: "the contribution of the
minimum at Φ = 0 becomes exponentially suppressed", Sec. 3.2.1).  ``S_zero_crossing`` in :meth:`sweep` is where
S_k(Φ*) changes sign (the condensed saddle passes below the Φ = 0 one).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import SpecError

PHASES = ("gfl", "gmfl_1", "gmfl_2")
GFL_EDGE = 1e-3        # λ/σ² below this: the condensed saddle leaves the kernel at its GP value
GMFL2_EDGE = 1e-6      # weight 1 − p_k of the Φ = 0 saddle below this: "exponentially suppressed" (GMFL-II)


@dataclass
class PaperModularModel:
    """The paper's per-mode reduction: modulus P, width N, readout-kernel variance sa2 (σ_a²), sextic weight
    decay gamma (γ), and the normalisation of the target eigenvalue (``"printed"`` or ``"derived"``)."""

    P: int
    N: float
    sa2: float
    gamma: float
    eigenvalue: str = "derived"

    def __post_init__(self):
        if self.eigenvalue not in ("printed", "derived"):
            raise SpecError(f"eigenvalue must be 'printed' or 'derived', got {self.eigenvalue!r}")
        if self.gamma <= 0 or self.sa2 <= 0 or self.N <= 0 or self.P < 3:
            raise SpecError("the paper's modular reduction needs P >= 3 and positive N, sa2 and gamma")

    @property
    def eigen_factor(self):
        """λ / (σ_a²⟨|w_k|²|v_k|²⟩): 1 as printed (Eq. 37), 4P² as derived."""
        return 1.0 if self.eigenvalue == "printed" else 4.0 * self.P ** 2

    def u(self, noise):
        """Effective interaction u = 2σ_a²P²/(Nσ⁴) (Sec. 3.2)."""
        return 2 * self.sa2 * self.P ** 2 / (self.N * noise ** 2)

    def action(self, phi, noise, a):
        """S_k(Φ) = P[Φ − u a² Φ² + (γ/3)Φ³] on the line Φ = Ψ (Eq. 16 with Γ)."""
        g = self.u(noise) * a * a
        return self.P * (phi - g * phi ** 2 + self.gamma / 3 * phi ** 3)

    def saddle(self, noise, a):
        """(Φ*, S_k(Φ*)) of the non-trivial minimum (Eq. 40), or (None, None) where it does not exist."""
        g = self.u(noise) * a * a
        disc = g * g - self.gamma
        if disc < 0:
            return None, None
        phi = (g + np.sqrt(disc)) / self.gamma
        return float(phi), float(self.action(phi, noise, a))

    def weight(self, S):
        """p_k = 4e^{−S}/(1 + 4e^{−S}) (Eq. 41)."""
        return float(1.0 / (1.0 + 0.25 * np.exp(S))) if S < 700 else 0.0

    def eigenvalue_of(self, noise, a):
        """λ(a) = factor · σ_a² p_k Φ*² (Eq. 42; the Φ = 0 saddle contributes O(P⁻²), dropped as in the paper)."""
        phi, S = self.saddle(noise, a)
        if phi is None:
            return 0.0
        return self.eigen_factor * self.sa2 * self.weight(S) * phi ** 2

    def solve(self, noise, grid=4000):
        """The self-consistent a ∈ (0, 1] continued from the GP value (the first root of a − σ²/(λ(a) + σ²)
        below a = 1) and the state there."""
        from scipy.optimize import brentq
        if noise <= 0:
            raise SpecError("noise (sigma^2) must be positive")

        def F(a):
            return a - noise / (self.eigenvalue_of(noise, a) + noise)
        As = np.linspace(1.0, 1e-4, grid)
        vals = np.array([F(a) for a in As])
        a = float(As[-1])
        for i in range(grid - 1):
            if vals[i] == 0:
                a = float(As[i])
                break
            if (vals[i] > 0) != (vals[i + 1] > 0):
                a = float(brentq(F, As[i + 1], As[i], xtol=1e-14))
                break
        phi, S = self.saddle(noise, a)
        lam = self.eigenvalue_of(noise, a)
        if phi is None or lam < GFL_EDGE * noise:
            phase = "gfl"
        else:
            phase = "gmfl_2" if 1 - self.weight(S) < GMFL2_EDGE else "gmfl_1"
        return {"noise": noise, "a": a, "u": self.u(noise), "phi": phi, "S": S,
                "p_k": self.weight(S) if S is not None else 0.0, "lambda": lam, "phase": phase}

    def sweep(self, noises, xtol=1e-6):
        """States along σ² and the phase boundaries (bisection between neighbouring values)."""
        noises = sorted(float(v) for v in noises)
        states = [self.solve(v) for v in noises]
        bounds = []
        for (va, sa), (vb, sb) in zip(zip(noises, states), zip(noises[1:], states[1:])):
            if sa["phase"] == sb["phase"]:
                continue
            a, b = va, vb
            while b - a > xtol * b:
                m = 0.5 * (a + b)
                if self.solve(m)["phase"] == sa["phase"]:
                    a = m
                else:
                    b = m
            bounds.append({"value": 0.5 * (a + b), "from": sa["phase"], "to": sb["phase"]})
        for (va, sa), (vb, sb) in zip(zip(noises, states), zip(noises[1:], states[1:])):
            if sa["S"] is not None and sb["S"] is not None and (sa["S"] < 0) != (sb["S"] < 0):
                from scipy.optimize import brentq
                bounds.append({"value": float(brentq(lambda v: self.solve(v)["S"], va, vb, xtol=xtol * vb)),
                               "from": "S>0" if sa["S"] > 0 else "S<0", "to": "S<0" if sa["S"] > 0 else "S>0",
                               "kind": "S_zero_crossing"})
        return {"states": states, "boundaries": bounds}


__all__ = ["PaperModularModel", "PHASES"]
