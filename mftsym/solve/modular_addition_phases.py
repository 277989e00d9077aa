r"""Feature-learning phases of modular addition (two-hot inputs over Z_P, square activation, P outputs;
Rubin, Seroussi & Ringel, ICLR 2024, Sec. 3; docs/theory/grokking.md §5).

Why the first-order per-mode action is unbounded below, and what bounds it
-------------------------------------------------------------------------
The adaptive-kernel per-neuron action S[w] = ½wᵀΛ₀w − (σ̃_a²/(2N))[Σ_c (t_cᵀφ)² − K φᵀ(Q+σ²)⁻¹φ] is the
first order in σ̃_a²|φ|²/(Nσ²) of the exact integral over the neuron's own readout weights a_{1…K}
(each of prior variance σ̃_a²/N, linear in the Gaussian likelihood):

    S[w] = ½ wᵀΛ₀w − ½ Σ_c (t_cᵀφ)² / (N/σ̃_a² + φᵀAφ) + (K/2) ln(1 + σ̃_a² φᵀAφ / N),   A = (Q + σ²I)⁻¹,

with t_c = A y_c.  For the square activation φ is quadratic in w, so the truncated data term is a
negative quartic (unbounded below); in the resummed form the readout prior N/σ̃_a² and the readout's own
data precision φᵀAφ saturate the gain at ½ Σ_c t_cᵀA⁻¹t_c -- the action is bounded below.

Reduction to one Fourier mode
-----------------------------
All kernels are invariant under the independent shifts of a and b, so A is diagonal in the plane waves
e^{2πi(ka+lb)/P} with eigenvalues ρ_{kl} = 1/(Λ_{kl} + σ²).  A neuron occupying one mode pair ±q,
x = |U_q|², y = |V_q|² (U_q = Σ_a u_a e^{2πiqa/P}), has φ̂ on (0,0) [2(x+y)], (±2q,0) [|·| = x],
(0,±2q) [y], (±q,±q) and (±q,∓q) [2√(xy)], so

    E(x, y) = φᵀAφ = [4ρ₀(x+y)² + 2ρ₂(x² + y²) + 16 τ x y] / P²,     D(x, y) = Σ_c (t_cᵀφ)² = (8/P) τ² x y,
    S_q(x, y) = λ(x + y) − ½ D/(N/σ̃_a² + E) + (K/2) ln(1 + σ̃_a² E/N),   λ = 2/σ_w²,

with τ = ρ_{q,q} = ρ_{q,−q} (both eigenvalues are fed by the same neurons), ρ₂ = ρ_{2q,0}, ρ₀ = ρ_{0,0},
and the other eigenvalues at 1/σ² (no neuron populates them: off-target kernel eigenvalues ≪ σ²).  The
measure is flat, dx dy (U_q complex).  S_q does not depend on the phases of U_q, V_q: they are exact flat
directions (a random phase per neuron).

Phases
------
A neuron lives either in the Gaussian basin around w = 0 (all modes small, Z_g per mode) or condensed on
one of the M = (P−1)/2 mode pairs at the minimum (x*, y*) of S_q (Laplace: ln Z_c = −S* + ln(2π/√det H)).
The condensed fraction p obeys ln(p/(1−p)) = ln M + ln Z_c − ln Z_g, and the kernel eigenvalues

    Λ_t = (4σ̃_a²/P²)[(1 − p/M)⟨xy⟩_g + (p/M) x*y*/n*],   Λ₂ = σ̃_a² (p/M) x*²/(P² n*),
    Λ₀ = (1 − p) σ̃_a² σ_w⁴(1 + 1/P + 1/P²) + p σ̃_a² 4(x* + y*)²/(P² n*),    n* = 1 + σ̃_a²E*/N,

close the loop (τ = 1/(Λ_t + σ²): f̄ = Λ_t τ = 1 − σ²τ).  Phases: ``gaussian`` (p → 0), ``mixed``
(0 < p < 1: a Gaussian population coexisting with a Gaussian mixture of single-mode condensed neurons,
random phases -- the paper's GMFL), ``condensed`` (p → 1: every neuron on one mode).  Transitions along σ²:
the condensed state at the Gaussian-phase kernel becomes degenerate with the Gaussian basin
(ln M + ln Z_c − ln Z_g = 0 at p → 0, the analogue of Claim IV), its spinodal (the condensed minimum
appears), and the completion of condensation (p → 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import sympy as sp

from ..derive.derivation import Definition, Derivation
from .solution import Saddle, Solution

XQ, YQ = sp.Symbol("x_q", nonnegative=True), sp.Symbol("y_q", nonnegative=True)
TAU, RHO0, RHO2 = sp.Symbol("tau", positive=True), sp.Symbol("rho_0", positive=True), sp.Symbol("rho_2", positive=True)
P_FRACTION_EDGE = 1e-6          # p below this: "gaussian"; above 1 − this: "condensed"


@lru_cache(maxsize=8)
def _symbolic(sw2, sa2, N, P):
    lam = 2 / sw2
    E = (4 * RHO0 * (XQ + YQ) ** 2 + 2 * RHO2 * (XQ ** 2 + YQ ** 2) + 16 * TAU * XQ * YQ) / P ** 2
    D = 8 * TAU ** 2 * XQ * YQ / P
    Es, Ds = sp.Symbol("E_q", nonnegative=True), sp.Symbol("D_q", nonnegative=True)
    S = lam * (XQ + YQ) - D / (2 * (N / sa2 + E)) + P / 2 * sp.log(1 + sa2 * E / N)
    Ssym = sp.Symbol("S_q", real=True)
    defs = (Definition(Es, E, r"E_q", "phi^T (Q + sigma^2)^-1 phi of a single-mode neuron"),
            Definition(Ds, D, r"D_q", "sum_c (t_c^T phi)^2 of a single-mode neuron"),
            Definition(Ssym, lam * (XQ + YQ) - Ds / (2 * (N / sa2 + Es)) + P / 2 * sp.log(1 + sa2 * Es / N),
                       r"S_q(x, y)", "per-mode action with the readout integrated exactly"))
    eqs = (sp.Eq(sp.diff(S, XQ), 0), sp.Eq(sp.diff(S, YQ), 0))
    notes = (r"$x = |U_q|^2$, $y = |V_q|^2$; $\tau = \rho_{q,\pm q}$, $\rho_2 = \rho_{2q,0}$, $\rho_0 = \rho_{0,0}$ "
             r"the eigenvalues of $(Q+\sigma^2)^{-1}$ on the plane waves of $\mathbb Z_P^2$; the readout weights "
             r"are integrated exactly, so the gain saturates and $S_q$ is bounded below. Saddle equations: "
             r"$\partial_x S_q = \partial_y S_q = 0$.",)
    der = Derivation("Modular addition: per-mode action of a condensed neuron", (XQ, YQ), defs,
                     {"action": Ssym}, equations=eqs,
                     input_latex={XQ: "x", YQ: "y", TAU: r"\tau", RHO0: r"\rho_0", RHO2: r"\rho_2"}, notes=notes)
    return S, der


def phase_action_theory(spec):
    """The symbolic per-mode action S_q(x, y; τ, ρ₀, ρ₂) of the spec and its derivation (LaTeX)."""
    from .modular_addition import modular_addition_theory
    p = modular_addition_theory(spec).params
    return _symbolic(p["sw2"], p["sa2"], p["N"], p["P"])


@dataclass
class ModeModel:
    """Numbers of the per-mode action: modulus P, width N, readout-kernel variance sa2 (σ̃_a²), prior
    variance sw2 (σ_w²), noise σ²."""

    P: int
    N: float
    sa2: float
    sw2: float
    noise: float
    grid: int = 100

    @property
    def lam(self):
        return 2.0 / self.sw2

    @property
    def M(self):
        return (self.P - 1) // 2

    @property
    def lambda00_gauss(self):
        """σ̃_a² E[φ̂₀₀²]/P² for w ~ N(0, σ_w²/(2P) I) (the Gaussian basin ≈ the prior)."""
        return self.sa2 * self.sw2 ** 2 * (1 + 1 / self.P + 1 / self.P ** 2)

    # ---- the per-mode action -------------------------------------------------------------------
    def parts(self, x, y, tau, r0, r2):
        E = (4 * r0 * (x + y) ** 2 + 2 * r2 * (x * x + y * y) + 16 * tau * x * y) / self.P ** 2
        D = 8 / self.P * tau ** 2 * x * y
        return E, D

    def action(self, x, y, tau, r0, r2):
        E, D = self.parts(x, y, tau, r0, r2)
        return (self.lam * (x + y) - 0.5 * D / (self.N / self.sa2 + E)
                + self.P / 2 * np.log1p(self.sa2 * E / self.N))

    def _hessian(self, x, y, eig):
        f = lambda a, b: self.action(a, b, *eig)       # noqa: E731
        h = 1e-4 * max(x, y)
        hxx = (f(x + h, y) - 2 * f(x, y) + f(x - h, y)) / h ** 2
        hyy = (f(x, y + h) - 2 * f(x, y) + f(x, y - h)) / h ** 2
        hxy = (f(x + h, y + h) - f(x + h, y - h) - f(x - h, y + h) + f(x - h, y - h)) / (4 * h ** 2)
        return np.array([[hxx, hxy], [hxy, hyy]])

    def condensed_minimum(self, tau, r0, r2):
        """The minimum (x*, y*) of S_q away from 0 on the symmetric line x = y, with its barrier r_b and
        Hessian (2×2, checked for stability off the line), or None when S_q has no such minimum."""
        from scipy.optimize import minimize_scalar
        eig = (tau, r0, r2)
        r = np.geomspace(1e-3 / self.lam, 1e9 / self.lam, 1200)
        v = self.action(r, r, *eig)
        loc = np.nonzero((v[1:-1] < v[:-2]) & (v[1:-1] <= v[2:]))[0] + 1
        if len(loc) == 0:
            return None
        i = int(loc[np.argmin(v[loc])])
        j = int(np.argmax(v[:i]))
        if j == 0:
            return None
        lo, hi = r[max(i - 1, 0)], r[min(i + 1, len(r) - 1)]
        res = minimize_scalar(lambda z: self.action(np.exp(z), np.exp(z), *eig), bounds=(np.log(lo), np.log(hi)),
                              method="bounded", options={"xatol": 1e-12})
        rs = float(np.exp(res.x))
        H = self._hessian(rs, rs, eig)
        return {"x": rs, "y": rs, "action": float(self.action(rs, rs, *eig)), "barrier": float(r[j]),
                "hessian": H}

    def split(self):
        """r_s = 20/λ: the Gaussian basin (x + y < 2 r_s, weight e^{−λ(x+y)} ≤ e^{−40} beyond) and the condensed
        region (x + y > 2 r_s)."""
        return 20.0 / self.lam

    def region_moments(self, tau, r0, r2):
        """ln Z and the moments ⟨xy/n⟩, ⟨(x²+y²)/(2n)⟩, ⟨(x+y)²/n⟩ (n = 1 + σ̃_a²E/N) of e^{−S_q} dx dy over the
        Gaussian region and over the condensed region (coordinates s = x + y, t = x/s, dx dy = s ds dt)."""
        rs = self.split()
        t = np.linspace(0.0, 1.0, self.grid + 1)
        out = {}
        for name, s in (("gauss", np.linspace(0.0, 2 * rs, 2 * self.grid)),
                        ("cond", np.geomspace(2 * rs, 1e7 / self.lam, 3 * self.grid))):
            Sg, Tg = np.meshgrid(s, t, indexing="ij")
            X, Y = Sg * Tg, Sg * (1 - Tg)
            act = self.action(X, Y, tau, r0, r2)
            m = np.min(act)
            E, _ = self.parts(X, Y, tau, r0, r2)
            n = 1 + self.sa2 * E / self.N
            w = np.exp(-(act - m)) * Sg

            def integ(f):
                return np.trapezoid(np.trapezoid(w * f, t, axis=1), s)
            Z = integ(1.0)
            out[name] = {"lnZ": float(np.log(Z) - m), "xy": float(integ(X * Y / n) / Z),
                         "x2": float(integ((X * X + Y * Y) / (2 * n)) / Z), "s2": float(integ(Sg * Sg / n) / Z)}
        return out

    def state_at(self, v):
        """The state dict of :meth:`state` at given v = (Λ_t/σ², Λ₂/σ², Λ₀/σ², logit p)."""
        s2 = self.noise
        lt, l2, l0, z = v
        p = 1 / (1 + np.exp(-z))
        tau, r2, r0 = 1 / (s2 * (1 + lt)), 1 / (s2 * (1 + l2)), 1 / (s2 * (1 + l0))
        mo = self.region_moments(tau, r0, r2)
        drive = np.log(self.M) + mo["cond"]["lnZ"] - mo["gauss"]["lnZ"]
        res = float(np.max(np.abs(_equations(self, v))))
        return {"p": p, "h": float(z - drive), "drive": float(drive), "tau": tau, "rho0": r0, "rho2": r2,
                "lambda_t": lt * s2, "fbar": float(lt * s2 * tau), "condensed": self.condensed_minimum(tau, r0, r2),
                "moments": mo, "xy_gauss": mo["gauss"]["xy"], "iterations": 0, "residual": res}

    # ---- self-consistency at a given condensed fraction -----------------------------------------
    def state(self, p, tol=1e-11, iterations=400):
        """Solve the kernel eigenvalues at condensed fraction p (damped fixed point); returns a dict with
        h = ln(p/(1−p)) − [ln M + ln Z_c − ln Z_g] (zero at a self-consistent state)."""
        s2, P, M, sa2 = self.noise, self.P, self.M, self.sa2
        Lt, L2, L0 = 4 * sa2 / (P ** 2 * self.lam ** 2), 0.0, self.lambda00_gauss
        for k in range(iterations):
            tau, r2, r0 = 1 / (Lt + s2), 1 / (L2 + s2), 1 / (L0 + s2)
            mo = self.region_moments(tau, r0, r2)
            g, c = mo["gauss"], mo["cond"]
            nLt = 4 * sa2 / P ** 2 * ((1 - p / M) * g["xy"] + (p / M) * c["xy"])
            nL2 = sa2 * (p / M) * c["x2"] / P ** 2
            nL0 = (1 - p) * self.lambda00_gauss + p * sa2 * 4 * c["s2"] / P ** 2
            delta = max(abs(nLt - Lt) / (Lt + s2), abs(nL2 - L2) / (L2 + s2), abs(nL0 - L0) / (L0 + s2))
            Lt, L2, L0 = 0.5 * (Lt + nLt), 0.5 * (L2 + nL2), 0.5 * (L0 + nL0)
            if delta < tol:
                break
        tau, r2, r0 = 1 / (Lt + s2), 1 / (L2 + s2), 1 / (L0 + s2)
        mo = self.region_moments(tau, r0, r2)
        drive = np.log(M) + mo["cond"]["lnZ"] - mo["gauss"]["lnZ"]
        with np.errstate(divide="ignore"):
            h = float(np.log(p) - np.log1p(-p) - drive)
        return {"p": p, "h": h, "drive": float(drive), "tau": tau, "rho0": r0, "rho2": r2, "lambda_t": Lt,
                "fbar": float(Lt * tau), "condensed": self.condensed_minimum(tau, r0, r2),
                "moments": mo, "xy_gauss": mo["gauss"]["xy"], "iterations": k + 1, "residual": float(delta)}


def mode_model(spec, params=None, grid=100) -> ModeModel:
    from .modular_addition import _Values
    v = _Values(spec, params)
    return ModeModel(int(v.P), v.N, v.sa2, v.sw2, v.noise, grid)


def _equations(model, v):
    """Residuals of the closed loop in v = (Λ_t/σ², Λ₂/σ², Λ₀/σ², z = logit p)."""
    s2, P, M, sa2 = model.noise, model.P, model.M, model.sa2
    lt, l2, l0, z = v
    p = 1 / (1 + np.exp(-z))
    tau, r2, r0 = 1 / (s2 * (1 + lt)), 1 / (s2 * (1 + l2)), 1 / (s2 * (1 + l0))
    mo = model.region_moments(tau, r0, r2)
    g, c = mo["gauss"], mo["cond"]
    nlt = 4 * sa2 / P ** 2 * ((1 - p / M) * g["xy"] + (p / M) * c["xy"]) / s2
    nl2 = sa2 * (p / M) * c["x2"] / P ** 2 / s2
    nl0 = ((1 - p) * model.lambda00_gauss + p * sa2 * 4 * c["s2"] / P ** 2) / s2
    drive = np.log(M) + c["lnZ"] - g["lnZ"]
    return np.array([(nlt - lt) / (1 + lt), (nl2 - l2) / (1 + l2), (nl0 - l0) / (1 + l0), z - drive])


def _logit_roots(model, starts=(-30.0, 3.0)):
    """Self-consistent states (Λ_t, Λ₂, Λ₀, p) from several starting fractions; distinct roots by p."""
    from scipy.optimize import root
    roots = []
    for z0 in starts:
        st = model.state(1 / (1 + np.exp(-z0)), tol=1e-3, iterations=15)
        v0 = [st["lambda_t"] / model.noise, (1 / st["rho2"] - model.noise) / model.noise,
              (1 / st["rho0"] - model.noise) / model.noise, z0]
        with np.errstate(all="ignore"):              # trial points of the root finder may leave the domain
            sol = root(lambda v: _equations(model, v), v0, method="hybr", options={"xtol": 1e-12})
            if not (sol.success and np.max(np.abs(sol.fun)) < 1e-8):
                sol = root(lambda v: _equations(model, v), v0, method="lm", options={"xtol": 1e-14, "ftol": 1e-14})
        if sol.success and np.max(np.abs(sol.fun)) < 1e-8 and min(sol.x[:3]) > -1:
            if not any(abs(sol.x[3] - r[3]) < 1e-5 * (1 + abs(r[3])) for r in roots):
                roots.append(sol.x)
    return sorted(roots, key=lambda r: r[3])


def _bisect_root(model):
    from scipy.optimize import brentq

    def h(z):
        return model.state(1 / (1 + np.exp(-z)), tol=1e-9, iterations=200)["h"]
    zs = np.linspace(-30.0, 30.0, 13)
    hs = [h(z) for z in zs]
    for a, b, ha, hb in zip(zs[:-1], zs[1:], hs[:-1], hs[1:]):
        if (ha < 0) != (hb < 0):
            z = brentq(h, a, b, xtol=1e-6)
            roots = _logit_roots(model, starts=(z,))
            if roots:
                return roots
    return []


def solve_modular_addition_phases(spec, params=None, grid=100, population="mean_field") -> Solution:
    """The self-consistent state at the spec's σ²: phase ``gaussian`` / ``mixed`` / ``condensed``.  With several
    self-consistent fractions (hysteresis) the one continued from the Gaussian phase (lowest p) is returned and
    the others are listed in ``extras["p_roots"]``.

    ``population="finite"``: the condensed neurons as an explicit finite population instead of the random-phase
    mixture (their kernel kept exactly, not diagonal on the plane waves), the Gaussian neurons as their prior
    kernel -- :func:`mftsym.solve.modular_addition_cavity.population_state` (zero temperature for the condensed
    neurons).  With ≈ 5 condensed neurons per mode pair (P = 11, N = 1000–4000) it reproduces the Langevin
    ensembles' p, x and f̄ where the mean field does not (docs/theory/grokking.md §5)."""
    if population not in ("mean_field", "finite"):
        from ..errors import SpecError
        raise SpecError(f"population must be 'mean_field' or 'finite', got {population!r}", "population")
    model = mode_model(spec, params, grid)
    if population == "finite":
        from .modular_addition_cavity import population_state
        return population_state(model)
    st0 = gaussian_kernel_state(model)
    if st0["drive"] < -25:           # p = e^{drive} < 1e-11 leaves the kernel unchanged: the p → 0 state is exact
        z = st0["drive"]
        v = np.array([st0["lambda_t"] / model.noise, 1 / (st0["rho2"] * model.noise) - 1,
                      1 / (st0["rho0"] * model.noise) - 1, z])
        roots = [v] if np.max(np.abs(_equations(model, v))) < 1e-8 else []
    else:
        roots = []
    roots = roots or _logit_roots(model) or _logit_roots(model, starts=(-8.0, -4.0, -1.0, 1.0, 6.0))
    if not roots:                      # bracket h(z) with the damped fixed point, then polish with the root finder
        roots = _bisect_root(model)
    if not roots:
        raise RuntimeError(f"modular addition phases: no self-consistent state found at noise {model.noise:g}")
    v = roots[0]
    p = float(1 / (1 + np.exp(-v[3])))
    st = model.state_at(v)
    phase = "gaussian" if p < P_FRACTION_EDGE else ("condensed" if p > 1 - P_FRACTION_EDGE else "mixed")
    c = st["condensed"]
    saddles = []
    if c:
        saddles.append(Saddle({"x": c["x"], "y": c["y"]}, c["action"], 0.0, tuple(np.linalg.eigvalsh(c["hessian"]))))
    mc = st["moments"]["cond"]
    ops = {"p_condensed": p, "tau": st["tau"], "fbar": st["fbar"], "noise_tau": model.noise * st["tau"],
           "rho2_noise": st["rho2"] * model.noise, "rho0_noise": st["rho0"] * model.noise,
           "xy_condensed": mc["xy"], "xy_gauss": st["xy_gauss"], "drive": st["drive"]}
    return Solution("modular_addition_phases", ops, c["action"] if c else float("nan"), None, None, True,
                    st["residual"], st["iterations"], tuple(saddles), "",
                    extras={"phase": phase, "p_roots": [float(1 / (1 + np.exp(-r[3]))) for r in roots], "P": model.P,
                            "x_star": c["x"] if c else None})


def gaussian_kernel_state(model, tol=1e-12):
    """The state at p = 0 (every neuron in the Gaussian basin): its drive ln M + ln Z_c − ln Z_g and whether
    S_q has a condensed minimum there.

    At p = 0 only Λ_t is self-consistent (Λ₂ = 0, Λ₀ = σ̃_a²σ_w⁴(1 + 1/P + 1/P²)), and the loop is one equation
    Λ_t = F(Λ_t) = (4σ̃_a²/P²)⟨xy⟩_g(τ = 1/(Λ_t + σ²)) with F decreasing (a larger Λ_t lowers τ and the gain), so it
    has exactly one root in [0, F(0)], found here by bracketing (Brent).  The damped fixed point of
    :meth:`ModeModel.state` oscillates instead of converging where F is steep (|F'| > 3, σ² ≲ 5e−4 at P = 11):
    unconverged states flipped the drive and the existence of the condensed minimum and made the transition
    locator report spurious spinodal / first-order pairs deep in the mixed phase.  ``barrier`` is the height of
    the diagonal barrier of S_q above S_q(0) (None without a condensed minimum): the Gaussian basin is metastable
    while it is large."""
    from scipy.optimize import brentq
    s2, P = model.noise, model.P
    r2, r0 = 1 / s2, 1 / (model.lambda00_gauss + s2)
    c = 4 * model.sa2 / P ** 2

    def excess(lt):
        return lt - c * model.region_moments(1 / (lt + s2), r0, r2)["gauss"]["xy"]
    hi = -excess(0.0)                           # = F(0) > 0; excess(F(0)) = F(0) − F(F(0)) ≥ 0
    lt = brentq(excess, 0.0, hi, xtol=tol * hi, rtol=1e-13) if excess(hi) > 0 else hi
    tau = 1 / (lt + s2)
    mo = model.region_moments(tau, r0, r2)
    drive = np.log(model.M) + mo["cond"]["lnZ"] - mo["gauss"]["lnZ"]
    cond = model.condensed_minimum(tau, r0, r2)
    barrier = None
    if cond is not None:
        rb = cond["barrier"]
        barrier = float(model.action(rb, rb, tau, r0, r2) - model.action(0.0, 0.0, tau, r0, r2))
    return {"p": 0.0, "h": -np.inf, "drive": float(drive), "tau": tau, "rho0": r0, "rho2": r2, "lambda_t": lt,
            "fbar": float(lt * tau), "condensed": cond, "moments": mo, "xy_gauss": mo["gauss"]["xy"],
            "iterations": 0, "residual": float(abs(excess(lt)) / (lt + s2)), "barrier": barrier}


def sweep_modular_addition_phases(spec, param, values, grid=100) -> dict:
    """Phases along ``param`` and the transitions, each with its definition."""
    from scipy.optimize import brentq
    values = [float(v) for v in values]
    sols = [solve_modular_addition_phases(spec, {param: v}, grid) for v in values]
    phases = [s.extras["phase"] for s in sols]
    transitions = []

    def g0(v):
        return gaussian_kernel_state(mode_model(spec, {param: v}, grid))

    def drive(v):
        return g0(v)["drive"]

    def exists(v):
        return 1.0 if g0(v)["condensed"] is not None else -1.0

    st0 = [g0(v) for v in values]
    dv = [s["drive"] for s in st0]
    ex = [s["condensed"] is not None for s in st0]
    ok = [s["residual"] < 1e-8 for s in st0]      # compare only solved p = 0 states (see gaussian_kernel_state)
    for i in range(len(values) - 1):
        a, b = values[i], values[i + 1]
        if not (ok[i] and ok[i + 1]):
            continue
        if ex[i] != ex[i + 1]:
            transitions.append({"value": _bisect(exists, a, b), "kind": "spinodal", "bracket": [a, b],
                                "definition": "the condensed single-mode minimum of S_q appears at the Gaussian-phase "
                                              "kernel (p = 0)"})
        if (dv[i] > 0) != (dv[i + 1] > 0):
            transitions.append({"value": float(brentq(drive, a, b, xtol=1e-12 * max(abs(a), abs(b)), rtol=1e-10)),
                                "kind": "first_order", "bracket": [a, b],
                                "definition": "a condensed neuron is degenerate with a Gaussian one at the Gaussian-phase "
                                              "kernel: ln M + ln Z_c - ln Z_g = 0 (p -> 0; analogue of Claim IV)"})
        if phases[i] != phases[i + 1]:
            transitions.append({"value": 0.5 * (a + b), "kind": "phase_boundary", "bracket": [a, b],
                                "definition": f"self-consistent condensed fraction p crosses {P_FRACTION_EDGE:g} "
                                              f"(gaussian|mixed) or 1 - {P_FRACTION_EDGE:g} (mixed|condensed)"})
    for t in transitions:
        lo, hi = t["bracket"]
        t["from"], t["to"] = phases[values.index(lo)], phases[values.index(hi)]
    return {"param": param, "values": values, "phases": phases, "transitions": transitions,
            "solutions": [s.to_dict() for s in sols]}


def _bisect(f, a, b, n=25):
    fa = f(a)
    for _ in range(n):
        m = 0.5 * (a + b)
        if f(m) == fa:
            a = m
        else:
            b = m
    return 0.5 * (a + b)


# ---- independent brute-force evaluation over the P² two-hot inputs --------------------------------
def plane_wave_eigenvalues(P, noise, tau, r0, r2):
    """ρ_{kl}, the eigenvalues of (Q + σ²)⁻¹ on e^{2πi(ka+lb)/P}: τ on k = ±l ≠ 0, ρ₂ on (k,0), (0,k), ρ₀ on
    (0,0), 1/σ² elsewhere."""
    k = np.arange(P)
    K, L = np.meshgrid(k, k, indexing="ij")
    rho = np.full((P, P), 1 / noise)
    diag = ((K == L) | ((K + L) % P == 0)) & (K != 0)
    rho[diag] = tau
    rho[(K == 0) ^ (L == 0)] = r2
    rho[0, 0] = r0
    return rho


def kernel_inverse_matrix(rho):
    """A = (Q + σ²)⁻¹ as a P²×P² matrix in the data basis (a, b) from its plane-wave eigenvalues."""
    P = rho.shape[0]
    F = np.exp(2j * np.pi * np.outer(np.arange(P), np.arange(P)) / P) / np.sqrt(P)
    F2 = np.kron(F, F)
    A = (F2 * rho.reshape(-1)) @ F2.conj().T
    return np.real(A)


def neuron_action_brute(u, v, model, tau, r0, r2, A=None):
    """S[w] of one neuron w = (u, v) by direct summation over the P² inputs x_ab = e_a ⊕ e_b: the readout
    weights a_1 … a_P integrated exactly against the kernel A = (Q+σ²)⁻¹, t_c = A y_c,
    y_c(a, b) = δ_{c,(a+b) mod P} − 1/P."""
    P = model.P
    if A is None:
        A = kernel_inverse_matrix(plane_wave_eigenvalues(P, model.noise, tau, r0, r2))
    a, b = np.meshgrid(np.arange(P), np.arange(P), indexing="ij")
    phi = ((u[:, None] + v[None, :]) ** 2).reshape(-1)
    Y = np.stack([((a + b) % P == c).astype(float).reshape(-1) - 1 / P for c in range(P)])
    T = Y @ A
    E = phi @ A @ phi
    D = float(np.sum((T @ phi) ** 2))
    prior = P / model.sw2 * (u @ u + v @ v)
    return prior - 0.5 * D / (model.N / model.sa2 + E) + P / 2 * np.log1p(model.sa2 * E / model.N)


__all__ = ["ModeModel", "gaussian_kernel_state", "kernel_inverse_matrix", "mode_model", "neuron_action_brute", "phase_action_theory",
           "plane_wave_eigenvalues", "solve_modular_addition_phases", "sweep_modular_addition_phases"]


def sweep_two_hot(spec, param, values, grid=100) -> dict:
    """What ``mftsym sweep`` reports for a two-hot spec: the phases of the resummed theory
    (:func:`sweep_modular_addition_phases`) plus, when ``param`` is the noise, the spinodal of the first-order
    (truncated) Gaussian closure of ``modular_addition.py`` (where that closure stops existing)."""
    from .modular_addition import _noise_param, solve_modular_addition
    out = sweep_modular_addition_phases(spec, param, values, grid)
    if param == _noise_param(spec):
        sc = solve_modular_addition(spec).extras["noise_spinodal"]
        if min(out["values"]) <= sc <= max(out["values"]):
            out["transitions"].append({"value": float(sc), "kind": "closure_spinodal",
                                       "definition": "truncated (first-order) action: the Gaussian closure ceases to "
                                                     "exist (g = lambda^2/4)", "from": "-", "to": "-"})
    return out
