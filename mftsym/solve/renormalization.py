"""Kernel renormalization (docs/theory/kernel_renormalization.md, docs/theory/deep_linear.md): prepare the spectrum once, then solve the
saddle-point equations with scipy (single), torch (batched Newton over a parameter grid) or mpmath
(high-precision confirmation of a root).

Solvers work in v = ln u (u > 0 automatically); the residual reported is max_l |u_l ∂S/∂u_l|,
the gradient in v, and convergence means residual ≤ tol · (Σ_l N_l + P).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConvergenceError, EvaluationError
from .common import (_value, as_inputs, as_targets, eig_psd, noise_value, readout_kernel)
from .compiled import compiled_action
from .derive import renormalization_theory
from .solution import Saddle, Solution

DEFAULT_STARTS = (1.0, 0.05, 0.3, 3.0, 20.0)
ADVICE = ("try more starts (starts=[...]), a larger max_iter, or check the data scale "
          "(y of order one, a kernel that is not singular with a tiny noise)")


@dataclass(frozen=True, eq=False)
class Problem:
    """Everything the solvers need for one spec and data set."""

    theory: object
    lam: np.ndarray
    V: np.ndarray
    ytil: np.ndarray
    env: dict
    k_star: np.ndarray | None = None      # (P*, P) readout-level kernel test x train
    k_ss: np.ndarray | None = None        # (P*,) diagonal test x test

    @property
    def y2(self):
        return self.ytil ** 2

    @property
    def P(self) -> int:
        return len(self.lam)

    @property
    def scale(self) -> float:
        widths = [float(np.max(self.env[w.name])) if hasattr(w, "name") else float(w) for w in self.theory.widths]
        return float(sum(widths) + self.P)


def prepare(spec, x_train, y_train, x_test=None, params=None, theory=None) -> Problem:
    theory = theory or renormalization_theory(spec)
    x = as_inputs(x_train, "x_train")
    y = as_targets(y_train, len(x))
    K = readout_kernel(spec, x, params=params)
    lam, V = eig_psd(K)
    values = {**spec.params, **(params or {})}
    env = {"noise": noise_value(spec, params)}
    cmp = compiled_action(theory, "numpy")
    for name in cmp.param_names[1:]:
        if name not in values:
            raise EvaluationError(f"no value for {name}; give it in [params] or with --set {name}=VALUE")
        env[name] = float(values[name])
    for w in theory.widths:
        v = _value(w, spec, "width", params)
        if v <= 0:
            raise EvaluationError(f"width {w} must be positive, got {v}")
    k_star = k_ss = None
    if x_test is not None:
        xt = as_inputs(x_test, "x_test", x.shape[1])
        k_star = readout_kernel(spec, xt, x, params=params)
        k_ss = readout_kernel(spec, xt, params=params, diag=True)
    return Problem(theory, lam, V, V.T @ y, env, k_star, k_ss)


# --------------------------------------------------------------------------- evaluation
def _eval(problem, u, what, backend="numpy", env=None):
    return compiled_action(problem.theory, backend).evaluate(u, problem.lam, problem.y2, env or problem.env, what)


def _grad_v(problem, v, env=None):
    u = np.exp(v)
    return u * _eval(problem, u, ("grad",), env=env)["grad"]


def _hess_v(problem, v, env=None):
    u = np.exp(v)
    r = _eval(problem, u, ("grad", "hess"), env=env)
    return r["hess"] * u[:, None] * u[None, :] + np.diag(u * r["grad"])


def saddle_at(problem, u, env=None) -> Saddle:
    u = np.asarray(u, dtype=float)
    r = _eval(problem, u, ("action", "grad", "hess"), env=env)
    return Saddle(dict(zip(problem.theory.names, u.tolist())), float(r["action"]),
                  float(np.max(np.abs(u * r["grad"]))), np.linalg.eigvalsh(0.5 * (r["hess"] + r["hess"].T)))


def posterior(problem, Q, noise):
    """Mean and variance on the test inputs of the GP with kernel Q·K (None without test inputs)."""
    if problem.k_star is None:
        return None, None
    kv = problem.k_star @ problem.V                       # (P*, P)
    denom = noise + Q * problem.lam
    mean = Q * kv @ (problem.ytil / denom)
    var = Q * problem.k_ss - Q ** 2 * np.einsum("ij,j->i", kv ** 2, 1.0 / denom)
    return mean, var


def _dedupe(saddles, rtol=1e-6):
    out = []
    for s in saddles:
        u = np.array(list(s.order_parameters.values()))
        if not any(np.allclose(u, np.array(list(t.order_parameters.values())), rtol=rtol, atol=1e-12) for t in out):
            out.append(s)
    return out


def _physical(saddles):
    """The stable saddle of lowest action first, then the rest by action."""
    return sorted(saddles, key=lambda s: (not s.stable, s.action))


# --------------------------------------------------------------------------- scipy
def solve_problem(problem, starts=None, tol=1e-10, max_iter=200, raise_on_failure=True) -> Solution:
    """All saddles reachable from ``starts`` (values of every u_l), with scipy's hybrid Powell root."""
    from scipy.optimize import root
    L = len(problem.theory.variables)
    starts = DEFAULT_STARTS if starts is None else starts
    found, iters, best_res = [], 0, np.inf
    for s0 in starts:
        v0 = np.full(L, np.log(float(s0))) if np.ndim(s0) == 0 else np.log(np.asarray(s0, dtype=float))
        with np.errstate(all="ignore"):
            sol = root(lambda v: _grad_v(problem, v), v0, jac=lambda v: _hess_v(problem, v), method="hybr",
                       options={"xtol": 1e-14, "maxfev": max_iter * (L + 1)})
        iters += int(sol.nfev)
        if not np.all(np.isfinite(sol.x)):
            continue
        sd = saddle_at(problem, np.exp(sol.x))
        best_res = min(best_res, sd.residual)
        if sd.residual <= tol * problem.scale:
            found.append(sd)
    return _finish(problem, _dedupe(found), iters, best_res, tol, raise_on_failure)


def _finish(problem, saddles, iters, best_res, tol, raise_on_failure, env=None):
    theory = problem.theory
    env = env or problem.env
    if not saddles:
        msg = (f"kernel renormalization did not converge: best residual {best_res:.3g} "
               f"(tolerance {tol * problem.scale:.3g}); {ADVICE}")
        if raise_on_failure:
            raise ConvergenceError(msg)
        return Solution(theory.theory, {n: float("nan") for n in theory.names}, float("nan"), None, None,
                        False, float(best_res), iters, (), msg)
    saddles = _physical(saddles)
    best = saddles[0]
    Q = float(np.prod(list(best.order_parameters.values())))
    mean, var = posterior(problem, Q, float(env["noise"]))
    msg = "" if best.stable else "the saddle found is not a minimum of the action (Hessian eigenvalue <= 0)"
    ops = {**best.order_parameters, "Q": Q}
    return Solution(theory.theory, ops, best.action, mean, var, True, best.residual, iters, tuple(saddles), msg,
                    extras={"noise_var": float(env["noise"]), "P": problem.P,
                            "approximation": getattr(theory, "approximation", "")})


# --------------------------------------------------------------------------- torch, batched
def solve_batch(problem, grid: dict, tol=1e-10, max_iter=100, device=None, start=1.0,
                raise_on_failure=False) -> list:
    """Damped Newton on ∂S/∂v = 0 for a batch of parameter points in one torch computation.

    ``grid`` maps parameter names of the action ("noise", widths) to 1-D arrays of equal length B.
    Returns B :class:`Solution` values (one saddle each, from ``start``).
    """
    import torch
    cmp = compiled_action(problem.theory, "torch")
    unknown = set(grid) - set(cmp.param_names)
    if unknown:
        raise EvaluationError(f"cannot batch over {sorted(unknown)}: the batched solver varies only "
                              f"{cmp.param_names} (parameters of the kernel change its spectrum)")
    B = len(next(iter(grid.values())))
    env = {k: torch.full((B,), float(v), dtype=torch.float64, device=device) for k, v in problem.env.items()}
    for k, v in grid.items():
        v = torch.as_tensor(np.asarray(v, dtype=float), dtype=torch.float64, device=device)
        if v.shape != (B,):
            raise EvaluationError(f"grid values must be 1-D arrays of one length; {k} has shape {tuple(v.shape)}")
        env[k] = v
    lam = torch.as_tensor(problem.lam, dtype=torch.float64, device=device)
    y2 = torch.as_tensor(problem.y2, dtype=torch.float64, device=device)
    L = cmp.L
    v = torch.full((B, L), float(np.log(start)), dtype=torch.float64, device=device)
    eye = torch.eye(L, dtype=torch.float64, device=device)
    scale = torch.as_tensor(sum(env[w.name] if hasattr(w, "name") else float(w) for w in problem.theory.widths)
                            + problem.P, device=device)
    done = torch.zeros(B, dtype=torch.bool, device=device)
    iters = torch.zeros(B, dtype=torch.long, device=device)
    for it in range(max_iter):
        u = torch.exp(v)
        r = cmp.evaluate(u, lam, y2, env, ("grad", "hess"))
        g = u * r["grad"]
        res = g.abs().amax(-1)
        done = res <= tol * scale
        if bool(done.all()):
            break
        H = r["hess"] * u[:, :, None] * u[:, None, :] + torch.diag_embed(g)
        # Levenberg-style shift where the Hessian is not positive: keeps the step a descent step.
        ev = torch.linalg.eigvalsh(H)
        shift = torch.clamp(-ev.min(-1).values + 1e-8 * scale, min=0.0)
        step = torch.linalg.solve(H + shift[:, None, None] * eye, g.unsqueeze(-1)).squeeze(-1)
        step = torch.clamp(step, -1.0, 1.0)
        v = torch.where(done[:, None], v, v - step)
        iters += (~done).long()
    u = torch.exp(v)
    r = cmp.evaluate(u, lam, y2, env, ("action", "grad", "hess"))
    u_np, act = u.cpu().numpy(), r["action"].cpu().numpy()
    g_np, H_np = (u * r["grad"]).cpu().numpy(), r["hess"].cpu().numpy()
    scale_np = np.broadcast_to(scale.cpu().numpy(), (B,))
    out = []
    envs = {k: np.broadcast_to(t.cpu().numpy(), (B,)) for k, t in env.items()}
    for b in range(B):
        env_b = {k: float(a[b]) for k, a in envs.items()}
        res = float(np.max(np.abs(g_np[b])))
        if not np.isfinite(res) or res > tol * scale_np[b]:
            msg = (f"batched Newton did not converge at {env_b}: residual {res:.3g} after {int(iters[b])} "
                   f"iterations; {ADVICE}; or solve this point with solve_problem (several starts)")
            if raise_on_failure:
                raise ConvergenceError(msg)
            out.append(Solution(problem.theory.theory, {n: float("nan") for n in problem.theory.names},
                                float("nan"), None, None, False, res, int(iters[b]), (), msg, extras=env_b))
            continue
        sd = Saddle(dict(zip(problem.theory.names, u_np[b].tolist())), float(act[b]), res,
                    np.linalg.eigvalsh(H_np[b]))
        sol = _finish(problem, [sd], int(iters[b]), res, tol, True, env=env_b)
        out.append(sol)
    return out


# --------------------------------------------------------------------------- mpmath
def confirm_root(problem, solution_or_u, dps: int = 30, env=None) -> dict:
    """Polish a root with mpmath.findroot at ``dps`` digits; returns the root, the distance from the
    float64 root, and the mpmath residual."""
    import mpmath
    if isinstance(solution_or_u, Solution):
        u0 = [solution_or_u.order_parameters[n] for n in problem.theory.names]
    else:
        u0 = list(np.atleast_1d(solution_or_u))
    cmp = compiled_action(problem.theory, "mpmath")
    env = env or problem.env
    with mpmath.workdps(dps):
        f = lambda *u: cmp.evaluate(list(u), problem.lam, problem.y2, env, ("grad",))["grad"]  # noqa: E731
        J = lambda *u: cmp.evaluate(list(u), problem.lam, problem.y2, env, ("hess",))["hess"]  # noqa: E731
        root = mpmath.findroot(f, [mpmath.mpf(x) for x in u0], J=J, tol=mpmath.mpf(10) ** (-dps + 5))
        root = [root] if not isinstance(root, mpmath.matrix) else [root[i] for i in range(len(u0))]
        resid = max(abs(g) for g in f(*root))
        dist = max(abs(a - mpmath.mpf(b)) / abs(a) for a, b in zip(root, u0))
    return {"root": {n: r for n, r in zip(problem.theory.names, root)}, "relative_distance": float(dist),
            "residual": float(resid), "dps": dps}


# --------------------------------------------------------------------------- entry points
def solve_kernel_renormalization(spec, x_train, y_train, x_test=None, params=None, starts=None, tol=1e-10,
                                 confirm=False) -> Solution:
    """Solve the kernel-renormalization saddle point of ``spec`` on data (scipy, all starts)."""
    problem = prepare(spec, x_train, y_train, x_test, params)
    sol = solve_problem(problem, starts=starts, tol=tol)
    if confirm:
        c = confirm_root(problem, sol)
        extras = {**sol.extras, "mpmath_relative_distance": c["relative_distance"], "mpmath_residual": c["residual"]}
        sol = Solution(**{**{k: getattr(sol, k) for k in ("theory", "order_parameters", "action", "prediction",
                                                           "variance", "converged", "residual", "iterations",
                                                           "saddles", "message")}, "extras": extras})
    return sol


def predict_kernel_renormalization(spec, x_train, y_train, x_test) -> dict:
    """``dict(mean=, variance=, order_parameters=)`` for the validation theory hook."""
    return solve_kernel_renormalization(spec, x_train, y_train, x_test).as_prediction()


def sweep_kernel_renormalization(spec, x_train, y_train, grid: dict, x_test=None, params=None, tol=1e-10,
                                 device=None) -> list:
    """Batched torch solve over ``grid`` (name -> 1-D array of action parameters, e.g. noise or N1)."""
    problem = prepare(spec, x_train, y_train, x_test, params)
    return solve_batch(problem, grid, tol=tol, device=device)


__all__ = ["Problem", "confirm_root", "predict_kernel_renormalization", "prepare", "saddle_at", "solve_batch",
           "solve_kernel_renormalization", "solve_problem", "sweep_kernel_renormalization"]
