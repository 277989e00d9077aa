"""Kernel renormalization accepts a readout bias the user set to a float zero (TOML ``0.0``)."""

import numpy as np

from mftsym.solve.renormalization import solve_kernel_renormalization
from mftsym.spec import Spec

TOML = """
[network]
input_dim = "d"
parametrization = "ntk"
[[network.layers]]
type = "dense"
width = "N1"
weight_var = "sigma_w**2"
[[network.layers]]
type = "activation"
fn = "erf"
[[network.layers]]
type = "dense"
width = 1
weight_var = "sigma_a**2"
{bias}
[params]
sigma_w = 1.0
sigma_a = 1.0
sigma2 = 0.1
N1 = 50
[posterior]
noise_var = "sigma2"
[theory]
kind = "kernel_renormalization"
"""


def test_kernel_renormalization_accepts_a_float_zero_readout_bias(data):
    x, y, xt = data
    with_zero = solve_kernel_renormalization(Spec.from_toml_string(TOML.format(bias="bias_var = 0.0")), x, y, xt)
    without = solve_kernel_renormalization(Spec.from_toml_string(TOML.format(bias="")), x, y, xt)
    assert with_zero.converged and without.converged
    for k, v in without.order_parameters.items():
        np.testing.assert_array_equal(with_zero.order_parameters[k], v)
    np.testing.assert_array_equal(with_zero.prediction, without.prediction)
