"""Derive the action of spec.toml, write README equations (derived.tex) and solve an example."""
from pathlib import Path

import numpy as np

from mftsym.export.latex import write_latex
from mftsym.spec import Spec
from mftsym.solve import derive_theory, solve

HERE = Path(__file__).parent
spec = Spec.from_toml(HERE / "spec.toml")
write_latex(HERE / "derived.tex", derive_theory(spec), title=f"mftsym: {HERE.name}")
if spec.data is not None and spec.data.get("inputs") == "gaussian":
    from mftsym.solve import solve_data_model, sweep_data_model
    print(solve_data_model(spec))
    out = sweep_data_model(spec, "n", np.array([500, 1000, 2000, 3000, 4000, 6000, 8000.0]), plot=HERE / "sweep.png")
    print("phases:", out["phases"], "transitions:", out["transitions"])
else:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 10))
    y = np.tanh(x[:, 0]) + 0.2 * rng.standard_normal(40)
    print(solve(spec, x, y, x[:5]))
    print(solve(spec, x, y, x[:5], theory="gp"))
