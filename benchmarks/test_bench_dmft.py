"""The DMFT benchmark runs end to end at tiny sizes (``pytest -m slow``); no timing is asserted."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


@pytest.mark.slow
def test_bench_dmft_tiny(tmp_path):
    out = tmp_path / "d.json"
    proc = subprocess.run([sys.executable, str(HERE / "bench_dmft.py"), "--P", "8", "--steps", "5", "--samples",
                           "200,800", "--widths", "200,800", "--ref-samples", "3000", "--json", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    res = json.loads(out.read_text())
    assert len(res["rows"]["dmft_numpy"]) == 2 and len(res["rows"]["ensemble"]) == 2
    assert all(r["error"] > 0 for r in res["rows"]["dmft_numpy"])
