"""Derive the action of spec.toml (derived.tex) and solve it on a small example data set."""
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))
from theory_example import run  # noqa: E402

run(HERE)
