"""Study 4 summary: GP and kernel-renormalization discrepancies side by side (table + plot)."""

import io
from pathlib import Path

import numpy as np

from mftsym.io import atomic_write_bytes, atomic_write_text


def summarise(folder, reps, data):
    folder = Path(folder)
    P = data.n_train
    lines = ["# Study 4: kernel renormalization vs GP at α = P/N of order one", "",
             f"One hidden layer, NTK parametrization, σ_w² = σ_a² = 1, σ² = 0.5; P = {P} training points in "
             f"d = {data.input_dim} (linear teacher, targets ×2), {len(data.x_test)} test points. Langevin posteriors "
             "(per-kind reports in `linear/` and `erf/`); the posterior mean is Rao–Blackwellised (readout "
             "integrated out exactly at every sample). Kernel renormalization from `mftsym.solve` "
             "(`theory=\"kr\"`, registered in `mftsym.validate.theory`).", "",
             "rms = noise-debiased rms |theory − experiment| over the test points; z = (experiment − theory)/SE.", "",
             "| activation | N | α = P/N | Q̄ (KR) | rms GP | rms KR | max \\|z\\| GP | max \\|z\\| KR | mean SE | var: rms GP | var: rms KR |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    rows = []
    for kind, rep in reps.items():
        for s in rep["widths"]:
            m, v = s["observables"]["mean_rb"]["discrepancy"], s["observables"]["var_rb"]["discrepancy"]
            q = s.get("theory_order_parameters", {}).get("kr", {}).get("Q", float("nan"))
            rows.append((kind, s["width"], P / s["width"], q, m["gp"], m["kr"], v["gp"], v["kr"]))
            lines.append(f"| {kind} | {s['width']} | {P / s['width']:.2f} | {q:.3f} | {m['gp']['rms_discrepancy']:.4f} | "
                         f"{m['kr']['rms_discrepancy']:.4f} | {m['gp']['max_abs_z']:.1f} | {m['kr']['max_abs_z']:.1f} | "
                         f"{m['gp']['mean_abs_se']:.4f} | {v['gp']['rms_discrepancy']:.4f} | {v['kr']['rms_discrepancy']:.4f} |")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axs = plt.subplots(1, 2, figsize=(9, 3.8), sharey=False)
    for ax, kind in zip(axs, reps):
        r = [x for x in rows if x[0] == kind]
        a = np.array([x[2] for x in r])
        for idx, name, mk in ((4, "GP", "o-"), (5, "kernel renormalization", "s-")):
            d = np.array([x[idx]["rms_discrepancy"] for x in r])
            sl = np.array([x[idx]["sigma_log_discrepancy"] for x in r])
            ax.errorbar(a, d, yerr=[d * (1 - np.exp(-sl)), d * (np.exp(sl) - 1)], fmt=mk, label=name)
        ax.plot(a, [x[4]["mean_abs_se"] for x in r], "k:", lw=1, label="mean SE (MC noise)")
        ax.set_xscale("log"), ax.set_yscale("log")
        ax.set_xlabel("α = P/N"), ax.set_title(f"{kind}: posterior mean")
        ax.set_ylabel("rms |theory − Langevin|")
        ax.legend(fontsize=7)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    atomic_write_bytes(folder / "comparison.png", buf.getvalue())
    lines += ["", "![comparison.png](comparison.png)", ""]
    atomic_write_text(folder / "summary.md", "\n".join(lines) + "\n")
