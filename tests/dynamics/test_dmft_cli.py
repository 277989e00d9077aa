"""``mftsym solve`` with ``[theory] kind = "dmft"`` and the ``dmft`` validation theory."""

import json
from types import SimpleNamespace

import numpy as np

from mftsym.cli import main
from mftsym.solve import api
from mftsym.validate.gradient_descent import GradientDescent
from mftsym.validate.theory import THEORIES, call_theory
from tests.dynamics.test_dmft import data, dmft_spec

SPEC = """
[network]
input_dim = 3
parametrization = "mu_p"
[[network.layers]]
type = "dense"
width = "N"
weight_var = 1.0
[[network.layers]]
type = "activation"
fn = "erf"
[[network.layers]]
type = "dense"
width = 1
weight_var = 1.0
[params]
N = 512
gamma0 = 1.0
[theory]
kind = "dmft"
[dynamics]
time = 3.0
steps = 30
samples = 500
"""


def test_cli_solve_dmft(tmp_path):
    x, y, xt = data()
    (tmp_path / "s.toml").write_text(SPEC)
    np.savez(tmp_path / "d.npz", x_train=x, y_train=y[:, None], x_test=xt)
    rc = main(["solve", str(tmp_path / "s.toml"), "--data", str(tmp_path / "d.npz"), "--out", str(tmp_path / "o.json")])
    assert rc == 0
    out = json.loads((tmp_path / "o.json").read_text())
    assert out["theory"] == "dmft" and out["converged"]
    assert len(out["extras"]["loss"]) == 31 and out["extras"]["loss"][-1] < out["extras"]["loss"][0]
    assert np.asarray(out["prediction"]).shape == (3, 1)
    assert out["extras"]["dt"] == 0.1


def test_api_and_validation_hook_agree():
    x, y, xt = data()
    spec = dmft_spec("tanh", samples=400, steps=25)
    sol = api.solve(spec, x, y, xt, theory="dmft")
    pred = call_theory(THEORIES["dmft"], spec, SimpleNamespace(x_train=x, y_train=y[:, None], x_test=xt),
                       GradientDescent(lr=0.1, steps=25))
    assert np.allclose(pred["mean"], sol.prediction, atol=1e-12)


def test_validate_gd_ensembles_against_dmft(tmp_path):
    """mu_p GD ensembles through mftsym.validate with theory "dmft": the report holds the DMFT loss
    curve and plots it with the ensembles' learning curves; the final test means agree within 5 SE
    plus the DMFT's Monte Carlo error."""
    from mftsym.spec import Spec
    from mftsym.validate import validate
    x, y, xt = data()
    spec = Spec.from_toml_string(SPEC.replace("samples = 500", "samples = 20000"))
    rep = validate(spec, {"x_train": x, "y_train": y[:, None], "x_test": xt}, [256], 8, tmp_path,
                   trainer=GradientDescent(lr=0.1, steps=30, record_every=5), theory="dmft", progress=False)
    assert "learning_curves.png" in rep["plots"]
    assert len(rep["theories"]["dmft"]["loss_curve"]) == 30
    o = rep["widths"][0]["observables"]["mean"]
    diff = np.abs(np.ravel(o["experiment"]) - np.ravel(o["theory"]["dmft"]))
    assert np.all(diff < 5 * np.ravel(o["se"]) + 0.02)


def test_cli_derive_writes_the_dmft_equations(tmp_path):
    (tmp_path / "s.toml").write_text(SPEC)
    assert main(["derive", str(tmp_path / "s.toml"), "--latex", str(tmp_path / "d.tex")]) == 0
    tex = (tmp_path / "d.tex").read_text()
    assert "DMFT of gradient descent" in tex and r"\Phi_{\mu\nu}(t,s)" in tex and r"G_{\mu\nu}(t,s)" in tex
