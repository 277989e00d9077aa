"""The paper's Fig. 3 setting of modular addition (P = 401, N = 1000, readout-kernel variance 0.002/N, input-weight
covariance 1, sextic weight decay gamma = 1e-4): (i) the paper's own reduction (mftsym/solve/modular_addition_paper.py)
with the printed and with the derived target eigenvalue; (ii) the toolkit's resummed theory (readout integrated
exactly, no sextic term) at the same network parameters (sigma_a2 = 0.002, sigma_w2 = 2P in mean_field).
Writes modular_addition_paper.json and modular_addition_paper.png (about 4 minutes on one core)."""
import json
from pathlib import Path

import matplotlib
import numpy as np
from scipy.optimize import brentq

from mftsym.solve.modular_addition_paper import PaperModularModel
from mftsym.solve.modular_addition_phases import gaussian_kernel_state, mode_model, solve_modular_addition_phases
from mftsym.spec import Spec

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = Path(__file__).parent
P, N = 401, 1000
out = {"paper_reduction": {}, "resummed": {}}
fig, ax = plt.subplots(1, 2, figsize=(11, 4.2))
grid = np.linspace(0.15, 0.26, 45)
for ev, c in (("printed", "C0"), ("derived", "C1")):
    m = PaperModularModel(P, N, 0.002 / N, 1e-4, eigenvalue=ev)
    sw = m.sweep(np.linspace(0.15, 0.26, 12))
    st = [m.solve(v) for v in grid]
    out["paper_reduction"][ev] = {"boundaries": sw["boundaries"],
                                  "states": [{k: s[k] for k in ("noise", "a", "p_k", "S", "phase")} for s in st]}
    ax[0].plot(grid, [s["a"] for s in st], color=c, label=f"a, {ev} eigenvalue")
    ax[0].plot(grid, [s["p_k"] for s in st], "--", color=c, label=f"p_k, {ev} eigenvalue")
    print(ev, [(round(b["value"], 5), b["from"], b["to"]) for b in sw["boundaries"]])
ax[0].set_xlabel("sigma2")
ax[0].set_title("paper's reduction (Eq. 16 + sextic weight decay), P = 401", fontsize=9)
ax[0].legend(fontsize=7)

spec = Spec.from_toml(HERE / "modular_addition.toml").with_params(P=P, d=2 * P, N=N, sigma_w2=2.0 * P, sigma_a2=0.002)


def g0(v):
    return gaussian_kernel_state(mode_model(spec, {"sigma2": v}))


first = brentq(lambda v: g0(v)["drive"], 0.01, 0.03, rtol=1e-8)
a, b = 0.01, 0.03
for _ in range(30):
    mid = 0.5 * (a + b)
    a, b = (mid, b) if g0(mid)["condensed"] is not None else (a, mid)
spin = 0.5 * (a + b)
states = []
for v in (0.006, 0.008, 0.01, 0.012, 0.014, 0.016, 0.018, 0.02, 0.022, 0.025, 0.03):
    s = solve_modular_addition_phases(spec, {"sigma2": v})
    states.append({"sigma2": v, "phase": s.extras["phase"], "p": s.order_parameters["p_condensed"],
                   "fbar": s.order_parameters["fbar"], "x_star": s.extras["x_star"]})
    print(f"resummed sigma2 = {v}: {states[-1]}")
out["resummed"] = {"first_order": first, "spinodal": spin, "states": states}
ax[1].plot([s["sigma2"] for s in states], [s["p"] for s in states], "o-", label="condensed fraction p")
ax[1].plot([s["sigma2"] for s in states], [s["fbar"] for s in states], "s-", label="learned fraction fbar")
ax[1].axvline(first, color="k", lw=0.8, label="first order")
ax[1].axvline(spin, color="k", ls="--", lw=0.8, label="spinodal")
ax[1].set_xlabel("sigma2")
ax[1].set_title("toolkit's resummed theory at the same network parameters", fontsize=9)
ax[1].legend(fontsize=7)
fig.tight_layout()
fig.savefig(HERE / "modular_addition_paper.png", dpi=120)
(HERE / "modular_addition_paper.json").write_text(json.dumps(out, indent=1, default=float))
print(f"resummed: first order {first:.5g}, spinodal {spin:.5g}")
