"""Compile a :class:`~mftsym.derive.derivation.Derivation` into a numeric function.

The chain of definitions is printed as straight-line code -- one assignment per definition, in
chain order, so the code stays linear in depth instead of exponential -- with common-subexpression
elimination across *all* definitions: a correlation ``rho`` or ``arccos(rho)`` shared by
``E[phi phi]`` and ``E[phi' phi']`` of a layer is computed once.  Compiled chains are cached on the
derivation, never rebuilt per call.

Broadcast axes.  The kernel chain is evaluated on a P x P' grid of input pairs, but most of its
definitions (the diagonal recursions K11, K22 and anything built only from them and the
parameters) live on one axis only.  Given ``axes`` -- which grid axes each input varies along,
e.g. ``{"x11": {0}, "x12": {0, 1}, "x22": {1}}`` -- the assignments are split into two generated
functions: ``pre`` (everything that varies along at most one axis: computed once, on vectors) and
``grid`` (everything that varies along both axes: the per-pair work).  ``grid`` is elementwise in
the pairs, so :mod:`mftsym.compile.kernel_fn` evaluates it tile by tile (cache-resident
intermediates, one tile per worker thread).

Domain nodes are replaced before printing by calls of backend functions:
``SafeCorrelation`` -> ``mft_safe_corr`` (clipped, zero-norm safe), ``GaussianExpectation`` ->
``mft_gexp_<i>`` (split Gauss-Legendre quadrature in numpy/torch, mpmath quadrature in mpmath).
"""

from __future__ import annotations

import threading

import sympy as sp
from sympy.printing.numpy import SciPyPrinter
from sympy.printing.pycode import MpmathPrinter

from ..errors import EvaluationError
from ..gaussian import GaussianExpectation, SafeCorrelation
from ..layers.operators import SpatialOperator
from .backends import NAMESPACES, PRINTER_SETTINGS, fold_constants  # noqa: F401 (fold_constants re-exported)
from .quadrature import quadrature_function

CACHE_LOCK = threading.Lock()


def _global_cse(assignments):
    """CSE across a list of (symbol, expr) assignments that may refer to earlier symbols.

    Returns one straight-line list of (symbol, expr): every common subexpression is emitted just
    before the first assignment that needs it (by then the chain symbols it uses are defined).
    """
    if not assignments:
        return []
    taken = {s.name for s, _ in assignments} | {a.name for _, e in assignments for a in e.free_symbols}
    names = (sp.Symbol(f"_c{i}") for i in range(10**9) if f"_c{i}" not in taken)
    replacements, reduced = sp.cse([e for _, e in assignments], symbols=names, order="none")
    repl = dict(replacements)
    emitted, out = set(), []

    def emit(expr):
        for s in sorted(expr.free_symbols, key=lambda s: s.name):
            if s in repl and s not in emitted:
                emit(repl[s])
                emitted.add(s)
                out.append((s, repl[s]))

    for (sym, _), expr in zip(assignments, reduced):
        emit(expr)
        out.append((sym, expr))
    return out


class CompiledChain:
    """A derivation's chain compiled for one backend.

    ``__call__(env)`` takes a dict {symbol name: value} with every input and parameter and
    returns {output name: value} for the requested outputs.  With ``axes`` (see the module
    docstring) the work is also available in two stages, :meth:`pre` and :attr:`grid_fn`.
    """

    def __init__(self, derivation, backend: str = "numpy", outputs=None, quadrature_order: int = 48,
                 axes=None):
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
        self._ops: dict = {}
        defs = derivation.needed(self.outputs)
        out_syms = [derivation.outputs[o] for o in self.outputs]
        assignments = _global_cse([(d.symbol, self._prepare(d.expr)) for d in defs])
        defined = {s for s, _ in assignments}
        self.required = sorted({a.name for _, e in assignments for a in e.free_symbols if a not in defined}
                               | {s.name for s in out_syms if s not in defined})

        # -- split into the one-axis stage ("pre") and the two-axis stage ("grid")
        axes = {k: frozenset(v) for k, v in (axes or {}).items()}
        full = frozenset().union(*axes.values()) if axes else frozenset()
        sym_axes = {n: axes.get(n, frozenset()) for n in self.required}
        pre, grid = [], []
        for s, e in assignments:
            ax = frozenset().union(*(sym_axes.get(a.name, frozenset()) for a in e.free_symbols))
            sym_axes[s.name] = ax
            (grid if full and ax >= full and len(full) > 1 else pre).append((s, e))
        self.axes = sym_axes
        grid_syms = {s for s, _ in grid}
        grid_uses = {a for _, e in grid for a in e.free_symbols} - grid_syms
        pre_syms = [s for s, _ in pre]
        self.pre_outputs = tuple(s.name for s in pre_syms if s in grid_uses or s in out_syms)
        self.grid_outputs = tuple(s.name for s in out_syms if s in grid_syms)
        self.grid_args = tuple(sorted(a.name for a in grid_uses))
        pre_args = sorted({a.name for _, e in pre for a in e.free_symbols} - {s.name for s in pre_syms})
        self.pre_args = tuple(pre_args)
        self.pre_fn = self._lambdify(self.pre_args, pre, self.pre_outputs)
        self.grid_fn = self._lambdify(self.grid_args, grid, self.grid_outputs) if grid else None
        self.source = {"pre": self._source(self.pre_args, pre, self.pre_outputs),
                       "grid": self._source(self.grid_args, grid, self.grid_outputs)}

    # ------------------------------------------------------------------ code generation
    def _printer(self):
        return MpmathPrinter(PRINTER_SETTINGS) if self.backend == "mpmath" else SciPyPrinter(PRINTER_SETTINGS)

    def _lambdify(self, args, assignments, outputs):
        modules = [self.namespace, "mpmath"] if self.backend == "mpmath" else [self.namespace]
        result = tuple(sp.Symbol(o) for o in outputs)
        assignments = list(assignments)
        return sp.lambdify([sp.Symbol(a) for a in args], result, modules=modules, printer=self._printer(),
                           cse=lambda expr: (assignments, expr), docstring_limit=0, dummify=False)

    def _source(self, args, assignments, outputs):
        p = self._printer()
        lines = [f"{s.name} = {p.doprint(e)}" for s, e in assignments]
        return f"def f({', '.join(args)}):\n" + "".join(f"    {ln}\n" for ln in lines) + \
            f"    return ({', '.join(outputs)}{',' if len(outputs) == 1 else ''})\n"

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

        expr = expr.replace(lambda e: isinstance(e, SpatialOperator), self._operator_call)
        expr = expr.replace(lambda e: isinstance(e, GaussianExpectation), node_call)
        if self.backend != "mpmath":
            expr = fold_constants(expr)
        return expr

    def _operator_call(self, e):
        """A spatial operator node -> a call of its numeric function (numpy/torch arrays)."""
        if self.backend == "mpmath":
            raise EvaluationError("spatial kernels (conv, pooling, ...) evaluate with the numpy or torch "
                                  "backend, not mpmath")
        n = getattr(e, "n_arrays", 1)
        key = (e.func, e.args[n:])
        if key not in self._ops:
            name = f"mft_op_{len(self._ops)}"
            self._ops[key] = name
            self.namespace[name] = e.numeric()
        return sp.Function(self._ops[key])(*e.args[:n])

    # ------------------------------------------------------------------ evaluation
    def check_env(self, env):
        missing = [name for name in self.required if name not in env]
        if missing:
            raise EvaluationError(
                f"no value for {', '.join(missing)}; give it in [params] or with --set NAME=VALUE "
                f"(needed by {self.derivation.title!r})")

    def pre(self, env: dict) -> dict:
        """Run the one-axis stage: env plus {name: value} of what the grid stage and outputs need."""
        self.check_env(env)
        values = self.pre_fn(*(env[a] for a in self.pre_args))
        return {**env, **dict(zip(self.pre_outputs, values))}

    def grid(self, env: dict) -> dict:
        """Run the two-axis stage on (a tile of) the grid: {output symbol name: value}."""
        if self.grid_fn is None:
            return {}
        return dict(zip(self.grid_outputs, self.grid_fn(*(env[a] for a in self.grid_args))))

    def __call__(self, env: dict) -> dict:
        env = self.pre(env)
        env.update(self.grid(env))
        return {o: env[self.derivation.outputs[o].name] for o in self.outputs}


def compile_chain(derivation, backend: str = "numpy", outputs=None, quadrature_order: int = 48,
                  axes=None) -> CompiledChain:
    """The cached :class:`CompiledChain` of ``derivation`` for ``backend``."""
    axes_key = tuple(sorted((k, tuple(sorted(v))) for k, v in (axes or {}).items()))
    key = (backend, tuple(outputs or derivation.outputs), quadrature_order, axes_key)
    with CACHE_LOCK:
        cache = derivation.__dict__.setdefault("_compiled", {})
        if key not in cache:
            cache[key] = CompiledChain(derivation, backend, outputs, quadrature_order, axes)
        return cache[key]
