"""The setup shared by ``run.py``'s chains and the finite-n readout study: spec, data and trainer settings
(d = 20, N = 93, n = 400, sigma_a2 = 8 * 20/150, erf, mean_field, sigma_w2 = 0.5, y = He1 + eps He3, eps = -0.3)."""
import math
from pathlib import Path

import numpy as np

from mftsym.spec import Spec
from mftsym.validate import teacher_data

ROOT = Path(__file__).parents[2]
K = 20 / 150
D, N, NTRAIN, NTEST = 20, 93, 400, 2000
spec = Spec.from_toml(ROOT / "derivations" / "grokking" / "teacher_student.toml").with_params(
    d=D, N=N, n=NTRAIN, sigma_a2=8.0 * K)
EPS = -0.3
SIGMA2 = [0.05, 0.09, 0.13, 0.18, 0.26]
MEMBERS, STEPS, BURN = 8, 3000, 1000
data = teacher_data(NTRAIN, NTEST, D, teacher="hermite", coeffs={1: 1.0, 3: EPS * math.sqrt(6)}, seed=0)
z = data.x_test @ data.teacher_direction
HB = np.stack([z, z ** 3 - 3 * z, z ** 5 - 10 * z ** 3 + 15 * z], 1)     # He1, He3, He5 on the test set


def cubic_fraction(f):
    """Least-squares He3 coefficient / eps of predictions f (..., NTEST) on (He1, He3, He5)(z) (run.py's estimator)."""
    f = np.asarray(f)
    coef = np.linalg.lstsq(HB, f.reshape(-1, f.shape[-1]).T, rcond=None)[0]
    return (coef[1] / EPS).reshape(f.shape[:-1])
