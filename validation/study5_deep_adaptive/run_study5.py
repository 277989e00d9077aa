"""Study 5 (scaled down for a 2-core CPU, < 5 min): the deep adaptive kernel (Gaussian closure per
layer) vs the GP and the deep-linear-action kernel renormalization, against Langevin posteriors of
a two-hidden-layer erf network; P = 24, d = 16, linear teacher (x2), widths N = 12, 24.

    python validation/study5_deep_adaptive/run_study5.py
"""

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

torch.set_num_threads(1)
HERE = Path(__file__).parent

from mftsym.solve.deep_adaptive import solve_deep_adaptive_kernel  # noqa: E402
from mftsym.spec import Spec  # noqa: E402
from mftsym.validate import Langevin, teacher_data, validate  # noqa: E402


def deep_ak(spec, data):
    sol = solve_deep_adaptive_kernel(spec, data.x_train, data.y_train, data.x_test, starts=(1.0,))
    return {"mean": sol.prediction, "var": sol.variance}


def main(steps=4000, members=8, widths=(12, 24), spec_name="spec_erf2", out="erf2"):
    data = teacher_data(24, 16, 16, noise_var=0.0, seed=4)
    data = type(data)(data.x_train, 2.0 * data.y_train, data.x_test, 2.0 * data.y_test, data.meta)
    tr = Langevin(step_size=1e-2, steps=steps, burn_in=1000, thin=5, integrator="ou")
    t = time.time()
    rep = validate(Spec.from_toml(HERE / f"{spec_name}.toml"), data, list(widths), members, HERE / out,
                   trainer=tr, theory=("gp", "kr", deep_ak), progress=False, threads=1)
    rows = []
    for w in rep["widths"]:
        obs = w["observables"]["mean"]
        exp, se = np.array(obs["experiment"])[:, 0], np.array(obs["se"])[:, 0]
        row = {"N": w["width"], "mean_se": float(se.mean())}
        for name, th in obs["theory"].items():
            th = np.array(th)[:, 0]
            z = (exp - th) / se
            row[f"rms_{name}"] = float(np.sqrt(max(np.mean((exp - th) ** 2) - np.mean(se ** 2), 0.0)))
            row[f"maxz_{name}"] = float(np.abs(z).max())
        rows.append(row)
    (HERE / f"summary_{out}.json").write_text(json.dumps({"rows": rows, "wall_seconds": time.time() - t}, indent=2))
    names = [k[4:] for k in rows[0] if k.startswith("rms_")]
    lines = ["| N | " + " | ".join(f"rms {n}" for n in names) + " | " + " | ".join(f"max z {n}" for n in names)
             + " | mean SE |", "|" + "---|" * (2 * len(names) + 2)]
    for r in rows:
        lines.append(f"| {r['N']} | " + " | ".join(f"{r['rms_' + n]:.4f}" for n in names) + " | "
                     + " | ".join(f"{r['maxz_' + n]:.1f}" for n in names) + f" | {r['mean_se']:.4f} |")
    (HERE / f"table_{out}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"{time.time() - t:.0f} s")


if __name__ == "__main__":
    main()
    if "mf" in sys.argv[1:]:
        main(spec_name="spec_erf2_mf", out="erf2_mf")
