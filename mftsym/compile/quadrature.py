"""Numeric Gaussian expectations E[f(u) g(v)] for the unevaluated ``GaussianExpectation`` node,
in each backend: 2-D Gauss-Hermite (probabilists') after a Cholesky factorisation of the 2x2
covariance,

    u = sqrt(K11) z1,   v = (K12/sqrt(K11)) z1 + sqrt(K22 - K12^2/K11) z2,   z ~ N(0, I),

vectorised over broadcastable arrays of (K11, K12, K22); mpmath uses adaptive quadrature.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from ..gaussian import hermite_nodes
from ..spec.expressions import X


def _cholesky_parts(k11, k12, k22, lib):
    s1 = lib.sqrt(lib.clip(k11, 1e-300, None)) if lib is np else lib.sqrt(lib.clamp(k11, min=1e-300))
    a = k12 / s1
    r = k22 - a * a
    b = lib.sqrt(lib.clip(r, 0, None)) if lib is np else lib.sqrt(lib.clamp(r, min=0))
    return s1 * (k11 > 0), a * (k11 > 0), lib.where(k11 > 0, b, lib.sqrt(k22) if lib is np else lib.sqrt(k22))


def quadrature_function(f: sp.Expr, g: sp.Expr, backend: str, order: int = 64):
    """A function (K11, K12, K22) -> E[f(u) g(v)] for ``backend``."""
    if backend == "mpmath":
        return _mpmath_function(f, g)
    z, w = hermite_nodes(order)
    if backend == "numpy":
        from .backends import numpy_namespace
        ns = numpy_namespace()
        fn = sp.lambdify(X, f, modules=[ns])
        gn = sp.lambdify(X, g, modules=[ns])

        def expect(k11, k12, k22):
            k11, k12, k22 = np.broadcast_arrays(*(np.asarray(k, dtype=float) for k in (k11, k12, k22)))
            s1, a, b = _cholesky_parts(k11, k12, k22, np)
            u = s1[..., None] * z                                    # (..., n)
            fu = np.broadcast_to(fn(u), u.shape)
            v = a[..., None, None] * z[:, None] + b[..., None, None] * z[None, :]  # (..., n, n)
            gv = np.broadcast_to(gn(v), v.shape)
            inner = np.einsum("...ij,j->...i", gv, w)
            return np.einsum("...i,...i,i->...", fu, inner, w)
        return expect

    import torch
    from .backends import torch_namespace
    ns = torch_namespace()
    fn = sp.lambdify(X, f, modules=[ns], printer=_scipy_printer())
    gn = sp.lambdify(X, g, modules=[ns], printer=_scipy_printer())
    zt, wt = torch.as_tensor(z), torch.as_tensor(w)

    def expect_t(k11, k12, k22):
        k11, k12, k22 = torch.broadcast_tensors(*(torch.as_tensor(k, dtype=torch.float64) for k in (k11, k12, k22)))
        zz, ww = zt.to(k11.device, k11.dtype), wt.to(k11.device, k11.dtype)
        s1, a, b = _cholesky_parts(k11, k12, k22, torch)
        u = s1[..., None] * zz
        fu = torch.broadcast_to(torch.as_tensor(fn(u), dtype=u.dtype, device=u.device), u.shape)
        v = a[..., None, None] * zz[:, None] + b[..., None, None] * zz[None, :]
        gv = torch.broadcast_to(torch.as_tensor(gn(v), dtype=v.dtype, device=v.device), v.shape)
        inner = gv @ ww
        return (fu * inner) @ ww
    return expect_t


def _scipy_printer():
    from sympy.printing.numpy import SciPyPrinter
    return SciPyPrinter({"fully_qualified_modules": False, "inline": True, "allow_unknown_functions": True})


def _mpmath_function(f, g):
    import mpmath
    fn = sp.lambdify(X, f, modules="mpmath")
    gn = sp.lambdify(X, g, modules="mpmath")

    def expect(k11, k12, k22):
        k11, k12, k22 = mpmath.mpf(k11), mpmath.mpf(k12), mpmath.mpf(k22)
        if k11 <= 0:
            return fn(mpmath.mpf(0)) * mpmath.quad(lambda t: gn(mpmath.sqrt(k22) * t) * mpmath.npdf(t), [-mpmath.inf, 0, mpmath.inf])
        s1 = mpmath.sqrt(k11)
        a = k12 / s1
        b = mpmath.sqrt(max(k22 - a * a, 0))

        def inner(z1):
            if b == 0:
                return gn(a * z1)
            return mpmath.quad(lambda z2: gn(a * z1 + b * z2) * mpmath.npdf(z2), [-mpmath.inf, -a * z1 / b, mpmath.inf])
        return mpmath.quad(lambda z1: fn(s1 * z1) * inner(z1) * mpmath.npdf(z1), [-mpmath.inf, 0, mpmath.inf])
    return expect
