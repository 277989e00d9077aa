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
_GOLDEN = (5 ** 0.5 - 1) / 2


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
    keys (winner names, cost exponents) to the inequalities that hold on the first phase's side.

    A phase is one connected region of equal winners and cost; its ``region`` lists the inequalities
    of its boundaries that hold at *every* sampled point of it, so it never contradicts itself.
    Regions need not be convex in the exponents (a cost is a maximum of monomials, the winner a
    minimum over patterns): the line of one stretch of boundary that cuts through the rest of the
    region is not a condition of it and is left out (the list is then necessary, not sufficient)."""
    others = [n for n in scale_names if n != reference]
    base = np.linspace(0.0, span, steps)
    # shift each axis by a different irrational fraction of a step, so that no grid point lies on a
    # (rational) boundary line: equal shifts put points exactly on lines like N = n/p, where ties
    # between monomials made contradictory regions
    grids = [base + (base[1] - base[0]) * ((0.37 + k * _GOLDEN) % 1.0) for k in range(len(others))]
    order = tuple(others) + (reference,)
    cells, keys = {}, {}
    for idx in product(range(steps), repeat=len(others)):
        g = {reference: 1.0, **{n: grids[k][i] for k, (n, i) in enumerate(zip(others, idx))}}
        cost, wins = winners_at(scalings, g)
        cells[idx] = (cost, wins, g)
        keys[idx] = (tuple(s.pattern.name for s, _ in wins), tuple(wins[0][1].cost.exps.items()))
    comp = _components(keys, len(others))
    lines = {}                      # component -> {(monomial, monomial)}: its boundary lines
    boundaries = {}
    for idx, key in keys.items():
        for nb in _forward_neighbours(idx, len(others)):
            if nb not in keys or keys[nb] == key:
                continue
            here, there = cells[idx][1][0][1].cost, cells[nb][1][0][1].cost
            if here.exps == there.exps:
                continue
            # the inequality that holds on each side (between patterns the cheaper wins; within a
            # pattern the larger regime is the cost), read off at each cell's own point
            ineq_here = _holding(here, there, cells[idx][2], order)
            ineq_there = _holding(here, there, cells[nb][2], order)
            line = (tuple(sorted(here.exps.items())), tuple(sorted(there.exps.items())))
            lines.setdefault(comp[idx], set()).add(line)
            lines.setdefault(comp[nb], set()).add(line)
            pair = tuple(sorted((key, keys[nb]), key=str))
            boundaries.setdefault(pair, set()).add(ineq_here if pair[0] == key else ineq_there)
    # region of a component: its boundary inequalities that hold at every one of its cells (a
    # boundary line of one stretch may cut through the rest of a non-convex region: such a line is
    # not a condition of the region and is dropped); components with equal descriptions are merged
    members = {}
    for idx in keys:
        members.setdefault(comp[idx], []).append(idx)
    out, seen = [], set()
    for c in sorted(members, key=lambda c: min(members[c])):
        cells_c = members[c]
        first = min(cells_c)
        cost, wins, g = cells[first]
        region = set()
        for lo, hi in _monomial_pairs(lines.get(c, ())):
            signs = {lo.log_value(cells[i][2], False) < hi.log_value(cells[i][2], False) for i in cells_c}
            if len(signs) == 1:
                region.add(_holding(lo, hi, g, order))
        row = (keys[first], tuple(sorted(region, key=str)))
        if row in seen:
            continue
        seen.add(row)
        out.append(Phase(keys[first][0], wins[0][1].cost, {s.pattern.name: r.values for s, r in wins}, g, row[1]))
    return out, boundaries


def _monomial_pairs(lines):
    return [(Monomial(1, dict(a)), Monomial(1, dict(b))) for a, b in sorted(lines, key=str)]


def _forward_neighbours(idx, dims):
    for axis in range(dims):
        nb = list(idx)
        nb[axis] += 1
        yield tuple(nb)


def _neighbours(idx, dims):
    for axis in range(dims):
        for step in (-1, 1):
            nb = list(idx)
            nb[axis] += step
            yield tuple(nb)


def _components(keys, dims):
    """Cell -> label of its connected component of equal phase key."""
    label, comp = 0, {}
    for idx in sorted(keys):
        if idx in comp:
            continue
        todo = [idx]
        comp[idx] = label
        while todo:
            for nb in _neighbours(todo.pop(), dims):
                if nb in keys and nb not in comp and keys[nb] == keys[idx]:
                    comp[nb] = label
                    todo.append(nb)
        label += 1
    return comp


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
