"""One hidden layer: G2 and G4c at several input points vs Monte Carlo, closed forms, backends."""

import numpy as np
import pytest
import sympy as sp

import mftsym as mf
from mftsym.nnft import (connected_four_point_tensor, derive_single_layer, four_point,
                         fourth_cumulant_from_covariance, fourth_cumulant_from_outputs, loglog_slope,
                         sample_outputs, sample_readout_covariance, second_moment_from_covariance)
from mftsym.nnft.moments4 import GaussianExpectation4
from mftsym.spec.activations import ActivationFunction
from tests.nnft._specs import make_spec
from tests.tolerances import BACKEND_RTOL, MC_SIGMAS, QUADRATURE_RTOL, SLOPE_SIGMAS

XS = np.array([[1.0, 0.5, -0.3], [0.2, -1.0, 0.4], [-1.0, -0.5, 0.3]])


@pytest.mark.parametrize("act", ["erf", "relu", "tanh", "x**3 - 3*x", "sin"])
def test_g4c_matches_monte_carlo_at_several_widths(act):
    spec = make_spec(act, 1, sc=0.1, sw=0.7 if act.startswith("x") else 1.3)   # cubic: keep its tails tame
    widths, ks, ses = [8, 32, 128], [], []
    for N in widths:
        G2, G4 = connected_four_point_tensor(spec, XS, params={"N": N})
        sig = sample_readout_covariance(spec, XS, 6000, widths={"N": N}, seed=N)
        k, se = fourth_cumulant_from_covariance(sig, batches=40)
        m, sem = second_moment_from_covariance(sig, batches=40)
        assert np.all(np.abs(k - G4) <= MC_SIGMAS * se + 1e-12), np.abs((k - G4) / se).max()
        assert np.all(np.abs(m - G2) <= MC_SIGMAS * sem), np.abs((m - G2) / sem).max()
        ks.append(k[0, 1, 2, 0]); ses.append(se[0, 1, 2, 0])
    if True:
        slope, err = loglog_slope(widths, ks, ses)
        assert abs(slope + 1) <= SLOPE_SIGMAS * err, (slope, err)


def test_raw_outputs_agree_with_rao_blackwell():
    spec = make_spec("erf", 1)
    f = sample_outputs(spec, XS[:1], 100_000, widths={"N": 4}, seed=7)
    k, se = fourth_cumulant_from_outputs(f, batches=40)
    _, G4 = connected_four_point_tensor(spec, XS[:1], params={"N": 4})
    assert abs(k[0] - G4[0, 0, 0, 0]) <= MC_SIGMAS * se[0]


def test_constant_activation_is_exactly_gaussian():
    act = ActivationFunction("2", sp.Integer(2))
    spec = mf.Spec(mf.Network((mf.Dense("N", "sigma_w**2"), mf.Activation(act), mf.Dense(1, "sigma_a**2")),
                              input_dim=3), params={"sigma_w": 1.0, "sigma_a": 1.3, "N": 5})
    der = derive_single_layer(spec)
    assert der.expression("G4c") == 0
    assert sp.simplify(der.expression("G2") - 4 * sp.Symbol("sigma_a", positive=True) ** 2) == 0 or \
        float(four_point(spec, *XS[[0, 1, 0, 1]])["G2"]) == pytest.approx(4 * 1.3**2)


def test_closed_forms_polynomial_and_trig():
    """x^2 (Wick) and sin (characteristic function) close; relu/erf stay numerical nodes."""
    for act, closed in [("x**2", True), ("sin", True), ("cos", True), ("x**3 - 3*x", True),
                        ("relu", False), ("erf", False)]:
        der = derive_single_layer(make_spec(act))
        has_node = der.definition("Mfour").expr.has(GaussianExpectation4)
        assert has_node != closed, act
    # x^2 at a single point: M4 = E[z^8] = 105 K^4, M2 = 3 K^2: G4c = C_W^2/N (315 - 27) K^4
    der = derive_single_layer(make_spec("x**2", sb=0.0))
    K = sp.Symbol("K")
    e = der.expression("G4c").subs({s: K * 3 / sp.Symbol("sigma_w", positive=True) ** 2
                                    for s in der.inputs}).subs(sp.Symbol("sigma_b", positive=True), 0)
    target = sp.Symbol("sigma_a", positive=True) ** 4 / sp.Symbol("N", positive=True) * 288 * K**4
    assert sp.simplify(e - target) == 0


@pytest.mark.parametrize("act", ["x**3 - 3*x", "sin", "cos"])
def test_closed_form_equals_quadrature(act):
    spec = make_spec(act)
    a = connected_four_point_tensor(spec, XS)[1]
    b = connected_four_point_tensor(spec, XS, method="quadrature")[1]
    assert np.allclose(a, b, rtol=QUADRATURE_RTOL, atol=1e-10 * np.abs(a).max())


@pytest.mark.parametrize("act", ["erf", "sin", "x**3 - 3*x"])
def test_backends_agree(act):
    spec = make_spec(act)
    pts = XS[[0, 1, 2, 0]]
    ref = four_point(spec, *pts)
    tor = four_point(spec, *pts, backend="torch")
    for k in ("G2", "G4c"):
        assert float(tor[k]) == pytest.approx(float(ref[k]), rel=BACKEND_RTOL)
    if act != "erf":  # the mpmath 4-D node rule is slow; closed forms only here
        mp = four_point(spec, *pts, backend="mpmath")
        for k in ("G2", "G4c"):
            assert float(mp[k]) == pytest.approx(float(ref[k]), rel=BACKEND_RTOL)


def test_multi_hidden_layer_is_refused_clearly():
    with pytest.raises(mf.MftsymError, match="exactly one hidden layer"):
        derive_single_layer(make_spec("erf", 2))
