"""Sweeps of the Gaussian-data reduction along a control parameter, with the first-order
transitions and spinodals located at the spec's finite d and in the d -> infinity limit
(docs/theory/grokking.md).  Kept apart from :mod:`.data_model` so that the reduction does not
import the transition locator that builds on it."""

from __future__ import annotations

import numpy as np

from ..errors import ConvergenceError, EvaluationError, SpecError
from .data_model import DEFINITION_FINITE, _failed, _minima, _starts, _taus, locate_transition, solve_data_model
from .transitions import finite_d_spinodals, infinite_d_transitions


def sweep_data_model(spec, param: str, values, plot=None, refine=True, jump_tol=None, limits=True) -> dict:
    """Solve along ``param`` (a [params] name) with continuation; locate first-order transitions.

    ``transitions`` lists entries ``{"value", "kind", "definition", ...}``: at the spec's finite d
    (the lowest-action saddle changes; spinodals where a minimum appears), and with ``limits`` also
    in the d → ∞ limit of Rubin, Seroussi & Ringel (2024, Claim IV) with its spinodals
    (:mod:`.transitions`).

    Each value starts from the previous value's τ and saddles (plus fresh multistarts); a value that
    still fails is retried from the next converged one (backwards).  Between neighbouring values where
    the dominant minimum jumps (|Φ| changes by more than ``jump_tol``, default σ_w/4) the transition
    is refined by root finding on the action difference of the two branches (:func:`locate_transition`)."""
    if param not in spec.params:
        raise SpecError(f"cannot sweep {param!r}: it is not in [params] ({sorted(spec.params)})")
    values = [float(v) for v in values]
    sols = [None] * len(values)
    prev = None
    for i, v in enumerate(values):
        try:
            sols[i] = solve_data_model(spec, params={param: v}, tau0=None if prev is None else _taus(prev),
                                       starts=() if prev is None else _starts(prev))
            prev = sols[i]
        except ConvergenceError as exc:
            sols[i] = _failed(exc)
    for i in range(len(values) - 2, -1, -1):   # backward continuation for values that failed
        if not sols[i].converged and sols[i + 1].converged:
            try:
                sols[i] = solve_data_model(spec, params={param: values[i]}, tau0=_taus(sols[i + 1]),
                                           starts=_starts(sols[i + 1]))
            except ConvergenceError:
                pass
    phases = [s.extras["phase"] for s in sols]
    transitions = []
    ok = [i for i, s in enumerate(sols) if s.converged]
    for i, j in zip(ok, ok[1:]):
        a, b = _minima(sols[i])[0], _minima(sols[j])[0]
        sw = float(np.sqrt(sols[i].extras.get("sw2", 1.0)))
        if abs(b[0] - a[0]) > (jump_tol if jump_tol is not None else 0.25 * sw):
            if refine:
                t = locate_transition(spec, param, sols[i], sols[j], values[i], values[j], jump_tol)
            else:
                t = {"value": 0.5 * (values[i] + values[j]), "bracket": [values[i], values[j]],
                     "kind": "first_order", "definition": DEFINITION_FINITE,
                     "from": phases[i], "to": phases[j], "jump_Phi": b[0] - a[0]}
            transitions.append(t)
    from .deep_data_model import is_deep
    if limits and len(ok) > 1 and is_deep(spec.network):   # the spinodal and d -> infinity analyses: one layer
        transitions.append({"kind": "not_available", "definition": "d_to_infinity",
                            "reason": "the spinodal and d -> infinity analyses handle one hidden layer"})
    elif limits and len(ok) > 1:
        if refine:
            transitions += finite_d_spinodals(spec, param, [values[i] for i in ok], [sols[i] for i in ok])
        try:
            transitions += infinite_d_transitions(spec, param, values)
        except EvaluationError as exc:   # e.g. an even activation: no d -> infinity Gaussian phase
            transitions.append({"kind": "not_available", "definition": "d_to_infinity", "reason": str(exc)})
        transitions.sort(key=lambda t: t.get("value", np.inf))
    out = {"param": param, "values": values, "phases": phases, "transitions": transitions,
           "solutions": [s.to_dict() for s in sols]}
    if plot:
        from .plotting import plot_data_model_sweep
        plot_data_model_sweep(plot, param, values, sols, transitions,
                              title="adaptive kernel, Gaussian data: dominant and metastable minima")
    return out


__all__ = ["sweep_data_model"]
