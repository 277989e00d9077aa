"""Theory predictions compared with finite-width ensembles: a view of the one theory registry.

A *comparison* is a callable ``compare(spec, data, trainer=None) -> dict`` returning at least
``"mean"`` (prediction on ``data.x_test``, shape (P_test, out)) and optionally ``"var"``
(shape (P_test, out)), ``"readout_kernel"`` (the posterior mean of the readout kernel on the test
points, (P_test, P_test); see :meth:`EnsembleNetwork.readout_kernel`), ``"equations"`` (LaTeX
strings for the report) and ``"order_parameters"``.
``spec`` has its hidden widths set (e.g. ``spec.params["N1"] = N``), so a finite-width theory
(kernel renormalization, ``mftsym.solve``) sees the width it must predict for.

Theories live in :mod:`mftsym.solve.registry` (name, solver, comparison); :data:`THEORIES` is the
live {name or alias: comparison} view of it that :func:`mftsym.validate.validate` reads.  Every
theory with a solver is compared by solving it on the data unless it declares its own comparison:
``"gp"`` and ``"ntk"`` (:mod:`mftsym.solve.predictors`), ``"kernel_renormalization"`` (alias
``"kr"``), ``"adaptive_kernel"``, and, registered here because it is a finite-width reference
built from the network plan, ``"linear_exact"``.  Register more with
:func:`mftsym.solve.registry.register_theory` (or :func:`register_theory` here, for a comparison
alone), or pass ``theory={"name": callable}`` to :func:`mftsym.validate.validate`.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping

import numpy as np

from ..errors import SpecError
from ..solve import registry
from ..solve.predictors import gp_posterior, kernel_matrix, noise_var, ntk_predictor
from ..solve.registry import get_theory, theory_names


class _Comparisons(Mapping):
    """{name or alias: compare(spec, data, trainer=None)} over :mod:`mftsym.solve.registry`."""

    def __getitem__(self, name):
        try:
            return get_theory(name).comparator()
        except SpecError:
            raise KeyError(name) from None

    def __iter__(self):
        return iter(theory_names(aliases=True))

    def __len__(self):
        return len(theory_names(aliases=True))

    def __repr__(self):
        return f"THEORIES({', '.join(self)})"


THEORIES = _Comparisons()


def register_theory(name: str, fn=None, **kwargs):
    """Make the comparison ``fn(spec, data, trainer=None) -> {"mean": ..., "var": ...}`` available by
    ``name`` in the one registry (a theory of that name keeps its solver unless ``solver=`` is given;
    other keywords go to :func:`mftsym.solve.registry.register_theory`)."""
    if "solver" not in kwargs and name in theory_names():
        kwargs["solver"] = get_theory(name).solver
    return registry.register_theory(name, kwargs.pop("solver", None), compare=fn, replace=True, **kwargs)


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


registry.register_theory("linear_exact", compare=linear_network_posterior, replace=True,
                         summary="exact finite-N posterior of a one-hidden-layer linear network (Wishart sampling)")


def kernel_renormalization(spec, data, trainer=None) -> dict:
    """Kernel renormalization at finite α = P/N (docs/theory/kernel_renormalization.md), from
    :mod:`mftsym.solve`: the posterior of the GP with kernel Q̄·K, Q̄ the saddle of the action at the
    spec's widths (the registry's ``"kernel_renormalization"`` comparison)."""
    return get_theory("kernel_renormalization").comparator()(spec, data, trainer)


__all__ = ["THEORIES", "gp_posterior", "kernel_matrix", "kernel_renormalization", "linear_network_posterior", "noise_var", "ntk_predictor",
           "register_theory"]
