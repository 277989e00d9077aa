"""Spectral learning curves: the Gegenbauer spectrum of the compiled kernel, the κ equations against
the closed-form power-law exponents, and against kernel regression on sampled data."""

import json

import numpy as np
import pytest
import sympy as sp

import mftsym
from mftsym.errors import EvaluationError, SpecError
from mftsym.solve.curves import spec_learning_curve, target_function
from mftsym.solve.learning_curves import (fit_slope, learning_curve, power_law_curve, power_law_exponent,
                                          solve_kappa)
from mftsym.solve.spectrum import (degeneracy, dot_product_function, legendre_d, nystrom_spectrum,
                                   sphere_spectrum)
from mftsym.spec import Spec
from tests.tolerances import (GAUSSIAN_EQUIVALENCE_RTOL, GAUSSIAN_NYSTROM_RTOL, MC_SIGMAS, NYSTROM_RTOL,
                              POWER_LAW_EXPONENT_ATOL, QUADRATURE_ATOL, QUADRATURE_RTOL)

RELU = """
[network]
input_dim = 4
[[network.layers]]
type = "dense"
width = 64
weight_var = 2.0
bias_var = 0.1
[[network.layers]]
type = "activation"
fn = "relu"
[[network.layers]]
type = "dense"
width = 1
weight_var = 1.0
[posterior]
noise_var = "0.01"
"""


def _spec(act="relu", d=4, bias=0.1):
    text = RELU.replace('fn = "relu"', f'fn = "{act}"').replace("input_dim = 4", f"input_dim = {d}")
    return Spec.from_toml_string(text.replace("bias_var = 0.1", f"bias_var = {bias}"))


def _sphere(rng, n, d):
    x = rng.standard_normal((n, d))
    return x * np.sqrt(d) / np.linalg.norm(x, axis=1, keepdims=True)


def test_degeneracy_and_legendre_closed_forms():
    ell = np.arange(6)
    assert np.allclose(degeneracy(3, ell), 2 * ell + 1)
    assert np.allclose(degeneracy(2, ell), [1, 2, 2, 2, 2, 2])
    assert np.allclose(degeneracy(5, [1, 2]), [5, 14])
    t = np.linspace(-1, 1, 9)
    assert np.allclose(legendre_d(3, 3, t)[3], (5 * t ** 3 - 3 * t) / 2)        # Legendre
    assert np.allclose(legendre_d(2, 4, t)[4], np.cos(4 * np.arccos(t)))      # Chebyshev
    assert np.allclose(legendre_d(7, 5, np.ones(1))[:, 0], 1.0)


def test_quadratic_activation_spectrum_is_exact():
    # φ = x², no bias, σ_w² = 2 on the sphere: K11 = K22 = 2, K12 = 2t, k(t) = K11 K22 + 2 K12² = 4 + 8t²;
    # in d = 3, t² = P0/3 + 2 P2/3 gives η0 = 4 + 8/3, η2 = (16/3)/5 (degeneracy 5), all others 0.
    spec = _spec("x**2", d=3, bias=0.0)
    S = sphere_spectrum(spec, lmax=6)
    assert S.eta[0] == pytest.approx(4 + sp.Rational(8, 3), rel=1e-12)
    assert S.eta[2] == pytest.approx(16 / 15, rel=1e-12)
    assert np.all(np.abs(np.delete(S.eta, [0, 2])) < 1e-13)
    assert S.trace == pytest.approx(12.0) and S.tail_trace < 1e-12


@pytest.mark.parametrize("act,d", [("relu", 4), ("erf", 7), ("tanh", 3)])
def test_funk_hecke_series_reproduces_the_compiled_kernel(act, d):
    spec = _spec(act, d)
    S = sphere_spectrum(spec, lmax=120, nodes=800)
    t = np.linspace(-0.95, 0.95, 11)
    series = (S.degeneracy * S.eta) @ legendre_d(d, 120, t)
    k = dot_product_function(spec, t, d)
    tol = 1e-3 if act == "relu" else QUADRATURE_RTOL   # relu: the series converges slowly (|t| -> 1 kink)
    assert np.allclose(series, k, rtol=tol, atol=QUADRATURE_ATOL if act != "relu" else 1e-3)
    assert (S.degeneracy * S.eta).sum() + S.tail_trace == pytest.approx(S.trace)


def test_nystrom_groups_match_gegenbauer_eigenvalues():
    d = 4
    spec = _spec("relu", d)
    S = sphere_spectrum(spec, lmax=10)
    rng = np.random.default_rng(3)
    Sn, _ = nystrom_spectrum(spec, _sphere(rng, 1500, d))
    order = np.argsort(S.eta)[::-1][:3]     # three largest degrees: compare their group sums
    start = 0
    for ell in order:
        n = int(S.degeneracy[ell])
        group = Sn.eta[start:start + n].sum()
        assert group == pytest.approx(n * S.eta[ell], rel=NYSTROM_RTOL)
        start += n


@pytest.mark.parametrize("a,b", [(1.5, 1.5), (2.5, 2.0), (6.0, 1.5)])
def test_power_law_exponents(a, b):
    P = np.logspace(3, 4, 8)
    c = power_law_curve(P, a, b, n_modes=400000)
    slope, err = fit_slope(P, c.Eg)
    assert -slope == pytest.approx(power_law_exponent(a, b), abs=POWER_LAW_EXPONENT_ATOL)


def test_kappa_equation_and_limits():
    eta = 1.0 / np.arange(1, 200) ** 2
    V = 1.0 / np.arange(1, 200) ** 3
    for P in (1.0, 30.0, 150.0):
        k = solve_kappa(P, eta, ridge=0.02)
        assert k == pytest.approx(0.02 + k * np.sum(eta / (P * eta + k)), rel=1e-12)
    c = learning_curve([1e-8], eta, V, ridge=0.1, noise=0.3)
    assert c.Eg[0] == pytest.approx(V.sum(), rel=1e-6)        # nothing learned before any data
    c = learning_curve([1e9], eta, V, ridge=0.1, noise=0.0)
    assert c.Eg[0] < 1e-5 * V.sum()
    with pytest.raises(EvaluationError, match="ridgeless"):
        solve_kappa(500.0, eta)


def test_learning_curve_agrees_with_kernel_regression_on_sampled_data():
    """Sphere spectrum of the compiled ReLU NNGP vs the mean test error of kernel regression over
    draws of the training set, P from 4 to 1000 (2.4 decades), label noise and ridge."""
    d, target, noise, ridge = 4, "sin(z) + 0.5*z**2", 0.05, 0.01
    spec = _spec("relu", d)
    Ps = np.array([4, 10, 25, 63, 158, 398, 1000])
    theory = spec_learning_curve(spec, Ps, target=target, ridge=ridge, noise=noise, lmax=60)
    g = target_function(spec, target)
    rng = np.random.default_rng(1)
    xt = _sphere(rng, 2000, d)
    ft = g(xt[:, 0])
    for P, Eg in zip(Ps, theory.Eg):
        draws = 16 if P < 500 else 8
        errs = []
        for _ in range(draws):
            x = _sphere(rng, P, d)
            y = g(x[:, 0]) + np.sqrt(noise) * rng.standard_normal(P)
            f = mftsym.kernel(spec, xt, x) @ np.linalg.solve(mftsym.kernel(spec, x) + ridge * np.eye(P), y)
            errs.append(np.mean((f - ft) ** 2))
        errs = np.array(errs)
        se = errs.std(ddof=1) / np.sqrt(draws)
        assert abs(Eg - errs.mean()) <= MC_SIGMAS * se, (P, Eg, errs.mean(), se)
    assert theory.Eg[-1] < theory.Eg[0] / 30


def test_nystrom_route_on_data_arrays_matches_sphere_route():
    d = 4
    spec = _spec("relu", d)
    rng = np.random.default_rng(5)
    x = _sphere(rng, 1500, d)
    Ps = np.array([5, 20, 80])
    sph = spec_learning_curve(spec, Ps, target="z + 0.5*z**2", ridge=0.01, lmax=40)
    nys = spec_learning_curve(spec, Ps, ridge=0.01, x=x, y=x[:, 0] + 0.5 * x[:, 0] ** 2)
    assert np.allclose(nys.Eg, sph.Eg, rtol=NYSTROM_RTOL)


def test_gp_teacher_and_errors():
    spec = _spec("erf", 5)
    c = spec_learning_curve(spec, [10, 100], target="gp", lmax=20)
    assert c.Eg[0] > c.Eg[1] > 0
    assert c.ridge == pytest.approx(0.01)            # the posterior noise variance by default
    with pytest.raises(Exception, match="unknown name .q."):
        spec_learning_curve(spec, [10], target="z*q")
    bad = Spec.from_toml_string(RELU.replace("input_dim = 4", "input_dim = 1"))
    with pytest.raises(SpecError, match="integer >= 2"):
        spec_learning_curve(bad, [10])


def test_curves_cli(tmp_path):
    from mftsym.cli import main
    out, plot = tmp_path / "c.json", tmp_path / "c.png"
    rc = main(["curves", "example:two_layer_erf", "--set", "d=6", "--P", "10:1000:4", "--target",
               "He1(z) + 0.3*He3(z)", "--noise", "0.1", "--out", str(out), "--plot", str(plot)])
    assert rc == 0 and plot.stat().st_size > 0
    res = json.loads(out.read_text())
    assert res["P"] == [10, 46, 215, 1000] and len(res["Eg"]) == 4 and res["Eg"][0] > res["Eg"][-1]
    assert "sphere" in res["approximation"] and res["kernel"] == "nngp"
    assert main(["curves", "example:two_layer_erf", "--P", "3:1:2"]) == 2


@pytest.mark.slow
def test_learning_curve_three_and_a_half_decades_erf_with_bias():
    """d = 6, erf network with a hidden bias, GP-free target with odd and even parts, P = 3..3000."""
    d, target, noise, ridge = 6, "erf(z) + 0.3*z**2 - 0.2*z**3", 0.02, 0.005
    spec = _spec("erf", d, bias=0.5)
    Ps = np.array([3, 10, 32, 100, 316, 1000, 3000])
    theory = spec_learning_curve(spec, Ps, target=target, ridge=ridge, noise=noise, lmax=60)
    g = target_function(spec, target)
    rng = np.random.default_rng(11)
    xt = _sphere(rng, 3000, d)
    ft = g(xt[:, 0])
    for P, Eg in zip(Ps, theory.Eg):
        draws = 24 if P < 1000 else 8
        errs = []
        for _ in range(draws):
            x = _sphere(rng, P, d)
            y = g(x[:, 0]) + np.sqrt(noise) * rng.standard_normal(P)
            f = mftsym.kernel(spec, xt, x) @ np.linalg.solve(mftsym.kernel(spec, x) + ridge * np.eye(P), y)
            errs.append(np.mean((f - ft) ** 2))
        errs = np.array(errs)
        se = errs.std(ddof=1) / np.sqrt(draws)
        assert abs(Eg - errs.mean()) <= MC_SIGMAS * se, (P, Eg, errs.mean(), se)


def test_gaussian_inputs_through_the_nystrom_route():
    """Gaussian inputs at small d: the Nyström spectrum of a Gaussian sample (not the sphere
    approximation, which neglects the radial fluctuations) predicts kernel regression's error from
    below, within GAUSSIAN_NYSTROM_RTOL (the Gaussian-equivalence error of the theory at d = 4 plus
    the scatter of a 3000-point spectrum; see the discrete-measure test below and the notes)."""
    d, noise, ridge = 4, 0.05, 0.01
    spec = _spec("relu", d)
    g = target_function(spec, "sin(2*z) + 0.5*z")
    rng = np.random.default_rng(7)
    xs = rng.standard_normal((3000, d))
    Ps = np.array([10, 100])
    theory = spec_learning_curve(spec, Ps, ridge=ridge, noise=noise, x=xs, y=g(xs[:, 0]))
    xt = rng.standard_normal((8000, d))
    ft = g(xt[:, 0])
    for P, Eg in zip(Ps, theory.Eg):
        errs = []
        for _ in range(12):
            x = rng.standard_normal((P, d))
            y = g(x[:, 0]) + np.sqrt(noise) * rng.standard_normal(P)
            f = mftsym.kernel(spec, xt, x) @ np.linalg.solve(mftsym.kernel(spec, x) + ridge * np.eye(P), y)
            errs.append(np.mean((f - ft) ** 2))
        errs = np.array(errs)
        se = errs.std(ddof=1) / np.sqrt(len(errs))
        assert Eg <= errs.mean() + MC_SIGMAS * se, (P, Eg, errs.mean(), se)
        assert Eg >= (1 - GAUSSIAN_NYSTROM_RTOL) * errs.mean() - MC_SIGMAS * se, (P, Eg, errs.mean(), se)


def _discrete_measure_errors(spec, x, y, Ps, noise, ridge, draws, rng):
    """Kernel regression whose data measure is the n points x: training points drawn from them
    (with replacement), test error averaged over all n.  Returns (mean, standard error) per P."""
    K = np.asarray(mftsym.kernel(spec, x), dtype=float)
    out = []
    for P in Ps:
        errs = []
        for _ in range(draws):
            idx = rng.choice(len(x), P, replace=True)
            yt = y[idx] + np.sqrt(noise) * rng.standard_normal(P)
            f = K[:, idx] @ np.linalg.solve(K[np.ix_(idx, idx)] + ridge * np.eye(P), yt)
            errs.append(np.mean((f - y) ** 2))
        out.append((np.mean(errs), np.std(errs, ddof=1) / np.sqrt(draws)))
    return out


def test_nystrom_theory_on_a_discrete_measure():
    """On a discrete measure (the n sampled points themselves) the Nyström spectrum and target powers
    are exact, so only the theory's own approximation is left.  Points on the sphere: theory and
    kernel regression agree within Monte Carlo error (no error in the Nyström route, the target
    projections, the noise or the ridge).  Gaussian points (d = 4): the theory is low by 15-20%,
    the Gaussian-equivalence error (heavy-tailed eigenfunctions) that remains for Gaussian inputs."""
    d, noise, ridge, n = 4, 0.05, 0.01, 800
    spec = _spec("relu", d)
    g = target_function(spec, "sin(z) + 0.5*z**2")
    Ps = [100, 300]
    rng = np.random.default_rng(21)
    xg = rng.standard_normal((n, d))
    for x, gaussian in ((_sphere(rng, n, d), False), (xg, True)):
        y = g(x[:, 0])
        theory = spec_learning_curve(spec, Ps, ridge=ridge, noise=noise, x=x, y=y)
        for P, Eg, (mean, se) in zip(Ps, theory.Eg, _discrete_measure_errors(spec, x, y, Ps, noise, ridge, 48, rng)):
            if not gaussian:
                assert abs(Eg - mean) <= MC_SIGMAS * se, (P, Eg, mean, se)
            else:
                assert Eg < mean - 2 * se, (P, Eg, mean, se)
                assert Eg >= (1 - GAUSSIAN_EQUIVALENCE_RTOL) * mean - MC_SIGMAS * se, (P, Eg, mean, se)
