"""Study 5b: the deep adaptive kernel in its own regime -- mean-field scaling.

Readout f = (σ_a/N) Σ_i a_i φ_i (``parametrization = "mean_field"``, readout-level kernel σ_a² G/N)
and noise σ² = κ/N, so that t̄ = (y − f̄)/σ² = O(N) and each neuron's data term
(σ_a²/2N²)(t̄ᵀφ)² is O(1) while the trace (fluctuation) term is O(1/N): the regime of Seroussi,
Naveh & Ringel (Nat. Commun. 2023) and Rubin et al. (ICML 2025: "mean-field scaling requires only a
saddle-point approximation"), docs/theory/deep_adaptive_kernel.md.  P, d fixed, N grows; all theories
(gp, kr, deep_ak) have N-independent predictions in this scaling, so the Langevin trend with N
shows which one is the N → ∞ limit.

    python validation/study5_deep_adaptive/run_study5_mfs.py [depth ...] [--act erf|lin] [--eps 0.01] [--steps 8000]
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

torch.set_num_threads(1)
HERE = Path(__file__).parent

from mftsym.solve.adaptive import solve_adaptive_kernel  # noqa: E402
from mftsym.solve.deep_adaptive import solve_deep_adaptive_kernel  # noqa: E402
from mftsym.spec import Spec  # noqa: E402
from mftsym.validate import Langevin, teacher_data  # noqa: E402
from mftsym.validate.runner import run_ensemble  # noqa: E402
from mftsym.validate.theory import THEORIES  # noqa: E402

P, D, NT, KAPPA = 8, 8, 8, 0.1
AK_CHAINS = 20000


def dataset():
    return teacher_data(P, NT, D, noise_var=0.0, seed=4)


def theories(spec, data, ak_chains=AK_CHAINS):
    out = {"gp": np.ravel(THEORIES["gp"](spec, data)["mean"]), "kr": np.ravel(THEORIES["kr"](spec, data)["mean"])}
    sol = solve_deep_adaptive_kernel(spec, data.x_train, data.y_train, data.x_test, starts=(1.0,))
    out["deep_ak"] = np.ravel(sol.prediction)
    if len(spec.network.dense_layers) == 2:
        # one hidden layer: the exact N -> inf single-neuron measure e^{-S[w]} sampled (no Gaussian closure)
        sam = solve_adaptive_kernel(spec, data.x_train, data.y_train, data.x_test, strategy="langevin",
                                    chains=ak_chains, steps=400, tol=0.01, max_iter=40, raise_on_failure=False)
        out["ak_sampled"] = np.ravel(sam.prediction)
    return out


def ensemble(spec, data, N, eps, steps, members, seed=0):
    burn = steps // 4
    tr = Langevin(step_size=eps, steps=steps, burn_in=burn, thin=5, integrator="ou", noise="member")
    t = time.time()
    r = run_ensemble(spec, data, N, members, tr, seed=seed, progress=False, threads=1)
    rb = np.asarray(r["rb_mean_f"])[:, :, 0]          # (members, test): readout integrated out
    return {"mean": rb.mean(0), "se": rb.std(0, ddof=1) / np.sqrt(members),
            "rhat_max": float(np.nanmax(r["rhat"])), "seconds": time.time() - t,
            "train_loss": float(np.mean(r["train_loss"]))}


def compare(exp, se, th):
    z = (exp - th) / se
    return {"rms": float(np.sqrt(max(np.mean((exp - th) ** 2) - np.mean(se ** 2), 0.0))),
            "rms_raw": float(np.sqrt(np.mean((exp - th) ** 2))), "maxz": float(np.abs(z).max()),
            "chi2_per_point": float(np.mean(z ** 2))}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("depths", nargs="*", type=int, default=[2])
    ap.add_argument("--widths", default="16,32,64")
    ap.add_argument("--eps", type=float, default=0.01)
    ap.add_argument("--steps", type=int, default=8000)
    ap.add_argument("--members", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tag", default="")
    ap.add_argument("--ak-chains", type=int, default=AK_CHAINS, help="chains of the sampled one-layer AK")
    ap.add_argument("--act", default="erf", choices=("erf", "lin"))
    a = ap.parse_args()
    data = dataset()
    ACT = a.act
    for L in a.depths:
        rows = []
        for N in [int(w) for w in a.widths.split(",")]:
            spec = Spec.from_toml(HERE / f"spec_{ACT}{L}_mfs.toml").with_params(N1=N, d=D, kappa=KAPPA)
            th = theories(spec, data, a.ak_chains)
            e = ensemble(spec, data, N, a.eps, a.steps, a.members, a.seed)
            row = {"N": N, "mean_se": float(e["se"].mean()), "rhat_max": e["rhat_max"], "seconds": e["seconds"],
                   "experiment": e["mean"].tolist(), "se": e["se"].tolist(),
                   **{k: compare(e["mean"], e["se"], v) for k, v in th.items()},
                   "theory": {k: v.tolist() for k, v in th.items()}}
            rows.append(row)
            print(f"{ACT} L={L} N={N} eps={a.eps} steps={a.steps}: " + "  ".join(
                f"{k} rms {row[k]['rms']:.4f} maxz {row[k]['maxz']:.1f}" for k in th)
                + f"  SE {row['mean_se']:.4f} Rhat {e['rhat_max']:.3f} {e['seconds']:.0f}s", flush=True)
        name = f"summary_{ACT}{L}_mfs{a.tag}.json"
        (HERE / name).write_text(json.dumps({"P": P, "d": D, "kappa": KAPPA, "eps": a.eps, "steps": a.steps,
                                             "members": a.members, "seed": a.seed, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
