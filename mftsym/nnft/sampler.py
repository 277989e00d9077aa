"""Monte Carlo over random networks at initialisation, built from a spec (the reference the
finite-width theory is checked against).  Independent of every derivation: a plain torch forward
pass, vectorised over draws.

Two estimators of the output cumulants are offered:

* :func:`sample_outputs` -- raw outputs f(x_a) of ``draws`` independent networks;
* :func:`sample_readout_covariance` -- for each draw, the covariance of the output *given* the
  last hidden layer, Sigma_ab = C_W/n phi(h_a).phi(h_b) + C_b.  Because the readout weights are
  Gaussian and independent of everything below, f | hidden ~ N(0, Sigma) exactly, so
  E[f_a f_b] = E[Sigma_ab] and the connected four-point function is
  Cov(Sigma_ab, Sigma_cd) + Cov(Sigma_ac, Sigma_bd) + Cov(Sigma_ad, Sigma_bc)
  (a Rao-Blackwellised estimator: its relative error does not grow with the width).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..errors import EvaluationError


def network_plan(spec, params=None, widths=None, input_dim=None):
    """[(kind, data)] with numeric widths/variances: ('dense', (fan_in, width, cw_eff, cb_eff)) or
    ('act', fn), read off :func:`mftsym.layers.finite.network_plan` (the one place a spec's
    numbers are evaluated).

    ``widths`` maps width-symbol names to integers (overrides params).  cw_eff is the variance of an
    effective weight times fan_in (mean-field readout: cw / fan_in), cb_eff that of the bias.
    """
    from ..layers import require_supported
    from ..layers.dense import DensePlan
    from ..layers.finite import network_plan as numeric_plan
    require_supported(spec.network, "the NNFT network sampler")
    plan = numeric_plan(spec, width=dict(widths) if widths else None, input_dim=input_dim, params=params)
    out = []
    for layer in plan.layers:
        if isinstance(layer, DensePlan):
            cw = layer.w_mult ** 2 * layer.w_prior_var * layer.fan_in
            cb = layer.b_mult ** 2 * layer.b_prior_var
            out.append(("dense", (layer.fan_in, layer.width, cw, cb)))
        else:
            out.append(("act", layer[1]))
    return out


def _forward_hidden(plan, x, draws, gen):
    """Activations entering the readout, shape (draws, P, n_{L-1}); x is (P, d)."""
    h = x.expand(draws, *x.shape)
    for kind, data in plan[:-1]:
        if kind == "dense":
            fan, width, cw, cb = data
            if h.shape[-1] != fan:
                raise EvaluationError(f"input dimension {h.shape[-1]} does not match fan_in {fan}")
            W = torch.randn(draws, fan, width, generator=gen, dtype=torch.float64)
            h = h @ W * math.sqrt(cw / fan)
            if cb:
                h = h + math.sqrt(cb) * torch.randn(draws, 1, width, generator=gen, dtype=torch.float64)
        else:
            h = data(h)
    return h


def _chunks(draws, per_draw, budget=2.5e7):
    step = max(1, int(budget // max(per_draw, 1)))
    for i in range(0, draws, step):
        yield min(step, draws - i)


def _prepare(spec, x, params, widths):
    x_arr = np.asarray(x, dtype=float)
    plan = network_plan(spec, params, widths, input_dim=x_arr.shape[-1])
    if plan[-1][0] != "dense":
        raise EvaluationError("the last layer of the spec must be dense (the readout)")
    x = torch.as_tensor(x_arr, dtype=torch.float64)
    if x.ndim == 1:
        x = x[None, :]
    per = sum(d[0] * d[1] for k, d in plan if k == "dense") + x.shape[0] * sum(d[1] for k, d in plan if k == "dense")
    return plan, x, per


def sample_outputs(spec, x, draws: int, *, params=None, widths=None, seed: int = 0) -> np.ndarray:
    """Outputs (draws, P) of ``draws`` independent random networks of ``spec`` at the rows of ``x``.

    Only single-output readouts are sampled (the first output unit)."""
    plan, x, per = _prepare(spec, x, params, widths)
    gen = torch.Generator().manual_seed(seed)
    fan, _width, cw, cb = plan[-1][1]
    out = []
    for m in _chunks(draws, per):
        h = _forward_hidden(plan, x, m, gen)
        a = torch.randn(m, fan, 1, generator=gen, dtype=torch.float64)
        f = (h @ a)[..., 0] * math.sqrt(cw / fan)
        if cb:
            f = f + math.sqrt(cb) * torch.randn(m, 1, generator=gen, dtype=torch.float64)
        out.append(f)
    return torch.cat(out).numpy()


def sample_readout_covariance(spec, x, draws: int, *, params=None, widths=None, seed: int = 0) -> np.ndarray:
    """Sigma (draws, P, P): the output covariance given the last hidden layer, one per random network."""
    plan, x, per = _prepare(spec, x, params, widths)
    gen = torch.Generator().manual_seed(seed)
    fan, _width, cw, cb = plan[-1][1]
    out = []
    for m in _chunks(draws, per):
        h = _forward_hidden(plan, x, m, gen)
        out.append(h @ h.transpose(-1, -2) * (cw / fan) + cb)
    return torch.cat(out).numpy()


def _batched(stat, samples, batches):
    """Statistic and its standard error by batch means over ``batches`` equal batches."""
    parts = np.array_split(samples, batches)
    vals = np.array([stat(p) for p in parts])
    return stat(samples), vals.std(0, ddof=1) / math.sqrt(batches)


def fourth_cumulant_from_covariance(sigma: np.ndarray, batches: int = 20):
    """(G4c, SE), each of shape (P, P, P, P), from readout covariances (draws, P, P).

    G4c_abcd = Cov(S_ab, S_cd) + Cov(S_ac, S_bd) + Cov(S_ad, S_bc) (exact identity; see module doc).
    """
    def stat(s):
        c = s - s.mean(0)
        cov = np.einsum("mab,mcd->abcd", c, c) / max(len(s) - 1, 1)
        return cov + cov.transpose(0, 2, 1, 3) + cov.transpose(0, 3, 2, 1)
    return _batched(stat, sigma, batches)


def fourth_cumulant_from_outputs(f: np.ndarray, batches: int = 20):
    """(kappa4, SE) per input from raw outputs (draws, P): E[f^4] - 3 E[f^2]^2 (mean zero by symmetry)."""
    return _batched(lambda s: (s**4).mean(0) - 3 * (s**2).mean(0) ** 2, f, batches)


def second_moment_from_covariance(sigma: np.ndarray, batches: int = 20):
    """(E[f_a f_b], SE) from readout covariances."""
    return _batched(lambda s: s.mean(0), sigma, batches)


__all__ = ["fourth_cumulant_from_covariance", "fourth_cumulant_from_outputs", "network_plan",
           "sample_outputs", "sample_readout_covariance", "second_moment_from_covariance"]
