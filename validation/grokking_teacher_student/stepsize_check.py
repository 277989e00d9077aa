"""Step-size check of run.py at sigma2 = 0.09: the same chains at half the step (twice the steps)."""
import json
import math
from pathlib import Path

import numpy as np
import torch

from mftsym.spec import Spec
from mftsym.validate import Langevin, run_ensemble, teacher_data

torch.set_num_threads(1)
HERE = Path(__file__).parent
spec = Spec.from_toml(HERE.parents[1] / "derivations" / "grokking" / "teacher_student.toml").with_params(
    d=20, N=93, n=400, sigma_a2=8.0 * 20 / 150, sigma2=0.09)
data = teacher_data(400, 500, 20, teacher="hermite", coeffs={1: 1.0, 3: -0.3 * math.sqrt(6)}, seed=0)
z = data.x_test @ data.teacher_direction
he3 = z ** 3 - 3 * z
res = {}
import sys
SEED = int(sys.argv[1]) if len(sys.argv) > 1 else 1
for eps, steps, burn in ((0.01, 3000, 1000), (0.005, 6000, 2000)):
    out = run_ensemble(spec, data, 93, 8, Langevin(step_size=eps, steps=steps, burn_in=burn, thin=50), seed=SEED)
    f3 = (np.asarray(out["mean_f"])[..., 0] * he3).mean(1) / 6 / -0.3
    rho = np.asarray(out["norm2"]).mean(1)
    res[eps] = {"cubic": [float(f3.mean()), float(f3.std(ddof=1) / math.sqrt(8))],
                "mean_rho": [float(rho.mean()), float(rho.std(ddof=1) / math.sqrt(8))]}
    print(eps, res[eps], flush=True)
(HERE / f"stepsize_check_seed{SEED}.json").write_text(json.dumps(res, indent=1))
