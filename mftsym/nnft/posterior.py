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

The posterior variance to the same order (``var``): for each test point the joint density of
z = (y, f*) is N(z; 0, C)[1 + (1/24) G4c_IJKL He_IJKL(z)] with C the joint kernel (noise on the
train block) and He_IJKL(z) = v_I v_J v_K v_L - (C^-1_IJ v_K v_L + 5 perms) + (C^-1_IJ C^-1_KL + 2 perms),
v = C^-1 z.  Expanding the conditional density of f* given y to first order in G4c::

    E[g(f*) | y] = E_G[g] + (1/24) Cov_G(g, H) + O(1/N^2),   H = G4c_IJKL He_IJKL(y, f*),

with E_G the GP posterior of f* (Gaussian, mean m, variance s^2); H is a quartic polynomial of f*, so
Gauss-Hermite quadrature with 8 nodes is exact.  g = f* reproduces the closed-form mean correction
above (a test checks it); g = (f* - m)^2 gives ``var`` = s^2 + (1/24) Cov_G((f* - m)^2, H).
"""

from __future__ import annotations

import numpy as np


def predict(spec, x_train, y_train, x_test, noise_var, params=None, order: int = 12,
            variance: bool = True) -> dict:
    """dict(mean, gp_mean, correction, gp_var, var, var_correction) at the rows of ``x_test``.

    ``mean`` = GP mean + O(1/N) correction; ``gp_var`` the GP posterior variance of f(x*);
    ``var`` the O(1/N)-corrected posterior variance (``variance=False`` skips it)."""
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
    out = {"mean": gp_mean + corr, "gp_mean": gp_mean, "correction": corr, "gp_var": gp_var}
    if variance:
        dm, dv = _edgeworth_conditional(K, G4, P, y, noise_var, gp_mean, gp_var)
        out.update(var=gp_var + dv, var_correction=dv, mean_quadrature=gp_mean + dm)
    return out


def _edgeworth_conditional(K, G4, P, y, noise_var, m, s2, nodes: int = 8):
    """(mean shift, variance shift) of f* | y at O(G4c), per test point, by exact Gauss-Hermite
    quadrature of the first-order Edgeworth conditional (see the module docstring)."""
    xi, w = np.polynomial.hermite_e.hermegauss(nodes)
    w = w / w.sum()
    T = K.shape[0] - P
    dm, dv = np.empty(T), np.empty(T)
    for t in range(T):
        idx = np.r_[np.arange(P), P + t]
        C = K[np.ix_(idx, idx)] + noise_var * np.diag(np.r_[np.ones(P), 0.0])
        Ci = np.linalg.inv(C)
        kap = G4[np.ix_(idx, idx, idx, idx)]
        k2 = np.einsum("ijkl,ij->kl", kap, Ci)
        k0 = np.einsum("kl,kl->", k2, Ci)
        s = np.sqrt(max(s2[t], 0.0))
        fs = m[t] + s * xi                                        # (Q,)
        z = np.concatenate([np.broadcast_to(y, (nodes, P)), fs[:, None]], axis=1)
        v = z @ Ci                                                # (Q, P+1)
        H = (np.einsum("ijkl,qi,qj,qk,ql->q", kap, v, v, v, v) - 6 * np.einsum("kl,qk,ql->q", k2, v, v) + 3 * k0)
        Hc = H - w @ H
        dm[t] = w @ ((fs - m[t]) * Hc) / 24
        dv[t] = w @ ((fs - m[t]) ** 2 * Hc) / 24
    return dm, dv


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
