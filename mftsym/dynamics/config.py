"""The ``[dynamics]`` section: how long and how finely to follow gradient descent, and how to solve.

Keys (all optional but one of ``lr``/``time``):

* ``gamma0`` -- the richness γ₀ (expression; default the ``[params]`` value ``gamma0``);
* ``lr`` -- the base learning rate η₀ of gradient descent (the raw step is η₀γ₀²N), or
  ``time`` -- a gradient-flow horizon T, followed with ``steps`` steps of size T/steps;
* ``steps`` -- number of time steps (default 100);
* ``loss`` -- ``"mse"`` (½Σ(f − y)², the only one implemented);
* ``solver`` -- ``"auto"`` (``"exact"`` for a linear network, else ``"monte_carlo"``),
  ``"exact"`` or ``"monte_carlo"``; ``"deep_exact"``/``"deep_monte_carlo"`` run a two-layer network through the
  deep solvers (:mod:`.deep`, :mod:`.deep_mc`; networks with more hidden layers always use them);
* ``samples`` (Monte Carlo draws of the single site, default 4000), ``seed`` (0),
  ``backend`` (``"numpy"`` or ``"torch"``), ``device`` (torch only);
* ``method`` -- ``"forward"`` (causal sweep, default) or ``"iterate"`` (damped self-consistency
  iterations on Δ(t), ``damping`` β in (0, 1], ``max_iterations``, ``tol``);
* ``record_every`` -- kernel snapshots Φ(t,s), G(t,s) every that many steps (default steps/10).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import SpecError
from ..spec.expressions import make_symbol, parse_expression

_KEYS = {"gamma0", "lr", "time", "steps", "loss", "solver", "samples", "seed", "backend", "device", "method",
         "damping", "max_iterations", "tol", "record_every"}


@dataclass(frozen=True)
class DynamicsConfig:
    gamma0: float
    dt: float
    steps: int
    loss: str = "mse"
    solver: str = "auto"
    samples: int = 4000
    seed: int = 0
    backend: str = "numpy"
    device: str | None = None
    method: str = "forward"
    damping: float = 0.5
    max_iterations: int = 200
    tol: float = 1e-10
    record_every: int = 10

    @property
    def times(self):
        return [self.dt * k for k in range(self.steps + 1)]


def _number(value, spec, where, params=None) -> float:
    expr = parse_expression(value, where) if isinstance(value, str) else None
    if expr is None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SpecError(f"must be a number or an expression, got {value!r}", where)
        return float(value)
    vals = {**spec.params, **(params or {})}
    val = expr.subs({make_symbol(k): v for k, v in vals.items()})
    if not val.is_number:
        raise SpecError(f"no value for {sorted(map(str, val.free_symbols))}; give it in [params]", where)
    return float(val)


def dynamics_config(spec, params=None, **overrides) -> DynamicsConfig:
    """The validated ``[dynamics]`` section of ``spec`` (``overrides`` replace keys)."""
    d = {**dict(spec.dynamics or {}), **overrides}
    unknown = set(d) - _KEYS
    if unknown:
        raise SpecError(f"unknown keys {sorted(unknown)} in [dynamics]; known: {sorted(_KEYS)}", "dynamics")
    g0 = _number(d.get("gamma0", "gamma0"), spec, "dynamics.gamma0", params)
    net_g0 = {**spec.params, **(params or {})}.get("gamma0")
    if "gamma0" in d and net_g0 is not None and abs(float(net_g0) - g0) > 1e-12 * max(1.0, g0):
        raise SpecError(f"[dynamics] gamma0 = {g0:g} differs from [params] gamma0 = {net_g0:g}, which the mu_p "
                        "networks use; give gamma0 in one place", "dynamics.gamma0")
    if not (g0 > 0 and math.isfinite(g0)):
        raise SpecError(f"gamma0 must be positive, got {g0}; the lazy (NTK) limit is gamma0 -> 0, "
                        "e.g. gamma0 = 1e-6", "dynamics.gamma0")
    steps = d.get("steps", 100)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise SpecError(f"steps must be a positive integer, got {steps!r}", "dynamics.steps")
    if ("lr" in d) == ("time" in d):
        raise SpecError("give exactly one of lr (the base GD rate eta0) or time (a gradient-flow horizon)",
                        "dynamics")
    if "lr" in d:
        dt = _number(d["lr"], spec, "dynamics.lr", params)
    else:
        dt = _number(d["time"], spec, "dynamics.time", params) / steps
    if not (dt > 0 and math.isfinite(dt)):
        raise SpecError(f"the time step must be positive, got {dt}", "dynamics.lr/time")
    loss = d.get("loss", "mse")
    if loss != "mse":
        raise SpecError(f"loss {loss!r} is not implemented; use loss = \"mse\"", "dynamics.loss")
    checks = {"solver": ("auto", "exact", "monte_carlo", "deep_exact",
                                 "deep_monte_carlo"), "backend": ("numpy", "torch"),
              "method": ("forward", "iterate")}
    for key, allowed in checks.items():
        if key in d and d[key] not in allowed:
            raise SpecError(f"{key} must be one of {allowed}, got {d[key]!r}", f"dynamics.{key}")
    samples = d.get("samples", 4000)
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 2:
        raise SpecError(f"samples must be an integer >= 2, got {samples!r}", "dynamics.samples")
    damping = float(d.get("damping", 0.5))
    if not 0 < damping <= 1:
        raise SpecError(f"damping must be in (0, 1], got {damping}", "dynamics.damping")
    rec = d.get("record_every", max(1, steps // 10))
    if isinstance(rec, bool) or not isinstance(rec, int) or rec < 1:
        raise SpecError(f"record_every must be a positive integer, got {rec!r}", "dynamics.record_every")
    return DynamicsConfig(gamma0=g0, dt=dt, steps=steps, loss=loss, solver=d.get("solver", "auto"),
                          samples=samples, seed=int(d.get("seed", 0)), backend=d.get("backend", "numpy"),
                          device=d.get("device"), method=d.get("method", "forward"), damping=damping,
                          max_iterations=int(d.get("max_iterations", 200)), tol=float(d.get("tol", 1e-10)),
                          record_every=rec)


__all__ = ["DynamicsConfig", "dynamics_config"]
