"""Validation studies 1-3 of issue 4, sized for a 2-core CPU (minutes each).

    python validation/run_studies.py [1 2 3]

Each study writes report.md, report.json and PNGs into its folder (validation/studyN_*/).
"""

import sys
import time
from pathlib import Path

import numpy as np

from mftsym.spec import Spec
from mftsym.validate import GradientDescent, Langevin, teacher_data, validate

HERE = Path(__file__).parent


def spec_of(folder):
    return Spec.from_toml(HERE / folder / "spec.toml")


def study1():
    """NNGP posterior vs Langevin ensembles at large width (erf, 1 hidden layer)."""
    folder = "study1_gp_vs_langevin"
    data = teacher_data(10, 8, 4, teacher="hermite", coeffs={1: 1.0, 3: 0.5}, noise_var=0.01, seed=1)
    tr = Langevin(step_size=1e-3, steps=8000, burn_in=2000, thin=10)
    return validate(spec_of(folder), data, [512], 16, HERE / folder, trainer=tr, progress=False)


def study2():
    """NTK predictor vs gradient-descent-trained wide networks (NTK parametrization)."""
    folder = "study2_ntk_vs_gd"
    data = teacher_data(16, 10, 4, teacher="hermite", coeffs={1: 1.0, 2: 0.5}, seed=2)
    tr = GradientDescent(lr=0.05, steps=400, record_every=20)
    return validate(spec_of(folder), data, [256, 1024, 4096], 16, HERE / folder, trainer=tr, progress=False)


def study3():
    """GP-vs-finite-width posterior discrepancy shrinks as 1/N (one-hidden-layer linear network)."""
    folder = "study3_one_over_n"
    data = teacher_data(8, 6, 8, noise_var=0.0, seed=3)
    data = type(data)(data.x_train, 4.0 * data.y_train, data.x_test, 4.0 * data.y_test, data.meta)
    tr = Langevin(step_size=2e-3, steps=20000, burn_in=4000, thin=10)
    return validate(spec_of(folder), data, [16, 32, 64, 128, 256], 24, HERE / folder, trainer=tr, progress=False)


if __name__ == "__main__":
    which = sys.argv[1:] or ["1", "2", "3"]
    for w in which:
        t = time.time()
        rep = {"1": study1, "2": study2, "3": study3}[w]()
        print(f"study {w}: {time.time() - t:.0f} s; scaling {rep['scaling']}")
