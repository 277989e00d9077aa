"""Curse-of-detail scaling in Langevin posteriors of a softmax attention head (README section D).

Network (the spec below, built by mftsym.validate's autograd path): tokens x_t in R^d, t = 1..L,
i.i.d. N(0, I_d); one softmax head (H = 1, key and value width d, standard parametrization, query
and key weights tied: the library's "linear" logit scaling), N output channels, erf, flatten,
dense(1).  Target y = He3(w*.x_1)/sqrt(6), |w*| = 1 (a cubic of the first token, unit variance).
Derived (mftsym scaling, docs/theory/scaling.md "Softmax attention head"), at d = 2, N = 16 and
L = 8..32: the pattern attn+spec1 wins with P*/kappa ~ 3 (H L N d)^(1/3), so at fixed d, N the
alignment curves A(P) of different L should collapse against P / L**(1/3); the lazy head (P* ~
L d^3) and a readout that must find the token among L positions give P ~ L (exponent 1).

    python validation/study_curse_of_detail/attention.py derived      # the derived phases at the design's sizes
    python validation/study_curse_of_detail/attention.py run 1/2      # main run, part i of k (rows_attn_1of2.json)
    python validation/study_curse_of_detail/attention.py ext 1/4      # extension: data sets 2, 3 (rows_attnext_*.json)
    python validation/study_curse_of_detail/attention.py ext2 1/4     # post hoc: data sets 4-7 (rows_attnext2_*.json)
    python validation/study_curse_of_detail/attention.py steps        # equilibration: 2x steps (rows_attn_steps.json)
    python validation/study_curse_of_detail/attention.py eps          # step size: half the step, 2x steps (rows_attn_eps.json)
    python validation/study_curse_of_detail/attention.py report       # attention_report.json, attention_collapse.png

The collapse cost and its bootstrap are run.py's (imported, not copied); they group the curves by
the key "d", so the rows are handed to them with "d" set to the varied scale variable L.
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
D, N, HEADS = 2, 16, 1
L_LIST = (8, 16, 32)
P_LIST = (16, 32, 64, 128, 256)
DRAWS, MEMBERS, STEPS = 2, 4, 4000
SEED = 40000
DERIVED, WRONG = 1 / 3, 1.0
EXPONENTS = (0.0, 1 / 3, 0.5, 0.75, 1.0, 1.5, 3.0)
STEPS_CHECK = (16, 128, 0)          # (L, P, draw) rerun with twice the steps


def spec(L, d=D):
    return Spec.from_dict({"network": {"input_shape": [L, d], "parametrization": "standard", "layers": [
        {"type": "attention", "width": "N", "heads": HEADS, "key_width": d, "value_width": d,
         "mechanism": "softmax"},
        {"type": "activation", "fn": "erf"}, {"type": "flatten"},
        {"type": "dense", "width": 1, "weight_var": 1}]},
        "params": {"s2": NOISE_VAR}, "posterior": {"noise_var": "s2"}})


def token_data(P, n_test, L, d, seed):
    """x ~ N(0, I_{L d}) read as L tokens of dimension d (row-major, as the spec's input_shape
    [L, d]); y = He3(w*.x_1)/sqrt(6), |w*| = 1."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(d)
    w /= np.linalg.norm(w)
    x = rng.standard_normal((P + n_test, L * d))
    z = x[:, :d] @ w
    y = ((z**3 - 3 * z) / np.sqrt(6))[:, None]
    return Dataset(x[:P], y[:P], x[P:], y[P:])


def seed_of(L, P, draw):
    return SEED + 10000 * draw + 1000 * L.bit_length() + P


def sample(L, P, draw, steps=STEPS, members=MEMBERS):
    seed = seed_of(L, P, draw)
    data = token_data(P, 1000, L, D, seed)
    tr = Langevin(step_size=step_size(P), steps=steps, burn_in=steps // 2, thin=10, rao_blackwell=False)
    t0 = time.time()
    r = run_ensemble(spec(L), data, N, members, tr, seed=seed, dtype="float32")
    y = data.y_test[:, 0]
    align = r["mean_f"][..., 0] @ y / (y @ y)
    return {"L": L, "d": D, "N": N, "P": P, "draw": draw, "steps": steps, "align": align.tolist(),
            "train_mse": (2 * np.asarray(r["train_loss"]) / P).tolist(),
            "rhat_median": float(np.nanmedian(r["rhat"])) if "rhat" in r else None, "seconds": round(time.time() - t0, 1)}


EXT_DRAWS = (2, 3)        # extension (README D, declared during the main run): two more data sets per point
EXT2_DRAWS = (4, 5, 6, 7)  # second extension, declared after the first result was seen (post hoc)


def jobs(draws=range(DRAWS)):
    js = [(L, P, k) for k in draws for L in L_LIST for P in P_LIST]
    return sorted(js, key=lambda j: -(j[0] * j[1] + 40 * j[0]))      # roughly by cost, dealt round robin


def run(part="1/1", which="run"):
    torch.set_num_threads(1)
    i, k = (int(x) for x in part.split("/"))
    out = HERE / f"rows_attn{'' if which == 'run' else which}_{i}of{k}.json"
    rows = json.loads(out.read_text())["rows"] if out.exists() else []      # resume: keep what is done
    done = {(r["L"], r["P"], r["draw"]) for r in rows}
    t0 = time.time()
    draws = {"run": range(DRAWS), "ext": EXT_DRAWS, "ext2": EXT2_DRAWS}[which]
    for L, P, draw in jobs(draws)[i - 1::k]:
        if (L, P, draw) in done:
            continue
        rows.append(sample(L, P, draw))
        print(f"L={L} P={P} draw={draw} align={np.mean(rows[-1]['align']):.3f} ({time.time() - t0:.0f}s)", flush=True)
        out.write_text(json.dumps({"rows": rows, "seconds": round(time.time() - t0, 1)}) + "\n")


def main_rows(prefix="rows_attn"):
    rows = []
    for f in sorted(HERE.glob(f"{prefix}_*of*.json")):
        rows += json.loads(f.read_text())["rows"]
    return rows


def run_steps_check(kind="steps"):
    """kind "steps": the STEPS_CHECK point with twice the steps (the main run's chains are the short
    ones: same seed, same data); kind "eps": half the step size and twice the steps (same time)."""
    global step_size
    torch.set_num_threads(1)
    L, P, draw = STEPS_CHECK
    path = HERE / f"rows_attn_{kind}.json"
    rows = {}
    short = [r for r in main_rows() if (r["L"], r["P"], r["draw"]) == STEPS_CHECK and r["steps"] == STEPS]
    rows["short"] = short[0] if short else sample(L, P, draw)
    if kind == "steps":
        rows["long"] = sample(L, P, draw, steps=2 * STEPS)
    else:
        base = step_size
        step_size = lambda P: base(P) / 2      # noqa: E731
        try:
            rows["half_step"] = {**sample(L, P, draw, steps=2 * STEPS), "step_size": base(P) / 2}
        finally:
            step_size = base
    path.write_text(json.dumps(rows, indent=1) + "\n")
    print({k: (np.mean(v["align"]), np.std(v["align"], ddof=1) / np.sqrt(len(v["align"]))) for k, v in rows.items()})


def derived_table():
    """The derived winner and P* at each L of the design (from mftsym.scaling, not assumed)."""
    from mftsym.scaling.derive import derive_scaling
    from mftsym.scaling.phases import winners_at
    out = []
    for L in L_LIST:
        res = derive_scaling(spec(L), "He3", steps=33)
        sc = res.per_degree[0].scalings
        g = {"d": np.log(D), "N": np.log(N), "L": np.log(L)}
        best, wins = winners_at(sc, g)
        costs = {s.pattern.name: float(np.exp(s.exponent(g)[0])) for s in sc}
        out.append({"L": L, "winners": [s.pattern.name for s, _ in wins],
                    "P_star_over_kappa": [str(r.cost.to_sympy()) for _, r in wins],
                    "order_parameters": [{k: str(v) for k, v in r.values.items()} for _, r in wins],
                    "pattern_costs": costs})
    return out


def pooled(rows):
    """One row per (L, P): the chains of all data sets pooled; "d" set to L for run.py's tools."""
    out = []
    for L in sorted({r["L"] for r in rows}):
        for P in sorted({r["P"] for r in rows if r["L"] == L}):
            rs = [r for r in rows if r["L"] == L and r["P"] == P]
            out.append({"d": L, "L": L, "P": P, "align": [a for r in rs for a in r["align"]],
                        "draw_means": [float(np.mean(r["align"])) for r in rs],
                        "train_mse": float(np.mean([np.mean(r["train_mse"]) for r in rs]))})
    return out


def draw_bootstrap(rows, boots=200, seed=1, grid=np.linspace(0.0, 3.0, 61)):
    """Secondary error bar: resample the data sets of each (L, P) (then their chains), refit."""
    rng = np.random.default_rng(seed)
    by = {}
    for r in rows:
        by.setdefault((r["L"], r["P"]), []).append(r)
    bs = []
    for _ in range(boots):
        rb = []
        for (L, P), rs in by.items():
            al = []
            for j in rng.integers(0, len(rs), len(rs)):
                a = rs[j]["align"]
                al += [a[i] for i in rng.integers(0, len(a), len(a))]
            rb.append({"d": L, "P": P, "align": al})
        bs.append(float(grid[np.argmin([collapse_cost(rb, a) for a in grid])]))
    return float(np.std(bs))


def analysis(rows, grid=np.linspace(0.0, 3.0, 301)):
    """The declared collapse fit on ``rows`` (chains of all data sets pooled per (L, P))."""
    pts = pooled(rows)
    best, err, costs = fit_collapse(pts, grid)
    table = {f"{a:.4g}": collapse_cost(pts, a) for a in EXPONENTS}
    per_draw = {}
    for k in sorted({r["draw"] for r in rows}):
        b, e, _ = fit_collapse(pooled([r for r in rows if r["draw"] == k]), grid)
        per_draw[str(k)] = {"best": b, "bootstrap_sd": e}
    drops = []                 # A falling with P by more than 2 combined SE: a sign of unequilibrated / stuck chains
    for L in sorted({p["L"] for p in pts}):
        ps = sorted((p for p in pts if p["L"] == L), key=lambda p: p["P"])
        for a, b in zip(ps, ps[1:]):
            se = np.hypot(*(np.std(q["align"], ddof=1) / np.sqrt(len(q["align"])) for q in (a, b)))
            if np.mean(b["align"]) < np.mean(a["align"]) - 2 * se:
                drops.append([L, a["P"], b["P"]])
    return {"data_sets": sorted({r["draw"] for r in rows}), "best_exponent": best, "bootstrap_sd_chains": err,
            "bootstrap_sd_data_sets": draw_bootstrap(rows), "collapse_cost": table, "per_data_set": per_draw,
            "pass_2sigma": bool(abs(best - DERIVED) < 2 * err),
            "pass_cost": bool(table[f"{DERIVED:.4g}"] < table[f"{WRONG:.4g}"]),
            "wrong_within_2sigma": bool(abs(best - WRONG) < 2 * err), "alignment_drops_2se": drops,
            "points": [{k: v for k, v in p.items() if k != "d"} | {
                "align_mean": float(np.mean(p["align"])),
                "align_se": float(np.std(p["align"], ddof=1) / np.sqrt(len(p["align"])))} for p in pts],
            "seconds": float(sum(r["seconds"] for r in rows)), "_costs": costs, "_pts": pts}


def report():
    grid = np.linspace(0.0, 3.0, 301)
    main = analysis(main_rows(), grid)
    ext_rows = main_rows("rows_attnext")
    ext = analysis(main_rows() + ext_rows, grid) if ext_rows else None
    ext2_rows = main_rows("rows_attnext2")
    ext2 = analysis(main_rows() + ext_rows + ext2_rows, grid) if ext2_rows else None
    out = {"settings": {"d": D, "N": N, "heads": HEADS, "L": list(L_LIST), "P": list(P_LIST), "data_sets": DRAWS,
                        "extension_data_sets": list(EXT_DRAWS), "members": MEMBERS, "steps": STEPS,
                        "kappa": NOISE_VAR, "step_size": "min(4e-3, 0.256/P)"},
           "derived": derived_table(), "derived_exponent": DERIVED, "wrong_exponent": WRONG,
           "main": {k: v for k, v in main.items() if not k.startswith("_")}}
    if ext:
        out["extension_all_data_sets"] = {k: v for k, v in ext.items() if not k.startswith("_")}
    if ext2:
        out["extension2_post_hoc"] = {k: v for k, v in ext2.items() if not k.startswith("_")}
    for kind in ("steps", "eps"):
        if (HERE / f"rows_attn_{kind}.json").exists():
            sc = json.loads((HERE / f"rows_attn_{kind}.json").read_text())
            out[f"{kind}_check"] = {k: {"steps": v["steps"], "align": float(np.mean(v["align"])),
                                        "se": float(np.std(v["align"], ddof=1) / np.sqrt(len(v["align"]))),
                                        "chains": [round(a, 4) for a in v["align"]],
                                        "train_mse": float(np.mean(v["train_mse"]))} for k, v in sc.items()}
    (HERE / "attention_report.json").write_text(json.dumps(out, indent=1) + "\n")
    plot([(main, "declared: data sets 0-1"), *([(ext, "extension: data sets 0-3")] if ext else []),
          *([(ext2, "post hoc: data sets 0-7")] if ext2 else [])], grid)
    for key in ("main", "extension_all_data_sets", "extension2_post_hoc"):
        if key in out:
            print(key, json.dumps({k: v for k, v in out[key].items() if k != "points"}))


def plot(analyses, grid):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker
    fig, axes = plt.subplots(len(analyses), 4, figsize=(16, 3.7 * len(analyses)), squeeze=False)
    for row, (an, label) in zip(axes, analyses):
        pts, costs, best, err = an["_pts"], an["_costs"], an["best_exponent"], an["bootstrap_sd_chains"]
        for ax, a, title in zip(row, (0.0, DERIVED, WRONG), ("P (no rescaling)", "P / L^(1/3) (derived)",
                                                               "P / L (lazy head / position search)")):
            for L in sorted({p["L"] for p in pts}):
                ps = sorted((p for p in pts if p["L"] == L), key=lambda p: p["P"])
                ax.errorbar([p["P"] / L**a for p in ps], [np.mean(p["align"]) for p in ps],
                            [np.std(p["align"], ddof=1) / np.sqrt(len(p["align"])) for p in ps],
                            marker="o", capsize=2, label=f"L = {L}")
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
            ax.set_xlabel(title)
            ax.set_title(f"{label}; a = {a:.3g}: collapse cost {collapse_cost(pts, a):.1f}", fontsize=8)
        row[0].set_ylabel("alignment A of the posterior mean")
        row[0].legend(fontsize=8)
        ax = row[3]
        ax.plot(grid, costs)
        ax.axvline(DERIVED, ls="--", c="k", label="derived 1/3")
        ax.axvline(WRONG, ls=":", c="r", label="wrong 1")
        ax.axvspan(best - err, best + err, color="C0", alpha=0.2)
        ax.set_yscale("log")
        ax.set_xlabel("collapse exponent a (P / L^a)")
        ax.set_ylabel("collapse cost")
        ax.set_title(f"{label}: best a = {best:.2f} ± {err:.2f} (chains)", fontsize=8)
        ax.legend(fontsize=8)
    fig.suptitle(f"softmax attention head, d = {D}, N = {N}, H = {HEADS}, erf, flatten, He3 of one token, "
                 f"kappa = {NOISE_VAR}: derived P* ~ (L N d)^(1/3)", fontsize=9)
    fig.tight_layout()
    fig.savefig(HERE / "attention_collapse.png", dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else "report"
    if cmd in ("run", "ext", "ext2"):
        run(*sys.argv[2:3], which=cmd)
    elif cmd in ("steps", "eps"):
        run_steps_check(cmd)
    elif cmd == "derived":
        print(json.dumps(derived_table(), indent=1))
    else:
        report()
