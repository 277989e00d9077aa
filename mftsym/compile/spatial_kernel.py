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


#: elements of one (x, x') block of a position-pair array: the chain runs block by block over the
#: P x P' grid so its intermediates stay ~16 MiB each (float64), whatever P is
BLOCK_ELEMENTS = 1 << 21


def _block_size(full, shape, p, q):
    pos = math.prod(shape[:-1]) ** (2 if full else 1)
    b = max(1, int(math.sqrt(BLOCK_ELEMENTS / pos)))
    return min(b, p), min(b, q)


def _run_blocks(chain, env, kinds, a, b, shape, full, xp, threads):
    """{kind: (P, P', ...) value} over the grid of input pairs, evaluated on (rows of x, rows of x')
    blocks (in worker threads); for K(X, X) with a pooled (P, P') output only the blocks on and above
    the diagonal run, the others are mirrored."""
    from .kernel_fn import thread_pool
    torch_backend = xp.__name__ == "torch"
    second = a if b is None else b
    p, q = a.shape[0], second.shape[0]
    bp, bq = _block_size(full, shape, p, q)
    if bp >= p and bq >= q:
        vals = chain({**env, **spatial_inputs(a, b, shape, full, xp)})
        return {k: vals[k] for k in kinds}

    def block(rc):
        r0, c0 = rc
        vals = chain({**env, **spatial_inputs(a[r0:r0 + bp], second[c0:c0 + bq], shape, full, xp)})
        rows, cols = min(bp, p - r0), min(bq, q - c0)
        out = {}
        for k in kinds:
            v = vals[k]
            if torch_backend:
                v = xp.as_tensor(v, dtype=a.dtype, device=a.device)
                v = xp.broadcast_to(v, (rows, cols, *v.shape[2:])) if v.dim() >= 2 else xp.broadcast_to(v, (rows, cols))
            else:
                v = np.asarray(v, dtype=float)
                v = np.broadcast_to(v, (rows, cols, *v.shape[2:])) if v.ndim >= 2 else np.broadcast_to(v, (rows, cols))
            out[k] = v
        return out

    first = block((0, 0))
    tails = {k: tuple(v.shape[2:]) for k, v in first.items()}
    symmetric = b is None and bp == bq and not any(tails.values())
    blocks = [(r, c) for r in range(0, p, bp) for c in range(0, q, bq) if (r, c) != (0, 0)
              and (not symmetric or c >= r)]
    parts = {(0, 0): first}

    def work(rc):
        parts[rc] = block(rc)

    if threads > 1 and len(blocks) > 1:
        list(thread_pool(threads).map(work, blocks, chunksize=1))
    else:
        for blk in blocks:
            work(blk)
    out = {}
    for k in kinds:
        shape_k = (p, q, *tails[k])
        arr = xp.empty(shape_k, dtype=a.dtype, device=a.device) if torch_backend else np.empty(shape_k)
        for (r0, c0), vals in parts.items():
            v = vals[k]
            arr[r0:r0 + v.shape[0], c0:c0 + v.shape[1]] = v
            if symmetric and c0 != r0:
                arr[c0:c0 + v.shape[1], r0:r0 + v.shape[0]] = v.T
        out[k] = arr
    return out


def evaluate_spatial_kernel(derivation, network, x, x2=None, kinds=("nngp",), params=None,
                            backend="numpy", device=None, dtype=None, threads=None):
    """The kernels ``kinds`` between the inputs ``x`` and ``x2`` (default ``x``) of a spatial network:
    (P, P') after a pooling/flatten layer, (P, P', *S[, *S]) if the output still has positions.
    The P x P' grid runs in blocks of ~``BLOCK_ELEMENTS`` position-pair entries, on ``threads``
    worker threads (default: :func:`mftsym.compile.kernel_fn.default_threads`)."""
    from ..layers import mixes_positions
    from .kernel_fn import default_threads, parameter_env
    if backend == "mpmath":
        raise EvaluationError("spatial kernels evaluate with the numpy or torch backend, not mpmath")
    shape = tuple(network.input_shape)
    full = mixes_positions(network)
    chain = compile_chain(derivation, backend, outputs=kinds)
    threads = default_threads(backend) if threads is None else max(1, int(threads))
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
        grad = (xt.requires_grad or (x2t is not None and x2t.requires_grad)) and torch.is_grad_enabled()
        if grad or xt.device.type != "cpu":
            vals = chain({**env, **spatial_inputs(xt, x2t, shape, full, torch)})
        else:
            vals = _run_blocks(chain, env, kinds, xt, x2t, shape, full, torch, threads)
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
    vals = _run_blocks(chain, env, kinds, xa, x2a, shape, full, np, threads)
    p, q = xa.shape[0], (xa if x2a is None else x2a).shape[0]
    outs = []
    for k in kinds:
        v = np.asarray(vals[k], dtype=float)
        target = (p, q, *v.shape[2:]) if v.ndim >= 2 else (p, q)
        outs.append(v if v.shape == target else np.broadcast_to(v, target).copy())
    return tuple(outs)
