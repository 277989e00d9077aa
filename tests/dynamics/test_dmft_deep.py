"""Deep (L ≥ 2 hidden layers) DMFT of gradient descent (docs/theory/dynamics.md, "Deep networks")
against independent references: the NTK predictor (γ₀ → 0) and mftsym.kernel's NTK, the two-layer
solver (depth-1 reduction), and finite-width μP gradient-descent ensembles trained in torch."""

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

import mftsym
from mftsym.dynamics import solve_dmft
from mftsym.errors import SpecError
from mftsym.spec import Spec
from mftsym.validate.theory import ntk_predictor
from tests.dynamics.gd_ensemble import gd_ensemble_outputs, mean_and_se
from tests.tolerances import DMFT_NTK_LIMIT_ATOL


def deep_spec(L=3, act=None, gamma0=1.0, bias_var=0.1, d=3, widths=None, **dyn):
    layers = []
    for k in range(L):
        layers.append({"type": "dense", "width": (widths or ["N"] * L)[k], "weight_var": 1.0 + 0.2 * k,
                       "bias_var": bias_var})
        if act:
            layers.append({"type": "activation", "fn": act})
    layers.append({"type": "dense", "width": 1, "weight_var": 1.3})
    return Spec.from_dict({"network": {"input_dim": d, "parametrization": "mu_p", "layers": layers},
                           "params": {"N": 100, "gamma0": gamma0},
                           "dynamics": {"lr": 0.03, "steps": 30, **dyn}})


def data(P=5, Pt=3, d=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((P, d)), rng.standard_normal(P), rng.standard_normal((Pt, d))


def ntk_curve(spec, x, y, xt, lr, k):
    spec_ntk = replace(spec, network=replace(spec.network, parametrization="ntk"))
    both = np.vstack([x, xt])
    return ntk_predictor(spec_ntk, SimpleNamespace(x_train=x, x_test=both, y_train=y[:, None]),
                         SimpleNamespace(lr=lr, steps=k))["mean"][:, 0]


def test_lazy_limit_deep_linear_is_the_ntk_predictor():
    """3 hidden layers, γ₀ = 1e-7: train and test outputs at every step equal the NTK predictor to 1e-6,
    and Θ(0) = Σ_k Φ̃^k ∘ G^{k+1} equals mftsym.kernel's ntk-parametrization NTK."""
    x, y, xt = data()
    spec = deep_spec(3, gamma0=1e-7)
    sol = solve_dmft(spec, x, y, xt)
    assert sol.converged and sol.extras["depth"] == 3 and sol.extras["solver"] == "exact"
    for k in range(0, 31, 5):
        ref = ntk_curve(spec, x, y, xt, 0.03, k)
        assert np.max(np.abs(sol.extras["train_predictions"][k] - ref[:5])) < DMFT_NTK_LIMIT_ATOL
        assert np.max(np.abs(sol.extras["test_predictions"][k] - ref[5:])) < DMFT_NTK_LIMIT_ATOL
    spec_ntk = replace(spec, network=replace(spec.network, parametrization="ntk"))
    assert np.allclose(sol.extras["ntk"][0], mftsym.kernel(spec_ntk, x, kind="ntk"), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("gamma0", [0.5, 1.5])
def test_depth_one_reduction(gamma0):
    """The deep solver on a two-layer linear spec equals the two-layer exact solver."""
    x, y, xt = data()
    spec = deep_spec(1, gamma0=gamma0)
    two = solve_dmft(spec, x, y, xt)
    deep = solve_dmft(spec, x, y, xt, solver="deep_exact")
    assert deep.extras["depth"] == 1
    for key in ("train_predictions", "test_predictions", "ntk", "phi", "g"):
        assert np.allclose(two.extras[key], deep.extras[key], rtol=0, atol=1e-12), key


def test_feature_learning_moves_the_deep_kernel_and_fits():
    x, y, xt = data()
    rich = solve_dmft(deep_spec(3, gamma0=1.5, steps=40, record_every=5), x, y, xt)
    lazy = solve_dmft(deep_spec(3, gamma0=1e-3, steps=40), x, y, xt)
    assert lazy.order_parameters["ntk_change"] < 1e-2 < 0.1 < rich.order_parameters["ntk_change"]
    assert rich.extras["loss"][-1] < 0.1 * rich.extras["loss"][0]
    assert rich.extras["phi_layers"].shape == (3, 9, 9, 5, 5)


def test_discrete_gd_converges_to_gradient_flow():
    """Fixed horizon T = 0.3 at dt = 0.02, 0.01, 0.005: the exact discrete-GD solution moves by O(dt)
    (successive differences halve) and the Euler output update differs from it by O(dt)."""
    from mftsym.dynamics.deep import DeepLinearSweep, deep_model
    x, y, xt = data()
    spec = deep_spec(3, gamma0=1.0)
    m = deep_model(spec, 3)
    Kx = m.input_kernel(np.vstack([x, xt]))
    finals, euler = [], []
    for dt in (0.02, 0.01, 0.005):
        T = int(round(0.3 / dt))
        finals.append(DeepLinearSweep(m, Kx, y, 5, 1.0, dt, T).run()["f"][-1])
        euler.append(np.max(np.abs(DeepLinearSweep(m, Kx, y, 5, 1.0, dt, T, output="euler").run()["f"][-1] - finals[-1])))
    d1, d2 = np.max(np.abs(finals[1] - finals[0])), np.max(np.abs(finals[2] - finals[1]))
    assert 1.7 < d1 / d2 < 2.3
    assert 1.7 < euler[0] / euler[1] < 2.3 and 1.7 < euler[1] / euler[2] < 2.3


def test_deep_linear_matches_finite_width_gd_ensemble():
    """μP deep linear network (3 hidden layers, N = 512, 24 members) trained by the validation harness's
    GradientDescent (raw step η₀γ₀²N): the ensemble-mean outputs at steps 10 and 20 lie within 4 standard
    errors of the exact DMFT on every point (the mean's O(1/N) bias is far below the SE)."""
    pytest.importorskip("torch")
    x, y, xt = data(P=4, Pt=2)
    spec = deep_spec(3, gamma0=1.0, steps=20)
    sol = solve_dmft(spec, x, y, xt)
    ref = np.hstack([sol.extras["train_predictions"], sol.extras["test_predictions"]])
    for t, out in gd_ensemble_outputs(spec, x, y, xt, lr=0.03, steps=20, record=(10, 20)).items():
        mean, se = mean_and_se(out)
        assert np.all(np.abs(mean - ref[t]) < 4 * se), (t, mean, ref[t], se)
        assert np.sqrt(np.mean((out - ref[t]) ** 2)) < 0.05          # each network is close too


@pytest.mark.parametrize("change,match", [
    ({"widths": ["N", 64, "N"]}, "one width"),
    ({"method": "iterate"}, "forward"),
    ({"backend": "torch", "solver": "exact"}, "numpy"),
])
def test_bad_deep_specs_are_named(change, match):
    x, y, xt = data()
    widths = change.pop("widths", None)
    with pytest.raises(SpecError, match=match):
        solve_dmft(deep_spec(3, widths=widths, **change), x, y, xt)


def test_deep_derivation_latex_and_cli(tmp_path):
    """``mftsym derive`` writes the deep equations: per layer the fields, kernels and responses."""
    from mftsym.cli import main
    from mftsym.dynamics import derive_dmft
    tex = derive_dmft(deep_spec(3, act="tanh")).latex()
    for piece in (r"h^{3}(t)", r"z^{2}(t)", r"R^{2}(t,s)", r"B^{1}(t,s)", r"\tilde\Phi^{3}(t,s)", r"\Theta_{\mu\nu}(t)",
                  r"\tanh"):
        assert piece in tex, piece
    assert r"B^{3}" not in tex and r"R^{3}" not in tex           # no responses beyond the last hidden layer
    d = deep_spec(2, act="erf").to_dict()
    d["theory"] = {"kind": "dmft"}
    (tmp_path / "s.toml").write_text(Spec.from_dict(d).to_toml())
    assert main(["derive", str(tmp_path / "s.toml"), "--latex", str(tmp_path / "d.tex")]) == 0
    assert r"h^{2}(t)" in (tmp_path / "d.tex").read_text()


def test_cli_solve_deep_dmft(tmp_path):
    """``mftsym solve`` on a 3-hidden-layer tanh spec with [theory] kind = "dmft" (Monte Carlo)."""
    import json
    from mftsym.cli import main
    x, y, xt = data(P=3, Pt=2)
    d = deep_spec(3, act="tanh", steps=10, samples=200).to_dict()
    d["theory"] = {"kind": "dmft"}
    (tmp_path / "s.toml").write_text(Spec.from_dict(d).to_toml())
    np.savez(tmp_path / "d.npz", x_train=x, y_train=y[:, None], x_test=xt)
    assert main(["solve", str(tmp_path / "s.toml"), "--data", str(tmp_path / "d.npz"), "--out", str(tmp_path / "o.json")]) == 0
    out = json.loads((tmp_path / "o.json").read_text())
    assert out["converged"] and out["extras"]["depth"] == 3 and out["extras"]["solver"] == "monte_carlo"
    assert len(out["extras"]["loss"]) == 11 and np.asarray(out["prediction"]).shape == (2, 1)
