"""Infinite-width predictions on test points, in the ``compare(spec, data, trainer=None)`` form of
:mod:`mftsym.solve.registry` (``data`` has ``x_train``, ``y_train`` of shape (P, out), ``x_test``):

* ``"gp"`` -- the NNGP posterior (docs/theory/nngp_ntk.md, "GP posterior"):
  f̄ = k*ᵀ (K + σ² I)⁻¹ y,  Var f = k** − k*ᵀ (K + σ² I)⁻¹ k*;
* ``"ntk"`` -- the infinite ensemble trained by gradient descent for ``t`` steps of rate η
  (Lee et al. 2019; docs/theory/nngp_ntk.md, "NTK gradient flow"):
  μ_t = Θ_{*X} Θ⁻¹ (I − (I − ηΘ)^t) y (the discrete-time form of e^{−ηΘt}), Σ_t from the same reference.

Kernels come from :func:`mftsym.kernel` (derived from the spec), the library's one kernel
implementation; a spec it cannot evaluate is an error.  The trainer is read by duck typing
(``noise_var``, ``lr``, ``steps``), so nothing here depends on :mod:`mftsym.validate`.
"""

from __future__ import annotations

import numpy as np

from ..errors import SpecError
from .values import likelihood_multiplier, noise_value


# --------------------------------------------------------------------------- kernels
def noise_var(spec, override=None) -> float:
    """σ² of the likelihood: ``override`` (a trainer's), else the spec's ``[posterior] noise_var``
    evaluated with its params; in ``mu_p`` divided by γ₀²N (:func:`mftsym.solve.values.noise_value`)."""
    if override is not None:
        return float(override) / likelihood_multiplier(spec)
    if "noise_var" not in (spec.posterior or {}):
        raise SpecError("the spec has no [posterior] noise_var; add one (e.g. noise_var = 0.01) "
                        "or pass noise_var=... to the trainer", "posterior")
    return noise_value(spec)


def kernel_matrix(spec, x, x2=None, kind: str = "nngp", values=None):
    """(kernel, source): the infinite-width ``kind`` ("nngp"/"ntk") kernel between rows of x and
    x2 with parameter ``values``, from :func:`mftsym.kernel` -- the library's one kernel
    implementation, derived from the spec.  ``source`` ("mftsym.kernel") is recorded in the report.
    A spec it cannot evaluate (a parameter without a value, an unknown kernel kind, ...) raises
    its error (:class:`~mftsym.errors.SpecError` / :class:`~mftsym.errors.EvaluationError`) unchanged."""
    import mftsym
    k = mftsym.kernel(spec, x, x2, kind=kind, params=dict(values or spec.params))
    return np.asarray(k, dtype=float), "mftsym.kernel"


# --------------------------------------------------------------------------- predictions
def _solve_psd(A, B):
    try:
        c = np.linalg.cholesky(A)
        return np.linalg.solve(c.T, np.linalg.solve(c, B))
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(A, B, rcond=None)[0]


def gp_posterior(spec, data, trainer=None) -> dict:
    """NNGP posterior mean and variance on ``data.x_test`` at noise σ² (trainer or spec).  In ``mu_p`` the
    posterior is p₀(θ) exp(−γ₀²N Σ(f − y)²/(2σ²)) (the likelihood carries the learning-rate multiplier,
    docs/theory/dynamics.md): noise σ²/(γ₀²N) with the mu_p kernel, i.e. the ntk GP's mean and its
    variance over γ₀²N."""
    s2 = noise_var(spec, getattr(trainer, "noise_var", None))
    K, src = kernel_matrix(spec, data.x_train, kind="nngp")
    ks, _ = kernel_matrix(spec, data.x_test, data.x_train, kind="nngp")
    Kss = kernel_matrix(spec, data.x_test, kind="nngp")[0]
    kss = np.diag(Kss)
    A = K + s2 * np.eye(len(K))
    mean = ks @ _solve_psd(A, data.y_train)
    var = kss - np.einsum("ij,ji->i", ks, _solve_psd(A, ks.T))
    var = np.repeat(var[:, None], data.y_train.shape[1], axis=1)
    return {"mean": mean, "var": var, "kernel_source": src,
            "readout_kernel": Kss,                 # the infinite-width posterior keeps the prior kernel
            "equations": [r"\bar f(x_*) = k_*^\top (K + \sigma^2 I)^{-1} y",
                          r"\mathrm{Var} f(x_*) = k_{**} - k_*^\top (K + \sigma^2 I)^{-1} k_*"],
            "order_parameters": {"noise_var": s2}}


def ntk_predictor(spec, data, trainer=None) -> dict:
    """Mean and variance of an infinite ensemble after ``trainer.steps`` full-batch GD steps
    of rate ``trainer.lr`` on ½Σ(f−y)² (``steps=None``: converged, μ = Θ_{*X} Θ⁻¹ y)."""
    if spec.network.parametrization != "ntk":
        raise SpecError("the NTK predictor is implemented for the ntk parametrization; "
                        f"this spec uses {spec.network.parametrization!r}", "network.parametrization")
    lr = getattr(trainer, "lr", None)
    steps = getattr(trainer, "steps", None)
    xtr, xte, y = data.x_train, data.x_test, data.y_train
    T, src = kernel_matrix(spec, xtr, kind="ntk")
    Ts, _ = kernel_matrix(spec, xte, xtr, kind="ntk")
    K, _ = kernel_matrix(spec, xtr, kind="nngp")
    Ks, _ = kernel_matrix(spec, xte, xtr, kind="nngp")
    Kss = np.diag(kernel_matrix(spec, xte, kind="nngp")[0])
    lam, U = np.linalg.eigh(T)
    lam = np.maximum(lam, 1e-300)
    if lr is None or steps is None:
        decay = np.zeros_like(lam)
    else:
        decay = (1 - lr * lam) ** int(steps)
    # A = Θ⁻¹ (I − (I − ηΘ)^t), symmetric
    A = (U * ((1 - decay) / lam)) @ U.T
    mean = Ts @ A @ y
    M = Ts @ A                                       # (P*, P)
    var = Kss + np.einsum("ij,jk,ik->i", M, K, M) - 2 * np.einsum("ij,ij->i", M, Ks)
    var = np.repeat(var[:, None], y.shape[1], axis=1)
    return {"mean": mean, "var": var, "kernel_source": src,
            "equations": [r"\mu_t(x) = \Theta_{xX}\Theta^{-1}(I - (I-\eta\Theta)^t) Y",
                          r"\Sigma_t(x,x) = K_{xx} + M K_{XX} M^\top - 2 M K_{Xx},\ M = \Theta_{xX}\Theta^{-1}(I-(I-\eta\Theta)^t)"],
            "order_parameters": {"lambda_max_ntk": float(lam.max()),
                                 "lr_times_lambda_max": float(lr * lam.max()) if lr else None}}


__all__ = ["gp_posterior", "kernel_matrix", "noise_var", "ntk_predictor"]
