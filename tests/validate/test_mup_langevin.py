"""Langevin in the mu_p parametrization (docs/theory/dynamics.md, "Langevin under μP"): the likelihood
force carries the learning-rate multiplier γ₀²N, so a μP chain is the ntk chain on targets γ₀√N y
(raw parameter for raw parameter), and the GP theory of a μP spec is the ntk GP's mean with its
variance over γ₀²N."""

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from mftsym.solve.predictors import gp_posterior          # noqa: E402
from mftsym.spec import Spec                               # noqa: E402
from mftsym.validate.langevin import Langevin              # noqa: E402
from mftsym.validate.runner import run_ensemble            # noqa: E402


def spec(par, N=64, gamma0=0.7, layers=1):
    ls = []
    for _ in range(layers):
        ls += [{"type": "dense", "width": "N", "weight_var": 1.0, "bias_var": 0.1}, {"type": "activation", "fn": "tanh"}]
    ls.append({"type": "dense", "width": 1, "weight_var": 1.0})
    return Spec.from_dict({"network": {"input_dim": 3, "parametrization": par, "layers": ls},
                           "params": {"N": N, "gamma0": gamma0}, "posterior": {"noise_var": 0.05}})


def data(scale=1.0, P=5, Pt=3):
    rng = np.random.default_rng(3)
    x, xt = rng.standard_normal((P, 3)), rng.standard_normal((Pt, 3))
    return {"x_train": x, "y_train": scale * np.sin(x[:, :1]), "x_test": xt}


@pytest.mark.parametrize("N,layers", [(64, 1), (256, 1), (96, 2)])
def test_mup_chain_is_the_ntk_chain_on_rescaled_targets(N, layers):
    """Same seeds and step: the μP chain on y and the ntk chain on γ₀√N y visit the same raw parameters,
    so every recorded test output obeys f_μP = f_ntk/(γ₀√N) (to rounding) -- with the multiplier the μP
    chain is as stable and mixes as fast as the ntk one at every width."""
    g0 = 0.7
    tr = Langevin(step_size=0.02, steps=60, burn_in=20, thin=5, rao_blackwell=False)
    a = run_ensemble(spec("mu_p", N, g0, layers), data(), N, 3, tr, seed=1)
    b = run_ensemble(spec("ntk", N, g0, layers), data(g0 * np.sqrt(N)), N, 3, tr, seed=1)
    assert np.allclose(a["mean_f"], b["mean_f"] / (g0 * np.sqrt(N)), rtol=1e-9, atol=1e-12)
    assert np.allclose(a["mean_f2"], b["mean_f2"] / (g0 ** 2 * N), rtol=1e-9, atol=1e-14)
    assert np.allclose(a["train_loss"] * g0 ** 2 * N, b["train_loss"], rtol=1e-9)
    # without the data force the chain would be prior-dominated: the outputs did move towards y
    assert np.max(np.abs(a["mean_f"].mean(0))) > 0.1


def test_mup_gp_theory_is_the_ntk_gp_mean():
    """The GP theory of a μP spec (μP kernel = ntk kernel/(γ₀²N), noise σ²/(γ₀²N)) has the ntk GP's
    posterior mean and its variance divided by γ₀²N -- the function-space law of the chain above."""
    d = SimpleNamespace(**data())
    d.y_train = np.asarray(d.y_train)
    for N in (64, 1024):
        m = gp_posterior(spec("mu_p", N, 0.7), d)
        n = gp_posterior(replace(spec("ntk", N, 0.7)), d)
        assert np.allclose(m["mean"], n["mean"], rtol=1e-10, atol=1e-12)
        assert np.allclose(m["var"] * 0.49 * N, n["var"], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", ["gp", "kernel_renormalization"])
def test_every_bayesian_theory_of_a_mup_spec_sees_the_effective_noise(kind):
    """One rule for every Bayesian theory (mftsym.solve.values.noise_value): a μP spec at σ² has the
    posterior of the ntk network on the targets γ₀√N y (same σ²), so its prediction is the ntk one on
    those targets divided by γ₀√N -- for the GP (linear in y: the ntk GP mean on y) and for kernel
    renormalization (nonlinear in y: the μP network learns features as the ntk one does on larger
    targets).  The `mftsym solve` path and the validation comparison agree."""
    from mftsym.solve.registry import get_theory
    from mftsym.solve.values import likelihood_multiplier, noise_value, raw_noise_value
    d = SimpleNamespace(**data())
    N, g0 = 128, 0.7
    mup, ntk = spec("mu_p", N, g0), spec("ntk", N, g0)
    assert likelihood_multiplier(mup) == pytest.approx(g0 ** 2 * N)
    assert noise_value(mup) == pytest.approx(raw_noise_value(mup) / (g0 ** 2 * N))
    assert noise_value(ntk) == raw_noise_value(ntk) == 0.05
    scale = g0 * np.sqrt(N)
    m = np.ravel(get_theory(kind).predict(mup, d.x_train, d.y_train, d.x_test)["mean"])
    n = np.ravel(get_theory(kind).predict(ntk, d.x_train, scale * d.y_train, d.x_test)["mean"]) / scale
    assert np.allclose(m, n, rtol=1e-6, atol=1e-9)
    if kind == "gp":
        assert np.allclose(m, np.ravel(gp_posterior(mup, d)["mean"]), rtol=1e-10, atol=1e-12)
