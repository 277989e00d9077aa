"""The architecture worked examples in derivations/ (CNN, ResNet block, transformer block) are current:
re-deriving them, and re-running their reference checks against random finite networks, reproduces
their READMEs; and every reference check agrees within a few standard errors."""

import importlib.util
import re
from pathlib import Path

from tests.tolerances import MC_SIGMAS

ROOT = Path(__file__).resolve().parents[2]


def _module():
    spec = importlib.util.spec_from_file_location("render_architectures",
                                                  ROOT / "derivations" / "render_architectures.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_architecture_examples_are_current_and_agree_with_finite_networks():
    mod = _module()
    assert mod.main(["--check"]) == 0, "run: python derivations/render_architectures.py"
    for name in mod.EXAMPLES:
        text = (ROOT / "derivations" / name / "README.md").read_text()
        zs = [float(z) for z in re.findall(r"\| ([+-]\d+\.\d+) \|$", text, flags=re.M)]
        assert len(zs) == 3 and max(abs(z) for z in zs) < MC_SIGMAS, (name, zs)
