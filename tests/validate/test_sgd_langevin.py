"""Mini-batch SGD noise vs Langevin (docs/theory/dynamics.md, "SGD and Langevin").

Linear model f = θ·x on a design where every input coordinate carries m = P/d points x = ±√d e_k
(H = XᵀX = P I) and the labels have residuals ±a at the least-squares solution on every point, so
the mini-batch noise covariance is exactly isotropic: S = Σ_μ r_μ² x_μ x_μᵀ = a² H.  SGD in the
harness (θ ← θ − η Σ_{μ∈batch} r_μ x_μ, batches of B drawn without replacement) then has the
stationary covariance of the discrete Lyapunov equation

    C = η² κ (a² P + (d − 1) P C) / (2ηB − η²B²),      κ = B(P − B)/(P(P − 1))

(the (d−1)PC term: the noise carried by the fluctuations themselves), i.e. C = T_eff H⁻¹: the
Langevin stationary law (flat prior) at temperature T_eff = P C ≈ η a² P (P − B)/(2(P − 1)) —
∝ η (P − B)/(P − 1) for the summed mini-batch loss, ∝ η_mean/B for the averaged one (η_mean = ηB).
"""

import numpy as np
import pytest
import torch

from mftsym.spec import Spec
from mftsym.validate.gradient_descent import GradientDescent
from mftsym.validate.torch_network import EnsembleNetwork, member_generators, network_plan
from tests.tolerances import MC_SIGMAS

D, M_PER, A = 4, 8, 0.5
P = D * M_PER


def design():
    s = np.tile([1, 1, 1, 1, -1, -1, -1, -1], D)
    eps = A * np.tile([1, -1, 1, -1, 1, -1, 1, -1], D)
    k = np.repeat(np.arange(D), M_PER)
    x = np.zeros((P, D))
    x[np.arange(P), k] = s * np.sqrt(D)
    w_star = np.array([0.5, -1.0, 0.3, 0.8])
    y = x @ w_star + eps
    return x, y, w_star


def predicted_cov(lr, B):
    kappa = B * (P - B) / (P * (P - 1))
    return lr ** 2 * kappa * A ** 2 * P / (2 * lr * B - lr ** 2 * B ** 2 - lr ** 2 * kappa * (D - 1) * P)


def sgd_stationary(lr, B, members=48, burn=200, steps=1200, every=6, seed=0):
    torch.set_num_threads(1)
    spec = Spec.from_dict({"network": {"input_dim": D, "layers": [{"type": "dense", "width": 1, "weight_var": D}]}})
    ens = EnsembleNetwork(network_plan(spec), members)
    gens = member_generators(seed, members)
    params = ens.init_params(gens)
    x, y, w = design()
    tx, ty = torch.tensor(x), torch.tensor(y[:, None])
    gd = GradientDescent(lr=lr, steps=burn + steps, batch_size=B)
    samples = []
    for k in range(burn + steps):
        gd.step(ens, params, gens, tx, ty, k, 1e9, None)
        if k >= burn and (k - burn) % every == 0:
            samples.append(params[0][:, :, 0].numpy().copy())
    th = np.stack(samples)                    # (T, M, D)
    dev = th - w                              # the stationary mean is the least-squares solution w*
    var_per_member = (dev ** 2).mean(axis=(0, 2))          # members are independent: SE over members
    return dev.mean(), var_per_member.mean(), var_per_member.std(ddof=1) / np.sqrt(members), th


SETTINGS = ((0.01, 8), (0.02, 8), (0.01, 16))


@pytest.fixture(scope="module")
def runs():
    return {(lr, B): sgd_stationary(lr, B, seed=i) for i, (lr, B) in enumerate(SETTINGS)}


def test_sgd_stationary_covariance_is_langevin_at_effective_temperature(runs):
    for (lr, B), (mean_dev, var, se, th) in runs.items():
        pred = predicted_cov(lr, B)
        assert abs(var - pred) < MC_SIGMAS * se, (lr, B, var, pred, se)
        # isotropic and uncorrelated across coordinates: the Langevin law T_eff H^-1 with H = P I
        dev = (th - th.mean(axis=(0, 1))).reshape(-1, D)
        cov = dev.T @ dev / len(dev)
        assert np.max(np.abs(cov - np.diag(np.diag(cov)))) < 0.15 * pred
        assert abs(mean_dev) < 0.05 * np.sqrt(pred)


def test_effective_temperature_scales_with_lr_and_batch(runs):
    """T_eff = P C: doubling η doubles it (up to the O(ηB) factor 2 − ηB); B = 8 -> 16 multiplies it by
    (P − 16)/(P − 8) (times the same O(ηB) factor): the summed-loss form of T ∝ η/B."""
    (_, v1, s1, _), (_, v2, s2, _), (_, v3, s3, _) = (runs[k] for k in SETTINGS)
    r_lr, r_b = v2 / v1, v3 / v1
    se_lr = r_lr * np.hypot(s1 / v1, s2 / v2)
    se_b = r_b * np.hypot(s1 / v1, s3 / v3)
    assert abs(r_lr - predicted_cov(0.02, 8) / predicted_cov(0.01, 8)) < MC_SIGMAS * se_lr
    assert abs(r_b - predicted_cov(0.01, 16) / predicted_cov(0.01, 8)) < MC_SIGMAS * se_b
    leading = (P - 16) / (P - 8) * (2 - 0.08) / (2 - 0.16)
    assert abs(predicted_cov(0.01, 16) / predicted_cov(0.01, 8) - leading) < 0.01
