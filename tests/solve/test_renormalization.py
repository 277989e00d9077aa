"""Kernel renormalization: limits, closed forms, minimiser, backends, batched and mpmath solvers."""

import numpy as np
import pytest
import sympy as sp

from mftsym.errors import ConvergenceError, EvaluationError, SpecError
from mftsym.solve.compiled import compiled_action
from mftsym.solve.derive import renormalization_theory
from mftsym.solve.gp import solve_gp
from mftsym.solve.renormalization import (confirm_root, prepare, solve_batch, solve_kernel_renormalization,
                                          solve_problem)
from tests.solve.conftest import make_spec
from tests.tolerances import BACKEND_RTOL

SOLVE_RTOL = 1e-8


def test_gp_limit(data):
    x, y, xt = data
    spec = make_spec(params={"N1": 1e10})
    sol = solve_kernel_renormalization(spec, x, y, xt)
    gp = solve_gp(spec, x, y, xt)
    assert sol.converged and abs(sol.order_parameters["Q"] - 1) < 1e-7
    np.testing.assert_allclose(sol.prediction, gp.prediction, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(sol.variance, gp.variance, rtol=1e-6, atol=1e-9)


def test_gp_limit_is_approached_as_one_over_n(data):
    x, y, xt = data
    devs = [abs(solve_kernel_renormalization(make_spec(params={"N1": n}), x, y).order_parameters["Q"] - 1)
            for n in (1e3, 1e4, 1e5)]
    slopes = np.diff(np.log(devs)) / np.log(10)
    np.testing.assert_allclose(slopes, -1, atol=0.02)


def test_closed_form_one_layer_symbolic():
    spec = make_spec(hidden=(("N1", None),))
    th = renormalization_theory(spec)
    (g,), P, r = th.zero_noise_gradient()
    u, = th.variables
    alpha = sp.Symbol("alpha", positive=True)
    g = g.subs(sp.Symbol("N1", positive=True), P / alpha)
    roots = sp.solve(sp.numer(sp.together(g)), u)
    expected = ((1 - alpha) + sp.sqrt((1 - alpha) ** 2 + 4 * alpha * r)) / 2
    assert any(sp.simplify(rt - expected) == 0 for rt in roots)


@pytest.mark.parametrize("L", [2, 3])
def test_closed_form_deep_linear_symbolic(L):
    spec = make_spec(hidden=tuple((f"N{i + 1}", None) for i in range(L)))
    th = renormalization_theory(spec)
    grads, P, r = th.zero_noise_gradient()
    q, alpha = sp.Symbol("q", positive=True), sp.Symbol("alpha", positive=True)
    subs = {v: q for v in th.variables}
    subs.update({sp.Symbol(f"N{i + 1}", positive=True): P / alpha for i in range(L)})
    target = q ** L * (q - 1 + alpha) - alpha * r
    for g in grads:
        ratio = sp.simplify(sp.together(g.subs(subs)) / target)
        # the saddle equation is the target times a positive factor free of r: the same roots
        assert not ratio.has(r) and ratio.subs({q: 1, alpha: 1, P: 1}) > 0


def _linear_data(P=20, d=40, seed=3):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((P, d))
    y = x[:, 0] + 0.5 * rng.standard_normal(P)
    return x, y


@pytest.mark.parametrize("N", [10.0, 20.0, 80.0])
def test_closed_form_one_layer_numeric(N):
    x, y = _linear_data()
    spec = make_spec(hidden=(("N1", None),), params={"N1": N, "sigma2": 1e-12})
    sol = solve_kernel_renormalization(spec, x, y)
    K = x @ x.T / x.shape[1]
    r = y @ np.linalg.solve(K, y) / len(y)
    a = len(y) / N
    u = ((1 - a) + np.sqrt((1 - a) ** 2 + 4 * a * r)) / 2
    assert sol.order_parameters["u1"] == pytest.approx(u, rel=1e-8)


def test_closed_form_deep_linear_numeric():
    x, y = _linear_data()
    N = 25.0
    spec = make_spec(hidden=(("N1", None), ("N2", None)), params={"N1": N, "N2": N, "sigma2": 1e-12})
    sol = solve_kernel_renormalization(spec, x, y)
    K = x @ x.T / x.shape[1]
    r = y @ np.linalg.solve(K, y) / len(y)
    a = len(y) / N
    q = sol.order_parameters["u1"]
    assert sol.order_parameters["u2"] == pytest.approx(q, rel=1e-8)
    assert q ** 2 * (q - 1 + a) == pytest.approx(a * r, rel=1e-8)


def test_unequal_widths_balance(data):
    x, y, _ = data
    spec = make_spec(hidden=(("N1", None), ("N2", None)), params={"N1": 20.0, "N2": 60.0})
    sol = solve_kernel_renormalization(spec, x, y)
    u1, u2 = sol.order_parameters["u1"], sol.order_parameters["u2"]
    assert u1 != pytest.approx(u2, rel=1e-3)
    # every layer feels the same data force: N_l (u_l - 1) is layer independent (docs/theory/deep_linear.md)
    assert 20 * (u1 - 1) == pytest.approx(60 * (u2 - 1), rel=1e-8)


@pytest.mark.parametrize("hidden", [(("N1", "erf"),), (("N1", "relu"),), (("N1", None), ("N2", None))])
def test_saddle_is_numerical_minimiser(data, hidden):
    from scipy.optimize import minimize
    x, y, _ = data
    spec = make_spec(hidden=hidden, params={"N1": 15.0, "N2": 40.0, "sigma2": 0.02})
    problem = prepare(spec, x, y)
    sol = solve_problem(problem)
    cmp = compiled_action(problem.theory)
    f = lambda v: float(cmp.evaluate(np.exp(v), problem.lam, problem.y2, problem.env, ("action",))["action"])  # noqa
    res = minimize(f, np.zeros(len(problem.theory.variables)), method="Nelder-Mead",
                   options={"xatol": 1e-11, "fatol": 1e-14, "maxiter": 20000})
    u_min = np.exp(res.x)
    u_sad = np.array([sol.order_parameters[n] for n in problem.theory.names])
    np.testing.assert_allclose(u_min, u_sad, rtol=1e-6)
    assert sol.saddles[0].stable and res.fun == pytest.approx(sol.action, rel=1e-10, abs=1e-10)


def test_backends_agree(data):
    x, y, _ = data
    spec = make_spec(hidden=(("N1", None), ("N2", None)), params={"N1": 15.0, "N2": 40.0})
    problem = prepare(spec, x, y)
    u = np.array([0.7, 1.3])
    ref = compiled_action(problem.theory, "numpy").evaluate(u, problem.lam, problem.y2, problem.env)
    tor = compiled_action(problem.theory, "torch").evaluate(u, problem.lam, problem.y2, problem.env)
    mp = compiled_action(problem.theory, "mpmath").evaluate(u, problem.lam, problem.y2, problem.env)
    for key in ("action", "grad", "hess"):
        np.testing.assert_allclose(np.asarray(tor[key]), ref[key], rtol=BACKEND_RTOL)
    np.testing.assert_allclose(float(mp["action"]), ref["action"], rtol=BACKEND_RTOL)
    np.testing.assert_allclose([float(g) for g in mp["grad"]], ref["grad"], rtol=BACKEND_RTOL)
    np.testing.assert_allclose(np.array(mp["hess"].tolist(), dtype=float), ref["hess"], rtol=BACKEND_RTOL)


def test_batched_torch_equals_scipy_and_mpmath_confirms(data):
    x, y, xt = data
    spec = make_spec()
    problem = prepare(spec, x, y, xt)
    noises = np.array([1e-3, 0.03, 0.3, 3.0])
    batch = solve_batch(problem, {"noise": noises})
    for s2, b in zip(noises, batch):
        ref = solve_kernel_renormalization(spec.with_params(sigma2=s2), x, y, xt)
        assert b.converged
        assert b.order_parameters["u1"] == pytest.approx(ref.order_parameters["u1"], rel=SOLVE_RTOL)
        np.testing.assert_allclose(b.prediction, ref.prediction, rtol=1e-7, atol=1e-10)
        c = confirm_root(problem, b, env={**problem.env, "noise": s2})
        assert c["relative_distance"] < 1e-12


def test_batch_over_width(data):
    x, y, _ = data
    problem = prepare(make_spec(), x, y)
    widths = np.array([5.0, 50.0, 500.0])
    batch = solve_batch(problem, {"N1": widths})
    for n, b in zip(widths, batch):
        ref = solve_kernel_renormalization(make_spec(params={"N1": n}), x, y)
        assert b.order_parameters["u1"] == pytest.approx(ref.order_parameters["u1"], rel=SOLVE_RTOL)


def test_solution_json_and_saddles(data):
    x, y, xt = data
    sol = solve_kernel_renormalization(make_spec(), x, y, xt)
    d = sol.to_dict()
    for key in ("theory", "order_parameters", "action", "prediction", "variance", "converged", "residual",
                "iterations", "saddles"):
        assert key in d
    assert d["saddles"][0]["stable"] and len(d["prediction"]) == 5
    assert np.all(sol.variance > 0)
    with pytest.raises(ValueError):
        sol.prediction[0] = 1.0


def test_bad_inputs(data):
    x, y, xt = data
    with pytest.raises(SpecError, match="noise_var"):
        solve_kernel_renormalization(make_spec(noise=None), x, y)
    with pytest.raises(SpecError, match="bias_var"):
        solve_kernel_renormalization(make_spec(readout_bias="0.1"), x, y)
    with pytest.raises(EvaluationError, match="y_train"):
        solve_kernel_renormalization(make_spec(), x, y[:-1])
    with pytest.raises(EvaluationError, match="NaN"):
        solve_kernel_renormalization(make_spec(), np.where(x > 2, np.nan, x), y)
    with pytest.raises(EvaluationError, match="x_test"):
        solve_kernel_renormalization(make_spec(), x, y, xt[:, :3])
    with pytest.raises(SpecError, match="theory kind"):
        from mftsym.solve import solve
        solve(make_spec(theory="nonsense"), x, y)
    with pytest.raises(EvaluationError, match="batch"):
        solve_batch(prepare(make_spec(), x, y), {"sigma_w": np.ones(3)})
    with pytest.raises(ConvergenceError, match="try"):
        solve_problem(prepare(make_spec(), x, y), starts=[1e-30], max_iter=1)
