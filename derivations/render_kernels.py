"""Render the kernel worked examples: for each folder below, derive the NNGP/NTK chain of its
spec.toml and write README.md (equations) and kernels.tex (a compilable document).

    python derivations/render_kernels.py          # rewrite
    python derivations/render_kernels.py --check  # exit 1 if a README is stale (used by the tests)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import sympy as sp

import mftsym as mf
from mftsym.export.latex import derivations_document

HERE = Path(__file__).parent
EXAMPLES = {
    "deep_relu": "Depth-3 ReLU network at criticality: the Cho & Saul arc-cosine recursion.",
    "deep_erf": "Two erf hidden layers: Williams' arcsin kernel at each layer, and the NTK.",
    "cubic_hermite": "A polynomial activation He3(x) = x^3 - 3x: every expectation closes by Wick's theorem "
                     "(standard parametrization, so the NTK carries the width N).",
}


def render(name: str) -> tuple[str, str]:
    spec = mf.Spec.from_toml(HERE / name / "spec.toml")
    der = mf.derive_kernels(spec)
    names = der.symbol_names
    lines = [f"# {name}", "", EXAMPLES[name], "", "Spec: [`spec.toml`](spec.toml). Derived by "
             "`mftsym derive spec.toml --latex kernels.tex` (regenerate this file with "
             "`python derivations/render_kernels.py`).", "", "## Derived chain", ""]
    for d in der.definitions:
        lines.append(f"$$ {d.latex_name} = {sp.latex(d.expr.doit(), symbol_names=names)} $$")
        lines.append("")
    x = np.array([[1.0, 0.0, 0.5], [0.3, -1.0, 0.2]])
    lines += ["## Values", "", f"At the spec's parameters, for x = {x[0].tolist()}, x' = {x[1].tolist()}:", ""]
    params = dict(spec.params)
    for w in spec.network.hidden_widths:
        if w.is_Symbol and w.name not in params:
            params[w.name] = 512.0
    for kind in ("nngp", "ntk"):
        k = mf.kernel(spec, x, kind=kind, params=params)
        lines.append(f"- {kind.upper()}: K(x,x) = {k[0, 0]:.10g}, K(x,x') = {k[0, 1]:.10g}, K(x',x') = {k[1, 1]:.10g}")
    tex = derivations_document([der], title=f"mftsym: {name}")
    return "\n".join(lines) + "\n", tex


def main(argv=None) -> int:
    check = "--check" in (argv or sys.argv[1:])
    stale = []
    for name in EXAMPLES:
        readme, tex = render(name)
        for path, text in ((HERE / name / "README.md", readme), (HERE / name / "kernels.tex", tex)):
            if check:
                if not path.exists() or path.read_text() != text:
                    stale.append(str(path))
            else:
                path.write_text(text)
    if stale:
        print("stale (run python derivations/render_kernels.py):", *stale, sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
