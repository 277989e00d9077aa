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

Two chains per sigma2 from opposite sides: chain 0 from the prior (every neuron Gaussian), chain 1 with 10 % of the
neurons planted on a random Fourier mode at the theory's x* (random phases).  The theory has one self-consistent
state at each sigma2 (no hysteresis), so the two chains agreeing is the equilibration check.  Error bars: batch
means within each chain (5 batches of the thinned post-burn-in samples), combined over the two chains.
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
SIGMA2 = [5e-4, 1e-3, 1.5e-3, 2e-3, 3e-3]
CHAINS, STEPS, BURN, THIN, ETA = 2, 6000, 2000, 50, 2e-3
PLANT, X_PLANT = 0.10, 100.0                     # chain 1: fraction planted on one mode, at power x = |U_q|²
QUICK = "--quick" in sys.argv
OUT = "results_quick.json" if QUICK else "results.json"
if "--width" in sys.argv:          # width check: python run.py --width N SIGMA2 STEPS (writes results_N{N}_s{SIGMA2}.json)
    i = sys.argv.index("--width")
    N, SIGMA2, STEPS = int(sys.argv[i + 1]), [float(sys.argv[i + 2])], int(sys.argv[i + 3])
    BURN = STEPS // 3
    OUT = f"results_N{N}_s{SIGMA2[0]:g}.json"
if QUICK:
    SIGMA2, CHAINS, STEPS, BURN = [1e-3], 2, 600, 100
SAVE_W = "--save-weights" in sys.argv     # also keep the last KEEP_W thinned first-layer weights of each chain
KEEP_W = 1
if SAVE_W:                                # (weights_N{N}_s{SIGMA2}.npz; cavity.py diagnoses them); json gets "_w"
    OUT = OUT.replace(".json", "_w.json")
WEIGHTS = {}

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
    W = torch.randn(N, 2 * P, generator=g, dtype=torch.float64) * math.sqrt(SW2 / (2 * P))
    if seed % 2:                                  # planted start: a fraction of neurons on one mode each
        rng = np.random.default_rng(seed)
        amp, idx = 2 * math.sqrt(X_PLANT) / P, rng.choice(N, int(PLANT * N), replace=False)
        ar = np.arange(P)
        for i in idx:
            q, al, be = rng.integers(1, (P + 1) // 2), *rng.uniform(0, 2 * np.pi, 2)
            W[i, :P] = torch.tensor(amp * np.cos(2 * np.pi * q * ar / P + al))
            W[i, P:] = torch.tensor(amp * np.cos(2 * np.pi * q * ar / P + be))
    W.requires_grad_()
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
            if SAVE_W:
                WEIGHTS.setdefault((s2, seed), []).append(Wn.astype(np.float32))
                WEIGHTS[(s2, seed)] = WEIGHTS[(s2, seed)][-KEEP_W:]
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


def batch_mean_se(series, batches=5):
    """Mean and standard error of a thinned chain by batch means."""
    series = np.asarray(series, dtype=float)
    m = np.array([b.mean() for b in np.array_split(series, batches)])
    return float(m.mean()), float(m.std(ddof=1) / math.sqrt(batches))


def combine(stats):
    """Mean over chains of (mean, se) pairs, se added in quadrature."""
    mu = np.mean([m for m, _ in stats])
    return float(mu), float(math.sqrt(sum(se ** 2 for _, se in stats)) / len(stats))


rows, t0 = [], time.time()
split = 40 * SW2 / 2                                 # x + y > 40/λ, λ = 2/σ_w²
for s2 in SIGMA2:
    per_chain = []
    for c in range(CHAINS):
        smp, f = chain(s2, 100 * c + 7 + c)                          # seeds 7 (prior start), 108 (planted start)
        tot = smp[:, 0] / 2 + smp[:, 1] / 2                         # x_q + y_q per neuron and mode, (S, N, M)
        cond = tot.max(-1) > split                                  # (S, N)
        share = [float(np.mean(tot[k].max(-1)[cond[k]] / tot[k].sum(-1)[cond[k]])) for k in range(len(cond))
                 if cond[k].any()]
        xc = [float(np.mean(tot[k].max(-1)[cond[k]] / 2)) for k in range(len(cond)) if cond[k].any()]
        per_chain.append({"start": "planted" if c % 2 else "prior", "p_trace": cond.mean(1).tolist(),
                          "p": batch_mean_se(cond.mean(1)), "fbar": batch_mean_se(f),
                          "top_mode_share": batch_mean_se(share) if len(share) >= 5 else None,
                          "x_condensed": batch_mean_se(xc) if len(xc) >= 5 else None})
    th = theory(s2)
    row = {"sigma2": s2, "theory": th, "seconds": time.time() - t0, "chains": per_chain}
    for key in ("p", "fbar", "top_mode_share", "x_condensed"):
        got = [ch[key] for ch in per_chain if ch[key] is not None]
        row[key], row[key + "_se"] = combine(got) if got else (None, None)
    row["p_chain_difference"] = per_chain[-1]["p"][0] - per_chain[0]["p"][0]        # planted − prior start
    rows.append(row)
    print(json.dumps({k: v for k, v in row.items() if k != "chains"}), flush=True)
if SAVE_W:
    for s2 in SIGMA2:
        np.savez_compressed(HERE / f"weights_N{N}_s{s2:g}.npz",
                            **{f"seed{sd}": np.stack(w) for (v, sd), w in WEIGHTS.items() if v == s2})
(HERE / OUT).write_text(json.dumps(
    {"P": P, "N": N, "chains": CHAINS, "steps": STEPS, "burn_in": BURN, "eta": ETA, "rows": rows}, indent=1))
