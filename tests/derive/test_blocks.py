"""One copy of the activation-composition and mean-field readout rules, shared by solve and nnft."""

import sympy as sp

from mftsym.derive.blocks import dense_blocks, effective_weight_vars
from mftsym.solve.common import hidden_layers, readout_variance_expr
from mftsym.spec import Spec, X, make_symbol


def _spec(parametrization):
    return Spec.from_toml_string(f"""
[network]
input_dim = "d"
parametrization = "{parametrization}"
[[network.layers]]
type = "dense"
width = "N1"
weight_var = "sigma_w**2"
[[network.layers]]
type = "activation"
fn = "tanh"
[[network.layers]]
type = "activation"
fn = "x**2"
[[network.layers]]
type = "dense"
width = "N2"
weight_var = "sigma_w**2"
[[network.layers]]
type = "dense"
width = 1
weight_var = "sigma_a**2"
""")


def test_consecutive_activations_compose_and_a_linear_layer_has_none():
    net = _spec("ntk").network
    assert hidden_layers(net) == [(1, make_symbol("N1"), sp.tanh(X) ** 2), (2, make_symbol("N2"), None)]
    assert [phi for _, phi in dense_blocks(net)] == [sp.tanh(X) ** 2, X, None]


def test_the_mean_field_readout_carries_one_over_its_fan_in():
    sa2, N2 = make_symbol("sigma_a") ** 2, make_symbol("N2")
    for param, expected in (("ntk", sa2), ("standard", sa2), ("mean_field", sa2 / N2)):
        net = _spec(param).network
        assert sp.simplify(readout_variance_expr(net) - expected) == 0
        assert readout_variance_expr(net) == effective_weight_vars(net)[-1]
