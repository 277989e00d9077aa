"""Observables of an ensemble, and their ensemble statistics with honest standard errors.

Per-member measurements (members are independent chains / independent trainings) are reduced
across members; the standard error of any smooth statistic is the jackknife over members.
"""

from __future__ import annotations

import numpy as np
import torch


# --------------------------------------------------------------------------- per-member observables
@torch.no_grad()
def empirical_kernels(ensemble, params, x) -> dict:
    """Empirical kernels on inputs x: ``hidden{l}`` = φ_l φ_lᵀ / width_l (M, P, P) after each
    activation, and ``output`` = the across-member covariance of the outputs (P, P)."""
    xt = torch.as_tensor(x, dtype=ensemble.dtype, device=ensemble.device)
    f, hidden = ensemble.forward(params, xt, return_hidden=True)
    out = {f"hidden{l}": (h @ h.transpose(1, 2) / h.shape[-1]).cpu().numpy() for l, h in enumerate(hidden)}
    fo = f[..., 0].cpu().numpy()
    out["output"] = np.cov(fo.T, bias=False) if fo.shape[0] > 1 else np.zeros((fo.shape[1],) * 2)
    return out


@torch.no_grad()
def teacher_overlaps(ensemble, params, direction) -> dict:
    """First-layer neuron overlaps w_i·w* and norms |w_i|² with effective weights, (M, width)."""
    w = ensemble.first_layer_weights(params)                      # (M, N, d)
    ws = torch.as_tensor(np.asarray(direction, float), dtype=w.dtype, device=w.device)
    return {"overlap": (w @ ws).cpu().numpy(), "norm2": (w * w).sum(-1).cpu().numpy()}


@torch.no_grad()
def readout_norm(ensemble, params) -> torch.Tensor:
    """Mean squared raw readout weight over its fan-in, per member (M,): relative to its prior
    variance this estimates the kernel-renormalization scalar of a one-hidden-layer network."""
    W = params[-2] if ensemble.plan.dense[-1].has_bias else params[-1]
    return (W * W).flatten(1).mean(1) / ensemble.prior_vars[-2 if ensemble.plan.dense[-1].has_bias else -1]


def test_error(pred, y_test) -> float:
    """Mean squared error of predictions (..., P*, out) against y_test (P*, out)."""
    return float(np.mean((np.asarray(pred) - np.asarray(y_test)) ** 2))


# --------------------------------------------------------------------------- statistics
def jackknife(stat, samples: np.ndarray):
    """(value, standard error) of ``stat(samples)`` by leave-one-member-out (axis 0)."""
    samples = np.asarray(samples)
    m = samples.shape[0]
    value = np.asarray(stat(samples))
    if m < 2:
        return value, np.full_like(value, np.nan, dtype=float)
    loo = np.stack([np.asarray(stat(np.delete(samples, i, axis=0))) for i in range(m)])
    se = np.sqrt((m - 1) / m * ((loo - loo.mean(0)) ** 2).sum(0))
    return value, se


def mean_and_se(samples: np.ndarray):
    """Across-member mean and its standard error (axis 0)."""
    samples = np.asarray(samples, float)
    m = samples.shape[0]
    se = samples.std(0, ddof=1) / np.sqrt(m) if m > 1 else np.full(samples.shape[1:], np.nan)
    return samples.mean(0), se


def split_rhat(chains: np.ndarray) -> np.ndarray:
    """Split-R̂ (Gelman et al.) of chains shaped (members, draws, ...): each chain is split in two
    halves, R̂ = sqrt(((n−1)/n W + B/n) / W).  Values near 1 (< 1.05) indicate mixing."""
    chains = np.asarray(chains, float)
    m, n = chains.shape[:2]
    half = n // 2
    if half < 2:
        return np.full(chains.shape[2:], np.nan)
    c = np.concatenate([chains[:, :half], chains[:, half:2 * half]], axis=0)
    means = c.mean(1)
    W = c.var(1, ddof=1).mean(0)
    B = half * means.var(0, ddof=1)
    var_plus = (half - 1) / half * W + B / half
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sqrt(np.where(W > 0, var_plus / W, np.nan))


def discrepancy(exp, se, theory) -> dict:
    """Compare an ensemble estimate (exp ± se) with theory pointwise.

    Returns z = (exp − theory)/se (max |z|, rms z, chi² per point), the rms discrepancy
    D = sqrt(mean((exp − theory)² − se²)) debiased for Monte Carlo noise, and σ(log D).
    """
    exp, se, theory = (np.asarray(a, float).ravel() for a in (exp, se, theory))
    delta = exp - theory
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, delta / se, np.nan)
    n = delta.size
    d2 = float(np.mean(delta ** 2 - se ** 2))
    s_d2 = float(np.sqrt(np.sum(4 * delta ** 2 * se ** 2 + 2 * se ** 4)) / n)
    d2_floor = max(d2, s_d2 * 1e-3, 1e-300)
    return {"max_abs_z": float(np.nanmax(np.abs(z))), "rms_z": float(np.sqrt(np.nanmean(z ** 2))),
            "chi2_per_point": float(np.nanmean(z ** 2)), "rms_discrepancy": float(np.sqrt(d2_floor)),
            "rms_discrepancy_raw": float(np.sqrt(np.mean(delta ** 2))),
            "sigma_log_discrepancy": float(s_d2 / (2 * d2_floor)), "resolved": bool(d2 > 2 * s_d2),
            "mean_abs_se": float(np.mean(np.abs(se)))}


def loglog_slope(widths, values, sigma_log=None) -> dict:
    """Weighted least-squares fit log(value) = a + slope log(width); slope error from the
    weights (σ of log value) when given, else from the residuals."""
    x = np.log(np.asarray(widths, float))
    y = np.log(np.asarray(values, float))
    n = len(x)
    if n < 2:
        return {"slope": float("nan"), "slope_se": float("nan"), "intercept": float("nan"), "n": n}
    if sigma_log is None:
        w = np.ones(n)
    else:
        w = 1 / np.maximum(np.asarray(sigma_log, float), 1e-12) ** 2
    A = np.stack([np.ones(n), x], 1)
    cov = np.linalg.inv(A.T @ (A * w[:, None]))
    coef = cov @ A.T @ (w * y)
    resid = y - A @ coef
    chi2 = float(np.sum(w * resid ** 2))
    if sigma_log is None:
        scale = chi2 / (n - 2) if n > 2 else float("nan")
        se = float(np.sqrt(cov[1, 1] * scale))
    else:
        se = float(np.sqrt(cov[1, 1]))
    return {"slope": float(coef[1]), "slope_se": se, "intercept": float(coef[0]), "chi2": chi2, "n": n}


__all__ = ["discrepancy", "empirical_kernels", "jackknife", "loglog_slope", "mean_and_se", "readout_norm",
           "split_rhat", "teacher_overlaps", "test_error"]
