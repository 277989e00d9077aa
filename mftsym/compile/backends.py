"""Backend namespaces: what the names in generated code mean for numpy, torch and mpmath.

Code is generated with SymPy's ``NumPyPrinter`` (via ``lambdify``) for every backend; the
backends differ only in the namespace the code runs in -- backend knowledge is data.  For torch
the table maps numpy's names (``arccos``, ``heaviside``, ...) to torch functions, which fixes
SymPy's ``lambdify(..., "torch")`` failures on constants and missing functions.  The domain nodes
of mftsym are printed as calls of ``mft_*`` functions defined here per backend.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import sympy as sp

TINY = 1e-300  # guards sqrt(K11 K22) when an input has zero norm


# --------------------------------------------------------------------------- numpy
def _np_safe_corr(k12, k11, k22):
    k11, k22 = np.asarray(k11), np.asarray(k22)
    if k11.size + k22.size < np.size(k12):
        # norms broadcast along the grid (the kernel chain's (P,1) and (1,P') vectors): take the
        # inverse roots on the vectors, leaving two products and a clip per pair
        inv = (1.0 / np.sqrt(np.maximum(k11, TINY))) * (1.0 / np.sqrt(np.maximum(k22, TINY)))
        return np.clip(k12 * inv, -1.0, 1.0)
    prod = np.maximum(k11 * k22, TINY)
    return np.clip(k12 / np.sqrt(prod), -1.0, 1.0)


def numpy_namespace() -> dict:
    import scipy.special as sc
    ns = {name: getattr(np, name) for name in dir(np) if not name.startswith("_")}
    ns.update({"erf": sc.erf, "erfc": sc.erfc, "erfinv": sc.erfinv, "gamma": sc.gamma,
               "mft_safe_corr": _np_safe_corr})
    return ns


# --------------------------------------------------------------------------- torch
def torch_namespace() -> dict:
    import torch

    def t(a, like=None):
        return a if isinstance(a, torch.Tensor) else torch.as_tensor(a, dtype=torch.float64)

    def wrap(fn):
        return lambda *args: fn(*(t(a) for a in args))

    def safe_corr(k12, k11, k22):
        k12, k11, k22 = t(k12), t(k11), t(k22)
        if k11.numel() + k22.numel() < k12.numel():   # broadcast norm vectors: see _np_safe_corr
            inv = torch.rsqrt(torch.clamp(k11, min=TINY)) * torch.rsqrt(torch.clamp(k22, min=TINY))
            return torch.clamp(k12 * inv, -1.0, 1.0)
        prod = torch.clamp(k11 * k22, min=TINY)
        return torch.clamp(k12 / torch.sqrt(prod), -1.0, 1.0)

    def heaviside(a, h0=0.5):
        a = t(a)
        return torch.heaviside(a, torch.as_tensor(h0, dtype=a.dtype, device=a.device))

    def select(conds, choices, default=float("nan")):
        ref = next(v for v in (*choices, *conds) if isinstance(v, torch.Tensor))
        out = torch.full(ref.shape, default, dtype=torch.float64, device=ref.device)
        for c, v in reversed(list(zip(conds, choices))):
            if not isinstance(c, torch.Tensor):
                c = torch.full(ref.shape, bool(c), dtype=torch.bool, device=ref.device)
            out = torch.where(c, torch.as_tensor(v, dtype=out.dtype, device=out.device), out)
        return out

    table = {
        "sqrt": torch.sqrt, "exp": torch.exp, "log": torch.log, "sin": torch.sin, "cos": torch.cos,
        "tan": torch.tan, "tanh": torch.tanh, "sinh": torch.sinh, "cosh": torch.cosh,
        "arcsin": torch.asin, "arccos": torch.acos, "arctan": torch.atan, "arctan2": torch.atan2,
        "erf": torch.erf, "erfc": torch.erfc, "erfinv": torch.erfinv, "absolute": torch.abs,
        "abs": torch.abs, "sign": torch.sign, "log1p": torch.log1p, "expm1": torch.expm1,
        "gamma": lambda a: torch.exp(torch.lgamma(a)), "sinc": torch.sinc,
        "amax": lambda a, axis=0: torch.amax(torch.stack(torch.broadcast_tensors(*map(t, a))), dim=axis),
        "amin": lambda a, axis=0: torch.amin(torch.stack(torch.broadcast_tensors(*map(t, a))), dim=axis),
        "maximum": torch.maximum, "minimum": torch.minimum, "floor": torch.floor, "ceil": torch.ceil,
        "power": torch.pow, "exp2": torch.exp2, "log2": torch.log2, "log10": torch.log10,
        "real": torch.real, "imag": torch.imag, "conjugate": torch.conj,
        "clip": torch.clamp,
    }
    ns = {k: wrap(v) for k, v in table.items()}
    ns.update({"pi": math.pi, "e": math.e, "inf": math.inf, "nan": math.nan, "heaviside": heaviside,
               "select": select, "logical_and": torch.logical_and, "logical_or": torch.logical_or,
               "logical_not": torch.logical_not, "equal": torch.eq, "greater": torch.gt, "less": torch.lt,
               "greater_equal": torch.ge, "less_equal": torch.le, "mft_safe_corr": safe_corr,
               "reduce": functools.reduce, "torch": torch})
    return ns


# --------------------------------------------------------------------------- mpmath
def mpmath_namespace() -> dict:
    import mpmath

    def safe_corr(k12, k11, k22):
        prod = max(k11 * k22, mpmath.mpf(0))
        if prod == 0:
            return mpmath.mpf(0)
        r = k12 / mpmath.sqrt(prod)
        return max(min(r, mpmath.mpf(1)), mpmath.mpf(-1))

    return {"mft_safe_corr": safe_corr}


NAMESPACES = {"numpy": numpy_namespace, "torch": torch_namespace, "mpmath": mpmath_namespace}
BACKENDS = tuple(NAMESPACES)


# --------------------------------------------------------------------------- code generation
#: Settings of the printers every generated function uses (names resolved in the namespaces above).
PRINTER_SETTINGS = {"fully_qualified_modules": False, "inline": True, "allow_unknown_functions": True}


def fold_constants(expr: sp.Expr) -> sp.Expr:
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


def lambdify_expr(args, expr, backend: str = "numpy", cse: bool = False):
    """``sympy.lambdify`` with the project's printers and namespaces: the one way a single
    expression (an activation, an action, a residual) becomes numpy / torch / mpmath code.
    Irrational constants are folded to floats for numpy and torch (``torch.sqrt(2)`` would fail)."""
    from sympy.printing.numpy import SciPyPrinter
    from sympy.printing.pycode import MpmathPrinter

    from ..spec.expressions import as_expr
    if backend == "mpmath":
        printer, modules = MpmathPrinter(PRINTER_SETTINGS), [dict(NAMESPACES[backend]()), "mpmath"]
    else:
        printer, modules = SciPyPrinter(PRINTER_SETTINGS), [dict(NAMESPACES[backend]())]

        def fold(e):
            return [fold(a) for a in e] if isinstance(e, (list, tuple)) else fold_constants(as_expr(e))
        expr = fold(expr)
    return sp.lambdify(args, expr, modules=modules, printer=printer, cse=cse, docstring_limit=0)
