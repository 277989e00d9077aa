"""One theory registry: solve, derive, validate and the main job all read it."""

import json

import numpy as np
import pytest

import mftsym as mf
from mftsym.errors import SpecError
from mftsym.solve import registry
from mftsym.solve.api import solve, theory_hooks
from mftsym.solve.common import theory_kind
from mftsym.solve.derive import derive_theory
from mftsym.solve.solution import Solution

from tests.tolerances import BACKEND_RTOL

from .conftest import make_spec


def test_built_in_theories():
    assert registry.solvable_theories()[:3] == ("gp", "kernel_renormalization", "adaptive_kernel")
    assert registry.get_theory("kr") is registry.get_theory("kernel_renormalization")
    assert not registry.get_theory("ntk").solvable
    from mftsym.validate.theory import THEORIES
    assert set(registry.theory_names(aliases=True)) <= set(THEORIES)
    assert {"gp", "kr", "kernel_renormalization", "adaptive_kernel", "ntk", "linear_exact"} <= set(THEORIES)
    assert set(theory_hooks()) == set(registry.solvable_theories())


def test_unknown_and_unsolvable_kinds_are_clear_errors():
    with pytest.raises(SpecError, match="unknown theory kind 'nope'; use one of gp, kernel_renormalization"):
        theory_kind(make_spec(theory="nope"))
    with pytest.raises(SpecError, match="unknown theory kind 'ntk'"):
        theory_kind(make_spec(theory="ntk"))
    with pytest.raises(SpecError, match="already registered"):
        registry.register_theory("gp", "mftsym.solve.gp:solve_gp")


@pytest.fixture
def scaled_gp():
    """A new theory in one registration line: the GP posterior with its mean scaled by 2."""
    def solver(spec, x_train, y_train, x_test=None, params=None):
        from mftsym.solve.gp import solve_gp
        sol = solve_gp(spec, x_train, y_train, x_test, params=params)
        return Solution("scaled_gp", {"scale": 2.0}, sol.action, 2 * sol.prediction, sol.variance, True, 0.0, 0)
    registry.register_theory("scaled_gp", solver, derive="mftsym.solve.derive:gp_derivations")
    yield
    registry.unregister_theory("scaled_gp")


def test_one_registration_line_reaches_every_stage(scaled_gp, data):
    x, y, xt = data
    spec = make_spec(theory="scaled_gp")
    assert theory_kind(spec) == "scaled_gp"
    gp = solve(spec, x, y, xt, theory="gp")
    sol = solve(spec, x, y, xt)
    np.testing.assert_array_equal(sol.prediction, 2 * gp.prediction)
    assert [d.title for d in derive_theory(spec)] == [d.title for d in derive_theory(make_spec(theory="gp"))]
    from mftsym.validate import as_dataset
    from mftsym.validate.theory import THEORIES, call_theory
    ds = as_dataset({"x_train": x, "y_train": y, "x_test": xt})
    pred = call_theory(THEORIES["scaled_gp"], spec, ds)
    np.testing.assert_allclose(pred["mean"][:, 0], 2 * gp.prediction, rtol=BACKEND_RTOL)
    assert pred["order_parameters"] == {"scale": 2.0}


def test_the_main_job_validates_an_adaptive_kernel_spec(tmp_path):
    """``mftsym run`` on an adaptive_kernel spec puts its prediction into the validation report."""
    from mftsym.pipeline import run_pipeline
    from mftsym.solve.adaptive import solve_adaptive_kernel
    d = mf.example_spec().to_dict()
    d["theory"] = {"kind": "adaptive_kernel"}
    spec = mf.Spec.from_dict(d)
    run_pipeline(spec, tmp_path, n_train=10, n_test=3, input_dim=3, widths=(16, 32), ensemble=2, steps=100,
                 progress=False, log=lambda *a: None)
    report = json.loads((tmp_path / "validation" / "report.json").read_text())
    assert json.loads((tmp_path / "run.json").read_text())["theories"] == ["gp", "adaptive_kernel"]
    z = np.load(tmp_path / "data.npz")
    for w in report["widths"]:
        mean = w["observables"]["mean"]["theory"]
        assert set(mean) == {"gp", "adaptive_kernel"}
        ref = solve_adaptive_kernel(spec.with_params(N1=w["width"]), z["x_train"], z["y_train"], z["x_test"])
        np.testing.assert_allclose(np.ravel(mean["adaptive_kernel"]), ref.prediction, rtol=BACKEND_RTOL)
    assert "adaptive_kernel" in (tmp_path / "README.md").read_text()
