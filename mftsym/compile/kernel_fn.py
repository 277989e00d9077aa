"""Evaluate a compiled kernel chain on data: K(X, X2) between the rows of X and X2.

The chain is written in the inner products x.x, x.x', x'.x' of a pair of inputs.  Here they are
computed as a P x P' Gram matrix and two norm vectors shaped (P, 1) and (1, P').  The chain is
compiled in two stages (:class:`~mftsym.compile.chain.CompiledChain` with ``axes``): the diagonal
recursions run once, on the vectors; the per-pair stage runs tile by tile over the P x P' grid,
so its intermediates stay in cache, with the tiles shared among worker threads (numpy ufuncs and
torch ops release the GIL).  For K(X, X) only the tiles on and above the diagonal are evaluated
and mirrored: the kernel is symmetric.  Torch tensors that require grad, or live on a GPU, are
evaluated in one piece instead (autograd graph / one launch per op).

Opt-in, torch only: ``MFTSYM_TORCH_COMPILE=1`` (or ``kernel_fn.TORCH_COMPILE = True``) runs the
per-pair stage through ``torch.compile`` (inductor: one fused, vectorised, OpenMP C++ loop over the
grid).  It is several times faster than the eager tiles on a CPU, but its first call compiles for
tens of seconds (less with inductor's on-disk cache), hence not the default.  Any failure to
compile (no C++ compiler, unsupported op) warns once and falls back to the eager tiles.
"""

from __future__ import annotations

import os
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..errors import EvaluationError
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


AXES = {"x11": (0,), "x12": (0, 1), "x22": (1,)}
TILE = 128            # tiles are TILE x TILE pairs: ~16k float64 per intermediate, cache-resident
TORCH_COMPILE = None  # None: the MFTSYM_TORCH_COMPILE environment variable decides (default off)
_POOLS: dict = {}
_POOL_LOCK = threading.Lock()


def default_threads(backend: str = "numpy") -> int:
    """Worker threads for the tiled grid stage: ``MFTSYM_THREADS``, else torch's thread count
    (torch backend) or the CPUs this process may run on."""
    env = os.environ.get("MFTSYM_THREADS")
    if env:
        return max(1, int(env))
    if backend == "torch":
        import torch
        return max(1, torch.get_num_threads())
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def _forget_pools_in_child():
    """A forked child inherits the pools but not their threads: start afresh there."""
    global _POOL_LOCK
    _POOLS.clear()
    _POOL_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pools_in_child)


def thread_pool(n: int) -> ThreadPoolExecutor:
    """The process's shared pool of ``n`` worker threads (made on first use, remade after a fork)."""
    with _POOL_LOCK:
        if n not in _POOLS:
            _POOLS[n] = ThreadPoolExecutor(n, thread_name_prefix="mftsym")
        return _POOLS[n]


def _tile_env(env, names, rows, cols):
    out = {}
    for n in names:
        v = env[n]
        if getattr(v, "ndim", 0) == 2:
            v = v[rows if v.shape[0] != 1 else slice(None), cols if v.shape[1] != 1 else slice(None)]
        out[n] = v
    return out


def _use_torch_compile(flag) -> bool:
    if flag is None:
        flag = TORCH_COMPILE
    if flag is None:
        flag = os.environ.get("MFTSYM_TORCH_COMPILE", "").strip().lower() in ("1", "true", "yes", "on")
    return bool(flag)


def _torch_compiled_grid(chain, env):
    """The grid stage through torch.compile on the whole grid, or None if it cannot compile."""
    import torch
    fn = chain.__dict__.get("_torch_compiled")
    if fn is False:
        return None
    ref = env["x12"]
    # scalars as 0-d tensors: new parameter values must not trigger a recompile
    args = [v if isinstance(v, torch.Tensor) else torch.as_tensor(float(v), dtype=ref.dtype, device=ref.device)
            for v in (env[a] for a in chain.grid_args)]
    try:
        if fn is None:
            fn = chain.__dict__["_torch_compiled"] = torch.compile(chain.grid_fn)
        with torch.no_grad():
            vals = fn(*args)
    except Exception as exc:  # noqa: BLE001 - any compiler failure: fall back to eager
        chain.__dict__["_torch_compiled"] = False
        warnings.warn(f"torch.compile of the kernel chain failed ({type(exc).__name__}: {exc}); "
                      "using eager torch instead", RuntimeWarning, stacklevel=3)
        return None
    return dict(zip(chain.grid_outputs, vals))


def _grid(chain, env, shape, symmetric, empty, threads, tile=None):
    """{name: (P, P') array} of the chain's grid-stage outputs, evaluated tile by tile."""
    p, q = shape
    names = chain.grid_outputs
    if not names:
        return {}
    tile = tile or TILE
    if p * q <= tile * tile:            # small: one piece
        return chain.grid(env)
    outs = {n: empty((p, q)) for n in names}
    blocks = [(r, c) for r in range(0, p, tile) for c in range(0, q, tile) if not symmetric or c >= r]

    def work(rc):
        r0, c0 = rc
        rows, cols = slice(r0, min(r0 + tile, p)), slice(c0, min(c0 + tile, q))
        vals = chain.grid(_tile_env(env, chain.grid_args, rows, cols))
        for n in names:
            outs[n][rows, cols] = vals[n]
            if symmetric and c0 != r0:
                outs[n][cols, rows] = vals[n].T

    if threads <= 1 or len(blocks) < 2:
        for b in blocks:
            work(b)
    else:
        # interleave big and small work so the threads finish together
        list(thread_pool(threads).map(work, blocks, chunksize=1))
    return outs


def evaluate_kernel(derivation, network, x, x2=None, kind="nngp", params=None,
                    backend: str = "numpy", device=None, dtype=None, threads=None, tile=None,
                    torch_compile=None):
    """The ``kind`` ("nngp" or "ntk") kernel between rows of ``x`` and ``x2`` (default: ``x``).

    ``kind`` may also be a tuple of kinds, e.g. ``("nngp", "ntk")``: the chain then runs once and
    a tuple of kernels comes back.  ``threads`` (default :func:`default_threads`) and ``tile``
    tune the CPU evaluation of the per-pair stage; ``torch_compile`` (torch backend; default: the
    ``MFTSYM_TORCH_COMPILE`` environment variable) fuses it with ``torch.compile``.
    """
    kinds = (kind,) if isinstance(kind, str) else tuple(kind)
    for k in kinds:
        if k not in derivation.outputs:
            raise EvaluationError(f"unknown kernel kind {k!r}; available: "
                                  f"{[o for o in derivation.outputs if '_' not in o]}")
    names = [derivation.outputs[k].name for k in kinds]
    single = isinstance(kind, str)
    if getattr(network, "input_shape", None) is not None:
        from .spatial_kernel import evaluate_spatial_kernel
        outs = evaluate_spatial_kernel(derivation, network, x, x2, kinds, params, backend, device, dtype)
        return outs[0] if single else outs
    if backend == "mpmath":
        chain = compile_chain(derivation, backend, outputs=kinds)
    else:
        chain = compile_chain(derivation, backend, outputs=kinds, axes=AXES)
    threads = default_threads(backend) if threads is None else max(1, int(threads))
    if backend == "torch":
        import torch
        dtype = dtype or torch.float64
        xt = torch.as_tensor(x, dtype=dtype, device=device)
        x2t = xt if x2 is None else torch.as_tensor(x2, dtype=dtype, device=xt.device)
        xt, x2t = _as_2d(xt, "X"), _as_2d(x2t, "X2")
        _check_dims(xt, x2t, network)
        env = parameter_env(network, params, xt.shape[1])
        env.update(x11=(xt * xt).sum(1)[:, None], x12=xt @ x2t.T, x22=(x2t * x2t).sum(1)[None, :])
        shape = (xt.shape[0], x2t.shape[0])
        env = chain.pre(env)
        grad = (xt.requires_grad or x2t.requires_grad) and torch.is_grad_enabled()
        fused = None
        if not grad and chain.grid_fn is not None and _use_torch_compile(torch_compile):
            fused = _torch_compiled_grid(chain, env)
        if fused is not None:
            env.update(fused)
        elif grad or xt.device.type != "cpu":
            env.update(chain.grid(env))
        else:
            env.update(_grid(chain, env, shape, x2 is None, lambda s: torch.empty(s, dtype=dtype),
                             threads, tile))
        outs = tuple(torch.broadcast_to(torch.as_tensor(env[n], dtype=dtype, device=xt.device), shape)
                     for n in names)
        return outs[0] if single else outs
    xa = np.asarray(x, dtype=float)
    x2a = xa if x2 is None else np.asarray(x2, dtype=float)
    xa, x2a = _as_2d(xa, "X"), _as_2d(x2a, "X2")
    _check_dims(xa, x2a, network)
    if not (np.all(np.isfinite(xa)) and np.all(np.isfinite(x2a))):
        raise EvaluationError("X or X2 contains NaN or inf")
    env = parameter_env(network, params, xa.shape[1])
    shape = (xa.shape[0], x2a.shape[0])
    if backend == "mpmath":
        import mpmath
        env = {k: mpmath.mpf(v) for k, v in env.items()}
        xm = [[mpmath.mpf(float(v)) for v in row] for row in xa]
        x2m = [[mpmath.mpf(float(v)) for v in row] for row in x2a]
        dot = lambda a, b: mpmath.fsum(p * q for p, q in zip(a, b))  # noqa: E731
        outs = tuple(np.empty(shape, dtype=object) for _ in kinds)
        for i, a in enumerate(xm):
            for j, b in enumerate(x2m):
                env.update(x11=dot(a, a), x12=dot(a, b), x22=dot(b, b))
                vals = chain(env)
                for o, k in zip(outs, kinds):
                    o[i, j] = vals[k]
        return outs[0] if single else outs
    env.update(x11=np.einsum("ij,ij->i", xa, xa)[:, None], x12=xa @ x2a.T,
               x22=np.einsum("ij,ij->i", x2a, x2a)[None, :])
    env = chain.pre(env)
    env.update(_grid(chain, env, shape, x2 is None, lambda s: np.empty(s), threads, tile))
    outs = []
    for n in names:
        v = env[n]
        v = np.asarray(v, dtype=float)
        outs.append(v if v.shape == shape and v.flags.writeable and v.base is None
                    else np.broadcast_to(v, shape).copy())
    return outs[0] if single else tuple(outs)
