"""Numeric Gaussian expectations: 2-D Gauss-Hermite (numpy) and adaptive mpmath quadrature.

Both factorise the covariance by Cholesky, (u, v) = (sqrt(K11) z1, (K12/sqrt(K11)) z1 + s z2)
with s = sqrt(K22 - K12^2/K11) clamped at 0 and z1, z2 ~ N(0, 1) independent; K11 = 0 is the
degenerate case u = 0, v = sqrt(K22) z2.

* :func:`gauss_hermite_expectation` is the vectorised reference used by tests and compiled code
  (spectrally accurate for smooth f, g; only algebraically for kinks such as ReLU).
* :func:`mpmath_expectation` is the high-accuracy path behind ``GaussianExpectation.evalf``: nested
  tanh-sinh quadrature split at the kinks u = 0 and v = 0.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=32)
def hermite_nodes(order: int):
    """Nodes and weights of the probabilists' Gauss-Hermite rule normalised to N(0, 1).

    ``sum(w * f(z)) ~= E_{z~N(0,1)}[f(z)]``; arrays are read-only (cached, shared by backends).
    """
    z, w = np.polynomial.hermite_e.hermegauss(int(order))
    w = w / np.sqrt(2.0 * np.pi)
    z.setflags(write=False)
    w.setflags(write=False)
    return z, w


def _cholesky(K11, K12, K22):
    K11, K12, K22 = np.broadcast_arrays(*(np.asarray(k, dtype=float) for k in (K11, K12, K22)))
    a = np.sqrt(np.maximum(K11, 0.0))
    pos = a > 0
    safe_a = np.where(pos, a, 1.0)
    b = np.where(pos, K12 / safe_a, 0.0)                      # v = b z1 + s z2
    s2 = np.where(pos, K22 - K12 * K12 / np.where(pos, K11, 1.0), K22)
    s = np.sqrt(np.maximum(s2, 0.0))
    return a, b, s


def gauss_hermite_expectation(f_num, g_num, K11, K12, K22, order: int = 64):
    """E[f(u) g(v)], (u, v) ~ N(0, [[K11, K12], [K12, K22]]), by 2-D Gauss-Hermite quadrature.

    ``f_num``, ``g_num`` are numpy-vectorised callables; K11, K12, K22 broadcast against each other
    and the result has their broadcast shape.
    """
    a, b, s = _cholesky(K11, K12, K22)
    z, w = hermite_nodes(order)
    shape = a.shape
    a, b, s = (t[..., None, None] for t in (a, b, s))
    z1, z2 = z[:, None], z[None, :]
    u = a * z1 + 0.0 * z2
    v = b * z1 + s * z2
    vals = np.asarray(f_num(u), dtype=float) * np.asarray(g_num(v), dtype=float)
    vals = np.broadcast_to(vals, shape + (len(z), len(z)))
    return np.einsum("...ij,i,j->...", vals, w, w)


def gauss_hermite_expectation_1d(f_num, K, order: int = 64):
    """E[f(u)], u ~ N(0, K), vectorised over K."""
    z, w = hermite_nodes(order)
    K = np.asarray(K, dtype=float)
    u = np.sqrt(np.maximum(K, 0.0))[..., None] * z
    return np.asarray(f_num(u), dtype=float) @ w


@lru_cache(maxsize=8)
def _legendre(n: int):
    x, w = np.polynomial.legendre.leggauss(int(n))
    return x, w


def _split_rule(lo, hi, n):
    """Gauss-Legendre nodes/weights on [lo, hi] (arrays of intervals, broadcast)."""
    x, w = _legendre(n)
    half = (np.asarray(hi) - np.asarray(lo))[..., None] / 2
    mid = (np.asarray(hi) + np.asarray(lo))[..., None] / 2
    return mid + half * x, half * w


def split_quadrature_expectation(f_num, g_num, K11, K12, K22, n: int = 80, L: float = 9.5):
    """E[f(u) g(v)] for scalar K's by Gauss-Legendre on [-L, L]^2 in whitened coordinates,
    split at the kinks u = 0 (z1 = 0) and v = 0 (z2 = -b z1 / s).

    Each piece is smooth for piecewise-analytic f, g, so the rule converges exponentially;
    the truncation at |z| = L costs ~1e-20.  This is the double-precision path of ``evalf``.
    """
    a, b, s = (float(t) for t in _cholesky(K11, K12, K22))
    phi = lambda t: np.exp(-t * t / 2) / np.sqrt(2 * np.pi)
    t, wt = _split_rule(np.array([-L, 0.0]), np.array([0.0, L]), n)
    t, wt = t.ravel(), wt.ravel() * phi(t.ravel())
    if s == 0:
        return float(np.sum(wt * f_num(a * t) * g_num(b * t)))
    c = np.clip(-b * t / s, -L, L)
    r1, w1 = _split_rule(np.full_like(t, -L), c, n)
    r2, w2 = _split_rule(c, np.full_like(t, L), n)
    r = np.concatenate([r1, r2], axis=1)
    wr = np.concatenate([w1, w2], axis=1) * phi(r)
    v = b * t[:, None] + s * r
    inner = np.sum(wr * np.broadcast_to(g_num(v), v.shape), axis=1)
    return float(np.sum(wt * np.broadcast_to(f_num(a * t), t.shape) * inner))


def split_quadrature_expectation_1d(f_num, K, n: int = 80, L: float = 9.5):
    """E[f(u)], u ~ N(0, K), split at u = 0 (Gauss-Legendre, as above)."""
    a = float(np.sqrt(max(float(K), 0.0)))
    t, wt = _split_rule(np.array([-L, 0.0]), np.array([0.0, L]), n)
    t, wt = t.ravel(), wt.ravel()
    return float(np.sum(wt * np.exp(-t * t / 2) / np.sqrt(2 * np.pi) * f_num(a * t)))


@lru_cache(maxsize=8)
def _mp_legendre(n: int, dps: int):
    import mpmath as mp

    with mp.workdps(dps):
        return mp.gauss_quadrature(n, "legendre")


def mpmath_expectation(f, g, K11, K12, K22, dps: int = 30, one_dimensional: bool = False):
    """Arbitrary-precision E[f(u) g(v)] (mpmath callables f, g): the split Gauss-Legendre scheme
    of :func:`split_quadrature_expectation` with nodes computed at ``dps`` digits.

    Used by ``evalf`` above double precision; a 2-D integral costs ~(2n)^2 evaluations, n ~ 2 dps + 40.
    """
    import mpmath as mp

    n = 2 * dps + 40
    with mp.workdps(dps + 5):
        xs, ws = _mp_legendre(n, dps + 5)
        K11, K12, K22 = mp.mpf(K11), mp.mpf(K12), mp.mpf(K22)
        norm = 1 / mp.sqrt(2 * mp.pi)
        phi = lambda t: norm * mp.exp(-t * t / 2)
        L = mp.sqrt(2 * (dps + 8) * mp.log(10))

        def rule(lo, hi):
            half, mid = (hi - lo) / 2, (hi + lo) / 2
            return [(mid + half * x_, half * w_) for x_, w_ in zip(xs, ws)]

        def integrate(h, cut=0):
            cut = min(max(cut, -L), L)
            return mp.fsum(w * h(t) * phi(t) for t, w in rule(-L, cut) + rule(cut, L))

        a = mp.sqrt(max(K11, 0))
        if one_dimensional:
            return integrate(lambda t: f(a * t))
        if a == 0:
            sd = mp.sqrt(max(K22, 0))
            return f(mp.mpf(0)) * integrate(lambda t: g(sd * t))
        b = K12 / a
        s = mp.sqrt(max(K22 - K12 * K12 / K11, 0))
        if s == 0:
            return integrate(lambda t: f(a * t) * g(b * t))

        def inner(t):
            ft = f(a * t)
            return 0 if ft == 0 else ft * integrate(lambda r: g(b * t + s * r), -b * t / s)

        return integrate(inner)
