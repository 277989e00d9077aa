"""The Langevin sampler of mftsym.validate on a one-hidden-layer CNN against the exact posterior.

Reference (independent of mftsym.validate): given the conv filters w, the readout is Gaussian and
f | w is a GP with the empirical readout kernel K_w, so the posterior mean is
E_post[m_w] = E_prior[Z(w) m_w] / E_prior[Z(w)] with Z(w) = N(y; 0, K_w + σ² I) -- importance
sampling over prior filters, exact up to Monte Carlo error at a small channel number.  At C = 2 the
finite-width posterior is far from the GP, so a wrong prior scale, readout multiplier, likelihood
temperature or sampler would show (docs/theory/local_kernel_renormalization.md, "Langevin checks").
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import mftsym as mf
from mftsym.validate import Dataset, Langevin
from mftsym.validate.runner import run_ensemble

S2 = 0.2
SPEC = {"network": {"input_shape": [4, 4, 1], "parametrization": "ntk", "layers": [
    {"type": "conv", "width": "N", "kernel": [2, 2], "stride": [2, 2], "padding": "valid", "weight_var": 1.0},
    {"type": "activation", "fn": "erf"}, {"type": "flatten"},
    {"type": "dense", "width": 1, "weight_var": 1.0}]},
    "posterior": {"noise_var": S2}}


def data(P=8, P_test=4, seed=5):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(P + P_test, 4, 4, 1))
    w = rng.normal(size=4)
    y = 2.0 * np.tanh(x[:, :2, :2, 0].reshape(len(x), 4) @ w / 2.0)[:, None]
    return Dataset(x[:P], y[:P], x[P:], y[P:])


def exact_posterior_mean(d, C, samples=200_000, seed=0):
    """Importance sampling over prior filters (see the module docstring); (mean, se, gp_mean)."""
    x = np.concatenate([d.x_train, d.x_test]).reshape(-1, 4, 4)
    pt = torch.tensor(np.stack([x[:, a:a + 2, b:b + 2].reshape(len(x), 4) for a in (0, 2) for b in (0, 2)], 1))
    y = torch.tensor(d.y_train[:, 0])
    P = len(y)
    W = torch.randn(samples, 4, C, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    h = torch.erf(torch.einsum("pin,bnc->bpic", pt, W) / 2.0).reshape(samples, len(pt), -1)
    K = h @ h.transpose(1, 2) / (4 * C)
    L = torch.linalg.cholesky(K[:, :P, :P] + S2 * torch.eye(P, dtype=torch.float64))
    al = torch.cholesky_solve(y[None, :, None].expand(samples, P, 1), L)[..., 0]
    logz = (-0.5 * (y * al).sum(1) - torch.log(torch.diagonal(L, dim1=1, dim2=2)).sum(1)).numpy()
    m = (K[:, P:, :P] @ al[..., None])[..., 0].numpy()
    w = np.exp(logz - logz.max())
    w /= w.sum()
    mu = w @ m
    se = np.sqrt(np.sum(w[:, None] ** 2 * (m - mu) ** 2, 0))
    assert 1 / np.sum(w ** 2) > 2000                       # effective sample size
    xa = np.concatenate([d.x_train, d.x_test]).reshape(P + len(d.x_test), -1)
    Kg = np.asarray(mf.kernel(mf.Spec.from_dict(SPEC).with_params(N=C), xa))
    gp_mean = Kg[P:, :P] @ np.linalg.solve(Kg[:P, :P] + S2 * np.eye(P), d.y_train[:, 0])
    return mu, se, gp_mean


@pytest.mark.parametrize("integrator", ["ou"])
def test_langevin_cnn_posterior_mean_is_exact(integrator):
    d = data()
    C = 2
    mu, se_is, gp_mean = exact_posterior_mean(d, C)
    tr = Langevin(step_size=0.02, steps=3000, burn_in=500, thin=5, integrator=integrator)
    out = run_ensemble(mf.Spec.from_dict(SPEC), d, C, 16, tr, seed=1)
    per = out["rb_mean_f"][..., 0]
    mean, se = per.mean(0), per.std(0, ddof=1) / math.sqrt(len(per))
    z = (mean - mu) / np.hypot(se, se_is)
    assert np.max(np.abs(z)) < 4.5, (mean, mu, z)
    z_gp = (mean - gp_mean) / se                           # the check has the power to see C = 2 effects
    assert np.max(np.abs(z_gp)) > 10, z_gp
