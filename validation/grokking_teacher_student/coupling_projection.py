"""Post-hoc diagnostic (README, "Finite width at sigma2 = 0.05"): the N -> infinity limit of the network at fixed training
set is the saddle with the exact per-neuron coupling (sigma~_a^2/(2N)) (t . erf(X w))^2, t = (K + sigma^2 I)^{-1} y on the
400 training points; the closed-loop reduced theory replaces t . erf(X w) by its teacher-mode projection
n (tau_1 m_1 + tau_3 m_3)(Phi, r).  Here the closed-loop relaxed state's neurons (a pool of M) are reweighted by
exp(c_exact - c_proj) and the loop in t is iterated (damped) to its fixed point with the exact coupling, so the two
saddles can be compared on the same observables (cubic fraction by run.py's estimator, <m3^2>, <|w|^2>, droplet).

    python validation/grokking_teacher_student/coupling_projection.py 0.05         # about 1-2 minutes on one core
writes coupling_projection.json (merged).
"""
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
from scipy.special import erf

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from run_setup import cubic_fraction, data, spec  # noqa: E402

from mftsym.solve.data_model_readout import (gp_posterior_mean, mc_readout_kernel, sample_saddle_weights,  # noqa: E402
                                             solve_on_training_set, training_set_modes)

M = 30000


def run(s2, iters=60, damp=0.3, seed=0):
    s_ = dataclasses.replace(spec, theory={"kind": "adaptive_kernel", "reduced_action": "relaxed"}).with_params(sigma2=s2)
    xtr, ytr, ws = data.x_train, data.y_train[:, 0], data.teacher_direction
    out = solve_on_training_set(s_, xtr, ytr, ws, n_pool=M, stages=2, seed=40 + seed)
    num, _, tau, sol = out["state"]
    sa2, noise, N = (float(num.vals[k]) for k in ("sa2", "noise", "N"))
    n = len(xtr)
    W = sample_saddle_weights(s_, M, ws, seed=99 + 1000 * seed, state=out["state"])   # drawn from p_tau
    phi = W @ ws
    r = (W * W).sum(1) - phi ** 2
    F = erf(xtr @ W.T)                                        # (n, M)
    Mm = np.stack([m(phi, r) for m in num.m])                 # (2, M)
    c_proj = sa2 / (2 * N) * (n * (tau @ Mm)) ** 2
    split = sol.extras["split_Phi"] or 0.6
    Kte = None

    def state(lw):
        w = np.exp(lw - lw.max())
        w /= w.sum()
        K = sa2 * (F * w) @ F.T
        t = np.linalg.solve(K + noise * np.eye(n), ytr)
        return w, K, t

    def summary(w, K, t, with_predictor=True):
        d = {"ess": float(1 / (w ** 2).sum()), "mean_rho": float(w @ (W * W).sum(1)), "m3sq": float(w @ Mm[1] ** 2),
             "m1sq": float(w @ Mm[0] ** 2), "mean_abs_Phi": float(w @ np.abs(phi)),
             "droplet": float(w[np.abs(phi) > split].sum()),
             "droplet_abs_Phi": float((w * np.abs(phi))[np.abs(phi) > split].sum() / w[np.abs(phi) > split].sum()),
             "tau_from_t": training_set_modes(t, xtr, ws, num.theory.modes).tolist()}
        if with_predictor:
            f = gp_posterior_mean(K, sa2 * (erf(data.x_test @ W.T) * w) @ F.T, ytr, noise)
            d["cubic"] = float(cubic_fraction(f))
        return d

    lw0 = np.zeros(M)
    w, K, t0 = state(lw0)
    res = {"split": split, "tau": tau.tolist(), "closed_loop": summary(w, K, t0)}
    c_exact = sa2 / (2 * N) * (t0 @ F) ** 2
    a = np.abs(phi) > split
    res["coupling"] = {"corr": float(np.corrcoef(c_exact, c_proj)[0, 1]),
                       "mean_exact_minus_proj_droplet": float((c_exact - c_proj)[a].mean()),
                       "mean_exact_minus_proj_bulk": float((c_exact - c_proj)[~a].mean()),
                       "sd_exact_minus_proj_droplet": float((c_exact - c_proj)[a].std()),
                       "sd_exact_minus_proj_bulk": float((c_exact - c_proj)[~a].std())}
    w, K, _ = state(c_exact - c_proj)
    res["one_step"] = summary(w, K, t0)
    t = t0
    hist = []
    for it in range(iters):          # fixed point of t -> weights(exp(c_exact(t) - c_proj)) -> (K + s2)^{-1} y
        w, K, t_new = state(sa2 / (2 * N) * (t @ F) ** 2 - c_proj)
        delta = float(np.abs(t_new - t).max() / np.abs(t).max())
        hist.append(delta)
        t = (1 - damp) * t + damp * t_new
        if delta < 1e-6:
            break
    w, K, t = state(sa2 / (2 * N) * (t @ F) ** 2 - c_proj)
    res["exact_coupling_fixed_point"] = {**summary(w, K, t), "iterations": len(hist), "last_rel_change": hist[-1]}
    return res


if __name__ == "__main__":
    path = HERE / "coupling_projection.json"
    for s2 in map(float, sys.argv[1:]):
        out = run(s2)
        res = json.loads(path.read_text()) if path.exists() else {}
        res[str(s2)] = out
        path.write_text(json.dumps(res, indent=1))
        print(json.dumps(out, indent=1), flush=True)
