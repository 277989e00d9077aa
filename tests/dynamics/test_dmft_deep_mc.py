"""Monte Carlo solver of the deep DMFT (docs/theory/dynamics.md, "Deep networks") against independent
references: the NTK predictor (γ₀ → 0), the exact deep linear solver (error ∝ samples^−1/2), the
two-layer Monte Carlo solver (depth 1) and finite-width μP gradient-descent ensembles (tanh)."""

import numpy as np
import pytest

from mftsym.dynamics import solve_dmft
from mftsym.dynamics.deep import DeepLinearSweep, deep_model
from mftsym.dynamics.deep_mc import DeepMonteCarloSweep
from tests.dynamics.gd_ensemble import gd_ensemble_outputs, mean_and_se
from tests.dynamics.test_dmft_deep import data, deep_spec, ntk_curve
from tests.tolerances import DMFT_NTK_LIMIT_ATOL, SLOPE_SIGMAS


@pytest.mark.parametrize("act", ["tanh", "gelu", "relu", "abs(x)"])
def test_lazy_limit_deep_nonlinear_is_the_ntk_predictor(act):
    """3 hidden layers, γ₀ = 1e-7, Monte Carlo with 100 samples: outputs at every step equal the NTK
    predictor to 1e-6 (the sampled NTK change is a control variate that vanishes with γ₀); kinked
    activations (relu, abs) through their smoothed kinks, with the exact Θ(0) as control variate."""
    x, y, xt = data(P=4, Pt=2)
    spec = deep_spec(3, act=act, gamma0=1e-7, steps=15, samples=100)
    sol = solve_dmft(spec, x, y, xt)
    assert sol.converged and sol.extras["solver"] == "monte_carlo" and sol.extras["depth"] == 3
    for k in range(0, 16, 3):
        ref = ntk_curve(spec, x, y, xt, 0.03, k)
        assert np.max(np.abs(sol.extras["train_predictions"][k] - ref[:4])) < DMFT_NTK_LIMIT_ATOL
        assert np.max(np.abs(sol.extras["test_predictions"][k] - ref[4:])) < DMFT_NTK_LIMIT_ATOL


def test_monte_carlo_error_falls_as_inverse_sqrt_samples():
    """Deep linear network (2 hidden layers, γ₀ = 1.5): Monte Carlo vs the exact solver with the same
    (Euler) output step; rms error of the final outputs over 8 seeds x 5 points at 100, 400, 1600
    samples has log-log slope −1/2 within SLOPE_SIGMAS standard errors."""
    x, y, xt = data(P=3, Pt=2)
    spec = deep_spec(2, gamma0=1.5)
    m = deep_model(spec, 3)
    xa = np.vstack([x, xt])
    Kx, th0 = m.input_kernel(xa), m.initial_ntk(xa)[:, :3]
    exact = DeepLinearSweep(m, Kx, y, 3, 1.5, 0.05, 10, output="euler").run()["f"][-1]
    Ss, seeds = np.array([100, 400, 1600]), 8
    errs = []
    for S in Ss:
        e = [DeepMonteCarloSweep(m, Kx, y, 3, 1.5, 0.05, 10, int(S), th0, seed=s).run()["f"][-1] - exact
             for s in range(seeds)]
        errs.append(np.sqrt(np.mean(np.square(e))))
    A = np.vstack([np.log(Ss), np.ones(len(Ss))]).T
    slope = np.linalg.lstsq(A, np.log(errs), rcond=None)[0][0]
    se = (1 / np.sqrt(2 * seeds * 5)) * np.sqrt(np.linalg.inv(A.T @ A)[0, 0])
    assert abs(slope + 0.5) < SLOPE_SIGMAS * se, (slope, se, errs)


def test_depth_one_monte_carlo_agrees_with_the_two_layer_solver():
    """tanh, one hidden layer: the deep Monte Carlo solver and the two-layer one (independent code,
    exact output increments) agree within their Monte Carlo errors (~0.002 at 1500 samples) plus the
    Euler output step's O(dt) difference (0.008 for the linear network at these settings; measured
    total 0.009)."""
    x, y, xt = data(P=4, Pt=2)
    spec = deep_spec(1, act="tanh", gamma0=1.5, lr=0.02, steps=15, samples=1500)
    two = solve_dmft(spec, x, y, xt)
    deep = solve_dmft(spec, x, y, xt, solver="deep_monte_carlo")
    assert deep.extras["depth"] == 1 and deep.converged
    assert np.max(np.abs(two.extras["test_predictions"] - deep.extras["test_predictions"])) < 0.02
    assert np.max(np.abs(two.extras["train_predictions"] - deep.extras["train_predictions"])) < 0.02


def test_deep_tanh_matches_finite_width_gd_ensemble():
    """μP tanh network, 3 hidden layers, N = 512, 24 members (validation harness, raw step η₀γ₀²N) vs the
    Monte Carlo DMFT (800 samples): ensemble means at steps 8 and 16 within 4 SE plus the DMFT's own
    Monte Carlo error (0.01), every network within 0.05 rms."""
    pytest.importorskip("torch")
    x, y, xt = data(P=3, Pt=2)
    spec = deep_spec(3, act="tanh", gamma0=1.0, lr=0.05, steps=16, samples=800)
    sol = solve_dmft(spec, x, y, xt)
    ref = np.hstack([sol.extras["train_predictions"], sol.extras["test_predictions"]])
    moved = False
    for t, out in gd_ensemble_outputs(spec, x, y, xt, lr=0.05, steps=16, record=(8, 16)).items():
        mean, se = mean_and_se(out)
        assert np.all(np.abs(mean - ref[t]) < 4 * se + 0.01), (t, mean, ref[t], se)
        assert np.sqrt(np.mean((out - ref[t]) ** 2)) < 0.05
        moved = moved or np.max(np.abs(ref[t])) > 0.2
    assert moved and sol.order_parameters["ntk_change"] > 0.05            # the test is not trivial


def test_numpy_and_torch_agree():
    """Same draws, 3 hidden tanh layers: the torch backend reproduces numpy to 1e-10 (outputs, NTK, kernels)."""
    pytest.importorskip("torch")
    x, y, xt = data(P=3, Pt=2)
    a = solve_dmft(deep_spec(3, act="tanh", steps=8, samples=200), x, y, xt)
    b = solve_dmft(deep_spec(3, act="tanh", steps=8, samples=200, backend="torch"), x, y, xt)
    for key in ("train_predictions", "test_predictions", "ntk", "phi_layers", "g_layers"):
        assert np.allclose(a.extras[key], b.extras[key], rtol=1e-10, atol=1e-12), key


def test_damped_iterations_agree_with_the_forward_sweep_and_report_nonconvergence():
    """method = "iterate" (damped Picard iterations on Δ(t) from the lazy solution, same draws) reaches the
    causal sweep's solution to 1e-10; two iterations are reported as not converged."""
    x, y, xt = data(P=3, Pt=2)
    spec = dict(act="erf", gamma0=2.0, steps=12, samples=150)
    fwd = solve_dmft(deep_spec(3, **spec), x, y, xt)
    it = solve_dmft(deep_spec(3, **spec, method="iterate", damping=0.7, max_iterations=100), x, y, xt)
    assert fwd.converged and fwd.residual < 1e-12 and it.converged and 1 < it.iterations < 100
    assert np.allclose(fwd.extras["test_predictions"], it.extras["test_predictions"], rtol=0, atol=1e-10)
    bad = solve_dmft(deep_spec(3, **spec, method="iterate", max_iterations=2), x, y, xt)
    assert not bad.converged and "residual" in bad.message


def test_too_large_a_problem_is_refused_before_allocating():
    from mftsym.errors import EvaluationError
    x, y, xt = data(P=40, Pt=2)
    with pytest.raises(EvaluationError, match="GiB"):
        solve_dmft(deep_spec(3, act="tanh", steps=200, samples=4000), x, y, xt)
