"""Closed forms equal the literature exactly (simplify(a - b) == 0 after .doit())."""

import pytest
import sympy as sp

from mftsym.gaussian import GaussianExpectation, SafeCorrelation, gaussian_expectation

from ._cases import K11, K12, K22, x

theta = sp.acos(K12 / sp.sqrt(K11 * K22))
a, b = sp.symbols("a b", positive=True)


def same(engine, literature):
    engine = engine.doit()
    assert not engine.has(GaussianExpectation)
    return sp.simplify(engine - literature) == 0


@pytest.mark.parametrize("n, J", [
    (0, sp.pi - theta),
    (1, sp.sin(theta) + (sp.pi - theta) * sp.cos(theta)),
    (2, 3 * sp.sin(theta) * sp.cos(theta) + (sp.pi - theta) * (1 + 2 * sp.cos(theta) ** 2)),
])
def test_cho_saul(n, J):
    f = sp.Heaviside(x) if n == 0 else sp.Max(0, x) ** n
    lit = (K11 * K22) ** sp.Rational(n, 2) * J / (2 * sp.pi)
    assert same(gaussian_expectation(f, f, K11, K12, K22), lit)


def test_cho_saul_general_n_matches_angular_integral():
    from mftsym.gaussian.arccos import _J_rho, _angular_rho
    for n in range(5):
        assert sp.simplify(_J_rho(n) - 2**n * sp.factorial(n) * _angular_rho(n, n)) == 0


def test_williams_erf():
    lit = 2 / sp.pi * sp.asin(2 * K12 / sp.sqrt((1 + 2 * K11) * (1 + 2 * K22)))
    assert same(gaussian_expectation(sp.erf(x), sp.erf(x), K11, K12, K22), lit)
    lit_ab = 2 / sp.pi * sp.asin(2 * a * b * K12 / sp.sqrt((1 + 2 * a**2 * K11) * (1 + 2 * b**2 * K22)))
    assert same(gaussian_expectation(sp.erf(a * x), sp.erf(b * x), K11, K12, K22), lit_ab)


def test_erf_derivative():
    d = sp.diff(sp.erf(x), x)
    lit = 4 / sp.pi / sp.sqrt((1 + 2 * K11) * (1 + 2 * K22) - 4 * K12**2)
    assert same(gaussian_expectation(d, d, K11, K12, K22), lit)


@pytest.mark.parametrize("f, g, lit", [
    (sp.sin(a * x), sp.sin(b * x), sp.exp(-(a**2 * K11 + b**2 * K22) / 2) * sp.sinh(a * b * K12)),
    (sp.cos(a * x), sp.cos(b * x), sp.exp(-(a**2 * K11 + b**2 * K22) / 2) * sp.cosh(a * b * K12)),
    (sp.sin(a * x), sp.cos(b * x), 0),
    (sp.cos(a * x), 1, sp.exp(-a**2 * K11 / 2)),
    (sp.exp(a * x), sp.exp(b * x), sp.exp((a**2 * K11 + 2 * a * b * K12 + b**2 * K22) / 2)),
    (sp.exp(x), sp.exp(x), sp.exp((K11 + K22) / 2 + K12)),
])
def test_trig_exp(f, g, lit):
    assert same(gaussian_expectation(f, g, K11, K12, K22), lit)


def test_gaussian_activation():
    f = sp.exp(b * x**2)
    lit = 1 / sp.sqrt((1 - 2 * b * K11) * (1 - 2 * b * K22) - 4 * b**2 * K12**2)
    assert same(gaussian_expectation(f, f, K11, K12, K22), lit)


@pytest.mark.parametrize("f, g, lit", [
    (x**3, x, 3 * K11 * K12),
    (x**2, x**2, K11 * K22 + 2 * K12**2),
    (x**3, x**3, 9 * K11 * K22 * K12 + 6 * K12**3),
    (x**4, 1, 3 * K11**2),
    (x**2 - 1, x, 0),
])
def test_isserlis(f, g, lit):
    assert same(gaussian_expectation(f, g, K11, K12, K22), lit)


def test_one_dimensional_results_do_not_depend_on_K12_K22():
    for f in [sp.Max(0, x) ** 3, sp.erf(x) * x, x * (1 + sp.erf(x / sp.sqrt(2))) / 2, sp.cos(x), x**4]:
        r = gaussian_expectation(f, 1, K11, K12, K22)
        assert not r.has(K12) and not r.has(K22)
        r = gaussian_expectation(1, f, K11, K12, K22)
        assert not r.has(K12) and not r.has(K11)


def test_rectified_times_polynomial():
    # E[relu(u) v] = K12/2, E[relu(u) u] = K11/2, E[step(u) v] = K12/sqrt(2 pi K11)
    assert same(gaussian_expectation(sp.Max(0, x), x, K11, K12, K22), K12 / 2)
    assert same(gaussian_expectation(sp.Max(0, x), x, K11, K11, K11), K11 / 2)
    assert same(gaussian_expectation(sp.Heaviside(x), x, K11, K12, K22), K12 / sp.sqrt(2 * sp.pi * K11))


def test_relu_diagonal_and_correlation_wrapper():
    relu = sp.Max(0, x)
    assert gaussian_expectation(relu, relu, K11, K11, K11) == K11 / 2
    r = gaussian_expectation(relu, relu, K11, K12, K22)
    assert r.has(SafeCorrelation)
    assert all(isinstance(e.args[0], SafeCorrelation) for e in r.atoms(sp.acos))


def test_gelu_gelu_closes():
    gelu = x * (1 + sp.erf(x / sp.sqrt(2))) / 2
    for f in (gelu, sp.diff(gelu, x)):
        r = gaussian_expectation(f, f, K11, K12, K22, method="closed")
        assert not r.has(GaussianExpectation)
