"""Local kernel renormalization at fixed alpha = P/N with N growing, against the exact posterior.

The CNN of run.py (2x2 windows, stride 2, 4x4x1 inputs, erf, NTK, sigma^2 = 0.2, target on patch 1)
at P = alpha N for N = 8, 16, 32, 64; a fixed test set of 32 points and a fixed target function.
Per N:

* Langevin ensemble of the CNN (exact.langevin: OU integrator, eps = 0.5 / lambda_max(NTK/sigma^2),
  16 independent chains, Rao-Blackwellised posterior mean);
* theories: "gp" (Q = I), "lkr" (mftsym's saddle point), deepbays CONV_1HL on the same data (if
  benchmarks/.deepbays-venv exists), and "wishart" = the exact finite-N posterior of the
  Gaussian-feature network that LKR assumes (exact.exact_wishart, importance sampling around the
  LKR saddle): LKR - wishart is the saddle point's finite-N error, wishart - Langevin the error of
  the Gaussian-equivalence (Wishart) ansatz itself;
* the same with a linear activation, where the Wishart network *is* the CNN (the exact posterior),
  with a Langevin check at one width.

    OMP_NUM_THREADS=1 python validation/study_lkr_cnn/scan.py        (about 6 minutes on one core)

Writes scan.json and scan.md here.  Further runs (each a few minutes):

    scan.py --highdim            patches of n = 4N inputs (4x4 images with N channels): P, N and the
                                 patch dimension grow together -> scan_highdim.*
    scan.py --highdim-precise    the same at N = 16, 32 with 64 / 32 chains twice as long
    scan.py --wide               run.py's data (P = 24) at N = 64, 256, 1024: the approach to the GP
    scan.py --refit              fits and scan.md again from scan.json
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import mftsym as mf  # noqa: E402
from mftsym.solve.local_renormalization import (patch_kernels, posterior, prepare,  # noqa: E402
                                                solve_problem)
from mftsym.validate import Dataset  # noqa: E402
from mftsym.validate.observables import loglog_slope  # noqa: E402

import exact  # noqa: E402
from run import SPEC  # noqa: E402

DEEPBAYS = ROOT / "benchmarks" / ".deepbays-venv" / "bin" / "python"


def dataset(P, P_test=32, seed=3, cin=1):
    """Fixed target (2 tanh of a linear function of patch 1) and test set; P training points;
    4x4 images with ``cin`` channels (patches of n = 4 cin inputs)."""
    n = 4 * cin
    rng = np.random.default_rng(seed)
    w = rng.normal(size=n)
    x_test = rng.normal(size=(P_test, 4, 4, cin))
    x = np.random.default_rng(1000 + seed + P).normal(size=(P, 4, 4, cin))

    def f(x):
        return 2.0 * np.tanh(x[:, :2, :2, :].reshape(len(x), n) @ w / math.sqrt(n))[:, None]
    return Dataset(x, f(x), x_test, f(x_test))


def spec_for(act, cin=1):
    s = json.loads(json.dumps(SPEC))
    s["network"]["input_shape"] = [4, 4, cin]
    s["network"]["layers"][1]["fn"] = {"erf": "erf", "linear": "identity"}[act]
    return mf.Spec.from_dict(s)


def theories(d, N, act, wishart_samples=None, cin=1):
    spec = spec_for(act, cin).with_params(N=N)
    P, Pt = len(d.x_train), len(d.x_test)
    xt, xs = d.x_train.reshape(P, -1), d.x_test.reshape(Pt, -1)
    prob = prepare(spec, xt, d.y_train, xs)
    sol = solve_problem(prob)
    Q = np.array(sol.extras["Q"])
    gp_mean, gp_var = posterior(prob, np.eye(len(Q)))
    Kij = patch_kernels(spec, np.concatenate([xt, xs]))
    n2 = (P + Pt) ** 2          # samples and batches sized to the (P+P*)^2 kernels
    w = exact.exact_wishart(Kij, d.y_train, N, wishart_samples or max(2000, int(4e7 / n2)), center=Q,
                            batch=max(50, int(2e7 / n2)))
    out = {"gp": {"mean": gp_mean, "var": gp_var}, "lkr": {"mean": sol.prediction, "var": sol.variance},
           "wishart": {"mean": w["mean"], "var": w["var"], "mean_se": w["mean_se"], "ess": w["ess"]},
           "Q": Q}
    if act == "erf" and cin == 1 and DEEPBAYS.exists():
        with tempfile.TemporaryDirectory() as tmp:
            np.savez(Path(tmp) / "in.npz", x=xt, y=d.y_train[:, 0], x_test=xs)
            subprocess.run([str(DEEPBAYS), str(ROOT / "benchmarks" / "deepbays_conv1hl.py"), "--data",
                            str(Path(tmp) / "in.npz"), "--out", str(Path(tmp) / "out.npz"), "--Nc", str(N),
                            "--T", "0.2", "--mask", "2", "--l0", "1", "--l1", "1", "--act", "erf"],
                           check=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True)
            ref = np.load(Path(tmp) / "out.npz")
            out["deepbays"] = {"mean": ref["mean"], "var": ref["var"], "Q": ref["Q"],
                               "converged": bool(ref["converged"])}
    return out


def rms(a, b):
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))


def compare(exp, se, th):
    """rms difference debiased for the Monte Carlo noise, its sigma in log, max |z|."""
    delta = np.asarray(th) - exp
    d2 = float(np.mean(delta ** 2 - se ** 2))
    s_d2 = float(np.sqrt(np.sum(4 * delta ** 2 * se ** 2 + 2 * se ** 4)) / delta.size)
    return {"rms": rms(th, exp), "rms_debiased": math.sqrt(max(d2, 1e-12)), "sigma_log": s_d2 / (2 * max(d2, 1e-12)),
            "max_z": float(np.max(np.abs(delta / se)))}


def run_width(N, alpha, act, chains, T, burn, eps_scale=0.5, seed=0, cin=1):
    d = dataset(int(alpha * N), cin=cin)
    lam = exact.ntk_lambda_max(d, N, act)
    eps = min(0.02, eps_scale / lam)
    steps, burn_in = int(T / eps), int(burn / eps)
    t = time.time()
    L = exact.langevin(d, N, chains, eps, steps, burn_in, thin=10, act=act, seed=seed)
    t_l = time.time() - t
    th = theories(d, N, act, cin=cin)
    row = {"N": N, "P": len(d.x_train), "act": act, "n": 4 * cin, "eps": eps, "lambda_max": lam, "steps": steps,
           "burn_in": burn_in,
           "chains": chains, "langevin_seconds": t_l, "mean_se": float(L["mean_se"].mean()),
           "qbar": [L["qbar"], L["qbar_se"]], "trQ_over_Np": float(np.trace(th["Q"]) / len(th["Q"])),
           "Q11": float(th["Q"][0, 0]), "Qii_rest": float(np.mean(np.diag(th["Q"])[1:])),
           "wishart_ess": th["wishart"]["ess"], "wishart_se": float(th["wishart"]["mean_se"].mean()),
           "lkr_vs_wishart": rms(th["lkr"]["mean"], th["wishart"]["mean"]),
           "langevin_mean": L["mean"].tolist(), "langevin_se": L["mean_se"].tolist(),
           "vs_langevin": {k: compare(L["mean"], L["mean_se"], th[k]["mean"]) for k in ("gp", "lkr", "wishart")},
           "var_vs_langevin": {k: compare(L["var"], L["var_se"], th[k]["var"]) for k in ("gp", "lkr", "wishart")}}
    if "deepbays" in th:
        row["lkr_vs_deepbays"] = rms(th["lkr"]["mean"], th["deepbays"]["mean"])
        row["Q_vs_deepbays"] = float(np.max(np.abs(th["Q"] - th["deepbays"]["Q"])))
    print(f"{act} N={N} P={row['P']} n={4 * cin} eps={eps:.4f} steps={steps} ({t_l:.0f} s): "
          + " ".join(f"{k} {v['rms']:.4f}" for k, v in row["vs_langevin"].items())
          + f" SE {row['mean_se']:.4f}; lkr-wishart {row['lkr_vs_wishart']:.4f}", flush=True)
    return row


def main(widths=(8, 16, 32, 64), alpha=3.0):
    torch.set_num_threads(1)
    t0 = time.time()
    rows = []
    for N in widths:      # chain length in units of the prior relaxation time; the largest width shorter
        rows.append(run_width(N, alpha, "erf", 16, *((60, 15) if N < 64 else (40, 10))))
    checks = [run_width(16, alpha, "erf", 16, 60, 15, eps_scale=0.25, seed=1),     # eps halved
              run_width(16, alpha, "erf", 16, 120, 15, seed=2),                    # chain doubled
              run_width(16, alpha, "linear", 16, 60, 15)]                          # linear: exact theory
    lin = []
    for N in widths:      # linear activation: the Wishart integral is the exact posterior, no sampling needed
        d = dataset(int(alpha * N))
        th = theories(d, N, "linear")
        lin.append({"N": N, "P": int(alpha * N), "lkr_vs_exact": rms(th["lkr"]["mean"], th["wishart"]["mean"]),
                    "gp_vs_exact": rms(th["gp"]["mean"], th["wishart"]["mean"]),
                    "exact_se": float(th["wishart"]["mean_se"].mean()), "ess": th["wishart"]["ess"]})
    out = {"alpha": alpha, "rows": rows, "checks": checks, "linear": lin, "seconds": time.time() - t0}
    out["fits"] = fits(out)
    (HERE / "scan.json").write_text(json.dumps(out, indent=1))
    write_md(out)
    return out


def main_highdim(widths=(8, 16, 32), alpha=3.0, chains=None, T=60, name="scan_highdim"):
    """Patches of n = 4N inputs (4x4 images with N channels): P, N and the patch dimension grow
    together, the regime where Gaussian-equivalence of the features can hold.  Writes scan_highdim.*"""
    torch.set_num_threads(1)
    t0 = time.time()
    chains = chains or {}
    rows = [run_width(N, alpha, "erf", chains.get(N, 16), T, 15, cin=N) for N in widths]
    out = {"alpha": alpha, "patch_dim": "4N", "rows": rows, "checks": [], "linear": [], "seconds": time.time() - t0}
    out["fits"] = {}          # the LKR rms sits at the Monte Carlo floor: no slope to fit
    out["chains"], out["T"] = {str(N): chains.get(N, 16) for N in widths}, T
    (HERE / f"{name}.json").write_text(json.dumps(out, indent=1))
    write_md(out, HERE / f"{name}.md")
    return out


def main_wide(widths=(64, 256, 1024)):
    """run.py's data (P = 24) at large N: the posterior mean must approach the GP as 1/N (and LKR,
    whose Q -> I, too).  Writes scan_wide.json / scan_wide.md."""
    from run import dataset as run_dataset
    torch.set_num_threads(1)
    t0 = time.time()
    d = run_dataset()
    rows = []
    for N in widths:
        lam = exact.ntk_lambda_max(d, N)
        eps = min(0.02, 0.5 / lam)
        L = exact.langevin(d, N, 16, eps, int(60 / eps), int(15 / eps), thin=10)
        th = theories(d, N, "erf")
        rows.append({"N": N, "eps": eps, "mean_se": float(L["mean_se"].mean()), "qbar": [L["qbar"], L["qbar_se"]],
                     "trQ_over_Np": float(np.trace(th["Q"]) / len(th["Q"])),
                     "vs_langevin": {k: compare(L["mean"], L["mean_se"], th[k]["mean"])
                                     for k in ("gp", "lkr", "wishart")}})
        print(N, {k: round(v["rms"], 4) for k, v in rows[-1]["vs_langevin"].items()}, rows[-1]["mean_se"], flush=True)
    Ns = [r["N"] for r in rows]
    f = {k: loglog_slope(Ns, [r["vs_langevin"][k]["rms_debiased"] for r in rows],
                         [r["vs_langevin"][k]["sigma_log"] for r in rows]) for k in ("gp", "lkr")}
    out = {"P": 24, "rows": rows, "fits": f, "seconds": time.time() - t0}
    (HERE / "scan_wide.json").write_text(json.dumps(out, indent=1))
    lines = [f"# Wide limit, run.py's data (P = 24), 16 OU chains per width ({out['seconds']:.0f} s)", "",
             "| N | eps | mean SE | rms GP | rms LKR | max z GP | max z LKR | Tr Q/N_p | q-bar (Langevin) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        v = r["vs_langevin"]
        lines.append(f"| {r['N']} | {r['eps']:.4f} | {r['mean_se']:.4f} | {v['gp']['rms']:.4f} | "
                     f"{v['lkr']['rms']:.4f} | "
                     f"{v['gp']['max_z']:.1f} | {v['lkr']['max_z']:.1f} | {r['trQ_over_Np']:.4f} | "
                     f"{r['qbar'][0]:.4f} ± {r['qbar'][1]:.4f} |")
    lines += ["", "Fits of the debiased rms against log N (weights from the Monte Carlo error):", ""]
    lines += [f"- {k}: slope {v['slope']:.2f} ± {v['slope_se']:.2f}" for k, v in f.items()]
    (HERE / "scan_wide.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return out


def fits(out):
    """Slopes of log(rms) against log N; the error bars are from the residuals of the fit (the
    training set changes with P, so the scatter between widths exceeds the Monte Carlo error)."""
    rows, lin = out["rows"], out["linear"]
    Ns = [r["N"] for r in rows]
    f = {k: loglog_slope(Ns, [r["vs_langevin"][k]["rms_debiased"] for r in rows]) for k in ("gp", "lkr", "wishart")}
    f["lkr_over_gp"] = loglog_slope(Ns, [r["vs_langevin"]["lkr"]["rms_debiased"]
                                         / r["vs_langevin"]["gp"]["rms_debiased"] for r in rows])
    f["lkr_vs_wishart"] = loglog_slope(Ns, [r["lkr_vs_wishart"] for r in rows])
    f["linear_lkr_vs_exact"] = loglog_slope([r["N"] for r in lin], [r["lkr_vs_exact"] for r in lin])
    f["linear_lkr_vs_exact_N>=16"] = loglog_slope([r["N"] for r in lin if r["N"] >= 16],
                                                  [r["lkr_vs_exact"] for r in lin if r["N"] >= 16])
    return f


def write_md(out, path=None):
    f = out["fits"]
    L = [f"# LKR at fixed alpha = P/N = {out['alpha']:g}, N growing, patch dimension "
         f"{out.get('patch_dim', '4')} ({out['seconds']:.0f} s)", "",
         "Posterior mean on 32 test points; rms of (theory - Langevin), Langevin = OU chains of the CNN "
         f"(Rao-Blackwellised; {out.get('chains', 16)} chains, T = {out.get('T', 60)} prior relaxation times, "
         "T = 40 at N = 64 in the main scan); 'wishart' = exact finite-N posterior of the Gaussian-feature network "
         "LKR assumes.", "",
         "| N | P | eps | steps | mean SE | rms GP | rms LKR | rms wishart | LKR/GP | max z LKR | LKR - wishart "
         "| LKR - deepbays | Tr Q/N_p | q-bar (Langevin) |",
         "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in out["rows"] + out["checks"]:
        v = r["vs_langevin"]
        L.append(f"| {r['N']}{'' if r['act'] == 'erf' else ' (linear)'} | {r['P']} | {r['eps']:.4f} | {r['steps']} | "
                 f"{r['mean_se']:.4f} | {v['gp']['rms']:.4f} | {v['lkr']['rms']:.4f} | {v['wishart']['rms']:.4f} | "
                 f"{v['lkr']['rms_debiased'] / v['gp']['rms_debiased']:.2f} | {v['lkr']['max_z']:.1f} | "
                 f"{r['lkr_vs_wishart']:.4f} | {r.get('lkr_vs_deepbays', float('nan')):.1e} | {r['trQ_over_Np']:.3f} | "
                 f"{r['qbar'][0]:.3f} ± {r['qbar'][1]:.3f} |")
    if out["checks"]:
        L += ["", "Rows after the first four: checks at N = 16 (eps halved; chain doubled; linear activation)."]
    if out["linear"]:
        L += ["", "Linear activation (exact posterior = Wishart integral, no sampling):", "",
              "| N | P | rms GP - exact | rms LKR - exact | exact SE | ESS |", "|---|---|---|---|---|---|"]
    for r in out["linear"]:
        L.append(f"| {r['N']} | {r['P']} | {r['gp_vs_exact']:.4f} | {r['lkr_vs_exact']:.5f} | {r['exact_se']:.5f} | "
                 f"{r['ess']:.0f} |")
    if f:
        L += ["", "Fits log(rms) = a + slope log N:", "", "| quantity | slope | ± |", "|---|---|---|"]
    for k, v in f.items():
        L.append(f"| {k} | {v['slope']:.3f} | {v['slope_se']:.3f} |")
    (path or HERE / "scan.md").write_text("\n".join(L) + "\n")
    print("\n".join(L))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--refit"]:          # fits and scan.md again from scan.json
        res = json.loads((HERE / "scan.json").read_text())
        res["fits"] = fits(res)
        (HERE / "scan.json").write_text(json.dumps(res, indent=1))
        write_md(res)
    elif sys.argv[1:2] == ["--wide"]:
        main_wide()
    elif sys.argv[1:2] == ["--highdim"]:
        main_highdim()
    elif sys.argv[1:2] == ["--highdim-precise"]:     # more and longer chains at N = 16, 32
        main_highdim((16, 32), chains={16: 64, 32: 32}, T=120, name="scan_highdim_precise")
    else:
        main()
