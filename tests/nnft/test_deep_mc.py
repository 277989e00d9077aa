"""Single-input finite-width recursion vs Monte Carlo over random networks at initialisation.

kappa4 = E[f^4] - 3E[f^2]^2 is measured with the Rao-Blackwellised estimator (exact identity
kappa4 = 3 Var(Sigma), Sigma the output variance given the last hidden layer), so its relative
error does not grow with the width.  Depth 1 is exact at every width; for depth >= 2 the O(1/N^2)
part is absorbed by a fit N kappa4 = a + b/N (and a beta/N term in the log-log slope fit).
"""

import numpy as np
import pytest

from mftsym.nnft import (deep_recursion, fourth_cumulant_from_covariance, leading_coefficient, loglog_slope,
                         sample_readout_covariance, second_moment_from_covariance)
from tests.nnft._specs import make_spec
from tests.tolerances import MC_SIGMAS, SLOPE_SIGMAS

X = np.array([[1.0, 0.5, -0.3]])

CASES = [("erf", 1, 1.3), ("relu", 1, 1.3), ("tanh", 1, 1.3), ("x**3 - 3*x", 1, 1.0),
         ("erf", 2, 1.3), ("tanh", 3, 1.3), ("relu", 3, 1.3), ("x - x**3/20", 3, 1.0)]


def _measure(spec, widths, draws):
    ks, ses, m2s, m2ses = [], [], [], []
    for N in widths:
        sig = sample_readout_covariance(spec, X, draws, widths={"N": N}, seed=N)
        k, se = fourth_cumulant_from_covariance(sig, batches=40)
        m, sem = second_moment_from_covariance(sig, batches=40)
        ks.append(k[0, 0, 0, 0]); ses.append(se[0, 0, 0, 0]); m2s.append(m[0, 0]); m2ses.append(sem[0, 0])
    return np.array(ks), np.array(ses), np.array(m2s), np.array(m2ses)


@pytest.mark.parametrize("act, depth, sw", CASES)
def test_fourth_cumulant_and_width_scaling(act, depth, sw):
    spec = make_spec(act, depth, sw=sw)
    widths = [8, 16, 32, 64] if depth == 1 else [12, 24, 48]
    draws = 6000 if depth == 1 else 3000
    ks, ses, _, _ = _measure(spec, widths, draws)
    theory = np.array([deep_recursion(spec, X, params={"N": N})["kappa4"][0] for N in widths])
    if depth == 1:                                  # exact at every width
        z = (ks - theory) / ses
        assert np.all(np.abs(z) <= MC_SIGMAS), z
        slope, err = loglog_slope(widths, ks, ses)
    else:                                           # leading order: extrapolate N*kappa4
        a, aerr = leading_coefficient(widths, ks, ses)
        three_v = theory[0] * widths[0]
        assert abs(a - three_v) <= MC_SIGMAS * aerr + 0.02 * abs(three_v), (a, aerr, three_v)
        slope, err = loglog_slope(widths, ks, ses, subleading=True)
    assert abs(slope + 1) <= SLOPE_SIGMAS * err + 0.02, (slope, err)


@pytest.mark.parametrize("act", ["erf", "tanh"])
def test_kernel_shift_G1(act):
    """E[f^2] = K + G1/n: the measured shift N (E[f^2] - K) extrapolates to G1 (depth 3)."""
    spec = make_spec(act, 3, sw=1.3)
    widths = [12, 24, 48]
    _, _, m2, se = _measure(spec, widths, 3000)
    r = deep_recursion(spec, X)
    K, G1 = r["K"][0], r["G1"][0]
    a, aerr = leading_coefficient(widths, m2 - K, se)
    assert abs(a - G1) <= MC_SIGMAS * aerr + 0.05 * abs(G1), (a, aerr, G1)


def test_deep_linear_exact():
    """Deep linear, equal widths: E[z^4]/(3E[z^2]^2) = (1 + 2/n)^(l-1) with l-1 hidden layers of width n."""
    spec = make_spec("x", 3, sw=1.0, sb=0.0)
    n = 10
    sig = sample_readout_covariance(spec, X, 20000, widths={"N": n}, seed=3)
    s = sig[:, 0, 0]
    ratio = (s**2).mean() / s.mean() ** 2          # = E[f^4] / (3 E[f^2]^2)
    parts = np.array_split(s, 40)
    se = np.std([(p**2).mean() / p.mean() ** 2 for p in parts], ddof=1) / np.sqrt(40)
    assert abs(ratio - (1 + 2 / n) ** 3) <= MC_SIGMAS * se
    # the recursion gives the leading 1/n term: 3 * 2(l-1)/n with l - 1 = 3 hidden layers
    r = deep_recursion(spec, X, params={"N": n})
    assert np.isclose(r["kappa4"][0] / (3 * r["K"][0] ** 2), 6 / n)
