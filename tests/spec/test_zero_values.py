"""A float zero is zero: ``bias_var = 0.0`` is no bias (SymPy >= 1.13: ``Float(0.0) != 0``)."""

import pytest
import sympy as sp

from mftsym.errors import ExpressionError
from mftsym.spec import Dense, Spec
from mftsym.spec.expressions import is_zero, make_symbol


@pytest.mark.parametrize("value", [0, 0.0, "0", "0.0", "0*sigma_b**2", sp.Float(0.0), sp.Integer(0)])
def test_a_zero_bias_variance_is_no_bias(value):
    layer = Dense(1, 1, value)
    assert not layer.has_bias
    assert "bias_var" not in layer.to_dict()


@pytest.mark.parametrize("value", [0.5, "1e-12", "sigma_b**2", 1])
def test_a_nonzero_or_symbolic_bias_variance_is_a_bias(value):
    assert Dense(1, 1, value).has_bias


def test_a_float_zero_from_toml_is_no_bias():
    spec = Spec.from_toml_string("""
[network]
input_dim = 3
[[network.layers]]
type = "dense"
width = 4
weight_var = 1.0
bias_var = 0.0
[[network.layers]]
type = "activation"
fn = "erf"
[[network.layers]]
type = "dense"
width = 1
weight_var = 1.0
bias_var = 0.0
""")
    assert [l.has_bias for l in spec.network.dense_layers] == [False, False]


def test_is_zero():
    assert is_zero(0) and is_zero(0.0) and is_zero(sp.Float(0.0)) and is_zero(sp.S.Zero)
    assert not is_zero(sp.Float(1e-300)) and not is_zero(1) and not is_zero(make_symbol("sigma_b"))
    assert not is_zero(make_symbol("u"))          # undecidable zero-ness is not zero
    with pytest.raises(ExpressionError, match="cannot test"):
        is_zero("0")
