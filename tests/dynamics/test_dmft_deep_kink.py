"""Deep Monte Carlo DMFT with kinked activations (docs/theory/dynamics.md, "Deep networks"): the kink is
smoothed by a Gaussian of width KINK_WIDTH so that pathwise responses carry the Dirac mass of φ''.
References: numerical Gaussian convolution, the softplus_β family solved
pathwise (smooth, β → ∞ is relu) and a finite-width μP gradient-descent ensemble; the NTK limit (γ₀ → 0) of
relu and abs is checked with the smooth activations in test_dmft_deep_mc.py."""

import dataclasses

import numpy as np
import pytest
import sympy as sp

from mftsym.dynamics import solve_dmft
from mftsym.dynamics.deep import X, deep_model, smooth_kinks
from mftsym.dynamics.deep_mc import DeepMonteCarloSweep
from mftsym.dynamics.deep_solver import KINK_WIDTH
from tests.dynamics.gd_ensemble import gd_ensemble_outputs, mean_and_se
from tests.dynamics.test_dmft_deep import data, deep_spec


@pytest.mark.parametrize("act", ["relu", "leaky_relu(0.2)", "abs(x)"])
def test_smoothed_kink_is_the_gaussian_convolution(act):
    """φ_w equals ∫ φ(x + w t) N(t) dt (adaptive quadrature split at the kink) to 1e-6 at w = 0.1, 0.3;
    its derivatives are continuous across the kink."""
    m = deep_model(deep_spec(2, act=act), 3)
    phi = sp.lambdify(X, m.phis[0], "numpy")
    from scipy.integrate import quad
    xs = np.linspace(-1.5, 1.5, 61)
    for w in (0.1, 0.3):
        pw = smooth_kinks(m.phis[0], w)
        f = sp.lambdify(X, pw, ["scipy", "numpy"])
        ref = np.array([quad(lambda t: phi(x0 + w * t) * np.exp(-t * t / 2) / np.sqrt(2 * np.pi), -12, 12,
                             points=[-x0 / w], epsabs=1e-12, limit=200)[0] for x0 in xs])
        assert np.max(np.abs(f(xs) - ref)) < 1e-6
        d1 = sp.lambdify(X, sp.diff(pw, X).replace(lambda e: isinstance(e, sp.DiracDelta), lambda e: 0), ["scipy", "numpy"])
        assert abs(d1(1e-9) - d1(-1e-9)) < 1e-6


def test_two_and_shifted_kinks_are_smoothed_and_continuous_slopes_left_alone():
    """relu(x) − relu(x − 1) (two kinks) and relu(2x − 1) (a kink at 1/2, slope 2): φ_w equals the
    Gaussian convolution to 1e-6; x² H(x) (φ' continuous, no Dirac mass in φ'') needs no smoothing."""
    from scipy.integrate import quad
    xs = np.linspace(-1.5, 1.5, 31)
    for phi in (sp.Max(0, X) - sp.Max(0, X - 1), sp.Max(0, 2 * X - 1)):
        f, p = (sp.lambdify(X, e, ["scipy", "numpy"]) for e in (smooth_kinks(phi, 0.1), phi))
        ref = np.array([quad(lambda t: p(x0 + 0.1 * t) * np.exp(-t * t / 2) / np.sqrt(2 * np.pi), -12, 12,
                             points=[-x0 / 0.1, (0.5 - x0) / 0.1, (1 - x0) / 0.1], epsabs=1e-12, limit=200)[0]
                        for x0 in xs])
        assert np.max(np.abs(f(xs) - ref)) < 1e-6
    assert smooth_kinks(X ** 2 * sp.Heaviside(X), 0.1) is None


def test_deep_relu_matches_finite_width_gd_ensemble():
    """μP relu network, 3 hidden layers, N = 512, 24 members (validation harness, raw step η₀γ₀²N) vs the
    Monte Carlo DMFT (smoothed kink; mean of 4 draws of 800 samples): ensemble means at steps 8 and 16
    within 4 combined standard errors (ensemble and DMFT draws), every network within 0.06 rms of the
    DMFT; the features move."""
    pytest.importorskip("torch")
    x, y, xt = data(P=3, Pt=2)
    spec = deep_spec(3, act="relu", gamma0=1.0, lr=0.05, steps=16, samples=800)
    sols = [solve_dmft(spec, x, y, xt, seed=s) for s in range(4)]
    refs = np.array([np.hstack([s.extras["train_predictions"], s.extras["test_predictions"]]) for s in sols])
    ref, ref_se = refs.mean(0), refs.std(0, ddof=1) / 2
    sol = sols[0]
    moved = False
    for t, out in gd_ensemble_outputs(spec, x, y, xt, lr=0.05, steps=16, record=(8, 16)).items():
        mean, se = mean_and_se(out)
        assert np.all(np.abs(mean - ref[t]) < 4 * np.hypot(se, ref_se[t])), (t, mean, ref[t], se)
        assert np.sqrt(np.mean((out - ref[t]) ** 2)) < 0.06
        moved = moved or np.max(np.abs(ref[t])) > 0.2
    assert moved and sol.order_parameters["ntk_change"] > 0.05            # the test is not trivial


def test_smoothed_relu_agrees_with_sharp_softplus_and_pathwise_relu_does_not():
    """3 hidden layers, γ₀ = 1.5, 1200 samples, 3 paired draws: the solver's relu (kink smoothed at
    KINK_WIDTH) vs softplus_30 = log(1 + e^{30x})/30 (smooth, exact pathwise responses; relu's Θ(0) as
    control variate for both) agree at step 16 within 4 SE plus 0.008 (the smoothing bias: halving the
    width moved the outputs by <= 0.006 at 2400 samples); plain pathwise relu (φ'' = 0, no Dirac mass)
    misses softplus_30 by more than 6 SE on some output (measured 0.012, 8 SE), so the Dirac mass matters.
    (The smoothing allowance 0.008 is close to that miss: this check bounds the estimator's bias, the
    paired SE comparison shows the pathwise one is biased.)"""
    x, y, xt = data(P=3, Pt=2)
    xa = np.vstack([x, xt])

    def outputs(act, smooth, seed):
        m = deep_model(deep_spec(3, act=act, gamma0=1.5), 3)
        if smooth:
            m = dataclasses.replace(m, phis=tuple(smooth_kinks(p, KINK_WIDTH) for p in m.phis))
        return DeepMonteCarloSweep(m, m.input_kernel(xa), y, 3, 1.5, 0.05, 16, 1200, theta_relu, seed=seed).run()["f"][16]

    theta_relu = deep_model(deep_spec(3, act="relu"), 3).initial_ntk(xa)[:, :3]
    d_smooth, d_path = [], []
    for seed in range(3):
        ref = outputs("log(1 + exp(30*x))/30", False, seed)
        d_smooth.append(outputs("relu", True, seed) - ref)
        d_path.append(outputs("relu", False, seed) - ref)
    ds, dp = np.array(d_smooth), np.array(d_path)
    se_s, se_p = ds.std(0, ddof=1) / np.sqrt(3), dp.std(0, ddof=1) / np.sqrt(3)
    assert np.all(np.abs(ds.mean(0)) < 4 * se_s + 0.008), (ds.mean(0), se_s)
    assert np.any(np.abs(dp.mean(0)) > 6 * se_p), (dp.mean(0), se_p)
