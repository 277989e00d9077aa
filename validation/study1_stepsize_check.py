"""Study 1 step-size check: is the Rao–Blackwellised discrepancy from the GP at N = 512 the
integrator's O(ε) bias or a finite-width effect?  Runs study 1's ensemble (OU integrator) at
ε = 1e-3 (seed 0: the members of the earlier recording) and at ε/2 with twice the steps (seed 1)
and compares their RB posterior means with the GP and with each other (~2 min on 2 cores).

    python validation/study1_stepsize_check.py
"""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from run_studies import HERE, spec_of  # noqa: E402

from mftsym.io import atomic_write_json  # noqa: E402
from mftsym.validate import Langevin, run_ensemble, teacher_data  # noqa: E402
from mftsym.validate.theory import THEORIES, call_theory  # noqa: E402


def summary(res, gp):
    m = np.asarray(res["rb_mean_f"])[..., 0]
    M = len(m)
    se = m.std(0, ddof=1) / np.sqrt(M)
    z = (m.mean(0) - gp["mean"].ravel()) / se
    var = (np.asarray(res["rb_mean_f2"]) - np.asarray(res["rb_mean_f"]) ** 2).mean(0)[..., 0] \
        + m.var(0, ddof=1)                     # within-chain + across-member: the posterior variance
    return {"members": M, "mean_rb": m.mean(0).tolist(), "se": se.tolist(), "z_vs_gp": z.tolist(),
            "max_abs_z": float(np.abs(z).max()), "rms_z": float(np.sqrt(np.mean(z ** 2))),
            "var_rb_minus_gp_mean": float(np.mean(var - gp["var"].ravel()))}


def main(members=16):
    folder = HERE / "study1_gp_vs_langevin"
    data = teacher_data(10, 8, 4, teacher="hermite", coeffs={1: 1.0, 3: 0.5}, noise_var=0.01, seed=1)
    spec = spec_of("study1_gp_vs_langevin").with_params(N1=512)
    gp = call_theory(THEORIES["gp"], spec, data)
    tr = Langevin(step_size=1e-3, steps=8000, burn_in=2000, thin=10)
    out = {"recorded eps=1e-3": summary(run_ensemble(spec, data, 512, members, tr, seed=0, threads=1), gp)}
    tr = Langevin(step_size=5e-4, steps=16000, burn_in=4000, thin=20)
    res = run_ensemble(spec, data, 512, members, tr, seed=1, threads=1)
    out["eps=5e-4 (seed 1)"] = summary(res, gp)
    a, b = out["recorded eps=1e-3"], out["eps=5e-4 (seed 1)"]
    d = np.subtract(a["mean_rb"], b["mean_rb"]) / np.hypot(a["se"], b["se"])
    out["z eps=1e-3 vs eps=5e-4"] = {"z": d.tolist(), "max_abs_z": float(np.abs(d).max()),
                                      "rms_z": float(np.sqrt(np.mean(d ** 2)))}
    for k, v in out.items():
        print(k, {kk: vv for kk, vv in v.items() if not isinstance(vv, list)}, flush=True)
    atomic_write_json(folder / "stepsize_check.json", out)


if __name__ == "__main__":
    main()
