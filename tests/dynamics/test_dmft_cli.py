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
