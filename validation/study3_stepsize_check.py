"""Study 3 step-size check: rerun the largest width with Euler at ε and ε/2 (twice the steps) and with
the OU integrator at ε, and compare the signed shift s and the variance offset against the exact
finite-N reference.

    python validation/study3_stepsize_check.py [N]
"""

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from run_studies import HERE, spec_of, study3_data  # noqa: E402

from mftsym.io import atomic_write_json  # noqa: E402
from mftsym.validate import Langevin, run_ensemble  # noqa: E402
from mftsym.validate.theory import THEORIES, call_theory  # noqa: E402


def main(N=512, members=32):
    spec = spec_of("study3_one_over_n").with_params(N1=N)
    data = study3_data()
    gp, kr, ex = (call_theory(THEORIES[k], spec, data) for k in ("gp", "kr", "linear_exact"))
    u = np.ravel(kr["mean"] - gp["mean"])
    u /= np.linalg.norm(u)
    out = {}
    for eps, steps, burn, integ in ((1e-2, 14000, 1000, "euler"), (5e-3, 28000, 2000, "euler"),
                                    (1e-2, 14000, 1000, "ou")):
        tr = Langevin(step_size=eps, steps=steps, burn_in=burn, thin=10, integrator=integ)
        res = run_ensemble(spec, data, N, members, tr, seed=11, threads=1)
        proj = (res["rb_mean_f"][..., 0] - np.ravel(gp["mean"])) @ u
        var = res["rb_mean_f2"].mean(0) - res["rb_mean_f"].mean(0) ** 2
        out[f"{integ} {eps}"] = {"s": float(proj.mean()), "se": float(proj.std(ddof=1) / np.sqrt(members)),
                         "s_exact": float(u @ np.ravel(ex["mean"] - gp["mean"])),
                         "mean_var_offset_vs_exact": float(np.mean(var.ravel() - np.ravel(ex["var"])))}
        print(integ, eps, out[f"{integ} {eps}"], flush=True)
    atomic_write_json(HERE / "study3_one_over_n" / f"stepsize_check_N{N}.json", out)


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
