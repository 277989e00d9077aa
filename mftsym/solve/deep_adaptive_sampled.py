r"""Deep adaptive kernel with the sampled (non-Gaussian) single-neuron measure of every layer: the
mean-field saddle at fixed P without the Gaussian closure of :mod:`mftsym.solve.deep_adaptive`
(docs/theory/deep_adaptive_kernel.md, "Sampled single-neuron measures").

The neurons of each hidden layer are i.i.d. (Seroussi, Naveh & Ringel, Nat. Commun. 2023, per layer;
the leading-order saddle of Fischer et al., "Critical feature learning in deep neural networks",
ICML 2024), with

    layer 1:   p(w) ∝ N(w; 0, Λ₀⁻¹) exp(−½ φ(X̃w)ᵀ Ã_1 φ(X̃w)),
    layer l≥2: p(h) ∝ N(h; 0, K_l) exp(−½ φ(h_x)ᵀ Ã_l φ(h_x)),   K_l = σ_{w,l}² G_{l−1} + σ_{b,l}²,

G_l = ⟨φ_l(h)φ_l(h)ᵀ⟩_l on training and test points (the tilt sees the training points only, so the
test points keep the prior conditional), and the conjugate kernels

    Ã_L = −(σ_a²/N_L) (t̄t̄ᵀ − (Q + σ²I)⁻¹),   Q = σ_a² G_L,   t̄ = (Q + σ²I)⁻¹ y,
    Ã_l = (N_{l+1}/N_l) σ_{w,l+1}² (K⁻¹ − K⁻¹ ⟨hhᵀ⟩_{l+1} K⁻¹),   K = K_{l+1} on the training points,

the stationarity conditions of F = −Σ_l N_l ln Z_l + ½ ln det(Q + σ²I) + ½ yᵀ(Q + σ²I)⁻¹y (the
Gaussian closure is the same F with each measure replaced by its best Gaussian, −ln Z → KL).
Sampler: Metropolis-adjusted Langevin chains per layer in whitened coordinates (persistent across
outer iterations, step size adapted to ~60 % acceptance); outer iteration damped, started from the
Gaussian closure's solution (from zero tilts the iteration can run into a non-normalisable measure;
for unbounded activations Monte Carlo noise in the tilts can do the same -- seen for three linear
layers at 1500 chains -- and tr Q running away to 10× the closure's is reported as an error; bounded
activations such as erf and tanh always give normalisable measures);
G_L averaged over the last ``average`` outer iterations.  Prediction f̄(x_*) = Q_{*x}(Q + σ²I)⁻¹y,
variance Q_** − Q_{*x}(Q + σ²I)⁻¹Q_{x*}.  The result is a Monte Carlo estimate: repeat with other
seeds for its error.  Measured against Langevin ensembles in validation/study5_deep_adaptive.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConvergenceError
from ..spec import X
from ..spec.expressions import as_expr
from .compiled import lambdify
from .deep_adaptive import DeepSetup, layer_kernel, solve_deep_adaptive_kernel
from .solution import Solution

RUNAWAY = 10.0      # tr Q above this multiple of the closure's: a non-normalisable measure (error)


def _closure_start(st, spec, x, y, xt, params):
    """Tilts Ã_l of the Gaussian closure's solution."""
    import torch
    dt = torch.float64
    sol = solve_deep_adaptive_kernel(spec, x, y, xt, params=params, starts=(1.0,))
    covs = [torch.as_tensor(c, dtype=dt) for c in sol.extras["layer_covariances"]]
    pri = [None] + [torch.as_tensor(k, dtype=dt) for k in sol.extras["layer_prior_kernels"][1:]]
    P, L = st.P, st.depth
    if L == 1:
        Xt = torch.as_tensor(st.X, dtype=dt)
        C = Xt @ covs[0] @ Xt.T
    else:
        C = covs[-1]
    Q = st.sa2 * layer_kernel(st.layers[-1]["phi"], C)
    Ai = torch.linalg.inv(Q + st.noise * torch.eye(P, dtype=dt))
    t = Ai @ torch.as_tensor(st.y, dtype=dt)
    out = [None] * L
    out[-1] = -(st.sa2 / st.layers[-1]["N"]) * (torch.outer(t, t) - Ai)
    for l in range(L - 2, -1, -1):
        Ki = torch.linalg.inv(pri[l + 1])
        out[l] = (st.layers[l + 1]["N"] / st.layers[l]["N"]) * st.layers[l + 1]["sw2"] * (Ki - Ki @ covs[l + 1] @ Ki)
    return out, sol


def solve_deep_adaptive_sampled(spec, x_train, y_train, x_test=None, params=None, chains=4000, steps=40,
                                outer=40, average=20, beta=0.2, seed=0) -> Solution:
    """Sample each layer's single-neuron measure (module docstring); returns the Monte Carlo
    prediction with ``extras["tilt_traces"]`` (per outer iteration) and the closure's prediction
    in ``extras["closure_prediction"]`` for comparison."""
    import torch
    if not (1 <= average <= outer):
        raise ValueError(f"average must be between 1 and outer ({outer}), got {average}")
    dt = torch.float64
    st = DeepSetup(spec, x_train, y_train, x_test, params)
    tilts, closure = _closure_start(st, spec, x_train, y_train, x_test, params)
    q_ref = float(np.sum(closure.extras["Q_eigenvalues"]))
    phis = [lambdify([X], as_expr(lay["phi"], "activation"), "torch") for lay in st.layers]
    g = torch.Generator().manual_seed(seed)
    P, L = st.P, st.depth
    Xa = torch.as_tensor(st.X if st.Xt is None else np.vstack([st.X, st.Xt]), dtype=dt)
    T = Xa.shape[0]
    s0 = torch.as_tensor(1 / np.sqrt(st.lam0), dtype=dt)
    y = torch.as_tensor(st.y, dtype=dt)
    Ns = [lay["N"] for lay in st.layers]
    z = [torch.randn(chains, st.D if l == 0 else T, generator=g, dtype=dt) for l in range(L)]
    eps = [0.3] * L
    acc_G, n_acc, trace = torch.zeros(T, T, dtype=dt), 0, []

    def act(l, h):
        return torch.broadcast_to(phis[l](h), h.shape)

    for it in range(outer):
        G_prev, R, hh = None, None, []
        for l in range(L):
            if l > 0:
                K = st.layers[l]["sw2"] * G_prev + st.layers[l]["sb2"]
                R = torch.linalg.cholesky(K + 1e-10 * K.diagonal().mean() * torch.eye(T, dtype=dt))
            At = tilts[l]

            def pre(zz, l=l, R=R):
                return (zz * s0) @ Xa.T if l == 0 else zz @ R.T

            def energy_grad(zz, l=l, At=At, pre=pre):
                zz = zz.detach().requires_grad_(True)
                p = act(l, pre(zz))[:, :P]
                e = 0.5 * (zz * zz).sum(1) + 0.5 * ((p @ At) * p).sum(1)
                (gz,) = torch.autograd.grad(e.sum(), zz)
                return e.detach(), gz.detach()

            zz = z[l]
            e, gz = energy_grad(zz)
            GG, HH, n = torch.zeros(T, T, dtype=dt), torch.zeros(P, P, dtype=dt), 0
            for s in range(steps):
                noise = torch.randn(zz.shape, generator=g, dtype=dt)
                prop = zz - eps[l] * gz + np.sqrt(2 * eps[l]) * noise
                ep, gp = energy_grad(prop)
                fwd = ((prop - zz + eps[l] * gz) ** 2).sum(1) / (4 * eps[l])
                bwd = ((zz - prop + eps[l] * gp) ** 2).sum(1) / (4 * eps[l])
                ok = torch.log(torch.rand(chains, generator=g, dtype=dt)) < -(ep - e) - bwd + fwd
                zz = torch.where(ok[:, None], prop, zz)
                e = torch.where(ok, ep, e)
                gz = torch.where(ok[:, None], gp, gz)
                eps[l] *= 1.05 if ok.double().mean().item() > 0.6 else 0.95
                if s >= steps // 2:
                    h = pre(zz)
                    p = act(l, h)
                    GG += p.T @ p / chains
                    HH += h[:, :P].T @ h[:, :P] / chains
                    n += 1
            if not bool(torch.isfinite(zz).all()) or not bool(torch.isfinite(GG).all()):
                raise ConvergenceError(f"deep adaptive kernel (sampled): the chains of layer {l + 1} diverged at "
                                       f"outer iteration {it}; the tilted measure is not normalisable here -- "
                                       "try a smaller beta, larger widths or a larger noise")
            z[l] = zz
            G_prev = GG / n
            hh.append((HH / n, None if l == 0 else K[:P, :P]))
        Q = st.sa2 * G_prev[:P, :P]
        if float(torch.trace(Q)) > RUNAWAY * q_ref:
            raise ConvergenceError(
                f"deep adaptive kernel (sampled): tr Q grew to {float(torch.trace(Q)) / q_ref:.3g} x the Gaussian "
                f"closure's at outer iteration {it}: a tilted measure has become non-normalisable (possible for "
                "unbounded activations, e.g. linear layers, when Monte Carlo noise in the tilts is large) -- try "
                "more chains, a smaller beta, or the Gaussian closure (exact for linear layers)")
        Ai = torch.linalg.inv(Q + st.noise * torch.eye(P, dtype=dt))
        t = Ai @ y
        new = [None] * L
        new[-1] = -(st.sa2 / Ns[-1]) * (torch.outer(t, t) - Ai)
        for l in range(L - 2, -1, -1):
            H, K = hh[l + 1]
            Ki = torch.linalg.inv(K)
            new[l] = (Ns[l + 1] / Ns[l]) * st.layers[l + 1]["sw2"] * (Ki - Ki @ H @ Ki)
        tilts = [(1 - beta) * a + beta * b for a, b in zip(tilts, new)]
        trace.append([float(a.trace()) for a in tilts])
        if it >= outer - average:
            acc_G += G_prev
            n_acc += 1
    Qa = (st.sa2 * acc_G / n_acc).numpy()
    Q = Qa[:P, :P]
    A = Q + st.noise * np.eye(P)
    mean = var = None
    if st.Xt is not None:
        Qs = Qa[P:, :P]
        mean = Qs @ np.linalg.solve(A, st.y)
        var = np.diag(Qa[P:, P:]) - np.einsum("ij,ji->i", Qs, np.linalg.solve(A, Qs.T))
    last = np.array(trace[-average:])
    res = float(np.max(np.abs(last.std(0)) / (np.abs(last.mean(0)) + 1e-12))) if average > 1 else float("nan")
    with torch.no_grad():
        Q0 = st.forward(torch.as_tensor(st.initial(1.0)))["Q"].numpy()     # the NNGP on the training points
    ops = {"kernel_trace_ratio": float(np.trace(Q) / np.trace(Q0))}
    extras = {"P": P, "depth": L, "widths": Ns, "noise_var": st.noise, "strategy": "langevin",
              "closure": "none (sampled single-neuron measure per layer)", "chains": chains, "seed": seed,
              "tilt_traces": trace, "step_sizes": eps, "closure_prediction": closure.prediction,
              "Q_eigenvalues": np.linalg.eigvalsh(Q).tolist()}
    return Solution("adaptive_kernel", ops, float("nan"), mean, var, True, res, outer, (),
                    "Monte Carlo estimate: residual = relative spread of the tilt traces over the averaged "
                    "iterations; repeat with other seeds for the error of the prediction", extras)


__all__ = ["solve_deep_adaptive_sampled"]
