"""The O(1/N) posterior variance, and criticality against Monte Carlo deep networks."""

import numpy as np
import pytest

from mftsym.compile.chain import compile_chain
from mftsym.nnft import criticality, predict, sample_outputs
from mftsym.nnft.critical import critical_line
from mftsym.nnft.critical_mc import mc_critical_weight_var, mc_susceptibilities
from mftsym.spec.activations import resolve_activation
from tests.nnft._specs import make_spec
from tests.tolerances import MC_SIGMAS


def test_corrected_mean_by_quadrature_equals_closed_form():
    spec = make_spec("erf", 1)
    rng = np.random.default_rng(0)
    xtr, xte = rng.normal(size=(4, 3)), rng.normal(size=(3, 3))
    p = predict(spec, xtr, rng.normal(size=4), xte, 0.3, params={"N": 8})
    assert np.allclose(p["mean_quadrature"], p["mean"], rtol=1e-10, atol=1e-12)


def test_corrected_variance_vs_importance_sampled_networks():
    """Exact posterior variance of random width-16 networks (importance-sampled prior) vs GP and NNFT.
    (With y halved the O(1/N) variance shift nearly cancels here and O(1/N^2) dominates at N <= 4.)"""
    spec = make_spec("erf", 1)
    xtr = np.array([[1.0, 0.5, -0.3], [0.2, -1.0, 0.4]])
    xte = np.array([[-1.0, -0.5, 0.3]])
    y = np.array([2.4, -1.8])
    s2, N = 0.5, 16
    p = predict(spec, xtr, y, xte, s2, params={"N": N})
    f = sample_outputs(spec, np.concatenate([xtr, xte]), 400_000, widths={"N": N}, seed=11)
    logw = -((f[:, :2] - y) ** 2).sum(1) / (2 * s2)
    vals = []
    for part in np.array_split(np.arange(len(f)), 20):
        w = np.exp(logw[part] - logw[part].max())
        m = w @ f[part, 2] / w.sum()
        vals.append(w @ (f[part, 2] - m) ** 2 / w.sum())
    v, se = np.mean(vals), np.std(vals, ddof=1) / np.sqrt(len(vals))
    assert abs(v - p["var"][0]) <= MC_SIGMAS * se + 0.3 * abs(p["var_correction"][0]), (v, se, p)
    assert abs(v - p["gp_var"][0]) > MC_SIGMAS * se                # the shift is resolved


def _line_point(act, cb):
    from scipy.optimize import brentq
    fn = compile_chain(critical_line(resolve_activation(act).expr), "numpy")
    k = brentq(lambda k: float(fn({"k": k})["C_b"]) - cb, 1e-3, 30)
    return k, float(fn({"k": k})["C_W"]), float(fn({"k": k})["chi_par"])


def test_gelu_critical_point_has_unit_susceptibilities_on_mc_networks():
    """A non-trivial critical point of a 'new' activation: gelu at (C_b, C_W) ~ (0.173, 1.983), K* ~ 3.56.
    Random deep networks there neither amplify nor damp nearby inputs, while C_W x 1.15 does."""
    pts = [p for p in criticality(make_spec("gelu", 2)).points if p[2] > 0]
    assert len(pts) == 1
    cb, cw, k = pts[0]
    assert cb == pytest.approx(0.1729, abs=2e-3) and cw == pytest.approx(1.983, abs=2e-3)
    rs = [mc_susceptibilities("gelu", cb, cw, k, n=600, depth=10, seed=s) for s in range(4)]
    for key in ("chi_perp", "chi_par"):
        x = np.log([r[key] for r in rs])
        assert abs(x.mean()) <= MC_SIGMAS * x.std(ddof=1) / 2 + 0.01, (key, x)
    off = [mc_susceptibilities("gelu", cb, 1.15 * cw, k, n=600, depth=10, seed=s)["chi_perp"] for s in range(2)]
    assert min(off) > 1.08


@pytest.mark.slow
@pytest.mark.parametrize("act, cb", [("erf", 0.2), ("gelu", 0.1729)])
def test_chi_perp_line_matches_mc_search(act, cb):
    k, cw, _ = _line_point(act, cb)
    m, se, _ = mc_critical_weight_var(act, cb, bracket=(0.5 * cw, 2 * cw), k0=k, seeds=range(4))
    assert abs(m - cw) <= MC_SIGMAS * se + 0.01, (m, se, cw)
