"""The worked kernel examples in derivations/ are current: re-deriving them reproduces their READMEs."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_kernel_examples_are_current():
    spec = importlib.util.spec_from_file_location("render_kernels", ROOT / "derivations" / "render_kernels.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main(["--check"]) == 0, "run: python derivations/render_kernels.py"
