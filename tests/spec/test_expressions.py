"""The whitelist parser accepts the field's expressions and rejects anything that runs code."""

import os

import pytest
import sympy as sp
from hypothesis import given, strategies as st

from mftsym.errors import ExpressionError
from mftsym.spec.expressions import X, make_symbol, parse_expression


def test_parses_variances_and_activations():
    sw = make_symbol("sigma_w")
    assert parse_expression("sigma_w**2") == sw**2
    assert sp.sqrt(parse_expression("sigma_w**2")) == sw  # sigma* symbols are positive
    assert parse_expression("x**3 - 3*x") == X**3 - 3 * X
    assert parse_expression("He3(x)") == X**3 - 3 * X
    assert parse_expression("0.2") == sp.Rational(1, 5)   # decimals stay exact
    assert parse_expression(1.5) == sp.Float(1.5)


@pytest.mark.parametrize("text", [
    "__import__('os').system('touch /tmp/mftsym_pwned')",
    "x.real", "().__class__", "x[0]", "(lambda: 1)()", "[x for x in (1,)]", "open('f')",
    "erf(x, y=1)", "'abc'", "_hidden", "exec('1')", "eval('1')", "getattr(x, 'y')", "9**9**9**9",
])
def test_rejects_code(text):
    with pytest.raises(ExpressionError):
        parse_expression(text, where="spec.toml: network.layers[1].fn")
    assert not os.path.exists("/tmp/mftsym_pwned")


def test_error_names_the_field():
    with pytest.raises(ExpressionError, match=r"spec.toml: params.a.*unknown function 'foo'"):
        parse_expression("foo(x)", where="spec.toml: params.a")
    with pytest.raises(ExpressionError, match="malformed"):
        parse_expression("x +", where="f")


def test_activation_names_restricted():
    with pytest.raises(ExpressionError, match="unknown name 'y'"):
        parse_expression("x*y", allowed_symbols={"x"})


@given(st.text(max_size=40))
def test_never_raises_anything_but_expression_error(text):
    try:
        parse_expression(text)
    except ExpressionError:
        pass


def test_as_expr_never_evaluates_strings():
    from mftsym.spec.expressions import as_expr
    assert as_expr(2) == sp.Integer(2) and as_expr(0.5) == sp.Float(0.5)
    assert as_expr(X**2) == X**2
    assert as_expr("x**2") == X**2
    with pytest.raises(ExpressionError):
        as_expr("__import__('os').getcwd()")
    with pytest.raises(ExpressionError):
        as_expr(object())
