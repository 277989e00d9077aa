r"""Monte Carlo criticality: susceptibilities measured on random deep networks, and a numerical
search for the (C_b, C_W) where perturbations of nearby inputs neither grow nor decay.

Independent of the symbolic engine (numpy only, the activation lambdified from the spec's
expression): a network of width ``n`` and ``depth`` layers, z^{l+1} = W phi(z^l) + b with
W ~ N(0, C_W/n), b ~ N(0, C_b), is applied to three inputs at once -- z, a perpendicular neighbour
z + eps u (u independent of z) and a radial one (1 + eps) z.  Per layer

    chi_perp ~ |dz_perp^{l+1}|^2 / |dz_perp^l|^2,      chi_par ~ dK^{l+1} / dK^l,  dK = (|z_par|^2 - |z|^2)/n,

averaged as the geometric mean over layers (the first ``skip`` layers, where K relaxes to its
fixed point, are discarded).  Weights are drawn from a fixed seed, so the estimates are smooth
functions of (C_b, C_W) (common random numbers) and a root finder can be run per seed; the spread
over seeds is the Monte Carlo error.
"""

from __future__ import annotations

import numpy as np
import sympy as sp
from scipy.optimize import brentq, fsolve

from ..spec import X


def _numpy_phi(phi):
    if isinstance(phi, str):
        from ..spec.activations import resolve_activation
        phi = resolve_activation(phi).expr
    return sp.lambdify(X, phi, modules=["scipy", "numpy"])


def mc_susceptibilities(phi, cb: float, cw: float, k0: float, n: int = 1000, depth: int = 12, skip: int = 3,
                        seed: int = 0, eps: float = 1e-5, directions: int = 16) -> dict:
    """{"K", "chi_perp", "chi_par"} measured on one random network (log-averaged over layers).

    ``directions`` perpendicular neighbours are propagated together (their squared distances summed),
    which removes the chi-square noise of a single direction."""
    f = phi if callable(phi) else _numpy_phi(phi)
    rng = np.random.default_rng(seed)
    z = rng.standard_normal(n)
    z *= np.sqrt(k0 * n) / np.linalg.norm(z)
    U = rng.standard_normal((directions, n))
    U -= np.outer(U @ z / (z @ z), z)
    U *= np.sqrt(k0 * n) / np.linalg.norm(U, axis=1, keepdims=True)
    Z = np.vstack([z, (1 + eps) * z, z + eps * U])
    log_perp, log_par, ks = [], [], []
    prev = None
    for layer in range(depth):
        W = rng.standard_normal((n, n)) * np.sqrt(cw / n)
        b = rng.standard_normal(n) * np.sqrt(cb)
        Z = f(Z) @ W.T + b
        dperp = np.sum((Z[2:] - Z[0]) ** 2)
        dk = (Z[1] @ Z[1] - Z[0] @ Z[0]) / n
        if prev is not None and layer >= skip:
            log_perp.append(np.log(dperp / prev[0]))
            log_par.append(np.log(dk / prev[1]) if dk / prev[1] > 0 else np.nan)
            ks.append(Z[0] @ Z[0] / n)
        prev = (dperp, dk)
    return {"K": float(np.mean(ks)), "chi_perp": float(np.exp(np.mean(log_perp))),
            "chi_par": float(np.exp(np.nanmean(log_par)))}


def mc_critical_weight_var(phi, cb: float, bracket=(0.3, 6.0), k0: float = 1.0, seeds=range(4), **kw):
    """C_W on the chi_perp = 1 line at bias variance ``cb``: a root of log chi_perp per seed (brentq).
    Returns (mean, standard error over seeds, per-seed roots)."""
    f = _numpy_phi(phi)
    roots = []
    for s in seeds:
        roots.append(brentq(lambda cw: np.log(mc_susceptibilities(f, cb, cw, k0, seed=s, **kw)["chi_perp"]),
                            *bracket, xtol=1e-6))
    roots = np.array(roots)
    return float(roots.mean()), float(roots.std(ddof=1) / np.sqrt(len(roots))), roots


def mc_critical_point(phi, guess, k0: float, seeds=range(4), **kw):
    """(C_b, C_W) with chi_perp = chi_par = 1 on Monte Carlo networks: a 2-D root per seed (fsolve),
    starting from ``guess``.  Returns (mean (2,), SE (2,), per-seed roots (S, 2))."""
    f = _numpy_phi(phi)
    roots = []
    for s in seeds:
        def eqs(p):
            r = mc_susceptibilities(f, max(p[0], 0.0), p[1], k0, seed=s, **kw)
            return [np.log(r["chi_perp"]), np.log(r["chi_par"])]
        roots.append(fsolve(eqs, guess, xtol=1e-8))
    roots = np.array(roots)
    return roots.mean(0), roots.std(0, ddof=1) / np.sqrt(len(roots)), roots


__all__ = ["mc_critical_point", "mc_critical_weight_var", "mc_susceptibilities"]
