"""Curse-of-detail scaling in Langevin posteriors of a two-layer erf CNN with non-overlapping patches.

Target y = (6 n)^(-1/2) sum_{a=1}^{n} He3(w*.x_a) on n patches of dimension p (d = n p), network
conv(N channels, kernel = stride = p, valid) -> erf -> flatten -> dense, in the proportional limit
N = n = p = sqrt(d), where the derived law is P* ~ 2 kappa sqrt(N n p) = 2 kappa d^(3/4)
(docs/theory/scaling.md, "Convolution over non-overlapping patches"); the fully connected exponent
at N ~ d would be P* ~ d.  Alignment A = <f, y>/<y, y> of the posterior mean (1000 test points)
against P for p = 4, 6, 8 (d = 16, 36, 64): curves against P/d**a should collapse at a = 3/4, not 1.

    python validation/study_curse_of_detail/cnn.py run 4    # one d per call (p = 4, 6, 8), ~2-3 min each
    python validation/study_curse_of_detail/cnn.py report   # collapse fit, cnn_report.json, cnn_collapse.png
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
sys.path.insert(0, str(HERE))

from mftsym import Spec  # noqa: E402
from mftsym.validate.data import Dataset  # noqa: E402
from mftsym.validate.langevin import Langevin  # noqa: E402
from mftsym.validate.runner import run_ensemble  # noqa: E402
from run import collapse_cost, fit_collapse, step_size  # noqa: E402  (the fully connected study's tools)

NOISE_VAR = 0.1          # kappa
MEMBERS = 4
STEPS = 4000
P_LIST = (16, 32, 64, 128, 256, 512)
PATCH = (4, 6, 8)        # p = n = N; d = p**2
SEED = 0


def spec(p):
    return Spec.from_dict({"network": {"input_shape": [p * p, 1], "parametrization": "standard", "layers": [
        {"type": "conv", "width": "N", "kernel": [p], "stride": [p], "padding": "valid", "weight_var": 1},
        {"type": "activation", "fn": "erf"}, {"type": "flatten"},
        {"type": "dense", "width": 1, "weight_var": 1}]},
        "params": {"s2": NOISE_VAR}, "posterior": {"noise_var": "s2"}})


def patch_data(P, n_test, n, p, seed):
    """x ~ N(0, I_{n p}); y = (6 n)^(-1/2) sum_a He3(w*.x_a), |w*| = 1 (unit variance)."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(p)
    w /= np.linalg.norm(w)
    x = rng.standard_normal((P + n_test, n * p))
    z = x.reshape(-1, n, p) @ w
    y = ((z**3 - 3 * z).sum(1) / np.sqrt(6 * n))[:, None]
    return Dataset(x[:P], y[:P], x[P:], y[P:])


def sample(p, P, seed):
    data = patch_data(P, 1000, p, p, seed)
    tr = Langevin(step_size=step_size(P), steps=STEPS, burn_in=STEPS // 2, thin=10, rao_blackwell=False)
    r = run_ensemble(spec(p), data, p, MEMBERS, tr, seed=seed, dtype="float32")
    y = data.y_test[:, 0]
    align = r["mean_f"][..., 0] @ y / (y @ y)
    return {"d": p * p, "p": p, "N": p, "P": P, "align": align.tolist(),
            "train_mse": (2 * np.asarray(r["train_loss"]) / P).tolist()}


def run(p):
    """One patch size (one d); rows are saved after every point (rows_cnn_p{p}.json)."""
    torch.set_num_threads(1)
    rows, t0 = [], time.time()
    for P in P_LIST:
        rows.append(sample(p, P, SEED + 1000 * p + P))
        print(f"p={p} P={P} align={np.mean(rows[-1]['align']):.3f} ({time.time() - t0:.0f}s)", flush=True)
        (HERE / f"rows_cnn_p{p}.json").write_text(json.dumps(rows, indent=1) + "\n")


def report():
    rows = [r for p in PATCH if (HERE / f"rows_cnn_p{p}.json").exists()
            for r in json.loads((HERE / f"rows_cnn_p{p}.json").read_text())]
    best, err, costs = fit_collapse(rows)
    grid = np.linspace(0.0, 3.0, 301)
    table = {str(a): collapse_cost(rows, a) for a in (0.5, 0.75, 1.0, 1.5, 3.0)}
    out = {"derived_exponent": 0.75, "wrong_exponent": 1.0, "best_exponent": best, "bootstrap_sd": err,
           "collapse_cost": table}
    (HERE / "cnn_report.json").write_text(json.dumps(out, indent=1) + "\n")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    for ax, a, title in zip(axes, (0.75, 1.0, None), ("P / d^(3/4) (derived)", "P / d (FC exponent)", "")):
        if a is None:
            ax.plot(grid, costs)
            ax.axvline(0.75, ls="--", c="k")
            ax.set_xlabel("collapse exponent a")
            ax.set_ylabel("collapse cost")
            ax.set_title(f"best a = {best:.2f} +- {err:.2f}")
            continue
        for d in sorted({r["d"] for r in rows}):
            rs = sorted((r for r in rows if r["d"] == d), key=lambda r: r["P"])
            x = [r["P"] / d**a for r in rs]
            m = [np.mean(r["align"]) for r in rs]
            se = [np.std(r["align"], ddof=1) / np.sqrt(len(r["align"])) for r in rs]
            ax.errorbar(x, m, se, marker="o", label=f"d = {d}")
        ax.set_xscale("log")
        ax.set_xlabel(title)
        ax.set_ylabel("alignment A")
        ax.legend()
    fig.tight_layout()
    fig.savefig(HERE / "cnn_collapse.png", dpi=110)
    plt.close(fig)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    if sys.argv[1] == "run":
        run(int(sys.argv[2]))
    else:
        report()
