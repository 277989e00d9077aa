r"""Spectral learning curves of kernel regression (Bordelon, Canatar & Pehlevan, ICML 2020; Canatar,
Bordelon & Pehlevan, Nat. Commun. 12, 2914 (2021); docs/theory/learning_curves.md).

Kernel regression f = k_*ᵀ (K + λ I)⁻¹ y on P samples (K the P × P Gram matrix), labels
y = f*(x) + ε, ε ~ N(0, σ²).  With the kernel's Mercer eigenvalues η_k on the data measure
(multiplicity N_k) and the target's power V_k in each eigenspace, the mean test error
E_g = E_x (f(x) − f*(x))² over training sets is, in the limit of many samples and modes,

    κ = λ + κ Σ_k N_k η_k / (P η_k + κ)                      (κ: the self-consistent ridge)
    γ = Σ_k N_k P η_k² / (P η_k + κ)²
    E_g = [ Σ_k κ² V_k / (P η_k + κ)² + σ² γ ] / (1 − γ),

per mode E_k = κ² V_k / ((P η_k + κ)² (1 − γ)) plus the noise part σ²γ/(1 − γ).  Unresolved modes
(P η ≪ κ) enter κ through their trace ``tail_trace`` and E_g through their power ``tail_power``.
The Bayesian posterior mean of an infinitely wide network is this predictor with the NNGP and
λ = the posterior noise variance (docs/theory/nngp_ntk.md).  Power laws η_k ~ k^{−b}, V_k ~ k^{−a}
(ridgeless, noiseless) give E_g ~ P^{−min(a−1, 2b)}.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConvergenceError, EvaluationError


@dataclass(frozen=True, eq=False)
class LearningCurve:
    """E_g(P) in total, per mode (``modes``: one column per spectrum entry) and from the noise."""

    P: np.ndarray
    kappa: np.ndarray
    gamma: np.ndarray
    Eg: np.ndarray
    modes: np.ndarray            # (len(P), n_modes): the target part of E_g per entry of the spectrum
    noise_part: np.ndarray       # σ² γ / (1 − γ)
    tail_part: np.ndarray        # the never-learned target power beyond the resolved modes, / (1 − γ)
    ridge: float
    noise: float
    labels: np.ndarray | None = None
    meta: dict | None = None

    def to_dict(self) -> dict:
        out = {"P": self.P.tolist(), "kappa": self.kappa.tolist(), "gamma": self.gamma.tolist(),
               "Eg": self.Eg.tolist(), "noise_part": self.noise_part.tolist(),
               "tail_part": self.tail_part.tolist(), "ridge": self.ridge, "label_noise": self.noise,
               "Eg_modes": self.modes.tolist(),
               "mode_labels": None if self.labels is None else np.asarray(self.labels).tolist()}
        if self.meta:
            out.update(self.meta)
        return out


def solve_kappa(P: float, eta, degeneracy=None, ridge: float = 0.0, tail_trace: float = 0.0,
                tol: float = 1e-13) -> float:
    """The root κ > 0 of G(κ) = (λ + T_tail)/κ + Σ N_k η_k/(P η_k + κ) − 1 (G decreases strictly
    from +∞ to −1, so the root is unique when λ + T_tail > 0 or P < Σ_k N_k [η_k > 0])."""
    from scipy.optimize import brentq
    eta = np.asarray(eta, dtype=float)
    N = np.ones_like(eta) if degeneracy is None else np.asarray(degeneracy, dtype=float)
    keep = eta > 0
    eta, N = eta[keep], N[keep]
    lam = float(ridge) + float(tail_trace)
    if lam < 0:
        raise EvaluationError(f"the ridge must be >= 0, got {ridge}")
    if lam == 0 and P >= N.sum():
        raise EvaluationError(f"ridgeless regression with P = {P:g} samples and only {N.sum():g} modes: "
                              "κ = 0 (interpolation of a finite-rank kernel); give a ridge, more modes "
                              "(lmax) or a smaller P")

    def G(logk):
        k = np.exp(logk)
        return lam / k + np.sum(N * eta / (P * eta + k)) - 1.0

    hi = np.log(max(lam, 1e-300) + float(np.sum(N * eta)) + 1.0) + 1.0
    lo = hi - 5.0
    while G(lo) < 0:
        lo -= 5.0
        if lo < -745:
            raise ConvergenceError(f"no positive κ found at P = {P:g}")
    return float(np.exp(brentq(G, lo, hi, xtol=tol, rtol=4 * np.finfo(float).eps, maxiter=500)))


def learning_curve(P, eta, target_power, degeneracy=None, ridge: float = 0.0, noise: float = 0.0,
                   tail_trace: float = 0.0, tail_power: float = 0.0, labels=None, meta=None) -> LearningCurve:
    """E_g(P) from a spectrum: ``eta`` (per entry), ``degeneracy`` (N_k, default 1) and the target's
    total power ``target_power`` V_k in each entry (Σ over the degenerate subspace)."""
    eta = np.asarray(eta, dtype=float)
    N = np.ones_like(eta) if degeneracy is None else np.asarray(degeneracy, dtype=float)
    V = np.asarray(target_power, dtype=float)
    if not (eta.shape == N.shape == V.shape):
        raise EvaluationError(f"eta, degeneracy and target_power must have one shape; got {eta.shape}, "
                              f"{N.shape}, {V.shape}")
    if np.any(eta < 0) or np.any(V < 0) or noise < 0:
        raise EvaluationError("eigenvalues, target powers and the noise variance must be >= 0")
    Ps = np.atleast_1d(np.asarray(P, dtype=float))
    kap, gam, Eg, modes, npart, tpart = [], [], [], [], [], []
    for p in Ps:
        k = solve_kappa(p, eta, N, ridge, tail_trace)
        denom = p * eta + k
        g = float(np.sum(N * p * eta ** 2 / denom ** 2))
        if g >= 1:
            raise ConvergenceError(f"γ = {g:.6g} >= 1 at P = {p:g}: the error diverges (ridgeless interpolation "
                                   "threshold); add a ridge")
        m = k ** 2 * V / denom ** 2 / (1 - g)
        kap.append(k)
        gam.append(g)
        modes.append(m)
        npart.append(noise * g / (1 - g))
        tpart.append(tail_power / (1 - g))
        Eg.append(m.sum() + npart[-1] + tpart[-1])
    return LearningCurve(Ps, np.array(kap), np.array(gam), np.array(Eg), np.array(modes), np.array(npart),
                         np.array(tpart), float(ridge), float(noise), labels, meta)


def power_law_curve(P, a: float, b: float, n_modes: int = 200000, ridge: float = 0.0, noise: float = 0.0):
    """E_g(P) for η_k = k^{−b}, V_k = k^{−a} (k = 1..n_modes), the modes beyond ``n_modes`` carried by
    their exact Hurwitz-zeta trace and power."""
    from scipy.special import zeta
    if a <= 1 or b <= 1:
        raise EvaluationError(f"power laws need a > 1 and b > 1 (summable power and trace), got a={a}, b={b}")
    k = np.arange(1, n_modes + 1, dtype=float)
    return learning_curve(P, k ** -b, k ** -a, ridge=ridge, noise=noise,
                          tail_trace=float(zeta(b, n_modes + 1)), tail_power=float(zeta(a, n_modes + 1)))


def power_law_exponent(a: float, b: float) -> float:
    """The closed-form decay exponent of E_g ~ P^{−min(a − 1, 2b)} (ridgeless, noiseless)."""
    return min(a - 1.0, 2.0 * b)


def fit_slope(P, Eg):
    """Least-squares slope of log E_g against log P and its standard error."""
    x, y = np.log(np.asarray(P, dtype=float)), np.log(np.asarray(Eg, dtype=float))
    A = np.vstack([x, np.ones_like(x)]).T
    coef, res, *_ = np.linalg.lstsq(A, y, rcond=None)
    r = y - A @ coef
    dof = max(len(x) - 2, 1)
    cov = np.linalg.inv(A.T @ A) * float(r @ r) / dof
    return float(coef[0]), float(np.sqrt(cov[0, 0]))


__all__ = ["LearningCurve", "fit_slope", "learning_curve", "power_law_curve", "power_law_exponent",
           "solve_kappa"]
