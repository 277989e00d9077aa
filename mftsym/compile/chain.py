"""Compile a :class:`~mftsym.derive.derivation.Derivation` into a numeric function.

Each definition of the chain is lambdified on its own (with common-subexpression elimination
inside it), and the compiled chain evaluates them in order: the code stays linear in depth
instead of exponential.  Compiled chains are cached on the derivation, never rebuilt per call.

Domain nodes are replaced before printing by calls of backend functions:
``SafeCorrelation`` -> ``mft_safe_corr`` (clipped, zero-norm safe), ``GaussianExpectation`` ->
``mft_gexp_<i>`` (Gauss-Hermite quadrature in numpy/torch, mpmath quadrature in mpmath).
"""

from __future__ import annotations

import threading

import sympy as sp
from sympy.printing.numpy import SciPyPrinter
from sympy.printing.pycode import MpmathPrinter

from ..errors import EvaluationError
from ..gaussian import GaussianExpectation, SafeCorrelation
from .backends import NAMESPACES
from .quadrature import quadrature_function

_LOCK = threading.Lock()


def _fold_constants(expr: sp.Expr) -> sp.Expr:
    """Replace irrational numeric subexpressions (sqrt(2), 1/pi, ...) by floats (numpy/torch only)."""
    def fold(e):
        if e.is_Atom:
            return sp.Float(e.evalf(17), 17) if e.is_number and not e.is_Rational else e
        if e.is_number and not e.is_Rational:
            value = e.evalf(17)
            if value.is_real:
                return sp.Float(value, 17)
        return e.func(*[fold(a) for a in e.args]) if e.args else e
    return fold(expr)


class CompiledChain:
    """A derivation's chain compiled for one backend.

    ``__call__(env)`` takes a dict {symbol name: value} with every input and parameter and
    returns {output name: value} for the requested outputs.
    """

    def __init__(self, derivation, backend: str = "numpy", outputs=None, quadrature_order: int = 48):
        if backend not in NAMESPACES:
            raise EvaluationError(f"unknown backend {backend!r}; use one of {list(NAMESPACES)}")
        self.backend = backend
        self.derivation = derivation
        self.outputs = tuple(outputs or derivation.outputs)
        for o in self.outputs:
            if o not in derivation.outputs:
                raise EvaluationError(f"{derivation.title!r} has no output {o!r}; it has {list(derivation.outputs)}")
        self.namespace = dict(NAMESPACES[backend]())
        self._quad_order = quadrature_order
        self._nodes: dict = {}
        self.steps = []  # (symbol name, [arg names], function, source)
        defs = derivation.needed(self.outputs)
        for d in defs:
            expr = self._prepare(d.expr)
            args = sorted(expr.free_symbols, key=lambda s: s.name)
            printer = MpmathPrinter if backend == "mpmath" else SciPyPrinter
            modules = [self.namespace, "mpmath"] if backend == "mpmath" else [self.namespace]
            fn = sp.lambdify(args, expr, modules=modules, printer=printer({"fully_qualified_modules": False,
                                                                          "inline": True,
                                                                          "allow_unknown_functions": True}),
                             cse=True, docstring_limit=0)
            self.steps.append((d.symbol.name, [a.name for a in args], fn))
        defined = {d.symbol.name for d in defs}
        self.required = sorted({a for _, args, _ in self.steps for a in args} - defined)

    def _prepare(self, expr):
        expr = expr.replace(lambda e: isinstance(e, SafeCorrelation),
                            lambda e: sp.Function("mft_safe_corr")(*e.args))

        def node_call(e):
            key = (e.args[0], e.args[1])
            if key not in self._nodes:
                name = f"mft_gexp_{len(self._nodes)}"
                self._nodes[key] = name
                self.namespace[name] = quadrature_function(e.f, e.g, self.backend, self._quad_order)
            return sp.Function(self._nodes[key])(*e.args[2:])

        expr = expr.replace(lambda e: isinstance(e, GaussianExpectation), node_call)
        if self.backend != "mpmath":
            expr = _fold_constants(expr)
        return expr

    def __call__(self, env: dict) -> dict:
        missing = [name for name in self.required if name not in env]
        if missing:
            raise EvaluationError(
                f"no value for {', '.join(missing)}; give it in [params] or with --set NAME=VALUE "
                f"(needed by {self.derivation.title!r})")
        env = dict(env)
        for name, args, fn in self.steps:
            env[name] = fn(*(env[a] for a in args))
        return {o: env[self.derivation.outputs[o].name] for o in self.outputs}


def compile_chain(derivation, backend: str = "numpy", outputs=None, quadrature_order: int = 48) -> CompiledChain:
    """The cached :class:`CompiledChain` of ``derivation`` for ``backend``."""
    key = (backend, tuple(outputs or derivation.outputs), quadrature_order)
    with _LOCK:
        cache = derivation.__dict__.setdefault("_compiled", {})
        if key not in cache:
            cache[key] = CompiledChain(derivation, backend, outputs, quadrature_order)
        return cache[key]
