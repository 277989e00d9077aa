"""Symbolic data-model reduction: the Gaussian-input identity, saddles, self-consistency, sweep."""

from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from mftsym.errors import SpecError
from mftsym.spec import Spec
from mftsym.solve.data_model import PHI, RPERP, data_model_theory, solve_data_model, sweep_data_model

SPEC = Path(__file__).parents[2] / "derivations" / "adaptive_kernel" / "spec.toml"


def _spec(**kw):
    return Spec.from_toml(SPEC).with_params(**{"sigma2": 1.0, "eps": 0.5, "N": 1000.0, **kw})


def test_reduced_action_is_explicit_and_matches_identity():
    th = data_model_theory(_spec())
    assert th.modes == (1, 3)
    m1 = th.m[0]
    # THEORY.md section 4: E[erf(w.x) He1(w*.x)] = (2/sqrt(pi)) (w.w*)/sqrt(1 + 2|w|^2)
    expected = 2 / sp.sqrt(sp.pi) * PHI / sp.sqrt(1 + 2 * (PHI ** 2 + RPERP))
    assert sp.simplify(m1 - expected) == 0
    assert not th.action.has(sp.Integral) and "\\Phi" in th.derivation.latex()


def test_saddles_stability_and_self_consistency():
    sol = solve_data_model(_spec(n=3000.0))
    phis = sorted(s.order_parameters["Phi"] for s in sol.saddles)
    assert len(sol.saddles) == 3 and phis[1] == 0 and phis[0] == pytest.approx(-phis[2], rel=1e-8)
    assert all(s.stable and s.residual < 1e-8 for s in sol.saddles)
    ops = sol.order_parameters
    # tau_k = (c_k - fbar_k) / sigma^2 with c = (1, eps)
    assert ops["tau1"] == pytest.approx(1 - ops["fbar1"], abs=1e-9)
    assert ops["tau3"] == pytest.approx(0.5 - ops["fbar3"], abs=1e-9)
    assert 0 < ops["aligned_fraction"] < 0.05
    below = solve_data_model(_spec(n=500.0))
    assert len(below.saddles) == 1 and below.order_parameters["aligned_fraction"] == 0


def test_saddle_is_grid_minimum():
    from mftsym.solve.data_model import _Numeric
    spec = _spec(n=3000.0)
    sol = solve_data_model(spec)
    num = _Numeric(data_model_theory(spec), spec, None)
    tau = np.array([sol.order_parameters["tau1"], sol.order_parameters["tau3"]])
    _, S = num.weights(tau)
    i, j = np.unravel_index(np.argmin(S), S.shape)
    best = sol.saddles[0].order_parameters
    assert abs(num.P[i, j] - best["Phi"]) < 0.02 and abs(num.R[i, j] - best["r"]) < 0.02


def test_sweep_and_errors(tmp_path):
    out = sweep_data_model(_spec(), "n", [500.0, 2000.0, 4000.0], plot=tmp_path / "p.png")
    assert out["phases"] == ["unaligned"] * 3 and (tmp_path / "p.png").exists()
    fr = [s["order_parameters"]["aligned_fraction"] for s in out["solutions"]]
    assert fr[0] == 0 < fr[1] < fr[2]
    with pytest.raises(SpecError, match="not in"):
        sweep_data_model(_spec(), "bogus", [1.0])
    bad = Spec.from_toml_string(SPEC.read_text().replace('teacher = "He1(z) + eps*He3(z)"', 'teacher = "exp(z)"'))
    with pytest.raises(SpecError, match="polynomial"):
        data_model_theory(bad)
    evil = Spec.from_toml_string(SPEC.read_text().replace('teacher = "He1(z) + eps*He3(z)"',
                                                          'teacher = "__import__(z)"'))
    with pytest.raises(SpecError):
        data_model_theory(evil)
