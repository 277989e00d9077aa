"""Numeric safety at rho = +-1 and zero-norm inputs; Hermite-series convergence."""

import numpy as np
import pytest
import sympy as sp

from mftsym.gaussian import SafeCorrelation, gaussian_expectation, hermite_nodes, hermite_series
from tests.tolerances import QUADRATURE_RTOL

from ._cases import K11, K12, K22, KINKED, SMOOTH, closed_numeric, x

EDGE = [(1.3, 1.3, 1.3), (1.3, -1.3, 1.3), (0.5, np.sqrt(0.5 * 2.0), 2.0),
        (0.5, -np.sqrt(0.5 * 2.0), 2.0), (0.0, 0.0, 1.0), (1.0, 0.0, 0.0), (0.0, 0.0, 0.0)]


@pytest.mark.parametrize("name", ["relu", "step", "abs", "sign", "relu2", "relu3", "leaky", "erf", "gelu"])
def test_finite_at_the_boundary(name):
    f = {**KINKED, **SMOOTH}[name]
    for g in (f, sp.diff(f, x)):
        if g.has(sp.DiracDelta):
            continue
        _, fn = closed_numeric(f, g)
        with np.errstate(all="ignore"):
            vals = [fn(*cov) for cov in EDGE]
        assert np.all(np.isfinite(vals)), (name, g, vals)


def test_relu_limits():
    _, fn = closed_numeric(sp.Max(0, x), sp.Max(0, x))
    assert fn(1.3, 1.3, 1.3) == pytest.approx(0.65, rel=1e-12)      # rho = 1: K/2
    assert fn(1.3, -1.3, 1.3) == pytest.approx(0.0, abs=1e-12)      # rho = -1
    assert fn(0.0, 0.0, 1.0) == 0.0                                  # zero-norm input
    _, fs = closed_numeric(sp.Heaviside(x), sp.Heaviside(x))
    assert fs(2.0, 2.0, 2.0) == pytest.approx(0.5) and fs(2.0, -2.0, 2.0) == pytest.approx(0.0)


def test_safe_correlation_is_the_plain_fraction():
    s = SafeCorrelation(K12, K11, K22)
    plain = K12 / sp.sqrt(K11 * K22)
    assert s.doit() == plain and s.unsafe() == plain and sp.expand_func(s) == plain
    assert sp.simplify(sp.diff(s, K11) - sp.diff(plain, K11)) == 0
    assert sp.latex(s) == sp.latex(plain)
    assert float(s.subs({K12: 1, K11: 2, K22: 3}).evalf()) == pytest.approx(1 / np.sqrt(6))


def test_hermite_nodes_are_a_probability_rule():
    z, w = hermite_nodes(20)
    assert w.sum() == pytest.approx(1.0, rel=1e-14)
    assert (w * z**4).sum() == pytest.approx(3.0, rel=1e-12)
    assert hermite_nodes(20)[0] is z                                 # cached


def test_hermite_series_converges_to_williams():
    vals = {K11: 0.6, K12: 0.25, K22: 0.9}
    series = hermite_series(sp.erf(x), sp.erf(x), K11, K12, K22, 20)
    closed = gaussian_expectation(sp.erf(x), sp.erf(x), K11, K12, K22)
    assert float(series.subs(vals)) == pytest.approx(float(closed.subs(vals).evalf()), rel=1e-6)
    same = gaussian_expectation(sp.erf(x), sp.erf(x), K11, K12, K22, method="hermite", order=20)
    assert same == series


def test_hermite_series_of_relu_uses_delta_coefficients():
    relu = sp.Max(0, x)
    series = hermite_series(relu, relu, K11, K12, K22, 30)
    vals = {K11: 1.0, K12: 0.3, K22: 1.0}
    closed = gaussian_expectation(relu, relu, K11, K12, K22).subs(vals).evalf()
    assert float(series.subs(vals)) == pytest.approx(float(closed), rel=1e-6)


def test_hermite_series_of_polynomial_is_exact():
    f = x**3 - 3 * x
    s = hermite_series(f, f, K11, K12, K22, 5)
    assert sp.simplify(s - gaussian_expectation(f, f, K11, K12, K22)) == 0
