"""The scaling exponents against a direct numerical minimisation of the two-layer variational bound
with its exact ingredients (not its monomial summary):

    E(M, m) = M d m^2 / 2  +  1 / (lambda_lazy + (M/N) 6 c3(m)^2),

M specialists with mean overlap m (KL of the mean shift, prior w ~ N(0, I/d)), the target's norm
under the readout kernel: the lazy NNGP eigenvalue of He3 for erf, lambda_lazy = 16/(27 pi d^3)
(from K = (2/pi) arcsin(2 rho/3)), plus the specialists' rank-one term, c3(m) the He3 coefficient
of E_eta erf(m z + eta) = erf(m z / sqrt 3).  Its minimum over (M, m), against d at N = d^gamma,
has the log-log slope the engine derives for the winning phase."""

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import erf

from tests.tolerances import SCALING_SLOPE_ATOL as SLOPE_ATOL

_z, _w = np.polynomial.hermite_e.hermegauss(120)
_w = _w / np.sqrt(2 * np.pi)
_he3 = _z**3 - 3 * _z


def c3(m):
    return float(np.sum(_w * erf(m * _z / np.sqrt(3)) * _he3)) / 6.0


def bound_minimum(d, N):
    lam_lazy = 16 / (27 * np.pi * d**3)

    def E(p):
        logM, m = p
        M = np.exp(logM)
        return M * d * m**2 / 2 + 1 / (lam_lazy + (M / N) * 6 * c3(m) ** 2)

    best = 1 / lam_lazy                                    # no specialist: the GP
    for logM0 in np.linspace(0, np.log(N), 3):
        for m0 in (1.0, 3.0):
            r = minimize(E, [logM0, m0], method="L-BFGS-B", bounds=[(0, np.log(N)), (0.05, 8.0)])
            best = min(best, r.fun)
    return best


@pytest.mark.parametrize("gamma", [2.0, 3.0, 6.5])
def test_bound_slope_matches_derived_exponent(gamma, two_layer):
    from mftsym.scaling.phases import winners_at
    derived, _ = winners_at(two_layer.per_degree[0].scalings, {"d": 1.0, "N1": gamma})
    ds = np.geomspace(1e3, 1e5, 4)
    E = [bound_minimum(d, d**gamma) for d in ds]
    slope = np.polyfit(np.log(ds), np.log(E), 1)[0]
    assert slope == pytest.approx(derived, abs=SLOPE_ATOL)
