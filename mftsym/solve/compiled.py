"""Numeric action, gradient and Hessian generated from a :class:`~mftsym.solve.derive.ModeAction`.

The prior part and the per-mode summand are differentiated symbolically with respect to the order
parameters and each derivative is lambdified once (cached) for numpy, torch or mpmath with the
project's backend namespaces.  The mode derivatives are evaluated with the eigenvalues on the last
axis and summed: a batch of B parameter points and P modes costs one (B, P) array per expression.
"""

from __future__ import annotations

import threading

import numpy as np
import sympy as sp
from ..compile.backends import NAMESPACES, lambdify_expr
from ..errors import EvaluationError
from .symbols import LAM, NOISE, Y2

CACHE_LOCK = threading.Lock()


def lambdify(args, expr, backend):
    """Lambdify ``expr`` with the project's printers and namespaces (numpy/torch/mpmath), with CSE."""
    return lambdify_expr(args, expr, backend, cse=True)


class CompiledAction:
    """``action``, ``grad`` (∂S/∂u) and ``hess`` (∂²S/∂u∂u) of a mode action for one backend.

    ``evaluate(u, lam, y2, env)``: ``u`` of shape (..., L); ``lam``, ``y2`` of shape (P,); ``env``
    maps parameter names ("noise", widths) to scalars or arrays of shape (...,).
    """

    def __init__(self, theory, backend: str = "numpy"):
        if backend not in NAMESPACES:
            raise EvaluationError(f"unknown backend {backend!r}; use one of {list(NAMESPACES)}")
        self.theory, self.backend = theory, backend
        vs = list(theory.variables)
        fixed = set(vs) | {LAM, Y2, NOISE}
        params = sorted((theory.prior.free_symbols | theory.mode.free_symbols) - fixed, key=lambda s: s.name)
        self.param_names = ["noise"] + [p.name for p in params]
        self._args = vs + [LAM, Y2, NOISE] + params
        L = len(vs)
        self.L = L
        exprs = {}
        for part, e in (("prior", theory.prior), ("mode", theory.mode)):
            exprs[(part, "action")] = [e]
            g = [sp.diff(e, v) for v in vs]
            exprs[(part, "grad")] = g
            exprs[(part, "hess")] = [sp.diff(g[i], vs[j]) for i in range(L) for j in range(L)]
        self._fns = {k: [lambdify(self._args, e, backend) for e in v] for k, v in exprs.items()}

    def required(self, env):
        missing = [n for n in self.param_names if n not in env]
        if missing:
            raise EvaluationError(f"no value for {', '.join(missing)}; give it in [params] or with --set NAME=VALUE")

    def evaluate(self, u, lam, y2, env, what=("action", "grad", "hess")) -> dict:
        self.required(env)
        if self.backend == "mpmath":
            return self._evaluate_mp(u, lam, y2, env, what)
        if self.backend == "torch":
            import torch
            u = torch.as_tensor(u, dtype=torch.float64)
            lam = torch.as_tensor(lam, dtype=u.dtype, device=u.device)
            y2 = torch.as_tensor(y2, dtype=u.dtype, device=u.device)
            pv = [torch.as_tensor(env[n], dtype=u.dtype, device=u.device) for n in self.param_names]
            bshape = u.shape[:-1]
            bc = lambda a, shape: torch.broadcast_to(torch.as_tensor(a, dtype=u.dtype, device=u.device), shape)  # noqa: E731
            stack = lambda parts: torch.stack(parts, dim=-1)  # noqa: E731
        else:
            u = np.asarray(u, dtype=float)
            lam, y2 = np.asarray(lam, dtype=float), np.asarray(y2, dtype=float)
            pv = [np.asarray(env[n], dtype=float) for n in self.param_names]
            bshape = u.shape[:-1]
            bc = lambda a, shape: np.broadcast_to(np.asarray(a, dtype=float), shape)  # noqa: E731
            stack = lambda parts: np.stack(parts, axis=-1)  # noqa: E731
        us = [u[..., i] for i in range(self.L)]
        noise, rest = pv[0], pv[1:]
        prior_args = us + [0.0, 0.0, noise] + rest
        P = lam.shape[-1]
        mode_args = [a[..., None] for a in us] + [lam, y2, noise[..., None] if noise.ndim else noise] \
            + [r[..., None] if r.ndim else r for r in rest]
        out = {}
        for w in what:
            vals = []
            for fp, fm in zip(self._fns[("prior", w)], self._fns[("mode", w)]):
                vp = bc(fp(*prior_args), bshape)
                vm = bc(fm(*mode_args), (*bshape, P)).sum(-1)
                vals.append(vp + vm)
            if w == "action":
                out[w] = vals[0]
            elif w == "grad":
                out[w] = stack(vals)
            else:
                h = stack(vals)
                out[w] = h.reshape(*bshape, self.L, self.L)
        return out

    def _evaluate_mp(self, u, lam, y2, env, what):
        import mpmath
        u = [mpmath.mpf(v) for v in u]
        pv = [mpmath.mpf(env[n]) for n in self.param_names]
        noise, rest = pv[0], pv[1:]
        lam = [mpmath.mpf(v) for v in lam]
        y2 = [mpmath.mpf(v) for v in y2]
        out = {}
        for w in what:
            vals = []
            for fp, fm in zip(self._fns[("prior", w)], self._fns[("mode", w)]):
                v = fp(*u, mpmath.mpf(0), mpmath.mpf(0), noise, *rest)
                v += mpmath.fsum(fm(*u, a, b, noise, *rest) for a, b in zip(lam, y2))
                vals.append(v)
            if w == "action":
                out[w] = vals[0]
            elif w == "grad":
                out[w] = vals
            else:
                out[w] = mpmath.matrix([[vals[i * self.L + j] for j in range(self.L)] for i in range(self.L)])
        return out


def compiled_action(theory, backend: str = "numpy") -> CompiledAction:
    """The cached :class:`CompiledAction` of ``theory`` for ``backend``."""
    with CACHE_LOCK:
        cache = theory.__dict__.setdefault("_compiled", {})
        if backend not in cache:
            cache[backend] = CompiledAction(theory, backend)
        return cache[backend]


__all__ = ["CompiledAction", "compiled_action", "lambdify"]
