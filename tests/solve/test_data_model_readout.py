"""The readout of a data-model saddle on a finite training set (mftsym/solve/data_model_readout.py,
docs/theory/grokking.md "Finite training set"): Monte Carlo kernel against Williams' arcsine kernel, the GP
posterior mean against the readout's weight-space posterior and the trainer's exact conditional, the sampled
weights against the theory's moments, the population modes against the solver's f̄."""

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from mftsym.errors import SpecError
from mftsym.layers.finite import EnsembleNetwork, network_plan
from mftsym.spec import Spec
from mftsym.solve.data_model_readout import (finite_n_predictor, gp_posterior_mean, mc_readout_kernel,
                                             population_modes, renormalised_ridge, sample_saddle_weights,
                                             saddle_state, solve_on_training_set)

SPEC = Path(__file__).parents[2] / "derivations" / "grokking" / "teacher_student.toml"
D, N = 12, 50


def _spec(treatment="relaxed"):
    s = dataclasses.replace(Spec.from_toml(SPEC), theory={"kind": "adaptive_kernel", "reduced_action": treatment})
    return s.with_params(d=D, N=N, n=200, sigma_a2=8.0 * D / 150, sigma2=0.08)


def test_mc_kernel_matches_arcsine_kernel():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, D))
    s2 = 0.7 / D
    W = rng.standard_normal((200000, D)) * math.sqrt(s2)
    K = mc_readout_kernel(W, x, scale=2.0)
    G = s2 * x @ x.T
    ref = 2.0 * (2 / np.pi) * np.arcsin(2 * G / np.sqrt(np.outer(1 + 2 * np.diag(G), 1 + 2 * np.diag(G))))
    # Monte Carlo error of a mean of products of two erf's (|erf| < 1): below 2 * 2/sqrt(M) ~ 0.009
    assert np.max(np.abs(K - ref)) < 0.01
    assert np.allclose(mc_readout_kernel(W[:5000], x, x[:3], scale=2.0), mc_readout_kernel(W[:5000], x, scale=2.0)[:, :3])


def test_gp_mean_equals_weight_space_posterior_and_trainer_conditional():
    spec = _spec()
    rng = np.random.default_rng(2)
    X, Xs = rng.standard_normal((40, D)), rng.standard_normal((7, D))
    y = rng.standard_normal(40)
    W = rng.standard_normal((N, D)) * math.sqrt(0.5 / D)
    st = saddle_state(spec)
    scale, noise = st[0].vals["sa2"], 0.08
    f = gp_posterior_mean(mc_readout_kernel(W, X, scale=scale), mc_readout_kernel(W, Xs, X, scale=scale), y, noise)
    # weight space: f = F a with a ~ N(0, (scale/M) I); posterior mean of a by the normal equations
    from scipy.special import erf
    F, Fs = erf(X @ W.T), erf(Xs @ W.T)
    a = np.linalg.solve(F.T @ F + noise * N / scale * np.eye(N), F.T @ y)
    assert np.allclose(f, Fs @ a, atol=1e-10)
    # the trainer's exact readout conditional of a mean_field network with these first-layer weights
    plan = network_plan(spec, N, D)
    ens = EnsembleNetwork(plan, 1)
    params = [torch.zeros((1, *shape), dtype=torch.float64) for _, shape, _ in ens.shapes]
    params[0][0] = torch.as_tensor(W.T / plan.dense[0].w_mult)
    assert np.allclose(ens.first_layer_weights(params)[0].numpy(), W)
    m, _ = ens.conditional_readout_posterior(params, torch.as_tensor(X), torch.as_tensor(y[:, None]),
                                             torch.as_tensor(Xs), noise)
    assert np.allclose(m[0, :, 0].numpy(), f, atol=1e-10)
    with pytest.raises(SpecError, match="noise"):
        gp_posterior_mean(np.eye(2), np.eye(2), np.ones(2), 0.0)


@pytest.mark.parametrize("treatment", ["paper", "relaxed"])
def test_sampled_weights_follow_the_saddle_distribution(treatment):
    spec = _spec(treatment)
    st = saddle_state(spec)
    num, w, _, sol = st
    ws = np.zeros(D)
    ws[0] = 1.0
    Wt = sample_saddle_weights(spec, 40000, ws, seed=3, state=st)
    phi, rho = Wt @ ws, (Wt * Wt).sum(1)
    o = sol.order_parameters
    se_phi, se_rho = np.abs(phi).std() / 200, rho.std() / 200
    assert abs(np.abs(phi).mean() - o["mean_abs_Phi"]) < 5 * se_phi + 1e-3
    assert abs(rho.mean() - o["mean_rho"]) < 5 * se_rho + 1e-3
    if treatment == "paper":
        assert np.allclose(rho - phi ** 2, 0.5)
    # the orthogonal part is isotropic: its second moment is (r/(d-1)) on each orthogonal axis
    perp = Wt[:, 1:]
    assert np.allclose(perp.var(0) / np.mean(rho - phi ** 2) * (D - 1), 1, atol=0.05)
    # population modes at the saddle's weights reproduce the solver's f-bar; a larger ridge learns less
    fb = population_modes(st)
    assert abs(fb[3] - o["fbar3"]) < 1e-9 * max(1, abs(o["fbar3"])) and abs(fb[1] - o["fbar1"]) < 1e-9
    assert abs(population_modes(st, ridge=0.16)[3]) < abs(fb[3])
    # the same from the sampled neurons' empirical <m_k m_j> (Monte Carlo over 40000 neurons)
    fe = population_modes(st, neurons=(phi, rho - phi ** 2))
    assert abs(fe[3] - fb[3]) < 0.03 * abs(fb[3]) + 2e-3 and abs(fe[1] - fb[1]) < 0.01
    # more Hermite modes in the ridge system: the teacher's modes change little, He5 is learned a little
    f5 = population_modes(st, modes=[1, 3, 5], spec=spec)
    assert set(f5) == {1, 3, 5} and abs(f5[3] - fb[3]) < 0.2 * abs(fb[3]) and f5[5] != 0
    with pytest.raises(SpecError, match="length d"):
        sample_saddle_weights(spec, 10, np.ones(3), state=st)


def test_finite_n_predictor_replicas_and_ridge():
    spec = _spec("paper")
    rng = np.random.default_rng(4)
    ws = np.zeros(D)
    ws[0] = 1.0
    X, Xs = rng.standard_normal((150, D)), rng.standard_normal((300, D))
    y = X[:, 0] - 0.3 * (X[:, 0] ** 3 - 3 * X[:, 0])
    out = finite_n_predictor(spec, X, y, Xs, ws, n_weights=3000, replicas=3, spectrum_points=200)
    # the pooled kernel's predictor lies within the replicas' spread (Monte Carlo error ~ 1/sqrt(M))
    spread = out["replicas"].std(0).max()
    assert np.max(np.abs(out["mean"] - out["replicas"].mean(0))) < 3 * spread + 1e-6
    # it fits the linear teacher part: correlation with He1 on the test points
    assert np.corrcoef(out["mean"], Xs[:, 0])[0, 1] > 0.8
    # renormalised ridge: above the noise, and equal to it for a spectrum with no weight
    kap = renormalised_ridge(out["eigs"], 150, out["noise"])
    assert kap > out["noise"] and abs(renormalised_ridge([1e-12], 150, 0.08) - 0.08) < 1e-9


def test_solve_on_training_set_is_a_fixed_point():
    spec = _spec("relaxed")
    rng = np.random.default_rng(5)
    ws = rng.standard_normal(D)
    ws /= np.linalg.norm(ws)
    X = rng.standard_normal((200, D))
    z = X @ ws
    y = z - 0.3 * (z ** 3 - 3 * z)
    out = solve_on_training_set(spec, X, y, ws, n_pool=6000, stages=2, seed=1)
    assert out["residual"] < 1e-8 and out["ess"] > 1500   # of 6000: the first pool is drawn at the population tau
    # independent check: fresh neurons at the returned tau, the kernel directly, the training-set moments
    from mftsym.solve.data_model_readout import training_set_modes
    W = sample_saddle_weights(spec, 40000, ws, seed=9, state=out["state"])
    K = mc_readout_kernel(W, X, scale=out["state"][0].vals["sa2"])
    t = np.linalg.solve(K + 0.08 * np.eye(200), y)
    tau = training_set_modes(t, X, ws)
    assert np.allclose(tau, out["tau"], rtol=0.03, atol=0.02)
    # the moments: tau_k = <t He_k>/k!, checked on a discrepancy that is exactly a Hermite combination
    assert np.allclose(training_set_modes(2 * z, X, ws), [2 * np.mean(z * z), 2 * np.mean(z * (z ** 3 - 3 * z)) / 6])
    # it differs from the population tau at n = 200, mostly in tau_1
    assert abs(out["tau"][0] - out["tau_population"][0]) > 0.05
    with pytest.raises(SpecError, match="n_train"):
        solve_on_training_set(spec, X[:50], y[:50], ws)
