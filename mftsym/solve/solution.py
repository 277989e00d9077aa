"""Frozen result values of the solvers: :class:`Saddle` (one stationary point of an action) and
:class:`Solution` (the physical saddle, the posterior it predicts, and every saddle found)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

import numpy as np


def _jsonable(v):
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, (int, float, np.floating, np.integer)):
        f = float(v)
        return f if math.isfinite(f) else str(f)
    if isinstance(v, Mapping):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if hasattr(v, "detach"):
        v = v.detach().cpu().numpy()
    if isinstance(v, (np.ndarray, list, tuple)):
        return [_jsonable(x) for x in np.asarray(v, dtype=float).tolist()] if not isinstance(v, (list, tuple)) \
            else [_jsonable(x) for x in v]
    return str(v)


@dataclass(frozen=True)
class Saddle:
    """A stationary point of the action: order parameters, action value, gradient norm and the
    eigenvalues of the Hessian of the action there (all > 0: a stable minimum)."""

    order_parameters: Mapping[str, float]
    action: float
    residual: float
    hessian_eigenvalues: tuple

    def __post_init__(self):
        object.__setattr__(self, "order_parameters", MappingProxyType(dict(self.order_parameters)))
        object.__setattr__(self, "hessian_eigenvalues", tuple(float(e) for e in self.hessian_eigenvalues))

    @property
    def stable(self) -> bool:
        return all(e > 0 for e in self.hessian_eigenvalues)

    def to_dict(self) -> dict:
        return {"order_parameters": _jsonable(self.order_parameters), "action": _jsonable(self.action),
                "residual": _jsonable(self.residual),
                "hessian_eigenvalues": _jsonable(self.hessian_eigenvalues), "stable": self.stable}


@dataclass(frozen=True, eq=False)
class Solution:
    """What a theory predicts for one spec and data set.

    ``order_parameters`` / ``action`` are those of the physical saddle (the stable one of lowest
    action); ``saddles`` lists every stationary point found.  ``prediction`` / ``variance`` are
    the posterior mean / variance on the test inputs (``None`` without test inputs).
    ``converged`` is False only together with a ``message`` that says what to try.
    """

    theory: str
    order_parameters: Mapping[str, float]
    action: float
    prediction: np.ndarray | None
    variance: np.ndarray | None
    converged: bool
    residual: float
    iterations: int
    saddles: tuple = ()
    message: str = ""
    extras: Mapping = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "order_parameters", MappingProxyType(dict(self.order_parameters)))
        object.__setattr__(self, "extras", MappingProxyType(dict(self.extras)))
        object.__setattr__(self, "saddles", tuple(self.saddles))
        for name in ("prediction", "variance"):
            v = getattr(self, name)
            if v is not None:
                v = np.array(v, dtype=float)
                v.setflags(write=False)
                object.__setattr__(self, name, v)

    @property
    def stable(self) -> bool:
        return all(s.stable for s in self.saddles[:1]) if self.saddles else True

    def to_dict(self) -> dict:
        return {"theory": self.theory, "order_parameters": _jsonable(self.order_parameters),
                "action": _jsonable(self.action), "prediction": _jsonable(self.prediction),
                "variance": _jsonable(self.variance), "converged": bool(self.converged),
                "residual": _jsonable(self.residual), "iterations": int(self.iterations),
                "saddles": [s.to_dict() for s in self.saddles], "message": self.message,
                "extras": _jsonable(self.extras)}

    def as_prediction(self) -> dict:
        """``dict(mean=, variance=, order_parameters=)`` for the validation theory hook."""
        return {"mean": self.prediction, "variance": self.variance,
                "order_parameters": dict(self.order_parameters)}

    def __str__(self):
        ops = ", ".join(f"{k} = {v:.6g}" for k, v in self.order_parameters.items())
        status = "converged" if self.converged else f"NOT converged ({self.message})"
        return (f"{self.theory}: {ops or '(no order parameters)'}; action = {self.action:.8g}; "
                f"{status}, residual {self.residual:.2e} after {self.iterations} iterations; "
                f"{len(self.saddles)} saddle(s)")


__all__ = ["Saddle", "Solution"]
