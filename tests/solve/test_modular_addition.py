"""Modular addition (two-hot inputs over Z_P, square activation): the Fourier reduction of the data
term against brute force, the mode readout coefficient against the toolkit's kernel engine, the
Gaussian phase and its spinodal."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from mftsym.errors import SpecError
from mftsym.spec import Spec
from mftsym.solve.modular_addition import (data_term_brute, data_term_fourier, discrepancy_from_modes,
                                           modular_addition_theory, solve_modular_addition,
                                           sweep_modular_addition)

SPEC = Path(__file__).parents[2] / "derivations" / "grokking" / "modular_addition.toml"


def _spec(**kw):
    s = Spec.from_toml(SPEC)
    return s.with_params(**kw) if kw else s


def test_fourier_reduction_equals_brute_force_symbolically_at_P3():
    P = 3
    u = sp.symbols("u0:3", real=True)
    v = sp.symbols("v0:3", real=True)
    tau = sp.Symbol("tau", real=True)
    th = 2 * sp.pi / P
    t = [sp.expand(sum(tau * sp.exp(sp.I * th * q * s) for q in (1, 2)) / P) for s in range(P)]
    brute = sum(sum(t[(a + b - c) % P] * (u[a] + v[b]) ** 2 for a in range(P) for b in range(P)) ** 2
                for c in range(P))
    U = sum(u[a] * sp.exp(sp.I * th * a) for a in range(P))
    V = sum(v[b] * sp.exp(sp.I * th * b) for b in range(P))
    four = sp.Rational(4, P) * 2 * tau ** 2 * (U * sp.conjugate(U)) * (V * sp.conjugate(V))
    assert sp.simplify(sp.expand_complex(sp.expand(brute - four))) == 0


@pytest.mark.parametrize("P", [5, 7, 11])
def test_fourier_reduction_equals_brute_force_numerically(P):
    rng = np.random.default_rng(P)
    for _ in range(3):
        u, v = rng.standard_normal(P), rng.standard_normal(P)
        tau = rng.standard_normal(P)
        tau[1:] = 0.5 * (tau[1:] + tau[1:][::-1])             # τ_q = τ_{−q}: a real discrepancy
        t = discrepancy_from_modes(tau)
        assert data_term_brute(u, v, t) == pytest.approx(data_term_fourier(u, v, tau), rel=1e-10)


def test_mode_readout_coefficient_against_the_kernel_engine():
    """f̄ = Q t with Q_{μν} = σ̃_a² E[φ_μ φ_ν], w ~ N(0, (s/P) I), from the toolkit's Gaussian-expectation
    kernel of x**2, equals (4 σ̃_a² s²/P²) t(a + b − c) (the mode formula)."""
    from mftsym.solve.adaptive import neuron_kernel
    from mftsym.spec import X
    P, s, sa2 = 5, 0.7, 0.3
    pairs = [(a, b) for a in range(P) for b in range(P)]
    x = np.zeros((P * P, 2 * P))
    for i, (a, b) in enumerate(pairs):
        x[i, a] = x[i, P + b] = 1.0
    C = x @ x.T * (s / P)
    c = np.diag(C)
    (G,) = neuron_kernel(X ** 2, c[:, None], C, c[None, :], derivatives=False)
    tau = np.array([0.0, 1.3, -0.4, -0.4, 1.3])
    t = discrepancy_from_modes(tau)
    for cc in range(P):
        tc = np.array([t[(a + b - cc) % P] for a, b in pairs])
        fbar = sa2 * G @ tc
        assert np.allclose(fbar, 4 * sa2 * s ** 2 / P ** 2 * tc, atol=1e-12)


def test_gaussian_phase_and_its_spinodal():
    spec = _spec()
    th = modular_addition_theory(spec)
    assert th.action.has(sp.Symbol("x_q", nonnegative=True)) and r"S_q(x, y)" in th.derivation.latex()
    sol = solve_modular_addition(spec, {"sigma2": 1e-3})
    assert sol.extras["phase"] == "gaussian"
    ops = sol.order_parameters
    lam, g = sol.extras["lambda"], ops["g_over_gc"] * sol.extras["lambda"] ** 2 / 4
    s = ops["s_over_prior"] / lam
    assert s == pytest.approx(1 / (lam - g * s), rel=1e-12)                  # the closure
    assert 1e-3 * ops["tau"] == pytest.approx(1 - ops["fbar"], rel=1e-12)    # the self-consistency
    sc = sol.extras["noise_spinodal"]
    assert solve_modular_addition(spec, {"sigma2": sc * 1.001}).extras["phase"] == "gaussian"
    assert solve_modular_addition(spec, {"sigma2": sc * 0.999}).extras["phase"] == "feature_learning"
    out = sweep_modular_addition(spec, "sigma2", np.geomspace(1e-4, 1e-2, 9))
    (t,) = out["transitions"]
    assert t["value"] == pytest.approx(sc) and out["phases"][0] == "feature_learning"
    assert out["phases"][-1] == "gaussian"


def test_spec_errors():
    text = SPEC.read_text()
    with pytest.raises(SpecError, match="square activation"):
        modular_addition_theory(Spec.from_toml_string(text.replace('fn = "x**2"', 'fn = "erf"')))
    with pytest.raises(SpecError, match="width P"):
        modular_addition_theory(Spec.from_toml_string(text.replace('width = "P"', "width = 3")))
    with pytest.raises(SpecError, match="odd"):
        solve_modular_addition(_spec(P=16, d=32))
    with pytest.raises(SpecError, match="2P"):
        solve_modular_addition(_spec(d=30))
    with pytest.raises(SpecError, match="sum_mod"):
        modular_addition_theory(dataclasses.replace(_spec(), data={"inputs": "two_hot", "modulus": "P",
                                                                    "target": "product"}))
