"""Deep adaptive kernel on the symbolic Gaussian data model (mftsym/solve/deep_data_model.py,
docs/theory/deep_adaptive_kernel.md "Data-model reduction"): depth 1 equals the one-hidden-layer
reduced action's quadrature; deep linear networks agree with the data-array Gaussian closure of
mftsym/solve/deep_adaptive.py on sampled Gaussian data (the data model is its P -> infinity limit);
the general path (any first-layer activation, linear layers above) equals the closed form for linear
layers and the one-hidden-layer model when the linear layer is infinitely wide; nonlinear layers
above the first are a clear SpecError; ``mftsym solve`` runs on a deep spec."""

import json

import numpy as np
import pytest

from mftsym.errors import SpecError
from mftsym.spec import Spec
from mftsym.solve.data_model import _teacher, adaptive_kernel_derivations, solve_data_model
from mftsym.solve.deep_data_model import solve_deep_data_model


def _text(hidden=2, teacher="He1(z) + 0.5*He3(z)", activation=None, bias=None, first=None,
          parametrization="mean_field", upper_width="N", upper_var="sigma_w**2"):
    layers = ""
    for i in range(hidden):
        width, var = ("N", "sigma_w**2") if i == 0 else (upper_width, upper_var)
        layers += f'[[network.layers]]\ntype = "dense"\nwidth = "{width}"\nweight_var = "{var}"\n'
        if bias:
            layers += f'bias_var = "{bias}"\n'
        if first and i == 0:
            layers += f'\n[[network.layers]]\ntype = "activation"\nfn = "{first}"\n'
        if activation:
            layers += f'\n[[network.layers]]\ntype = "activation"\nfn = "{activation}"\n'
        layers += "\n"
    return f"""
[network]
input_dim = "d"
parametrization = "{parametrization}"

{layers}[[network.layers]]
type = "dense"
width = 1
weight_var = "sigma_a**2"

[params]
d = 10
N = 200
n = 400
sigma_w = 1.0
sigma_a = 1.0
sigma2 = 0.05

[posterior]
noise_var = "sigma2"

[theory]
kind = "adaptive_kernel"

[data]
inputs = "gaussian"
teacher = "{teacher}"
n_train = "n"
"""


def _spec(hidden=2, **kw):
    return Spec.from_toml_string(_text(hidden, **kw))


@pytest.mark.parametrize("params", [{}, {"n": 2000.0}, {"d": 40.0, "n": 100.0, "N": 50.0}])
def test_depth_one_equals_one_hidden_layer_quadrature(params):
    # the existing data model integrates e^{-S(Phi, r)} on a grid; the reduction solves for <Phi^2>
    spec = _spec(hidden=1)
    ref = solve_data_model(spec, params=params).order_parameters
    new = solve_deep_data_model(spec, _teacher(spec), params=params).order_parameters
    for k in ("tau1", "fbar1", "tau3", "fbar3"):
        assert new[k] == pytest.approx(ref[k], rel=1e-9, abs=1e-12), k
    assert ref["fbar1"] > 0.4   # learned, not trivial


def _data_array_closure(spec, P, d, seed, params):
    """The data-array Gaussian closure (DeepSetup's free energy, L-BFGS) on P samples of the data model;
    returns (f_bar at x = w*, Sigma_1[w*, w*])."""
    import torch
    from scipy.optimize import minimize
    from mftsym.solve.deep_adaptive import DeepSetup
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((P, d))
    y = x[:, 0].copy()                        # teacher He1(w*.x), w* = e_1
    st = DeepSetup(spec, x, y, np.eye(d)[:1], params=params)
    res = minimize(st.value_and_grad, st.initial(1.0), jac=True, method="L-BFGS-B",
                   options={"maxiter": 5000, "gtol": 1e-9, "ftol": 1e-16, "maxcor": 30})
    th = torch.as_tensor(res.x)
    with torch.no_grad():
        out = st.forward(th, test=True)
        B1, _ = st.unpack(th)[0]
        s0 = 1 / np.sqrt(st.lam0)
        sigma1 = s0[:, None] * (B1 @ B1.T).numpy() * s0[None, :]
    Q = out["Q"].numpy()
    fbar = float((out["Qs"].numpy() @ np.linalg.solve(Q + st.noise * np.eye(P), y))[0])
    return fbar, float(sigma1[0, 0])


@pytest.mark.parametrize("hidden", [2, 3])
def test_deep_linear_matches_data_array_closure_at_large_P(hidden):
    # P = 200, d = 4, N = 200, sigma2 = 0.05, mean-field scaling.  Measured over 6 (depth 2) and 4
    # (depth 3) draws: single-draw sd 0.006 / 0.005 for f_bar(w*) and 0.0015 / 0.0008 for Sigma_1[w*,w*];
    # mean minus data model -0.0006 / -0.0003 (f_bar) and -0.0008 / -0.0006 (Sigma_1; the closure's
    # trace term, O(1/P), dropped by the data model).  At P = 400: sd 0.0014 and 0.0004, differences
    # -0.0005 and -0.0007.  Tolerances: 4 sd of the mean of 4 draws plus the measured bias.
    P, d = 200, 4
    spec = _spec(hidden=hidden, teacher="He1(z)")
    params = {"d": float(d), "n": float(P)}
    dm = solve_data_model(spec, params=params)          # dispatches to the deep reduction
    assert dm.extras["depth"] == hidden and dm.saddles[0].stable
    draws = np.array([_data_array_closure(spec, P, d, seed, params) for seed in range(4)])
    fbar, s1 = draws.mean(0)
    assert fbar == pytest.approx(dm.order_parameters["fbar1"], abs=0.012)
    assert s1 == pytest.approx(dm.order_parameters["mean_Phi2"], abs=0.003)
    # the test can fail: the prior (NNGP) values are far outside the tolerances
    s_prior = 1.0 / d
    sL_prior = s_prior      # sigma_w = 1 at every layer
    k = 1.0 / 200 * P * sL_prior
    assert abs(dm.order_parameters["fbar1"] - k / (0.05 + k)) > 0.05
    assert abs(dm.order_parameters["mean_Phi2"] - s_prior) > 0.1


def test_equal_widths_give_one_renormalization_per_layer_and_the_equations_of_state():
    sol = solve_deep_data_model(_spec(hidden=3), _teacher(_spec(hidden=3)))
    ops = sol.order_parameters
    # with equal widths the stationarity conditions force s_l/K_l to be the same at every layer
    assert ops["s1_prior_ratio"] == pytest.approx(ops["s2_prior_ratio"], rel=1e-8)
    assert ops["s2_prior_ratio"] == pytest.approx(ops["s3_prior_ratio"], rel=1e-8)
    # f_bar_1 = sigma_a^2 n s_L tau_1 and tau_1 = (c_1 - f_bar_1)/sigma^2
    sa2, n, noise = 1.0 / 200, 400.0, 0.05
    assert ops["fbar1"] == pytest.approx(sa2 * n * ops["s3"] * ops["tau1"], rel=1e-12)
    assert ops["tau1"] == pytest.approx((1.0 - ops["fbar1"]) / noise, rel=1e-9)
    assert ops["tau3"] == pytest.approx(0.5 / noise) and ops["fbar3"] == 0.0


@pytest.mark.parametrize("hidden", [2, 3])
@pytest.mark.parametrize("params", [{}, {"d": 4.0, "n": 200.0}, {"N": 60.0, "sigma2": 0.2}])
def test_quadrature_path_equals_closed_form_for_linear_layers(hidden, params):
    # solve_data_model (first layer by quadrature on the (Phi, r) grid, rank-one couplings above) against
    # the closed-form teacher-mode scalars of the deep linear network (minimised free energy)
    spec = _spec(hidden=hidden)
    quad = solve_data_model(spec, params=params).order_parameters
    closed = solve_deep_data_model(spec, _teacher(spec), params=params).order_parameters
    for k in ("tau1", "fbar1", "tau3"):
        assert quad[k] == pytest.approx(closed[k], rel=1e-8), k
    assert quad["mean_Phi2"] == pytest.approx(closed["s1"], rel=1e-8)


def test_erf_first_layer_below_a_wide_linear_layer_is_the_one_hidden_layer_model():
    # N_2 -> infinity (ntk readout): the coupling chain gives kappa_1 = sigma_a^2 sigma_{w,2}^2 n^2/(2 N_1),
    # i.e. the one-hidden-layer data model with readout variance sigma_a^2 sigma_{w,2}^2
    kw = {"sigma2": 0.1, "n": 500.0}
    deep = _spec(hidden=2, first="erf", parametrization="ntk", upper_width="1e9", upper_var="1.5")
    one = Spec.from_toml_string(_text(hidden=1, activation="erf", parametrization="ntk").replace(
        'width = 1\nweight_var = "sigma_a**2"', 'width = 1\nweight_var = "1.5*sigma_a**2"'))
    a = solve_data_model(deep, params=kw).order_parameters
    b = solve_data_model(one, params=kw).order_parameters
    for k in ("tau1", "fbar1", "tau3", "fbar3", "mean_abs_Phi"):
        assert a[k] == pytest.approx(b[k], rel=1e-6, abs=1e-10), k
    # a finite linear layer feeds back (alpha_2 v_2 > 0): a different, still converged solution
    finite = solve_data_model(_spec(hidden=2, first="erf", parametrization="ntk", upper_width="200",
                                    upper_var="1.5"), params=kw)
    assert finite.converged and finite.order_parameters["fbar1"] > a["fbar1"] + 1e-3


def test_deep_nonlinear_and_biased_specs_are_clear_errors():
    with pytest.raises(SpecError, match="hidden layers above the first are linear"):
        solve_data_model(_spec(hidden=2, activation="erf"))
    with pytest.raises(SpecError, match="bias"):
        solve_data_model(_spec(hidden=2, bias="0.1"))


def test_derivation_and_cli(tmp_path):
    spec = _spec(hidden=2)
    ders = adaptive_kernel_derivations(spec)
    assert len(ders) == 2 and "s_{2}" in ders[1].latex()
    path = tmp_path / "spec.toml"
    path.write_text(_text(hidden=2))
    from mftsym.cli import main
    out = tmp_path / "sol.json"
    assert main(["solve", str(path), "--out", str(out)]) == 0
    sol = json.loads(out.read_text())
    assert sol["order_parameters"]["fbar1"] == pytest.approx(
        solve_data_model(spec).order_parameters["fbar1"], rel=1e-10)


def test_erf_first_layer_derivation_sweep_and_one_layer_only_analyses(tmp_path):
    spec = _spec(hidden=2, first="erf", parametrization="ntk", upper_width="200", upper_var="1.5")
    ders = adaptive_kernel_derivations(spec)
    assert r"\kappa_1" in ders[1].latex() and r"\alpha_{l-1}" in " ".join(ders[1].notes)
    from mftsym.solve.data_model import data_model_theory
    with pytest.raises(SpecError, match="one hidden layer"):
        data_model_theory(spec)            # the d -> infinity analyses do not know the deep coupling
    from mftsym.solve.data_model_sweep import sweep_data_model
    res = sweep_data_model(spec.with_params(sigma2=0.1), "n", np.array([300.0, 500.0]))
    text = json.dumps(res, default=float)
    assert "fbar1" in text
