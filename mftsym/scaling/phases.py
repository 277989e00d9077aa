"""The winning pattern per regime and the phase boundaries.

With every scale variable a power of the input dimension, N_l = d**gamma_l, each pattern's scaling
cost is the maximum of its regime monomials, a piecewise-linear function of the exponents gamma;
the winner is the pattern of least cost (ties: patterns degenerate at the scaling level).  Phase
boundaries are where the winners' leading monomials cross; they are returned as symbolic
inequalities ``monomial_A < monomial_B``, solved for one scale variable
(docs/theory/scaling.md, "Phases").
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

import numpy as np
import sympy as sp

from .monomial import Monomial, symbol

TIE_TOL = 1e-9


@dataclass(frozen=True)
class PatternScaling:
    pattern: object
    regimes: tuple          # Regime

    def exponent(self, gammas: dict) -> tuple:
        """(log_d cost, leading regime) at scale exponents ``gammas`` (d -> 1)."""
        best, arg = -np.inf, None
        for r in self.regimes:
            v = r.cost.log_value(gammas, with_coef=False)
            if v > best + TIE_TOL:
                best, arg = v, r
        return best, arg


def winners_at(scalings, gammas: dict) -> tuple:
    """(cost exponent, [(PatternScaling, Regime), ...]) of the cheapest patterns at ``gammas``."""
    vals = [(s.exponent(gammas), s) for s in scalings]
    best = min(v[0][0] for v in vals)
    tied = [(s, v[1]) for v, s in vals if v[0] <= best + TIE_TOL]
    # a tie with a pattern that learns in fewer layers is no distinct phase: keep the simplest
    fewest = min(_active_layers(s.pattern) for s, _ in tied)
    return best, [(s, r) for s, r in tied if _active_layers(s.pattern) == fewest]


def _active_layers(pattern) -> int:
    return sum(step.pattern != "GP" for step in pattern.steps)


def solved_inequality(smaller: Monomial, larger: Monomial, prefer: tuple) -> sp.Basic:
    """``smaller < larger`` as ``s < f(others)`` for the first scale variable in ``prefer``
    that appears (exponents of the ratio decide the direction)."""
    ratio = smaller / larger
    ratio = Monomial(1, ratio.exps)
    if not ratio.exps:
        return sp.true if smaller.coef < larger.coef else sp.false
    for name in prefer:
        e = ratio.exponent(name)
        if e != 0:
            rest = Monomial(1, {k: -v / e for k, v in ratio.exps.items() if k != name}).to_sympy()
            s = symbol(name)
            return sp.StrictLessThan(s, rest) if e > 0 else sp.StrictGreaterThan(s, rest)
    return sp.StrictLessThan(ratio.to_sympy(), 1)


@dataclass(frozen=True)
class Phase:
    winners: tuple          # pattern names
    cost: Monomial          # scaling of E~ (and P*/kappa)
    values: dict            # winner name -> {free name -> Monomial or None (not fixed at this order)}
    point: dict             # a sample point (gammas)
    region: tuple           # sympy inequalities bounding the phase (from its observed boundaries)


def phase_diagram(scalings, scale_names: tuple, reference: str, span: float = 8.0, steps: int = 81):
    """Sample the exponent space of the non-reference scale variables over [0, span] (the reference,
    usually d, has exponent 1) and collect phases and boundaries.  Boundaries map a pair of phase
    keys (winner names, cost exponents) to the inequalities that hold on the first phase's side."""
    others = [n for n in scale_names if n != reference]
    grid = np.linspace(0.0, span, steps)
    # offset by half a step so grid points avoid the (rational) boundaries themselves
    grid = grid + (grid[1] - grid[0]) * 0.37
    cells = {}
    for idx in product(range(steps), repeat=len(others)):
        g = {reference: 1.0, **{n: grid[i] for n, i in zip(others, idx)}}
        cost, wins = winners_at(scalings, g)
        cells[idx] = (cost, wins, g)
    phases, boundaries = {}, {}
    for idx, (cost, wins, g) in cells.items():
        lead = wins[0][1]
        key = (tuple(s.pattern.name for s, _ in wins), tuple(lead.cost.exps.items()))
        if key not in phases:
            phases[key] = {"cost": lead.cost, "values": {s.pattern.name: r.values for s, r in wins},
                           "point": g, "region": set()}
        for axis in range(len(others)):
            nb = list(idx)
            nb[axis] += 1
            nb = tuple(nb)
            if nb not in cells:
                continue
            ncost, nwins, _ = cells[nb]
            nkey = (tuple(s.pattern.name for s, _ in nwins), tuple(nwins[0][1].cost.exps.items()))
            if nkey == key:
                continue
            here, there = wins[0][1].cost, nwins[0][1].cost
            if here.exps == there.exps:
                continue
            order = tuple(others) + (reference,)
            # the inequality that holds on each side (between patterns the cheaper wins; within a
            # pattern the larger regime is the cost), read off at the cell's own point
            ineq_here = _holding(here, there, g, order)
            ineq_there = _holding(here, there, cells[nb][2], order)
            phases[key]["region"].add(ineq_here)
            phases.setdefault(nkey, {"cost": nwins[0][1].cost,
                                     "values": {s.pattern.name: r.values for s, r in nwins},
                                     "point": cells[nb][2], "region": set()})["region"].add(ineq_there)
            pair = tuple(sorted((key, nkey), key=str))
            boundaries.setdefault(pair, set()).add(ineq_here if pair[0] == key else ineq_there)
    out = [Phase(k[0], v["cost"], v["values"], v["point"], tuple(sorted(v["region"], key=str)))
           for k, v in phases.items()]
    return out, boundaries


def _holding(a: Monomial, b: Monomial, point: dict, order: tuple):
    """The strict inequality between monomials a and b that holds at ``point``."""
    if a.log_value(point, False) < b.log_value(point, False):
        return solved_inequality(a, b, order)
    return solved_inequality(b, a, order)


def phase_label(key) -> str:
    """``"spec1 [E ~ sqrt(N)*sqrt(d)]"`` for a phase key (winner names, cost exponents)."""
    names, exps = key
    return " = ".join(names) + f" [E ~ {Monomial(1, dict(exps))}]"


def classify_grid(scalings, xs_name, ys_name, xs, ys, fixed: dict):
    """Winner label per point of a 2-D grid of exponents (for plots): returns (labels, codes).
    Vectorised form of ``winners_at`` (same tie rule)."""
    X, Y = np.meshgrid(np.asarray(xs, float), np.asarray(ys, float))
    grids = {k: np.full_like(X, float(v)) for k, v in fixed.items()}
    grids[xs_name], grids[ys_name] = X, Y
    values = []
    for sc in scalings:
        v = np.full_like(X, -np.inf)
        for r in sc.regimes:
            e = sum(float(p) * grids[k] for k, p in r.cost.exps.items()) if r.cost.exps else np.zeros_like(X)
            v = np.maximum(v, e)
        values.append(v)
    values = np.array(values)
    best = values.min(axis=0)
    tied = values <= best + TIE_TOL
    active = np.array([_active_layers(sc.pattern) for sc in scalings])[:, None, None]
    fewest = np.where(tied, active, 10**6).min(axis=0)
    keep = tied & (active == fewest)
    labels, codes = [], np.zeros(X.shape, dtype=int)
    for idx in np.ndindex(X.shape):
        key = " = ".join(sc.pattern.name for sc, k in zip(scalings, keep[(slice(None),) + idx]) if k)
        if key not in labels:
            labels.append(key)
        codes[idx] = labels.index(key)
    return labels, codes


__all__ = ["PatternScaling", "Phase", "phase_diagram", "phase_label", "solved_inequality", "winners_at", "classify_grid"]
