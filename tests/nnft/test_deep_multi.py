"""Multi-input four-point vertex recursion of deep networks (four_point_deep).

Routes: P = 1 is the single-input chain of deep.py exactly; depth 1 is single_layer.py's G4c;
deep linear has a closed form; the Stein and Price/closed-form kernel derivatives agree.
Monte Carlo: N * G4c extrapolated (a + b/N) over three widths agrees with the recursion for every
one of the 15 distinct components at 3 inputs (erf depth 2, tanh and ReLU depth 3).  On these
ensembles dropping the propagation term J V J^T is rejected at > 13 sigma, and the common slip of
a factor 2 in the off-diagonal J at > 11 sigma, so the comparison does resolve the recursion.
"""

import itertools

import numpy as np
import pytest
import sympy as sp

from mftsym.errors import EvaluationError
from mftsym.nnft import (connected_four_point_tensor, deep_recursion, four_point_deep,
                         fourth_cumulant_from_covariance, leading_coefficient, sample_readout_covariance)
from mftsym.nnft.deep_multi import layer_statistics
from mftsym.spec import X as x
from tests.nnft._specs import make_spec
from tests.tolerances import BACKEND_RTOL, MC_SIGMAS

X1 = np.array([[1.0, 0.5, -0.3]])
X3 = np.array([[1.0, 0.5, -0.3], [0.2, -0.9, 0.4], [-0.6, 0.3, 0.8]])
TUPLES = list(itertools.combinations_with_replacement(range(3), 4))


def _symmetric(G):
    return all(np.allclose(G, G.transpose(p)) for p in itertools.permutations(range(4)))


@pytest.mark.parametrize("act", ["erf", "tanh", "relu", "x**3 - 3*x"])
@pytest.mark.parametrize("depth", [1, 2, 3])
def test_single_input_route_is_deep_recursion(act, depth):
    spec = make_spec(act, depth)
    K, G = four_point_deep(spec, X1)
    r = deep_recursion(spec, X1)
    assert np.isclose(K[0, 0], r["K"][0], rtol=BACKEND_RTOL, atol=0)
    assert np.isclose(G[0, 0, 0, 0], r["kappa4"][0], rtol=BACKEND_RTOL, atol=0)


def test_single_input_route_mean_field_and_width():
    spec = make_spec("erf", 3, parametrization="mean_field")
    K, G = four_point_deep(spec, X1, params={"N": 20})
    r = deep_recursion(spec, X1, params={"N": 20})
    assert np.isclose(G[0, 0, 0, 0], r["kappa4"][0], rtol=BACKEND_RTOL, atol=0)


def test_depth_one_route_is_single_layer_polynomial_exact():
    spec = make_spec("x**3 - 3*x", 1)
    K, G = four_point_deep(spec, X3)
    G2, G4 = connected_four_point_tensor(spec, X3)
    assert np.allclose(K, G2, rtol=BACKEND_RTOL, atol=0)
    assert np.allclose(G, G4, rtol=BACKEND_RTOL, atol=0)
    assert _symmetric(G)


def test_depth_one_route_is_single_layer_erf():
    """single_layer's rank-reduced Gauss-Hermite rule at order 32 for every rank (its former 4-D
    order-20 default was ~3e-3 off for erf at coincident points); here the 1-D/2-D engine and a 3-D
    rule on the distinct inputs."""
    spec = make_spec("erf", 1)
    K, G = four_point_deep(spec, X3)
    G2, G4 = connected_four_point_tensor(spec, X3, order=32)
    assert np.allclose(K, G2, rtol=BACKEND_RTOL, atol=0)
    assert np.allclose(G, G4, rtol=1e-4, atol=0), np.abs(G / G4 - 1).max()


def test_deep_linear_closed_form():
    """phi = x, C_W = 1, C_b = 0, L - 1 hidden layers of width n: G4c = 2(L-1)/n (KK + KK + KK)."""
    n, hidden = 10, 3
    spec = make_spec("x", hidden, sw=1.0, sb=0.0)
    K, G = four_point_deep(spec, X3, params={"N": n})
    K1 = X3 @ X3.T / 3
    wick = (np.einsum("ab,cd->abcd", K1, K1) + np.einsum("ac,bd->abcd", K1, K1)
            + np.einsum("ad,bc->abcd", K1, K1))
    assert np.allclose(K, K1, rtol=1e-12)
    assert np.allclose(G, 2 * hidden / n * wick, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("phi", [sp.Max(0, x), sp.tanh(x), sp.erf(x)])
def test_stein_derivatives_match_price(phi):
    K = np.array([[1.2, 0.3], [0.3, 1.0]])               # P = 2 holds every kind of J entry
    M, J, M4 = layer_statistics(phi, K, "auto")
    Ms, Js, M4s = layer_statistics(phi, K, "stein")
    assert np.allclose(J, Js, rtol=1e-8, atol=1e-12)
    # J is the symmetric Jacobian of M: a finite difference of M along a symmetric dK
    dK = np.array([[0.1, -0.2], [-0.2, 0.3]]) * 1e-4
    Mp, _, _ = layer_statistics(phi, K + dK)
    Mm, _, _ = layer_statistics(phi, K - dK)
    assert np.allclose((Mp - Mm) / 2, np.einsum("abef,ef->ab", J, dK), rtol=1e-5, atol=1e-12)


@pytest.mark.parametrize("act, depth", [("erf", 2), ("tanh", 3), ("relu", 3)])
def test_monte_carlo_three_inputs(act, depth):
    spec = make_spec(act, depth)                      # widths N everywhere, sigma_w = 1.3
    widths = [12, 24, 48]
    ks, ses = [], []
    for N in widths:
        sig = sample_readout_covariance(spec, X3, 3000, widths={"N": N}, seed=N)
        k, se = fourth_cumulant_from_covariance(sig, batches=40)
        ks.append(k)
        ses.append(se)
    ks, ses = np.array(ks), np.array(ses)
    _, G = four_point_deep(spec, X3, params={"N": 1})  # N * G4c at leading order
    assert _symmetric(G)
    z = []
    for t in TUPLES:
        a, aerr = leading_coefficient(widths, ks[(slice(None),) + t], ses[(slice(None),) + t])
        assert abs(a - G[t]) <= MC_SIGMAS * aerr + 0.02 * abs(G[t]), (t, a, aerr, G[t])
        z.append((a - G[t]) / aerr)
    assert np.mean(np.square(z)) < 4.0, z          # no systematic offset across components


def test_repeated_inputs_and_singular_kernel():
    spec = make_spec("x - x**3/20", 2)
    K, G = four_point_deep(spec, X3)
    Kr, Gr = four_point_deep(spec, X3[[0, 1, 0, 2]])
    idx = [0, 1, 0, 2]
    assert np.allclose(Kr, K[np.ix_(idx, idx)]) and np.allclose(Gr, G[np.ix_(idx, idx, idx, idx)])
    with pytest.raises(EvaluationError, match="singular"):
        four_point_deep(make_spec("relu", 2, sb=0.0), np.array([[1.0, 0.5, -0.3], [2.0, 1.0, -0.6]]))
