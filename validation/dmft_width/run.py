"""Finite-width gradient-descent ensembles in mu_p approach the DMFT (docs/theory/dynamics.md).

Two-layer tanh network, d = 3, P = 6 training and 4 test points, gamma0 = 1, base rate eta0 = 0.1
(raw step eta0 gamma0^2 N), 60 full-batch GD steps.  For each width N in 256..4096, M independent
networks are trained with the validation harness (EnsembleNetwork + GradientDescent, which applies
the mu_p learning-rate multiplier); the DMFT (Monte Carlo single site, 200k samples) gives the
infinite-width curve.  Gap = rms over members, steps and test points of f_net(t) - f_DMFT(t); a
log-log fit gives its exponent (expected -1/2: a network's output fluctuates as 1/(gamma0 sqrt N)),
with a bootstrap over members for the error bar.  Also the ensemble-mean gap (expected N^-1 until
it meets the DMFT's own Monte Carlo error).  Runs in ~1 min on one core.
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
WIDTHS = [256, 512, 1024, 2048, 4096]
MEMBERS, STEPS, LR, GAMMA0, SAMPLES = 64, 60, 0.1, 1.0, 200_000


def spec():
    return Spec.from_dict({"network": {"input_dim": 3, "parametrization": "mu_p", "layers": [
        {"type": "dense", "width": "N", "weight_var": 1.0}, {"type": "activation", "fn": "tanh"},
        {"type": "dense", "width": 1, "weight_var": 1.0}]},
        "params": {"N": 256, "gamma0": GAMMA0},
        "dynamics": {"lr": LR, "steps": STEPS, "samples": SAMPLES, "record_every": STEPS}})


def train(s, N, x, y, xt):
    ens = EnsembleNetwork(network_plan(s, width=N), MEMBERS)
    gens = member_generators(N, MEMBERS)
    params = ens.init_params(gens)
    gd = GradientDescent(lr=LR, steps=STEPS)
    xa = torch.cat([x, xt])
    curve = [ens.forward(params, xa)[..., 0].detach().numpy()]
    for k in range(STEPS):
        gd.step(ens, params, gens, x, y, k, 1e6, None)
        with torch.no_grad():
            curve.append(ens.forward(params, xa)[..., 0].numpy())
    return np.stack(curve, 1)          # (M, T+1, P+P*)


def fit(widths, gaps):
    A = np.vstack([np.log(widths), np.ones(len(widths))]).T
    return np.linalg.lstsq(A, np.log(gaps), rcond=None)[0][0]


def main():
    torch.set_num_threads(1)
    t0 = time.time()
    rng = np.random.default_rng(1)
    x, xt = rng.standard_normal((6, 3)), rng.standard_normal((4, 3))
    y = np.sin(x @ np.array([1.0, -0.5, 0.3]))[:, None]
    s = spec()
    sol = solve_dmft(s, x, y, xt)
    ref = np.hstack([sol.extras["train_predictions"], sol.extras["test_predictions"]])    # (T+1, P+P*)
    tx, ty, txt = (torch.tensor(a) for a in (x, y, xt))
    curves = {N: train(s, N, tx, ty, txt) for N in WIDTHS}
    P = len(x)
    B = 200
    out = {"widths": WIDTHS, "members": MEMBERS, "steps": STEPS, "lr": LR, "gamma0": GAMMA0, "dmft_samples": SAMPLES,
           "dmft_converged": bool(sol.converged), "dmft_residual": sol.residual}
    boot = np.random.default_rng(0)
    for name, sl in (("test", slice(P, None)), ("train", slice(0, P))):
        per = {N: np.sqrt(np.mean((c[:, :, sl] - ref[None, :, sl]) ** 2, axis=(1, 2))) for N, c in curves.items()}
        gap = [float(np.sqrt(np.mean(per[N] ** 2))) for N in WIDTHS]
        slopes = []
        for _ in range(B):
            idx = boot.integers(0, MEMBERS, MEMBERS)
            slopes.append(fit(WIDTHS, [np.sqrt(np.mean(per[N][idx] ** 2)) for N in WIDTHS]))
        mean_gap = [float(np.sqrt(np.mean((c[:, :, sl].mean(0) - ref[:, sl]) ** 2))) for N, c in curves.items()]
        out[name] = {"rms_gap": gap, "exponent": float(fit(WIDTHS, gap)), "exponent_se": float(np.std(slopes)),
                     "ensemble_mean_gap": mean_gap, "ensemble_mean_exponent": float(fit(WIDTHS, mean_gap))}
    out["seconds"] = time.time() - t0
    (HERE / "results.json").write_text(json.dumps(out, indent=1))
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    times = np.arange(STEPS + 1) * LR
    for N in (256, 4096):
        c = curves[N][:, :, P]
        ax[0].fill_between(times, c.mean(0) - c.std(0), c.mean(0) + c.std(0), alpha=0.3, label=f"GD N={N} (mean ± sd)")
    ax[0].plot(times, ref[:, P], "k", label="DMFT")
    ax[0].set_xlabel("t = eta0 * steps"); ax[0].set_ylabel("f(x*_1)"); ax[0].legend()
    ax[1].loglog(WIDTHS, out["test"]["rms_gap"], "o-", label=f"per-network gap, slope {out['test']['exponent']:.3f}"
                 f" ± {out['test']['exponent_se']:.3f}")
    ax[1].loglog(WIDTHS, out["test"]["ensemble_mean_gap"], "s-", label="ensemble-mean gap")
    ax[1].set_xlabel("width N"); ax[1].set_ylabel("rms |f_N - f_DMFT| (test, all t)"); ax[1].legend()
    fig.tight_layout()
    fig.savefig(HERE / "dmft_width.png", dpi=100)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
