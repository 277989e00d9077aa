"""Evaluate the kernel chain of a spatial network (conv, pooling, LayerNorm, residual) on data.

X has shape (P, *input_shape), channels last (or (P, prod(input_shape)), flattened in that order).  The chain's inputs are the inner products over
channels at position pairs, divided by nothing (the derivation divides by the channel count):

* diagonal mode (no layer mixes positions): x.x'(s) of shape (P, P', *S), with the x-x and x'-x'
  entries shaped (P, 1, *S) and (1, P', *S) -- memory P P' |S|;
* full mode (pooling): x.x'(s, s') of shape (P, P', *S, *S) -- memory P P' |S|^2.

Elementwise steps run as generated code on these arrays (broadcasting), spatial operators as
tensor operations on the trailing position axes (:mod:`mftsym.layers.operators`).  The chain is one
generated function (common subexpressions shared); numpy or torch (CPU or CUDA).
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import EvaluationError
from .chain import compile_chain


def _unflatten(x, shape):
    """(P, prod(shape)) flattened inputs (as datasets store them) -> (P, *shape)."""
    if x is not None and x.ndim == 2 and x.shape[1] == math.prod(shape) and len(shape) > 1:
        return x.reshape(x.shape[0], *shape)
    return x


def _check(x, shape, name):
    if tuple(x.shape[1:]) != tuple(shape):
        if tuple(x.shape) == tuple(shape):
            raise EvaluationError(f"{name} has shape {tuple(x.shape)}: one input; give a batch of shape "
                                  f"(P, {', '.join(map(str, shape))})")
        raise EvaluationError(f"{name} must have shape (P, {', '.join(map(str, shape))}) for input_shape "
                              f"{list(shape)} (channels last), got {tuple(x.shape)}")


def spatial_inputs(x, x2, shape, full, xp):
    """{x11, x12, x22}: channel inner products at position pairs (see the module docstring)."""
    spatial, c = tuple(shape[:-1]), shape[-1]
    s = math.prod(spatial)
    a = x.reshape(x.shape[0], s, c)
    b = a if x2 is None else x2.reshape(x2.shape[0], s, c)
    p, q = a.shape[0], b.shape[0]
    if full:
        x12 = xp.einsum("pac,qbc->pqab", a, b).reshape(p, q, *spatial, *spatial)
        x11 = xp.einsum("pac,pbc->pab", a, a).reshape(p, 1, *spatial, *spatial)
        x22 = x11.reshape(1, p, *spatial, *spatial) if x2 is None else \
            xp.einsum("pac,pbc->pab", b, b).reshape(1, q, *spatial, *spatial)
    else:
        x12 = xp.einsum("pac,qac->pqa", a, b).reshape(p, q, *spatial)
        x11 = (a * a).sum(-1).reshape(p, 1, *spatial)
        x22 = x11.reshape(1, p, *spatial) if x2 is None else (b * b).sum(-1).reshape(1, q, *spatial)
    return {"x11": x11, "x12": x12, "x22": x22}


def evaluate_spatial_kernel(derivation, network, x, x2=None, kinds=("nngp",), params=None,
                            backend="numpy", device=None, dtype=None):
    """The kernels ``kinds`` between the inputs ``x`` and ``x2`` (default ``x``) of a spatial network:
    (P, P') after a pooling/flatten layer, (P, P', *S[, *S]) if the output still has positions."""
    from ..layers import mixes_positions
    from .kernel_fn import parameter_env
    if backend == "mpmath":
        raise EvaluationError("spatial kernels evaluate with the numpy or torch backend, not mpmath")
    shape = tuple(network.input_shape)
    full = mixes_positions(network)
    chain = compile_chain(derivation, backend, outputs=kinds)
    if backend == "torch":
        import torch
        dtype = dtype or torch.float64
        xt = torch.as_tensor(x, dtype=dtype, device=device)
        x2t = None if x2 is None else torch.as_tensor(x2, dtype=dtype, device=xt.device)
        xt, x2t = _unflatten(xt, shape), _unflatten(x2t, shape)
        _check(xt, shape, "X")
        if x2t is not None:
            _check(x2t, shape, "X2")
        env = parameter_env(network, params, shape[-1])
        env.update(spatial_inputs(xt, x2t, shape, full, torch))
        vals = chain(env)
        p, q = xt.shape[0], (xt if x2t is None else x2t).shape[0]
        outs = []
        for k in kinds:
            v = torch.as_tensor(vals[k], dtype=dtype, device=xt.device)
            outs.append(torch.broadcast_to(v, (p, q, *v.shape[2:])) if v.dim() >= 2 else
                        torch.broadcast_to(v, (p, q)))
        return tuple(outs)
    xa = np.asarray(x, dtype=float)
    x2a = None if x2 is None else np.asarray(x2, dtype=float)
    xa, x2a = _unflatten(xa, shape), _unflatten(x2a, shape)
    _check(xa, shape, "X")
    if x2a is not None:
        _check(x2a, shape, "X2")
    if not (np.all(np.isfinite(xa)) and (x2a is None or np.all(np.isfinite(x2a)))):
        raise EvaluationError("X or X2 contains NaN or inf")
    env = parameter_env(network, params, shape[-1])
    env.update(spatial_inputs(xa, x2a, shape, full, np))
    vals = chain(env)
    p, q = xa.shape[0], (xa if x2a is None else x2a).shape[0]
    outs = []
    for k in kinds:
        v = np.asarray(vals[k], dtype=float)
        target = (p, q, *v.shape[2:]) if v.ndim >= 2 else (p, q)
        outs.append(v if v.shape == target else np.broadcast_to(v, target).copy())
    return tuple(outs)
