"""Study 5b, second theory: the deep adaptive kernel with sampled (non-Gaussian) single-neuron
measures (`mftsym.solve.deep_adaptive_sampled`, docs/theory/deep_adaptive_kernel.md) against the
Langevin ensembles recorded by run_study5_mfs.py (summary_{act}{L}_mfs.json).  Each (depth, N) is
solved with ``SEEDS`` seeds; the theory's Monte Carlo error is the spread over seeds, and z uses
both errors.

    python validation/study5_deep_adaptive/run_study5_sampled.py [depth ...] [--act erf|lin] [--tag ...]
        [--widths 16,32]
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

torch.set_num_threads(1)
HERE = Path(__file__).parent

import run_study5_mfs as base  # noqa: E402

from mftsym.solve.deep_adaptive_sampled import solve_deep_adaptive_sampled  # noqa: E402
from mftsym.spec import Spec  # noqa: E402

SEEDS = 4


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("depths", nargs="*", type=int, default=[2])
    ap.add_argument("--act", default="erf", choices=("erf", "lin"))
    ap.add_argument("--tag", default="")
    ap.add_argument("--chains", type=int, default=4000)
    ap.add_argument("--widths", default="", help="only these widths of the source summary (comma separated)")
    a = ap.parse_args()
    data = base.dataset()
    for L in a.depths:
        src = json.loads((HERE / f"summary_{a.act}{L}_mfs{a.tag}.json").read_text())
        rows = []
        keep = {int(w) for w in a.widths.split(",") if w}
        for r in src["rows"]:
            N = r["N"]
            if keep and N not in keep:
                continue
            spec = Spec.from_toml(HERE / f"spec_{a.act}{L}_mfs.toml").with_params(N1=N, d=base.D, kappa=base.KAPPA)
            t = time.time()
            preds = np.array([solve_deep_adaptive_sampled(spec, data.x_train, data.y_train, data.x_test,
                                                          chains=a.chains, seed=s).prediction for s in range(SEEDS)])
            m, mse = preds.mean(0), preds.std(0, ddof=1) / np.sqrt(SEEDS)
            e, se = np.array(r["experiment"]), np.array(r["se"])
            z = (e - m) / np.sqrt(se ** 2 + mse ** 2)
            row = {"N": N, "rms": float(np.sqrt(max(np.mean((e - m) ** 2) - np.mean(se ** 2 + mse ** 2), 0.0))),
                   "rms_raw": float(np.sqrt(np.mean((e - m) ** 2))), "maxz": float(np.abs(z).max()),
                   "chi2_per_point": float(np.mean(z ** 2)), "theory_mc_se": float(mse.mean()),
                   "experiment_se": float(se.mean()), "prediction": m.tolist(), "prediction_se": mse.tolist(),
                   "seconds": time.time() - t,
                   **{f"rms_{k}": r[k]["rms"] for k in ("gp", "kr", "deep_ak")},
                   **{f"maxz_{k}": r[k]["maxz"] for k in ("gp", "kr", "deep_ak")}}
            rows.append(row)
            print(f"{a.act} L={L} N={N}: sampled rms {row['rms']:.4f} (raw {row['rms_raw']:.4f}) "
                  f"max|z| {row['maxz']:.1f} "
                  f"chi2/pt {row['chi2_per_point']:.2f} theory SE {row['theory_mc_se']:.4f} exp SE "
                  f"{row['experiment_se']:.4f} | closure rms {row['rms_deep_ak']:.4f} max|z| {row['maxz_deep_ak']:.1f}"
                  f" {row['seconds']:.0f}s", flush=True)
        (HERE / f"summary_{a.act}{L}_mfs{a.tag}_sampled.json").write_text(
            json.dumps({"seeds": SEEDS, "chains": a.chains, "source": f"summary_{a.act}{L}_mfs{a.tag}.json",
                        "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
