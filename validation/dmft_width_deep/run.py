"""Finite-width μP gradient descent of 3-hidden-layer networks approaches the deep DMFT
(docs/theory/dynamics.md, "Deep networks").

Two networks, both 3 hidden layers of width N, d = 3, biases σ_b² = 0.1, weight variances 1, γ₀ = 1:
* linear, P = 10 training + 4 test points, base rate η₀ = 0.03, 30 steps -- the DMFT is solved exactly
  (mftsym.dynamics.deep.DeepLinearSweep, exact discrete GD);
* tanh, P = 4 + 2 points, η₀ = 0.05, 16 steps -- Monte Carlo DMFT (mftsym.dynamics.deep_mc), 1200
  samples x 3 seeds averaged (the seeds' spread gives its Monte Carlo error).
For N in 256..2048 independent networks are trained with the validation harness (EnsembleNetwork +
GradientDescent, raw step η₀γ₀²N).  Gap = rms over members, steps and points of f_net(t) − f_DMFT(t);
its log-log slope in N (expected −1/2: a network's output fluctuates as 1/(γ₀√N)) with a bootstrap over
members for the error bar.  About 3-4 minutes on one core.
"""

import json
import time
from pathlib import Path

import numpy as np
import torch

from mftsym.dynamics import solve_dmft
from mftsym.spec import Spec
from mftsym.validate.gradient_descent import GradientDescent
from mftsym.validate.torch_network import EnsembleNetwork, member_generators, network_plan

HERE = Path(__file__).parent
WIDTHS = [256, 512, 1024, 2048]
MEMBERS = {256: 48, 512: 32, 1024: 24, 2048: 16}
GAMMA0 = 1.0
CASES = {"linear": {"act": None, "P": 10, "Pt": 4, "lr": 0.03, "steps": 30, "samples": None},
         "tanh": {"act": "tanh", "P": 4, "Pt": 2, "lr": 0.05, "steps": 16, "samples": 1200}}


def spec(case):
    layers = []
    for _ in range(3):
        layers.append({"type": "dense", "width": "N", "weight_var": 1.0, "bias_var": 0.1})
        if case["act"]:
            layers.append({"type": "activation", "fn": case["act"]})
    layers.append({"type": "dense", "width": 1, "weight_var": 1.0})
    dyn = {"lr": case["lr"], "steps": case["steps"], "record_every": case["steps"]}
    if case["samples"]:
        dyn["samples"] = case["samples"]
    return Spec.from_dict({"network": {"input_dim": 3, "parametrization": "mu_p", "layers": layers},
                           "params": {"N": 256, "gamma0": GAMMA0}, "dynamics": dyn})


def train(s, N, M, x, y, xt, lr, steps):
    ens = EnsembleNetwork(network_plan(s, width=N), M)
    gens = member_generators(N, M)
    params = ens.init_params(gens)
    gd = GradientDescent(lr=lr, steps=steps)
    xa = torch.cat([x, xt])
    curve = [ens.forward(params, xa)[..., 0].detach().numpy()]
    for k in range(steps):
        gd.step(ens, params, gens, x, y, k, 1e6, None)
        with torch.no_grad():
            curve.append(ens.forward(params, xa)[..., 0].numpy())
    return np.stack(curve, 1)          # (M, T+1, P+P*)


def fit(widths, gaps):
    A = np.vstack([np.log(widths), np.ones(len(widths))]).T
    return np.linalg.lstsq(A, np.log(gaps), rcond=None)[0][0]


def study(name, case, rng):
    s = spec(case)
    x, xt = rng.standard_normal((case["P"], 3)), rng.standard_normal((case["Pt"], 3))
    y = np.sin(x @ np.array([1.0, -0.5, 0.3]))
    t0 = time.time()
    if case["samples"]:
        sols = [solve_dmft(s, x, y, xt, seed=sd) for sd in range(3)]
        refs = np.array([np.hstack([q.extras["train_predictions"], q.extras["test_predictions"]]) for q in sols])
        ref, ref_err = refs.mean(0), float(np.sqrt(np.mean(refs.var(0, ddof=1) / 3)))
        conv = all(q.converged for q in sols)
    else:
        sol = solve_dmft(s, x, y, xt)
        ref, ref_err, conv = np.hstack([sol.extras["train_predictions"], sol.extras["test_predictions"]]), 0.0, sol.converged
    t_dmft = time.time() - t0
    tx, ty, txt = torch.tensor(x), torch.tensor(y[:, None]), torch.tensor(xt)
    curves = {N: train(s, N, MEMBERS[N], tx, ty, txt, case["lr"], case["steps"]) for N in WIDTHS}
    out = {"dmft_seconds": t_dmft, "dmft_converged": bool(conv), "dmft_mc_error_rms": ref_err,
           "final_train_loss_dmft": float(0.5 * np.sum((ref[-1, :case["P"]] - y) ** 2)),
           "ensemble_seconds": time.time() - t0 - t_dmft, **{k: v for k, v in case.items()}}
    boot = np.random.default_rng(0)
    per = {N: np.sqrt(np.mean((c - ref[None]) ** 2, axis=(1, 2))) for N, c in curves.items()}
    gap = [float(np.sqrt(np.mean(per[N] ** 2))) for N in WIDTHS]
    slopes = [fit(WIDTHS, [np.sqrt(np.mean(per[N][boot.integers(0, len(per[N]), len(per[N]))] ** 2)) for N in WIDTHS])
              for _ in range(400)]
    mean_gap = [float(np.sqrt(np.mean((c.mean(0) - ref) ** 2))) for c in curves.values()]
    out.update(rms_gap=gap, exponent=float(fit(WIDTHS, gap)), exponent_se=float(np.std(slopes)),
               ensemble_mean_gap=mean_gap, members=[MEMBERS[N] for N in WIDTHS])
    return out, curves, ref


def main():
    torch.set_num_threads(1)
    t0 = time.time()
    rng = np.random.default_rng(1)
    results, plots = {"widths": WIDTHS, "gamma0": GAMMA0}, {}
    for name, case in CASES.items():
        results[name], curves, ref = study(name, case, rng)
        plots[name] = (curves, ref, case)
        print(name, json.dumps(results[name], indent=1), flush=True)
    results["seconds"] = time.time() - t0
    (HERE / "results.json").write_text(json.dumps(results, indent=1))
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(1, 3, figsize=(15, 4))
    for i, (name, (curves, ref, case)) in enumerate(plots.items()):
        times = np.arange(case["steps"] + 1) * case["lr"]
        j = case["P"]                                  # first test point
        for N in (256, 2048):
            c = curves[N][:, :, j]
            ax[i].fill_between(times, c.mean(0) - c.std(0), c.mean(0) + c.std(0), alpha=0.3, label=f"GD N={N} (mean ± sd)")
        ax[i].plot(times, ref[:, j], "k", label="deep DMFT")
        ax[i].set_title(f"3 hidden layers, {name}")
        ax[i].set_xlabel("t = eta0 * steps"); ax[i].set_ylabel("f(x*_1)"); ax[i].legend()
        r = results[name]
        ax[2].loglog(WIDTHS, r["rms_gap"], "o-", label=f"{name}: slope {r['exponent']:.3f} ± {r['exponent_se']:.3f}")
    ax[2].set_xlabel("width N"); ax[2].set_ylabel("rms |f_N - f_DMFT| (all points, all t)"); ax[2].legend()
    fig.tight_layout()
    fig.savefig(HERE / "dmft_width_deep.png", dpi=100)


if __name__ == "__main__":
    main()
