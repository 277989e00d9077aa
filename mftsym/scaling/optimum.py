"""Minimise a pattern's cost, a sum of monomials, over its free quantities.

Two exact results for ``E(x) = sum_t T_t(x)`` with monomials T_t, free quantities x_j > 0 and
monomial range constraints ``g_k(x) <= 1`` (docs/theory/scaling.md, "Minimising sums of monomials"):

* Interior optimum (geometric-programming duality, degree of difficulty zero: as many terms as
  free quantities plus one).  The dual weights delta solve ``sum_t delta_t A_tj = 0``,
  ``sum_t delta_t = 1``; then

      E* = prod_t (c_t / delta_t)**delta_t,     T_t(x*) = delta_t E*,

  the terms balance in the fixed ratios delta (Duffin, Peterson & Zener 1967).
* Scaling optimum (the limit of large scale variables, constants dropped): in log variables it is
  the linear programme  min_u max_t log T_t(u)  s.t.  log g_k(u) <= 0, whose value is, by LP duality,
  the maximum over the dual vertices (delta, mu >= 0, sum delta = 1,
  sum_t delta_t A_tj + sum_k mu_k G_kj = 0) of the monomials  prod T_t**delta_t prod g_k**mu_k,
  in which the free quantities cancel.  Each vertex is one regime; its support says which terms
  balance and which constraints are active (e.g. M = 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import sympy as sp

from .monomial import Monomial


@dataclass(frozen=True)
class Constraint:
    monomial: Monomial      # g(x) <= 1
    label: str              # "M_1 >= 1"


@dataclass(frozen=True)
class InteriorOptimum:
    cost: Monomial                  # E* with its constant
    values: dict                    # free name -> Monomial x*
    weights: tuple                  # delta_t per term
    validity: tuple                 # sympy relations (range constraints at x*)


@dataclass(frozen=True)
class Regime:
    cost: Monomial                  # scaling class of E (coefficient 1)
    balanced: tuple                 # indices of the terms that balance (support of delta)
    active: tuple                   # labels of the active range constraints
    values: dict                    # free name -> Monomial scaling of x* (None if undetermined)


def range_constraints(pattern) -> list:
    out = []
    for q in pattern.free:
        x = Monomial.var(q.name)
        out.append(Constraint(q.lower / x, f"{q.name} >= {q.lower}"))
        out.append(Constraint(x / q.upper, f"{q.name} <= {q.upper}"))
    return out


def _exponent_matrix(monomials, names) -> sp.Matrix:
    return sp.Matrix([[m.exponent(n) for n in names] for m in monomials])


def interior_optimum(pattern) -> InteriorOptimum | None:
    """The exact interior optimum when the pattern has degree of difficulty zero and positive
    dual weights; None otherwise (or when the pattern has no free quantity: E = sum of terms)."""
    names = pattern.free_names
    terms = [t.monomial for t in pattern.terms]
    n = len(names)
    if n == 0 or len(terms) != n + 1:
        return None
    A = _exponent_matrix(terms, names)
    system = A.T.col_join(sp.ones(1, n + 1))
    if system.rank() != n + 1:
        return None
    delta = list(system.LUsolve(sp.Matrix([0] * n + [1])))
    if any(not (dl > 0) for dl in delta):
        return None
    cost = Monomial.const(1)
    for T, dl in zip(terms, delta):
        cost = cost * (Monomial(T.coef / dl, {k: v for k, v in T.exps.items() if k not in names})) ** dl
    # log x* from T_t(x*) = delta_t E*: A u = log(delta E* / c_t s_t)
    rhs = [Monomial(dl, {}) * cost / Monomial(T.coef, {k: v for k, v in T.exps.items() if k not in names})
           for T, dl in zip(terms, delta)]
    rows = _independent_rows(A, n)
    Ainv = A.extract(rows, list(range(n))).inv()
    values = {}
    for j, name in enumerate(names):
        val = Monomial.const(1)
        for r_i, r in enumerate(rows):
            val = val * rhs[r] ** Ainv[j, r_i]
        values[name] = val
    validity = tuple(sp.Le(c.monomial.subs(values).to_sympy(), 1) for c in range_constraints(pattern))
    return InteriorOptimum(cost, values, tuple(delta), validity)


def _independent_rows(A: sp.Matrix, n: int) -> list:
    for rows in combinations(range(A.rows), n):
        if A.extract(list(rows), list(range(n))).rank() == n:
            return list(rows)
    raise ValueError("exponent matrix has no invertible square block")


def scaling_regimes(pattern) -> list:
    """All dual vertices of the scaling LP: the pattern's scaling cost is the maximum of their
    monomials.  Deduplicated by monomial."""
    names = pattern.free_names
    terms = [t.monomial for t in pattern.terms]
    cons = range_constraints(pattern)
    n = len(names)
    if n == 0:                      # nothing to optimise: the cost scales as the largest term
        return [Regime(T.scaling(), (i,), (), {}) for i, T in enumerate(terms)]
    A = _exponent_matrix(terms, names)
    G = _exponent_matrix([c.monomial for c in cons], names)
    found = {}
    for s in range(1, n + 2):
        for S in combinations(range(len(terms)), s):
            for K in combinations(range(len(cons)), n + 1 - s):
                M = A.extract(list(S), list(range(n))).T.row_join(G.extract(list(K), list(range(n))).T) \
                    if K else A.extract(list(S), list(range(n))).T
                M = M.col_join(sp.Matrix([[1] * s + [0] * len(K)]))
                if M.rank() != n + 1:
                    continue
                sol = list(M.LUsolve(sp.Matrix([0] * n + [1])))
                if any(x < 0 for x in sol):
                    continue
                cost = Monomial.const(1)
                for w, i in zip(sol[:s], S):
                    cost = cost * terms[i].scaling() ** w
                for w, k in zip(sol[s:], K):
                    cost = cost * cons[k].monomial.scaling() ** w
                cost = Monomial(1, {k: v for k, v in cost.exps.items() if k not in names})
                key = tuple(cost.exps.items())
                if key in found:
                    continue
                # only terms/constraints with positive dual weight are binding
                S = tuple(i for w, i in zip(sol[:s], S) if w > 0)
                K = tuple(k for w, k in zip(sol[s:], K) if w > 0)
                values = _primal(terms, cons, names, S, K, cost)
                found[key] = Regime(cost, S, tuple(cons[k].label for k in K), values)
    return list(found.values())


def _primal(terms, cons, names, S, K, cost) -> dict:
    """Free quantities at a vertex: binding terms equal E, binding constraints tight.  A quantity
    these do not fix (a flat direction at this order) is None."""
    rows = [terms[i] / cost for i in S] + [cons[k].monomial for k in K]   # each == 1 at x*
    A = _exponent_matrix(rows, names)
    # rows[r] = R_r * x^{A_r} == 1  ->  A u = -log R_r, solved over the exponents of each scale variable
    rest = [Monomial(1, {k: v for k, v in r.exps.items() if k not in names}) for r in rows]
    scale_names = sorted({k for r in rest for k in r.exps})
    B = sp.Matrix([[-r.exponent(k) for k in scale_names] for r in rest]) if scale_names else sp.zeros(len(rows), 1)
    try:
        sol, params = A.gauss_jordan_solve(B)
    except ValueError:
        return {name: None for name in names}
    out = {}
    for j, name in enumerate(names):
        row = sol.row(j)
        if any(x.free_symbols & set(params) for x in row):
            out[name] = None
        else:
            out[name] = Monomial(1, dict(zip(scale_names, row))) if scale_names else Monomial.const(1)
    return out


__all__ = ["Constraint", "InteriorOptimum", "Regime", "interior_optimum", "range_constraints",
           "scaling_regimes"]
