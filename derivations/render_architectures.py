"""Render the architecture worked examples (a CNN, a ResNet block, a transformer block): for each
folder, derive the NNGP/NTK chain of its spec.toml and write README.md (equations, values, and a
reference check against random finite networks of the same spec) and kernels.tex.

    python derivations/render_architectures.py          # rewrite
    python derivations/render_architectures.py --check  # exit 1 if a README is stale (used by the tests)

The reference check: the mean over M random networks of width n of the output covariance given the
readout's input (exact for a Gaussian readout), with its standard error; seeds are fixed, so the
numbers are reproducible.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import sympy as sp
import torch

import mftsym as mf
from mftsym.export.latex import derivations_document
from mftsym.layers.finite import EnsembleNetwork, member_generators, network_plan

HERE = Path(__file__).parent
EXAMPLES = {
    "cnn": ("Two 3x3 ReLU convolutions (the second with stride 2) and global average pooling on 8x8x3 "
            "images: the patch average P of the position-pair kernel, the arc-cosine map at every "
            "position pair, the mean over all pairs.", {"C": 48}, 40),
    "resnet_block": ("A pre-activation residual block x + alpha (relu -> conv -> relu -> conv)(x) on "
                     "sequences with circular padding: the kernels add, K + alpha^2 K_branch, because the "
                     "branch ends with a linear layer.", {"C": 96}, 60),
    "transformer_block": ("A transformer block: embedding, x + attention(LN x) with softmax attention "
                          "(Hron et al. 2020, linear logit scaling), x + MLP(LN x), global average pooling.",
                          {"N": 64, "H": 8}, 60),
    "conv_attention": ("The example network of the architecture spec: conv -> relu -> x + relu(conv x) -> "
                       "LayerNorm -> 2x2 average pooling -> softmax attention -> global average pooling. The skip "
                       "and the branch both end in a ReLU, so the residual kernel has the cross term "
                       "m_x(x) m_b(x') + m_b(x) m_x(x') of the feature means (mu = sqrt(K/(2 pi)) for relu), and "
                       "LayerNorm subtracts the mean: (K - m m') / sqrt(V V'), V = K(x,x) - m^2.",
                       {"C1": 64, "N": 64, "H": 4, "Nk": 64, "Nv": 64}, 160),
}


def reference_check(spec, x, widths, members, seed=0):
    torch.set_num_threads(1)
    plan = network_plan(spec, width=widths)
    ens = EnsembleNetwork(plan, members)
    params = ens.init_params(member_generators(seed, members))
    with torch.no_grad():
        k = ens.readout_kernel(params, torch.as_tensor(x)).numpy()
    return k.mean(0), k.std(0, ddof=1) / math.sqrt(members)


def render(name: str) -> tuple[str, str]:
    blurb, widths, members = EXAMPLES[name]
    spec = mf.Spec.from_toml(HERE / name / "spec.toml")
    der = mf.derive_kernels(spec)
    names = der.symbol_names
    lines = [f"# {name}", "", blurb, "", "Spec: [`spec.toml`](spec.toml). Derived by "
             "`mftsym derive spec.toml --latex kernels.tex` (regenerate this file with "
             "`python derivations/render_architectures.py`). Notation: docs/theory/layers.md.", "",
             "## Derived chain", ""]
    for d in der.definitions:
        lines.append(f"$$ {d.latex_name} = {sp.latex(d.expr, symbol_names=names)} $$")
        lines.append("")
    x = np.random.default_rng(0).normal(size=(2, *spec.network.input_shape))
    k, t = mf.kernel(spec, x, kind=("nngp", "ntk"), params={**widths, **spec.params})
    lines += ["## Values", "", "For two inputs drawn from N(0, 1) with `numpy.random.default_rng(0)` "
              f"(shape {list(spec.network.input_shape)} each):", ""]
    lines.append(f"- NNGP: K(x,x) = {k[0, 0]:.10g}, K(x,x') = {k[0, 1]:.10g}, K(x',x') = {k[1, 1]:.10g}")
    lines.append(f"- NTK: Θ(x,x) = {t[0, 0]:.10g}, Θ(x,x') = {t[0, 1]:.10g}, Θ(x',x') = {t[1, 1]:.10g}")
    mean, se = reference_check(spec, x, widths, members)
    wtxt = ", ".join(f"{a} = {b}" for a, b in widths.items())
    lines += ["", "## Reference check", "",
              f"{members} random finite networks of this spec ({wtxt}), torch, the mean output covariance "
              "given the readout's input (± standard error):", "",
              "| entry | theory | finite networks | z |", "|---|---|---|---|"]
    for (i, j), label in (((0, 0), "K(x,x)"), ((0, 1), "K(x,x')"), ((1, 1), "K(x',x')")):
        lines.append(f"| {label} | {k[i, j]:.5f} | {mean[i, j]:.5f} ± {se[i, j]:.5f} | "
                     f"{(mean[i, j] - k[i, j]) / se[i, j]:+.2f} |")
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
        print("stale (run python derivations/render_architectures.py):", *stale, sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
