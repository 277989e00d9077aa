"""The unevaluated GaussianExpectation node: dispatch, evalf, Price's theorem, printing."""

import numpy as np
import pytest
import sympy as sp

from mftsym.errors import MftsymError
from mftsym.gaussian import (GaussianExpectation, gauss_hermite_expectation, gaussian_expectation)
from tests.tolerances import QUADRATURE_RTOL

from ._cases import K11, K12, K22, x

VALUES = {K11: sp.Rational(7, 10), K12: sp.Rational(-3, 10), K22: sp.Rational(13, 10)}


def test_unclosed_activations_give_nodes():
    for f in [sp.tanh(x), 1 / (1 + sp.exp(-x)), sp.log(1 + sp.exp(x)), 1 - sp.tanh(x) ** 2]:
        node = gaussian_expectation(f, f, K11, K12, K22)
        assert isinstance(node, GaussianExpectation)
        assert node.f == f and node.g == f
        with pytest.raises(MftsymError, match="no closed form"):
            gaussian_expectation(f, f, K11, K12, K22, method="closed")
    assert isinstance(gaussian_expectation(x, x, K11, K12, K22, method="quadrature"), GaussianExpectation)


def test_one_dimensional_node_form():
    node = gaussian_expectation(sp.tanh(x) ** 2, 1, K11, K12, K22)
    assert node == GaussianExpectation(sp.Lambda(x, sp.tanh(x) ** 2), sp.Lambda(x, 1), K11, 0, 1)
    assert node.is_one_dimensional
    assert sp.diff(node, K12) == 0 and sp.diff(node, K22) == 0


def test_tanh_evalf_matches_gauss_hermite():
    node = gaussian_expectation(sp.tanh(x), sp.tanh(2 * x), K11, K12, K22).subs(VALUES)
    ref = gauss_hermite_expectation(np.tanh, lambda v: np.tanh(2 * v), 0.7, -0.3, 1.3, order=200)
    assert float(node.evalf()) == pytest.approx(float(ref), rel=1e-9)


def test_evalf_on_a_closed_pair_matches_closed_form():
    relu = sp.Max(0, x)
    closed = gaussian_expectation(relu, sp.Abs(x), K11, K12, K22).subs(VALUES)
    node = gaussian_expectation(relu, sp.Abs(x), K11, K12, K22, method="quadrature").subs(VALUES)
    assert float(node.evalf()) == pytest.approx(float(closed.evalf()), rel=1e-12)


def test_high_precision_evalf_uses_mpmath():
    relu = sp.Max(0, x)
    node = GaussianExpectation(relu**2, sp.Abs(x), *VALUES.values())
    closed = gaussian_expectation(relu**2, sp.Abs(x), *VALUES.values())
    assert abs(node.evalf(25) - closed.evalf(25)) < 1e-20


@pytest.mark.parametrize("k, rel", [(K11, 2), (K12, 3), (K22, 4)])
def test_price_theorem_matches_finite_differences(k, rel):
    node = gaussian_expectation(sp.tanh(x), sp.sin(x) + x**2, K11, K12, K22)
    assert isinstance(node, GaussianExpectation)
    d = sp.diff(node, k).subs(VALUES)
    h = sp.Rational(1, 10**4)
    at = lambda dk: node.subs({**VALUES, k: VALUES[k] + dk}).evalf()
    fd = (at(h) - at(-h)) / (2 * h)
    assert float(d.evalf()) == pytest.approx(float(fd), rel=1e-6)


def test_price_theorem_on_closed_forms():
    """d/dK12 E[erf erf] = E[erf' erf']; d/dK11 E[relu relu] = E[relu'' relu] / 2 via half moments."""
    E = gaussian_expectation(sp.erf(x), sp.erf(x), K11, K12, K22)
    d = sp.diff(sp.erf(x), x)
    assert sp.simplify(sp.diff(E, K12).doit() - gaussian_expectation(d, d, K11, K12, K22).doit()) == 0
    g = gaussian_expectation(sp.Max(0, x) ** 2, 1, K11, K12, K22)
    assert sp.simplify(sp.diff(g, K11) - gaussian_expectation(sp.Heaviside(x), 1, K11, 0, 1)) == 0


def test_node_is_substitutable_and_prints():
    node = GaussianExpectation(sp.tanh(x), sp.tanh(x), K11, K12, K22)
    assert node.subs(K12, 0).args[3] == 0
    assert hash(node) == hash(GaussianExpectation(sp.tanh(x), sp.tanh(x), K11, K12, K22))
    tex = sp.latex(node)
    assert r"\mathbb{E}" in tex and r"\tanh" in tex and "K_{12}" in tex
    tex1 = sp.latex(gaussian_expectation(sp.tanh(x) ** 2, 1, K11, K12, K22))
    assert r"\mathcal{N}(0,\, K_{11})" in tex1


def test_zero_and_constant_nodes_collapse():
    assert GaussianExpectation(0, sp.tanh(x), K11, K12, K22) == 0
    assert GaussianExpectation(2, 3, K11, K12, K22) == 6


def test_unknown_method():
    with pytest.raises(MftsymError, match="unknown method"):
        gaussian_expectation(x, x, K11, K12, K22, method="magic")
