r"""Four-point Gaussian expectations M4 = E[phi(z1) phi(z2) phi(z3) phi(z4)], z ~ N(0, K) (4 x 4).

* Closed form when phi is a sum of terms c x^k e^{b x} (polynomials, exp, sin, cos, sinh, cosh;
  b may be imaginary): E[prod z_a^{k_a} e^{b_a z_a}] = e^{b.K.b/2} E[prod (w_a + (K b)_a)^{k_a}],
  w ~ N(0, K), closed by Wick/Isserlis.
* Otherwise an unevaluated :class:`GaussianExpectation4` node: LaTeX-printable, ``evalf``-able and
  compiled (numpy / torch / mpmath) as a tensor-product Gauss-Hermite rule in the eigenbasis of K,
  restricted to the rank r of K (coincident or collinear inputs get an r-dimensional rule):
  RANK_ORDERS = {1: 150, 2: 96, 3: 48, 4: 32} nodes per axis by default (``order`` = n uses n for every
  rank).  The rule is spectrally accurate for smooth phi (erf, tanh) while phi varies slowly on the
  scale sqrt(K) (erf, four coincident points: ~1e-16 at K = 1, ~1e-9 at K = 2.25; the former
  order-20 4-D rule was 1e-3 / 2e-2 off); for kinks (ReLU) and for erf at large K (a near-step on the
  scale of the nodes) it converges algebraically.
"""

from __future__ import annotations

import itertools
import math
from functools import lru_cache

import numpy as np
import sympy as sp

from ..spec import X
from ..spec.expressions import as_expr, is_zero

PAIRS4 = tuple((a, b) for a in range(4) for b in range(a, 4))   # (0,0), (0,1), ... (3,3)
DEFAULT_ORDER = None   # per-rank defaults RANK_ORDERS; an integer applies to every rank
RANK_ORDERS = {1: 150, 2: 96, 3: 48, 4: 32}   # Gauss-Hermite nodes per axis by rank of the 4 x 4 covariance
MP_ORDER = 20          # the (slow) mpmath 4-D rule


class Unclosed4(Exception):
    pass


def _terms(phi):
    """[(coef, k, b)] with phi = sum coef x^k exp(b x); raises Unclosed4."""
    expr = sp.expand(as_expr(phi).rewrite(sp.exp))
    out = []
    for term in sp.Add.make_args(expr):
        coef, rest = term.as_independent(X, as_Add=False)
        k, b = 0, sp.S.Zero
        for f in sp.Mul.make_args(rest):
            if f == X:
                k += 1
            elif f.is_Pow and f.base == X and f.exp.is_Integer and f.exp > 0:
                k += int(f.exp)
            elif isinstance(f, sp.exp) or (f.is_Pow and isinstance(f.base, sp.exp)):
                arg = sp.expand(f.args[0] if isinstance(f, sp.exp) else f.base.args[0] * f.exp)
                poly = sp.Poly(arg, X) if arg.is_polynomial(X) else None
                if poly is None or poly.degree() > 1:
                    raise Unclosed4(f)
                c1 = poly.coeff_monomial(X)
                c0 = poly.coeff_monomial(1)
                b += c1
                coef *= sp.exp(c0)
            elif f == 1:
                continue
            else:
                raise Unclosed4(f)
        out.append((coef, k, b))
    return out


def _wick(ks, K, memo):
    """E[prod z_a^{ks[a]}], z ~ N(0, K) (Isserlis), K a 4x4 nested tuple of expressions."""
    if sum(ks) % 2:
        return sp.S.Zero
    if not any(ks):
        return sp.S.One
    if ks in memo:
        return memo[ks]
    i = next(a for a, k in enumerate(ks) if k)
    rest = list(ks)
    rest[i] -= 1
    total = sp.S.Zero
    for j, kj in enumerate(rest):
        if kj:
            nxt = list(rest)
            nxt[j] -= 1
            total += kj * K[i][j] * _wick(tuple(nxt), K, memo)
    memo[ks] = total
    return total


def _shifted(ks, mu, K, memo):
    """E[prod (w_a + mu_a)^{k_a}]."""
    total = sp.S.Zero
    for js in itertools.product(*(range(k + 1) for k in ks)):
        c = sp.Mul(*[sp.binomial(k, j) * mu[a] ** (k - j) for a, (k, j) in enumerate(zip(ks, js))])
        if not is_zero(c):
            total += c * _wick(js, K, memo)
    return total


def _matrix(entries):
    """4x4 nested tuple from the 10 upper-triangular entries in PAIRS4 order."""
    K = [[None] * 4 for _ in range(4)]
    for (a, b), e in zip(PAIRS4, entries):
        K[a][b] = K[b][a] = e
    return K


def closed_moment4(phi, entries):
    """Closed-form M4 (raises Unclosed4 when phi is not of the polynomial x exponential family)."""
    terms = _terms(phi)
    K = _matrix(entries)
    total = sp.S.Zero
    memo = {}
    for combo in itertools.product(terms, repeat=4):
        coef = sp.Mul(*[t[0] for t in combo])
        ks = tuple(t[1] for t in combo)
        b = [t[2] for t in combo]
        mu = [sp.expand(sum(K[a][c] * b[c] for c in range(4))) for a in range(4)]
        quad = sp.expand(sum(b[a] * mu[a] for a in range(4)) / 2)
        total += coef * sp.exp(quad) * _shifted(ks, mu, K, memo)
    total = sp.expand(total)
    if total.has(sp.I):                       # M4 is real for real covariance entries
        total = sp.expand(sp.re(total))
    return sp.powsimp(total, combine="exp")


class GaussianExpectation4(sp.Function):
    r"""E[phi(z1) phi(z2) phi(z3) phi(z4)], z ~ N(0, K); args (Lambda phi, K11, K12, K13, K14, K22, K23, K24, K33, K34, K44)."""

    nargs = 11

    def __new__(cls, phi, *entries, **options):
        if not isinstance(phi, sp.Lambda):
            phi = sp.Lambda(X, as_expr(phi))
        return super().__new__(cls, phi, *entries, **options)

    @property
    def phi(self):
        return self.args[0](X)

    def _latex(self, printer):
        terms = "".join(rf"\,{printer._print(self.phi.subs(X, sp.Symbol(f'z_{a}')))}" for a in range(1, 5))
        return rf"\mathbb{{E}}_{{z\sim\mathcal{{N}}(0,K)}}\!\left[{terms}\right]"

    def _eval_evalf(self, prec):
        vals = [e.evalf(prec) for e in self.args[1:]]
        if not all(v.is_number and v.is_real for v in vals):
            return None
        fn = numeric_moment4(self.phi, "numpy")
        return sp.Float(float(fn(*[float(v) for v in vals])), 15)


def moment4(phi, entries, method: str = "auto"):
    """M4 as a SymPy expression of the 10 covariance entries (PAIRS4 order): closed or a node."""
    if method != "quadrature":
        try:
            return closed_moment4(phi, entries)
        except Unclosed4:
            if method == "closed":
                raise
    return GaussianExpectation4(phi, *entries)


# ----------------------------------------------------------------------------- numerics
@lru_cache(maxsize=16)
def _grid(order, dim=4):
    """Tensor-product probabilists' Gauss-Hermite rule in ``dim`` dimensions: (nodes (q^dim, dim), weights)."""
    z, w = np.polynomial.hermite_e.hermegauss(int(order))
    w = w / math.sqrt(2 * math.pi)
    Z = np.stack(np.meshgrid(*([z] * dim), indexing="ij"), -1).reshape(-1, dim)
    W = np.ones(1)
    for _ in range(dim):
        W = np.multiply.outer(W, w).reshape(-1)
    return Z, W


def rank_orders(order=None) -> dict:
    """Nodes per axis for each rank of the 4 x 4 covariance: ``order`` for every rank, or the defaults."""
    return dict(RANK_ORDERS) if order is None else {r: int(order) for r in RANK_ORDERS}


def _numeric(fn, entries, order, xp):
    """Vectorised rule over broadcast entries; xp is numpy or torch.

    Each 4 x 4 covariance is split by its numerical rank r (eigenvalues above 1e-10 of the largest):
    z = A xi with A the r leading eigen-directions scaled by sqrt(eigenvalue), and an r-dimensional
    tensor Gauss-Hermite rule with ``rank_orders(order)[r]`` nodes per axis.  Coincident or collinear
    inputs thus get a 1-, 2- or 3-dimensional rule of higher order instead of wasting axes on null
    directions."""
    orders = rank_orders(order)
    if xp is np:
        E = np.broadcast_arrays(*(np.asarray(e, dtype=float) for e in entries))
        K = np.zeros(E[0].shape + (4, 4))
        for (a, b), e in zip(PAIRS4, E):
            K[..., a, b] = K[..., b, a] = e
        lam, Q = np.linalg.eigh(K.reshape(-1, 4, 4))
        asarray, einsum, cat = np.asarray, np.einsum, np.concatenate
    else:
        import torch
        E = torch.broadcast_tensors(*(torch.as_tensor(e, dtype=torch.float64) for e in entries))
        K = torch.zeros(E[0].shape + (4, 4), dtype=torch.float64)
        for (a, b), e in zip(PAIRS4, E):
            K[..., a, b] = e
            K[..., b, a] = e
        lam, Q = torch.linalg.eigh(K.reshape(-1, 4, 4))

        def asarray(v):
            return torch.as_tensor(v, dtype=torch.float64)
        einsum, cat = torch.einsum, torch.cat
    shape = E[0].shape
    lam_np = np.asarray(lam.detach().numpy() if xp is not np else lam)
    tol = 1e-10 * np.maximum(lam_np.max(-1, initial=0.0), 1e-300)
    rank = (lam_np > tol[:, None]).sum(-1)
    pieces, index = [], []
    for r in np.unique(rank):
        idx = np.nonzero(rank == r)[0]
        if r == 0:
            f0 = asarray(fn(asarray(np.zeros((1, 1, 4)))))
            vals = (f0.reshape(-1)[0] ** 4) * asarray(np.ones(len(idx)))
            pieces.append(vals)
            index.append(idx)
            continue
        sel = asarray(idx) if xp is np else torch.as_tensor(idx)
        lr = lam[sel][:, 4 - r:]
        lr = lr.clip(0, None) if xp is np else lr.clamp(min=0)
        A = Q[sel][:, :, 4 - r:] * (lr ** 0.5)[:, None, :]                              # (m, 4, r)
        Z, W = _grid(orders[int(r)], int(r))
        Zt, Wt = asarray(Z), asarray(W)
        step = max(1, 2_000_000 // len(W))
        for i in range(0, len(idx), step):
            z = einsum("mar,nr->mna", A[i:i + step], Zt)                              # (m, q^r, 4)
            f = asarray(fn(z))
            f = xp.broadcast_to(f, z.shape)
            pieces.append((f.prod(-1) * Wt).sum(-1))
            index.append(idx[i:i + step])
    order_all = np.argsort(np.concatenate(index), kind="stable")
    vals = cat(pieces)[asarray(order_all) if xp is np else torch.as_tensor(order_all)]
    return vals.reshape(shape)


def _mp_numeric(fn, entries, order):
    import mpmath
    Z, W = _grid(order or MP_ORDER)
    K = mpmath.matrix(4, 4)
    for (a, b), e in zip(PAIRS4, entries):
        K[a, b] = K[b, a] = mpmath.mpf(e)
    lam, Q = mpmath.eigsy(K)
    A = mpmath.matrix(4, 4)
    for i in range(4):
        for j in range(4):
            A[i, j] = Q[i, j] * mpmath.sqrt(max(lam[j], 0))
    # phi on the nodes of each axis; the product rule factorises only through A, so loop
    total = mpmath.mpf(0)
    Af = [[A[i, j] for j in range(4)] for i in range(4)]
    for zrow, w in zip(Z, W):
        zs = [mpmath.mpf(float(v)) for v in zrow]
        p = mpmath.mpf(w)
        for a in range(4):
            p *= fn(sum(Af[a][j] * zs[j] for j in range(4)))
        total += p
    return total


def numeric_moment4(phi, backend: str = "numpy", order: int = DEFAULT_ORDER):
    """A function (K11, K12, ..., K44) -> M4 for ``backend`` (entries broadcast)."""
    from ..compile.backends import lambdify_expr
    fn = lambdify_expr(X, phi, backend)
    if backend == "mpmath":
        return lambda *e: _mp_numeric(fn, e, order)
    if backend == "numpy":
        return lambda *e: _numeric(fn, e, order, np)
    import torch
    return lambda *e: _numeric(fn, e, order, torch)


__all__ = ["GaussianExpectation4", "PAIRS4", "closed_moment4", "moment4", "numeric_moment4"]
