"""The finite-width reference of the deep DMFT tests: a μP ensemble trained by the validation
harness's gradient descent (raw step η₀γ₀²N), its outputs on the training and test points recorded
at chosen steps."""

import numpy as np


def gd_ensemble_outputs(spec, x, y, xt, lr, steps, record, N=512, members=24):
    """{step: outputs (members, P + P_test)} of ``members`` width-``N`` networks of ``spec`` after
    ``step`` gradient-descent steps of base rate ``lr``, for each step in ``record``."""
    import torch
    from mftsym.validate.gradient_descent import GradientDescent
    from mftsym.validate.torch_network import EnsembleNetwork, member_generators, network_plan
    torch.set_num_threads(1)
    ens = EnsembleNetwork(network_plan(spec, width=N), members)
    gens = member_generators(N, members)
    params = ens.init_params(gens)
    gd = GradientDescent(lr=lr, steps=steps)
    tx, ty, txt = (torch.tensor(a) for a in (x, y[:, None], xt))
    xa = torch.cat([tx, txt])
    out = {}
    for k in range(steps):
        gd.step(ens, params, gens, tx, ty, k, 1e6, None)
        if k + 1 in record:
            with torch.no_grad():
                out[k + 1] = ens.forward(params, xa)[..., 0].numpy()
    return out


def mean_and_se(outputs):
    return outputs.mean(0), outputs.std(0, ddof=1) / np.sqrt(len(outputs))
