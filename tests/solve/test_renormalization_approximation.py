"""Kernel renormalization says which theory it is: exact cases and the deep nonlinear approximation."""

import numpy as np
import pytest

from mftsym.export.latex import derivations_document
from mftsym.solve.derive import renormalization_theory
from mftsym.solve.renormalization import solve_kernel_renormalization
from tests.solve.conftest import make_spec


@pytest.mark.parametrize("hidden,expected", [
    ((("N1", "erf"),), "one hidden layer (Pacelli"),
    ((("N1", None), ("N2", None)), "deep linear network"),
    ((("N1", "erf"), ("N2", "erf")), "APPROXIMATION: the deep-linear action"),
])
def test_solution_and_latex_name_the_approximation(hidden, expected):
    spec = make_spec(hidden=hidden)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 3))
    sol = solve_kernel_renormalization(spec, x, np.sin(x[:, 0]))
    assert expected in sol.extras["approximation"]
    assert expected.split(":")[0] in derivations_document([renormalization_theory(spec).derivation])
