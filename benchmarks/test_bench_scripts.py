"""The Langevin and NNFT-posterior benchmarks run end to end at tiny sizes (``pytest -m slow``).
No timing is asserted."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def _run(script, *args):
    proc = subprocess.run([sys.executable, str(HERE / script), *args], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return proc.stdout


@pytest.mark.slow
def test_bench_langevin_tiny(tmp_path):
    out = tmp_path / "l.json"
    text = _run("bench_langevin.py", "--sizes", "64", "--steps", "2", "--members", "4", "--json", str(out))
    assert "speedup" in text
    rows = json.loads(out.read_text())["rows"]
    assert [(r["N"], r["members"]) for r in rows] == [(64, 4), (64, 4)]


@pytest.mark.slow
def test_bench_nnft_posterior_tiny(tmp_path):
    out = tmp_path / "n.json"
    _run("bench_nnft_posterior.py", "--P", "20", "--T", "4", "--samples", "4000", "--repeats", "1", "--json", str(out))
    row = json.loads(out.read_text())
    assert row["numpy_s"] > 0 and row["torch_s"] > 0 and row["max_abs_z"]["correction"] < 6


@pytest.mark.slow
def test_bench_cnn_kernels_tiny():
    text = _run("bench_cnn_kernels.py", "--n", "4", "--repeats", "1")
    row = json.loads(text.strip().splitlines()[-1])
    assert row["mftsym"]["median_s"] > 0
    if "agreement" in row:                       # neural-tangents venv present
        assert row["agreement"]["nngp"] < 1e-10 and row["agreement"]["ntk"] < 1e-8
