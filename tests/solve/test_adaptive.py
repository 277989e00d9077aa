"""Adaptive kernel on data arrays: route to deep-linear renormalization, GP limit, minimiser, sampler."""

import numpy as np
import pytest

from mftsym.errors import ConvergenceError, SpecError
from mftsym.solve.adaptive import _Setup, minimise_action, solve_adaptive_kernel
from mftsym.solve.gp import solve_gp
from mftsym.solve.renormalization import solve_kernel_renormalization
from tests.solve.conftest import make_spec


def _one_point(d=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((1, d)), np.array([2.5]), rng.standard_normal((3, d))


@pytest.mark.parametrize("N", [3.0, 5.0, 40.0])
def test_linear_one_point_equals_deep_linear_renormalization(N):
    x, y, xt = _one_point()
    spec = make_spec(hidden=(("N1", None),), theory="adaptive_kernel", params={"N1": N, "sigma2": 0.05})
    ak = solve_adaptive_kernel(spec, x, y, xt)
    kr = solve_kernel_renormalization(spec, x, y, xt)
    K = float((x @ x.T)[0, 0]) / x.shape[1]
    assert ak.converged
    assert ak.extras["Q_eigenvalues"][0] == pytest.approx(kr.order_parameters["Q"] * K, rel=1e-9)
    np.testing.assert_allclose(ak.prediction, kr.prediction, rtol=1e-9)
    # the two actions differ by the constant N/2 of (N/2)(u - 1 - ln u) vs (N/2)(u - ln u)
    assert kr.action - ak.action == pytest.approx(N / 2, rel=1e-9)
    # on the training point itself the variances agree as well
    at = solve_adaptive_kernel(spec, x, y, x)
    kt = solve_kernel_renormalization(spec, x, y, x)
    assert at.variance[0] == pytest.approx(kt.variance[0], rel=1e-8)


def test_gp_limit(data):
    x, y, xt = data
    spec = make_spec(theory="adaptive_kernel", params={"N1": 1e9, "sigma2": 0.05})
    ak = solve_adaptive_kernel(spec, x, y, xt)
    gp = solve_gp(spec, x, y, xt)
    np.testing.assert_allclose(ak.prediction, gp.prediction, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(ak.variance, gp.variance, rtol=1e-6, atol=1e-7)


def test_fixed_point_is_minimiser(data):
    x, y, _ = data
    spec = make_spec(theory="adaptive_kernel", params={"N1": 8.0, "sigma2": 0.02})
    st = _Setup(spec, x[:12], y[:12], None, None)
    ak = solve_adaptive_kernel(spec, x[:12], y[:12])
    L = minimise_action(st)
    Sig = np.array(ak.extras["Sigma"])
    np.testing.assert_allclose(L @ L.T, Sig, atol=1e-6)
    assert st.action(L @ L.T) == pytest.approx(ak.action, rel=1e-10)


def test_langevin_matches_exact_gaussian_for_linear():
    x, y, xt = _one_point()
    spec = make_spec(hidden=(("N1", None),), theory="adaptive_kernel", params={"N1": 5.0, "sigma2": 0.05})
    exact = solve_adaptive_kernel(spec, x, y, xt)
    mc = solve_adaptive_kernel(spec, x, y, xt, strategy="langevin", chains=2000, steps=120, seed=1)
    assert mc.converged
    # Monte Carlo: 2000 chains x 60 kept steps, correlated; a few percent is several standard errors
    assert mc.extras["Q_eigenvalues"][0] == pytest.approx(exact.extras["Q_eigenvalues"][0], rel=0.03)
    np.testing.assert_allclose(mc.prediction, exact.prediction, rtol=0.05)


def test_bad_inputs(data):
    x, y, _ = data
    deep = make_spec(hidden=(("N1", "erf"), ("N2", "erf")), theory="adaptive_kernel")
    with pytest.raises(SpecError, match="strategy"):
        solve_adaptive_kernel(deep, x, y, strategy="magic")
    with pytest.raises(SpecError, match="strategy"):
        solve_adaptive_kernel(make_spec(theory="adaptive_kernel"), x, y, strategy="magic")
    with pytest.raises(ConvergenceError, match="try"):
        solve_adaptive_kernel(make_spec(theory="adaptive_kernel", params={"N1": 2.0}), x, 30 * y, max_iter=2)
