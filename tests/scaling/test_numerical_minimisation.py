"""Each pattern's optimum against a direct numerical minimisation (scipy):
* the exact interior optimum vs a minimisation of the monomial sum at numeric scale values;
* the scaling regimes (max over LP dual vertices) vs the linear programme solved by scipy."""

import numpy as np
import pytest
import sympy as sp
from scipy.optimize import linprog, minimize

from mftsym.scaling.optimum import range_constraints

from tests.tolerances import SCALING_OPT_RTOL as RTOL


def _num_cost(pattern, scale):
    names = pattern.free_names
    terms = [t.monomial for t in pattern.terms]

    def f(u):
        logs = {**{k: np.log(v) for k, v in scale.items()}, **dict(zip(names, u))}
        return sum(np.exp(T.log_value(logs)) for T in terms)
    return f


@pytest.mark.parametrize("which", ["two_layer", "three_layer"])
def test_interior_optima_match_scipy(which, request):
    res = request.getfixturevalue(which)
    rng = np.random.default_rng(1)
    checked = 0
    for sc in res.per_degree[0].scalings:
        opt = res.per_degree[0].optima[sc.pattern.name]
        if opt is None:
            continue
        for _ in range(2):
            scale = {n: float(np.exp(rng.uniform(1.0, 6.0))) for n in res.scale_variables}
            f = _num_cost(sc.pattern, scale)
            u0 = np.zeros(len(sc.pattern.free_names))
            r = minimize(f, u0, method="BFGS", options={"gtol": 1e-12, "maxiter": 5000})
            exact = float(opt.cost.to_sympy().subs({sp.Symbol(k, positive=True): v for k, v in scale.items()}))
            assert r.fun == pytest.approx(exact, rel=RTOL), sc.pattern.name
            checked += 1
    assert checked >= 4


def _lp_value(pattern, gammas):
    """min_u max_t log T_t(u) s.t. log g_k(u) <= 0, constants dropped (scaling limit)."""
    names = pattern.free_names
    n = len(names)
    rows, rhs = [], []
    for t in pattern.terms:
        m = t.monomial
        rows.append([float(m.exponent(k)) for k in names] + [-1.0])
        rhs.append(-sum(float(v) * gammas[k] for k, v in m.exps.items() if k not in names))
    for c in range_constraints(pattern):
        m = c.monomial
        rows.append([float(m.exponent(k)) for k in names] + [0.0])
        rhs.append(-sum(float(v) * gammas[k] for k, v in m.exps.items() if k not in names))
    cost = np.zeros(n + 1)
    cost[-1] = 1.0
    r = linprog(cost, A_ub=np.array(rows), b_ub=np.array(rhs), bounds=[(None, None)] * (n + 1), method="highs")
    assert r.status == 0
    return r.fun


@pytest.mark.parametrize("which", ["two_layer", "three_layer"])
def test_scaling_regimes_match_linear_programme(which, request):
    res = request.getfixturevalue(which)
    rng = np.random.default_rng(2)
    for sc in res.per_degree[0].scalings:
        for _ in range(6):
            g = {n: float(rng.uniform(0.0, 7.0)) for n in res.scale_variables}
            g[res.architecture.input_dim_name] = 1.0
            derived, _ = sc.exponent(g)
            assert derived == pytest.approx(_lp_value(sc.pattern, g), abs=1e-7), (sc.pattern.name, g)


def test_vectorised_plot_classification_matches_pointwise(three_layer):
    from mftsym.scaling.phases import classify_grid, winners_at
    sc = three_layer.per_degree[0].scalings
    xs, ys = np.linspace(0.05, 6.9, 13), np.linspace(0.03, 6.7, 11)
    labels, codes = classify_grid(sc, "N1", "N2", xs, ys, {"d": 1.0})
    for j, y in enumerate(ys):
        for i, x in enumerate(xs):
            _, wins = winners_at(sc, {"d": 1.0, "N1": x, "N2": y})
            assert labels[codes[j, i]] == " = ".join(s.pattern.name for s, _ in wins)
