"""Symbolic data-model reduction: the Gaussian-input identity, saddles, self-consistency, sweep."""

from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from mftsym.errors import SpecError
from mftsym.spec import Spec
from mftsym.solve.data_model import PHI, RPERP, data_model_theory, solve_data_model
from mftsym.solve.data_model_sweep import sweep_data_model

SPEC = Path(__file__).parents[2] / "derivations" / "adaptive_kernel" / "spec.toml"


def _spec(**kw):
    """The standard-scaling (ntk readout) variant of the example: metastable aligned saddles, no crossing."""
    text = SPEC.read_text().replace('parametrization = "mean_field"', 'parametrization = "ntk"')
    return Spec.from_toml_string(text).with_params(**{"sigma2": 1.0, "eps": 0.5, "N": 1000.0, **kw})


def _mf_spec(**kw):
    """The example as shipped: mean-field scaling, sigma2 = 0.01, eps = 1 (a first-order transition in n)."""
    return Spec.from_toml(SPEC).with_params(**kw)


def test_reduced_action_is_explicit_and_matches_identity():
    th = data_model_theory(_spec())
    assert th.modes == (1, 3)
    m1 = th.m[0]
    # docs/theory/adaptive_kernel.md: E[erf(w.x) He1(w*.x)] = (2/sqrt(pi)) (w.w*)/sqrt(1 + 2|w|^2)
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


def test_reduced_action_matches_direct_d_dimensional_average():
    """The reduction of S[w] to (Φ, r): the data term E_x[He_k(w*·x) erf(w·x)] by Monte Carlo over
    x ~ N(0, I_d) in d = 50 dimensions, and the measure (entropy -(d-3)/2 ln r) by reweighting prior
    samples of w in d dimensions against the (Φ, r) quadrature of e^{-S}."""
    from scipy.special import erf
    from mftsym.solve.data_model import _Numeric
    spec = _mf_spec(n=5000.0)
    th = data_model_theory(spec)
    num = _Numeric(th, spec, None)
    d = int(num.vals["d"])
    rng = np.random.default_rng(0)
    x = rng.standard_normal((100_000, d))
    z = x[:, 0]                                     # w* = e_1
    he = {1: z, 3: z ** 3 - 3 * z}
    for phi, norm in ((0.0, 1.0), (0.5, 1.0), (1.5, 2.0), (3.0, 3.3)):
        w = np.zeros(d)
        w[0], w[1] = phi, np.sqrt(norm ** 2 - phi ** 2)
        u = erf(x @ w)
        for k, m in zip(th.modes, num.m):
            g = he[k] * u
            assert float(m(phi, norm ** 2 - phi ** 2)) == pytest.approx(g.mean(), abs=5 * g.std() / np.sqrt(len(g)) + 1e-12)
    # the measure: prior samples w ~ N(0, sigma_w^2/d I_d) reweighted by the data term exp(+kappa (tau.m)^2)
    tau = np.array([0.02, 0.01])
    W = rng.standard_normal((200_000, d)) * np.sqrt(num.vals["sw2"] / d)
    Phi, rho = W[:, 0], (W ** 2).sum(1)
    lw = num.kappa * sum(t * m(Phi, rho - Phi ** 2) for t, m in zip(tau, num.m)) ** 2
    iw = np.exp(lw - lw.max())
    iw /= iw.sum()
    wq, _ = num.weights(tau)
    for f in (lambda p, r: p ** 2, lambda p, r: p ** 2 + r, lambda p, r: np.abs(p)):
        direct = float((iw * f(Phi, rho - Phi ** 2)).sum())
        reduced = float((wq * f(num.P, num.R)).sum())
        assert reduced == pytest.approx(direct, rel=2e-2)


def _grid_delta(spec, n, phis):
    """Brute force: at the self-consistent τ(n), S minimised over a dense (Φ, r) grid around each of
    the two minima |Φ| ~ phis; returns S(aligned well) - S(He1 well)."""
    from mftsym.solve.data_model import _Numeric
    sol = solve_data_model(spec, params={"n": n})
    num = _Numeric(data_model_theory(spec), spec, {"n": n})
    tau = [sol.order_parameters["tau1"], sol.order_parameters["tau3"]]
    best = []
    for p0 in phis:
        P, R = np.meshgrid(np.linspace(p0 - 0.4, p0 + 0.4, 801), np.linspace(0.01, 2.0, 996), indexing="ij")
        S = num.S(P, R, *tau)
        i, j = np.unravel_index(np.argmin(S), S.shape)
        P, R = np.meshgrid(np.linspace(P[i, j] - 2e-3, P[i, j] + 2e-3, 401),
                           np.linspace(R[i, j] - 4e-3, R[i, j] + 4e-3, 401), indexing="ij")
        best.append(float(num.S(P, R, *tau).min()))
    return best[1] - best[0]


def test_locator_finds_first_order_transition_of_brute_force_grid(tmp_path):
    spec = _mf_spec()
    out = sweep_data_model(spec, "n", [8000.0, 11000.0], plot=tmp_path / "sweep.png")
    assert (tmp_path / "sweep.png").exists()
    (t,) = [e for e in out["transitions"] if e["definition"].startswith("finite_d") and e["kind"] == "first_order"]
    assert t["kind"] == "first_order" and t["bracket"] == [8000.0, 11000.0]
    # order parameters on both sides: the He1-like minimum |Φ| ~ 0.59 jumps to the He3-aligned |Φ| ~ 3.2
    assert 0.5 < t["Phi_from"] < 0.7 and 3.0 < t["Phi_to"] < 3.5 and t["jump_Phi"] > 2.3
    assert t["rho_to"] > 5 * t["rho_from"] and abs(t["action_to"] - t["action_from"]) < 1e-6
    # independent location: the sign change of the brute-force grid ΔS at n* -/+ 250, linearly interpolated
    lo, hi = t["value"] - 250.0, t["value"] + 250.0
    dlo, dhi = _grid_delta(spec, lo, (0.59, 3.24)), _grid_delta(spec, hi, (0.59, 3.24))
    assert dlo > 0 > dhi
    n_grid = lo + (hi - lo) * dlo / (dlo - dhi)
    assert n_grid == pytest.approx(t["value"], abs=20.0)   # grid: 9555.5 vs 9549.1


def test_sweep_continuation_recovers_hard_points():
    """Without a start from a neighbouring value the self-consistency can fail; the sweep continues
    from converged neighbours (forwards, then backwards) and reports every point converged."""
    out = sweep_data_model(_mf_spec(), "n", [300.0, 600.0, 1200.0], refine=False)
    assert all(s["converged"] for s in out["solutions"])
    fr = [s["order_parameters"]["aligned_fraction"] for s in out["solutions"]]
    assert fr[0] == 0 and 0 < fr[1] < fr[2] < 0.5    # the droplet of He3-aligned neurons grows
