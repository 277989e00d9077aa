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
    python validation/study_curse_of_detail/run.py b3pilot [i/k]  # B3 pilot (alignment vs P per N; part i of k)
    python validation/study_curse_of_detail/run.py b3      # B3 main run at the pilot's P_N
    python validation/study_curse_of_detail/run.py b3report  # B3 fits, b3_report.json, specialists_b3.png
    python validation/study_curse_of_detail/run.py b4 [i/k]  # B4, declared replication of the joint fit (part i of k)
    python validation/study_curse_of_detail/run.py b4report  # B4 fit, b4_report.json, specialists_b4.png
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
sys.path.insert(0, str(HERE))

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


# --------------------------------------------------------------------------- study B3 (README.md, declared)
B3_D, B3_N = 8, (16, 32, 64, 128, 256)
B3_PILOT_C = (3, 4.5, 6.5, 9.5, 14)
B3_A0 = 0.3
B3_MEMBERS, B3_STEPS = 16, 8000


def sample_b3(d, N, P, seed, members, steps):
    from neurons import NeuronTrace, chain_statistics
    data = teacher_data(P, 1000, d, teacher="hermite", degree=3, seed=seed)
    tr = NeuronTrace(step_size=step_size(P), steps=steps, burn_in=steps // 2, thin=10,
                     rao_blackwell=False).with_direction(data.teacher_direction)
    r = run_ensemble(spec(), data, N, members, tr, seed=seed, dtype="float32")
    y = data.y_test[:, 0]
    align = r["mean_f"][..., 0] @ y / (y @ y)
    return {"d": d, "N": N, "P": P, "members": members, "steps": steps, "align": align.tolist(),
            **chain_statistics(r, THETA), "train_mse": (2 * np.asarray(r["train_loss"]) / P).tolist()}


def run_b3_pilot(part="1/1"):
    i, k = (int(x) for x in part.split("/"))
    jobs = [(N, c) for N in B3_N for c in B3_PILOT_C][i - 1::k]
    t0 = time.time()
    rows = [sample_b3(B3_D, N, int(round(c * np.sqrt(N * B3_D))), SEED + 3000 + 10 * N + j, 4, 4000)
            for j, (N, c) in enumerate(jobs)]
    (HERE / f"rows_b3_pilot_{i}of{k}.json").write_text(json.dumps({"rows": rows, "seconds": round(time.time() - t0, 1)}) + "\n")


def b3_pilot_rows():
    rows = []
    for f in sorted(HERE.glob("rows_b3_pilot_*.json")):
        rows += json.loads(f.read_text())["rows"]
    return rows


def b3_choose_P(rows, N):
    """The declared rule: running maximum of the pilot's mean alignment in P, linear in log P, first
    crossing of B3_A0 (the largest pilot P if it never gets there)."""
    rs = sorted((r for r in rows if r["N"] == N), key=lambda r: r["P"])
    P = np.array([r["P"] for r in rs], float)
    A = np.maximum.accumulate([np.mean(r["align"]) for r in rs])
    above = np.nonzero(A >= B3_A0)[0]
    if len(above) == 0:
        return int(P[-1])
    j = above[0]
    if j == 0:
        return int(P[0])
    lp = np.log(P[j - 1]) + (B3_A0 - A[j - 1]) / (A[j] - A[j - 1]) * (np.log(P[j]) - np.log(P[j - 1]))
    return int(round(np.exp(lp)))


def run_b3(widths=None):
    """Main run (widths: comma-separated subset, to split the work over processes; rows_b3_N*.json)."""
    pilot = b3_pilot_rows()
    Ns = [int(n) for n in widths.split(",")] if widths else list(B3_N)
    t0 = time.time()
    rows = [sample_b3(B3_D, N, b3_choose_P(pilot, N), SEED + 5000 + N, B3_MEMBERS, B3_STEPS) for N in Ns]
    name = "_".join(str(n) for n in Ns)
    (HERE / f"rows_b3_N{name}.json").write_text(json.dumps({"rows": rows, "seconds": round(time.time() - t0, 1)}) + "\n")


def run_b3_replicates(widths=None):
    """Data-draw check (declared after the pilot, before the main run was seen): at the same P_N,
    4 fresh data sets x 4 chains x 4000 steps per width."""
    pilot = b3_pilot_rows()
    Ns = [int(n) for n in widths.split(",")] if widths else list(B3_N)
    t0 = time.time()
    rows = [{**sample_b3(B3_D, N, b3_choose_P(pilot, N), SEED + 7000 + 10 * N + k, 4, 4000), "draw": k}
            for N in Ns for k in range(4)]
    name = "_".join(str(n) for n in Ns)
    (HERE / f"rows_b3rep_N{name}.json").write_text(json.dumps({"rows": rows, "seconds": round(time.time() - t0, 1)}) + "\n")


def b3_rows(prefix):
    rows, secs = [], 0.0
    for f in sorted(HERE.glob(f"{prefix}_N*.json")):
        j = json.loads(f.read_text())
        rows += j["rows"]
        secs += j["seconds"]
    return sorted(rows, key=lambda r: r["N"]), secs


def b3_slope(rows, key, d=B3_D, per_alignment=False, prior_subtract=None, boots=2000, seed=0):
    """Least-squares slope of log(mean over chains of key) against log sqrt(N/d), with the standard
    deviation over bootstrap resamples of the chains within each N."""
    def values(r, idx):
        v = np.asarray(r[key], float)[idx]
        m = v.mean() - (prior_subtract(r) if prior_subtract else 0.0)
        if per_alignment:
            m = m / np.mean(np.asarray(r["align"], float)[idx])
        return m

    x = np.log(np.sqrt(np.array([r["N"] for r in rows]) / d))

    def slope(ms):
        ms = np.asarray(ms)
        if np.any(ms <= 0):
            return np.nan
        return float(np.polyfit(x, np.log(ms), 1)[0])

    full = [values(r, np.arange(len(r[key]))) for r in rows]
    rng = np.random.default_rng(seed)
    bs = [slope([values(r, rng.integers(0, len(r[key]), len(r[key]))) for r in rows]) for _ in range(boots)]
    bs = np.array(bs)
    good = np.isfinite(bs)
    return {"slope": slope(full), "slope_se": float(np.std(bs[good])), "boot_valid": int(good.sum()),
            "values": [float(v) for v in full], "sqrt_N_over_d": np.exp(x).tolist()}


def b3_rep_fit(rows, key, boots=2000, seed=0, per_alignment=False):
    """Slope of log(mean over data sets of the per-data-set chain mean of key) against log sqrt(N/d);
    error: bootstrap over the data sets within each width."""
    Ns = sorted({r["N"] for r in rows})
    x = np.log(np.sqrt(np.array(Ns) / B3_D))
    sub = (lambda N: prior_false_positives(B3_D, N, THETA)) if key.startswith("n_spec") else (lambda N: 0.0)  # noqa: E731
    per = [np.array([(np.mean(r[key]) - sub(N)) / (np.mean(r["align"]) if per_alignment else 1.0)
                     for r in rows if r["N"] == N]) for N in Ns]
    fit = lambda ms: float(np.polyfit(x, np.log(ms), 1)[0])     # noqa: E731
    rng = np.random.default_rng(seed)
    bs = [fit([v[rng.integers(0, len(v), len(v))].mean() for v in per]) for _ in range(boots)]
    return {"slope": fit([v.mean() for v in per]), "slope_se": float(np.std(bs)),
            "values": [float(v.mean()) for v in per], "draw_sd": [float(v.std(ddof=1)) for v in per],
            "align": [[float(np.mean(r["align"])) for r in rows if r["N"] == N] for N in Ns]}


def b3_joint_fit(rows, key, boots=2000, seed=0):
    """Post hoc (chosen after the main run): every (N, P, data set) point of the pilot, main and
    replicate runs, log M = c + b log sqrt(N/d) + g log A on the point means; b is the width exponent
    at fixed alignment. Error: bootstrap over the points (each has its own data set)."""
    X, Y, pts = [], [], []
    for r in rows:
        m, a = np.mean(r[key]), np.mean(r["align"])
        if key.startswith("n_spec"):
            m -= prior_false_positives(B3_D, r["N"], THETA)
        if m <= 0 or a <= 0:
            continue
        X.append([1.0, np.log(np.sqrt(r["N"] / B3_D)), np.log(a)])
        Y.append(np.log(m))
        pts.append((r["N"], a, m))
    X, Y = np.array(X), np.array(Y)
    coef = np.linalg.lstsq(X, Y, rcond=None)[0]
    rng = np.random.default_rng(seed)
    bs = np.array([np.linalg.lstsq(X[i], Y[i], rcond=None)[0]
                   for i in (rng.integers(0, len(Y), len(Y)) for _ in range(boots))])
    return {"b_width": float(coef[1]), "b_width_se": float(bs[:, 1].std()), "g_align": float(coef[2]),
            "g_align_se": float(bs[:, 2].std()), "points": len(Y),
            "rms_residual": float(np.sqrt(np.mean((Y - X @ coef) ** 2))), "data": pts, "intercept": float(coef[0])}


def make_b3_report():
    from neurons import prior_m_eff
    rows, seconds = b3_rows("rows_b3")
    se = lambda v: float(np.std(v, ddof=1) / np.sqrt(len(v)))     # noqa: E731
    fp = lambda r: prior_false_positives(B3_D, r["N"], THETA)     # noqa: E731
    fits = {"m_eff": b3_slope(rows, "m_eff"),
            "m_eff_per_alignment": b3_slope(rows, "m_eff", per_alignment=True),
            "m_he3": b3_slope(rows, "m_he3"), "m_50": b3_slope(rows, "m_50"),
            "threshold_final": b3_slope(rows, "n_spec_final", prior_subtract=fp),
            "threshold_sample_avg": b3_slope(rows, "n_spec_avg", prior_subtract=fp)}
    for f in fits.values():
        f["sigma_from_1"] = abs(f["slope"] - 1) / f["slope_se"] if f["slope_se"] > 0 else None
    table = []
    for r in rows:
        pm, ph = prior_m_eff(B3_D, r["N"], draws=2000)
        table.append({"N": r["N"], "P": r["P"], "align": float(np.mean(r["align"])), "align_se": se(r["align"]),
                      "m_eff": float(np.mean(r["m_eff"])), "m_eff_se": se(r["m_eff"]),
                      "m_eff_first_half": float(np.mean(r["m_eff_first_half"])),
                      "m_eff_second_half": float(np.mean(r["m_eff_second_half"])),
                      "m_he3": float(np.mean(r["m_he3"])), "m_he3_se": se(r["m_he3"]),
                      "m_50": float(np.mean(r["m_50"])), "m_50_se": se(r["m_50"]),
                      "n_spec_final": float(np.mean(r["n_spec_final"]) - fp(r)),
                      "n_spec_avg": float(np.mean(r["n_spec_avg"]) - fp(r)), "n_spec_avg_se": se(r["n_spec_avg"]),
                      "q_frac_aligned": float(np.mean(r.get("q_frac_aligned", [np.nan]))),
                      "prior_m_eff": pm, "prior_m_he3": ph, "train_mse": float(np.mean(r["train_mse"]))})
    pilot = b3_pilot_rows()
    rep = {"settings": {"d": B3_D, "N": list(B3_N), "A0": B3_A0, "pilot_c": list(B3_PILOT_C),
                        "members": B3_MEMBERS, "steps": B3_STEPS, "theta": THETA, "kappa": NOISE_VAR},
           "fits": fits, "table": table, "seconds": seconds,
           "pilot": [{"N": r["N"], "P": r["P"], "align": float(np.mean(r["align"])), "m_eff": float(np.mean(r["m_eff"]))}
                     for r in sorted(pilot, key=lambda r: (r["N"], r["P"]))]}
    rep_rows, rep_secs = b3_rows("rows_b3rep")
    if rep_rows:
        rep["replicates"] = {k: b3_rep_fit(rep_rows, k) for k in ("m_eff", "m_he3", "m_50", "n_spec_avg")}
        rep["replicates"]["m_eff_per_alignment"] = b3_rep_fit(rep_rows, "m_eff", per_alignment=True)
        rep["replicates"]["seconds"] = rep_secs
    allrows = pilot + rows + rep_rows
    rep["post_hoc_joint"] = {k: b3_joint_fit(allrows, k) for k in ("m_eff", "m_he3", "m_50", "n_spec_avg")}
    (HERE / "b3_report.json").write_text(json.dumps(rep, indent=1) + "\n")
    b3_plot(rep)
    print(json.dumps({k: {kk: vv for kk, vv in v.items() if kk != "sqrt_N_over_d"} for k, v in fits.items()}, indent=1))
    for t in table:
        print({k: round(v, 3) if isinstance(v, float) else v for k, v in t.items()})


def b3_plot(rep):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 4, figsize=(17, 3.9))
    ax = axes[0]
    for N in B3_N:
        ps = [p for p in rep["pilot"] if p["N"] == N]
        ax.plot([p["P"] / np.sqrt(N * B3_D) for p in ps], [p["align"] for p in ps], "o-", ms=3, label=f"N={N}")
    ax.axhline(B3_A0, color="k", lw=0.8, ls=":")
    for t in rep["table"]:
        ax.errorbar(t["P"] / np.sqrt(t["N"] * B3_D), t["align"], t["align_se"], marker="s", color="k", ms=4, capsize=2)
    ax.set_xscale("log")
    ax.set_xlabel("P / sqrt(N d)")
    ax.set_ylabel("alignment A")
    ax.set_title("pilot (lines), main run (squares)", fontsize=9)
    ax.legend(fontsize=7)
    ax = axes[1]
    x = np.array([t["N"] for t in rep["table"]]) / B3_D
    x = np.sqrt(x)
    for key, lab in (("m_eff", "M_eff (readout-weighted q)"), ("m_he3", "He3-share count"),
                     ("m_50", "M_50"), ("n_spec_avg", "|cos|>0.7, sample avg")):
        v = np.array([t[key] for t in rep["table"]])
        e = np.array([t.get(key + "_se", 0) for t in rep["table"]])
        f = rep["fits"]["threshold_sample_avg" if key == "n_spec_avg" else key]
        ax.errorbar(x, v, e, marker="o", ms=4, capsize=2, label=f"{lab}: slope {f['slope']:.2f} ± {f['slope_se']:.2f}")
    ax.plot(x, [t["prior_m_eff"] for t in rep["table"]], "k:", label="M_eff under the prior")
    if "replicates" in rep:
        f = rep["replicates"]["m_eff"]
        ax.plot(x * 1.04, f["values"], "s", mfc="none", color="C0",
                label=f"M_eff, 4 data sets: slope {f['slope']:.2f} ± {f['slope_se']:.2f}")
    m = np.array([t["m_eff"] for t in rep["table"]])
    ax.plot(x, np.exp(np.mean(np.log(m) - np.log(x))) * x, "k--", lw=0.8, label="slope 1 (derived)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("sqrt(N/d)")
    ax.set_ylabel("specialised neurons")
    ax.legend(fontsize=6)
    al = [t["align"] for t in rep["table"]]
    ax.set_title(f"main run: d = {B3_D}, {B3_MEMBERS} chains, measured A = {min(al):.2f}…{max(al):.2f}", fontsize=9)
    ax = axes[2]
    for key, lab in (("m_eff_first_half", "first half of samples"), ("m_eff_second_half", "second half")):
        ax.plot(x, [t[key] for t in rep["table"]], "o-", ms=4, label=lab)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("sqrt(N/d)")
    ax.set_ylabel("M_eff")
    ax.set_title("drift check", fontsize=9)
    ax.legend(fontsize=7)
    ax = axes[3]
    for i, (key, lab) in enumerate((("m_eff", "M_eff"), ("m_he3", "He3-share"), ("m_50", "M_50"))):
        j = rep["post_hoc_joint"][key]
        N, A, M = (np.array(v, float) for v in zip(*j["data"]))
        ax.plot(np.sqrt(N / B3_D) * (1 + 0.03 * i), M * (B3_A0 / A) ** j["g_align"], "o", ms=3, color=f"C{i}",
                label=f"{lab} x (A0/A)^{j['g_align']:.2f}: b = {j['b_width']:.2f} ± {j['b_width_se']:.2f}")
        xx = np.sqrt(np.array(sorted(set(N))) / B3_D)
        ax.plot(xx, np.exp(j["intercept"]) * B3_A0 ** j["g_align"] * xx ** j["b_width"], "-", color=f"C{i}", lw=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("sqrt(N/d)")
    ax.set_ylabel(f"count at A = {B3_A0} (fitted)")
    ax.set_title("post hoc: log M = c + b log sqrt(N/d) + g log A, all points", fontsize=9)
    ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(HERE / "specialists_b3.png", dpi=110)
    plt.close(fig)


# --------------------------------------------------------------------------- study B4 (README.md, declared)
B4_P = (64, 128, 256)
B4_DRAWS, B4_MEMBERS, B4_STEPS = 8, 4, 6000
B4_A_MIN = 0.05
B4_KEYS = ("m_he3", "m_eff", "m_50")          # primary first


def b4_jobs():
    jobs = [(N, iP, P, k) for N in B3_N for iP, P in enumerate(B4_P) for k in range(B4_DRAWS)]
    return sorted(jobs, key=lambda j: -j[0] * (j[2] + 64))      # roughly by cost, dealt round robin


def run_b4(part="1/1"):
    """Declared replication of B3's joint fit: every (N, P, data set) of the B4 design, part i of k."""
    i, k = (int(x) for x in part.split("/"))
    t0 = time.time()
    rows = [{**sample_b3(B3_D, N, P, SEED + 20000 + 10000 * iP + 10 * N + kk, B4_MEMBERS, B4_STEPS), "draw": kk}
            for (N, iP, P, kk) in b4_jobs()[i - 1::k]]
    (HERE / f"rows_b4_{i}of{k}.json").write_text(json.dumps({"rows": rows, "seconds": round(time.time() - t0, 1)}) + "\n")


def b4_joint_fit(rows, key, boots=2000, seed=0):
    """The declared B4 fit: OLS of log M = c + b log sqrt(N/d) + g log A, one point per data set
    (chain means), points with A <= B4_A_MIN or M <= 0 excluded; errors from a bootstrap over the
    data sets within each width."""
    pts = [(r["N"], float(np.mean(r["align"])), float(np.mean(r[key]))) for r in rows]
    kept = [p for p in pts if p[1] > B4_A_MIN and p[2] > 0]
    N, A, M = (np.array(v, float) for v in zip(*kept))
    X = np.vstack([np.ones(len(M)), np.log(np.sqrt(N / B3_D)), np.log(A)]).T
    Y = np.log(M)
    coef = np.linalg.lstsq(X, Y, rcond=None)[0]
    rng = np.random.default_rng(seed)
    groups = [np.nonzero(N == n)[0] for n in sorted(set(N))]
    bs = []
    for _ in range(boots):
        idx = np.concatenate([g[rng.integers(0, len(g), len(g))] for g in groups])
        bs.append(np.linalg.lstsq(X[idx], Y[idx], rcond=None)[0])
    bs = np.array(bs)
    b, bse = float(coef[1]), float(bs[:, 1].std())
    return {"b_width": b, "b_width_se": bse, "sigma_from_1": abs(b - 1) / bse, "pass_2sigma": bool(abs(b - 1) < 2 * bse),
            "g_align": float(coef[2]), "g_align_se": float(bs[:, 2].std()), "intercept": float(coef[0]),
            "points": int(len(Y)), "excluded": int(len(pts) - len(kept)),
            "rms_residual": float(np.sqrt(np.mean((Y - X @ coef) ** 2))), "data": kept}


def make_b4_report():
    rows, secs = [], 0.0
    for f in sorted(HERE.glob("rows_b4_*of*.json")):
        j = json.loads(f.read_text())
        rows += j["rows"]
        secs += j["seconds"]
    fits = {k: b4_joint_fit(rows, k) for k in B4_KEYS}
    cells = []
    for N in B3_N:
        for P in B4_P:
            rs = [r for r in rows if r["N"] == N and r["P"] == P]
            if not rs:
                continue
            a = np.array([np.mean(r["align"]) for r in rs])
            cells.append({"N": N, "P": P, "data_sets": len(rs), "align_mean": float(a.mean()), "align_sd": float(a.std(ddof=1)),
                          **{k: float(np.mean([np.mean(r[k]) for r in rs])) for k in B4_KEYS},
                          "m_eff_first_half": float(np.mean([np.mean(r["m_eff_first_half"]) for r in rs])),
                          "m_eff_second_half": float(np.mean([np.mean(r["m_eff_second_half"]) for r in rs]))})
    rep = {"settings": {"d": B3_D, "N": list(B3_N), "P": list(B4_P), "data_sets_per_cell": B4_DRAWS,
                        "members": B4_MEMBERS, "steps": B4_STEPS, "kappa": NOISE_VAR, "a_min": B4_A_MIN},
           "primary": "m_he3", "fits": fits, "cells": cells, "seconds": secs, "rows_total": len(rows)}
    (HERE / "b4_report.json").write_text(json.dumps(rep, indent=1) + "\n")
    b4_plot(rep)
    for k, f in fits.items():
        print(k, {kk: (round(v, 3) if isinstance(v, float) else v) for kk, v in f.items() if kk != "data"})
    for c in cells:
        print({k: round(v, 3) if isinstance(v, float) else v for k, v in c.items()})


def b4_plot(rep):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker  # noqa: F401
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for ax, key, lab in zip(axes, B4_KEYS, ("He3-share count (primary)", "M_eff", "M_50")):
        f = rep["fits"][key]
        N, A, M = (np.array(v, float) for v in zip(*f["data"]))
        x = np.sqrt(N / B3_D)
        sc = ax.scatter(x * np.exp(0.04 * np.random.default_rng(0).standard_normal(len(x))), M * (B3_A0 / A) ** f["g_align"],
                        c=A, s=12, cmap="viridis")
        xx = np.sqrt(np.array(sorted(set(N))) / B3_D)
        ax.plot(xx, np.exp(f["intercept"]) * B3_A0 ** f["g_align"] * xx ** f["b_width"], "k-", lw=1,
                label=f"fit: b = {f['b_width']:.2f} ± {f['b_width_se']:.2f}, g = {f['g_align']:.2f} ± {f['g_align_se']:.2f}")
        ax.plot(xx, np.exp(np.mean(np.log(M * (B3_A0 / A) ** f["g_align"]) - np.log(x))) * xx, "k--", lw=0.8,
                label="slope 1 (derived)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("sqrt(N/d)")
        ax.set_xticks(xx, [f"{v:.2f}" for v in xx])
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        ax.set_ylabel(f"count x (A0/A)^g, A0 = {B3_A0}")
        ax.set_title(f"B4 {lab}: {f['points']} data sets", fontsize=9)
        ax.legend(fontsize=7)
        fig.colorbar(sc, ax=ax, label="alignment A")
    fig.suptitle(f"B4 (declared): d = {B3_D}, P = {list(rep['settings']['P'])}, "
                 f"{rep['settings']['data_sets_per_cell']} data sets x {rep['settings']['members']} chains per (N, P); "
                 "log M = c + b log sqrt(N/d) + g log A", fontsize=9)
    fig.tight_layout()
    fig.savefig(HERE / "specialists_b4.png", dpi=110)
    plt.close(fig)


def main(argv):
    torch.set_num_threads(1)
    parts = argv or ["a", "b", "report"]
    if parts[0] in ("b3pilot", "b3", "b3rep", "b4"):
        return {"b3pilot": run_b3_pilot, "b3": run_b3, "b3rep": run_b3_replicates, "b4": run_b4}[parts[0]](*parts[1:2])
    for part in parts:
        {"b3report": make_b3_report, "b4report": make_b4_report, "a": run_a, "a24": run_a24, "b": run_b, "b2": run_b2, "steps": run_steps_check,
         "report": make_report}[part]()


if __name__ == "__main__":
    main(sys.argv[1:])
