"""Local kernel renormalization vs the GP against Langevin ensembles of a one-hidden-layer CNN.

conv (2x2 window, stride 2, C = N channels, erf) -> flatten -> dense readout (a weight per patch and
channel), NTK parametrization, 4x4x1 inputs (4 patches), P = 24 training points, 16 test points; the
target depends on patch 1 only (y = 2 * tanh of a linear function of its pixels), sigma^2 = 0.2.
Langevin (OU integrator) posterior ensembles at N = 4, 8, 16 (P/N = 6, 3, 1.5); theories "gp" and
"local_kernel_renormalization" evaluated by mftsym.validate with the conv width set to N.

    OMP_NUM_THREADS=1 python validation/study_lkr_cnn/run.py      (about 4 minutes on one core)

Writes report.json / report.md here (mftsym.validate) and run_summary.md (summary.md is the study's
hand-written summary: the exact checks of exact.py and the scans of scan.py).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

import mftsym as mf  # noqa: E402
from mftsym.validate import Dataset, Langevin, validate  # noqa: E402
from mftsym.solve.local_renormalization import solve_local_kernel_renormalization  # noqa: E402

SPEC = {"network": {"input_shape": [4, 4, 1], "parametrization": "ntk", "layers": [
    {"type": "conv", "width": "N", "kernel": [2, 2], "stride": [2, 2], "padding": "valid", "weight_var": 1.0},
    {"type": "activation", "fn": "erf"}, {"type": "flatten"},
    {"type": "dense", "width": 1, "weight_var": 1.0}]},
    "posterior": {"noise_var": 0.2}, "theory": {"kind": "local_kernel_renormalization"}}


def dataset(P=24, P_test=16, seed=3):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(P + P_test, 4, 4, 1))
    w = rng.normal(size=4)
    patch1 = x[:, :2, :2, 0].reshape(len(x), 4)
    y = 2.0 * np.tanh(patch1 @ w / 2.0)[:, None]
    return Dataset(x[:P], y[:P], x[P:], y[P:])


def main(widths=(4, 8, 16), members=16, steps=8000, eps=1e-2, out=None):
    torch.set_num_threads(1)
    t = time.time()
    out = HERE if out is None else HERE / out
    out.mkdir(exist_ok=True)
    tr = Langevin(step_size=eps, steps=steps, burn_in=steps // 4, thin=5, integrator="ou")
    rep = validate(mf.Spec.from_dict(SPEC), dataset(), list(widths), members, out, trainer=tr,
                   theory=("gp", "local_kernel_renormalization"), progress=False, plots=False, threads=1)
    summarise(rep, out, f"{members} chains, {steps} steps, eps = {eps}, OU integrator; {time.time() - t:.0f} s")
    return rep


def summarise(rep, out, header=""):
    """run_summary.md from a validation report: rms / max |z| of the posterior mean (Rao-Blackwellised)
    and variance, GP vs local kernel renormalization, and Tr Q / N_p (theory) against the
    Langevin mean squared readout weight over its prior variance (q-bar, the same quantity)."""
    d = dataset()
    lines = ["# Local kernel renormalization vs GP, one-hidden-layer CNN (Langevin)", "", header, "",
             "| N | P/N | obs | rms GP | rms LKR | max abs z GP | max abs z LKR | mean SE |",
             "|---|---|---|---|---|---|---|---|"]
    qrows = ["", "| N | Q_11 | mean Q_ii (i > 1) | Tr Q / N_p (theory) | q-bar (Langevin) |", "|---|---|---|---|---|"]
    for row in rep["widths"]:
        for name in ("mean_rb", "var_rb"):
            obs = row["observables"][name]
            exp, se = np.asarray(obs["experiment"], float), np.asarray(obs["se"], float)
            th = {k: np.asarray(v, float) for k, v in obs["theory"].items()}
            rms = {k: float(np.sqrt(np.mean((v - exp) ** 2))) for k, v in th.items()}
            z = {k: float(np.max(np.abs((exp - v) / se))) for k, v in th.items()}
            lines.append(f"| {row['width']} | {24 / row['width']:.1f} | {name} | {rms['gp']:.4f} | "
                         f"{rms['local_kernel_renormalization']:.4f} | {z['gp']:.1f} | "
                         f"{z['local_kernel_renormalization']:.1f} | {np.mean(se):.4f} |")
        s = solve_local_kernel_renormalization(mf.Spec.from_dict(SPEC).with_params(N=row["width"]),
                                               d.x_train, d.y_train)
        Q = np.array(s.extras["Q"])
        qrows.append(f"| {row['width']} | {Q[0, 0]:.3f} | {np.mean(np.diag(Q)[1:]):.3f} | "
                     f"{np.trace(Q) / len(Q):.3f} | {row['qbar']['value']:.3f} ± {row['qbar']['se']:.3f} |")
    text = "\n".join(lines + qrows) + "\n"
    (out / "run_summary.md").write_text(text)
    print(text)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--summarise"]:
        folder = HERE / (sys.argv[2] if len(sys.argv) > 2 else "")
        summarise(json.loads((folder / "report.json").read_text()), folder, sys.argv[3] if len(sys.argv) > 3 else "")
        sys.exit(0)
    main(*([json.loads(a) for a in sys.argv[1:]]))
