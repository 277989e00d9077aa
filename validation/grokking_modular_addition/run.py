"""Langevin ensembles of the modular-addition network (square activation, mean_field, P outputs) across sigma2,
scaled down for one CPU core: P = 11 (all 121 two-hot pairs), N = 1000, sigma_w2 = sigma_a2 = 1.

The readout is linear and Gaussian given the first layer, so it is integrated exactly: Langevin runs on W only,
with log p(W | y) = log prior(W) − ½ Σ_c y_cᵀ(Q_W + σ²I)⁻¹y_c − (P/2) ln det(Q_W + σ²I),
Q_W = (σ_a²/N²) Φ Φᵀ, Φ_{μi} = (w_i·x_μ)² (the finite network's exact marginal, no approximation).

Measured per sigma2 (pooled over chains and thinned samples after burn-in): the Fourier power x_q = |U_q|²,
y_q = |V_q|² of every first-layer neuron; the condensed fraction p (neurons with max_q (x_q + y_q) > 40/λ, the
theory's split); the share of a condensed neuron's power on its top mode; the learned fraction of the target
fbar = Σ_c y_c·f̄_c / Σ_c |y_c|² of the posterior-mean predictor.  Theory: solve_modular_addition_phases at the
same P, N.  Writes results.json and phases.png.  Runtime about 4 minutes on one core (``--quick``: a 20-second smoke run).
"""
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

torch.set_num_threads(1)
HERE = Path(__file__).parent
ROOT = HERE.parents[1]
P, N, SW2, SA2 = 11, 1000, 1.0, 1.0
SIGMA2 = [1e-2, 1e-3, 1e-4]
CHAINS, STEPS, BURN, THIN, ETA = 2, 8000, 4000, 100, 2e-3
QUICK = "--quick" in sys.argv
if QUICK:
    SIGMA2, CHAINS, STEPS, BURN = [1e-3], 2, 400, 200

a, b = np.meshgrid(np.arange(P), np.arange(P), indexing="ij")
X = np.zeros((P * P, 2 * P))
X[np.arange(P * P), a.ravel()] = 1.0
X[np.arange(P * P), P + b.ravel()] = 1.0
Y = np.stack([((a + b) % P == c).ravel() - 1 / P for c in range(P)], 1)       # (P², P)
Xt, Yt = torch.tensor(X, dtype=torch.float64), torch.tensor(Y, dtype=torch.float64)


def log_post(W, s2):
    phi = (Xt @ W.T) ** 2                                           # (P², N)
    K = SA2 / N ** 2 * phi @ phi.T + s2 * torch.eye(P * P, dtype=torch.float64)
    L = torch.linalg.cholesky(K)
    alpha = torch.cholesky_solve(Yt, L)
    return -P / SW2 * (W * W).sum() - 0.5 * (Yt * alpha).sum() - P * torch.log(torch.diagonal(L)).sum(), K, alpha


def chain(s2, seed):
    g = torch.Generator().manual_seed(seed)
    W = (torch.randn(N, 2 * P, generator=g, dtype=torch.float64) * math.sqrt(SW2 / (2 * P))).requires_grad_()
    samples, fbar = [], []
    for t in range(STEPS):
        lp, K, alpha = log_post(W, s2)
        (grad,) = torch.autograd.grad(lp, W)
        with torch.no_grad():
            W += ETA * grad + math.sqrt(2 * ETA) * torch.randn(W.shape, generator=g, dtype=torch.float64)
        if t >= BURN and (t - BURN) % THIN == 0:
            Wn = W.detach().numpy()
            U, V = np.fft.fft(Wn[:, :P], axis=1), np.fft.fft(Wn[:, P:], axis=1)
            samples.append(np.stack([np.abs(U[:, 1:(P + 1) // 2]) ** 2 * 2, np.abs(V[:, 1:(P + 1) // 2]) ** 2 * 2]))
            f = (K.detach() - s2 * torch.eye(P * P, dtype=torch.float64)) @ alpha.detach()
            fbar.append(float((Yt * f).sum() / (Yt * Yt).sum()))
    return np.array(samples), np.array(fbar)        # samples: (S, 2, N, M) power per ± pair (x_q counts ±q)


def theory(s2):
    from mftsym.solve.modular_addition_phases import solve_modular_addition_phases
    from mftsym.spec import Spec
    spec = Spec.from_toml(ROOT / "derivations" / "grokking" / "modular_addition.toml").with_params(
        P=P, d=2 * P, N=N, sigma_w2=SW2, sigma_a2=SA2)
    s = solve_modular_addition_phases(spec, {"sigma2": s2})
    return {"phase": s.extras["phase"], "p": s.order_parameters["p_condensed"], "fbar": s.order_parameters["fbar"],
            "x_star": s.extras["x_star"]}


rows, t0 = [], time.time()
split = 40 * SW2 / 2                                 # x + y > 40/λ, λ = 2/σ_w²
for s2 in SIGMA2:
    ps, fb, top, xs, drift = [], [], [], [], []
    for c in range(CHAINS):
        smp, f = chain(s2, 100 * c + 7)
        tot = smp[:, 0] / 2 + smp[:, 1] / 2                         # x_q + y_q per neuron and mode, (S, N, M)
        cond = tot.max(-1) > split
        ps.append(cond.mean())
        half = len(cond) // 2
        drift.append(float(cond[half:].mean() - cond[:half].mean()))          # equilibration check
        fb.append(f.mean())
        if cond.any():
            top.append(float(np.mean(tot.max(-1)[cond] / tot.sum(-1)[cond])))
            xs.append(float(np.mean(tot.max(-1)[cond] / 2)))
    th = theory(s2)
    row = {"sigma2": s2, "p": float(np.mean(ps)), "p_se": float(np.std(ps, ddof=1) / math.sqrt(CHAINS)),
           "fbar": float(np.mean(fb)), "fbar_se": float(np.std(fb, ddof=1) / math.sqrt(CHAINS)),
           "p_drift_second_minus_first_half": float(np.mean(drift)),
           "top_mode_share": float(np.mean(top)) if top else None, "x_condensed": float(np.mean(xs)) if xs else None,
           "theory": th, "seconds": time.time() - t0}
    rows.append(row)
    print(json.dumps(row), flush=True)
(HERE / ("results_quick.json" if QUICK else "results.json")).write_text(json.dumps(
    {"P": P, "N": N, "chains": CHAINS, "steps": STEPS, "burn_in": BURN, "eta": ETA, "rows": rows}, indent=1))
