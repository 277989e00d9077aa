"""Rubin, Seroussi & Ringel (2024) teacher-student path (teacher_student.toml): derive both reduced
actions (teacher_student_{paper,relaxed}.tex), sweep sigma2 = 0.05..0.40 at d = 150 (the same as
``mftsym sweep teacher_student.toml --param sigma2 --values 0.05:0.40:36``) and tabulate the transitions
over d at fixed u = kappa/d and alpha = sigma_a^2 n/d (d, N, n, sigma_a2 all scaled by k).
Writes teacher_student.json, teacher_student_{paper,relaxed}.png and prints the tables."""
import dataclasses
import json
from pathlib import Path

import numpy as np

from mftsym.export.latex import write_latex
from mftsym.solve import derive_theory, sweep_data_model
from mftsym.spec import Spec

HERE = Path(__file__).parent
base = Spec.from_toml(HERE / "teacher_student.toml")
results = {}
for tr in ("paper", "relaxed"):
    spec = dataclasses.replace(base, theory={"kind": "adaptive_kernel", "reduced_action": tr})
    write_latex(HERE / f"teacher_student_{tr}.tex", derive_theory(spec), title=f"teacher-student, {tr}")
    out = sweep_data_model(spec, "sigma2", np.linspace(0.05, 0.40, 36), plot=HERE / f"teacher_student_{tr}.png")
    rows = []
    for k in (1, 2, 4, 8, 16):
        sk = spec.with_params(d=150 * k, N=700 * k, n=3000 * k, sigma_a2=8.0 * k)
        grid = np.round(np.arange(0.12, 0.245, 0.01), 3)
        sw = sweep_data_model(sk, "sigma2", grid)
        ent = {"d": 150 * k, "transitions": [{kk: t[kk] for kk in ("value", "kind", "definition") if kk in t}
                                             for t in sw["transitions"]], "points": []}
        for v, s in zip(grid, sw["solutions"]):
            o = s["order_parameters"]
            mins = sorted({(round(abs(x["order_parameters"]["Phi"]), 6), x["action"]) for x in s["saddles"]
                           if x["stable"]})
            dS = mins[-1][1] - mins[0][1] if len(mins) > 1 else None
            ent["points"].append({"sigma2": float(v), "cubic_fraction": o["fbar3"] / -0.3,
                                  "aligned_fraction": o["aligned_fraction"], "dS": dS})
        rows.append(ent)
    results[tr] = {"sweep_transitions": out["transitions"], "over_d": rows}
    print(f"== {tr}: d = 150 sweep transitions")
    for t in out["transitions"]:
        print(f"   {t['kind']:12s} sigma2 = {t['value']:.5f}   {t['definition'][:60]}")
    print(f"== {tr}: over d (d, N, n, sigma_a2 x k)")
    print("   d     | finite-d first order | finite-d spinodal | d->inf first order | d->inf spinodal | "
          "cubic fraction at sigma2 = 0.16 0.17 0.18 0.19 | dS at 0.12 | dS/d")
    for ent in rows:
        def pick(kind, pre):
            v = [t["value"] for t in ent["transitions"] if t["kind"] == kind and t["definition"].startswith(pre)]
            return f"{v[0]:.4f}" if v else "none"
        cf = {round(p["sigma2"], 3): p["cubic_fraction"] for p in ent["points"]}
        dS = ent["points"][0]["dS"]
        print(f"   {ent['d']:5d} | {pick('first_order', 'finite_d'):>20s} | {pick('spinodal', 'finite_d'):>17s} | "
              f"{pick('first_order', 'd_to'):>18s} | {pick('spinodal', 'd_to'):>15s} | "
              + " ".join(f"{cf[s]:.4f}" for s in (0.16, 0.17, 0.18, 0.19))
              + f" | {dS:.2f} | {dS / ent['d']:.4f}")
(HERE / "teacher_student.json").write_text(json.dumps(results, indent=1, default=float))
