r"""Monte Carlo solution of the deep DMFT of gradient descent for any activation (Bordelon &
Pehlevan 2022; docs/theory/dynamics.md, "Deep networks"; the equations are in :mod:`.deep`).

Each hidden layer k is a population of S single sites swept causally in time (layers upward for h,
downward for z at every step):

* the Gaussian sources are drawn *coherently in time* as random projections of the population itself,
  u^k_i(t) = sqrt(v_k/S) Σ_j Ξ_ij φ(h^{k−1}_j(t)) + √b_k β_i and r^k_i(t) = sqrt(v_{k+1}/S) Σ_j Ξ'_ij g^{k+1}_j(t)
  with Ξ, Ξ', β fixed N(0, 1) draws: given the populations, u^k is exactly a Gaussian process with the
  sampled kernel Φ̃^{k−1}(t,s) (and r^k with Ĝ^{k+1}), causal and free of matrix inverses, and
  u_i(t) − u_i(s) is small when the features move little;
* the response functions R^k(t,s) = v_k⟨∂φ(h^k(t))/∂r^k(s)⟩ and B^k(t,s) = v_k⟨∂g^{k+1}(t)/∂u^{k+1}(s)⟩
  (B&P's A, B times dt γ₀) are sample means of pathwise derivatives, propagated forward with the
  fields (each site's Jacobian of its fields with respect to its own sources); a kinked φ is swept
  as its Gaussian smoothing (:func:`.deep.smooth_kinks`, done by the solver) so that φ'' carries the
  kink's Dirac mass;
* the outputs move by the Euler step of B&P, f(t+dt) = f(t) + dt [Θ_exact(0) + Θ̂(t) − Θ̂(0)] Δ(t),
  with Θ̂ = Σ_k Φ̃^k ∘ G^{k+1} from the samples and Θ_exact(0) the spec's NTK (a control variate: as
  γ₀ → 0 every site's fields freeze, Θ̂(t) − Θ̂(0) → 0, and the NTK predictor is recovered exactly).
  The fields follow the exact discrete GD updates; only the output step is first order (its error
  is O(dt) at a fixed time: ~1e-4 at dt = 0.01 for the networks of the tests).

Memory O(S (T P)² L) for the Jacobians (T steps, P training points): meant for small P and T.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import EvaluationError

#: Largest memory (bytes) the Jacobian histories and source projections may take.
MAX_BYTES = 4 * 2 ** 30


class DeepMonteCarloSweep:
    """Causal Monte Carlo sweep (see the module docstring).  ``run(delta_in=None)``: the fields are
    driven by Δ(t) = y − f(t) (causal) or by ``delta_in[t]``; the outputs always follow their own Δ
    through the kernels the fields produce, and the returned Δ is theirs.  The random draws are fixed
    at construction (``seed``), so a run driven by a solution's Δ is its self-consistency check, and
    damped iterations Δ ← (1 − β)Δ + β F[Δ] converge to the causal solution."""

    def __init__(self, model, Kx, y, P, gamma0, dt, steps, samples, theta0, seed=0, backend="numpy", device=None):
        self.m, self.Kx, self.y, self.P = model, np.asarray(Kx, float), np.asarray(y, float), P
        self.g0, self.dt, self.T, self.S = gamma0, dt, steps, int(samples)
        self.theta0 = np.asarray(theta0, float)            # exact Θ(0), (all points) x (training points)
        L_, Pa_ = model.depth, len(self.Kx)
        n_hist = sum((k < L_ - 1) + (k > 0) for k in range(L_)) * 2      # Jacobian histories kept
        need = 8 * (n_hist * (steps + 1) * P * samples * (steps + 1) * P + 2 * L_ * samples ** 2)
        if need > MAX_BYTES:
            raise EvaluationError(f"the deep Monte Carlo DMFT would hold {need / 2**30:.1f} GiB of per-site Jacobians "
                                  f"(samples {samples} x (steps+1 = {steps + 1} x {P} training points)^2 x {n_hist}); "
                                  "lower samples, steps or the number of training points")
        self.acts = model.activations(backend)
        self.xp = _Backend(backend, device)
        L, S, Pa = model.depth, self.S, len(self.Kx)
        rng = np.random.default_rng(seed)
        lam, U = np.linalg.eigh(self.Kx)
        c = self.xp.conv
        self.h0 = c(rng.standard_normal((S, Pa)) @ (U * np.sqrt(np.clip(lam, 0, None))).T)
        self.a0 = c(rng.standard_normal(S))
        self.Xi = [c(rng.standard_normal((S, S)) / math.sqrt(S)) for _ in range(L)]     # forward projections
        self.Xr = [c(rng.standard_normal((S, S)) / math.sqrt(S)) for _ in range(L)]     # backward projections
        self.beta = [c(rng.standard_normal(S)) for _ in range(L)]

    def run(self, delta_in=None):
        m, P, T, S, g0, dt, xp = self.m, self.P, self.T, self.S, self.g0, self.dt, self.xp
        Kx = xp.conv(self.Kx)
        L, Pa = m.depth, len(self.Kx)
        zeros, perm, ein = xp.zeros, xp.perm, xp.einsum
        v, b = m.weight_vars, m.bias_vars
        eg = dt * g0
        TP = (T + 1) * P
        feat = [zeros((T + 1, S, Pa)) for _ in range(L)]             # φ(h^k(t)), all points
        grad = [zeros((T + 1, S, Pa)) for _ in range(L)]             # g^k(t), all points
        # Jacobians w.r.t. r^k are needed for R^k (k < L-1 only), w.r.t. u^k for B^{k-1} (k > 0 only)
        need_r = [k < L - 1 for k in range(L)]
        need_u = [k > 0 for k in range(L)]
        hist = {key: [zeros((T + 1, P, S, TP)) if (need_r if key[1] == "r" else need_u)[k] else None
                      for k in range(L)] for key in ("gr", "pr", "gu", "pu")}
        R = [zeros((T + 1, T + 1, Pa, P)) for _ in range(L)]         # R^k(t, s)
        Bresp = [zeros((T + 1, T + 1, Pa, P)) for _ in range(L)]     # B^k(t, s)
        ar = xp.arange(P)
        dl = xp.conv(np.zeros((T + 1, P)))
        cur = [dict() for _ in range(L)]
        f = np.zeros((T + 1, Pa))
        deltas = np.zeros((T + 1, P))
        theta_hat0 = None
        ntks, phis, gs = [], [], []
        for t in range(T + 1):
            deltas[t] = (self.y - f[t, :P]) if delta_in is None else delta_in[t]
            dl[t] = xp.conv(deltas[t])
            # ---- forward: h^k(t)
            for k in range(L):
                phi, dphi, ddphi = self.acts[k]
                if k == 0:
                    u = self.h0
                else:
                    u = math.sqrt(v[k]) * (self.Xi[k] @ feat[k - 1][t]) + math.sqrt(b[k]) * self.beta[k][:, None]
                h = xp.clone(u)
                nr, nu = need_r[k], need_u[k]
                dh_dr = zeros((Pa, S, TP)) if nr else None
                dh_du = zeros((Pa, S, TP)) if nu else None
                if nu:
                    dh_du[ar, :, t * P + ar] = 1.0
                if t > 0:
                    if k == 0:
                        phit = xp.broadcast_to(Kx[:, :P], (t, Pa, P))
                        resp = 0.0
                    else:
                        phit = v[k] * perm(ein("sip,iq->spq", feat[k - 1][:t], feat[k - 1][t])[:, :P, :], (0, 2, 1)) / S + b[k]
                        resp = R[k - 1][t, :t]
                    kf = resp + eg * phit * dl[:t, None, :]                          # (t, Pa, P)
                    kf2 = perm(kf, (1, 0, 2)).reshape(Pa, t * P)                     # columns (s, μ)
                    h = h + perm(grad[k][:t, :, :P], (1, 0, 2)).reshape(S, t * P) @ kf2.T
                    if nr:
                        dh_dr += (kf2 @ hist["gr"][k][:t].reshape(t * P, S * TP)).reshape(Pa, S, TP)
                    if nu:
                        dh_du += (kf2 @ hist["gu"][k][:t].reshape(t * P, S * TP)).reshape(Pa, S, TP)
                ph, d1, d2 = phi(h), dphi(h), ddphi(h)
                feat[k][t] = ph
                if nr:
                    R[k][t] = perm((v[k + 1] * ein("si,isc->ic", d1, dh_dr) / S).reshape(Pa, T + 1, P), (1, 0, 2))
                    R[k][t, t:] = 0.0                                                # causal: s < t
                    hist["pr"][k][t] = (d1[:, :P].T[:, :, None] * dh_dr[:P])
                if nu:
                    hist["pu"][k][t] = (d1[:, :P].T[:, :, None] * dh_du[:P])
                cur[k] = {"h": h, "d1": d1, "d2": d2, "dh_dr": dh_dr, "dh_du": dh_du}
            # ---- backward: z^k(t), g^k(t)
            for k in reversed(range(L)):
                c = cur[k]
                if k == L - 1:
                    r = math.sqrt(v[L]) * xp.broadcast_to(self.a0[:, None], (S, Pa))
                    gt = xp.full((t + 1, Pa, P), v[L])
                    bresp = zeros((t + 1, Pa, P))
                else:
                    r = math.sqrt(v[k + 1]) * (self.Xr[k] @ grad[k + 1][t])
                    gt = v[k + 1] * perm(ein("sip,iq->spq", grad[k + 1][:t + 1], grad[k + 1][t])[:, :P, :], (0, 2, 1)) / S
                    bresp = Bresp[k][t, :t + 1]
                kb = xp.clone(bresp)
                kb[:t] += eg * gt[:t] * dl[:t, None, :]                                # (t+1, Pa, P)
                kb2 = perm(kb, (1, 0, 2)).reshape(Pa, (t + 1) * P)
                z = r + perm(feat[k][:t + 1, :, :P], (1, 0, 2)).reshape(S, (t + 1) * P) @ kb2.T
                g = c["d1"] * z
                grad[k][t] = g
                d2z = (c["d2"] * z).T[:, :, None]
                if need_r[k]:
                    dz_dr = (kb2[:P] @ hist["pr"][k][:t + 1].reshape((t + 1) * P, S * TP)).reshape(P, S, TP)
                    dz_dr[ar, :, t * P + ar] += 1.0
                    hist["gr"][k][t] = d2z[:P] * c["dh_dr"][:P] + c["d1"][:, :P].T[:, :, None] * dz_dr
                if need_u[k]:
                    dz_du = (kb2 @ hist["pu"][k][:t + 1].reshape((t + 1) * P, S * TP)).reshape(Pa, S, TP)
                    dg_du = d2z * c["dh_du"] + c["d1"].T[:, :, None] * dz_du
                    hist["gu"][k][t] = dg_du[:P]
                    Bresp[k - 1][t] = perm((v[k] * dg_du.mean(1)).reshape(Pa, T + 1, P), (1, 0, 2))
                    Bresp[k - 1][t, t + 1:] = 0.0
            # ---- NTK and the output step
            theta = Kx[:, :P] * (grad[0][t].T @ grad[0][t][:, :P]) / S
            for k in range(1, L + 1):
                ph = feat[k - 1][t]
                phit = v[k] * (ph.T @ ph[:, :P]) / S + (b[k] if k < L else 0.0)
                theta = theta + phit * ((grad[k][t].T @ grad[k][t][:, :P]) / S if k < L else 1.0)
            theta = xp.numpy(theta)
            if theta_hat0 is None:
                theta_hat0 = theta
            ntks.append(self.theta0 + theta - theta_hat0)
            phis.append([xp.numpy(feat[k][t][:, :P]).copy() for k in range(L)])
            gs.append([xp.numpy(grad[k][t][:, :P]).copy() for k in range(L)])
            if t < T:
                f[t + 1] = f[t] + dt * (ntks[-1] @ (self.y - f[t, :P]))       # the output follows its own Δ
                if not np.all(np.isfinite(f[t + 1])):
                    raise EvaluationError(f"the DMFT outputs diverged at step {t}: lower lr (dt = {dt:g}); the "
                                          "discrete dynamics need dt * lambda_max(NTK) < 2")
        produced = self.y[None, :] - f[:, :P]
        return {"f": f, "delta": produced, "ntk": np.array(ntks), "feat": phis, "grad": gs}

    def kernels(self, out, steps):
        """Φ^k(t,s), G^k(t,s) on the training points at ``steps``: (L, K, K, P, P) each."""
        S, L = self.S, self.m.depth
        Phi = np.array([[[out["feat"][i][k].T @ out["feat"][j][k] / S for j in steps] for i in steps] for k in range(L)])
        G = np.array([[[out["grad"][i][k].T @ out["grad"][j][k] / S for j in steps] for i in steps] for k in range(L)])
        return Phi, G


class _Backend:
    """The few array operations the sweep needs, on numpy or torch (float64; CPU or CUDA)."""

    def __init__(self, backend="numpy", device=None):
        self.torch = backend == "torch"
        if self.torch:
            import torch
            self.t, self.dev = torch, torch.device(device or "cpu")

    def conv(self, a):
        if self.torch:
            return self.t.as_tensor(np.ascontiguousarray(a), dtype=self.t.float64, device=self.dev)
        return np.asarray(a, float)

    def zeros(self, shape):
        return self.t.zeros(shape, dtype=self.t.float64, device=self.dev) if self.torch else np.zeros(shape)

    def full(self, shape, value):
        return self.t.full(shape, float(value), dtype=self.t.float64, device=self.dev) if self.torch else np.full(shape, value)

    def arange(self, n):
        return self.t.arange(n, device=self.dev) if self.torch else np.arange(n)

    def perm(self, a, axes):
        return a.permute(*axes) if self.torch else a.transpose(*axes)

    def einsum(self, eq, *ops):
        return self.t.einsum(eq, *ops) if self.torch else np.einsum(eq, *ops)

    def broadcast_to(self, a, shape):
        return self.t.broadcast_to(a, shape) if self.torch else np.broadcast_to(a, shape)

    def clone(self, a):
        return a.clone() if self.torch else a.copy()

    def numpy(self, a):
        return a.detach().cpu().numpy() if self.torch else np.asarray(a)


__all__ = ["DeepMonteCarloSweep"]
