"""A ScalingResult as plain JSON data (strings in SymPy syntax, readable back with sympify by a
reader that trusts the file)."""

from __future__ import annotations

import sympy as sp

from .derive import KAPPA
from .phases import phase_label


def _s(x) -> str:
    return sp.sstr(x.to_sympy() if hasattr(x, "to_sympy") else x)


def result_to_dict(res) -> dict:
    arch = res.architecture
    out = {
        "source": res.source,
        "target": res.target.text,
        "scale_variables": list(res.scale_variables),
        "parametrization": arch.parametrization,
        "family": arch.family,
        "instance": dict(arch.instance),
        "layers": [{"index": l.index, "type": l.kind, "width": l.width_name, "activation": l.activation.source,
                    **{k: _s(m) for k, m in l.extras.items()}}
                   for l in arch.layers],
        "readout_scale": _s(arch.readout_scale),
        "degrees": [],
    }
    for dr in res.per_degree:
        pats = []
        for sc in dr.scalings:
            p = sc.pattern
            opt = dr.optima.get(p.name)
            pats.append({
                "name": p.name,
                "terms": [{"monomial": _s(t.monomial), "origin": t.origin} for t in p.terms],
                "free": [{"name": q.name, "lower": _s(q.lower), "upper": _s(q.upper), "meaning": q.meaning}
                         for q in p.free],
                "interior_optimum": None if opt is None else {
                    "E": _s(opt.cost), "P_star": _s(KAPPA * opt.cost.to_sympy()),
                    "values": {k: _s(v) for k, v in opt.values.items()},
                    "balance_weights": [str(w) for w in opt.weights],
                    "valid_where": [sp.sstr(v) for v in opt.validity]},
                "scaling_regimes": [{"E": _s(r.cost), "active_constraints": list(r.active),
                                     "values": {k: (None if v is None else _s(v)) for k, v in r.values.items()}}
                                    for r in sc.regimes],
            })
        phases = [{"winners": list(ph.winners), "E": _s(ph.cost), "P_star": _s(KAPPA * ph.cost.to_sympy()),
                   "order_parameters": {w: {k: (None if v is None else _s(v)) for k, v in vals.items()}
                                        for w, vals in ph.values.items()},
                   "region": [sp.sstr(r) for r in ph.region],
                   "sample_exponents": {k: round(float(v), 4) for k, v in ph.point.items()}}
                  for ph in dr.phases]
        bounds = [{"between": [phase_label(k[0]), phase_label(k[1])],
                   "holds_on_first_side": sorted(sp.sstr(i) for i in v)}
                  for k, v in dr.boundaries.items()]
        out["degrees"].append({"degree": dr.degree, "patterns": pats, "phases": phases, "boundaries": bounds})
    return out


__all__ = ["result_to_dict"]
