"""Every closed form matches quadrature at random positive-definite covariances."""

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings, strategies as st

from mftsym.gaussian import GaussianExpectation
from tests.tolerances import QUADRATURE_ATOL, QUADRATURE_RTOL

from ._cases import KINKED, SMOOTH, closed_numeric, reference, x


def _pairs():
    acts = {**SMOOTH, **KINKED}
    derivs = {f"{n}'": sp.diff(f, x) for n, f in acts.items()}
    derivs = {n: f for n, f in derivs.items() if not f.has(sp.DiracDelta)}
    every = {**acts, **derivs}
    pairs = [(n, n) for n in every]                                  # with itself
    pairs += [(n, "x") for n in every if n != "x"]                    # with a polynomial
    pairs += [(n, "sq") for n in every]
    pairs += [("relu", "step"), ("relu2", "relu"), ("relu3", "step"), ("relu", "relu_neg"),
              ("abs", "relu"), ("sign", "step"), ("relu3", "relu"), ("leaky", "abs"),
              ("erf", "erf_half"), ("erf", "gelu"), ("gelu", "gelu'"), ("gelu'", "erf'"),
              ("sin", "cos2"), ("sin", "exp_half"), ("gaussian", "cos2"), ("gaussian", "erf"),
              ("gaussian", "gelu"), ("cubic", "erf"), ("erf'", "erf_half"), ("exp_half", "cos2")]
    every["sq"] = x**2
    return [(a, b, every[a], every[b]) for a, b in pairs]


PAIRS = _pairs()
KINKED_NAMES = set(KINKED) | {n + "'" for n in KINKED}

covariances = st.tuples(st.floats(0.1, 2.5), st.floats(0.1, 2.5), st.floats(-0.98, 0.98))


@pytest.mark.parametrize("na, nb, f, g", PAIRS, ids=[f"{a}*{b}" for a, b, *_ in PAIRS])
@settings(max_examples=6, deadline=None)
@given(cov=covariances)
def test_closed_form_matches_quadrature(na, nb, f, g, cov):
    k11, k22, rho = cov
    k12 = rho * np.sqrt(k11 * k22)
    expr, fn = closed_numeric(f, g)
    assert not expr.has(GaussianExpectation)
    kinked = na in KINKED_NAMES or nb in KINKED_NAMES
    ref = reference(f, g, k11, k12, k22, kinked)
    got = complex(fn(k11, k12, k22))
    assert abs(got.imag) < 1e-12
    assert got.real == pytest.approx(ref, rel=QUADRATURE_RTOL, abs=QUADRATURE_ATOL)


@settings(max_examples=10, deadline=None)
@given(cov=covariances)
def test_gauss_hermite_is_vectorised(cov):
    from mftsym.gaussian import gauss_hermite_expectation
    k11, k22, rho = cov
    K11 = np.array([k11, 2 * k11])
    K12 = np.array([[rho * np.sqrt(k11 * k22)], [0.0]])
    out = gauss_hermite_expectation(np.tanh, np.tanh, K11, K12, k22)
    assert out.shape == (2, 2)
    single = gauss_hermite_expectation(np.tanh, np.tanh, k11, rho * np.sqrt(k11 * k22), k22)
    assert out[0, 0] == pytest.approx(float(single), rel=1e-14)
    assert out[1, 1] == pytest.approx(0.0, abs=1e-14)                 # independent odd functions
