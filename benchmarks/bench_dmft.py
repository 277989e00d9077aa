"""DMFT of a two-layer μP network vs the finite-width ensemble that reaches the same error.

Two-layer erf network (``--act``; erf has a closed-form initial NTK, tanh needs quadrature), d = 10, P training points (default 100), 20 test points, γ₀ = 1, base rate
η₀ = 0.05, T steps (default 100).  Reference: the Monte Carlo DMFT with ``--ref-samples`` sites.
Error of an estimate = rms over test points and steps of |f(t) − f_ref(t)|.
* DMFT at S sites (numpy; torch if ``--torch``): time and error;
* gradient-descent networks (the validation harness, raw step η₀γ₀²N) at width N: M networks,
  their mean; time and error.
Reports the time ratio ensemble / DMFT at matched error (log-log interpolation).  Ratios only.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mftsym.dynamics import solve_dmft  # noqa: E402
from mftsym.spec import Spec  # noqa: E402
from mftsym.validate.gradient_descent import GradientDescent  # noqa: E402
from mftsym.validate.torch_network import EnsembleNetwork, member_generators, network_plan  # noqa: E402


def make_spec(steps, lr, samples, backend="numpy", act="erf"):
    return Spec.from_dict({"network": {"input_dim": 10, "parametrization": "mu_p", "layers": [
        {"type": "dense", "width": "N", "weight_var": 1.0}, {"type": "activation", "fn": act},
        {"type": "dense", "width": 1, "weight_var": 1.0}]}, "params": {"N": 100, "gamma0": 1.0},
        "dynamics": {"lr": lr, "steps": steps, "samples": samples, "record_every": steps, "backend": backend}})


def dmft_curve(spec, x, y, xt, seed=0):
    t = time.perf_counter()
    sol = solve_dmft(spec, x, y, xt, seed=seed)
    return sol.extras["test_predictions"], time.perf_counter() - t


def ensemble_curve(spec, N, M, x, y, xt, steps, lr):
    t = time.perf_counter()
    ens = EnsembleNetwork(network_plan(spec, width=N), M)
    gens = member_generators(7, M)
    params = ens.init_params(gens)
    gd = GradientDescent(lr=lr, steps=steps)
    tx, ty, txt = (torch.tensor(a) for a in (x, y[:, None], xt))
    curve = [ens.forward(params, txt)[..., 0].mean(0).numpy()]
    for k in range(steps):
        gd.step(ens, params, gens, tx, ty, k, 1e9, None)
        with torch.no_grad():
            curve.append(ens.forward(params, txt)[..., 0].mean(0).numpy())
    return np.array(curve), time.perf_counter() - t


def matched(errs_a, times_a, errs_b, times_b):
    """Time of b / time of a at the error both reach (interpolated in log-log)."""
    lo, hi = max(min(errs_a), min(errs_b)), min(max(errs_a), max(errs_b))
    if lo >= hi:
        return None, None
    e = np.sqrt(lo * hi)
    ta = np.exp(np.interp(np.log(e), np.log(errs_a[::-1]), np.log(times_a[::-1])))
    tb = np.exp(np.interp(np.log(e), np.log(errs_b[::-1]), np.log(times_b[::-1])))
    return float(e), float(tb / ta)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--P", type=int, default=100)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--samples", default="1000,4000,16000")
    ap.add_argument("--widths", default="1000,4000,16000")
    ap.add_argument("--members", type=int, default=4)
    ap.add_argument("--ref-samples", type=int, default=100_000)
    ap.add_argument("--torch", action="store_true", help="also time the DMFT on the torch backend")
    ap.add_argument("--act", default="erf")
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    x, xt = rng.standard_normal((a.P, 10)), rng.standard_normal((20, 10))
    y = np.tanh(x @ rng.standard_normal(10) / np.sqrt(10) * 2)
    ref, t_ref = dmft_curve(make_spec(a.steps, a.lr, a.ref_samples, act=a.act), x, y, xt, seed=123)
    rows = {"dmft_numpy": [], "dmft_torch": [], "ensemble": []}
    for S in map(int, a.samples.split(",")):
        f, t = dmft_curve(make_spec(a.steps, a.lr, S, act=a.act), x, y, xt)
        rows["dmft_numpy"].append({"samples": S, "seconds": t, "error": float(np.sqrt(np.mean((f - ref) ** 2)))})
        if a.torch:
            f, t = dmft_curve(make_spec(a.steps, a.lr, S, "torch", act=a.act), x, y, xt)
            rows["dmft_torch"].append({"samples": S, "seconds": t, "error": float(np.sqrt(np.mean((f - ref) ** 2)))})
    for N in map(int, a.widths.split(",")):
        f, t = ensemble_curve(make_spec(a.steps, a.lr, 10, act=a.act), N, a.members, x, y, xt, a.steps, a.lr)
        rows["ensemble"].append({"width": N, "members": a.members, "seconds": t,
                                 "error": float(np.sqrt(np.mean((f - ref) ** 2)))})
    dn, en = rows["dmft_numpy"], rows["ensemble"]
    e, ratio = matched(np.array([r["error"] for r in dn]), np.array([r["seconds"] for r in dn]),
                       np.array([r["error"] for r in en]), np.array([r["seconds"] for r in en]))
    out = {"act": a.act, "P": a.P, "steps": a.steps, "reference_samples": a.ref_samples, "reference_seconds": t_ref,
           "rows": rows, "matched_error": e, "ensemble_over_dmft_time": ratio}
    for k, rs in rows.items():
        for r in rs:
            print(k, {kk: (round(v, 5) if isinstance(v, float) else v) for kk, v in r.items()})
    print(f"matched error {e}: ensemble time / DMFT time = {ratio}")
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
