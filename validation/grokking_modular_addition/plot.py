"""Plot results.json of run.py against the resummed theory (solve_modular_addition_phases) on a fine sigma2 grid:
condensed fraction p, learned fraction fbar, top-mode share and power of condensed neurons, and the p traces of the
two chains (prior start, planted start).  Writes phases.png and theory_curve.json (about 1 minute on one core).

Error bars: the larger of the batch-means standard error and half the difference of the two chains (the number of
condensed neurons is frozen within a chain once equilibrated, so batch means alone understate the uncertainty)."""
import json
from pathlib import Path

import matplotlib
import matplotlib.ticker
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
res = json.loads((HERE / "results.json").read_text())
rows = res["rows"]
P, N = res["P"], res["N"]


def theory_curve():
    path = HERE / "theory_curve.json"
    if path.exists():
        return json.loads(path.read_text())
    from mftsym.solve.modular_addition_phases import solve_modular_addition_phases, sweep_two_hot
    from mftsym.spec import Spec
    spec = Spec.from_toml(ROOT / "derivations" / "grokking" / "modular_addition.toml").with_params(
        P=P, d=2 * P, N=N, sigma_w2=1.0, sigma_a2=1.0)
    grid = list(np.geomspace(3e-4, 4e-3, 16))
    out = []
    for s2 in grid:
        s = solve_modular_addition_phases(spec, {"sigma2": s2})
        out.append({"sigma2": s2, "p": s.order_parameters["p_condensed"], "fbar": s.order_parameters["fbar"],
                    "x_star": s.extras["x_star"], "phase": s.extras["phase"]})
    tr = [t for t in sweep_two_hot(spec, "sigma2", [1e-3, 2.2e-3, 3e-3])["transitions"]
          if t["kind"] in ("first_order", "spinodal")]
    data = {"curve": out, "transitions": [{"kind": t["kind"], "value": t["value"]} for t in tr]}
    path.write_text(json.dumps(data, indent=1, default=float))
    return data


def err(row, key):
    se = row[key + "_se"] or 0.0
    ch = [c[key][0] for c in row["chains"] if c[key] is not None]
    if row[key] is None:
        return 0.0
    half = 0.5 * (max(ch) - min(ch)) if len(ch) > 1 else 0.0
    return max(se, half)


th = theory_curve()
s2 = np.array([r["sigma2"] for r in rows])
tc = th["curve"]
ts = np.array([c["sigma2"] for c in tc])
fig, ax = plt.subplots(2, 2, figsize=(11, 8))
a = ax[0, 0]
a.errorbar(s2, [r["p"] for r in rows], [err(r, "p") for r in rows], fmt="o", color="k", capsize=3,
           label="Langevin (mean of 2 chains)")
for c, mk in ((0, "^"), (1, "v")):
    a.plot(s2, [r["chains"][c]["p"][0] for r in rows], mk, ms=5, mfc="none",
           label=f"chain from {rows[0]['chains'][c]['start']} start")
a.plot(ts, [c["p"] for c in tc], "-", color="C3", label="theory (resummed, single-mode)")
a.set_ylabel("condensed fraction p")
a = ax[0, 1]
a.errorbar(s2, [r["fbar"] for r in rows], [err(r, "fbar") for r in rows], fmt="o", color="k", capsize=3,
           label="Langevin")
for c, mk in ((0, "^"), (1, "v")):
    a.plot(s2, [r["chains"][c]["fbar"][0] for r in rows], mk, ms=5, mfc="none",
           label=f"chain from {rows[0]['chains'][c]['start']} start")
a.plot(ts, [c["fbar"] for c in tc], "-", color="C3", label="theory")
a.set_ylabel("learned fraction fbar of the target")
a = ax[1, 0]
xs = [r["x_condensed"] if r["x_condensed"] else np.nan for r in rows]
a.errorbar(s2, xs, [err(r, "x_condensed") if r["x_condensed"] else 0 for r in rows], fmt="o", color="k",
           capsize=3, label="Langevin: power x = |U_q|^2 of condensed neurons")
a.plot(ts, [c["x_star"] if c["x_star"] else np.nan for c in tc], "-", color="C3", label="theory: single-mode saddle x*")
a2 = a.twinx()
a2.plot(s2, [r["top_mode_share"] if r["top_mode_share"] else np.nan for r in rows], "s", color="C2",
        label="top-mode share (right axis)")
a2.set_ylim(0.9, 1.005)
a2.set_ylabel("share of a condensed neuron's power on its top mode", color="C2")
a.set_ylabel("x")
a.legend(fontsize=7, loc="upper left")
a2.legend(fontsize=7, loc="lower right")
for a in (ax[0, 0], ax[0, 1], ax[1, 0]):
    a.set_xscale("log")
    a.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    a.set_xlabel("sigma2")
    for t in th["transitions"]:
        a.axvline(t["value"], ls="-" if t["kind"] == "first_order" else "--", color="C3", lw=0.8)
ax[0, 0].legend(fontsize=7)
ax[0, 1].legend(fontsize=7)
a = ax[1, 1]
for i, r in enumerate(rows):
    for c, ls in ((0, "-"), (1, "--")):
        tr = r["chains"][c]["p_trace"]
        a.plot(res["burn_in"] + res.get("thin", 50) * np.arange(len(tr)), tr, ls, color=f"C{i}",
               label=f"sigma2 = {r['sigma2']:g}" if c == 0 else None)
a.set_xlabel("Langevin step (after burn-in); solid: prior start, dashed: planted start")
a.set_ylabel("condensed fraction p")
a.legend(fontsize=7)
fig.suptitle(f"modular addition, P = {P}, N = {N}, square activation, mean_field: Langevin vs theory "
             "(solid red line: first order, dashed: spinodal)", fontsize=9)
fig.tight_layout()
fig.savefig(HERE / "phases.png", dpi=110)
for r in rows:
    print(f"sigma2 = {r['sigma2']:.1e}: p = {r['p']:.4f} ± {err(r, 'p'):.4f} (theory {r['theory']['p']:.4f}), "
          f"fbar = {r['fbar']:.3f} ± {err(r, 'fbar'):.3f} (theory {r['theory']['fbar']:.3f}), "
          f"top-mode share = {r['top_mode_share']}, x = {r['x_condensed']} (theory x* = {r['theory']['x_star']})")
