"""Summary of the NNFT posterior study: GP vs O(1/N)-corrected discrepancies side by side.

    python validation/nnft_posterior/summary.py      # re-renders summary.md + nnft_vs_gp.png from report.json
"""

import io
import json
from pathlib import Path

import numpy as np

from mftsym.io import atomic_write_bytes, atomic_write_text

OBS = (("mean_rb", "posterior mean"), ("var_rb", "posterior variance"))


def _fit(widths, d, sl):
    """Weighted least squares of log d on log N with per-point sigma sl: (slope, se)."""
    x, y, w = np.log(widths), np.log(d), 1 / np.asarray(sl) ** 2
    A = np.stack([x, np.ones_like(x)], 1)
    cov = np.linalg.inv(A.T @ (A * w[:, None]))
    beta = cov @ A.T @ (w * y)
    r = y - A @ beta
    chi2 = float(w @ r**2) / max(len(x) - 2, 1)
    return float(beta[0]), float(np.sqrt(cov[0, 0] * max(chi2, 1.0))), chi2


def summarise(folder, rep=None):
    folder = Path(folder)
    rep = rep or json.loads((folder / "report.json").read_text())
    lines = ["# NNFT posterior study: the O(1/N) correction vs finite-width Langevin ensembles", "",
             "One hidden layer, erf, NTK parametrization, σ_w² = σ_a² = 1, σ² = 0.25; P = 6 training points in d = 4 "
             "(Hermite teacher, targets ×1.5), 6 test points. Langevin posteriors at each width N "
             f"(ε = {rep['trainer']['step_size']}, {rep['trainer']['steps']} steps, burn-in {rep['trainer']['burn_in']}, "
             f"{rep['widths'][0]['members']} independent chains; Rao–Blackwellised readout). Theories at the same N: "
             "`gp` = NNGP posterior; `nnft` = `mftsym.nnft.predict` (GP + O(1/N) Edgeworth correction from G4,c, "
             "mean and variance). Full per-width report: [report.md](report.md).", "",
             "rms = noise-debiased rms |theory − Langevin| over the 6 test points (0 when below the Monte Carlo noise); "
             "SE = mean standard error of the Langevin estimate; z = (Langevin − theory)/SE; "
             "'shift' = rms of the theory's O(1/N) correction (nnft − gp); "
             "'removed' = 1 − Σ(Langevin − nnft)² / Σ(Langevin − gp)² (raw, not debiased).", ""]
    rows = {}
    for key, label in OBS:
        lines += [f"## {label}", "",
                  "| N | rms GP | rms NNFT | SE | max \\|z\\| GP | max \\|z\\| NNFT | χ²/pt GP | χ²/pt NNFT | shift | removed |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        rows[key] = []
        for s in rep["widths"]:
            o = s["observables"][key]
            e, se = np.array(o["experiment"])[:, 0], np.array(o["se"])[:, 0]
            g, n = np.array(o["theory"]["gp"])[:, 0], np.array(o["theory"]["nnft"])[:, 0]
            dg, dn = o["discrepancy"]["gp"], o["discrepancy"]["nnft"]
            removed = 1 - np.sum((e - n) ** 2) / np.sum((e - g) ** 2)
            shift = float(np.sqrt(np.mean((n - g) ** 2)))
            rows[key].append((s["width"], dg, dn, float(se.mean()), shift, e, g, n, se))
            lines.append(f"| {s['width']} | {dg['rms_discrepancy']:.4f} | {dn['rms_discrepancy']:.4f} | {se.mean():.4f} | "
                         f"{dg['max_abs_z']:.1f} | {dn['max_abs_z']:.1f} | {dg['chi2_per_point']:.1f} | "
                         f"{dn['chi2_per_point']:.1f} | {shift:.4f} | {removed:.2f} |")
        lines += ["", "Log–log slope of the rms discrepancy against N (weighted by σ(log rms); error inflated by √(χ²/dof) "
                  "when above 1; only widths where the discrepancy is resolved above noise):", "",
                  "| theory | slope | ± | widths used | χ²/dof |", "|---|---|---|---|---|"]
        for name, idx in (("gp", 1), ("nnft", 2)):
            use = [r for r in rows[key] if r[idx]["resolved"] and r[idx]["rms_discrepancy"] > 0]
            if len(use) >= 2:
                sl, err, c2 = _fit([r[0] for r in use], [r[idx]["rms_discrepancy"] for r in use],
                                   [r[idx]["sigma_log_discrepancy"] for r in use])
                lines.append(f"| {name} | {sl:.2f} | {err:.2f} | {', '.join(str(r[0]) for r in use)} | {c2:.2f} |")
            else:
                lines.append(f"| {name} | — | — | {', '.join(str(r[0]) for r in use) or 'none'} | unresolved at ≥ 2 widths |")
        lines.append("")
    chk = folder / "stepsize_check" / "report.json"
    if chk.exists():
        b = json.loads(chk.read_text())
        wb = b["widths"][0]
        wa = [w for w in rep["widths"] if w["width"] == wb["width"]][0]
        lines += [f"## Langevin step-size check (N = {wb['width']}: ε = {rep['trainer']['step_size']} vs "
                  f"ε/2 = {b['trainer']['step_size']} with twice the steps, independent seed)", "",
                  "| observable | max \|Δ\|/SE (ε vs ε/2) | rms Δ | rms GP (ε/2) | rms NNFT (ε/2) |", "|---|---|---|---|---|"]
        for key, label in OBS:
            oa, ob = wa["observables"][key], wb["observables"][key]
            ea, sa = np.array(oa["experiment"])[:, 0], np.array(oa["se"])[:, 0]
            eb, sb = np.array(ob["experiment"])[:, 0], np.array(ob["se"])[:, 0]
            z = (ea - eb) / np.sqrt(sa**2 + sb**2)
            lines.append(f"| {label} | {np.abs(z).max():.2f} | {np.sqrt(np.mean((ea - eb) ** 2)):.4f} | "
                         f"{ob['discrepancy']['gp']['rms_discrepancy']:.4f} | {ob['discrepancy']['nnft']['rms_discrepancy']:.4f} |")
        lines.append("")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axs = plt.subplots(1, 3, figsize=(13, 3.8))
    for ax, (key, label) in zip(axs[:2], OBS):
        r = rows[key]
        N = np.array([x[0] for x in r], float)
        for idx, name, mk in ((1, "GP", "o-"), (2, "NNFT O(1/N)", "s-")):
            d = np.array([x[idx]["rms_discrepancy"] for x in r])
            sl = np.array([x[idx]["sigma_log_discrepancy"] for x in r])
            ok = d > 0
            ax.errorbar(N[ok], d[ok], yerr=[d[ok] * (1 - np.exp(-sl[ok])), d[ok] * (np.exp(sl[ok]) - 1)], fmt=mk, label=name)
        ax.plot(N, [x[3] for x in r], "k:", lw=1, label="mean SE (MC noise)")
        d0 = r[0][1]["rms_discrepancy"]
        ax.plot(N, d0 * N[0] / N, "C0--", lw=0.8, label="∝ 1/N")
        ax.plot(N, d0 * (N[0] / N) ** 2, "C1--", lw=0.8, label="∝ 1/N²")
        ax.set_xscale("log", base=2), ax.set_yscale("log")
        ax.set_xlabel("width N"), ax.set_ylabel("rms |theory − Langevin|"), ax.set_title(label)
        ax.legend(fontsize=7)
    ax = axs[2]
    for j, (key, label) in enumerate(OBS):
        for i, x in enumerate(rows[key]):
            ax.errorbar(x[7] - x[6], x[5] - x[6], yerr=x[8], fmt="os"[j], ms=3, color=f"C{i}",
                        label=f"N={x[0]}" if j == 0 else None)
    lim = max(abs(np.array(ax.get_xlim())).max(), abs(np.array(ax.get_ylim())).max())
    ax.plot([-lim, lim], [-lim, lim], "k-", lw=0.6)
    ax.axhline(0, color="gray", lw=0.4), ax.axvline(0, color="gray", lw=0.4)
    ax.set_xlabel("NNFT correction (nnft − gp)"), ax.set_ylabel("Langevin − gp")
    ax.set_title("signed shift (o mean, s variance)"), ax.legend(fontsize=7)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=70, bbox_inches="tight")
    atomic_write_bytes(folder / "nnft_vs_gp.png", buf.getvalue())
    lines += ["![nnft_vs_gp.png](nnft_vs_gp.png)", ""]
    atomic_write_text(folder / "summary.md", "\n".join(lines) + "\n")
    return rows


if __name__ == "__main__":
    summarise(Path(__file__).parent)
