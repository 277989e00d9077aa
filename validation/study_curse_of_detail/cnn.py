"""Curse-of-detail scaling in Langevin posteriors of a two-layer erf CNN with non-overlapping patches.

Target y = (6 n)^(-1/2) sum_{a=1}^{n} He3(w*.x_a) on n patches of dimension p (d = n p), network
conv(N channels, kernel = stride = p, valid) -> erf -> flatten -> dense, in the proportional limit
N = n = p = sqrt(d), where the derived law is P* ~ 2 kappa sqrt(N n p) = 2 kappa d^(3/4)
(docs/theory/scaling.md, "Convolution over non-overlapping patches"); the fully connected exponent
at N ~ d would be P* ~ d.  Alignment A = <f, y>/<y, y> of the posterior mean (1000 test points)
against P for p = 4, 6, 8 (d = 16, 36, 64): curves against P/d**a should collapse at a = 3/4, not 1.

    python validation/study_curse_of_detail/cnn.py run 4    # one d per call (p = 4, 6, 8), ~2-3 min each
    python validation/study_curse_of_detail/cnn.py report   # collapse fit, cnn_report.json, cnn_collapse.png

C2, the declared replication (README section C2): p = 3, 4, 6, 8, 10, the same grid of P/d^(3/4) for every p,
C2_DRAWS fresh data sets x C2_MEMBERS chains per (p, P), collapse cost bootstrapped over data sets:

    python validation/study_curse_of_detail/cnn.py c2lane 1     # run lanes 1 and 2 in parallel, repeat until "no jobs left"
    python validation/study_curse_of_detail/cnn.py c2 10 0-2    # (first invocations: p = 10, data sets 0..2; p = 8, 0..2)
    python validation/study_curse_of_detail/cnn.py c2report     # cnn_c2_report.json, cnn_collapse_c2.png
    python validation/study_curse_of_detail/cnn.py c2posthoc    # post-hoc additions to cnn_c2_report.json (after c2report)
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


# ---------------------------------------------------------------------------------------------
# C2: declared replication with a wider lever arm and several data sets per point (README, C2)

C2_PATCH = (3, 4, 6, 8, 10)                       # p = n = N, d = p**2 = 9 ... 100
C2_X = tuple(2 * np.sqrt(2) * np.sqrt(2) ** k for k in range(9))   # P / d^(3/4) = 2.83 ... 45.3
C2_DRAWS, C2_MEMBERS, C2_STEPS = 4, 2, 4000      # declared 6 data sets; amended to 4 (README, C2)
C2_EQ_AFTER, C2_EQ_DRAWS = 2, 3                   # equilibration check: after draw 2, on draws 0..2
C2_SEED = 50000
C2_A0 = 0.2                                       # onset level of the secondary (crossing-point) fit
C2_EXPONENTS = (0.5, 0.75, 1.0, 1.5)


def c2_P(p):
    return [int(round(x * (p * p) ** 0.75)) for x in C2_X]


def c2_seed(p, ix, k):
    return C2_SEED + 1000 * p + 10 * ix + k


def sample_c2(p, P, seed, members=C2_MEMBERS, steps=C2_STEPS):
    """One data set (seeded by seed) and `members` chains on it; as `sample`, with members/steps given."""
    data = patch_data(P, 1000, p, p, seed)
    tr = Langevin(step_size=step_size(P), steps=steps, burn_in=steps // 2, thin=10, rao_blackwell=False)
    r = run_ensemble(spec(p), data, p, members, tr, seed=seed, dtype="float32", threads=1)
    y = data.y_test[:, 0]
    align = r["mean_f"][..., 0] @ y / (y @ y)
    return {"d": p * p, "p": p, "N": p, "P": P, "seed": seed, "steps": steps, "align": align.tolist(),
            "train_mse": (2 * np.asarray(r["train_loss"]) / P).tolist()}


def run_c2(ps, draws=None):
    """Every grid point of the patch sizes `ps` for the data sets `draws` (default all); rows saved
    after every data set to rows_c2_p{ps}_ds{draws}.json."""
    torch.set_num_threads(1)
    draws = list(range(C2_DRAWS)) if draws is None else draws
    tag = f"p{'_'.join(map(str, ps))}" + ("" if len(draws) == C2_DRAWS else f"_ds{draws[0]}-{draws[-1]}")
    rows, t0 = [], time.time()
    for p in ps:
        for ix, P in enumerate(c2_P(p)):
            for k in draws:
                rows.append({**sample_c2(p, P, c2_seed(p, ix, k)), "ix": ix, "draw": k})
                (HERE / f"rows_c2_{tag}.json").write_text(json.dumps({"rows": rows, "seconds": round(time.time() - t0, 1)}) + "\n")
            a = [np.mean(r["align"]) for r in rows if r["p"] == p and r["P"] == P]
            print(f"p={p} P={P} A={np.mean(a):.3f} (data sets {np.round(a, 3).tolist()}) {time.time() - t0:.0f}s", flush=True)


def c2_rows(prefix="rows_c2_"):
    """All recorded C2 rows (4000-step main runs), one per (p, P, draw)."""
    rows, seen = [], set()
    for f in sorted(HERE.glob(prefix + "*.json")):
        for r in json.loads(f.read_text())["rows"]:
            if (r["p"], r["P"], r["draw"]) not in seen:
                seen.add((r["p"], r["P"], r["draw"]))
                rows.append(r)
    return rows


def c2_complete_draws(rows):
    """The analysed data sets: draws 0 .. K-1 for the largest K <= C2_DRAWS with every (p, P) present (p of the rows)."""
    have = {(r["p"], r["P"], r["draw"]) for r in rows}
    K = 0
    while K < C2_DRAWS and all((p, P, K) in have for p in sorted({r["p"] for r in rows}) for P in c2_P(p)):
        K += 1
    return K


def c2_cost_estimate(p, P, steps=C2_STEPS):
    """CPU seconds of one data set (2 chains) on the shared machine, from the first C2 timings."""
    return (4.3 + 3.4e-4 * P * p * p) * steps / C2_STEPS


def c2_jobs():
    """Main runs draw by draw (so that an interrupted study still has complete draws), each draw's points
    by decreasing cost; the equilibration jobs after draw C2_EQ_AFTER."""
    jobs = []
    for k in range(C2_DRAWS):
        pts = sorted(((p, ix, P) for p in C2_PATCH for ix, P in enumerate(c2_P(p))), key=lambda j: -c2_cost_estimate(j[0], j[2]))
        jobs += [("main", p, ix, P, k) for (p, ix, P) in pts]
        if k == C2_EQ_AFTER:
            jobs += [("eq", max(C2_PATCH), None, None, kk) for kk in range(C2_EQ_DRAWS)]
    return jobs


def c2_eq_point(wait=True):
    """The p = 10 grid point whose mean alignment over draws 0 .. C2_EQ_DRAWS-1 (4000 steps) is nearest C2_A0."""
    p = max(C2_PATCH)
    while True:
        rows = [r for r in c2_rows() if r["p"] == p and r["draw"] < C2_EQ_DRAWS]
        if len(rows) == len(C2_X) * C2_EQ_DRAWS or not wait:
            break
        time.sleep(10)
    cells = {}
    for r in rows:
        cells.setdefault((r["ix"], r["P"]), []).append(r)
    return min(cells.items(), key=lambda kv: abs(np.mean([np.mean(r["align"]) for r in kv[1]]) - C2_A0))


def run_c2_lane(lane, budget_s=540.0):
    """Claim the next unclaimed job (claim files in c2_claims/), run it, repeat until the jobs are done or the
    next one would end past budget_s; rows of this invocation in rows_c2_lane{lane}_{time}.json, equilibration
    rows in c2_eq_lane{lane}_{time}.json."""
    import os
    torch.set_num_threads(1)
    claims = HERE / "c2_claims"
    claims.mkdir(exist_ok=True)
    stamp = time.strftime("%H%M%S")
    rows, eq, t0 = [], [], time.time()
    done = {(r["p"], r["P"], r["draw"]) for r in c2_rows()}
    for kind, p, ix, P, k in c2_jobs():
        if kind == "main" and (p, P, k) in done:
            continue
        name = claims / f"{kind}_{p}_{ix}_{k}"
        if name.exists():
            continue
        est = 1.5 * c2_cost_estimate(p, P if P else c2_P(p)[5], C2_STEPS if kind == "main" else 2 * C2_STEPS)
        if time.time() - t0 + est > budget_s:
            print(f"lane {lane}: budget reached before {kind} p={p} P={P} draw={k}", flush=True)
            return
        try:
            os.close(os.open(name, os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            continue
        if kind == "main":
            rows.append({**sample_c2(p, P, c2_seed(p, ix, k)), "ix": ix, "draw": k})
            (HERE / f"rows_c2_lane{lane}_{stamp}.json").write_text(json.dumps({"rows": rows, "seconds": round(time.time() - t0, 1)}) + "\n")
            print(f"p={p} P={P} draw={k} A={np.mean(rows[-1]['align']):.3f} {time.time() - t0:.0f}s", flush=True)
        else:
            (eix, eP), short = c2_eq_point()
            r0 = next(r for r in short if r["draw"] == k)
            eq.append({**sample_c2(p, eP, r0["seed"], steps=2 * C2_STEPS), "ix": eix, "draw": k, "short_align": r0["align"]})
            (HERE / f"c2_eq_lane{lane}_{stamp}.json").write_text(json.dumps({"rows": eq, "seconds": round(time.time() - t0, 1)}) + "\n")
            print(f"eq p={p} P={eP} draw={k}: A {np.mean(r0['align']):.3f} -> {np.mean(eq[-1]['align']):.3f} {time.time() - t0:.0f}s", flush=True)
    print(f"lane {lane}: no jobs left", flush=True)


def c2_curves(rows):
    """Per p: log d, the P grid, the per-data-set alignments (chain means) as a (points, draws) list,
    for the complete draws 0 .. K-1 only."""
    K = c2_complete_draws(rows)
    rows = [r for r in rows if r["draw"] < K]
    out = []
    for p in sorted({r["p"] for r in rows}):
        Ps = sorted({r["P"] for r in rows if r["p"] == p})
        vals = [[float(np.mean(r["align"])) for r in sorted((r for r in rows if r["p"] == p and r["P"] == P),
                                                             key=lambda r: r["draw"])] for P in Ps]
        out.append({"p": p, "d": p * p, "P": np.array(Ps, float), "vals": vals})
    return out


def c2_se(curves):
    return [np.array([np.std(v, ddof=1) / np.sqrt(len(v)) for v in c["vals"]]) for c in curves]


def c2_cost(curves, means, ses, a):
    """Section C's collapse cost (run.collapse_cost): mean over pairs of d of the mean squared mismatch,
    in standard errors, between the curves A(log P - a log d) on their common range (25 points, linear
    interpolation), with the per-point mean and SE given (here over data sets)."""
    xs_ = [np.log(c["P"]) - a * np.log(c["d"]) for c in curves]
    tot, n = 0.0, 0
    for i in range(len(curves)):
        for j in range(i + 1, len(curves)):
            x1, x2 = xs_[i], xs_[j]
            lo, hi = max(x1[0], x2[0]), min(x1[-1], x2[-1])
            if hi <= lo:
                continue
            xs = np.linspace(lo, hi, 25)
            diff = np.interp(xs, x1, means[i]) - np.interp(xs, x2, means[j])
            var = np.interp(xs, x1, ses[i]) ** 2 + np.interp(xs, x2, ses[j]) ** 2
            tot += float(np.mean(diff**2 / np.maximum(var, 1e-6)))
            n += 1
    return tot / max(n, 1)


def c2_onset(curve_P, mean, a0=None):
    """log P where the running maximum of the mean alignment first reaches a0 (default C2_A0; linear in log P);
    nan if never."""
    a0 = C2_A0 if a0 is None else a0
    m = np.maximum.accumulate(np.asarray(mean))
    i = int(np.argmax(m >= a0))
    if m[i] < a0:
        return np.nan
    if i == 0:
        return float(np.log(curve_P[0]))
    lp = np.log(curve_P)
    return float(lp[i - 1] + (a0 - m[i - 1]) / (m[i] - m[i - 1]) * (lp[i] - lp[i - 1]))


def c2_onset_slope(curves, means):
    ld = np.log([c["d"] for c in curves])
    lp = np.array([c2_onset(c["P"], m) for c, m in zip(curves, means)])
    ok = np.isfinite(lp)
    if ok.sum() < 2:
        return np.nan, lp
    return float(np.polyfit(ld[ok], lp[ok], 1)[0]), lp


def c2_fit(rows, grid=np.round(np.arange(0.0, 3.0001, 0.01), 2), boot_grid=np.round(np.arange(0.0, 3.0001, 0.02), 2),
           boots=1000, seed=0):
    curves = c2_curves(rows)
    ses = c2_se(curves)
    means = [np.array([np.mean(v) for v in c["vals"]]) for c in curves]
    costs = np.array([c2_cost(curves, means, ses, a) for a in grid])
    best = float(grid[np.argmin(costs)])
    slope, lp = c2_onset_slope(curves, means)
    rng = np.random.default_rng(seed)
    bs_best, bs_cost, bs_slope = [], [], []
    for _ in range(boots):
        mb = [np.array([np.mean(np.asarray(v)[rng.integers(0, len(v), len(v))]) for v in c["vals"]]) for c in curves]
        cb = np.array([c2_cost(curves, mb, ses, a) for a in boot_grid])
        bs_best.append(float(boot_grid[np.argmin(cb)]))
        bs_cost.append([c2_cost(curves, mb, ses, a) for a in C2_EXPONENTS])
        bs_slope.append(c2_onset_slope(curves, mb)[0])
    bs_best, bs_cost, bs_slope = np.array(bs_best), np.array(bs_cost), np.array(bs_slope)
    err = float(bs_best.std())
    fs = bs_slope[np.isfinite(bs_slope)]
    return {"best_exponent": best, "bootstrap_sd": err,
            "bootstrap_quantiles_2.5_50_97.5": np.percentile(bs_best, [2.5, 50, 97.5]).tolist(),
            "collapse_cost": {str(a): c2_cost(curves, means, ses, a) for a in C2_EXPONENTS},
            "collapse_cost_bootstrap_sd": {str(a): float(s) for a, s in zip(C2_EXPONENTS, bs_cost.std(0))},
            "sigma_from": {str(a): abs(a - best) / err for a in C2_EXPONENTS},
            "pass_0.75_within_2sigma": bool(abs(0.75 - best) < 2 * err),
            "excluded_2sigma": {str(a): bool(abs(a - best) > 2 * err) for a in (0.5, 1.0)},
            "onset_level": C2_A0, "onset_logP": dict(zip(map(str, (c["p"] for c in curves)), lp.tolist())),
            "onset_slope": slope, "onset_slope_bootstrap_sd": float(fs.std()) if len(fs) else None,
            "onset_slope_bootstrap_finite": int(len(fs)),
            "grid": grid.tolist(), "costs": costs.tolist()}


def c2_eq_summary():
    long = [r for f in sorted(HERE.glob("c2_eq_lane*.json")) for r in json.loads(f.read_text())["rows"]]
    if len(long) < 2:
        return None
    long = sorted(long, key=lambda r: r["draw"])
    a = np.array([np.mean(r["short_align"]) for r in long])
    b = np.array([np.mean(r["align"]) for r in long])
    se_short = float(a.std(ddof=1) / np.sqrt(len(a)))
    dd = b - a
    return {"p": long[0]["p"], "P": long[0]["P"], "x": long[0]["P"] / long[0]["d"] ** 0.75, "data_sets": len(long),
            "A_4000": float(a.mean()), "A_4000_se": se_short, "A_8000": float(b.mean()),
            "A_8000_se": float(b.std(ddof=1) / np.sqrt(len(b))), "difference": float(dd.mean()),
            "paired_difference_se": float(dd.std(ddof=1) / np.sqrt(len(dd))), "pass_within_se": bool(abs(dd.mean()) <= se_short),
            "per_draw_4000": a.tolist(), "per_draw_8000": b.tolist()}


def report_c2():
    from run import collapse_cost as collapse_cost_c
    rows = c2_rows()
    fit = c2_fit(rows)
    curves = c2_curves(rows)
    # the statistic is section C's: on rows whose "align" lists are the per-data-set values it agrees with run.collapse_cost
    as_c = [{"d": c["d"], "P": P, "align": v} for c in curves for P, v in zip(c["P"], c["vals"])]
    for a in C2_EXPONENTS:
        assert abs(collapse_cost_c(as_c, a) - fit["collapse_cost"][str(a)]) < 1e-9 * (1 + fit["collapse_cost"][str(a)])
    cells = [{"p": c["p"], "d": c["d"], "P": int(P), "x": float(P / c["d"] ** 0.75), "data_sets": len(v),
              "A_mean": float(np.mean(v)), "A_sd_data_sets": float(np.std(v, ddof=1)),
              "A_sd_chains_within": float(np.mean([np.std(r["align"], ddof=1) for r in rows if r["p"] == c["p"] and r["P"] == P])),
              "train_mse": float(np.mean([np.mean(r["train_mse"]) for r in rows if r["p"] == c["p"] and r["P"] == P]))}
             for c in curves for P, v in zip(c["P"], c["vals"])]
    c_prev = json.loads((HERE / "cnn_report.json").read_text())
    w1, w2 = 1 / c_prev["bootstrap_sd"] ** 2, 1 / fit["bootstrap_sd"] ** 2
    comb = (w1 * c_prev["best_exponent"] + w2 * fit["best_exponent"]) / (w1 + w2)
    combined = {"C_best": c_prev["best_exponent"], "C_sd_chains": c_prev["bootstrap_sd"],
                "C2_best": fit["best_exponent"], "C2_sd_data_sets": fit["bootstrap_sd"],
                "difference_sigma": abs(c_prev["best_exponent"] - fit["best_exponent"]) / np.hypot(c_prev["bootstrap_sd"], fit["bootstrap_sd"]),
                "inverse_variance_mean": comb, "inverse_variance_sd": (w1 + w2) ** -0.5}
    secs = sum(json.loads(f.read_text())["seconds"] for f in list(HERE.glob("rows_c2_*.json")) + list(HERE.glob("c2_eq_lane*.json")))
    out = {"settings": {"p": sorted({c["p"] for c in curves}), "x_grid": list(C2_X), "data_sets": c2_complete_draws(rows),
                        "members": C2_MEMBERS, "steps": C2_STEPS, "kappa": NOISE_VAR, "seed_base": C2_SEED},
           "fit": {k: v for k, v in fit.items() if k not in ("grid", "costs")}, "cells": cells,
           "equilibration": c2_eq_summary(), "combined_with_C": combined, "seconds_rows": secs}
    (HERE / "cnn_c2_report.json").write_text(json.dumps(out, indent=1) + "\n")
    c2_plot(curves, fit)
    print(json.dumps({k: v for k, v in out.items() if k != "cells"}, indent=1))
    for c in cells:
        print({k: round(v, 3) if isinstance(v, float) else v for k, v in c.items()})


def report_c2_post_hoc():
    """Analyses chosen after the declared C2 result was seen (README, C2 results, "post hoc"): the collapse fit
    without the smallest d, the onset slope at other levels and between neighbouring d, and the plateau per d."""
    global C2_A0
    rows = c2_rows()
    out = {}
    for ps in ((4, 6, 8, 10), (6, 8, 10), (3, 4, 6)):
        f = c2_fit([r for r in rows if r["p"] in ps])
        out[f"collapse_p{'_'.join(map(str, ps))}"] = {k: f[k] for k in ("best_exponent", "bootstrap_sd", "bootstrap_quantiles_2.5_50_97.5",
                                                                         "collapse_cost", "onset_slope", "onset_slope_bootstrap_sd")}
    a0 = C2_A0
    for lev in (0.1, 0.15, 0.25):
        C2_A0 = lev
        f = c2_fit(rows, boots=300)
        out[f"onset_level_{lev}"] = {"slope": f["onset_slope"], "sd": f["onset_slope_bootstrap_sd"],
                                     "finite_boots_of_300": f["onset_slope_bootstrap_finite"], "logP": f["onset_logP"]}
    C2_A0 = a0
    curves = c2_curves(rows)
    lp = [c2_onset(c["P"], [np.mean(v) for v in c["vals"]]) for c in curves]
    ld = np.log([c["d"] for c in curves])
    out["onset_local_slopes_A0.2"] = {f"{curves[i]['d']}-{curves[i + 1]['d']}": float((lp[i + 1] - lp[i]) / (ld[i + 1] - ld[i]))
                                      for i in range(len(curves) - 1)}
    out["plateau_mean_A_top_two_x"] = {str(c["d"]): float(np.mean(c["vals"][-2:])) for c in curves}
    rep = json.loads((HERE / "cnn_c2_report.json").read_text())
    rep["post_hoc"] = out
    (HERE / "cnn_c2_report.json").write_text(json.dumps(rep, indent=1) + "\n")
    print(json.dumps(out, indent=1))


def c2_plot(curves, fit):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 5, figsize=(22, 4))
    for ax, a in zip(axes[:3], (0.5, 0.75, 1.0)):
        for c in curves:
            m = [np.mean(v) for v in c["vals"]]
            se = [np.std(v, ddof=1) / np.sqrt(len(v)) for v in c["vals"]]
            ax.errorbar(c["P"] / c["d"] ** a, m, se, marker="o", ms=3, label=f"d = {c['d']}")
        ax.set_xscale("log")
        ax.set_xlabel(f"P / d^{a}" + (" (derived)" if a == 0.75 else " (FC exponent)" if a == 1 else ""))
        ax.set_ylabel("alignment A (mean over data sets)")
        ax.set_title(f"collapse cost {fit['collapse_cost'][str(a)]:.1f}", fontsize=9)
        ax.legend(fontsize=7)
    ax = axes[3]
    ax.plot(fit["grid"], fit["costs"])
    ax.axvline(0.75, ls="--", c="k", label="3/4 (derived)")
    ax.axvline(1.0, ls=":", c="r", label="1 (FC)")
    ax.axvspan(fit["best_exponent"] - fit["bootstrap_sd"], fit["best_exponent"] + fit["bootstrap_sd"], color="C1", alpha=0.3,
               label=f"best {fit['best_exponent']:.2f} ± {fit['bootstrap_sd']:.2f}")
    ax.set_yscale("log")
    ax.set_xlabel("collapse exponent a")
    ax.set_ylabel("collapse cost")
    ax.legend(fontsize=7)
    ax = axes[4]
    d = np.array([c["d"] for c in curves], float)
    lp = np.array([fit["onset_logP"][str(c["p"])] for c in curves])
    ok = np.isfinite(lp)
    ax.plot(d[ok], np.exp(lp[ok]), "o")
    if np.isfinite(fit["onset_slope"]):
        c0 = np.mean(lp[ok] - fit["onset_slope"] * np.log(d[ok]))
        ax.plot(d, np.exp(c0) * d ** fit["onset_slope"], "k-", lw=1,
                label=f"slope {fit['onset_slope']:.2f} ± {fit['onset_slope_bootstrap_sd'] or float('nan'):.2f}")
        c1 = np.mean(lp[ok] - 0.75 * np.log(d[ok]))
        ax.plot(d, np.exp(c1) * d ** 0.75, "k--", lw=0.8, label="slope 3/4")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("d")
    ax.set_ylabel(f"P where A first reaches {C2_A0}")
    ax.legend(fontsize=7)
    fig.suptitle(f"C2 (declared): two-layer erf CNN, N = n = p = sqrt(d), {len(curves[0]['vals'][0])} data sets x {C2_MEMBERS} chains per point; "
                 "error bars: SE over data sets", fontsize=9)
    fig.tight_layout()
    fig.savefig(HERE / "cnn_collapse_c2.png", dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    if sys.argv[1] == "run":
        run(int(sys.argv[2]))
    elif sys.argv[1] == "c2":
        draws = None
        if len(sys.argv) > 3:
            lo, hi = (int(v) for v in sys.argv[3].split("-"))
            draws = list(range(lo, hi + 1))
        run_c2([int(v) for v in sys.argv[2].split(",")], draws)
    elif sys.argv[1] == "c2lane":
        run_c2_lane(int(sys.argv[2]))
    elif sys.argv[1] == "c2report":
        report_c2()
    elif sys.argv[1] == "c2posthoc":
        report_c2_post_hoc()
    else:
        report()
