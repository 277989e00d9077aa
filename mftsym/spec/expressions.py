"""Whitelist parser for user expression strings.

Spec files are data, so expression strings are never handed to ``eval``, ``sympify`` or
``parse_expr`` (all of which execute Python).  Instead the string is parsed with :mod:`ast`
and the tree is walked node by node; only numbers, names, the arithmetic operators and calls
of whitelisted functions are accepted.  Anything else -- attribute access, subscripts,
lambdas, comprehensions, keyword arguments, dunder names -- raises :class:`ExpressionError`.
"""

from __future__ import annotations

import ast
import numbers
from typing import Callable, Mapping

import sympy as sp

from ..errors import ExpressionError

#: The symbol activations are written in: ``phi(x)``.
X = sp.Symbol("x", real=True)


def _relu(z):
    return sp.Max(0, z)


def _leaky_relu(z, a=sp.Rational(1, 100)):
    return a * z + (1 - a) * sp.Max(0, z)


def _gelu(z):
    return z * (1 + sp.erf(z / sp.sqrt(2))) / 2


def _sigmoid(z):
    return 1 / (1 + sp.exp(-z))


def _softplus(z):
    return sp.log(1 + sp.exp(z))


def hermite_prob(n, z):
    """Probabilists' Hermite polynomial He_n(z) (any degree; the parser's He0..He10 names use it)."""
    n = int(n)
    t = sp.Symbol("_t")
    return sp.expand(sp.hermite(n, t / sp.sqrt(2)) * 2 ** (-sp.Rational(n, 2))).subs(t, z)


def _he(n):
    return lambda z: hermite_prob(n, z)


#: Functions a user expression may call, name -> callable producing a SymPy expression.
FUNCTIONS: Mapping[str, Callable] = {
    "sqrt": sp.sqrt, "exp": sp.exp, "log": sp.log, "abs": sp.Abs, "Abs": sp.Abs,
    "sin": sp.sin, "cos": sp.cos, "tan": sp.tan, "tanh": sp.tanh, "sinh": sp.sinh,
    "cosh": sp.cosh, "erf": sp.erf, "erfc": sp.erfc, "atan": sp.atan, "arctan": sp.atan,
    "asin": sp.asin, "acos": sp.acos, "sign": sp.sign, "max": sp.Max, "Max": sp.Max,
    "min": sp.Min, "Min": sp.Min, "heaviside": sp.Heaviside, "Heaviside": sp.Heaviside,
    "step": sp.Heaviside, "relu": _relu, "leaky_relu": _leaky_relu, "gelu": _gelu,
    "sigmoid": _sigmoid, "softplus": _softplus,
    **{f"He{n}": _he(n) for n in range(0, 11)},
}

#: Named constants.
CONSTANTS: Mapping[str, sp.Expr] = {"pi": sp.pi, "E": sp.E, "e": sp.E}

_BINOPS = {
    ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b, ast.Pow: lambda a, b: a ** b,
}
_UNARY = {ast.UAdd: lambda a: a, ast.USub: lambda a: -a}

#: Assumptions given to every free symbol a user writes (variances, widths, ... are real).
_SYMBOL_ASSUMPTIONS = {"real": True}
_POSITIVE_PREFIXES = ("sigma", "N", "n", "d", "P", "T")

MAX_LENGTH = 2000
MAX_EXPONENT = 64


def make_symbol(name: str) -> sp.Symbol:
    """The SymPy symbol mftsym uses for a user name.

    Names that conventionally denote positive quantities (sigma*, widths N*, n*, d, P, T) are
    declared positive so that ``sqrt(sigma_w**2)`` simplifies to ``sigma_w``.
    """
    if name == "x":
        return X
    if name.startswith(_POSITIVE_PREFIXES):
        return sp.Symbol(name, positive=True)
    return sp.Symbol(name, **_SYMBOL_ASSUMPTIONS)


def is_zero(value) -> bool:
    """True when ``value`` is exactly zero: a Python number equal to 0, or a SymPy object whose
    ``is_zero`` is True.

    Use this instead of ``expr == 0`` / ``expr != 0``: under SymPy >= 1.13 ``Float(0.0) == 0`` is
    False (structural equality), so a float zero from a spec (``bias_var = 0.0``) or from float
    coefficients would count as non-zero.  An expression whose zero-ness SymPy cannot decide (a free
    symbol) is not zero.
    """
    if isinstance(value, sp.Basic):
        return value.is_zero is True
    if isinstance(value, numbers.Number):
        return value == 0
    raise ExpressionError(f"cannot test {type(value).__name__} {value!r} for zero")


def as_expr(value, where: str | None = None) -> sp.Basic:
    """A SymPy object from a SymPy object or a number; a string goes through :func:`parse_expression`.

    Use this instead of ``sympify``, which would evaluate a string as Python.
    """
    if isinstance(value, sp.Basic):
        return value
    if isinstance(value, str):
        return parse_expression(value, where)
    if isinstance(value, bool):
        return sp.true if value else sp.false
    if isinstance(value, numbers.Integral):
        return sp.Integer(int(value))
    if isinstance(value, numbers.Real):
        return sp.Float(float(value))
    if isinstance(value, numbers.Complex):
        return sp.Float(value.real) + sp.I * sp.Float(value.imag)
    raise ExpressionError(f"cannot make an expression from {type(value).__name__} {value!r}", where)


def parse_expression(text, where: str | None = None, allowed_symbols=None,
                     functions: Mapping[str, Callable] | None = None) -> sp.Expr:
    """Parse ``text`` (a string or a number) into a SymPy expression through the whitelist.

    ``allowed_symbols``, if given, restricts the free names (e.g. ``{"x"}`` for activations).
    Raises :class:`ExpressionError` naming ``where`` on anything outside the whitelist.
    """
    if isinstance(text, bool):
        raise ExpressionError(f"expected an expression, got the boolean {text!r}", where)
    if isinstance(text, int):
        return sp.Integer(text)
    if isinstance(text, float):
        return sp.Float(text)
    if isinstance(text, sp.Expr):
        return text
    if not isinstance(text, str):
        raise ExpressionError(f"expected an expression string or number, got {type(text).__name__}", where)
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"expression longer than {MAX_LENGTH} characters", where)
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"malformed expression {text!r}: {exc.msg}", where) from None
    funcs = FUNCTIONS if functions is None else functions

    def visit(node):
        if isinstance(node, ast.Expression):
            return visit(node.body)
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                raise ExpressionError(f"only numbers are allowed as constants, got {node.value!r} in {text!r}", where)
            # Decimal literals become exact rationals (0.2 -> 1/5) so derivations stay exact.
            return sp.Integer(node.value) if isinstance(node.value, int) else sp.Rational(repr(node.value))
        if isinstance(node, ast.Name):
            name = node.id
            if name.startswith("_"):
                raise ExpressionError(f"names starting with '_' are not allowed: {name!r} in {text!r}", where)
            if name in CONSTANTS:
                return CONSTANTS[name]
            if name in funcs:
                raise ExpressionError(f"{name!r} is a function; call it, e.g. {name}(x)", where)
            if allowed_symbols is not None and name not in allowed_symbols:
                raise ExpressionError(
                    f"unknown name {name!r} in {text!r}; allowed here: {sorted(allowed_symbols)}", where)
            return make_symbol(name)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            left, right = visit(node.left), visit(node.right)
            if isinstance(node.op, ast.Pow) and right.is_number and abs(complex(right)) > MAX_EXPONENT:
                raise ExpressionError(f"exponent {right} too large in {text!r} (at most {MAX_EXPONENT})", where)
            return _BINOPS[type(node.op)](left, right)
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            return _UNARY[type(node.op)](visit(node.operand))
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name):
                raise ExpressionError(f"only calls of plain function names are allowed in {text!r}", where)
            name = node.func.id
            if name not in funcs:
                raise ExpressionError(
                    f"unknown function {name!r} in {text!r}; known functions: {', '.join(sorted(funcs))}", where)
            if node.keywords:
                raise ExpressionError(f"keyword arguments are not allowed in {text!r}", where)
            args = [visit(a) for a in node.args]
            try:
                return funcs[name](*args)
            except TypeError as exc:
                raise ExpressionError(f"wrong number of arguments to {name} in {text!r}: {exc}", where) from None
        raise ExpressionError(
            f"{type(node).__name__} is not allowed in an expression ({text!r}); "
            "use numbers, names, + - * / ** and whitelisted functions", where)

    return visit(tree)
