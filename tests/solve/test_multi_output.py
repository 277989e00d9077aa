"""Multi-output readouts (width K > 1 or a [params] name) for the GP and adaptive-kernel theories."""

import numpy as np
import pytest

from mftsym.errors import EvaluationError, SpecError
from mftsym.solve import solve_adaptive_kernel, solve_gp

from .conftest import make_spec


def _with_width(spec, width, extra_params=None):
    """The spec with its readout width replaced (an integer or a [params] name)."""
    import dataclasses
    from mftsym.spec.expressions import make_symbol
    layers = list(spec.network.layers)
    w = make_symbol(width) if isinstance(width, str) else width
    layers[-1] = dataclasses.replace(layers[-1], width=w)
    out = dataclasses.replace(spec, network=dataclasses.replace(spec.network, layers=tuple(layers)))
    return out.with_params(**extra_params) if extra_params else out



@pytest.fixture
def multi_data(data):
    x, y, xt = data
    Y = np.stack([y, np.sin(x[:, 3]), x[:, 4] ** 2 - 1], axis=1)
    return x, Y, xt


def test_multi_output_gp_equals_per_output_gps(multi_data):
    import sympy as sp
    x, Y, xt = multi_data
    single = make_spec(theory="gp", params={"d": 6})
    multi = _with_width(single, "K", {"K": 3})
    sol = solve_gp(multi, x, Y, xt)
    assert sol.prediction.shape == (5, 3) and sol.extras["outputs"] == 3
    actions = 0.0
    for k in range(3):
        one = solve_gp(single, x, Y[:, k], xt)
        assert np.allclose(sol.prediction[:, k], one.prediction, rtol=1e-12, atol=1e-14)
        assert np.allclose(sol.variance, one.variance, rtol=1e-12, atol=1e-14)
        actions += one.action
    assert sol.action == pytest.approx(actions, rel=1e-12)
    # a width given as a number must match the targets
    with pytest.raises(EvaluationError, match="width 4"):
        solve_gp(_with_width(single, sp.Integer(4)), x, Y, xt)


def test_multi_output_adaptive_kernel_duplicated_outputs_equal_half_width(data):
    """K = 2 identical outputs: the variational action is exactly twice the single-output one at
    width N/2 (standard scaling, σ_a² independent of N), so the self-consistent kernels and the
    predictions coincide."""
    import sympy as sp
    x, y, xt = data
    single = make_spec(theory="adaptive_kernel", params={"d": 6, "N1": 20, "sigma2": 0.05})
    multi = _with_width(single, sp.Integer(2)).with_params(N1=40)
    a = solve_adaptive_kernel(multi, x, np.stack([y, y], 1), xt)
    b = solve_adaptive_kernel(single, x, y, xt)
    assert a.converged and b.converged and a.prediction.shape == (5, 2)
    assert np.allclose(a.prediction[:, 0], b.prediction, rtol=1e-7, atol=1e-10)
    assert np.allclose(a.prediction[:, 1], b.prediction, rtol=1e-7, atol=1e-10)
    assert a.action == pytest.approx(2 * b.action, rel=1e-8)
    # and a genuinely different second output changes the kernel (it is shared by both outputs)
    c = solve_adaptive_kernel(multi, x, np.stack([y, np.sin(3 * x[:, 1])], 1), xt)
    assert not np.allclose(c.extras["Q_eigenvalues"], a.extras["Q_eigenvalues"], rtol=1e-3)


def test_single_output_theories_still_reject_width_two():
    import sympy as sp
    from mftsym.solve.common import readout
    spec = _with_width(make_spec(theory="gp"), sp.Integer(2))
    with pytest.raises(SpecError, match="width 1"):
        readout(spec.network)
