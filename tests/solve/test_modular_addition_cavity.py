"""Exact cavity action and finite-population saddle of the modular-addition network: the closed-form cavity
action (Sherman–Morrison) against direct evaluation of the marginal likelihood over the P² inputs, the prior
background kernel against Monte Carlo, the mean-field per-mode action as the cavity action in a plane-wave
kernel, the analytic gradient of the joint action against finite differences, and the translation average."""

import numpy as np
import pytest

from mftsym.errors import SpecError
from mftsym.solve.modular_addition_cavity import (CavityAction, condensed_minimum_of_new_neuron, features, kernel,
                                                  marginal_action, mode_powers, population_saddle,
                                                  prior_background_kernel, single_mode_weights,
                                                  translation_average, two_hot_data, _joint_action_and_grad)
from mftsym.solve.modular_addition_phases import ModeModel, kernel_inverse_matrix, plane_wave_eigenvalues


def _population(P, N, rng, condensed=3):
    W = rng.standard_normal((N, 2 * P)) * np.sqrt(1 / (2 * P))
    for i in range(condensed):
        W[i] = single_mode_weights(P, 1 + i % ((P - 1) // 2), 150.0, 120.0, *rng.uniform(0, 2 * np.pi, 2))
    return W


@pytest.mark.parametrize("P,N", [(5, 40), (7, 60)])
def test_cavity_action_equals_marginal_likelihood_difference(P, N):
    """S_i(w) − S_i(0) (closed form with K_{−i}⁻¹) = −ln p(W|Y) with w_i = w minus with w_i = 0 (direct:
    Cholesky of the full P²×P² kernel, ½ yᵀK⁻¹y and ln det summed over the inputs)."""
    rng = np.random.default_rng(P)
    m = ModeModel(P, N, 1.0 / N, 1.0, 1e-3)
    W = _population(P, N, rng)
    for i in (0, 5):
        others = np.delete(W, i, axis=0)
        S = CavityAction(m, kernel(m, others))
        for w in (W[i], 1.7 * W[i], rng.standard_normal(2 * P)):
            h = 1e-6
            fd = [(S(w + h * e) - S(w - h * e)) / (2 * h) for e in np.eye(2 * P)]
            assert np.allclose(S.gradient(w), fd, rtol=1e-5, atol=1e-6 * np.max(np.abs(fd)))
            Wa, W0 = W.copy(), W.copy()
            Wa[i], W0[i] = w, 0.0
            direct = marginal_action(Wa, m) - marginal_action(W0, m)
            assert S(w) - S(np.zeros(2 * P)) == pytest.approx(direct, rel=1e-8, abs=1e-8)


def test_cavity_in_a_plane_wave_kernel_is_the_per_mode_action():
    """In a kernel diagonal on the plane waves (τ, ρ₀, ρ₂, 1/σ² elsewhere) the cavity action of a single-mode
    neuron is the mean-field per-mode action S_q(x, y) of modular_addition_phases."""
    P = 7
    m = ModeModel(P, 1000, 1e-3, 1.0, 1e-3)
    eig = (1 / 1.3e-3, 1 / 20e-3, 1 / 1.2e-3)
    K = np.linalg.inv(kernel_inverse_matrix(plane_wave_eigenvalues(P, m.noise, *eig)))
    S = CavityAction(m, K)
    for q, x, y in ((1, 80.0, 60.0), (3, 150.0, 150.0)):
        assert S(single_mode_weights(P, q, x, y, 0.3, 2.0)) == pytest.approx(m.action(x, y, *eig), rel=1e-9)


def test_prior_background_kernel_against_monte_carlo():
    P, n = 5, 200000
    m = ModeModel(P, 1000, 1e-3, 1.0, 1e-3)
    rng = np.random.default_rng(0)
    W = rng.standard_normal((n, 2 * P)) * np.sqrt(m.sw2 / (2 * P))
    Phi = features(W, P)
    mc = Phi @ Phi.T / n
    exact = prior_background_kernel(m, 1) / (m.sa2 / m.N)
    assert np.max(np.abs(mc - exact)) < 0.03 * np.max(exact)


def test_joint_gradient_against_finite_differences():
    P, n = 5, 3
    m = ModeModel(P, 100, 1e-2, 1.0, 1e-3)
    X, Y = two_hot_data(P)
    bg = prior_background_kernel(m, m.N - n)
    rng = np.random.default_rng(1)
    w = rng.standard_normal(n * 2 * P)
    S, g = _joint_action_and_grad(w, m, bg, X, Y, n)
    assert S == pytest.approx(marginal_action(w.reshape(n, 2 * P), m, bg), rel=1e-10)
    h = 1e-6
    fd = np.array([(_joint_action_and_grad(w + h * e, m, bg, X, Y, n)[0]
                    - _joint_action_and_grad(w - h * e, m, bg, X, Y, n)[0]) / (2 * h) for e in np.eye(len(w))])
    assert np.allclose(g, fd, rtol=1e-5, atol=1e-5 * np.max(np.abs(g)))


def test_translation_average_commutes_with_shifts_and_keeps_the_trace():
    P = 5
    rng = np.random.default_rng(2)
    B = rng.standard_normal((P * P, P * P))
    Q = B @ B.T
    Qs = translation_average(Q, P)
    a, b = np.meshgrid(np.arange(P), np.arange(P), indexing="ij")
    for s, t in ((1, 0), (2, 3)):
        perm = (((a + s) % P) * P + (b + t) % P).ravel()
        assert np.allclose(Qs[np.ix_(perm, perm)], Qs, atol=1e-10)
    assert np.trace(Qs) == pytest.approx(np.trace(Q), rel=1e-12)
    # brute-force average over the P² shifts
    avg = np.zeros_like(Q)
    for s in range(P):
        for t in range(P):
            perm = (((a + s) % P) * P + (b + t) % P).ravel()
            avg += Q[np.ix_(perm, perm)]
    assert np.allclose(Qs, avg / P ** 2, atol=1e-9)


def test_population_saddle_is_stationary_and_single_mode():
    """The joint minimum of a few condensed neurons keeps each on its mode and is stationary of −ln p(W|Y);
    single_mode_weights and mode_powers agree."""
    P = 7
    m = ModeModel(P, 300, 1.0 / 300, 1.0, 1e-3)
    w = single_mode_weights(P, 2, 90.0, 40.0, 0.7, -1.1)
    x, y, q = mode_powers(w[None], P)
    assert (x[0], y[0], q[0]) == pytest.approx((90.0, 40.0, 2), rel=1e-10)
    r = population_saddle(m, [2, 1, 1], x0=80.0, seed=3)
    alive = (r["x"] + r["y"]) > 20
    assert r["converged"] and alive.sum() >= 3
    assert np.all(r["share"][alive] > 0.9)
    assert 0 < r["fbar"] < 1


def test_bad_input_is_named():
    m = ModeModel(5, 100, 1e-2, 1.0, 1e-3)
    with pytest.raises(SpecError, match="2P"):
        features(np.zeros((3, 7)), 5)
    with pytest.raises(SpecError, match="counts"):
        population_saddle(m, [1, 1, 1])
    with pytest.raises(SpecError, match="cavity kernel"):
        CavityAction(m, np.eye(3))
    assert condensed_minimum_of_new_neuron(ModeModel(5, 100, 1e-2, 1.0, 1.0), np.eye(25), 1, phases=2) is None


def test_finite_population_state_is_a_cavity_minimum_for_every_condensed_neuron():
    """The solver option population="finite": each condensed neuron of the returned saddle (joint L-BFGS on the
    Cholesky form of −ln p(W|Y)) is also a minimum of its own cavity action (Sherman–Morrison form, BFGS) in the
    kernel of the others; p, f̄ are those of the returned weights; a hot σ² gives the Gaussian phase."""
    from pathlib import Path

    from mftsym.solve.modular_addition_phases import mode_model, solve_modular_addition_phases
    from mftsym.solve.modular_addition_cavity import fbar
    from mftsym.spec import Spec
    spec = Spec.from_toml(Path(__file__).parents[2] / "derivations" / "grokking" / "modular_addition.toml").with_params(
        P=7, d=14, N=300, sigma_w2=1.0, sigma_a2=1.0)
    s = solve_modular_addition_phases(spec, {"sigma2": 1e-3}, population="finite")
    m = mode_model(spec, {"sigma2": 1e-3})
    W = np.array(s.extras["weights"])
    assert s.extras["phase"] == "mixed" and len(W) >= 3
    assert s.order_parameters["p_condensed"] == pytest.approx(len(W) / 300)
    bg = prior_background_kernel(m, m.N - len(W))
    assert s.order_parameters["fbar"] == pytest.approx(fbar(m, kernel(m, W, bg)), rel=1e-12)
    x, y, _ = mode_powers(W, 7)
    for i in range(len(W)):
        S = CavityAction(m, kernel(m, np.delete(W, i, axis=0), bg))
        w, _ = S.minimum(W[i])
        xi, yi, _ = mode_powers(w[None], 7)
        assert (xi[0] + yi[0]) == pytest.approx(x[i] + y[i], rel=1e-3)
    hot = solve_modular_addition_phases(spec, {"sigma2": 5e-2}, population="finite")
    assert hot.extras["phase"] == "gaussian" and hot.order_parameters["fbar"] < 0.05
    with pytest.raises(SpecError, match="population"):
        solve_modular_addition_phases(spec, {"sigma2": 1e-3}, population="exact")
