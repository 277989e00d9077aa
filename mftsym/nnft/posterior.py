r"""The 1/N-corrected Bayesian posterior mean of a one-hidden-layer network.

The prior of the outputs on train (y-indices b, c, d) and test (*) points is, to O(1/N), an
Edgeworth density N(0, K)[1 + (1/4!) G4c_abcd He_abcd]; Gaussian noise sigma^2 adds to the two-point
function only.  With Sigma = K_XX + sigma^2 I, u = Sigma^-1 y, w = Sigma^-1 k_X*, integrating the test
output against the corrected joint density gives (derived here; checked against importance-sampled
posteriors of random networks in tests/nnft)::

    E[f* | y] = k_*X u + (1/6) kt_bcd (u_b u_c u_d - 3 Sigma^-1_bc u_d) + O(1/N^2),
    kt_bcd    = G4c(*, b, c, d) - w_a G4c(a, b, c, d),

the second term being the leading finite-width correction to the GP predictor.  For one hidden
layer G2 has no 1/N correction, so this is the whole O(1/N) shift.
"""

from __future__ import annotations

import numpy as np


def predict(spec, x_train, y_train, x_test, noise_var, params=None, order: int = 12) -> dict:
    """dict(mean, gp_mean, correction, gp_var) at the rows of ``x_test``.

    ``mean`` = GP mean + O(1/N) correction; ``gp_var`` the GP posterior variance."""
    from .single_layer import connected_four_point_tensor
    xtr = np.atleast_2d(np.asarray(x_train, dtype=float))
    xte = np.atleast_2d(np.asarray(x_test, dtype=float))
    y = np.asarray(y_train, dtype=float).reshape(-1)
    P = len(xtr)
    X = np.concatenate([xtr, xte])
    K, G4 = connected_four_point_tensor(spec, X, params=params, order=order)
    Ktr, kx, kss = K[:P, :P], K[P:, :P], np.diag(K)[P:]
    Sig = Ktr + noise_var * np.eye(P)
    Si = np.linalg.inv(Sig)
    u = Si @ y
    W = kx @ Si                                     # (T, P): w per test point
    gp_mean = kx @ u
    gp_var = kss - np.einsum("tp,tp->t", W, kx)
    g_train = G4[:P, :P, :P, :P]
    g_test = G4[P:, :P, :P, :P]                     # (T, P, P, P)
    kt = g_test - np.einsum("ta,abcd->tbcd", W, g_train)
    h3 = np.einsum("b,c,d->bcd", u, u, u) - 3 * np.einsum("bc,d->bcd", Si, u)
    corr = np.einsum("tbcd,bcd->t", kt, h3) / 6
    return {"mean": gp_mean + corr, "gp_mean": gp_mean, "correction": corr, "gp_var": gp_var}


def importance_posterior_mean(spec, x_train, y_train, x_test, noise_var, draws: int, widths=None,
                              seed: int = 0, batches: int = 20):
    """Reference: the exact Bayesian posterior mean of random networks by importance sampling the prior
    (weights exp(-|f_X - y|^2 / 2 sigma^2)); returns (mean, SE) by batch means."""
    from .sampler import sample_outputs
    xtr = np.atleast_2d(np.asarray(x_train, dtype=float))
    X = np.concatenate([xtr, np.atleast_2d(np.asarray(x_test, dtype=float))])
    f = sample_outputs(spec, X, draws, widths=widths, seed=seed)
    P = len(xtr)
    y = np.asarray(y_train, dtype=float).reshape(-1)
    logw = -((f[:, :P] - y) ** 2).sum(1) / (2 * noise_var)

    def est(idx):
        lw = logw[idx] - logw[idx].max()
        w = np.exp(lw)
        return (w[:, None] * f[idx, P:]).sum(0) / w.sum()
    idx = np.arange(draws)
    parts = np.array_split(idx, batches)
    vals = np.array([est(p) for p in parts])
    return est(idx), vals.std(0, ddof=1) / np.sqrt(batches)


__all__ = ["importance_posterior_mean", "predict"]
