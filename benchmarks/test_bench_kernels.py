"""The kernel benchmark runs end to end (--quick: 200 inputs; neural-tangents only if
benchmarks/.nt-venv already exists) and its correctness checks pass.  No timing is asserted."""

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent / "bench_kernels.py"


@pytest.mark.slow
def test_bench_kernels_quick(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--json", str(out)],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "mftsym numpy" in proc.stdout and "mftsym torch" in proc.stdout
    assert out.exists()
