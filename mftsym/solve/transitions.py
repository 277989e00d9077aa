r"""First-order transitions of the adaptive kernel on Gaussian data in the d → ∞ limit, as defined by
Rubin, Seroussi & Ringel (ICLR 2024, Sec. 2.4, Claim IV), and the spinodals (docs/theory/grokking.md).

The reduced action of :mod:`.data_model` is extensive in the input dimension d when the data-term
coupling grows with it: with κ = σ̃_a² n²/(2N) (σ̃_a² the readout-kernel variance),

    S(Φ, r) = d s(Φ, r) + (3/2) ln r,   s(Φ, r) = (Φ² + r)/(2σ_w²) − ½ ln r − ū (Σ_k τ_k m_k(Φ, Φ² + r))²,

ū = κ/d ("relaxed" treatment), and s(Φ) = Φ²/(2σ_w²) − ū (Σ_k τ_k m_k(Φ, Φ² + σ_w²))² with the orthogonal
norm held at its prior value ("paper").  The limit d → ∞ is taken at fixed ū = κ/d and ᾱ = σ̃_a² n/d;
s = ∂S/∂d at κ = ū d is derived symbolically from the spec's generic action.

Gaussian phase (the Φ = O(d^{-1/2}) well): to leading order in 1/d, Φ ~ N(0, 1/(d s''(0))), and with
g_k = ∂_Φ m_k(0, σ_w²), y = Σ_k τ_k g_k, the readout coefficients and discrepancies are

    f̄_k^G = (ᾱ/k!) g_k y / (1/σ_w² − 2ū y²),     τ_k^G = (c_k − f̄_k^G)/σ²,

so y solves the cubic −2ūσ² y³ + 2ū (c·g) y² + (σ²/σ_w² + ᾱ Σ_k g_k²/k!) y − (c·g)/σ_w² = 0 (the root
continued from ū = 0, with 1/σ_w² − 2ū y² > 0: the Gaussian phase is locally stable).

Claim IV: the transition is where an aligned minimum Φ* ≠ 0 of s at the Gaussian-phase τ^G becomes
degenerate with the Gaussian minimum, s(Φ*, r*) = s(0, σ_w²).  Spinodals: where the aligned minimum
appears (lower) and where the Gaussian phase loses stability (1/σ_w² = 2ū y²).
"""

from __future__ import annotations

from functools import lru_cache
from math import factorial

import numpy as np
import sympy as sp

from ..errors import EvaluationError, SpecError
from ..spec.expressions import as_expr, make_symbol
from .common import _value
from .data_model import DSYM, KAPPA, PHI, RPERP, UBAR, data_model_theory

DEFINITION_LIMIT = "d_to_infinity: aligned minimum degenerate with the Gaussian-phase minimum at the " \
                   "Gaussian-phase readout coefficients (Rubin, Seroussi & Ringel 2024, Claim IV)"
SPINODAL_ALIGNED = "aligned minimum appears/disappears"
SPINODAL_GAUSSIAN = "Gaussian phase loses local stability (1/sigma_w^2 = 2 u y^2)"


def limit_action(theory) -> sp.Expr:
    """s(Φ, r) = lim_{d→∞} S/d at κ = ū d (S is linear in d and κ, so s = ∂S/∂d exactly)."""
    return sp.diff(theory.generic_action.subs(KAPPA, UBAR * DSYM), DSYM)


@lru_cache(maxsize=16)
def _compiled_limit(theory):
    from .compiled import lambdify
    s = limit_action(theory)
    params = sorted(s.free_symbols - {PHI, RPERP, UBAR, *theory.taus}, key=lambda x: x.name)
    args = [PHI, RPERP, UBAR, *theory.taus, *params]
    vs = theory.variables
    g = [sp.diff(s, v) for v in vs]
    H = [[sp.diff(gi, v) for v in vs] for gi in g]
    slopes = [sp.diff(m, PHI).subs(PHI, 0) for m in theory.m]
    if any(not sp.simplify(m.subs(PHI, 0)).is_zero for m in theory.m):
        raise EvaluationError("the d -> infinity Gaussian phase needs m_k(0, r) = 0 for every mode (an odd "
                              "activation and odd teacher modes)")
    return ([p.name for p in params], lambdify(args, s, "numpy"), lambdify(args, g, "numpy"),
            lambdify(args, H, "numpy"), [lambdify([RPERP, *params], gk, "numpy") for gk in slopes])


class LimitAction:
    """s(Φ, r), the Gaussian-phase τ^G and the aligned minimum at one parameter point."""

    def __init__(self, spec, params=None):
        self.theory = data_model_theory(spec)
        values = {**spec.params, **(params or {})}
        sv = spec.with_params(**values)
        v = {k: _value(e, sv, f"data model {k}") for k, e in self.theory.params.items()}
        if v["noise"] <= 0:
            raise SpecError("noise_var must be positive", "posterior.noise_var")
        subs = {make_symbol(k): x for k, x in values.items()}
        self.c = np.array([float(as_expr(c).subs(subs)) for c in self.theory.coefficients])
        self.sw2, self.noise, self.d = v["sw2"], v["noise"], v["d"]
        self.u = v["sa2"] * v["n"] ** 2 / (2 * v["N"]) / v["d"]
        self.alpha = v["sa2"] * v["n"] / v["d"]
        names, s, g, H, slopes = _compiled_limit(self.theory)
        pv = [float(values[p]) if p in values else self.d for p in names]
        self._s = lambda a, b, tau: s(a, b, self.u, *tau, *pv)  # noqa: E731
        self._g = lambda a, b, tau: g(a, b, self.u, *tau, *pv)  # noqa: E731
        self._H = lambda a, b, tau: H(a, b, self.u, *tau, *pv)  # noqa: E731
        self.gk = np.array([float(f(self.sw2, *pv)) for f in slopes])
        self.kfact = np.array([factorial(k) for k in self.theory.modes], dtype=float)
        self.fixed = self.theory.treatment == "paper"

    def gaussian_phase(self):
        """(τ^G, f̄^G, stability margin 1/σ_w² − 2ū y²) or None when no stable Gaussian root exists."""
        cg = float(self.c @ self.gk)
        G = float(np.sum(self.gk ** 2 / self.kfact))
        u, s2, a = self.u, self.noise, 1.0 / self.sw2
        roots = np.roots([-2 * u * s2, 2 * u * cg, s2 * a + self.alpha * G, -cg * a])
        ok = [float(y.real) for y in roots if abs(y.imag) < 1e-10 * (1 + abs(y)) and a - 2 * u * y.real ** 2 > 0
              and y.real * cg >= 0]
        if not ok:
            return None
        y = min(ok, key=abs)
        margin = a - 2 * u * y ** 2
        fbar = self.alpha / self.kfact * self.gk * y / margin
        return (self.c - fbar) / s2, fbar, margin

    def s(self, phi, r, tau):
        return float(self._s(phi, self.sw2 if self.fixed else r, tau))

    def aligned_minimum(self, tau):
        """The stable minimum of s with Φ > 0 of lowest s (Newton from a lattice), or None."""
        from scipy.optimize import root
        fixed = self.fixed
        full = (lambda x: (x[0], self.sw2)) if fixed else (lambda x: (x[0], x[1]))  # noqa: E731
        f = lambda x: np.atleast_1d(np.asarray(self._g(*full(x), tau), dtype=float))  # noqa: E731
        J = lambda x: np.atleast_2d(np.asarray(self._H(*full(x), tau), dtype=float))  # noqa: E731
        best = None
        sw = np.sqrt(self.sw2)
        for p in np.linspace(0.1 * sw, 8 * sw, 24):
            for r in ([self.sw2] if fixed else [0.1 * self.sw2, 0.4 * self.sw2, self.sw2]):
                x0 = np.array([p] if fixed else [p, r])
                with np.errstate(all="ignore"):
                    sol = root(f, x0, jac=J, method="hybr")
                x = sol.x
                if not sol.success or not np.all(np.isfinite(x)) or x[0] < 1e-6 * sw or (not fixed and x[1] <= 0):
                    continue
                if np.max(np.abs(f(x))) > 1e-9 or np.linalg.eigvalsh(J(x)).min() <= 0:
                    continue
                phi, r_ = full(x)
                val = self.s(phi, r_, tau)
                if best is None or val < best[2]:
                    best = (float(phi), float(r_), val)
        return best

    def gap(self):
        """Δs = s(aligned) − s(Gaussian) at τ^G, with details; Δs is None where a branch is missing."""
        g = self.gaussian_phase()
        if g is None:
            return None, {"gaussian_stable": False}
        tau, fbar, margin = g
        s0 = self.s(0.0, self.sw2, tau)
        al = self.aligned_minimum(tau)
        info = {"gaussian_stable": True, "tau": tau.tolist(), "fbar": fbar.tolist(), "margin": margin,
                "s_gaussian": s0}
        if al is None:
            return None, {**info, "aligned": None}
        info.update(aligned={"Phi": al[0], "r": al[1], "s": al[2]})
        return al[2] - s0, info


def _state(spec, param, v):
    dlt, info = LimitAction(spec, {param: float(v)}).gap()
    code = "no_gaussian" if not info["gaussian_stable"] else ("no_aligned" if dlt is None else "both")
    return code, dlt, info


def infinite_d_transitions(spec, param, values, xtol=1e-7) -> list:
    """Claim-IV transitions and the spinodals along ``param`` in the d → ∞ limit (entries
    ``{"value", "kind", "definition", ...}``): spinodals by bisection on the existence of the branches
    between ``values``, then the sign changes of Δs (including the points just inside each spinodal)
    refined with Brent's method."""
    from scipy.optimize import brentq
    values = sorted(float(v) for v in values)
    pts = {v: _state(spec, param, v) for v in values}
    out = []
    scale = max(abs(values[0]), abs(values[-1]), 1e-300)
    for va, vb in zip(values, values[1:]):
        ca, cb = pts[va][0], pts[vb][0]
        if ca == cb:
            continue
        a, b = va, vb
        for _ in range(60):
            m = 0.5 * (a + b)
            st = _state(spec, param, m)
            if st[0] == ca:
                a = m
                pts[m] = st
            else:
                b = m
                if st[0] == cb:
                    pts[m] = st
            if b - a < xtol * scale:
                break
        kinds = {ca, cb}
        what = SPINODAL_GAUSSIAN if "no_gaussian" in kinds else SPINODAL_ALIGNED
        out.append({"value": float(0.5 * (a + b)), "kind": "spinodal", "definition": "d_to_infinity: " + what,
                    "bracket": [va, vb], "from": ca, "to": cb})
    grid = sorted(pts)
    for va, vb in zip(grid, grid[1:]):
        sa, sb = pts[va], pts[vb]
        if not (sa[0] == sb[0] == "both" and np.sign(sa[1]) != np.sign(sb[1])):
            continue

        def delta(v):
            st = _state(spec, param, v)
            if st[0] != "both":
                raise EvaluationError("a branch ends inside the bracket")
            return st[1]
        try:
            v = brentq(delta, va, vb, xtol=xtol * scale)
        except EvaluationError:
            continue
        _, _, info = _state(spec, param, v)
        out.append({"value": float(v), "kind": "first_order", "definition": DEFINITION_LIMIT,
                    "bracket": [va, vb], "Phi_to": info["aligned"]["Phi"], "r_to": info["aligned"]["r"],
                    "tau_gaussian": info["tau"], "fbar_gaussian": info["fbar"],
                    "from": "gaussian" if sa[1] > 0 else "aligned", "to": "aligned" if sa[1] > 0 else "gaussian"})
    return sorted(out, key=lambda t: t["value"])


def finite_d_spinodals(spec, param, values, solutions, xtol=1e-5) -> list:
    """Where the number of stable minima (|Φ| merged) of the finite-d reduced action at the
    self-consistent τ changes between neighbouring converged sweep points (bisection, continuation)."""
    from ..errors import ConvergenceError
    from .data_model import _minima, _starts, _taus, solve_data_model
    out = []
    pts = [(v, s) for v, s in zip(values, solutions) if s.converged]
    scale = max(abs(values[0]), abs(values[-1]), 1e-300)
    for (va, sa), (vb, sb) in zip(pts, pts[1:]):
        na, nb = len(_minima(sa)), len(_minima(sb))
        if na == nb:
            continue
        a, b, prev = va, vb, sa
        for _ in range(40):
            m = 0.5 * (a + b)
            try:
                sm = solve_data_model(spec, params={param: m}, tau0=_taus(prev), starts=_starts(sa) + _starts(sb))
            except ConvergenceError:
                break
            if len(_minima(sm)) == na:
                a, prev = m, sm
            else:
                b = m
            if b - a < xtol * scale:
                break
        out.append({"value": float(0.5 * (a + b)), "kind": "spinodal",
                    "definition": "finite_d: " + SPINODAL_ALIGNED, "bracket": [va, vb],
                    "minima_from": na, "minima_to": nb})
    return out


__all__ = ["LimitAction", "finite_d_spinodals", "infinite_d_transitions", "limit_action"]
