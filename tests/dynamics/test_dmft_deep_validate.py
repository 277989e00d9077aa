"""``mftsym validate`` with theory "dmft" on a deep (3-hidden-layer) μP spec: the report holds the deep
DMFT's loss curve and equations and plots it against the trained ensemble (the quantitative agreement
with ensembles is tested in test_dmft_deep*.py and validation/dmft_width_deep/)."""

import numpy as np

from mftsym.spec import Spec
from mftsym.validate import validate
from mftsym.validate.gradient_descent import GradientDescent
from tests.dynamics.test_dmft_deep import data, deep_spec


def test_validate_deep_gd_ensemble_against_dmft(tmp_path):
    x, y, xt = data(P=4, Pt=2)
    d = deep_spec(3, act="tanh", samples=200).to_dict()
    d["theory"] = {"kind": "dmft"}
    rep = validate(Spec.from_dict(d), {"x_train": x, "y_train": y[:, None], "x_test": xt}, [128], 4, tmp_path,
                   trainer=GradientDescent(lr=0.03, steps=12, record_every=4), theory="dmft", progress=False)
    assert "learning_curves.png" in rep["plots"]
    th = rep["theories"]["dmft"]
    assert len(th["loss_curve"]) == 12 and th["loss_curve"][-1] < th["loss_curve"][0]
    assert any(r"\tilde\Phi" in e for e in th["equations"])
    o = rep["widths"][0]["observables"]["mean"]
    assert np.all(np.abs(np.ravel(o["experiment"]) - np.ravel(o["theory"]["dmft"])) < 0.2)   # N = 128, 4 members
