"""Is the finite-n shift of the cubic fraction a 1/n effect that vanishes onto the population theory?
At fixed kernel (the saddle's weight distribution at sigma2) the population predictor depends on sigma^2/n only,
so training sets of k n points (fresh Gaussian inputs, the study's teacher direction, noiseless labels) with noise
k sigma^2 have the same population limit; the GP posterior mean's cubic fraction (run.py's estimator, the study's
2000 test points) is extrapolated in 1/k to k -> infinity and compared with the theory's truncated (He1, He3) value.

    python validation/grokking_teacher_student/finite_n_extrapolate.py SIGMA2...     # about 3 minutes per value
writes finite_n_extrapolate.json (merged).
"""
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from run_setup import EPS, NTRAIN, D, cubic_fraction, data, spec  # noqa: E402

from mftsym.solve.data_model_readout import finite_n_predictor, saddle_state  # noqa: E402

KS, NW, REPLICAS = (1, 2, 4, 8), 10000, 2

if __name__ == "__main__":
    path = HERE / "finite_n_extrapolate.json"
    res = json.loads(path.read_text()) if path.exists() else {}
    ws = data.teacher_direction
    for s2 in map(float, sys.argv[1:]):
        for tr in ("paper", "relaxed"):
            s_ = dataclasses.replace(spec, theory={"kind": "adaptive_kernel", "reduced_action": tr})
            st = saddle_state(s_.with_params(sigma2=s2))
            rows = []
            for k in KS:
                rng = np.random.default_rng(100 + k)
                x = rng.standard_normal((k * NTRAIN, D))
                z = x @ ws
                y = z + EPS * (z ** 3 - 3 * z)
                o = finite_n_predictor(s_.with_params(sigma2=k * s2, n=k * NTRAIN), x, y, data.x_test, ws,
                                       n_weights=NW, replicas=REPLICAS, seed=5, state=st)
                reps = cubic_fraction(o["replicas"])
                rows.append({"k": k, "cubic": float(cubic_fraction(o["mean"])),
                             "mc_se": float(reps.std(ddof=1) / np.sqrt(len(reps)))})
                print(s2, tr, rows[-1], flush=True)
            inv = np.array([1 / r["k"] for r in rows])
            c = np.array([r["cubic"] for r in rows])
            fit = np.polyfit(inv, c, 1)
            res.setdefault(str(s2), {})[tr] = {"rows": rows, "extrapolated": float(fit[1]), "slope": float(fit[0]),
                                               "population": st[3].order_parameters["fbar3"] / EPS}
            path.write_text(json.dumps(res, indent=1))
            print(s2, tr, "extrapolated", fit[1], "population", st[3].order_parameters["fbar3"] / EPS, flush=True)
