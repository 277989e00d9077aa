"""Curse-of-detail scaling in Langevin posteriors of a two-layer erf network on He3(w*.x).

Scaled-down CPU study (two parts of a few minutes each on one core; see README.md):
  A. alignment A = <f, y>/<y, y> of the posterior mean (test set) against P for d = 8, 12, 16 at
     N = 4d, where the derived law is P* ~ kappa sqrt(N d) = 2 kappa d: curves against P/d**a
     should collapse at a = 1; the collapse exponent is fitted with a bootstrap error bar;
  B. the number of specialised first-layer neurons (|cos(w_i, w*)| > THETA, minus the prior's
     expected count) against sqrt(N/d) at d = 16, N = 16 ... 256, P = 4 sqrt(N d) (fixed P/P*):
     derived slope 1.

    python validation/study_curse_of_detail/run.py a       # study A (~4 min on a shared 2-core machine)
    python validation/study_curse_of_detail/run.py a24     # study A at d = 24 (~3 min)
    python validation/study_curse_of_detail/run.py steps   # equilibration check: 2x steps at d = 16 (~1.5 min)
    python validation/study_curse_of_detail/run.py b       # study B (~1.5 min)
    python validation/study_curse_of_detail/run.py b2      # study B2 (declared after B; ~1 min)
    python validation/study_curse_of_detail/run.py report  # fits, report.json, *.png (seconds)
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

from mftsym import Spec  # noqa: E402
from mftsym.validate.data import teacher_data  # noqa: E402
from mftsym.validate.langevin import Langevin  # noqa: E402
from mftsym.validate.runner import run_ensemble  # noqa: E402

NOISE_VAR = 0.1          # kappa
MEMBERS = 4
STEPS = 4000
THETA = 0.7              # specialised: |w_i . w*| / |w_i| > THETA
D_LIST = (8, 12, 16)
P_LIST = (8, 16, 32, 64, 128, 256)
B_D, B_N = 16, (16, 32, 64, 128, 256)
SEED = 0


def spec():
    return Spec.from_dict({"network": {"input_dim": "d", "parametrization": "standard", "layers": [
        {"type": "dense", "width": "N", "weight_var": 1}, {"type": "activation", "fn": "erf"},
        {"type": "dense", "width": 1, "weight_var": 1}]},
        "params": {"s2": NOISE_VAR}, "posterior": {"noise_var": "s2"}})


def step_size(P):
    # stability of the OU integrator needs eps * lambda_max(NTK)/sigma^2 < 2, lambda_max ~ P/2
    return min(4e-3, 0.256 / P)


def sample(d, N, P, seed):
    data = teacher_data(P, 1000, d, teacher="hermite", degree=3, seed=seed)
    tr = Langevin(step_size=step_size(P), steps=STEPS, burn_in=STEPS // 2, thin=10, rao_blackwell=False)
    r = run_ensemble(spec(), data, N, MEMBERS, tr, seed=seed, dtype="float32")
    y = data.y_test[:, 0]
    align = r["mean_f"][..., 0] @ y / (y @ y)                        # per member (its time average)
    cos = np.abs(r["overlap"]) / np.sqrt(r["norm2"])                 # final state, (members, N)
    return {"d": d, "N": N, "P": P, "align": align.tolist(), "n_spec": (cos > THETA).sum(1).tolist(),
            "train_mse": (2 * np.asarray(r["train_loss"]) / P).tolist()}


def prior_false_positives(d, N, theta=None):
    from scipy.stats import beta
    theta = THETA if theta is None else theta
    return N * float(beta.sf(theta**2, 0.5, (d - 1) / 2))          # cos^2 ~ Beta(1/2, (d-1)/2) under the prior


def collapse_cost(rows, a):
    """Mean squared mismatch (in SE units) between the alignment curves of different d, plotted
    against x = log P - a log d, on their overlapping x range (linear interpolation)."""
    curves = []
    for d in sorted({r["d"] for r in rows}):
        rs = sorted((r for r in rows if r["d"] == d), key=lambda r: r["P"])
        x = np.array([np.log(r["P"]) - a * np.log(d) for r in rs])
        m = np.array([np.mean(r["align"]) for r in rs])
        se = np.array([np.std(r["align"], ddof=1) / np.sqrt(len(r["align"])) for r in rs])
        curves.append((x, m, se))
    tot, n = 0.0, 0
    for i in range(len(curves)):
        for j in range(i + 1, len(curves)):
            (x1, m1, s1), (x2, m2, s2) = curves[i], curves[j]
            lo, hi = max(x1[0], x2[0]), min(x1[-1], x2[-1])
            if hi <= lo:
                continue
            xs = np.linspace(lo, hi, 25)
            diff = np.interp(xs, x1, m1) - np.interp(xs, x2, m2)
            var = np.interp(xs, x1, s1) ** 2 + np.interp(xs, x2, s2) ** 2
            tot += float(np.mean(diff**2 / np.maximum(var, 1e-6)))
            n += 1
    return tot / max(n, 1)


def fit_collapse(rows, grid=np.linspace(0.0, 3.0, 301), boots=200, seed=0):
    costs = np.array([collapse_cost(rows, a) for a in grid])
    best = float(grid[np.argmin(costs)])
    rng = np.random.default_rng(seed)
    bs = []
    for _ in range(boots):
        rb = []
        for r in rows:
            idx = rng.integers(0, len(r["align"]), len(r["align"]))
            rb.append({**r, "align": [r["align"][i] for i in idx]})
        bs.append(float(grid[np.argmin([collapse_cost(rb, a) for a in grid[::5]])*5]))
    return best, float(np.std(bs)), costs


def fit_specialists(rows):
    x = np.log(np.sqrt(np.array([r["N"] for r in rows]) / B_D))
    counts = np.array([np.mean(r["n_spec"]) - prior_false_positives(B_D, r["N"]) for r in rows])
    se = np.array([np.std(r["n_spec"], ddof=1) / np.sqrt(len(r["n_spec"])) for r in rows])
    ok = counts > 0
    y, sy = np.log(counts[ok]), np.maximum(se[ok], 0.5) / counts[ok]     # counts are integers: SE >= 1/2
    w = 1 / sy**2
    X = np.vstack([np.ones(ok.sum()), x[ok]]).T
    cov = np.linalg.inv(X.T @ (X * w[:, None]))
    coef = cov @ X.T @ (w * y)
    chi2 = float(np.sum(w * (y - X @ coef) ** 2))
    return {"slope": float(coef[1]), "slope_se": float(np.sqrt(cov[1, 1])), "chi2": chi2, "dof": int(ok.sum() - 2),
            "counts": counts.tolist(), "count_se": se.tolist(), "sqrt_N_over_d": np.exp(x).tolist()}


def fit_specialists_per_alignment(rows, d=None, theta=None):
    """Post hoc: the recipe's cost of alignment alpha is M d + alpha^2 N/M, so M*(alpha) = alpha sqrt(N/d);
    fit log(M/A) against log sqrt(N/d) (A the measured alignment; delta-method errors)."""
    x, y, sy = [], [], []
    for r in rows:
        c = np.mean(r["n_spec"]) - prior_false_positives(d or B_D, r["N"], theta)
        a = np.mean(r["align"])
        if c <= 0 or a <= 0:
            continue
        se_c = max(np.std(r["n_spec"], ddof=1) / np.sqrt(len(r["n_spec"])), 0.5)
        se_a = np.std(r["align"], ddof=1) / np.sqrt(len(r["align"]))
        x.append(np.log(np.sqrt(r["N"] / (d or B_D))))
        y.append(np.log(c / a))
        sy.append(np.hypot(se_c / c, se_a / a))
    x, y, w = np.array(x), np.array(y), 1 / np.array(sy) ** 2
    X = np.vstack([np.ones(len(x)), x]).T
    cov = np.linalg.inv(X.T @ (X * w[:, None]))
    coef = cov @ X.T @ (w * y)
    return {"slope": float(coef[1]), "slope_se": float(np.sqrt(cov[1, 1])),
            "chi2": float(np.sum(w * (y - X @ coef) ** 2)), "dof": int(len(x) - 2), "points": int(len(x))}


def plots(rows_a, costs, grid, best, spec_fit):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), sharey=True)
    for ax, a in zip(axes, (0.5, 1.0, 1.5)):
        for d in sorted({r["d"] for r in rows_a}):
            rs = sorted((r for r in rows_a if r["d"] == d), key=lambda r: r["P"])
            x = [r["P"] / d**a for r in rs]
            m = [np.mean(r["align"]) for r in rs]
            se = [np.std(r["align"], ddof=1) / np.sqrt(MEMBERS) for r in rs]
            ax.errorbar(x, m, se, marker="o", capsize=2, label=f"d={d}")
        ax.set_xscale("log")
        ax.set_xlabel(f"P / d^{a:g}")
        ax.set_title(f"a = {a:g}: collapse cost {collapse_cost(rows_a, a):.1f}")
    axes[0].set_ylabel("alignment of the posterior mean")
    axes[0].legend()
    fig.suptitle(f"two-layer erf, He3, N = 4d, kappa = {NOISE_VAR}: derived P* ~ sqrt(N d) ~ d (a = 1); "
                 f"fitted a = {best:.2f}", fontsize=9)
    fig.tight_layout()
    fig.savefig(HERE / "alignment_collapse.png", dpi=110)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(4.8, 3.8))
    xs, c, se = np.array(spec_fit["sqrt_N_over_d"]), np.array(spec_fit["counts"]), np.array(spec_fit["count_se"])
    ax.errorbar(xs, c, se, marker="o", capsize=2, ls="none", label="Langevin (mean of members)")
    ok = c > 0
    xx = np.linspace(xs.min(), xs.max(), 50)
    amp = np.exp(np.mean(np.log(c[ok]) - spec_fit["slope"] * np.log(xs[ok])))
    ax.plot(xx, amp * xx ** spec_fit["slope"], label=f"fit slope {spec_fit['slope']:.2f} ± {spec_fit['slope_se']:.2f}")
    ax.plot(xx, np.exp(np.mean(np.log(c[ok]) - np.log(xs[ok]))) * xx, "--", label="derived slope 1 (same mean)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("sqrt(N/d)")
    ax.set_ylabel(f"specialised neurons (|cos| > {THETA})")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(HERE / "specialists.png", dpi=110)
    plt.close(fig)


def run_a():
    t0 = time.time()
    rows = [sample(d, 4 * d, P, SEED + 10 * d + i) for d in D_LIST for i, P in enumerate(P_LIST)]
    (HERE / "rows_a.json").write_text(json.dumps({"rows": rows, "seconds": round(time.time() - t0, 1)}) + "\n")


def run_a24():
    """Study A extended to d = 24 (N = 96) at the four largest P (the smaller ones sit at A ~ 0)."""
    t0 = time.time()
    rows = [sample(24, 96, P, SEED + 240 + i) for i, P in enumerate(P_LIST) if P >= 32]
    (HERE / "rows_a24.json").write_text(json.dumps({"rows": rows, "seconds": round(time.time() - t0, 1)}) + "\n")


def run_steps_check():
    """Equilibration: the d = 16 points of study A nearest the onset, rerun with twice the steps."""
    global STEPS
    t0 = time.time()
    rows = []
    for i, P in enumerate(P_LIST):
        if P in (128, 256):
            short = sample(16, 64, P, SEED + 160 + i)
            STEPS *= 2
            long = sample(16, 64, P, SEED + 160 + i)
            STEPS //= 2
            rows.append({"P": P, "short": short, "long": long})
    (HERE / "steps_check.json").write_text(json.dumps({"rows": rows, "seconds": round(time.time() - t0, 1)}) + "\n")


B2_D, B2_THETA = 8, 0.8


def run_b2():
    """Study B2, declared before it was run: d = 8, N = 8 ... 128, P = 8 sqrt(N d) (further past the
    onset than B), fresh seeds, threshold 0.8; the tested quantity is specialists per unit alignment
    M/A against sqrt(N/d) (derived slope 1, since M*(alpha) = alpha sqrt(N/d))."""
    global THETA
    t0 = time.time()
    old, THETA = THETA, B2_THETA
    try:
        rows = [sample(B2_D, N, int(round(8 * np.sqrt(N * B2_D))), SEED + 2000 + N) for N in (8, 16, 32, 64, 128)]
    finally:
        THETA = old
    (HERE / "rows_b2.json").write_text(json.dumps({"rows": rows, "seconds": round(time.time() - t0, 1)}) + "\n")


def run_b():
    t0 = time.time()
    rows = [sample(B_D, N, int(round(4 * np.sqrt(N * B_D))), SEED + 1000 + N) for N in B_N]
    (HERE / "rows_b.json").write_text(json.dumps({"rows": rows, "seconds": round(time.time() - t0, 1)}) + "\n")


def make_report():
    a = json.loads((HERE / "rows_a.json").read_text())
    b = json.loads((HERE / "rows_b.json").read_text())
    rows_a, rows_b = a["rows"], b["rows"]
    grid = np.linspace(0.0, 3.0, 301)
    best8, err8, _ = fit_collapse(rows_a, grid)                     # d = 8, 12, 16 (the pre-declared set)
    extra = {}
    if (HERE / "rows_a24.json").exists():
        a24 = json.loads((HERE / "rows_a24.json").read_text())
        rows_a = rows_a + a24["rows"]
        extra["seconds_d24"] = a24["seconds"]
    best, err, costs = fit_collapse(rows_a, grid)
    extra["collapse_exponent_d8_to_16"] = best8
    extra["collapse_exponent_d8_to_16_se"] = err8
    if (HERE / "steps_check.json").exists():
        sc = json.loads((HERE / "steps_check.json").read_text())
        extra["steps_check"] = [{"P": r["P"], "align_4000": float(np.mean(r["short"]["align"])),
                                 "align_8000": float(np.mean(r["long"]["align"])),
                                 "se": float(np.hypot(np.std(r["short"]["align"], ddof=1),
                                                      np.std(r["long"]["align"], ddof=1)) / np.sqrt(MEMBERS))}
                                for r in sc["rows"]]
    spec_fit = fit_specialists(rows_b)
    # post hoc: without N = 16, where the posterior mean has not aligned (A ~ 0.02)
    above = fit_specialists([r for r in rows_b if r["N"] > B_D])
    report = {"settings": {"noise_var": NOISE_VAR, "members": MEMBERS, "steps": STEPS, "theta": THETA,
                           "dtype": "float32", "integrator": "ou", "step_size": "min(4e-3, 0.256/P)"},
              "study_a": {"collapse_exponent": best, "collapse_exponent_se": err,
                          "collapse_cost": {str(x): collapse_cost(rows_a, x) for x in (0.5, 1.0, 1.5, 3.0)},
                          "derived_exponent": 1.0, "seconds": a["seconds"], **extra, "rows": rows_a},
              "study_b": {**spec_fit, "derived_slope": 1.0, "post_hoc_without_N16": {
                  k: above[k] for k in ("slope", "slope_se", "chi2", "dof")},
                  "alignment": [float(np.mean(r["align"])) for r in rows_b],
                  "post_hoc_per_alignment": fit_specialists_per_alignment(rows_b),
                  "seconds": b["seconds"], "rows": rows_b}}
    if (HERE / "rows_b2.json").exists():
        b2 = json.loads((HERE / "rows_b2.json").read_text())
        report["study_b2"] = {"per_alignment": fit_specialists_per_alignment(b2["rows"], B2_D, B2_THETA),
                              "theta": B2_THETA, "d": B2_D, "derived_slope": 1.0,
                              "alignment": [float(np.mean(r["align"])) for r in b2["rows"]],
                              "specialists": [float(np.mean(r["n_spec"]) - prior_false_positives(B2_D, r["N"], B2_THETA))
                                              for r in b2["rows"]],
                              "seconds": b2["seconds"], "rows": b2["rows"]}
    (HERE / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    plots(rows_a, costs, grid, best, spec_fit)
    for part in ("study_a", "study_b"):
        print(json.dumps({k: v for k, v in report[part].items() if k != "rows"}, indent=1))


def main(argv):
    torch.set_num_threads(1)
    parts = argv or ["a", "b", "report"]
    for part in parts:
        {"a": run_a, "a24": run_a24, "b": run_b, "b2": run_b2, "steps": run_steps_check,
         "report": make_report}[part]()


if __name__ == "__main__":
    main(sys.argv[1:])
