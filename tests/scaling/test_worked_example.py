"""derivations/curse_of_detail is current: re-deriving reproduces its recorded JSON and markdown."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_curse_of_detail_example_is_current():
    path = ROOT / "derivations" / "curse_of_detail" / "run.py"
    spec = importlib.util.spec_from_file_location("curse_of_detail_run", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main(["--check"]) == 0, "run: python derivations/curse_of_detail/run.py"
