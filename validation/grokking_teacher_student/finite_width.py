"""Finite-width test of the closed-loop relaxed theory (README, "Finite width at sigma2 = 0.05").

Along N -> lambda N, sigma2 -> sigma2/lambda (sigma_a2, n, d, sigma_w2, teacher, training set fixed) the reduced theory's
saddle and predictor do not change (kappa = sigma_a2 n^2/(2 N^2) -> kappa/lambda^2, tau -> lambda tau), so measured -
theory along this path is the finite-width correction.  The chains are run.py's (same data, trainer, seed) at width N and
noise sigma2 * 93/N; N = 93 is read from finite_n_chains/sigma2_<value>.npz (the chains of run.py).

    python validation/grokking_teacher_student/finite_width.py 0.05 186 372 744     # sigma2 at N = 93, then widths
    python validation/grokking_teacher_student/finite_width.py eps=0.005 0.05 372    # step-size check (2x the steps)
    python validation/grokking_teacher_student/finite_width.py theory 0.05 372      # the closed-loop solve at N = 372
    python validation/grokking_teacher_student/finite_width.py fit                   # gap against 1/N, writes "fit"
writes finite_width.json (merged) and, with fit, finite_width.png.
"""
import dataclasses
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy.special import erf

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
import finite_n_chains  # noqa: E402,F401  (keeps the final first-layer weights of every chain)
from run_setup import BURN, MEMBERS, N as N0, STEPS, cubic_fraction, data, spec  # noqa: E402

from mftsym.solve.data_model_readout import saddle_state  # noqa: E402
from mftsym.validate import Langevin, run_ensemble  # noqa: E402

torch.set_num_threads(1)
PATH = HERE / "finite_width.json"
EPS_STEP = 0.01
relaxed = dataclasses.replace(spec, theory={"kind": "adaptive_kernel", "reduced_action": "relaxed"})


def se(a):
    a = np.asarray(a, float)
    return float(a.std(ddof=1) / math.sqrt(len(a)))


def observables(s2, N, weights, mean_f, rb_mean_f, norm2, rhat_max, eps=EPS_STEP):
    """Per-chain observables and their means / standard errors over chains."""
    num, _, _, sol = saddle_state(relaxed.with_params(N=N, sigma2=s2 * N0 / N))
    split = sol.extras["split_Phi"] or 0.6
    ws = data.teacher_direction
    W = np.asarray(weights)                                   # (members, N, d)
    phi = W @ ws
    r = (W * W).sum(-1) - phi ** 2
    m1, m3 = (np.broadcast_to(m(phi, r), phi.shape) for m in num.m)
    sa2_raw, noise = float(spec.params["sigma_a2"]), s2 * N0 / N
    lam = []                                                   # whitened likelihood curvature along the readout
    for Wc in W:
        F = erf(data.x_train @ Wc.T)                           # (n, N)
        lam.append(sa2_raw * np.linalg.eigvalsh(F.T @ F)[-1] / (N ** 2 * noise))
    per = {"cubic_ls": cubic_fraction(mean_f), "cubic_rb": cubic_fraction(rb_mean_f),
           "mean_rho": np.asarray(norm2).mean(1), "mean_abs_Phi": np.abs(phi).mean(1),
           "m1sq": (m1 ** 2).mean(1), "m1m3": (m1 * m3).mean(1), "m3sq": (m3 ** 2).mean(1),
           "droplet": (np.abs(phi) > split).mean(1), "lambda_L": np.array(lam)}
    out = {"N": N, "sigma2": noise, "split": split, "rhat_max": float(rhat_max), "members": len(W),
           "per_chain": {k: np.asarray(v).tolist() for k, v in per.items()}}
    for k, v in per.items():
        out[k], out[k + "_se"] = float(np.mean(v)), se(v)
    out["ou_bias_eps_lambda_over_2"] = eps * out["lambda_L"] / 2
    return out


def chains(s2, N, eps=EPS_STEP):
    if N == N0 and eps == EPS_STEP:
        f = np.load(HERE / "finite_n_chains" / f"sigma2_{s2}.npz")
        return observables(s2, N, f["weights"], f["mean_f"], f["rb_mean_f"], f["norm2"], f["rhat_max"])
    t0 = time.time()
    out = run_ensemble(spec.with_params(N=N, sigma2=s2 * N0 / N), data, N, MEMBERS,
                       Langevin(step_size=eps, steps=round(STEPS * EPS_STEP / eps), burn_in=round(BURN * EPS_STEP / eps),
                                thin=round(50 * EPS_STEP / eps)), seed=1)
    res = observables(s2, N, out["weights"], np.asarray(out["mean_f"])[..., 0], np.asarray(out["rb_mean_f"])[..., 0],
                      out["norm2"], np.max(out["rhat"]), eps)
    res["seconds"] = time.time() - t0
    res["step_size"] = eps
    return res


def theory(s2, N):
    """The closed-loop relaxed solve (finite_n_selfconsistent.solve) at width N and noise s2 * 93/N."""
    import finite_n_selfconsistent as fsc
    fsc.spec = spec.with_params(N=N)
    t0 = time.time()
    out = fsc.solve(s2 * N0 / N, "relaxed")
    out["tau_times_N0_over_N"] = (np.asarray(out["tau"]) * N0 / N).tolist()
    out["seconds"] = time.time() - t0
    return out


def wfit(x, y, e):
    """Weighted least squares y = a + b x; returns a, b, their errors (covariance, not rescaled) and chi^2."""
    x, y, e = (np.asarray(v, float) for v in (x, y, e))
    A = np.stack([np.ones_like(x), x], 1) / e[:, None]
    cov = np.linalg.inv(A.T @ A)
    p = cov @ A.T @ (y / e)
    chi2 = float((((y - p[0] - p[1] * x) / e) ** 2).sum())
    return {"a": float(p[0]), "a_err": float(math.sqrt(cov[0, 0])), "b": float(p[1]), "b_err": float(math.sqrt(cov[1, 1])),
            "chi2": chi2, "dof": len(x) - 2}


def fit(res):
    from scipy.stats import chi2 as chi2dist
    sc = json.loads((HERE / "finite_n_selfconsistent.json").read_text())
    out = {}
    for s2, block in res.items():
        if s2 == "fit" or "chains" not in block:
            continue
        th, th1 = sc[s2]["relaxed"], sc[s2]["relaxed_seed1"]
        theo = {"cubic_ls": th["cubic"], "m3sq": th["G"][1][1], "mean_rho": th["mean_rho"],
                "m1sq": th["G"][0][0], "m1m3": th["G"][0][1]}
        mc = {"cubic_ls": abs(th["cubic"] - th1["cubic"]), "m3sq": abs(th["G"][1][1] - th1["G"][1][1]),
              "mean_rho": abs(th["mean_rho"] - th1["mean_rho"]), "m1sq": abs(th["G"][0][0] - th1["G"][0][0]),
              "m1m3": abs(th["G"][0][1] - th1["G"][0][1])}
        rows = sorted(block["chains"].values(), key=lambda r: r["N"])
        Ns = np.array([r["N"] for r in rows], float)
        o = {}
        for k in theo:
            fac = 1.6 if k == "mean_rho" else 1.0
            gap = np.array([r[k] for r in rows]) - theo[k]
            err = np.array([r[k + "_se"] for r in rows]) * fac
            f = wfit(1 / Ns, gap, err) if len(Ns) > 2 else (wfit(1 / Ns, gap, err) if len(Ns) == 2 else None)
            if f is None:
                continue
            f["a_err_total"] = float(math.hypot(f["a_err"], mc[k]))
            f["a_over_err"] = f["a"] / f["a_err_total"]
            f["p_chi2"] = float(chi2dist.sf(f["chi2"], f["dof"])) if f["dof"] > 0 else None
            f["monotone_shrinking"] = bool(np.all(np.diff(np.abs(gap)) < 0))
            o[k] = {"N": Ns.tolist(), "theory": theo[k], "theory_mc": mc[k], "gap": gap.tolist(), "gap_err": err.tolist(),
                    "fit": f}
        out[s2] = o
    return out


def plot(fits):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    for ax, k, label in zip(axes, ("cubic_ls", "m3sq", "mean_rho"), ("cubic fraction", "<m3^2>", "<|w|^2>")):
        for (s2, o), c in zip(fits.items(), ("C3", "C0")):
            v = o[k]
            x = 1 / np.array(v["N"])
            ax.errorbar(x, v["gap"], v["gap_err"], fmt="o", color=c, label=f"sigma2 N = {float(s2) * N0:.2f}")
            xx = np.linspace(0, x.max(), 2)
            ax.plot(xx, v["fit"]["a"] + v["fit"]["b"] * xx, "-", color=c, lw=1)
            ax.errorbar([0], [v["fit"]["a"]], [v["fit"]["a_err_total"]], fmt="s", color=c, ms=4)
        ax.axhline(0, color="k", lw=0.5)
        ax.set_xlabel("1/N")
        ax.set_ylabel(f"{label}: measured - theory")
        ax.set_title("closed-loop relaxed theory, N -> lambda N, sigma2 -> sigma2/lambda", fontsize=7)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(HERE / "finite_width.png", dpi=100)


if __name__ == "__main__":
    res = json.loads(PATH.read_text()) if PATH.exists() else {}
    args = sys.argv[1:]
    if args and args[0] == "fit":
        res["fit"] = fit(res)
        PATH.write_text(json.dumps(res, indent=1))
        plot(res["fit"])
        for s2, o in res["fit"].items():
            for k, v in o.items():
                f = v["fit"]
                print(s2, k, "gap", np.round(v["gap"], 5), "+-", np.round(v["gap_err"], 5),
                      f"a = {f['a']:+.5f} +- {f['a_err_total']:.5f} ({f['a_over_err']:+.2f} sigma), b = {f['b']:+.4f}"
                      f" +- {f['b_err']:.4f}, chi2 = {f['chi2']:.2f}/{f['dof']}, p = {f['p_chi2']}")
    elif args and args[0] == "theory":
        s2 = float(args[1])
        for N in map(int, args[2:]):
            out = theory(s2, N)
            res = json.loads(PATH.read_text()) if PATH.exists() else {}
            res.setdefault(str(s2), {}).setdefault("theory", {})[str(N)] = out
            PATH.write_text(json.dumps(res, indent=1))
            print(s2, N, {k: v for k, v in out.items() if k != "G"}, flush=True)
    else:
        eps = float(args.pop(0)[4:]) if args[0].startswith("eps=") else EPS_STEP
        s2 = float(args[0])
        for N in map(int, args[1:]):
            out = chains(s2, N, eps)
            res = json.loads(PATH.read_text()) if PATH.exists() else {}
            key = "chains" if eps == EPS_STEP else f"chains_eps{eps}"
            res.setdefault(str(s2), {}).setdefault(key, {})[str(N)] = out
            PATH.write_text(json.dumps(res, indent=1))
            print(s2, N, {k: v for k, v in out.items() if k != "per_chain"}, flush=True)
