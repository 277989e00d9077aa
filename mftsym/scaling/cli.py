"""``mftsym scaling SPEC [--target He3] [--out RESULT.json] [--latex OUT.tex] [--plot phases.png]``."""

from __future__ import annotations

import json


def add_parser(sub):
    p = sub.add_parser("scaling", help="scaling argument (Rubin, Davidovich & Ringel 2025): feature-learning "
                                       "patterns, optima, P* and phase boundaries of a spec for a Hermite target")
    p.add_argument("spec", help="spec TOML file, or example:NAME")
    p.add_argument("--target", default="He3", help="Hermite target of a hidden direction, e.g. He3 or 'He1 + He3'")
    p.add_argument("--out", metavar="RESULT.json", help="write the full result as JSON")
    p.add_argument("--latex", metavar="OUT.tex", help="write a compilable LaTeX document of the argument")
    p.add_argument("--plot", metavar="phases.png", help="write the phase diagram")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    from ..cli_common import load_cli_spec
    from ..io import atomic_write_text
    from .derive import derive_scaling
    from .result_io import result_to_dict

    spec = load_cli_spec(args.spec, None)
    res = derive_scaling(spec, args.target)
    data = result_to_dict(res)
    for deg in data["degrees"]:
        print(f"target degree {deg['degree']}: {len(deg['patterns'])} patterns")
        for ph in deg["phases"]:
            orders = ", ".join(dict.fromkeys(f"{k} ~ {v}" for w in ph["order_parameters"].values()
                                             for k, v in w.items() if v is not None))
            print(f"  {' = '.join(ph['winners']):40s} P* ~ {ph['P_star']:28s} {orders}")
            print(f"  {'':40s} where {', '.join(ph['region'])}")
    if args.out:
        atomic_write_text(args.out, json.dumps(data, indent=1) + "\n")
        print(f"wrote {args.out}")
    if args.latex:
        from .latex import write_scaling_latex
        write_scaling_latex(args.latex, res)
        print(f"wrote {args.latex}")
    if args.plot:
        from .plot import plot_phases
        plot_phases(res, args.plot)
        print(f"wrote {args.plot}")
    return 0
