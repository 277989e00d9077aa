"""Numeric Gaussian expectations E[f(u) g(v)] behind the unevaluated ``GaussianExpectation`` node,
per backend: numpy and torch use 2-D Gauss-Hermite after a Cholesky factorisation of the 2x2
covariance (numpy: :func:`mftsym.gaussian.gauss_hermite_expectation`; torch: the same rule written
with torch ops so it runs on CUDA and differentiates); mpmath uses adaptive quadrature
(:func:`mftsym.gaussian.quadrature.mpmath_expectation`).
"""

from __future__ import annotations

import sympy as sp
from sympy.printing.numpy import SciPyPrinter

from ..gaussian.quadrature import gauss_hermite_expectation, hermite_nodes, mpmath_expectation
from ..spec.expressions import X


def _printer():
    return SciPyPrinter({"fully_qualified_modules": False, "inline": True, "allow_unknown_functions": True})


def quadrature_function(f: sp.Expr, g: sp.Expr, backend: str, order: int = 64):
    """A function (K11, K12, K22) -> E[f(u) g(v)] for ``backend``."""
    from .backends import NAMESPACES
    if backend == "mpmath":
        fn = sp.lambdify(X, f, modules="mpmath")
        gn = sp.lambdify(X, g, modules="mpmath")
        return lambda k11, k12, k22: mpmath_expectation(fn, gn, k11, k12, k22)
    ns = NAMESPACES[backend]()
    fn = sp.lambdify(X, f, modules=[ns], printer=_printer())
    gn = sp.lambdify(X, g, modules=[ns], printer=_printer())
    if backend == "numpy":
        return lambda k11, k12, k22: gauss_hermite_expectation(fn, gn, k11, k12, k22, order)

    import torch
    z, w = (torch.as_tensor(a) for a in hermite_nodes(order))

    def expect(k11, k12, k22):
        k11, k12, k22 = torch.broadcast_tensors(*(torch.as_tensor(k, dtype=torch.float64) for k in (k11, k12, k22)))
        zz, ww = z.to(k11.device, k11.dtype), w.to(k11.device, k11.dtype)
        pos = k11 > 0
        a = torch.sqrt(torch.clamp(k11, min=0))
        b = torch.where(pos, k12 / torch.where(pos, a, torch.ones_like(a)), torch.zeros_like(a))
        s = torch.sqrt(torch.clamp(torch.where(pos, k22 - b * b, k22), min=0))
        u = a[..., None] * zz                                             # (..., n)
        v = b[..., None, None] * zz[:, None] + s[..., None, None] * zz     # (..., n, n)
        fu = torch.broadcast_to(torch.as_tensor(fn(u), dtype=u.dtype, device=u.device), u.shape)
        gv = torch.broadcast_to(torch.as_tensor(gn(v), dtype=v.dtype, device=v.device), v.shape)
        return (fu * (gv @ ww)) @ ww
    return expect
