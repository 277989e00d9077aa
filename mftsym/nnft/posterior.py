r"""The 1/N-corrected Bayesian posterior of a one-hidden-layer network.

The prior of the outputs on train (indices b, c, d) and test (*) points is, to O(1/N), an Edgeworth
density N(0, K)[1 + (1/4!) G4c_abcd He_abcd]; Gaussian noise sigma^2 adds to the two-point function
only.  With Sigma = K_XX + sigma^2 I, u = Sigma^-1 y, w = Sigma^-1 k_X*, s^2 = k** - k_*X w (the GP
posterior variance) and, per test point, the vector e over all points (train and test) with
e_X = -w, e_* = 1, e = 0 on the other test points, integrating the test output against the corrected
joint density gives (derived here; checked against importance-sampled posteriors of random networks
in tests/nnft)::

    E[f* | y]   = k_*X u + (1/6) G4c[e, u, u, u] - (1/2) G4c[Sigma^-1; e, u]           + O(1/N^2)
    Var[f* | y] = s^2    + (1/2) G4c[e, e, u, u] - (1/2) G4c[Sigma^-1; e, e]           + O(1/N^2)

with G4c[x1, x2, x3, x4] = G4c_IJKL x1_I x2_J x3_K x4_L and G4c[A; x, y] = G4c_IJKL A_IJ x_K y_L
(u and Sigma^-1 padded with zeros on the test points).  The mean is the familiar
k_*X u + (1/6) kt_bcd (u_b u_c u_d - 3 Sigma^-1_bc u_d), kt_bcd = G4c(*, b, c, d) - w_a G4c(a, b, c, d).
For one hidden layer G2 has no 1/N correction, so this is the whole O(1/N) shift.

Derivation of the variance: for each test point the joint density of z = (y, f*) is
N(z; 0, C)[1 + (1/24) G4c_IJKL He_IJKL(z)] with C the joint kernel (noise on the train block),
He_IJKL(z) = v_I v_J v_K v_L - (C^-1_IJ v_K v_L + 5 perms) + (C^-1_IJ C^-1_KL + 2 perms), v = C^-1 z.
To first order in G4c, E[g(f*) | y] = E_G[g] + (1/24) Cov_G(g, H), H = G4c_IJKL He_IJKL(y, f*), E_G the
GP posterior of f*.  Block inversion gives C^-1 = Sigma^-1 (+) 0 + e e^T / s^2 and
v = u + (f* - m) e / s^2, so H is a quartic in t = (f* - m)/s^2; only its t^2 and t^4 coefficients
6 G[e,e,u,u] - 6 G[Sigma^-1; e,e] - 6 G[e,e,e,e]/s^2 and G[e,e,e,e] enter Cov_G((f* - m)^2, H), which
gives the formula above (the e^4 terms cancel); g = f* - m gives the mean.

Two evaluation paths (``method``):

* ``"tensor"`` (the reference): the full G4c over all P + T points by quadrature
  (:func:`~mftsym.nnft.single_layer.connected_four_point_tensor`; cost ~ (P + T)^4 / 24 four-point
  moments), and the variance by exact Gauss-Hermite quadrature of the Edgeworth conditional.
* ``"contract"``: with G4c = (C_W^2/N)[3 M4 - (M (x) M + 2 perms)] (docs/theory/nnft.md) the
  M (x) M parts contract exactly with matrix products, e.g. for the pairing sum Pair(M)::

      Pair[e, u, u, u]        = 3 (e.M.u)(u.M.u)
      Pair[Sigma^-1; e, u]    = tr(Sigma^-1 M)(e.M.u) + 2 e.M.Sigma^-1.M.u
      Pair[e, e, u, u]        = (e.M.e)(u.M.u) + 2 (e.M.u)^2
      Pair[Sigma^-1; e, e]    = tr(Sigma^-1 M)(e.M.e) + 2 e.M.Sigma^-1.M.e

  and the M4 parts are expectations over one neuron's first-layer field z ~ N(0, K1) (all points):
  with phi = phi(z), s1 = u.phi, s2 = phi^T Sigma^-1 phi (train block), and e.phi per test point,

      M4 mean part  E[(e.phi)(s1^3 - 3 s1 s2)],     M4 variance part  E[(e.phi)^2 (s1^2 - s2)],

  estimated by vectorised sampling of z (chunked; antithetic pairs z, -z unless phi is odd or even,
  where the integrands are even in z and the pair would repeat itself).  Control variate: the same
  statistics of the Gaussian surrogate l(z) = mu + beta * z (mu_a = E[phi(z_a)], beta_a = E[phi'(z_a)]
  = E[z_a phi(z_a)]/K1_aa, the best linear predictor of phi from z_a), whose expectations are closed
  Wick sums (:func:`_surrogate_expectations`); its coefficient is fitted per test point.  The Monte
  Carlo error is then on the part of phi beyond its Gaussian (linear) projection only (zero for a
  linear phi) and is reported as ``correction_se`` / ``var_correction_se``.  Cost
  O(samples (P + T)(P + T + rank K1)) plus O(P^3).

``method="auto"`` uses the tensor path for P + T <= 8 points and the contraction path above.
"""

from __future__ import annotations


import numpy as np

TENSOR_MAX_POINTS = 8


def predict(spec, x_train, y_train, x_test, noise_var, params=None, order: int | None = None,
            variance: bool = True, method: str = "auto", samples: int = 200_000, seed: int = 0,
            chunk: int = 8192, sampler: str = "mc", device=None) -> dict:
    """dict(mean, gp_mean, correction, correction_se, gp_var, var, var_correction, var_correction_se,
    method) at the rows of ``x_test``.

    ``mean`` = GP mean + O(1/N) correction; ``gp_var`` the GP posterior variance of f(x*);
    ``var`` the O(1/N)-corrected posterior variance (``variance=False`` skips it on the tensor path).
    ``method``: "tensor" (exact quadrature tensor, cost ~ (P+T)^4; ``order`` is its Gauss-Hermite
    order), "contract" (matrix contractions + Monte Carlo with ``samples`` draws of the first-layer
    field, ``seed``, ``sampler`` "mc" or "qmc" (scrambled Sobol, ~1.4x smaller SE for the d = 8 erf
    example); the ``*_se`` entries are its standard errors, zero on the tensor path; ``device``
    ("cpu", "cuda", ...) runs its sampling in torch there, None in numpy) or
    "auto" (tensor for P + T <= 8 points).  See the module docstring for the equations."""
    xtr = np.atleast_2d(np.asarray(x_train, dtype=float))
    xte = np.atleast_2d(np.asarray(x_test, dtype=float))
    y = np.asarray(y_train, dtype=float).reshape(-1)
    if method == "auto":
        method = "tensor" if len(xtr) + len(xte) <= TENSOR_MAX_POINTS else "contract"
    if method == "tensor":
        return _predict_tensor(spec, xtr, y, xte, noise_var, params, order, variance)
    if method == "contract":
        return _predict_contract(spec, xtr, y, xte, noise_var, params, samples, seed, chunk, sampler, device)
    raise ValueError(f"method must be 'auto', 'tensor' or 'contract', not {method!r}")


def _gp_parts(K, P, y, noise_var):
    Ktr, kx, kss = K[:P, :P], K[P:, :P], np.diag(K)[P:]
    Si = np.linalg.inv(Ktr + noise_var * np.eye(P))
    Si = (Si + Si.T) / 2
    u = Si @ y
    W = kx @ Si                                     # (T, P): w per test point
    return Si, u, W, kx @ u, kss - np.einsum("tp,tp->t", W, kx)


def _predict_tensor(spec, xtr, y, xte, noise_var, params, order, variance):
    from .single_layer import connected_four_point_tensor
    P = len(xtr)
    K, G4 = connected_four_point_tensor(spec, np.concatenate([xtr, xte]), params=params, order=order)
    Si, u, W, gp_mean, gp_var = _gp_parts(K, P, y, noise_var)
    g_train = G4[:P, :P, :P, :P]
    g_test = G4[P:, :P, :P, :P]                     # (T, P, P, P)
    kt = g_test - np.einsum("ta,abcd->tbcd", W, g_train)
    h3 = np.einsum("b,c,d->bcd", u, u, u) - 3 * np.einsum("bc,d->bcd", Si, u)
    corr = np.einsum("tbcd,bcd->t", kt, h3) / 6
    T = len(xte)
    out = {"mean": gp_mean + corr, "gp_mean": gp_mean, "correction": corr, "correction_se": np.zeros(T),
           "gp_var": gp_var, "method": "tensor"}
    if variance:
        dm, dv = _edgeworth_conditional(K, G4, P, y, noise_var, gp_mean, gp_var)
        out.update(var=gp_var + dv, var_correction=dv, var_correction_se=np.zeros(T),
                   mean_quadrature=gp_mean + dm)
    return out


# ----------------------------------------------------------------------------- contraction path
def _phi_symmetry(fn, rng):
    """+1 if phi is even, -1 if odd, 0 otherwise (checked numerically on random points)."""
    x = rng.normal(size=64) * 3
    a, b = np.asarray(fn(x), dtype=float), np.asarray(fn(-x), dtype=float)
    scale = np.abs(a).max() + 1e-300
    if np.abs(a - b).max() <= 1e-12 * scale:
        return 1
    if np.abs(a + b).max() <= 1e-12 * scale:
        return -1
    return 0


def _linear_projection(fn, kdiag, nodes: int = 120):
    """(mu, beta): mu_a = E[phi(z_a)], beta_a = E[z_a phi(z_a)] / K_aa, z_a ~ N(0, K_aa) (Gauss-Hermite;
    their accuracy only affects the control variate's efficiency, never its bias)."""
    z, w = np.polynomial.hermite_e.hermegauss(nodes)
    w = w / w.sum()
    s = np.sqrt(np.clip(kdiag, 0, None))[:, None]
    f = np.broadcast_to(np.asarray(fn(s * z), dtype=float), (len(kdiag), nodes))
    mu = f @ w
    with np.errstate(invalid="ignore", divide="ignore"):
        beta = np.where(s[:, 0] > 0, (f * z) @ w / s[:, 0], 0.0)
    return mu, beta


def _pairing_sums(M, E, u, Si, P):
    """(mean, var) pairing parts Pair[e,u,u,u] - 3 Pair[S; e,u] and Pair[e,e,u,u] - Pair[S; e,e] for a
    Gaussian field of covariance M (all points); E (n, T) holds e per test point, u (P,), S (P, P)."""
    ME = M[:, :P].T @ E                           # (P, T): (M e)_b on the train points
    Mu = M[:, :P] @ u                             # (n,):   (M u)_a
    eMu = E.T @ Mu
    eMe = np.einsum("at,at->t", E, M @ E)
    uMu = u @ Mu[:P]
    tau = np.einsum("bc,cb->", Si, M[:P, :P])
    eMSMu = ME.T @ (Si @ Mu[:P])
    eMSMe = np.einsum("bt,bt->t", ME, Si @ ME)
    pm = 3 * eMu * uMu - 3 * (tau * eMu + 2 * eMSMu)
    pv = eMe * uMu + 2 * eMu**2 - (tau * eMe + 2 * eMSMe)
    return pm, pv


def _surrogate_expectations(mu, C, E, u, Si, P):
    """Exact E[(e.l)(s^3 - 3 s q)] and E[(e.l)^2 (s^2 - q)] for the Gaussian l ~ N(mu, C) (all points),
    s = u.l_X, q = l_X^T S l_X (Wick / Stein; reduces to _pairing_sums when mu = 0)."""
    a = E.T @ mu                                  # (T,)
    mtr = mu[:P]
    m = u @ mtr
    v = Si @ mtr
    q0 = mtr @ v
    CE = C[:, :P].T @ E                           # (P, T)
    Cu = C[:, :P] @ u                             # (n,)
    ceu = E.T @ Cu
    cee = np.einsum("at,at->t", E, C @ E)
    cuu = u @ Cu[:P]
    tau = np.einsum("bc,cb->", Si, C[:P, :P])
    eCv = CE.T @ v
    vCu = v @ Cu[:P]
    eCSCu = CE.T @ (Si @ Cu[:P])
    eCSCe = np.einsum("bt,bt->t", CE, Si @ CE)
    q = q0 + tau
    cube = a * (m**3 + 3 * m * cuu) + 3 * ceu * (m**2 + cuu)
    qs = a * (m * q + 2 * vCu) + 2 * m * eCv + ceu * q + 2 * eCSCu
    sq = a**2 * m**2 + a**2 * cuu + 4 * a * m * ceu + m**2 * cee + cee * cuu + 2 * ceu**2
    eq = a**2 * q + 4 * a * eCv + cee * q + 2 * eCSCe
    return cube - 3 * qs, sq - eq


def _stats(Phi, u, Si, Wt, P):
    """Per-sample (Y_mean (B, T), Y_var (B, T)) for field values Phi (B, n) (numpy or torch arrays)."""
    tr = Phi[:, :P]
    s1 = tr @ u
    s2 = ((tr @ Si) * tr).sum(1)
    e = Phi[:, P:] - tr @ Wt                      # (B, T): e.phi
    return e * (s1**3 - 3 * s1 * s2)[:, None], e**2 * (s1**2 - s2)[:, None]


class _TorchArrays:
    """The few array operations of the sampling loop, in torch float64 on ``device``."""

    def __init__(self, device, seed):
        import torch
        self.torch, self.device = torch, torch.device(device)
        self.gen = torch.Generator(device=self.device).manual_seed(int(seed))

    def tensor(self, a):
        return self.torch.as_tensor(np.ascontiguousarray(a), dtype=self.torch.float64, device=self.device)

    def normal(self, shape):
        return self.torch.randn(shape, generator=self.gen, dtype=self.torch.float64, device=self.device)

    def broadcast(self, value, like):
        value = value if isinstance(value, self.torch.Tensor) else self.torch.as_tensor(value, dtype=like.dtype,
                                                                                        device=like.device)
        return self.torch.broadcast_to(value.to(like.dtype), like.shape)

    @staticmethod
    def numpy(t):
        return t.detach().cpu().numpy()


def contracted_moments(fn, K1, u, Si, W, P, samples: int = 200_000, seed: int = 0, chunk: int = 8192,
                       antithetic: bool | None = None, sampler: str = "mc", replicates: int = 16,
                       device=None, fn_torch=None):
    """Monte Carlo estimates (value, SE) of m_t = E[(e.phi)(s1^3 - 3 s1 s2)] and
    v_t = E[(e.phi)^2 (s1^2 - s2)], z ~ N(0, K1) over all n = P + T points (see the module docstring),
    with the linear-Gaussian control variate.  Returns (m, m_se, v, v_se).

    ``sampler``: "mc" (i.i.d. normals; SE from the per-draw variance) or "qmc" (``replicates``
    independently scrambled Sobol sequences in the rank of K1, mapped by the normal quantile; SE from
    the spread of the replicate estimates).  With ``device`` ("cpu", "cuda", ...) the draws and their
    statistics run in torch float64 there, ``fn_torch`` being phi as a torch callable (the "mc" draws
    then come from a torch generator seeded by ``seed``: the same estimator, another stream);
    without it, numpy."""
    n = K1.shape[0]
    T = n - P
    rng = np.random.default_rng(seed)
    lam, Q = np.linalg.eigh(K1)
    keep = lam > 1e-12 * max(lam.max(), 1e-300)
    A = Q[:, keep] * np.sqrt(lam[keep])           # K1 = A A^T on its range
    mu, beta = _linear_projection(fn, np.diag(K1))
    C = beta[:, None] * K1 * beta[None, :]
    E = np.vstack([-W.T, np.eye(T)])              # (n, T)
    exact = _surrogate_expectations(mu, C, E, u, Si, P)
    if antithetic is None:
        antithetic = _phi_symmetry(fn, rng) == 0
    Wt = W.T.copy()
    xp = _TorchArrays(device, seed) if device is not None else None
    if xp is not None:
        if fn_torch is None:
            raise ValueError("contracted_moments on a torch device needs fn_torch, phi as a torch callable")
        fn = fn_torch
        A, u, Si, Wt, mu_d, beta_d = (xp.tensor(a) for a in (A, u, Si, Wt, mu, beta))
    else:
        mu_d, beta_d = mu, beta
    signs = (1.0, -1.0) if antithetic else (1.0,)
    R = replicates if sampler == "qmc" else 1
    if sampler not in ("mc", "qmc"):
        raise ValueError(f"sampler must be 'mc' or 'qmc', not {sampler!r}")
    # sums over independent units of [Y, C - E C] for mean (0) and var (1) estimands, per replicate
    sums = np.zeros((R, 2, 5, T))                 # Y, C, YY, CC, YC
    shift = None
    per = max(1, chunk // len(signs))
    per_rep = max(2, samples // len(signs) // R)
    for r in range(R):
        if sampler == "qmc":
            from scipy.special import ndtri
            from scipy.stats import qmc
            sob = qmc.Sobol(A.shape[1], scramble=True, seed=rng)
        remaining = per_rep
        while remaining > 0:
            b = min(per, remaining)
            remaining -= b
            if sampler == "qmc":
                xi = ndtri(np.clip(sob.random(b), 1e-16, 1 - 1e-16))
                xi = xi if xp is None else xp.tensor(xi)
            else:
                xi = rng.standard_normal((b, A.shape[1])) if xp is None else xp.normal((b, A.shape[1]))
            Z = xi @ A.T
            ys, cs = [0, 0], [0, 0]
            for sgn in signs:
                Zs = sgn * Z
                Phi = fn(Zs)
                Phi = np.broadcast_to(np.asarray(Phi, dtype=float), Zs.shape) if xp is None \
                    else xp.broadcast(Phi, Zs)
                yy = _stats(Phi, u, Si, Wt, P)
                cc = _stats(mu_d + beta_d * Zs, u, Si, Wt, P)
                for k in range(2):
                    ys[k] = ys[k] + yy[k] / len(signs)
                    cs[k] = cs[k] + cc[k] / len(signs)
            if shift is None:
                shift = [ys[k].mean(0) for k in range(2)]
            for k in range(2):
                y_, c_ = ys[k] - shift[k], cs[k] - (exact[k] if xp is None else xp.tensor(exact[k]))
                part = [y_.sum(0), c_.sum(0), (y_ * y_).sum(0), (c_ * c_).sum(0), (y_ * c_).sum(0)]
                sums[r, k] += part if xp is None else [xp.numpy(v) for v in part]
    if xp is not None:
        shift = [xp.numpy(v) for v in shift]
    units = per_rep * R
    out = []
    for k in range(2):
        sy, sc, syy, scc, syc = sums[:, k].sum(0) / units
        vy, vc, cyc = syy - sy**2, scc - sc**2, syc - sy * sc
        with np.errstate(invalid="ignore", divide="ignore"):
            coef = np.where(vc > 0, cyc / vc, 0.0)
        est = shift[k] + sy - coef * sc
        if sampler == "qmc":
            reps = (sums[:, k, 0] - coef * sums[:, k, 1]) / per_rep
            se = reps.std(0, ddof=1) / np.sqrt(R)
        else:
            se = np.sqrt(np.clip(vy - 2 * coef * cyc + coef**2 * vc, 0, None) / max(units - 1, 1))
        out += [est, se]
    return tuple(out)


def _predict_contract(spec, xtr, y, xte, noise_var, params, samples, seed, chunk, sampler="mc", device=None):
    from .single_layer import single_layer_matrices
    P, T = len(xtr), len(xte)
    X = np.concatenate([xtr, xte])
    mats = single_layer_matrices(spec, X, params=params)
    K, M, K1, c = mats["G2"], mats["M"], mats["K1"], mats["c"]
    Si, u, W, gp_mean, gp_var = _gp_parts(K, P, y, noise_var)
    E = np.vstack([-W.T, np.eye(T)])
    pm, pv = _pairing_sums(M, E, u, Si, P)
    fn_torch = None
    if device is not None:
        from ..compile.backends import lambdify_expr
        from ..spec import X
        fn_torch = lambdify_expr(X, mats["phi_expr"], "torch")
    m4m, m4m_se, m4v, m4v_se = contracted_moments(mats["phi"], K1, u, Si, W, P, samples, seed, chunk,
                                                     sampler=sampler, device=device, fn_torch=fn_torch)
    corr = c * (3 * m4m - pm) / 6
    dv = c * (3 * m4v - pv) / 2
    return {"mean": gp_mean + corr, "gp_mean": gp_mean, "correction": corr,
            "correction_se": abs(c) * m4m_se / 2, "gp_var": gp_var, "var": gp_var + dv,
            "var_correction": dv, "var_correction_se": abs(c) * 1.5 * m4v_se, "method": "contract",
            "samples": samples}


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


__all__ = ["contracted_moments", "importance_posterior_mean", "predict"]
