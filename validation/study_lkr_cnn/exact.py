r"""Independent references for the one-hidden-layer CNN of this study (no mftsym.validate code).

The network (run.py's SPEC): 2x2 windows, stride 2, on 4x4xC_in images (N_p = 4 patches of
n = 4 C_in inputs; C_in = 1 in run.py), C = N channels, NTK parametrization, no biases,

    f(x) = sqrt(σ_a²/(N N_p)) Σ_{i,c} v_ic φ(sqrt(C_W/n) w_c · p_i(x)),   v, w ~ N(0, 1),

posterior ∝ prior × exp(−Σ_μ (f(x_μ) − y_μ)²/(2σ²)).  Given the filters w the readout is Gaussian
and f | w is a GP with the empirical kernel K_w = (σ_a²/(N N_p)) Φ_w Φ_wᵀ; so

* ``exact_filters``: the exact finite-N posterior mean/variance by importance sampling over filters
  drawn from the prior, weight = the GP evidence N(y; 0, K_w + σ² I) (self-normalised; usable while
  the effective sample size stays in the hundreds: small N and P);
* ``exact_wishart``: the same integral for the *Gaussian-feature* network that local kernel
  renormalization assumes (Aiudi et al. 2025; docs/theory/local_kernel_renormalization.md): per
  channel, the patch features are replaced by Gaussian vectors of covariance K_ij, so the kernel is
  K_Q = (σ_a²/N_p) Σ_ij Q_ij K_ij with Q = a aᵀ/N, a ~ N(0, 1)^{N_p × N} (Wishart).  For a linear
  activation this *is* the CNN (features linear in w are Gaussian); for erf it differs from the CNN
  only by the non-Gaussianity of the features, and from the LKR saddle point only by the finite-N
  fluctuations of Q -- so it separates the two sources of error;
* ``langevin``: a hand-written OU-Langevin sampler of the posterior (the integrator of
  mftsym.validate.Langevin, gradients written out for this architecture, about 50x faster than the
  generic conv autograd path), Rao-Blackwellised posterior mean (readout integrated out at every
  recorded sample), independent chains -> honest standard errors across chains.
"""

from __future__ import annotations

import math

import numpy as np
import torch

ACTS = {"erf": (torch.erf, lambda z: (2 / math.sqrt(math.pi)) * torch.exp(-z * z)),
        "linear": (lambda z: z, lambda z: torch.ones_like(z))}


def patches(x) -> np.ndarray:
    """(P, 4, 2*2*C_in) non-overlapping 2x2 windows of 4x4xC_in images (C_in from the size), in
    row-major window order, pixels (row, column, channel) within a window, as the conv."""
    x = np.asarray(x, float)
    x = x.reshape(len(x), 4, 4, x[0].size // 16)
    return np.stack([x[:, a:a + 2, b:b + 2].reshape(len(x), -1) for a in (0, 2) for b in (0, 2)], 1)


def _gp(K, P, y, s2):
    """log evidence, posterior mean and variance on the test rows of batched kernels K (B, P+P*, P+P*)."""
    A = K[:, :P, :P] + s2 * torch.eye(P, dtype=K.dtype)
    L = torch.linalg.cholesky(A)
    al = torch.cholesky_solve(y[None, :, None].expand(len(K), P, 1), L)[..., 0]
    logz = -0.5 * (y * al).sum(1) - torch.log(torch.diagonal(L, dim1=1, dim2=2)).sum(1)
    ks = K[:, P:, :P]
    mean = (ks @ al[..., None])[..., 0]
    v = torch.linalg.solve_triangular(L, ks.transpose(1, 2), upper=False)
    var = torch.diagonal(K[:, P:, P:], dim1=1, dim2=2) - (v * v).sum(1)
    return logz, mean, var


def _reduce(logz, mean, var):
    lw = torch.cat(logz).numpy()
    m, v = torch.cat(mean).numpy(), torch.cat(var).numpy()
    w = np.exp(lw - lw.max())
    w /= w.sum()
    mu = w @ m
    m2 = w @ (v + m * m)
    return {"mean": mu, "mean_se": np.sqrt(np.sum(w[:, None] ** 2 * (m - mu) ** 2, 0)),
            "var": m2 - mu * mu, "ess": float(1 / np.sum(w ** 2)), "samples": len(lw)}


def exact_filters(data, N, samples, act="erf", s2=0.2, sa2=1.0, cw=1.0, seed=0, batch=20000) -> dict:
    """Exact posterior of the CNN by importance sampling over prior filters (see the module docstring)."""
    phi = ACTS[act][0]
    g = torch.Generator().manual_seed(seed)
    pall = torch.tensor(np.concatenate([patches(data.x_train), patches(data.x_test)]))
    y = torch.tensor(np.asarray(data.y_train, float)[:, 0])
    P, Np, n = len(y), pall.shape[1], pall.shape[2]
    out = ([], [], [])
    for b0 in range(0, samples, batch):
        B = min(batch, samples - b0)
        W = torch.randn(B, n, N, generator=g, dtype=torch.float64)
        h = phi(math.sqrt(cw / n) * torch.einsum("pin,bnc->bpic", pall, W)).reshape(B, len(pall), -1)
        for o, r in zip(out, _gp(sa2 / (N * Np) * h @ h.transpose(1, 2), P, y, s2)):
            o.append(r)
    return _reduce(*out)


def exact_wishart(Kij, y, N, samples, s2=0.2, sa2=1.0, seed=0, batch=20000, center=None) -> dict:
    """Posterior of the Gaussian-feature (Wishart) network: Kij (N_p, N_p, P+P*, P+P*) patch kernels
    on train then test rows (σ_a²/N_p not included), Q = a aᵀ/N with a ~ N(0, I)^{N_p x N} (the prior);
    importance weights = evidence.  ``center`` = Q*: draw a ~ N(0, Q*) instead (Wishart around Q*,
    e.g. the LKR saddle) and reweight by prior/proposal = det Q*^{N/2} exp(−(N/2) tr((I − Q*⁻¹) Q)),
    which keeps the effective sample size large at large N and P."""
    g = torch.Generator().manual_seed(seed)
    Kt = torch.as_tensor(Kij, dtype=torch.float64)
    y = torch.as_tensor(np.asarray(y, float).ravel())
    Np, P = Kt.shape[0], len(y)
    Lc = None if center is None else torch.linalg.cholesky(torch.as_tensor(center, dtype=torch.float64))
    out = ([], [], [])
    for b0 in range(0, samples, batch):
        B = min(batch, samples - b0)
        a = torch.randn(B, Np, N, generator=g, dtype=torch.float64)
        if Lc is not None:
            a = Lc @ a
        Q = a @ a.transpose(1, 2) / N
        K = sa2 / Np * torch.einsum("bij,ijpq->bpq", Q, Kt)
        logz, mean, var = _gp(K, P, y, s2)
        if Lc is not None:
            Ci = torch.cholesky_inverse(Lc)
            logz = logz - 0.5 * N * torch.einsum("ij,bji->b", torch.eye(Np, dtype=torch.float64) - Ci, Q) \
                + N * torch.log(torch.diagonal(Lc)).sum()
        for o, r in zip(out, (logz, mean, var)):
            o.append(r)
    return _reduce(*out)


def langevin(data, N, chains, eps, steps, burn_in, thin=10, act="erf", s2=0.2, sa2=1.0, cw=1.0, seed=0) -> dict:
    """OU-Langevin ensemble of the CNN posterior: per-chain time averages of the Rao-Blackwellised
    test mean m(w) and second moment m² + v, and of q̄ = mean v_ic² (Tr Q / N_p of the theory)."""
    phi, dphi = ACTS[act]
    g = torch.Generator().manual_seed(1_000_003 * seed + 17)
    ptr = torch.tensor(patches(data.x_train))
    pall = torch.cat([ptr, torch.tensor(patches(data.x_test))])
    y = torch.tensor(np.asarray(data.y_train, float)[:, 0])
    P, Np, n = ptr.shape
    M = chains
    m1, m2 = math.sqrt(cw / n), math.sqrt(sa2 / (N * Np))
    W = torch.randn(M, n, N, generator=g, dtype=torch.float64)
    v = torch.randn(M, Np, N, generator=g, dtype=torch.float64)
    a = math.exp(-eps)
    drift, kick = (1 - a) / s2, math.sqrt(1 - a * a)
    sums = {"m": 0.0, "m2": 0.0, "q": 0.0, "f": 0.0}
    count = 0
    pflat = ptr.reshape(P * Np, n)
    for k in range(steps):
        z = m1 * torch.matmul(pflat, W)                                  # (M, P*Np, N)
        h = phi(z)
        hv = h.view(M, P, Np, N)
        r = m2 * (hv * v[:, None]).sum((2, 3)) - y                       # (M, P)
        gv = m2 * torch.bmm(r[:, None, :], hv.reshape(M, P, Np * N)).view(M, Np, N)
        dz = dphi(z).view(M, P, Np, N).mul_(v[:, None]).mul_((m2 * r)[:, :, None, None])
        gW = m1 * torch.matmul(pflat.T, dz.view(M, P * Np, N))          # (M, n, N)
        W.mul_(a).add_(gW, alpha=-drift).add_(torch.randn(W.shape, generator=g, dtype=torch.float64), alpha=kick)
        v.mul_(a).add_(gv, alpha=-drift).add_(torch.randn(v.shape, generator=g, dtype=torch.float64), alpha=kick)
        if not bool(torch.isfinite(r).all()):
            raise FloatingPointError(f"Langevin diverged at step {k} (eps = {eps}); lower eps")
        if k >= burn_in and (k - burn_in) % thin == thin - 1:
            hall = phi(m1 * torch.einsum("pin,mnc->mpic", pall, W)).reshape(M, len(pall), -1)
            _, mean, var = _gp(sa2 / (N * Np) * hall @ hall.transpose(1, 2), P, y, s2)
            sums["m"] = sums["m"] + mean
            sums["m2"] = sums["m2"] + mean * mean + var
            sums["q"] = sums["q"] + (v * v).mean((1, 2))
            sums["f"] = sums["f"] + m2 * torch.einsum("mpi,mi->mp", hall[:, P:], v.reshape(M, -1))
            count += 1
    per = {k: (s / count).numpy() for k, s in sums.items()}
    mean = per["m"].mean(0)
    second = per["m2"].mean(0)

    def jk(stat, *arrs):
        loo = np.stack([stat(*[np.delete(x, i, 0) for x in arrs]) for i in range(M)])
        return np.sqrt((M - 1) / M * ((loo - loo.mean(0)) ** 2).sum(0))

    return {"mean": mean, "mean_se": per["m"].std(0, ddof=1) / math.sqrt(M),
            "mean_direct": per["f"].mean(0), "mean_direct_se": per["f"].std(0, ddof=1) / math.sqrt(M),
            "var": second - mean ** 2, "var_se": jk(lambda a, b: b.mean(0) - a.mean(0) ** 2, per["m"], per["m2"]),
            "qbar": float(per["q"].mean()), "qbar_se": float(per["q"].std(ddof=1) / math.sqrt(M)),
            "chains": M, "samples_per_chain": count}


def ntk_lambda_max(data, N, act="erf", s2=0.2, sa2=1.0, cw=1.0, seed=0) -> float:
    """Largest eigenvalue of the whitened NTK on the training set over σ² at a prior draw: the
    stiffest likelihood direction (OU stability needs eps * λ ≲ 2; bias ≈ eps λ / 2 in it)."""
    phi, dphi = ACTS[act]
    g = torch.Generator().manual_seed(seed)
    ptr = torch.tensor(patches(data.x_train))
    P, Np, n = ptr.shape
    m1, m2 = math.sqrt(cw / n), math.sqrt(sa2 / (N * Np))
    W = torch.randn(n, N, generator=g, dtype=torch.float64)
    v = torch.randn(Np, N, generator=g, dtype=torch.float64)
    z = m1 * torch.einsum("pin,nc->pic", ptr, W)
    Jv = m2 * phi(z).reshape(P, -1)
    JW = (m2 * m1 * torch.einsum("pic,ic,pin->pnc", dphi(z), v, ptr)).reshape(P, -1)
    T = Jv @ Jv.T + JW @ JW.T
    return float(torch.linalg.eigvalsh(T)[-1]) / s2


def main():
    """The N = 4 point of run.py (P = 24, the data of report.json): the library's Langevin ensemble,
    LKR and the GP against the exact CNN posterior (filters) and the exact Gaussian-feature
    posterior (Wishart); writes exact_N4.json.  About 2 minutes on one core."""
    import json
    import sys
    from pathlib import Path
    here = Path(__file__).resolve().parent
    sys.path.insert(0, str(here.parents[1]))
    sys.path.insert(0, str(here))
    import mftsym as mf
    from mftsym.solve.local_renormalization import patch_kernels, solve_local_kernel_renormalization
    from run import SPEC, dataset
    torch.set_num_threads(1)
    d, N = dataset(), 4
    P, Pt = len(d.x_train), len(d.x_test)
    xt, xs = d.x_train.reshape(P, -1), d.x_test.reshape(Pt, -1)
    spec = mf.Spec.from_dict(SPEC).with_params(N=N)
    sol = solve_local_kernel_renormalization(spec, xt, d.y_train, xs)
    cnn = exact_filters(d, N, 500_000)
    wis = exact_wishart(patch_kernels(spec, np.concatenate([xt, xs])), d.y_train, N, 200_000,
                        center=np.array(sol.extras["Q"]))
    row = [w for w in json.loads((here / "report.json").read_text())["widths"] if w["width"] == N][0]
    obs = row["observables"]["mean_rb"]
    lang, lse = np.ravel(obs["experiment"]), np.ravel(obs["se"])

    def rms(a, b):
        return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))
    z = (lang - cnn["mean"]) / np.hypot(lse, cnn["mean_se"])
    out = {"N": N, "P": P, "ess_filters": cnn["ess"], "ess_wishart": wis["ess"],
           "exact_cnn_se": float(cnn["mean_se"].mean()), "langevin_se": float(lse.mean()),
           "langevin_vs_exact_cnn": {"rms": rms(lang, cnn["mean"]), "max_abs_z": float(np.max(np.abs(z))),
                                     "rms_z": float(np.sqrt(np.mean(z ** 2)))},
           "rms_vs_exact_cnn": {"gp": rms(np.ravel(obs["theory"]["gp"]), cnn["mean"]),
                                "lkr": rms(sol.prediction, cnn["mean"]), "wishart": rms(wis["mean"], cnn["mean"])},
           "lkr_vs_exact_wishart": rms(sol.prediction, wis["mean"])}
    (here / "exact_N4.json").write_text(json.dumps(out, indent=1))
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
