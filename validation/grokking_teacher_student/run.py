"""Langevin ensembles across the teacher-student transition of Rubin, Seroussi & Ringel (2024),
scaled down for one CPU core: d = 20, N = 93, n = 400, sigma_a2 = 8 * 20/150 (u = kappa/d and
alpha = sigma_a^2 n/d as on the paper's path at d = 150), erf, mean_field, sigma_w2 = 0.5, eps = -0.3.

Measured per sigma2: the teacher overlap Phi_i = w_i.w* of every first-layer neuron at the end of each
chain (pooled over members), the fraction of neurons beyond the theory's well split, and the cubic
coefficient of the posterior-mean predictor f3 = E_test[f He3(z)]/6 (jackknife over members).
Theory: the finite-d self-consistent reduced action at the same d, both treatments.
Writes results.json and phi_cubic.png.  Runtime about 4 minutes on one core.
"""
import dataclasses
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from mftsym.solve.data_model import solve_data_model
from mftsym.spec import Spec
from mftsym.validate import Langevin, run_ensemble, teacher_data

torch.set_num_threads(1)
HERE = Path(__file__).parent
ROOT = HERE.parents[1]
K = 20 / 150
D, N, NTRAIN = 20, 93, 400
spec = Spec.from_toml(ROOT / "derivations" / "grokking" / "teacher_student.toml").with_params(
    d=D, N=N, n=NTRAIN, sigma_a2=8.0 * K)
EPS = -0.3
SIGMA2 = [0.06, 0.12, 0.18, 0.26]
MEMBERS, STEPS, BURN = 4, 1500, 500
data = teacher_data(NTRAIN, 500, D, teacher="hermite", coeffs={1: 1.0, 3: EPS * math.sqrt(6)}, seed=0)
z = data.x_test @ data.teacher_direction
he3 = z ** 3 - 3 * z
theory = {}
for tr in ("paper", "relaxed"):
    s_ = dataclasses.replace(spec, theory={"kind": "adaptive_kernel", "reduced_action": tr})
    grid = np.linspace(0.04, 0.30, 27)
    rows = []
    for v in grid:
        sol = solve_data_model(s_, params={"sigma2": float(v)})
        o = sol.order_parameters
        rows.append({"sigma2": float(v), "aligned_fraction": o["aligned_fraction"], "cubic": o["fbar3"] / EPS,
                     "split_Phi": sol.extras["split_Phi"]})
    theory[tr] = rows
measured = []
t0 = time.time()
for s2 in SIGMA2:
    out = run_ensemble(spec.with_params(sigma2=s2), data, N, MEMBERS,
                       Langevin(step_size=0.01, steps=STEPS, burn_in=BURN, thin=50), seed=1)
    phi = np.asarray(out["overlap"])                       # (members, N)
    f = np.asarray(out["mean_f"])[..., 0]                  # (members, n_test)
    f3 = (f * he3).mean(1) / 6 / EPS                       # per-member cubic fraction
    measured.append({"sigma2": s2, "phi": phi.tolist(), "cubic_mean": float(f3.mean()),
                     "cubic_se": float(f3.std(ddof=1) / math.sqrt(len(f3))),
                     "rhat_max": float(np.max(out["rhat"])), "seconds": time.time() - t0})
    print(f"sigma2 = {s2}: cubic fraction {f3.mean():.3f} +- {measured[-1]['cubic_se']:.3f}, "
          f"|Phi| 50/90/99 % = {np.percentile(np.abs(phi), [50, 90, 99]).round(3)}, {time.time() - t0:.0f} s",
          flush=True)
(HERE / "results.json").write_text(json.dumps({"theory": theory, "measured": measured, "d": D, "N": N,
                                               "n": NTRAIN, "members": MEMBERS, "steps": STEPS}, indent=1))

import matplotlib  # noqa: E402
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
fig, axes = plt.subplots(1, 2, figsize=(10, 4))
for tr, c in (("paper", "C0"), ("relaxed", "C1")):
    g = [r["sigma2"] for r in theory[tr]]
    axes[0].plot(g, [r["cubic"] for r in theory[tr]], "-", color=c, label=f"theory, {tr}")
    axes[1].plot(g, [r["aligned_fraction"] for r in theory[tr]], "-", color=c, label=f"theory, {tr}")
axes[0].errorbar(SIGMA2, [m["cubic_mean"] for m in measured], [m["cubic_se"] for m in measured], fmt="ko",
                 label="Langevin ensemble")
split = 0.5 * np.sqrt(0.5)            # |Phi| beyond half the prior width sigma_w: the aligned population
for m in measured:
    ph = np.abs(np.asarray(m["phi"]))
    fr = (ph > split).mean(1)
    m["aligned_measured"] = float(fr.mean())
    m["aligned_se"] = float(fr.std(ddof=1) / math.sqrt(len(fr)))
axes[1].errorbar(SIGMA2, [m["aligned_measured"] for m in measured], [m["aligned_se"] for m in measured],
                 fmt="ko", label=f"Langevin: fraction |Phi| > {split:.2f}")
axes[0].set_ylabel("cubic fraction f3/eps of the predictor")
axes[1].set_ylabel("aligned fraction of neurons")
for ax in axes:
    ax.set_xlabel("sigma2")
    ax.legend(fontsize=8)
fig.suptitle(f"teacher-student, d = {D}, N = {N}, n = {NTRAIN}", fontsize=9)
fig.tight_layout()
fig.savefig(HERE / "phi_cubic.png", dpi=110)
(HERE / "results.json").write_text(json.dumps({"theory": theory, "measured": measured, "d": D, "N": N,
                                               "n": NTRAIN, "members": MEMBERS, "steps": STEPS}, indent=1))
