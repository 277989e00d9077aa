r"""The readout of a data-model saddle point on a finite training set (docs/theory/grokking.md,
"Finite training set"; Rubin, Seroussi & Ringel 2024, arXiv:2310.03789).

The data-model theory (:mod:`.data_model`) gives the first-layer weight distribution of the saddle point,
a mixture over the overlap Φ = w·w* and the orthogonal norm r = |w_⊥|² (the grid weights e^{−S(Φ, r)} at
the self-consistent τ; r = σ_w² held fixed in the ``paper`` treatment) with w_⊥ uniform on the sphere of
radius √r in the complement of w*.  Its predictor f̄_k = (σ̃_a² n/k!) ⟨m_k Σ_j τ_j m_j⟩ is the
population (n → ∞ at fixed σ²/n) kernel regression of the teacher.  Given the first layer, the readout
is Gaussian and the output is a GP with the readout kernel

    K(x, x') = σ̃_a² E_w[φ(w·x) φ(w·x')]        (σ̃_a² = readout_variance_expr: σ_a²/N in mean_field)

so on an actual training set (X, y) the predictor is the GP posterior mean

    f̄(x*) = K(x*, X) (K(X, X) + σ² I)^{-1} y,     σ² = noise_value (the likelihood variance).

This module samples w from the saddle's mixture, estimates K by Monte Carlo over the sampled weights
(:func:`mc_readout_kernel`; independent replicas give the Monte Carlo error) and evaluates f̄
(:func:`finite_n_predictor`).  :func:`population_modes` evaluates the population predictor's Hermite
coefficients at the saddle's weights for any ridge, so that the renormalised ridge κ of kernel regression
on n samples (Canatar, Bordelon & Pehlevan 2021; Simon et al. 2021; docs/theory/learning_curves.md),
κ = σ² + κ Σ_i η_i/(n η_i + κ) with η_i the eigenvalues of the readout kernel's integral operator, gives
the eigenlearning estimate of the finite-n predictor (σ² → κ in the population equations).
:func:`solve_on_training_set` closes the reduced theory's loop with this readout: the discrepancy on the training
points t = (K(X, X) + σ²I)⁻¹y gives the teacher-mode moments τ_k = (1/(n k!)) Σ_μ t_μ He_k(z_μ) that drive the
per-neuron action, in place of the population τ.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from ..errors import SpecError
from ..spec import X


def _activation(spec):
    from .deep_data_model import first_layer
    _, phi = first_layer(spec.network)
    return sp.lambdify(X, phi, modules=["scipy", "numpy"])


def saddle_state(spec, params=None, solution=None):
    """(num, w, tau, solution): the compiled reduced action (``data_model._Numeric``), the normalised grid
    weights w(Φ, r) of the saddle's first-layer distribution and the self-consistent τ."""
    from .data_model import _Numeric, data_model_theory, solve_data_model
    sol = solution if solution is not None else solve_data_model(spec, params=params)
    theory = data_model_theory(spec)
    num = _Numeric(theory, spec, params)
    tau = np.array([sol.order_parameters[f"tau{k}"] for k in theory.modes])
    w, _ = num.weights(tau)
    return num, w, tau, sol


def sample_saddle_weights(spec, n_weights, direction, params=None, seed=0, state=None):
    r"""``n_weights`` first-layer weights (n_weights, d) drawn from the saddle's mixture: a grid cell (Φ, r)
    with its weight, Φ (and r, when it relaxes) uniform within the cell, w = Φ w* + √r u_⊥ with u_⊥ uniform on
    the unit sphere orthogonal to ``direction`` (w*, normalised here)."""
    num, w, _, _ = state if state is not None else saddle_state(spec, params)
    ws = np.asarray(direction, dtype=float)
    d = int(round(num.vals["d"]))
    if ws.shape != (d,) or not np.linalg.norm(ws) > 0:
        raise SpecError(f"the teacher direction must be a nonzero vector of length d = {d}, got shape {ws.shape}",
                        "data.teacher_direction")
    ws = ws / np.linalg.norm(ws)
    rng = np.random.default_rng(seed)
    idx = rng.choice(w.size, size=int(n_weights), p=w.ravel())
    i, j = np.unravel_index(idx, w.shape)
    dphi = num.phi_grid[1] - num.phi_grid[0]
    phi = num.phi_grid[i] + dphi * (rng.random(len(i)) - 0.5)
    if num.fixed_r is not None:
        r = np.full(len(i), float(num.fixed_r))
    else:
        dr = num.r_grid[1] - num.r_grid[0]
        r = np.abs(num.r_grid[j] + dr * (rng.random(len(j)) - 0.5))
    u = rng.standard_normal((len(i), d))
    u -= np.outer(u @ ws, ws)
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    return phi[:, None] * ws + np.sqrt(r)[:, None] * u


def mc_readout_kernel(weights, x, x2=None, activation=None, scale=1.0, chunk=4096):
    """σ̃_a² (1/M) Σ_i φ(w_i·x) φ(w_i·x') over the M rows of ``weights`` (default φ = erf), (len(x), len(x2))."""
    from scipy.special import erf
    act = activation or erf
    x = np.asarray(x, dtype=float)
    x2 = x if x2 is None else np.asarray(x2, dtype=float)
    W = np.asarray(weights, dtype=float)
    K = np.zeros((len(x), len(x2)))
    for s in range(0, len(W), chunk):
        Wc = W[s:s + chunk]
        F1 = act(x @ Wc.T)
        F2 = F1 if x2 is x else act(x2 @ Wc.T)
        K += F1 @ F2.T
    return scale * K / len(W)


def gp_posterior_mean(K_train, K_test_train, y, noise):
    """K(x*, X) (K(X, X) + σ² I)^{-1} y by a Cholesky solve (y: (n,) or (n, k))."""
    from scipy.linalg import cho_factor, cho_solve
    if not noise > 0:
        raise SpecError(f"the noise variance must be positive, got {noise}", "posterior.noise_var")
    A = np.asarray(K_train, dtype=float) + noise * np.eye(len(K_train))
    return np.asarray(K_test_train) @ cho_solve(cho_factor(A, lower=True), np.asarray(y, dtype=float))


def finite_n_predictor(spec, x_train, y_train, x_test, direction, params=None, n_weights=20000, replicas=4,
                       seed=0, state=None, spectrum_points=0):
    """The saddle's predictor on a finite training set: the GP posterior mean with the Monte Carlo readout
    kernel of ``replicas`` independent sets of ``n_weights`` sampled weights.

    Returns a dict: ``mean`` (x_test,) with the pooled kernel (all replicas' weights), ``replicas``
    (replicas, x_test) with each replica's kernel, ``noise``, ``scale`` (σ̃_a²), and with
    ``spectrum_points`` > 0 ``eigs``: the eigenvalues of the pooled kernel's Gram matrix over that many of
    the test points divided by their number (the integral operator's spectrum, for :func:`renormalised_ridge`)."""
    from .values import noise_value
    state = state if state is not None else saddle_state(spec, params)
    num = state[0]
    scale, noise = float(num.vals["sa2"]), float(noise_value(spec, params))
    act = _activation(spec)
    xtr, xte = np.asarray(x_train, float), np.asarray(x_test, float)
    y = np.asarray(y_train, float).reshape(len(xtr), -1)
    Ktr, Kte, preds = 0.0, 0.0, []
    P = int(spectrum_points)
    Kss = 0.0
    for rep in range(int(replicas)):
        W = sample_saddle_weights(spec, n_weights, direction, params, seed=seed * 1000 + rep, state=state)
        k_tr = mc_readout_kernel(W, xtr, activation=act, scale=scale)
        k_te = mc_readout_kernel(W, xte, xtr, activation=act, scale=scale)
        preds.append(gp_posterior_mean(k_tr, k_te, y, noise)[:, 0])
        Ktr, Kte = Ktr + k_tr / replicas, Kte + k_te / replicas
        if P:
            Kss = Kss + mc_readout_kernel(W[: max(1, n_weights // 4)], xte[:P], activation=act, scale=scale) / replicas
    out = {"mean": gp_posterior_mean(Ktr, Kte, y, noise)[:, 0], "replicas": np.array(preds),
           "noise": noise, "scale": scale}
    if P:
        out["eigs"] = np.clip(np.linalg.eigvalsh(Kss) / P, 0, None)[::-1]
    return out


def population_modes(state, ridge=None, modes=None, spec=None, params=None, neurons=None):
    """Hermite coefficients f̄_k of the population predictor at the saddle's (fixed) weight distribution:
    (ridge I + σ̃_a² n diag(1/k!) G) τ = c, f̄ = c − ridge τ with G_kj = ⟨m_k m_j⟩ over the saddle's weights.
    ``ridge`` None is the noise σ² (the theory's own f̄, reproduced); ``modes`` (Hermite degrees, a superset of
    the theory's) adds modes to the linear system (needs ``spec``): the truncation to the teacher's modes tested.
    ``neurons`` = (Φ_i, r_i) arrays: G is their empirical average instead (e.g. a trained network's neurons)."""
    from math import factorial
    from .data_model import _Numeric, data_model_theory
    num, w, tau, _ = state
    th = num.theory
    src = num
    if modes is not None and tuple(sorted(set(int(k) for k in modes) | set(th.modes))) != tuple(th.modes):
        if spec is None:
            raise SpecError("extra modes need the spec", "data.modes")
        import dataclasses
        data = {**spec.data, "modes": sorted(set(int(k) for k in modes) | set(th.modes))}
        s2 = dataclasses.replace(spec, data=data)
        src = _Numeric(data_model_theory(s2), s2, params)
    ks, c = src.theory.modes, src.c
    if neurons is not None:
        phi, r = (np.asarray(a, dtype=float) for a in neurons)
        M = np.stack([np.broadcast_to(m(phi, r), phi.shape) for m in src.m])
        G = M @ M.T / len(phi)
    else:
        G = np.einsum("kij,lij,ij->kl", src.M, src.M, w)
    kf = np.array([factorial(k) for k in ks], float)
    lam = num.vals["noise"] if ridge is None else float(ridge)
    A = lam * np.eye(len(ks)) + num.vals["sa2"] * num.vals["n"] * G / kf[:, None]
    t = np.linalg.solve(A, c)
    return dict(zip(ks, c - lam * t))


def training_set_modes(t, x_train, direction, modes=(1, 3)):
    """τ_k = (1/(n k!)) Σ_μ t_μ He_k(z_μ), z = x·w*: the teacher-mode moments of a discrepancy vector t on the
    training points, through which t enters the per-neuron coupling (Σ_μ t_μ φ(w·x_μ))² ≈ n² (Σ_k τ_k m_k)²."""
    from math import factorial
    from numpy.polynomial.hermite_e import hermeval
    z = np.asarray(x_train, float) @ (np.asarray(direction, float) / np.linalg.norm(direction))
    t = np.asarray(t, float).reshape(len(z))
    return np.array([t @ hermeval(z, [0] * k + [1]) / (len(z) * factorial(k)) for k in modes])


def solve_on_training_set(spec, x_train, y_train, direction, params=None, n_pool=30000, stages=2, seed=0):
    r"""The reduced action closed with the readout on a training set (docs/theory/grokking.md, "Finite training set"):

        τ → p_τ(Φ, r) ∝ e^{−S(Φ, r; τ)} → K_τ = σ̃_a² E_{p_τ}[φ(w·x)φ(w·x')] on X → t = (K_τ + σ²I)⁻¹ y
          → τ_k = (1/(n k!)) Σ_μ t_μ He_k(z_μ)                                    (fixed point in τ).

    K_τ is an importance-weighted average over a pool of ``n_pool`` neurons drawn at the current reference τ (weights
    e^{−S(τ) + S(τ_ref)}); the pool is redrawn at the new τ ``stages`` times in all.  Returns a dict with ``tau``,
    ``tau_population`` (the population saddle's), ``state`` (for :func:`sample_saddle_weights` etc.), ``residual``
    (|map(τ) − τ| on the last pool) and ``ess`` (the smallest effective sample size of the importance weights)."""
    from scipy.optimize import root
    from .values import noise_value
    st = saddle_state(spec, params)
    num, _, tau_pop, sol = st
    modes = num.theory.modes
    sa2, noise = float(num.vals["sa2"]), float(noise_value(spec, params))
    xtr = np.asarray(x_train, float)
    y = np.asarray(y_train, float).reshape(len(xtr))
    if abs(len(xtr) - num.vals["n"]) > 0.5:
        raise SpecError(f"the training set has {len(xtr)} points but the spec's n_train is {num.vals['n']:g}; set n "
                        "to the training set's size", "data.n_train")
    ws = np.asarray(direction, float) / np.linalg.norm(direction)
    act = _activation(spec)
    tau_ref, ess, res = np.asarray(tau_pop, float), np.inf, np.inf
    for stage in range(int(stages)):
        ref = (num, num.weights(tau_ref)[0], tau_ref, sol)
        W = sample_saddle_weights(spec, n_pool, ws, params, seed=seed * 1000 + stage, state=ref)
        phi = W @ ws
        r = np.full(len(W), float(num.fixed_r)) if num.fixed_r is not None else (W * W).sum(1) - phi ** 2
        F = act(xtr @ W.T)
        S_ref = num.S(phi, r, *tau_ref)

        def weights(tau):
            lw = -(num.S(phi, r, *tau) - S_ref)
            w = np.exp(lw - lw.max())
            return w / w.sum()

        def tau_map(tau):
            K = sa2 * (F * weights(tau)) @ F.T
            return training_set_modes(np.linalg.solve(K + noise * np.eye(len(y)), y), xtr, ws, modes)

        out = root(lambda v: tau_map(v) - v, tau_ref, method="hybr")
        tau = out.x
        res = float(np.max(np.abs(tau_map(tau) - tau)))
        ess = min(ess, float(1 / (weights(tau) ** 2).sum()))
        tau_ref = tau
    return {"tau": tau, "tau_population": np.asarray(tau_pop, float), "residual": res, "ess": ess,
            "state": (num, num.weights(tau)[0], tau, sol)}


def renormalised_ridge(eigs, n, noise):
    """κ = σ² + κ Σ_i η_i/(n η_i + κ) (docs/theory/learning_curves.md) for the operator eigenvalues ``eigs``."""
    from .learning_curves import solve_kappa
    return solve_kappa(float(n), np.asarray(eigs, float), ridge=float(noise))


__all__ = ["finite_n_predictor", "gp_posterior_mean", "mc_readout_kernel", "population_modes", "renormalised_ridge",
           "sample_saddle_weights", "saddle_state", "solve_on_training_set", "training_set_modes"]
