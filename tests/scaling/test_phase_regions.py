"""Phase regions are honest: every inequality listed for a phase holds at every sampled point where
that phase wins (never ``N < n/p`` together with ``N > n/p``), checked by brute force on a finer grid
than the one the regions were read from."""

from itertools import product

import numpy as np
import pytest
import sympy as sp

from mftsym.scaling.phases import winners_at


def _holds(ineq, gammas, base=1e3):
    vals = {sp.Symbol(k, positive=True): base ** v for k, v in gammas.items()}
    subs = {s: vals[sp.Symbol(s.name, positive=True)] for s in ineq.free_symbols}
    return bool(ineq.subs(subs))


@pytest.mark.parametrize("which", ["two_layer", "three_layer", "cnn_flatten", "attention_head"])
def test_regions_hold_wherever_their_phase_wins(which, request):
    res = request.getfixturevalue(which)
    dr = res.per_degree[0]
    names = res.architecture.scale_variables
    reference = res.architecture.input_dim_name if res.architecture.input_dim_name in names else names[0]
    others = [n for n in names if n != reference]
    rng = np.random.default_rng(0)
    by_key = {}
    for ph in dr.phases:
        by_key.setdefault((ph.winners, tuple(sorted(ph.cost.exps.items()))), []).append(ph)
    for ph in dr.phases:
        for ineq in ph.region:
            assert _holds(ineq, ph.point), (ph.winners, ineq)
        # no pair of opposite bounds on the same expression
        strs = set(map(str, ph.region))
        for s in strs:
            assert s.replace("<", ">") not in strs or "<" not in s, (ph.winners, sorted(strs))
    # random points: the winning phase has at least one listed row whose region holds there
    for _ in range(150):
        g = {reference: 1.0, **{n: float(rng.uniform(0.05, 7.9)) for n in others}}
        cost, wins = winners_at(dr.scalings, g)
        key = (tuple(s.pattern.name for s, _ in wins), tuple(sorted(wins[0][1].cost.exps.items())))
        rows = by_key.get(key, [])
        assert rows, key
        assert any(all(_holds(q, g) for q in ph.region) for ph in rows), (key, g, [ph.region for ph in rows])
