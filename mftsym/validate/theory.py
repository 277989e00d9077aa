"""Theory predictions compared with finite-width ensembles, and the hook to add more.

A *theory* is a callable ``theory(spec, data, trainer=None) -> dict`` returning at least
``"mean"`` (prediction on ``data.x_test``, shape (P_test, out)) and optionally ``"var"``
(shape (P_test, out)), ``"readout_kernel"`` (the posterior mean of the readout kernel on the test
points, (P_test, P_test); see :meth:`EnsembleNetwork.readout_kernel`), ``"equations"`` (LaTeX
strings for the report) and ``"order_parameters"``.
``spec`` has its hidden widths set (e.g. ``spec.params["N1"] = N``), so a finite-width theory
(kernel renormalization, ``mftsym.solve``) sees the width it must predict for.  Register more with
:func:`register_theory` or pass ``theories={"name": callable}`` to :func:`mftsym.validate.validate`.

Built in:

* ``"gp"`` -- the NNGP posterior (THEORY.md section 1):
  f̄ = k*ᵀ (K + σ² I)⁻¹ y,  Var f = k** − k*ᵀ (K + σ² I)⁻¹ k*;
* ``"ntk"`` -- the infinite ensemble trained by gradient descent for ``t`` steps of rate η
  (Lee et al. 2019): μ_t = Θ_{*X} Θ⁻¹ (I − (I − ηΘ)^t) y (the discrete-time form of e^{−ηΘt}),
  Σ_t from the same reference.

Kernels come from :func:`mftsym.kernel` (derived from the spec), the library's one kernel
implementation; a spec it cannot evaluate is an error, raised before anything is trained or written.
"""

from __future__ import annotations

import inspect
import math

import numpy as np

from ..errors import EvaluationError, SpecError
from ..spec.expressions import make_symbol, parse_expression

THEORIES: dict = {}


def register_theory(name: str, fn) -> None:
    """Make ``fn(spec, data, trainer=None) -> {"mean": ..., "var": ...}`` available by ``name``."""
    THEORIES[name] = fn


def call_theory(fn, spec, data, trainer=None) -> dict:
    params = inspect.signature(fn).parameters
    out = fn(spec, data, trainer=trainer) if ("trainer" in params or any(
        p.kind == p.VAR_KEYWORD for p in params.values())) else fn(spec, data)
    if not isinstance(out, dict):
        out = {"mean": out}
    res = {k: v for k, v in out.items()}
    for key in ("mean", "var"):
        if key in res and res[key] is not None:
            arr = np.asarray(res[key], dtype=float)
            res[key] = arr.reshape(len(data.x_test), -1)
    return res


# --------------------------------------------------------------------------- kernels
def noise_var(spec, override=None) -> float:
    """σ² of the likelihood: ``override``, else ``[posterior] noise_var`` evaluated with params."""
    if override is not None:
        return float(override)
    post = spec.posterior or {}
    if "noise_var" not in post:
        raise SpecError("the spec has no [posterior] noise_var; add one (e.g. noise_var = 0.01) "
                        "or pass noise_var=... to the trainer", "posterior")
    expr = parse_expression(post["noise_var"], "posterior.noise_var")
    val = expr.subs({make_symbol(k): v for k, v in spec.params.items()})
    if not val.is_number or float(val) <= 0:
        raise SpecError(f"noise_var must evaluate to a positive number, got {val}", "posterior.noise_var")
    return float(val)


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
    """NNGP posterior mean and variance on ``data.x_test`` at noise σ² (trainer or spec)."""
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


def linear_network_posterior(spec, data, trainer=None, samples: int = 200_000, seed: int = 0,
                             chunk: int = 25_000) -> dict:
    """Exact finite-width posterior of a one-hidden-layer *linear* network without biases.

    f(x) = Σ_i a_i (w_i·x) times constants: given the hidden weights, f is a GP with kernel
    c · xᵀ C x' / d, C = WᵀW/N ~ Wishart(N, I/N) a priori, c = σ_w² σ_a² (read off the NNGP).  So
    E[g | D] = E_C[g(C) L(C)] / E_C[L(C)] with L(C) = N(y; 0, K_C + σ²I), g the GP posterior mean
    (or second moment) given C; estimated by importance sampling from the Wishart prior (Bartlett
    decomposition, ``samples`` draws, fixed ``seed``).  Reported ``order_parameters["mc_se_max"]`` is
    its Monte Carlo standard error (batch means over chunks).  Valid at any N, P, d: the finite-N
    reference for validation study 3.
    """
    from .torch_network import network_plan
    net = spec.network
    dense = net.dense_layers
    plan = network_plan(spec, None, data.input_dim)
    acts = [l for l in plan.layers if not hasattr(l, "fan_in")]
    if len(dense) != 2 or any(l.has_bias for l in plan.dense) or any(a[0] not in ("x", "identity") for a in acts):
        raise SpecError("linear_exact needs a one-hidden-layer linear network without biases")
    N, d = plan.dense[0].width, data.input_dim
    s2 = noise_var(spec, getattr(trainer, "noise_var", None))
    X, Xs, y = data.x_train, data.x_test, data.y_train
    K0, _ = kernel_matrix(spec, X[:1], kind="nngp")
    c = float(K0[0, 0]) / float(X[0] @ X[0] / d)
    P = len(X)
    rng = np.random.default_rng(seed)
    n_chunks = max(2, int(math.ceil(samples / chunk)))
    num_m = []
    for _ in range(n_chunks):
        A = np.zeros((chunk, d, d))
        for i in range(d):
            A[:, i, i] = np.sqrt(rng.chisquare(N - i, chunk)) if N - i > 0 else 0.0
            A[:, i, :i] = rng.standard_normal((chunk, i))
        C = np.einsum("sai,sbi->sab", A, A) / N
        XC = np.einsum("pa,sab->spb", X, C) * (c / d)
        K = np.einsum("spb,qb->spq", XC, X) + s2 * np.eye(P)
        ks = np.einsum("pa,sab,qb->spq", Xs, C, X) * (c / d)
        Kss = np.einsum("pa,sab,qb->spq", Xs, C, Xs) * (c / d)                   # the readout kernel on x*
        kss = np.diagonal(Kss, axis1=1, axis2=2)
        L = np.linalg.cholesky(K)
        sol = np.linalg.solve(K, np.broadcast_to(y, (chunk, *y.shape)))          # (S, P, out)
        logw = -np.log(np.diagonal(L, axis1=1, axis2=2)).sum(1) - 0.5 * np.einsum("spo,spo->s", sol, y[None] * 1.0)
        m = ks @ sol                                                              # (S, P*, out)
        v = kss - np.einsum("sij,sji->si", ks, np.linalg.solve(K, ks.transpose(0, 2, 1)))
        num_m.append((logw, m, m * m + v[..., None], Kss))
    lmax = max(float(lw.max()) for lw, *_ in num_m)
    parts = []
    for lw, m, m2, kr in num_m:
        w = np.exp(lw - lmax)
        parts.append((w.sum(), *(np.einsum("s,s...->...", w, a) for a in (m, m2, kr))))
    W = sum(p[0] for p in parts)
    mean = sum(p[1] for p in parts) / W
    m2 = sum(p[2] for p in parts) / W
    kread = sum(p[3] for p in parts) / W
    batch = np.stack([p[1] / p[0] for p in parts])
    wfrac = np.array([p[0] for p in parts]) / W
    se = np.sqrt(np.sum(wfrac[:, None, None] ** 2 * (batch - mean) ** 2, 0) * len(parts) / (len(parts) - 1))
    return {"mean": mean, "var": m2 - mean ** 2, "readout_kernel": kread,
            "equations": [r"\bar f = \frac{E_C[L(C)\, k_C^{*\top}(K_C+\sigma^2 I)^{-1}y]}{E_C[L(C)]},\ "
                          r"C = W^\top W/N \sim \mathrm{Wishart}",
                          r"L(C) = \mathcal N(y; 0, K_C + \sigma^2 I),\ K_C = c\, X C X^\top/d"],
            "kernel_source": "exact (Wishart importance sampling)",
            "order_parameters": {"mc_se_max": float(se.max()), "samples": n_chunks * chunk,
                                 "effective_samples": float(W ** 2 / sum(float(np.sum(np.exp(2 * (lw - lmax))))
                                                                         for lw, *_ in num_m))}}


def kernel_renormalization(spec, data, trainer=None) -> dict:
    """Kernel renormalization at finite α = P/N (THEORY.md sections 2-3), from ``mftsym.solve``:
    the posterior of the GP with kernel Q̄·K, Q̄ the saddle of the action at the spec's widths.
    Imported lazily so that :mod:`mftsym.validate` does not depend on the solver package."""
    from ..solve.api import theory_hooks
    s2 = getattr(trainer, "noise_var", None)
    if s2 is not None and abs(float(s2) - noise_var(spec)) > 1e-12 * max(1.0, abs(float(s2))):
        raise SpecError(f"the trainer's noise_var={s2} differs from the spec's [posterior] noise_var; "
                        "kernel_renormalization reads the spec: set it there", "posterior.noise_var")
    pred = theory_hooks()["kernel_renormalization"](spec, data.x_train, data.y_train, data.x_test)
    if pred.get("mean") is None:
        raise EvaluationError("kernel_renormalization returned no prediction on the test inputs")
    return {"mean": pred["mean"], "var": pred.get("variance"), "kernel_source": "mftsym.solve",
            "order_parameters": dict(pred.get("order_parameters") or {}),
            "equations": [r"\bar f(x_*) = \bar Q\, k_*^\top (\sigma^2 I + \bar Q K)^{-1} y",
                          r"\bar Q = \arg\min_Q\ \tfrac{N}{2}(Q - \ln Q) + \tfrac12 \ln\det(\sigma^2 I + Q K)"
                          r" + \tfrac12 y^\top (\sigma^2 I + Q K)^{-1} y"]}


def dmft_predictor(spec, data, trainer=None) -> dict:
    """DMFT of gradient descent in mu_p (docs/theory/dynamics.md): :func:`mftsym.dynamics.compare_dmft`."""
    from ..dynamics import compare_dmft
    return compare_dmft(spec, data, trainer)


register_theory("dmft", dmft_predictor)
register_theory("gp", gp_posterior)
register_theory("kr", kernel_renormalization)
register_theory("kernel_renormalization", kernel_renormalization)
register_theory("linear_exact", linear_network_posterior)
register_theory("ntk", ntk_predictor)

__all__ = ["THEORIES", "gp_posterior", "kernel_matrix", "kernel_renormalization", "linear_network_posterior", "noise_var", "ntk_predictor",
           "register_theory"]
