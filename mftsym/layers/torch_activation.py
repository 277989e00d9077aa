"""A torch callable for an activation function (the finite networks' nonlinearity)."""

from __future__ import annotations

import sympy as sp

from ..spec.expressions import X


def _builtin_activation(expr):
    """A fast torch function for common activations, or None."""
    import torch
    if expr == X:
        return lambda z: z
    if expr == sp.Max(0, X):
        return torch.relu
    if expr == sp.erf(X):
        return torch.erf
    if expr == sp.tanh(X):
        return torch.tanh
    if expr == sp.sin(X):
        return torch.sin
    if expr == sp.cos(X):
        return torch.cos
    return None


def torch_activation(fn):
    """A torch callable for an activation (ActivationFunction or SymPy expression in ``x``).

    Built-ins map to native torch functions; anything else is lambdified through the torch
    namespace of :mod:`mftsym.compile.backends` (numeric constants and erf/gamma handled there).
    """
    import torch
    expr = getattr(fn, "expr", fn)
    fast = _builtin_activation(expr)
    if fast is not None:
        return fast
    from ..compile.backends import lambdify_expr
    raw = lambdify_expr(X, expr, "torch")

    def act(z):
        out = raw(z)
        if not isinstance(out, torch.Tensor) or out.shape != z.shape:
            out = torch.broadcast_to(torch.as_tensor(out, dtype=z.dtype, device=z.device), z.shape)
        return out.to(z.dtype)
    return act
