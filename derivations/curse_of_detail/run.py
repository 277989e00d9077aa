"""Render the curse-of-detail scaling arguments on He3: two- and three-layer erf networks, a two-layer
CNN with non-overlapping patches and a softmax attention head.

    python derivations/curse_of_detail/run.py          # (re)write result_*.json, *.tex, *.png, derived.md
    python derivations/curse_of_detail/run.py --check  # exit 1 if the recorded JSON/markdown are stale
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from mftsym.scaling.derive import derive_scaling  # noqa: E402
from mftsym.scaling.latex import scaling_document  # noqa: E402
from mftsym.scaling.result_io import result_to_dict  # noqa: E402

CASES = {"two_layer": "spec_two_layer.toml", "three_layer": "spec_three_layer.toml",
         "cnn": "spec_cnn.toml", "attention": "spec_attention.toml"}
TITLES = {"two_layer": "two-layer erf network", "three_layer": "three-layer erf network",
          "cnn": "two-layer CNN (non-overlapping patches, flatten readout)",
          "attention": "softmax attention head (one head, pooled readout)"}


def render(name: str, spec: str) -> tuple:
    res = derive_scaling(HERE / spec, "He3")
    data = result_to_dict(res)
    data["source"] = spec
    res = res.__class__(spec, res.architecture, res.target, res.per_degree)
    return res, data


def markdown(results: dict) -> str:
    lines = ["# Derived output (written by run.py; do not edit)", ""]
    for name, (_, data) in results.items():
        deg = data["degrees"][0]
        lines += [f"## {TITLES[name]}, target He3", "",
                  "| pattern | cost terms | interior optimum E* | optimal free quantities |", "|---|---|---|---|"]
        for p in deg["patterns"]:
            opt = p["interior_optimum"]
            terms = " + ".join(f"`{t['monomial']}`" for t in p["terms"])
            if opt:
                vals = ", ".join(f"`{k} = {v}`" for k, v in opt["values"].items())
                lines.append(f"| {p['name']} | {terms} | `{opt['E']}` | {vals} |")
            else:
                lines.append(f"| {p['name']} | {terms} | (no free quantity) | |")
        lines += ["", "| winning pattern(s) | P* | order parameters | region |", "|---|---|---|---|"]
        for ph in deg["phases"]:
            orders = ", ".join(dict.fromkeys(f"`{k} ~ {v}`" for w in ph["order_parameters"].values()
                                             for k, v in w.items() if v is not None))
            lines.append(f"| {' = '.join(ph['winners'])} | `{ph['P_star']}` | {orders} | "
                         + ", ".join(f"`{r}`" for r in ph["region"]) + " |")
        lines.append("")
    return "\n".join(lines)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    check = "--check" in argv
    results = {name: render(name, spec) for name, spec in CASES.items()}
    stale = []
    for name, (res, data) in results.items():
        text = json.dumps(data, indent=1) + "\n"
        path = HERE / f"result_{name}.json"
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(path.name)
            continue
        path.write_text(text)
        (HERE / f"{name}.tex").write_text(scaling_document(res))
        from mftsym.scaling.plot import plot_phases
        plot_phases(res, HERE / f"phases_{name}.png")
    md = markdown(results)
    if check:
        if (HERE / "derived.md").read_text() != md:
            stale.append("derived.md")
        if stale:
            print("stale:", ", ".join(stale))
            return 1
        return 0
    (HERE / "derived.md").write_text(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
