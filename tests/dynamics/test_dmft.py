"""DMFT of gradient descent (docs/theory/dynamics.md) against independent references: the NTK
predictor (γ₀ → 0), a SymPy closed form (linear, one point), the exact Gaussian solver (Monte Carlo
error ∝ 1/√samples), numpy vs torch, and the two solution methods against each other."""

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
import sympy as sp

from mftsym.dynamics import derive_dmft, solve_dmft
from mftsym.dynamics.closed_form import single_point_linear_kernel
from mftsym.errors import SpecError
from mftsym.spec import Spec
from mftsym.validate.theory import ntk_predictor
from tests.tolerances import BACKEND_RTOL, DMFT_CLOSED_FORM_RTOL, DMFT_NTK_LIMIT_ATOL, SLOPE_SIGMAS


def dmft_spec(act="tanh", gamma0=1.0, bias_var=0.1, readout_var=1.0, d=3, **dyn):
    layers = [{"type": "dense", "width": "N", "weight_var": 1.0, "bias_var": bias_var}]
    if act:
        layers.append({"type": "activation", "fn": act})
    layers.append({"type": "dense", "width": 1, "weight_var": readout_var})
    return Spec.from_dict({"network": {"input_dim": d, "parametrization": "mu_p", "layers": layers},
                           "params": {"N": 100, "gamma0": gamma0},
                           "dynamics": {"lr": 0.1, "steps": 60, **dyn}})


def data(P=5, Pt=3, d=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((P, d)), rng.standard_normal(P), rng.standard_normal((Pt, d))


@pytest.mark.parametrize("act,solver", [("tanh", "monte_carlo"), ("relu", "monte_carlo"), (None, "exact")])
def test_lazy_limit_is_the_ntk_predictor(act, solver):
    """γ₀ = 1e-7: train and test outputs at every recorded step equal the NTK predictor's
    Θ_{xX}Θ⁻¹(I − (I − ηΘ)^t)y to 1e-6."""
    spec = dmft_spec(act, gamma0=1e-7, solver=solver, samples=500)
    x, y, xt = data()
    sol = solve_dmft(spec, x, y, xt)
    assert sol.converged
    spec_ntk = replace(spec, network=replace(spec.network, parametrization="ntk"))
    both = np.vstack([x, xt])
    for k in range(0, 61, 10):
        ref = ntk_predictor(spec_ntk, SimpleNamespace(x_train=x, x_test=both, y_train=y[:, None]),
                            SimpleNamespace(lr=0.1, steps=k))["mean"][:, 0]
        assert np.max(np.abs(sol.extras["train_predictions"][k] - ref[:5])) < DMFT_NTK_LIMIT_ATOL
        assert np.max(np.abs(sol.extras["test_predictions"][k] - ref[5:])) < DMFT_NTK_LIMIT_ATOL


def test_closed_form_is_derived():
    phi, theta, (k, g0, y, sa) = single_point_linear_kernel()
    assert sp.simplify(phi - sp.sqrt(k ** 2 + k * g0 ** 2 * y ** 2 / sa ** 2)) == 0
    assert sp.simplify(theta - 2 * sa ** 2 * phi) == 0
    assert sp.simplify(phi.subs(g0, 0) - k) == 0                          # lazy limit: kernel frozen


@pytest.mark.parametrize("gamma0,target,readout_var", [(1.0, 1.0, 1.0), (2.0, -1.5, 1.0), (0.7, 2.0, 2.0)])
def test_single_point_linear_final_kernel(gamma0, target, readout_var):
    phi, theta, syms = single_point_linear_kernel()
    x = np.array([[1.0, -0.5, 0.8]])
    spec = dmft_spec(None, gamma0=gamma0, bias_var=0.2, readout_var=readout_var, lr=0.002, steps=6000,
                     record_every=6000)
    kx = 1.0 * float(x[0] @ x[0]) / 3 + 0.2
    sol = solve_dmft(spec, x, np.array([target]))
    vals = dict(zip(syms, (kx, gamma0, target, np.sqrt(readout_var))))
    assert abs(sol.extras["train_predictions"][-1, 0] - target) < 1e-6                 # converged
    assert sol.extras["phi"][-1, -1, 0, 0] == pytest.approx(float(phi.subs(vals)), rel=DMFT_CLOSED_FORM_RTOL)
    assert sol.extras["ntk"][-1, 0, 0] == pytest.approx(float(theta.subs(vals)), rel=DMFT_CLOSED_FORM_RTOL)
    assert sol.extras["g"][-1, -1, 0, 0] == pytest.approx(float(phi.subs(vals)) / kx, rel=DMFT_CLOSED_FORM_RTOL)


def test_monte_carlo_error_falls_as_inverse_sqrt_samples():
    """Linear network solved by Monte Carlo vs exactly: rms error of the final test outputs over 12
    seeds x 2 points at 1000, 4000, 16000 samples; the weighted log-log slope is −1/2 within
    SLOPE_SIGMAS standard errors (the rms of n Gaussian errors scatters by 1/sqrt(2n) in log)."""
    x, y, xt = data(P=4, Pt=2)
    exact = solve_dmft(dmft_spec("x", gamma0=1.5, steps=30, solver="exact"), x, y, xt).prediction
    Ss, seeds = np.array([1000, 4000, 16000]), 12
    errs = []
    for S in Ss:
        preds = np.array([solve_dmft(dmft_spec("x", gamma0=1.5, steps=30, solver="monte_carlo", samples=int(S),
                                               seed=s, record_every=30), x, y, xt).prediction for s in range(seeds)])
        errs.append(np.sqrt(np.mean((preds - exact) ** 2)))
    A = np.vstack([np.log(Ss), np.ones(len(Ss))]).T
    slope = np.linalg.lstsq(A, np.log(errs), rcond=None)[0][0]
    se = (1 / np.sqrt(2 * seeds * 2)) * np.sqrt(np.linalg.inv(A.T @ A)[0, 0])
    assert abs(slope + 0.5) < SLOPE_SIGMAS * se, (slope, se, errs)


def test_numpy_and_torch_agree():
    pytest.importorskip("torch")
    x, y, xt = data()
    a = solve_dmft(dmft_spec("tanh", samples=300, steps=20), x, y, xt)
    b = solve_dmft(dmft_spec("tanh", samples=300, steps=20, backend="torch"), x, y, xt)
    for key in ("train_predictions", "test_predictions", "ntk", "phi", "g"):
        assert np.allclose(a.extras[key], b.extras[key], rtol=BACKEND_RTOL, atol=1e-12), key


def test_iterations_agree_with_forward_sweep_and_report_nonconvergence():
    x, y, xt = data()
    fwd = solve_dmft(dmft_spec("erf", gamma0=2.0, samples=400), x, y, xt)
    it = solve_dmft(dmft_spec("erf", gamma0=2.0, samples=400, method="iterate", damping=0.7), x, y, xt)
    assert fwd.converged and it.converged and fwd.residual < 1e-12
    assert np.allclose(fwd.extras["test_predictions"], it.extras["test_predictions"], atol=1e-8)
    bad = solve_dmft(dmft_spec("erf", gamma0=2.0, samples=400, method="iterate", max_iterations=2), x, y, xt)
    assert not bad.converged and "residual" in bad.message


def test_feature_learning_changes_the_kernel():
    """γ₀ = 1.5 moves the NTK by O(1); γ₀ = 1e-3 leaves it frozen (the point of μP)."""
    x, y, xt = data()
    lazy = solve_dmft(dmft_spec("tanh", gamma0=1e-3, samples=500), x, y, xt)
    rich = solve_dmft(dmft_spec("tanh", gamma0=1.5, samples=500), x, y, xt)
    assert lazy.order_parameters["ntk_change"] < 1e-2 < 0.1 < rich.order_parameters["ntk_change"]


@pytest.mark.parametrize("change,match", [
    ({"network_par": "ntk"}, "mu_p"),
    ({"dynamics": {"lr": 0.1, "time": 2.0}}, "exactly one of lr"),
    ({"dynamics": {"lr": 0.1, "loss": "cross_entropy"}}, "mse"),
    ({"dynamics": {"lr": 0.1, "solver": "exact"}}, "linear"),
])
def test_bad_specs_are_named(change, match):
    d = dmft_spec("tanh").to_dict()
    if "network_par" in change:
        d["network"]["parametrization"] = change["network_par"]
    if "dynamics" in change:
        d["dynamics"] = change["dynamics"]
    x, y, xt = data()
    with pytest.raises(SpecError, match=match):
        solve_dmft(Spec.from_dict(d), x, y, xt)


def test_derivation_latex():
    der = derive_dmft(dmft_spec("tanh"))
    tex = der.latex()
    for piece in (r"\Phi", r"G", r"\Delta", r"\gamma_{0}"):
        assert piece in tex


def test_gamma0_given_twice_must_agree():
    x, y, xt = data()
    d = dmft_spec("tanh", gamma0=1.0, samples=100, steps=3).to_dict()
    d["dynamics"]["gamma0"] = 2.0
    with pytest.raises(SpecError, match="differs"):
        solve_dmft(Spec.from_dict(d), x, y, xt)
    d["dynamics"]["gamma0"] = 1.0
    sol = solve_dmft(Spec.from_dict(d), x, y, xt)
    assert sol.order_parameters["gamma0"] == 1.0
    assert sol.extras["phi_equal_time"].shape == (4, 5, 5) and sol.extras["phi"].shape == (4, 4, 5, 5)   # steps 0..3


def test_low_rank_input_kernel_path_agrees_with_dense(monkeypatch):
    """With d + 1 < P the Monte Carlo step applies K^x = F Fᵀ through F; same result as the dense K^x."""
    import mftsym.dynamics.model as model
    x, y, xt = data(P=12)
    low = solve_dmft(dmft_spec("tanh", samples=300, steps=15), x, y, xt)
    monkeypatch.setattr(model.TwoLayerModel, "input_factor", lambda self, xa: np.zeros((len(xa), 100)))
    dense = solve_dmft(dmft_spec("tanh", samples=300, steps=15), x, y, xt)
    assert np.allclose(low.extras["test_predictions"], dense.extras["test_predictions"], rtol=0, atol=1e-12)
