"""Deep adaptive kernel with sampled single-neuron measures: for linear layers each measure is
Gaussian, so the sampler must reproduce the Gaussian closure (an independent, deterministic solver)
up to its Monte Carlo error; it is reached through strategy="langevin"; bad settings fail clearly."""

import numpy as np
import pytest

from mftsym.errors import ConvergenceError, SpecError
from mftsym.solve.adaptive import solve_adaptive_kernel
from mftsym.solve.deep_adaptive import solve_deep_adaptive_kernel
from mftsym.solve.deep_adaptive_sampled import solve_deep_adaptive_sampled
from tests.solve.conftest import make_spec


def _mean_field_linear(depth, N=50.0, act=None):
    rng = np.random.default_rng(0)
    d, P = 6, 5          # d >= P: the linear layer kernels are full rank (their inverses enter the tilts)
    x = rng.standard_normal((P, d))
    y, xt = x[:, 0] + 0.3 * rng.standard_normal(P), rng.standard_normal((3, d))
    widths = {f"N{l}": N for l in range(1, depth + 1)}
    spec = make_spec(hidden=tuple((w, act) for w in widths), theory="adaptive_kernel",
                     parametrization="mean_field", noise="kappa/N1", params={**widths, "kappa": 0.05})
    return spec, x, y, xt


@pytest.mark.parametrize("seed", [1, 2])
def test_linear_layers_reproduce_the_closure(seed, depth=2):
    spec, x, y, xt = _mean_field_linear(depth)
    closure = solve_deep_adaptive_kernel(spec, x, y, xt, starts=(1.0,))
    assert closure.order_parameters["kernel_trace_ratio"] > 1.3          # strong feature learning
    mc = solve_deep_adaptive_sampled(spec, x, y, xt, chains=1500, steps=30, outer=16, average=10, seed=seed)
    # 1500 chains x 15 kept steps x 10 iterations, correlated: ~1 % Monte Carlo error on O(1) outputs
    np.testing.assert_allclose(mc.prediction, closure.prediction, atol=0.03 * np.abs(closure.prediction).max())
    np.testing.assert_allclose(mc.variance, closure.variance, rtol=0.1, atol=1e-4)
    # the trace is dominated by the most renormalized (noisiest) direction: a few percent of MC error
    assert mc.order_parameters["kernel_trace_ratio"] == pytest.approx(
        closure.order_parameters["kernel_trace_ratio"], rel=0.06)


def test_dispatch_and_bad_settings():
    # erf: bounded, so every tilted measure is normalisable even with few (noisy) chains
    spec, x, y, xt = _mean_field_linear(2, act="erf")
    sol = solve_adaptive_kernel(spec, x, y, xt, strategy="langevin", chains=300)
    assert sol.extras["strategy"] == "langevin" and sol.prediction.shape == (3,)
    with pytest.raises(ValueError, match="average"):
        solve_deep_adaptive_sampled(spec, x, y, xt, outer=5, average=6)
    with pytest.raises(SpecError, match="strategy"):
        solve_adaptive_kernel(spec, x, y, xt, strategy="magic")


def test_runaway_kernel_is_an_error(monkeypatch):
    import mftsym.solve.deep_adaptive_sampled as mod
    spec, x, y, xt = _mean_field_linear(2)
    monkeypatch.setattr(mod, "RUNAWAY", 1e-3)      # any kernel counts as a runaway
    with pytest.raises(ConvergenceError, match="non-normalisable"):
        solve_deep_adaptive_sampled(spec, x, y, xt, chains=200, steps=10, outer=3, average=2)


def test_strategy_from_the_spec():
    from mftsym.spec import Spec
    spec, x, y, xt = _mean_field_linear(2, act="erf")
    d = spec.to_dict()
    d["theory"] = {"kind": "adaptive_kernel", "strategy": "langevin"}
    sol = solve_adaptive_kernel(Spec.from_dict(d), x, y, xt, chains=300)
    assert sol.extras["strategy"] == "langevin"
    d["theory"] = {"kind": "adaptive_kernel", "strategy": "magic"}
    with pytest.raises(SpecError, match="strategy"):
        solve_adaptive_kernel(Spec.from_dict(d), x, y, xt)
