"""The ``mu_p`` parametrization: prior kernels against the torch networks, and the coordinate check
of Yang & Hu (2021): under μP (with the learning rate η₀γ₀²N of the trainer) the hidden
pre-activations and their change after a gradient step stay O(1) as the width grows 64 -> 4096;
under the standard parametrization at a fixed learning rate they do not (docs/theory/dynamics.md)."""

import math

import numpy as np
import pytest
import torch

import mftsym
from mftsym.spec import Spec
from mftsym.validate.gradient_descent import GradientDescent
from mftsym.validate.torch_network import EnsembleNetwork, member_generators, network_plan

WIDTHS = (64, 256, 1024, 4096)


def _spec(param, depth=2, gamma0=1.0):
    layers = []
    for _ in range(depth):
        layers += [{"type": "dense", "width": "N", "weight_var": 1.0}, {"type": "activation", "fn": "tanh"}]
    layers.append({"type": "dense", "width": 1, "weight_var": 1.0})
    return Spec.from_dict({"network": {"input_dim": 8, "parametrization": param, "layers": layers},
                           "params": {"gamma0": gamma0, "N": 64}})


def _data(P=4, d=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(P, d, generator=g, dtype=torch.float64)
    return x, torch.randn(P, 1, generator=g, dtype=torch.float64)


def _hidden_pre(ens, params, x):
    """Pre-activations of every hidden dense layer, [(M, P, N)]."""
    out, h, it = [], x, iter(params)
    for layer in ens.plan.layers:
        if hasattr(layer, "fan_in"):
            h = torch.matmul(h, next(it)) * layer.w_mult
            out.append(h)
        else:
            h = layer[1](h)
    return out[:-1], out[-1]


def _one_step_sizes(param, width, lr):
    torch.manual_seed(0)
    spec = _spec(param)
    ens = EnsembleNetwork(network_plan(spec, width=width), members=1)
    gens = member_generators(1, 1)
    params = ens.init_params(gens)
    x, y = _data()
    with torch.no_grad():
        h0, f0 = _hidden_pre(ens, params, x)
    gd = GradientDescent(lr=lr, steps=1)
    loss0 = float((0.5 * (f0 - y) ** 2).sum())
    gd.step(ens, params, gens, x, y, 0, loss0 + 1.0, None)
    with torch.no_grad():
        h1, f1 = _hidden_pre(ens, params, x)
    rms = lambda t: float(t.pow(2).mean().sqrt())
    return ([rms(h) for h in h0], [rms(b - a) for a, b in zip(h0, h1)], rms(f1 - f0))


def _slope(widths, values):
    return float(np.polyfit(np.log(widths), np.log(values), 1)[0])


@pytest.fixture(scope="module")
def sizes():
    torch.set_num_threads(1)
    return {param: [_one_step_sizes(param, n, lr) for n in WIDTHS]
            for param, lr in (("mu_p", 0.5), ("standard", 0.5))}


def test_mup_prior_kernel_matches_torch_ensemble():
    """Output covariance at initialisation: derive_kernels' NNGP (ntk's over γ₀²N) = the torch ensemble's."""
    spec = _spec("mu_p", depth=1, gamma0=0.5).with_params(N=50)
    x = _data(3)[0].numpy()
    K = mftsym.kernel(spec, x, kind="nngp")
    K_ntk = mftsym.kernel(Spec.from_dict({**spec.to_dict(), "network": {**spec.to_dict()["network"],
                                                                       "parametrization": "ntk"}}), x, kind="nngp")
    assert np.allclose(K, K_ntk / (0.5 ** 2 * 50), rtol=1e-12)
    M = 40_000
    ens = EnsembleNetwork(network_plan(spec, width=50), M)
    f = ens.forward(ens.init_params(member_generators(3, M)), torch.tensor(x))[..., 0].numpy()
    emp = f.T @ f / M
    se = np.sqrt((K ** 2 + np.outer(np.diag(K), np.diag(K))) / M)      # Gaussian-limit standard error
    assert np.all(np.abs(emp - K) < 5 * se + 1e-12)


def test_mup_lr_multiplier():
    plan = network_plan(_spec("mu_p", gamma0=0.3), width=128)
    assert plan.lr_multiplier == pytest.approx(0.3 ** 2 * 128)
    assert network_plan(_spec("ntk"), width=128).lr_multiplier == 1.0


def test_mup_needs_gamma0():
    spec = Spec.from_dict({"network": {"input_dim": 2, "parametrization": "mu_p",
                                       "layers": [{"type": "dense", "width": 4, "weight_var": 1},
                                                  {"type": "activation", "fn": "tanh"},
                                                  {"type": "dense", "width": 1, "weight_var": 1}]}})
    with pytest.raises(mftsym.errors.SpecError, match="gamma0"):
        network_plan(spec)


def test_coordinate_check_mup_stays_order_one(sizes):
    """μP: every hidden layer's activations and their one-step updates are width-independent
    (log-log slope vs N within ±0.1 over 64 -> 4096), and so is the output's update."""
    res = sizes["mu_p"]
    for layer in range(2):
        act = [r[0][layer] for r in res]
        upd = [r[1][layer] for r in res]
        assert abs(_slope(WIDTHS, act)) < 0.1, act
        assert abs(_slope(WIDTHS, upd)) < 0.1, upd
        assert min(upd) > 1e-3                 # the features move (feature learning), O(1)
    assert abs(_slope(WIDTHS, [r[2] for r in res])) < 0.1


def test_coordinate_check_standard_does_not(sizes):
    """Standard parametrization at a fixed learning rate: the first layer's update vanishes with
    width (measured slope -0.63) while the output's update grows (measured +0.68): no
    width-independent limit in which features learn."""
    res = sizes["standard"]
    assert abs(_slope(WIDTHS, [r[0][0] for r in res])) < 0.1         # the activations themselves are O(1)
    assert _slope(WIDTHS, [r[1][0] for r in res]) < -0.3, [r[1][0] for r in res]
    assert _slope(WIDTHS, [r[2] for r in res]) > 0.3
