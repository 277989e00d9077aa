"""Spatial specs and finite-network references for the layer tests."""

import math

import numpy as np
import torch

import mftsym as mf
from mftsym.layers.finite import EnsembleNetwork, SpecNetwork, member_generators, network_plan


def spec_of(layers, input_shape, parametrization="ntk", params=None):
    data = {"network": {"input_shape": list(input_shape), "parametrization": parametrization, "layers": layers}}
    if params:
        data["params"] = params
    return mf.Spec.from_dict(data)


def conv(width="C", kernel=(3, 3), weight_var=1.7, bias_var=0.1, **kw):
    d = {"type": "conv", "width": width, "kernel": list(kernel), "weight_var": weight_var, "bias_var": bias_var}
    d.update(kw)
    return d


def dense(width="C", weight_var=1.3, bias_var=0.2):
    return {"type": "dense", "width": width, "weight_var": weight_var, "bias_var": bias_var}


def act(fn):
    return {"type": "activation", "fn": fn}


def inputs(spec, p=3, seed=0):
    return np.random.default_rng(seed).normal(size=(p, *spec.network.input_shape))


def mc_readout_kernel(spec, x, width, members, seed=0):
    """(mean, standard error) over ``members`` random networks of the output covariance given the
    readout's input (the readout weights are Gaussian: E[f f' | features] = C_W phi.phi'/n + C_b exactly)."""
    plan = network_plan(spec, width=width)
    ens = EnsembleNetwork(plan, members)
    params = ens.init_params(member_generators(seed, members))
    with torch.no_grad():
        k = ens.readout_kernel(params, torch.as_tensor(x)).numpy()
    return k.mean(0), k.std(0, ddof=1) / math.sqrt(members)


def empirical_ntk(spec, x, width, seeds=(0, 1)):
    """Mean over ``seeds`` of J J^T, J the Jacobian of the scalar output by every raw parameter."""
    out = []
    for seed in seeds:
        net = SpecNetwork(spec, width=width, seed=seed)
        f = net(torch.as_tensor(x))[:, 0]
        rows = []
        for i in range(len(f)):
            g = torch.autograd.grad(f[i], list(net.parameters()), retain_graph=True)
            rows.append(torch.cat([t.flatten() for t in g]))
        J = torch.stack(rows)
        out.append((J @ J.T).detach().numpy())
    return np.mean(out, 0)
