"""What local kernel renormalization is the saddle point of, checked by exact finite-C integrals.

LKR (Aiudi et al. 2025; docs/theory/local_kernel_renormalization.md) treats each channel's patch
features as Gaussian vectors of covariance K_ij, which makes the readout kernel K_Q =
(σ_a²/N_p) Σ_ij Q_ij K_ij with Q = a aᵀ/C Wishart, and then takes the saddle point over Q.  Two exact
references, by importance sampling with the GP evidence as weight (no saddle point, no sampler):

* ``wishart``: the finite-C posterior of that Gaussian-feature network (Q drawn from the Wishart);
* ``filters``: the finite-C posterior of the CNN itself (filters drawn from their prior).

Checked: (1) LKR converges to ``wishart`` as C grows (the saddle point is right; at P = 12 the error
falls 2.6-2.8x from C = 8 to 32, at fixed P/C = 3 as C^-1.4 in validation/study_lkr_cnn);
(2) for a linear activation ``wishart`` = ``filters`` (features linear in Gaussian filters are
Gaussian), so LKR is exact up to O(1/C); (3) for erf they differ at C = 4 by far more than the
Monte Carlo error: the gap between LKR and Langevin ensembles of the erf CNN
(validation/study_lkr_cnn) is the Gaussian-feature ansatz, not the solver.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import mftsym as mf
from mftsym.solve.local_renormalization import patch_kernels, solve_local_kernel_renormalization

S2 = 0.2


def spec(fn, C):
    return mf.Spec.from_dict({"network": {"input_shape": [4, 4, 1], "parametrization": "ntk", "layers": [
        {"type": "conv", "width": "C", "kernel": [2, 2], "stride": [2, 2], "padding": "valid", "weight_var": 1.0},
        {"type": "activation", "fn": fn}, {"type": "flatten"}, {"type": "dense", "width": 1, "weight_var": 1.0}]},
        "posterior": {"noise_var": S2}, "params": {"C": C}})


def data(P=12, P_test=6, seed=7):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(P + P_test, 16))
    w = rng.normal(size=4)
    y = 2.0 * np.tanh(x.reshape(-1, 4, 4)[:, :2, :2].reshape(len(x), 4) @ w / 2.0)
    return x[:P], y[:P], x[P:]


def _weighted(K, P, y, log_ratio=0.0):
    L = torch.linalg.cholesky(K[:, :P, :P] + S2 * torch.eye(P, dtype=torch.float64))
    al = torch.cholesky_solve(torch.as_tensor(y)[None, :, None].expand(len(K), P, 1), L)[..., 0]
    logz = (-0.5 * (torch.as_tensor(y) * al).sum(1) - torch.log(torch.diagonal(L, dim1=1, dim2=2)).sum(1)).numpy()
    m = (K[:, P:, :P] @ al[..., None])[..., 0].numpy()
    logz = logz + log_ratio
    w = np.exp(logz - logz.max())
    w /= w.sum()
    mu = w @ m
    assert 1 / np.sum(w ** 2) > 1000                           # effective sample size
    return mu, np.sqrt(np.sum(w[:, None] ** 2 * (m - mu) ** 2, 0))


def wishart(fn, C, x, y, xt, samples=40_000, seed=0):
    """Q = a aᵀ/C, a ~ N(0, I): drawn around the LKR saddle Q* (a ~ N(0, Q*)) and reweighted by
    prior/proposal = det Q*^{C/2} exp(−(C/2) tr((I − Q*⁻¹) Q)), which keeps the sample size effective."""
    s = spec(fn, C)
    Qs = torch.as_tensor(solve_local_kernel_renormalization(s, x, y).extras["Q"], dtype=torch.float64)
    Lq = torch.linalg.cholesky(Qs)
    Kij = torch.as_tensor(patch_kernels(s, np.concatenate([x, xt])))
    a = Lq @ torch.randn(samples, 4, C, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    Q = a @ a.transpose(1, 2) / C
    ratio = -0.5 * C * torch.einsum("ij,bji->b", torch.eye(4, dtype=torch.float64) - torch.cholesky_inverse(Lq), Q)
    ratio = (ratio + C * torch.log(torch.diagonal(Lq)).sum()).numpy()
    return _weighted(torch.einsum("bij,ijpq->bpq", Q, Kij) / 4, len(x), y, ratio)


def filters(fn, C, x, y, xt, samples=100_000, seed=1):
    phi = {"erf": torch.erf, "identity": lambda z: z}[fn]
    xa = np.concatenate([x, xt]).reshape(-1, 4, 4)
    pt = torch.tensor(np.stack([xa[:, a:a + 2, b:b + 2].reshape(len(xa), 4) for a in (0, 2) for b in (0, 2)], 1))
    W = torch.randn(samples, 4, C, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    h = phi(torch.einsum("pin,bnc->bpic", pt, W) / 2.0).reshape(samples, len(pt), -1)
    return _weighted(h @ h.transpose(1, 2) / (4 * C), len(x), y)


def lkr(fn, C, x, y, xt):
    return solve_local_kernel_renormalization(spec(fn, C), x, y, xt).prediction


@pytest.mark.parametrize("fn", ["erf", "identity"])
def test_lkr_is_the_saddle_point_of_the_gaussian_feature_network(fn):
    x, y, xt = data()
    err = {}
    for C in (8, 32):
        mu, se = wishart(fn, C, x, y, xt)
        err[C] = np.sqrt(np.mean((lkr(fn, C, x, y, xt) - mu) ** 2))
        assert err[C] > 3 * se.mean()                          # resolved
    assert err[32] < err[8] / 2, err       # measured 2.8x (erf), 2.6x (linear); 1/C would be 4x, 1/sqrt(C) 2x


def test_gaussian_features_are_the_cnn_for_linear_but_not_for_erf():
    x, y, xt = data()
    C = 4
    gap = {}
    for fn in ("identity", "erf"):
        mw, sw = wishart(fn, C, x, y, xt)
        mf_, sf = filters(fn, C, x, y, xt)
        z = (mw - mf_) / np.hypot(sw, sf)
        gap[fn] = np.max(np.abs(z))
    assert gap["identity"] < 4.5, gap                                 # the same posterior (both exact)
    assert gap["erf"] > 10, gap                                # the non-Gaussian features of erf
