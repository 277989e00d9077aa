"""Derive the action of spec.toml (derived.tex), solve it at the spec's n, and sweep n across the
first-order transition (sweep.png, sweep.json) -- the same as

    mftsym sweep spec.toml --param n --values log:200:20000:25 --out sweep.json --plot sweep.png
"""
import json
from pathlib import Path

import numpy as np

from mftsym.export.latex import write_latex
from mftsym.spec import Spec
from mftsym.solve import derive_theory, solve_data_model, sweep_data_model

HERE = Path(__file__).parent
spec = Spec.from_toml(HERE / "spec.toml")
write_latex(HERE / "derived.tex", derive_theory(spec), title=f"mftsym: {HERE.name}")
print(solve_data_model(spec))
out = sweep_data_model(spec, "n", np.geomspace(200, 20000, 25), plot=HERE / "sweep.png")
(HERE / "sweep.json").write_text(json.dumps({k: out[k] for k in ("param", "values", "phases", "transitions")},
                                            indent=1))
for v, s in zip(out["values"], out["solutions"]):
    mins = sorted({(round(abs(x["order_parameters"]["Phi"]), 3), round(x["action"], 3))
                   for x in s["saddles"] if x["stable"]}, key=lambda m: m[1])
    print(f"n = {v:9.1f}  minima (|Phi|, S), dominant first: {mins}  "
          f"aligned fraction {s['order_parameters']['aligned_fraction']:.4f}")
print("transitions:", json.dumps(out["transitions"], indent=1))
