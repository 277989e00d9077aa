"""Shared by the theory examples' run.py: derive the action of FOLDER/spec.toml (written to
FOLDER/derived.tex) and solve it, and the GP, on a small tanh-teacher data set."""

from pathlib import Path

import numpy as np

from mftsym.export.latex import write_latex
from mftsym.solve import derive_theory, solve
from mftsym.spec import Spec


def run(folder) -> None:
    folder = Path(folder)
    spec = Spec.from_toml(folder / "spec.toml")
    write_latex(folder / "derived.tex", derive_theory(spec), title=f"mftsym: {folder.name}")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 10))
    y = np.tanh(x[:, 0]) + 0.2 * rng.standard_normal(40)
    print(solve(spec, x, y, x[:5]))
    print(solve(spec, x, y, x[:5], theory="gp"))
