"""The reduced action made self-consistent with the exact readout on the training set (both treatments).

The population theory closes the loop tau -> e^{-S(Phi, r; tau)} -> f_bar_k = (sigma_a^2 n/k!) <m_k sum_j tau_j m_j>
-> tau = (c - f_bar)/sigma^2 with the readout truncated to He1(z), He3(z).  Here (mftsym.solve.data_model_readout.
solve_on_training_set) the readout is the GP on the 400 training points: the neurons' distribution at tau gives the
kernel K = sigma_a^2 E[erf(w.x) erf(w.x')] on X, the discrepancy on the training points is t = (K + sigma^2 I)^{-1} y
(= (y - f_bar(X))/sigma^2), and its teacher modes tau_k = (1/(n k!)) sum_mu t_mu He_k(z_mu) (the moments through which t
enters the per-neuron coupling sum_mu t_mu erf(w.x_mu) ~ n sum_k tau_k m_k) close the loop.  At the fixed point: the
cubic fraction of the GP predictor on the 2000 test points (run.py's estimator), <|w|^2>, <|Phi|>, the droplet and
<m_k m_j>, from 60 000 fresh neurons.

    python validation/grokking_teacher_student/finite_n_selfconsistent.py            # about 5 minutes on one core
    python validation/grokking_teacher_student/finite_n_selfconsistent.py seed=1     # other Monte Carlo pools
    python validation/grokking_teacher_student/finite_n_selfconsistent.py k=4 0.05   # 1600 fresh points, noise 4 sigma2
writes finite_n_selfconsistent.json (merged; keys paper, relaxed, paper_k4, ... for k > 1, ..._seed1 for seed 1).
"""
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from run_setup import EPS, SIGMA2, cubic_fraction, data, spec  # noqa: E402

from mftsym.solve.data_model_readout import (gp_posterior_mean, mc_readout_kernel, sample_saddle_weights,  # noqa: E402
                                             solve_on_training_set)

M = 30000
xte, ws = data.x_test, data.teacher_direction


def training_set(k):
    """The study's training set (k = 1), or k * 400 fresh points with the same teacher (noise k sigma^2 then keeps
    the population limit: the n-dependence check)."""
    if k == 1:
        return data.x_train, data.y_train[:, 0]
    x = np.random.default_rng(100 + k).standard_normal((k * len(data.x_train), len(ws)))
    z = x @ ws
    return x, z + EPS * (z ** 3 - 3 * z)


def solve(s2, tr, k=1, seed=0):
    xtr, ytr = training_set(k)
    s_ = dataclasses.replace(spec, theory={"kind": "adaptive_kernel", "reduced_action": tr}).with_params(
        sigma2=k * s2, n=len(xtr))
    out = solve_on_training_set(s_, xtr, ytr, ws, n_pool=M, stages=2, seed=40 + seed)
    num, _, tau, sol = out["state"]
    W = sample_saddle_weights(s_, 2 * M, ws, seed=99 + 1000 * seed, state=out["state"])
    sa2, noise = num.vals["sa2"], num.vals["noise"]
    f = gp_posterior_mean(mc_readout_kernel(W, xtr, scale=sa2), mc_readout_kernel(W, xte, xtr, scale=sa2), ytr, noise)
    phi, rho = W @ ws, (W * W).sum(1)
    Mm = np.stack([m(phi, rho - phi ** 2) for m in num.m])
    split = sol.extras["split_Phi"] or 0.6
    a = np.abs(phi) > split
    return {"tau_population": out["tau_population"].tolist(), "tau": tau.tolist(), "residual": out["residual"],
            "ess": out["ess"], "cubic": float(cubic_fraction(f)), "mean_rho": float(rho.mean()),
            "mean_abs_Phi": float(np.abs(phi).mean()), "G": (Mm @ Mm.T / len(phi)).tolist(), "split": split,
            "droplet_fraction": float(a.mean()), "droplet_abs_Phi": float(np.abs(phi[a]).mean()) if a.any() else None}


if __name__ == "__main__":
    path = HERE / "finite_n_selfconsistent.json"
    res = json.loads(path.read_text()) if path.exists() else {}
    args = sys.argv[1:]
    k = int(args.pop(0)[2:]) if args and args[0].startswith("k=") else 1
    seed = int(args.pop(0)[5:]) if args and args[0].startswith("seed=") else 0
    for s2 in (map(float, args) if args else SIGMA2):
        for tr in ("paper", "relaxed"):
            key = (tr if k == 1 else f"{tr}_k{k}") + (f"_seed{seed}" if seed else "")
            if key in res.get(str(s2), {}):
                continue
            res.setdefault(str(s2), {})[key] = out = solve(s2, tr, k, seed)
            path.write_text(json.dumps(res, indent=1))
            print(s2, key, {k_: v for k_, v in out.items() if k_ != "G"}, "G33", round(out["G"][1][1], 5), flush=True)
