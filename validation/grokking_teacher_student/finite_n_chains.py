"""Rerun the Langevin chains of ``run.py`` (same spec, data, seeds and trainer, so the same chains) at one or
more sigma2 and keep what the finite-n readout check needs: the final first-layer weights of every chain,
the posterior-mean predictor on the test set (``mean_f``) and its Rao-Blackwellised version (``rb_mean_f``:
per recorded sample the exact Gaussian conditional of the readout given that sample's first layer,
f_bar(x*) = K_W(x*, X)(K_W(X, X) + sigma^2 I)^{-1} y with K_W the chain's empirical readout kernel, averaged
over the 40 samples of each chain).

    python validation/grokking_teacher_student/finite_n_chains.py 0.05 0.09      # about 2 min per value
writes finite_n_chains/sigma2_<value>.npz.
"""
import sys
from pathlib import Path

import numpy as np
import torch

import mftsym.validate.runner as runner

sys.path.insert(0, str(Path(__file__).parent))
from run_setup import MEMBERS, N, STEPS, BURN, data, spec  # noqa: E402

from mftsym.validate import Langevin, run_ensemble  # noqa: E402

torch.set_num_threads(1)
OUT = Path(__file__).parent / "finite_n_chains"
_overlaps = runner.teacher_overlaps


def _with_weights(ens, params, direction):      # also keep the final first-layer weights
    out = _overlaps(ens, params, direction)
    out["weights"] = ens.first_layer_weights(params).cpu().numpy()
    return out


runner.teacher_overlaps = _with_weights
if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    for s2 in map(float, sys.argv[1:]):
        out = run_ensemble(spec.with_params(sigma2=s2), data, N, MEMBERS,
                           Langevin(step_size=0.01, steps=STEPS, burn_in=BURN, thin=50), seed=1)
        np.savez_compressed(OUT / f"sigma2_{s2}.npz", weights=out["weights"], mean_f=out["mean_f"][..., 0],
                            rb_mean_f=out["rb_mean_f"][..., 0], overlap=out["overlap"], norm2=out["norm2"],
                            rhat_max=np.max(out["rhat"]))
        print(f"sigma2 = {s2} done", flush=True)
