"""Anderson mixing (Anderson 1965; Walker & Ni 2011): the accelerated fixed-point iteration the
self-consistent theories use (adaptive kernel, its data-model reduction)."""

from __future__ import annotations

import numpy as np


def anderson_mixing(fixed_map, x0, tol, max_iter, beta, m=6):
    """Anderson-accelerated fixed point x = F(x); returns (x, residual, iterations, ok).

    Type-II Anderson mixing with memory ``m`` and damping ``beta``: with residuals r_k = F(x_k) − x_k,
    x_{k+1} = x_k + β r_k − (ΔX + β ΔR) γ, γ = argmin ‖r_k − ΔR γ‖ (least squares over the last ``m``
    differences).  ``fixed_map`` may return None where it is undefined (a closure that broke down):
    the iterate then steps halfway back to the last good one.  Converged when ‖r‖/‖x‖ < ``tol``.
    """
    xs, fs = [], []
    x = x0
    res = np.inf
    for it in range(1, max_iter + 1):
        fx = fixed_map(x)
        if fx is None:
            if not xs:
                return x, np.inf, it, False
            # the closure broke down at x: step back towards the last good iterate
            x = 0.5 * (x + xs[-1])
            continue
        r = fx - x
        res = np.linalg.norm(r) / max(np.linalg.norm(x), 1e-300)
        if res < tol:
            return fx, res, it, True
        xs.append(x.copy())
        fs.append(r.copy())
        if len(xs) > m:
            xs.pop(0)
            fs.pop(0)
        if len(xs) > 1:
            dF = np.array([fs[i + 1] - fs[i] for i in range(len(fs) - 1)]).T
            dX = np.array([xs[i + 1] - xs[i] for i in range(len(xs) - 1)]).T
            gamma, *_ = np.linalg.lstsq(dF, r, rcond=None)
            x = x + beta * r - (dX + beta * dF) @ gamma
        else:
            x = x + beta * r
    return x, res, max_iter, False


__all__ = ["anderson_mixing"]
