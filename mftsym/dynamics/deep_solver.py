r"""Solve the deep DMFT of gradient descent (Bordelon & Pehlevan 2022; docs/theory/dynamics.md,
"Deep networks") on a data set: linear networks exactly (:class:`.deep.DeepLinearSweep`).

The solution has the two-layer solver's format (:func:`.solver.solve_dmft`): ``train_predictions``,
``test_predictions``, ``loss``, ``ntk`` at the recorded steps, ``phi``/``g`` (the last hidden layer's
Φ^L and ⟨a²φ'φ'⟩ = G^L/σ_a², as in the two-layer case) and, per hidden layer, ``phi_layers``
(Φ^k(t,s)) and ``g_layers`` (G^k(t,s), g^k = ∂(γ₀N f)/∂h^k) at the recorded steps.
"""

from __future__ import annotations

import numpy as np

from ..errors import SpecError
from .deep import DeepLinearSweep, deep_model
from .deep_mc import DeepMonteCarloSweep


#: Width w (standard deviation, in preactivation units) of the Gaussian smoothing of a kink for the deep
#: Monte Carlo solver (:func:`.deep.smooth_kinks`); w = 0.2, 0.1, 0.05 moved the outputs by <= 0.006
#: (docs/theory/dynamics.md, "Deep networks").
KINK_WIDTH = 0.1


def _kinked(phi) -> bool:
    """φ' jumps (relu, leaky_relu, abs, ...): its almost-everywhere derivative has a step."""
    import sympy as sp
    from ..derive.kernels import almost_everywhere_derivative
    d1 = almost_everywhere_derivative(phi)
    return any(d1.has(f) for f in (sp.Heaviside, sp.sign, sp.Piecewise))


def is_deep(spec) -> bool:
    """More than one hidden layer (the two-layer solver handles exactly one)."""
    from ..spec import Dense
    return sum(isinstance(l, Dense) for l in spec.network.layers) > 2


def solve_deep(spec, cfg, x, y, xt, params=None):
    """The deep DMFT solution (a :class:`~mftsym.solve.solution.Solution`); ``cfg`` the
    :class:`~.config.DynamicsConfig`."""
    from ..solve.solution import Solution
    from .solver import MAX_TWO_TIME_ENTRIES
    model = deep_model(spec, x.shape[1], params)
    solver = {"deep_exact": "exact", "deep_monte_carlo": "monte_carlo"}.get(cfg.solver, cfg.solver)
    if solver == "auto":
        solver = "exact" if model.linear else "monte_carlo"
    if solver == "exact" and not model.linear:
        raise SpecError("the exact DMFT solver needs a linear network (its single site is Gaussian); "
                        "use solver = \"monte_carlo\"", "dynamics.solver")
    swept = model
    if solver == "monte_carlo" and model.depth > 1 and any(_kinked(p) for p in model.phis):
        # pathwise responses miss the Dirac mass of φ'' at a kink: sweep the Gaussian-smoothed φ_w
        # (its φ_w'' carries that mass), keeping the exact Θ(0) of φ as the control variate
        from dataclasses import replace
        from .deep import smooth_kinks
        swept = replace(model, phis=tuple(q if (q := smooth_kinks(p, KINK_WIDTH)) is not None else p
                                          for p in model.phis))
    if cfg.backend != "numpy" and solver == "exact":
        raise SpecError("the exact deep solver runs on numpy; use backend = \"numpy\" (or solver = "
                        "\"monte_carlo\" for torch)", "dynamics.backend")
    if cfg.method != "forward" and solver == "exact":
        raise SpecError("the exact deep solver is one causal sweep (method = \"forward\"): it is exact, and "
                        "iterations driving its fields with an open-loop error signal diverge for deep linear "
                        "networks; method = \"iterate\" is available with solver = \"monte_carlo\"",
                        "dynamics.method")
    xa = np.vstack([x, xt])
    P = len(x)
    Kx = model.input_kernel(xa)
    if solver == "monte_carlo":
        sweep = DeepMonteCarloSweep(swept, Kx, y, P, cfg.gamma0, cfg.dt, cfg.steps, cfg.samples,
                                    model.initial_ntk(xa)[:, :P], seed=cfg.seed, backend=cfg.backend,
                                    device=cfg.device)
    else:
        sweep = DeepLinearSweep(model, Kx, y, P, cfg.gamma0, cfg.dt, cfg.steps)
    if cfg.method == "forward":
        res = sweep.run()
        check = sweep.run(delta_in=res["delta"])          # the self-consistency map applied once more
        iterations = 1
    else:                                                 # damped iterations from the lazy (NTK) solution
        theta0 = model.initial_ntk(xa)[:P, :P]
        delta = np.zeros((cfg.steps + 1, P))
        delta[0] = y
        for k in range(cfg.steps):
            delta[k + 1] = delta[k] - cfg.dt * theta0 @ delta[k]
        for iterations in range(1, cfg.max_iterations + 1):
            res = sweep.run(delta_in=delta)
            step = float(np.max(np.abs(res["delta"] - delta)))
            delta = (1 - cfg.damping) * delta + cfg.damping * res["delta"]
            if step <= cfg.tol:
                break
        res = sweep.run(delta_in=delta)
        check = res
        res = {**res, "delta": delta}
    residual = float(np.max(np.abs(check["delta"] - res["delta"])))
    converged = residual <= max(cfg.tol, 1e-9 * max(1.0, float(np.max(np.abs(y)))))
    f = res["f"]
    steps = sorted(set(range(0, cfg.steps + 1, cfg.record_every)) | {cfg.steps})
    idx = np.array(steps)
    L = model.depth
    if solver == "monte_carlo":
        ntk = res["ntk"][idx][:, :P]
        phi_l, g_l = sweep.kernels(res, steps)
    else:
        ntk = np.array([sweep.ntk(res, t) for t in steps])
        phi_l = [res["Phi"][k][np.ix_(idx, idx)][:, :, :P, :P] for k in range(L)]
        g_l = [res["G"][k][np.ix_(idx, idx)][:, :, :P, :P] for k in range(L)]
    K = len(steps)
    sa2 = model.readout_var
    kernels = {"phi_equal_time": np.array([phi_l[-1][i, i] for i in range(K)]),
               "g_equal_time": np.array([g_l[-1][i, i] / sa2 for i in range(K)])}
    if L * K * K * P * P <= MAX_TWO_TIME_ENTRIES:
        kernels.update(phi=phi_l[-1], g=g_l[-1] / sa2, phi_layers=np.array(phi_l), g_layers=np.array(g_l))
    loss = 0.5 * np.sum((f[:, :P] - y) ** 2, axis=1)
    pred = f[-1, P:][:, None] if len(xt) else None
    msg = "" if converged else (f"self-consistency residual {residual:.3g} above tol {cfg.tol:g}: raise "
                                "max_iterations or damping, or use method = \"forward\"")
    align = float(np.sum(ntk[-1] * np.outer(y, y)) / (np.linalg.norm(ntk[-1]) * (y @ y))) if y @ y > 0 else 0.0
    return Solution(theory="dmft",
                    order_parameters={"gamma0": cfg.gamma0, "final_train_loss": float(loss[-1]),
                                      "ntk_change": float(np.linalg.norm(ntk[-1] - ntk[0]) / np.linalg.norm(ntk[0])),
                                      "ntk_target_alignment": align, "depth": L},
                    action=float("nan"), prediction=pred, variance=None, converged=converged,
                    residual=residual, iterations=iterations, message=msg,
                    extras={"times": np.array(cfg.times), "train_predictions": f[:, :P],
                            "test_predictions": f[:, P:], "loss": loss, "kernel_steps": steps,
                            "ntk": ntk, **kernels, "dt": cfg.dt, "steps": cfg.steps, "solver": solver,
                            "samples": cfg.samples if solver == "monte_carlo" else None, "method": cfg.method, "backend": cfg.backend, "depth": L})


__all__ = ["is_deep", "solve_deep"]
