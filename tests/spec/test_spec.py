"""Specs: TOML <-> Python round trip, validation errors that name the field."""

import pytest
import sympy as sp

import mftsym as mf
from mftsym.errors import SpecError
from mftsym.spec import Network, Spec, make_symbol
from mftsym.spec.layers import Dense, Nonlinearity

GOOD = """
[network]
input_dim = "d"
parametrization = "ntk"
[[network.layers]]
type = "dense"
width = "N1"
weight_var = "sigma_w**2"
bias_var = "sigma_b**2"
[[network.layers]]
type = "activation"
fn = "leaky_relu(0.2)"
[[network.layers]]
type = "dense"
width = 1
weight_var = "sigma_a**2"
[params]
sigma_w = 1.5
sigma_b = 0.05
sigma_a = 1.0
"""


def test_toml_and_python_round_trip():
    spec = Spec.from_toml_string(GOOD, source="good.toml")
    py = Spec(Network((mf.Dense("N1", "sigma_w**2", "sigma_b**2"), mf.Activation("leaky_relu(0.2)"),
                       mf.Dense(1, "sigma_a**2")), input_dim="d"),
              params={"sigma_w": 1.5, "sigma_b": 0.05, "sigma_a": 1.0})
    assert spec == py
    assert Spec.from_toml_string(spec.to_toml()) == spec
    act = spec.network.layers[1].fn.expr
    assert act == sp.Rational(1, 5) * sp.Symbol("x", real=True) + sp.Rational(4, 5) * sp.Max(0, sp.Symbol("x", real=True))
    assert spec.network.fan_ins() == [make_symbol("d"), make_symbol("N1")]


def test_save_is_atomic_and_reloads(tmp_path):
    spec = Spec.from_toml_string(GOOD)
    spec.save(tmp_path / "s.toml")
    assert Spec.from_toml(tmp_path / "s.toml") == spec
    assert [p.name for p in tmp_path.iterdir()] == ["s.toml"]


@pytest.mark.parametrize("edit, match", [
    (("fn = \"leaky_relu(0.2)\"", "fn = \"swish\""), r"layers\[1\]\.fn.*unknown activation 'swish'"),
    (("type = \"activation\"", "type = \"conv9\""), r"layers\[1\]\.type.*unknown layer type 'conv9'"),
    (("weight_var = \"sigma_a**2\"", "weight_var = -1"), r"layers\[2\]\.weight_var.*non-negative"),
    (("weight_var = \"sigma_a**2\"", "weight_var = \"-sigma_a**2\""), r"negative"),
    (("width = 1", "width = 0"), r"layers\[2\]\.width.*positive"),
    (("width = 1", "width = 2.5"), r"width.*integer"),
    (("weight_var = \"sigma_a**2\"", "weight_var = \"__import__('os')\""), r"weight_var"),
    (("sigma_a = 1.0", "sigma_a = \"big\""), r"params.sigma_a.*number"),
    (("parametrization = \"ntk\"", "parametrization = \"mup\""), r"parametrization"),
    (("[params]", "[bogus]"), r"unknown top-level"),
])
def test_bad_specs_name_the_field(edit, match):
    text = GOOD.replace(*edit)
    assert text != GOOD
    with pytest.raises(SpecError, match=match):
        Spec.from_toml_string(text, source="bad.toml")


def test_first_layer_must_be_dense():
    with pytest.raises(SpecError, match="first layer"):
        Network((Nonlinearity("relu"), Dense(1, 1)))


def test_missing_file_and_bad_toml(tmp_path):
    with pytest.raises(SpecError, match="cannot read"):
        Spec.from_toml(tmp_path / "nope.toml")
    (tmp_path / "b.toml").write_text("[network\n")
    with pytest.raises(SpecError, match="not valid TOML"):
        Spec.from_toml(tmp_path / "b.toml")


def test_builtin_activations_resolve():
    from mftsym.spec.activations import BUILTIN, resolve_activation
    for name in BUILTIN:
        assert resolve_activation(name).expr.has(sp.Symbol("x", real=True))
    assert resolve_activation("tanh(2*x)").expr == sp.tanh(2 * sp.Symbol("x", real=True))
