r"""The single site of the two-layer DMFT and its averages: exactly (linear φ, Gaussian) or by
Monte Carlo (any φ), one time step at a time (docs/theory/dynamics.md; Bordelon & Pehlevan 2022).

One gradient-descent step of size dt (base rate η₀) with error signal Δ_μ = y_μ − f_μ on the P
training points moves every hidden unit's readout weight a and pre-activations h_ν (all points ν):

    a   ← a   + dt γ₀ σ_a Σ_μ Δ_μ φ(h_μ)
    h_ν ← h_ν + dt γ₀ σ_a Σ_μ K^x_{νμ} Δ_μ a φ'(h_μ)

(exact for a finite network too, where h is linear in the first-layer weights).  The output
f_ν = (σ_a/γ₀) ⟨a φ(h_ν)⟩ then moves by dt Σ_μ Θ_{νμ}(t) Δ_μ + R_ν(t), with the NTK
Θ = σ_a² (Φ + G ∘ K^x), Φ = ⟨φ(h)φ(h)⟩, G = ⟨a² φ'(h) φ'(h)⟩, and R = O(dt² γ₀) the
discrete-step remainder.  A population reports Θ(t) on (all points × training points), its
product with a vector, and (from ``step``) the output increment dt Θ Δ + R.
"""

from __future__ import annotations


import numpy as np


class GaussianPopulation:
    """Linear φ: h = H z, a = αᵀ z with z = (h(0), a(0)) ~ N(0, C), C = diag(K^x, 1): every average
    is a matrix product (exact; no sampling)."""

    exact = True

    def __init__(self, Kx, n_train, gamma0, sigma_a):
        Pa = len(Kx)
        self.Kx, self.P, self.g0, self.sa = np.asarray(Kx, float), n_train, gamma0, sigma_a
        self.C = np.zeros((Pa + 1, Pa + 1))
        self.C[:Pa, :Pa] = self.Kx
        self.C[Pa, Pa] = 1.0
        self.H = np.hstack([np.eye(Pa), np.zeros((Pa, 1))])
        self.alpha = np.zeros(Pa + 1)
        self.alpha[Pa] = 1.0

    def ntk(self):
        P = self.P
        HC = self.H @ self.C
        return self.sa ** 2 * (HC @ self.H[:P].T + (self.alpha @ self.C @ self.alpha) * self.Kx[:, :P])

    def ntk_matvec(self, v):
        return self.ntk() @ v

    def step(self, delta, dt):
        """Move the site by one step driven by ``delta``; return the output increment
        (σ_a/γ₀)Δ⟨aφ(h)⟩ = dt Θ(t) Δ + dt² γ₀ σ_a³ (αᵀCH_Pᵀ Δ) K^x Δ (exact)."""
        P, g0, sa = self.P, self.g0, self.sa
        first = dt * (self.ntk() @ delta)
        d_alpha = dt * g0 * sa * (self.H[:P].T @ delta)
        kd = self.Kx[:, :P] @ delta
        remainder = dt ** 2 * g0 * sa ** 3 * (self.alpha @ self.C @ self.H[:P].T @ delta) * kd
        self.H = self.H + dt * g0 * sa * np.outer(kd, self.alpha)
        self.alpha = self.alpha + d_alpha
        return first + remainder

    def snapshot(self):
        return (self.H.copy(), self.alpha.copy())

    def kernels(self, snaps, P):
        """Φ(t,s), G(t,s) on the training points, (T, T, P, P) each."""
        T = len(snaps)
        Phi, G = np.zeros((T, T, P, P)), np.zeros((T, T, P, P))
        for i, (Hi, ai) in enumerate(snaps):
            for j, (Hj, aj) in enumerate(snaps):
                Phi[i, j] = Hi[:P] @ self.C @ Hj[:P].T
                G[i, j] = ai @ self.C @ aj
        return Phi, G


class MonteCarloPopulation:
    """Any φ: ``samples`` independent draws of the single site (h(0) ~ N(0, K^x), a(0) ~ N(0, 1)),
    evolved together; averages are sample means.  Backend numpy or torch (float64; CPU or CUDA).
    The NTK uses the exact Θ(0) of the spec plus the sampled change Θ̂(t) − Θ̂(0) (a control variate:
    as γ₀ → 0 the sampling error vanishes with the change)."""

    exact = False

    def __init__(self, Kx, n_train, gamma0, sigma_a, phi, dphi, samples, seed=0, backend="numpy",
                 device=None, z=None, factor=None):
        Kx = np.asarray(Kx, float)
        Pa = len(Kx)
        if z is None:
            rng = np.random.default_rng(seed)
            z = rng.standard_normal((samples, Pa + 1))
        lam, U = np.linalg.eigh(Kx)
        root = U * np.sqrt(np.clip(lam, 0, None))
        h0, a0 = z[:, :Pa] @ root.T, z[:, Pa].copy()
        self.backend = backend
        if backend == "torch":
            import torch
            dev = torch.device(device or "cpu")
            conv = lambda a: torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float64, device=dev)
        else:
            conv = lambda a: np.asarray(a, float)
        self.conv = conv
        self.Kx, self.KxP = conv(Kx), conv(np.ascontiguousarray(Kx[:, :n_train]))
        # K^x = F Fᵀ of low rank r (input dimension + bias): Σ_μ K_{νμ} v_μ costs S r (P + P_all), not S P P_all
        self.F = None if factor is None else conv(np.asarray(factor, float))
        self.FP = None if factor is None else conv(np.ascontiguousarray(np.asarray(factor, float)[:n_train]))
        self.h, self.a = conv(h0), conv(a0)
        self.P, self.g0, self.sa, self.S = n_train, gamma0, sigma_a, int(z.shape[0])
        self.phi, self.dphi = phi, dphi
        self._ph = None

    def _numpy(self, t):
        return t.detach().cpu().numpy() if self.backend == "torch" else np.asarray(t)

    def _features(self):
        if self._ph is None:                     # φ(h) of the current h (step leaves it computed)
            self._ph = self.phi(self.h)
        return self._ph, self.a[:, None] * self.dphi(self.h)

    def ntk(self):
        P, S = self.P, self.S
        ph, g = self._features()
        return self._numpy(self.sa ** 2 * ((ph.T @ ph[:, :P]) / S + ((g.T @ g[:, :P]) / S) * self.KxP))

    def _kx_apply(self, m):
        """(S, P) -> (S, P_all): m K^x[train, :]."""
        if self.F is None:
            return m @ self.KxP.T
        return (m @ self.FP) @ self.F.T

    def ntk_matvec(self, v):
        """Θ̂(t) v on all points (v on the training points), O(S P_all P) without forming Θ̂."""
        P, S = self.P, self.S
        vv = self.conv(np.asarray(v, float))
        ph, g = self._features()
        out = (ph * (ph[:, :P] @ vv)[:, None]).sum(0) + (g * self._kx_apply(g[:, :P] * vv)).sum(0)
        return self._numpy(self.sa ** 2 * out / S)

    def step(self, delta, dt):
        """Move every site by one GD step driven by ``delta``; return the sample estimate of the output
        increment (σ_a/γ₀)⟨a'φ(h') − aφ(h)⟩ = dt Θ̂(t) Δ + R (the exact infinite-width GD step)."""
        P, g0, sa, S = self.P, self.g0, self.sa, self.S
        dl = self.conv(np.asarray(delta, float))
        ph, g = self._features()
        out_old = self.a[:, None] * ph
        self.a = self.a + dt * g0 * sa * (ph[:, :P] @ dl)
        self.h = self.h + dt * g0 * sa * self._kx_apply(g[:, :P] * dl)
        self._ph = self.phi(self.h)
        out_new = self.a[:, None] * self._ph
        return self._numpy((sa / g0) * (out_new - out_old).sum(0) / S)

    def snapshot(self):
        ph, g = self._features()
        return (self._numpy(ph[:, :self.P]).copy(), self._numpy(g[:, :self.P]).copy())

    def kernels(self, snaps, P):
        T, S = len(snaps), self.S
        Phi, G = np.zeros((T, T, P, P)), np.zeros((T, T, P, P))
        for i, (pi, gi) in enumerate(snaps):
            for j, (pj, gj) in enumerate(snaps):
                Phi[i, j] = pi.T @ pj / S
                G[i, j] = gi.T @ gj / S
        return Phi, G


__all__ = ["GaussianPopulation", "MonteCarloPopulation"]
