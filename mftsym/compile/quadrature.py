"""Numeric Gaussian expectations E[f(u) g(v)] behind the unevaluated ``GaussianExpectation`` node.

numpy and torch: Gauss-Legendre on [-L, L]^2 in whitened coordinates (u, v) = (a z1, b z1 + s z2)
(Cholesky of the 2x2 covariance), split at the kinks z1 = 0 and z2 = -b z1 / s, so ReLU-like kinks
and the narrow peaks of e.g. erf'(u)^2 at large variance (where Gauss-Hermite is poor) converge
fast; the truncation at |z| = L = 9.5 costs ~1e-20.  Vectorised over broadcastable (K11, K12, K22)
and chunked to bound memory.  mpmath: adaptive tanh-sinh quadrature
(:func:`mftsym.gaussian.quadrature.mpmath_expectation`).
"""

from __future__ import annotations

import math

import numpy as np
import sympy as sp

from ..gaussian.quadrature import mpmath_expectation
from ..spec.expressions import X

L_CUT = 9.5
CHUNK_EVALS = 4_000_000  # integrand evaluations held in memory at once


def _rule(n):
    x, w = np.polynomial.legendre.leggauss(int(n))
    return x, w


class _Xp:
    """The handful of array operations the rule needs, for numpy or torch."""

    def __init__(self, torch_mod=None):
        self.t = torch_mod

    def asarray(self, a, like=None):
        if self.t is None:
            return np.asarray(a, dtype=float)
        kw = {} if like is None else {"device": like.device}
        return self.t.as_tensor(a, dtype=self.t.float64, **kw)

    def __getattr__(self, name):
        if self.t is None:
            return getattr(np, name)
        return {"clip": lambda a, lo, hi: self.t.clamp(a, lo, hi), "maximum": self.t.maximum,
                "concatenate": self.t.cat}.get(name) or getattr(self.t, name)


def _expect(fn, gn, k11, k12, k22, xp, n):
    """Vectorised split Gauss-Legendre expectation over flat arrays k11, k12, k22 of one chunk."""
    x, w = (xp.asarray(a, like=k11) for a in _rule(n))
    a = xp.sqrt(xp.clip(k11, 0.0, None))
    pos = a > 0
    b = xp.where(pos, k12 / xp.where(pos, a, a * 0 + 1), a * 0)
    s = xp.sqrt(xp.clip(xp.where(pos, k22 - b * b, k22), 0.0, None))
    # outer nodes t in [-L, 0] and [0, L]: shape (2n,)
    t = xp.concatenate([(x - 1) * L_CUT / 2, (x + 1) * L_CUT / 2])
    wt = xp.concatenate([w, w]) * (L_CUT / 2) * xp.exp(-t * t / 2) / math.sqrt(2 * math.pi)
    # inner split point c = -b t / s (per entry and outer node), clipped to [-L, L]
    safe_s = xp.where(s > 0, s, s * 0 + 1)
    c = xp.clip(-b[:, None] * t[None, :] / safe_s[:, None], -L_CUT, L_CUT)            # (m, 2n)
    half1, mid1 = (c + L_CUT) / 2, (c - L_CUT) / 2
    half2, mid2 = (L_CUT - c) / 2, (L_CUT + c) / 2
    r = xp.concatenate([mid1[..., None] + half1[..., None] * x, mid2[..., None] + half2[..., None] * x], -1)
    wr = xp.concatenate([half1[..., None] * w, half2[..., None] * w], -1) * xp.exp(-r * r / 2) / math.sqrt(2 * math.pi)
    v = b[:, None, None] * t[None, :, None] + s[:, None, None] * r                      # (m, 2n, 2n)
    gv = gn(v)
    gv = gv if not isinstance(gv, (int, float)) else v * 0 + gv
    inner = (wr * gv).sum(-1)                                                            # (m, 2n)
    u = a[:, None] * t[None, :]
    fu = fn(u)
    fu = fu if not isinstance(fu, (int, float)) else u * 0 + fu
    return (wt * fu * inner).sum(-1)


def quadrature_function(f: sp.Expr, g: sp.Expr, backend: str, order: int = 48):
    """A function (K11, K12, K22) -> E[f(u) g(v)] for ``backend``; ``order`` Legendre nodes per half-line."""
    from .backends import lambdify_expr
    fn, gn = lambdify_expr(X, f, backend), lambdify_expr(X, g, backend)
    if backend == "mpmath":
        return lambda k11, k12, k22: mpmath_expectation(fn, gn, k11, k12, k22)
    if backend == "numpy":
        xp = _Xp()

        def expect(k11, k12, k22):
            k11, k12, k22 = np.broadcast_arrays(*(np.asarray(k, dtype=float) for k in (k11, k12, k22)))
            shape = k11.shape
            flat = [k.ravel() for k in (k11, k12, k22)]
            step = max(1, CHUNK_EVALS // (4 * order * order))
            out = np.concatenate([_expect(fn, gn, *(k[i:i + step] for k in flat), xp, order)
                                  for i in range(0, flat[0].size, step)]) if flat[0].size else np.zeros(0)
            return out.reshape(shape)
        return expect

    import torch
    xp = _Xp(torch)

    def expect_t(k11, k12, k22):
        k11, k12, k22 = torch.broadcast_tensors(*(torch.as_tensor(k, dtype=torch.float64) for k in (k11, k12, k22)))
        shape = k11.shape
        flat = [k.reshape(-1) for k in (k11, k12, k22)]
        step = max(1, CHUNK_EVALS // (4 * order * order))
        parts = [_expect(fn, gn, *(k[i:i + step] for k in flat), xp, order) for i in range(0, flat[0].numel(), step)]
        return (torch.cat(parts) if parts else flat[0]).reshape(shape)
    return expect_t
