"""Width-scaling fits for Monte Carlo cumulants (diffrax-style order checks)."""

from __future__ import annotations

import numpy as np


def _wls(A, y, se):
    w = 1.0 / np.asarray(se, dtype=float)
    coef, *_ = np.linalg.lstsq(A * w[:, None], y * w, rcond=None)
    cov = np.linalg.inv((A * w[:, None]).T @ (A * w[:, None]))
    return coef, np.sqrt(np.diag(cov))


def loglog_slope(widths, values, ses, subleading: bool = False):
    """(slope, SE) of log|value| against log N, weighted by the relative errors.

    ``subleading=True`` adds a beta/N term to the fit (log k = c + s log N + beta/N), which absorbs
    the O(1/N^2) part of a quantity whose leading term is O(1/N) (deep networks)."""
    N = np.asarray(widths, dtype=float)
    v = np.asarray(values, dtype=float)
    rel = np.asarray(ses, dtype=float) / np.abs(v)
    cols = [np.ones_like(N), np.log(N)] + ([1.0 / N] if subleading else [])
    coef, err = _wls(np.stack(cols, 1), np.log(np.abs(v)), rel)
    return float(coef[1]), float(err[1])


def leading_coefficient(widths, values, ses):
    """(a, SE) from the fit N * value = a + b / N: the O(1/N) coefficient extrapolated to N -> oo."""
    N = np.asarray(widths, dtype=float)
    coef, err = _wls(np.stack([np.ones_like(N), 1.0 / N], 1), N * np.asarray(values), N * np.asarray(ses))
    return float(coef[0]), float(err[0])


__all__ = ["leading_coefficient", "loglog_slope"]
