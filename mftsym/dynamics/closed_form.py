r"""Closed form of the DMFT of a linear two-layer network trained on one point (derived with SymPy).

Single site (docs/theory/dynamics.md), one training input with k = K^x(x, x), error Δ(t):
ḣ = γ₀σ_a k Δ a,  ȧ = γ₀σ_a Δ h.  The moments Φ = ⟨h²⟩, G = ⟨a²⟩, Q = ⟨a h⟩ close (the site is
linear), f = σ_a Q/γ₀, and along any Δ(t):  Φ − kG is conserved (= 0 from Φ(0) = k, G(0) = 1) and
dΦ/dQ = kQ/Φ, so  Φ² = k² + k γ₀² f²/σ_a².  At convergence f = y:

    Φ* = sqrt(k² + k γ₀² y² / σ_a²),    Θ* = σ_a² (Φ* + k G*) = 2 σ_a² Φ*,

independent of the learning rate; γ₀ → 0 gives the lazy Θ = 2σ_a² k.  (Bordelon & Pehlevan 2022
state the k = σ_a = 1 case, Φ* = sqrt(1 + γ₀² y²).)
"""

from __future__ import annotations

import sympy as sp


def single_point_linear_kernel():
    """(Φ*, Θ*, symbols) derived from the moment equations; symbols = (k, γ₀, y, σ_a)."""
    k, g0, y, sa = sp.symbols("k gamma_0 y sigma_a", positive=True)
    t = sp.Symbol("t")
    Delta = sp.Function("Delta")(t)
    Phi, G, Q = (sp.Function(n)(t) for n in ("Phi", "G", "Q"))
    # moment equations of the linear single site: d<h^2>, d<a^2>, d<ah>
    dPhi = 2 * g0 * sa * k * Delta * Q
    dG = 2 * g0 * sa * Delta * Q
    dQ = g0 * sa * Delta * (k * G + Phi)
    assert sp.simplify(dPhi - k * dG) == 0                        # Phi - k G is conserved
    Gsub = Phi / k                                                 # its value 0 from Phi(0)=k, G(0)=1
    q, P_ = sp.Symbol("q"), sp.Function("P")
    ode = sp.Eq(P_(q).diff(q), (dPhi / dQ).subs(G, Gsub).subs({Phi: P_(q), Q: q}))
    sol = sp.dsolve(ode, P_(q), ics={P_(0): k})
    sols = sol if isinstance(sol, list) else [sol]
    branch = [s.rhs for s in sols if sp.simplify(s.rhs.subs(q, 0) - k) == 0 and s.rhs.subs({q: 0, k: 1}) > 0][0]
    phi_star = sp.simplify(branch.subs(q, g0 * y / sa))          # f = sigma_a Q / gamma_0 = y
    theta_star = sp.simplify(sa ** 2 * (phi_star + k * phi_star / k))
    return phi_star, theta_star, (k, g0, y, sa)


__all__ = ["single_point_linear_kernel"]
