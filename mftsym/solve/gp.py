"""The Gaussian-process posterior (infinite width, docs/theory/nngp_ntk.md): the reference every
finite-width theory reduces to."""

from __future__ import annotations

import numpy as np

from .common import as_inputs, eig_psd, noise_value
from .solution import Solution


def solve_gp(spec, x_train, y_train, x_test=None, params=None) -> Solution:
    """f̄ = k*ᵀ (K + σ² I)⁻¹ y, Var f = k** − k*ᵀ (K + σ² I)⁻¹ k*, with K the NNGP at the output;
    ``action`` is the negative log evidence ½ ln det(K + σ²I) + ½ yᵀ(K + σ²I)⁻¹y (no 2π term).
    A readout of width K > 1 takes y_train (P, K): independent outputs with the shared kernel
    (:mod:`.multi_output`), mean (P*, K), the action summed over outputs."""
    import mftsym

    from .multi_output import target_matrix
    x = as_inputs(x_train, "x_train")
    values = {**spec.params, **(params or {})}
    y, n_out = target_matrix(y_train, len(x), spec.network, values)
    noise = noise_value(spec, params)
    K = mftsym.kernel(spec, x, params=values)
    lam, V = eig_psd(K)
    ytil = V.T @ y
    denom = lam + noise
    if n_out > 1:
        denom = denom[:, None]
    action = 0.5 * n_out * np.sum(np.log(denom)) + 0.5 * np.sum(ytil ** 2 / denom)
    mean = var = None
    if x_test is not None:
        xt = as_inputs(x_test, "x_test", x.shape[1])
        ks = mftsym.kernel(spec, xt, x, params=values) @ V
        kss = np.array([float(mftsym.kernel(spec, row[None, :], params=values)[0, 0]) for row in xt]) \
            if len(xt) <= 8 else np.diag(mftsym.kernel(spec, xt, params=values))
        mean = ks @ (ytil / denom)
        var = kss - np.einsum("ij,j->i", ks ** 2, 1.0 / np.ravel(denom[:, 0] if n_out > 1 else denom))
    return Solution("gp", {}, float(action), mean, var, True, 0.0, 0, (), "",
                    extras={"noise_var": noise, "P": len(y), "outputs": n_out})


def predict_gp(spec, x_train, y_train, x_test) -> dict:
    """``dict(mean=, variance=, order_parameters=)`` for the validation theory hook."""
    return solve_gp(spec, x_train, y_train, x_test).as_prediction()


__all__ = ["predict_gp", "solve_gp"]
