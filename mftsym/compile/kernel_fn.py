"""Evaluate a compiled kernel chain on data: K(X, X2) between the rows of X and X2.

The chain is written in the inner products x.x, x.x', x'.x' of a pair of inputs.  Here they are
computed as a P x P' Gram matrix and two norm vectors shaped (P, 1) and (1, P'), so broadcasting
evaluates the diagonal recursions once per point and the off-diagonal one once per pair.
"""

from __future__ import annotations

import numpy as np

from ..errors import EvaluationError
from ..spec.expressions import make_symbol
from .chain import compile_chain


def _as_2d(x, name):
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2:
        raise EvaluationError(f"{name} must be a 2-D array (one input per row), got shape {tuple(x.shape)}")
    return x


def _check_dims(x, x2, network):
    if x.shape[1] != x2.shape[1]:
        raise EvaluationError(f"X has inputs of dimension {x.shape[1]} but X2 of dimension {x2.shape[1]}")
    dim = network.input_dim
    if dim.is_Integer and int(dim) != x.shape[1]:
        raise EvaluationError(f"the spec has input_dim = {dim} but the data has dimension {x.shape[1]}")


def parameter_env(network, params: dict, x_dim: int) -> dict:
    """{name: float} for the chain: the given params, plus d = data dimension if input_dim is a symbol."""
    env = {str(k): float(v) for k, v in (params or {}).items()}
    dim = network.input_dim
    if dim.is_Symbol and dim.name not in env:
        env[dim.name] = float(x_dim)
    for layer_width in [l.width for l in network.dense_layers]:
        if layer_width.is_Symbol and layer_width.name in env and env[layer_width.name] <= 0:
            raise EvaluationError(f"width {layer_width.name} must be positive, got {env[layer_width.name]}")
    return env


def evaluate_kernel(derivation, network, x, x2=None, kind: str = "nngp", params=None,
                    backend: str = "numpy", device=None, dtype=None):
    """The ``kind`` ("nngp" or "ntk") kernel between rows of ``x`` and ``x2`` (default: ``x``)."""
    if kind not in derivation.outputs:
        raise EvaluationError(f"unknown kernel kind {kind!r}; available: {[k for k in derivation.outputs if '_' not in k]}")
    chain = compile_chain(derivation, backend, outputs=(kind,))
    if backend == "torch":
        import torch
        dtype = dtype or torch.float64
        xt = torch.as_tensor(x, dtype=dtype, device=device)
        x2t = xt if x2 is None else torch.as_tensor(x2, dtype=dtype, device=xt.device)
        xt, x2t = _as_2d(xt, "X"), _as_2d(x2t, "X2")
        _check_dims(xt, x2t, network)
        env = parameter_env(network, params, xt.shape[1])
        env.update(x11=(xt * xt).sum(1)[:, None], x12=xt @ x2t.T, x22=(x2t * x2t).sum(1)[None, :])
        out = chain(env)[kind]
        return torch.broadcast_to(torch.as_tensor(out, dtype=dtype, device=xt.device), (xt.shape[0], x2t.shape[0]))
    xa = np.asarray(x, dtype=float)
    x2a = xa if x2 is None else np.asarray(x2, dtype=float)
    xa, x2a = _as_2d(xa, "X"), _as_2d(x2a, "X2")
    _check_dims(xa, x2a, network)
    if not (np.all(np.isfinite(xa)) and np.all(np.isfinite(x2a))):
        raise EvaluationError("X or X2 contains NaN or inf")
    env = parameter_env(network, params, xa.shape[1])
    if backend == "mpmath":
        import mpmath
        env = {k: mpmath.mpf(v) for k, v in env.items()}
        xm = [[mpmath.mpf(float(v)) for v in row] for row in xa]
        x2m = [[mpmath.mpf(float(v)) for v in row] for row in x2a]
        dot = lambda a, b: mpmath.fsum(p * q for p, q in zip(a, b))  # noqa: E731
        out = np.empty((len(xm), len(x2m)), dtype=object)
        for i, a in enumerate(xm):
            for j, b in enumerate(x2m):
                env.update(x11=dot(a, a), x12=dot(a, b), x22=dot(b, b))
                out[i, j] = chain(env)[kind]
        return out
    env.update(x11=np.einsum("ij,ij->i", xa, xa)[:, None], x12=xa @ x2a.T,
               x22=np.einsum("ij,ij->i", x2a, x2a)[None, :])
    out = chain(env)[kind]
    return np.broadcast_to(np.asarray(out, dtype=float), (xa.shape[0], x2a.shape[0])).copy()
