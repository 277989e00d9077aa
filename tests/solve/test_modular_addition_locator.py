"""The transition locator of the modular-addition phases (docs/theory/grokking.md §5) on the paper-like path at
P = 11: the Gaussian-phase (p = 0) kernel is the unique root of Λ_t = F(Λ_t) (checked against a direct grid
evaluation of F), and inside the mixed phase, where the self-consistent p varies smoothly, no spinodal or
first-order entries are reported (regression: the damped fixed point oscillated there and its unconverged states
produced spurious pairs at σ² = 1.1e−5 … 5.3e−4)."""

from pathlib import Path

import numpy as np
import pytest

from mftsym.solve.modular_addition_phases import (gaussian_kernel_state, mode_model,
                                                  sweep_modular_addition_phases)
from mftsym.spec import Spec

SPEC = Spec.from_toml(Path(__file__).parents[2] / "derivations" / "grokking" / "modular_addition.toml")
P11 = SPEC.with_params(P=11, d=22)


@pytest.mark.parametrize("s2", [1e-5, 1e-4, 4.6e-4])
def test_gaussian_kernel_state_is_the_fixed_point(s2):
    m = mode_model(P11, {"sigma2": s2}, grid=60)
    st = gaussian_kernel_state(m)
    r0, r2 = 1 / (m.lambda00_gauss + s2), 1 / s2

    def F(lt):
        return 4 * m.sa2 / m.P ** 2 * m.region_moments(1 / (lt + s2), r0, r2)["gauss"]["xy"]
    lt = st["lambda_t"]
    assert lt == pytest.approx(F(lt), rel=1e-9)
    grid = np.linspace(0, F(0.0), 41)                   # G(Λ) = Λ − F(Λ) changes sign exactly once, at Λ_t
    g = np.array([x - F(x) for x in grid])
    assert np.count_nonzero(np.diff(np.sign(g))) == 1
    k = int(np.nonzero(np.diff(np.sign(g)))[0][0])
    assert grid[k] <= lt <= grid[k + 1]
    # deep in the mixed phase: the condensed minimum exists, is favoured, and the Gaussian basin stays metastable
    assert st["condensed"] is not None and st["drive"] > 0 and st["barrier"] > 5


def test_no_spurious_transitions_inside_the_mixed_phase():
    values = np.geomspace(1e-5, 5e-4, 5)
    out = sweep_modular_addition_phases(P11, "sigma2", values, grid=60)
    assert out["phases"] == ["mixed"] * 5
    assert out["transitions"] == []
    p = [s["order_parameters"]["p_condensed"] for s in out["solutions"]]
    assert np.all(np.diff(p) < 0)                       # p falls smoothly towards the transition
