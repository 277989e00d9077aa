"""Extra Hermite modes in the data-model reduction (``[data] modes``, docs/theory/adaptive_kernel.md,
"Data-model reduction"): a mode the teacher lacks (c_k = 0) converges, and the fixed point satisfies the
self-consistency σ²τ_k = c_k − f̄_k evaluated independently (m_k in closed form from Price's theorem instead of
the symbolic Gaussian-expectation engine)."""

from math import factorial
from pathlib import Path

import numpy as np
import pytest

from mftsym.errors import SpecError
from mftsym.solve.data_model import _Numeric, data_model_theory, residual_scale, solve_data_model
from mftsym.spec import Spec

SPEC = Path(__file__).parents[2] / "derivations" / "adaptive_kernel" / "spec.toml"


def _spec(modes=None, **kw):
    text = SPEC.read_text()
    if modes is not None:
        text = text.replace('n_train = "n"', f'n_train = "n"\nmodes = {modes}')
    return Spec.from_toml_string(text).with_params(**{"n": 3000.0, **kw})


def _m_price(k, phi, rho):
    """m_k = E[He_k(z) erf(u)] = Φ^k E[erf^(k)(u)], u ~ N(0, ρ) (Price's theorem), erf^(k)(u) =
    (2/√π)(−1)^(k−1) H_(k−1)(u) e^(−u²); e^(−u²) times the N(0, ρ) density is (1 + 2ρ)^(−1/2) times the
    N(0, s) density, s = ρ/(1 + 2ρ), and E_s[H_(2j)(v)] = (2j)!/j! (2s − 1)^j (the generating function
    e^(2vt − t²)), 2s − 1 = −1/(1 + 2ρ).  Odd k (erf is odd: m_k = 0 for even k)."""
    j = (k - 1) // 2
    moment = factorial(2 * j) / factorial(j) * (-1.0 / (1 + 2 * rho)) ** j
    return phi ** k * 2 / np.sqrt(np.pi) * (-1) ** (k - 1) * moment / np.sqrt(1 + 2 * rho)


def test_residual_scale():
    assert np.allclose(residual_scale([1.0, 0.0, 0.5]), [1.0, 1.0, 0.5])
    assert np.allclose(residual_scale([0.0, 0.0]), [1.0, 1.0])


def test_zero_coefficient_mode_converges_and_is_self_consistent():
    spec = _spec(modes=[1, 3, 5])
    th = data_model_theory(spec)
    assert th.modes == (1, 3, 5) and float(th.coefficients[2]) == 0
    sol = solve_data_model(spec)   # failed before: the He5 residual was divided by 1e-300
    ops = sol.order_parameters
    tau = np.array([ops["tau1"], ops["tau3"], ops["tau5"]])
    assert abs(ops["tau5"]) > 1e-4   # He5 is driven (erf has He5 content), not trivially zero
    # independent self-consistency: m_k by Price's theorem on the solver's (Φ, r) grid, e^{−S} rebuilt from them
    num = _Numeric(th, spec, None)
    P, R = num.P, num.R
    M = np.stack([_m_price(k, P, P ** 2 + R) for k in (1, 3, 5)])
    assert np.allclose(M, num.M, atol=1e-10)
    S = num.S0 - num.kappa * np.tensordot(tau, M, 1) ** 2
    w = np.exp(-(S - S.min()))
    w /= w.sum()
    sa2, n, noise = num.vals["sa2"], num.vals["n"], num.vals["noise"]
    fbar = np.array([sa2 * n / factorial(k) * (w * M[i] * np.tensordot(tau, M, 1)).sum()
                     for i, k in enumerate((1, 3, 5))])
    c = np.array([1.0, 1.0, 0.0])
    assert np.max(np.abs(noise * tau - c + fbar)) < 1e-8
    # below the transition (n = 500: weak coupling, τ5 small) the He1, He3 moments barely move with He5 added;
    # above it (n = 3000) He5 is not negligible: τ3 moves by more than 10 %
    lo5, lo = (solve_data_model(_spec(modes=m, n=500.0)).order_parameters for m in ([1, 3, 5], None))
    assert abs(lo5["tau5"]) < 0.01 * abs(lo5["tau3"])
    for k in ("tau1", "tau3"):
        assert lo5[k] == pytest.approx(lo[k], rel=0.02)
    hi = solve_data_model(_spec()).order_parameters
    assert abs(ops["tau3"] - hi["tau3"]) > 0.1 * abs(hi["tau3"])


@pytest.mark.parametrize("bad", ['"5"', "[1.5]", "[-1]", "[1, 16]", "[3, 3]", "[]", "[true]"])
def test_bad_modes_are_rejected(bad):
    with pytest.raises(SpecError, match="modes"):
        data_model_theory(_spec(modes=bad))


def test_high_modes_match_price_closed_form():
    # modes beyond the expression parser's He0..He10 (up to 13 here) are built directly; m_k on the solver's grid
    spec = _spec(modes=[1, 3, 5, 7, 9, 11, 13])
    th = data_model_theory(spec)
    assert th.modes == (1, 3, 5, 7, 9, 11, 13)
    num = _Numeric(th, spec, None)
    for i, k in enumerate(th.modes):
        ref = _m_price(k, num.P, num.P ** 2 + num.R)
        # relative to the largest |m_k| on the grid (the engine's binomial form loses relative accuracy near Φ = 0)
        assert np.allclose(num.M[i], ref, rtol=1e-9, atol=1e-12 * np.max(np.abs(ref))), k
