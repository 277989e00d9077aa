r"""Solve the two-layer DMFT of gradient descent (Bordelon & Pehlevan 2022) on a data set.

Discrete time t_k = k dt (dt = η₀, the base learning rate; or T/steps for a gradient-flow horizon).
Given the error signal Δ(t) on the training points, the single-site population (exact or Monte
Carlo, :mod:`.populations`) yields Θ(t) and R(t), and the outputs on all points follow

    f(t+dt) = f(t) + dt [Θ_exact(0) + Θ̂(t) − Θ̂(0)] Δ(t) + R(t),    Δ = y − f on the training set,

the infinite-width limit of gradient descent with rate η₀γ₀²N (exact as dt → 0 and, at any dt,
exact up to O(dt² γ₀) per step).  γ₀ → 0: Θ(t) = Θ(0), R = 0, so Δ(t) = (I − dtΘ)^t y, the NTK
predictor.

``method = "forward"``: one causal sweep (Δ(t) computed as the populations evolve); its residual
is the self-consistency map applied once more to the result (same samples): ~1e-15 when solved.
``method = "iterate"``: damped Picard iterations Δ ← (1 − β)Δ + β F[Δ] from the lazy solution, with
F[Δ] the error signal the kernels driven by Δ produce; stops at ``tol`` or ``max_iterations``.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import EvaluationError, SpecError
from .config import dynamics_config
from .model import two_layer_model
from .populations import GaussianPopulation, MonteCarloPopulation

#: Largest K²P² for which the two-time kernels Φ(t,s), G(t,s) are returned (JSON size).
MAX_TWO_TIME_ENTRIES = 250_000


def _population(model, cfg, Kx, P, z=None, factor=None):
    solver = cfg.solver
    if solver == "auto":
        solver = "exact" if model.linear else "monte_carlo"
    if solver == "exact":
        if not model.linear:
            raise SpecError("the exact DMFT solver needs a linear network (its single site is Gaussian); "
                            "use solver = \"monte_carlo\"", "dynamics.solver")
        if cfg.backend != "numpy":
            raise SpecError("the exact (linear) solver runs on numpy; use backend = \"numpy\"", "dynamics.backend")
        return GaussianPopulation(Kx, P, cfg.gamma0, math.sqrt(model.readout_var))
    phi, dphi = model.activation(cfg.backend)
    return MonteCarloPopulation(Kx, P, cfg.gamma0, math.sqrt(model.readout_var), phi, dphi, cfg.samples,
                                seed=cfg.seed, backend=cfg.backend, device=cfg.device, z=z, factor=factor)


def _sweep(model, cfg, Kx, theta0, y, P, delta_in=None, z=None, record=True, factor=None):
    """One pass over time.  ``delta_in`` None: causal (Δ from the current f); else the populations
    are driven by ``delta_in`` (T, P) and the returned Δ is the one the resulting kernels produce."""
    pop = _population(model, cfg, Kx, P, z, factor)
    Pa = len(Kx)
    f = np.zeros(Pa)
    T = cfg.steps
    fs, deltas, ntks, snaps, snap_steps = [f.copy()], [], [], [], []
    theta_hat0 = pop.ntk()
    correction = theta0 - theta_hat0            # control variate: exact Θ(0) in place of the sampled one
    for k in range(T):
        if record and k % cfg.record_every == 0:
            ntks.append((correction + (theta_hat0 if k == 0 else pop.ntk()))[:P].copy())
            snaps.append(pop.snapshot())
            snap_steps.append(k)
        delta = y - f[:P]
        drive = delta if delta_in is None else delta_in[k]
        step = cfg.dt * (correction @ delta)
        if delta_in is not None and np.any(delta != drive):   # the output follows its own Δ
            step = step + cfg.dt * pop.ntk_matvec(delta - drive)
        f = f + step + pop.step(drive, cfg.dt)
        if not np.all(np.isfinite(f)):
            raise EvaluationError(f"the DMFT outputs diverged at step {k}: lower lr (dt = {cfg.dt:g}); the "
                                  "discrete dynamics need dt * lambda_max(NTK) < 2")
        deltas.append(delta)
        fs.append(f.copy())
    if record:                                    # the final time, always
        ntks.append((correction + pop.ntk())[:P])
        snaps.append(pop.snapshot())
        snap_steps.append(T)
    return {"f": np.array(fs), "delta": np.array(deltas), "ntk": np.array(ntks), "snaps": snaps,
            "snap_steps": snap_steps, "pop": pop}


def solve_dmft(spec, x_train, y_train, x_test=None, params=None, **overrides):
    """The DMFT solution of ``spec`` on the data: a :class:`~mftsym.solve.solution.Solution` with
    ``prediction`` the test outputs at the final time and ``extras``: ``times``, ``train_predictions``
    (T+1, P), ``test_predictions`` (T+1, P*), ``loss`` (T+1,), ``kernel_steps``, ``ntk`` (K, P, P),
    ``phi``/``g`` (K, K, P, P) -- Φ(t,s), G(t,s) on the training set at the recorded steps (omitted
    above MAX_TWO_TIME_ENTRIES entries; ``phi_equal_time``/``g_equal_time`` (K, P, P) always)."""
    from ..solve.solution import Solution
    cfg = dynamics_config(spec, params, **overrides)
    x = np.atleast_2d(np.asarray(x_train, float))
    y = np.asarray(y_train, float).reshape(len(x), -1)
    if y.shape[1] != 1:
        raise EvaluationError(f"the DMFT solver needs one output; y_train has shape {np.shape(y_train)}")
    y = y[:, 0]
    xt = np.zeros((0, x.shape[1])) if x_test is None else np.atleast_2d(np.asarray(x_test, float))
    from .deep_solver import is_deep, solve_deep
    if is_deep(spec) or cfg.solver in ("deep_exact", "deep_monte_carlo"):
        return solve_deep(spec, cfg, x, y, xt, params)
    model = two_layer_model(spec, x.shape[1], params)
    xa = np.vstack([x, xt])
    P = len(x)
    Kx = model.input_kernel(xa)
    theta0 = model.initial_ntk(xa)[:, :P]
    factor = model.input_factor(xa)
    factor = factor if factor.shape[1] < P else None      # use K^x = F Fᵀ when its rank is below P
    z = None
    if not (cfg.solver == "exact" or (cfg.solver == "auto" and model.linear)):
        z = np.random.default_rng(cfg.seed).standard_normal((cfg.samples, len(xa) + 1))
    if cfg.method == "forward":
        res = _sweep(model, cfg, Kx, theta0, y, P, z=z, factor=factor)
        check = _sweep(model, cfg, Kx, theta0, y, P, delta_in=res["delta"], z=z, record=False, factor=factor)
        residual = float(np.max(np.abs(check["delta"] - res["delta"]))) if cfg.steps else 0.0
        iterations = 1
        converged = residual <= max(cfg.tol, 1e-9 * max(1.0, float(np.max(np.abs(y)))))
    else:
        lam = (np.eye(P) - cfg.dt * theta0[:P])
        delta = np.zeros((cfg.steps, P))
        d = y.copy()
        for k in range(cfg.steps):
            delta[k] = d
            d = lam @ d
        residual, converged, iterations = math.inf, False, 0
        for iterations in range(1, cfg.max_iterations + 1):
            res = _sweep(model, cfg, Kx, theta0, y, P, delta_in=delta, z=z, record=False, factor=factor)
            residual = float(np.max(np.abs(res["delta"] - delta)))
            delta = (1 - cfg.damping) * delta + cfg.damping * res["delta"]
            if residual <= cfg.tol:
                converged = True
                break
        res = _sweep(model, cfg, Kx, theta0, y, P, delta_in=delta, z=z, factor=factor)
    f = res["f"]
    phi, g = res["pop"].kernels(res["snaps"], P)
    K = len(res["snaps"])
    kernels = {"phi_equal_time": np.array([phi[i, i] for i in range(K)]),
               "g_equal_time": np.array([g[i, i] for i in range(K)])}
    if K * K * P * P <= MAX_TWO_TIME_ENTRIES:
        kernels.update(phi=phi, g=g)
    loss = 0.5 * np.sum((f[:, :P] - y) ** 2, axis=1)
    pred = f[-1, P:][:, None] if len(xt) else None
    msg = "" if converged else (f"self-consistency residual {residual:.3g} above tol {cfg.tol:g}: raise "
                                "max_iterations or damping, or use method = \"forward\"")
    ntk_final = res["ntk"][-1]
    align = float(np.sum(ntk_final * np.outer(y, y)) / (np.linalg.norm(ntk_final) * (y @ y))) if y @ y > 0 else 0.0
    return Solution(theory="dmft",
                    order_parameters={"gamma0": cfg.gamma0, "final_train_loss": float(loss[-1]),
                                      "ntk_change": float(np.linalg.norm(ntk_final - res["ntk"][0])
                                                          / np.linalg.norm(res["ntk"][0])),
                                      "ntk_target_alignment": align},
                    action=float("nan"), prediction=pred, variance=None, converged=converged,
                    residual=residual, iterations=iterations, message=msg,
                    extras={"times": np.array(cfg.times), "train_predictions": f[:, :P],
                            "test_predictions": f[:, P:], "loss": loss, "kernel_steps": res["snap_steps"],
                            "ntk": res["ntk"], **kernels, "dt": cfg.dt, "steps": cfg.steps,
                            "solver": "exact" if res["pop"].exact else "monte_carlo",
                            "samples": None if res["pop"].exact else cfg.samples, "method": cfg.method,
                            "backend": cfg.backend})


def predict_dmft(spec, x_train, y_train, x_test, params=None) -> dict:
    """Hook for validation: the DMFT test outputs at the final time (+ the curve)."""
    sol = solve_dmft(spec, x_train, y_train, x_test, params=params)
    return {"mean": sol.prediction, "variance": None, "order_parameters": dict(sol.order_parameters),
            "curve": sol.extras["test_predictions"], "loss": sol.extras["loss"]}


def compare_dmft(spec, data, trainer=None) -> dict:
    """The validation comparison: the DMFT test outputs after the trainer's ``steps`` steps of base rate
    ``lr`` (these override ``[dynamics]``), its training-loss curve at times 0..T−1 (what gradient
    descent records at steps 1..T: the loss before each update) and the equations for the report."""
    from dataclasses import replace
    over = {}
    if getattr(trainer, "lr", None) is not None and getattr(trainer, "steps", None):
        over = {"lr": float(trainer.lr), "steps": int(trainer.steps), "time": None}
    dyn = {k: v for k, v in {**dict(spec.dynamics or {}), **over}.items() if v is not None}
    sol = solve_dmft(replace(spec, dynamics=dyn), data.x_train, data.y_train, data.x_test)
    return {"mean": sol.prediction, "kernel_source": "mftsym.dynamics",
            "loss_curve": [float(v) for v in sol.extras["loss"][:-1]],
            "order_parameters": dict(sol.order_parameters),
            "equations": list(EQUATIONS_DEEP if sol.extras.get("depth", 1) > 1 else EQUATIONS)}


def dmft_derivations(spec) -> list:
    """``[derive_dmft(spec)]``: what ``mftsym derive`` prints for ``kind = "dmft"``."""
    from .equations import derive_dmft
    return [derive_dmft(spec)]


#: LaTeX lines for reports.
EQUATIONS = (r"\partial_t f = \Theta(t)\,(y - f),\ \Theta = \sigma_a^2(\Phi + G\circ K^x)",)
EQUATIONS_DEEP = (r"f(t+dt) = f(t) + dt\,\Theta(t)\,(y - f),\ \Theta = \sum_{k=0}^{L} \tilde\Phi^k \circ G^{k+1}",)

__all__ = ["EQUATIONS", "compare_dmft", "dmft_derivations", "predict_dmft", "solve_dmft"]
