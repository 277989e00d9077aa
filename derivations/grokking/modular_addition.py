"""Modular addition over Z_P (modular_addition.toml): derive the per-mode actions -- the truncated one
(first order in the readout, modular_addition.tex) and the resummed one with the readout integrated exactly
(modular_addition_phases.tex) -- sweep sigma2 and plot the phase diagram (modular_addition.png): the condensed
fraction p of neurons, the learned fraction fbar of the target, the transitions (modular_addition.json).
The same sweep from the CLI:

    mftsym sweep modular_addition.toml --param sigma2 --values log:1e-5:1e-1:13 --out modular_addition_sweep.json
"""
import json
import time
from pathlib import Path

import matplotlib
import numpy as np

from mftsym.export.latex import write_latex
from mftsym.solve import derive_theory
from mftsym.solve.modular_addition_phases import (gaussian_kernel_state, mode_model, phase_action_theory,
                                                  sweep_two_hot)
from mftsym.spec import Spec

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = Path(__file__).parent
spec = Spec.from_toml(HERE / "modular_addition.toml")
write_latex(HERE / "modular_addition.tex", derive_theory(spec), title="modular addition (truncated action)")
write_latex(HERE / "modular_addition_phases.tex", [phase_action_theory(spec)[1]],
            title="modular addition (readout integrated exactly)")


def first_order(P, grid):
    """σ² where ln M + ln Z_c − ln Z_g = 0 at the Gaussian-phase kernel, at quadrature grid ``grid``."""
    from scipy.optimize import brentq
    s = spec.with_params(P=P, d=2 * P)
    return brentq(lambda v: gaussian_kernel_state(mode_model(s, {"sigma2": v}, grid))["drive"], 1e-3, 3e-3,
                  rtol=1e-7)


values = np.geomspace(1e-5, 1e-1, 13)
fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
table = {}
for P in (11, 17):
    t0 = time.time()
    out = sweep_two_hot(spec.with_params(P=P, d=2 * P), "sigma2", values)
    refine = {g: first_order(P, g) for g in (100, 200)}
    table[P] = {"phases": out["phases"], "values": out["values"], "transitions": out["transitions"],
                "first_order_vs_grid": refine,
                "p_condensed": [s["order_parameters"]["p_condensed"] for s in out["solutions"]],
                "fbar": [s["order_parameters"]["fbar"] for s in out["solutions"]],
                "x_star": [s["extras"]["x_star"] for s in out["solutions"]], "seconds": time.time() - t0}
    c = axes[0].semilogx(values, table[P]["p_condensed"], "o-", ms=3, label=f"P = {P}")[0].get_color()
    axes[1].semilogx(values, table[P]["fbar"], "o-", ms=3, color=c, label=f"P = {P}")
    for t in out["transitions"]:
        ls = {"first_order": "-", "spinodal": "--", "closure_spinodal": ":"}.get(t["kind"])
        if ls:
            for ax in axes:
                ax.axvline(t["value"], ls=ls, color=c, lw=0.8)
    print(f"P = {P}: " + "; ".join(f"{t['kind']} {t['value']:.5g}" for t in out["transitions"]
                                   if t["kind"] != "phase_boundary") + f"; first order vs grid {refine}")
axes[0].set_ylabel("condensed fraction p (neurons on one Fourier mode)")
axes[1].set_ylabel("learned fraction fbar of the target (= 1 - sigma2 tau)")
for ax in axes:
    ax.set_xlabel("sigma2")
    ax.legend(fontsize=8)
fig.suptitle("modular addition, square activation, N = 1000, sigma_w2 = sigma_a2 = 1: gaussian (right) | mixed "
             "(left); solid: first order, dashed: spinodal, dotted: truncated-closure spinodal", fontsize=8)
fig.tight_layout()
fig.savefig(HERE / "modular_addition.png", dpi=120)
(HERE / "modular_addition.json").write_text(json.dumps(table, indent=1, default=float))
