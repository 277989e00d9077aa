#!/usr/bin/env bash
# Build benchmarks/.deepbays-venv: the deepbays package (Pacelli, Baglioni, Rotondo et al.), whose
# CONV_1HL model is the reference solution of local kernel renormalization
# (tests/solve/test_local_kernel_renormalization.py, benchmarks/deepbays_conv1hl.py).
# The venv reuses the system numpy / scipy / torch (--system-site-packages) and installs deepbays
# without dependencies: torchvision (data-set loaders) and cupy (GPU kernels), which deepbays
# imports but CONV_1HL does not use on the CPU, are stubbed by deepbays_conv1hl.py.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
VENV="$HERE/.deepbays-venv"
python -m venv --system-site-packages "$VENV"
"$VENV/bin/python" -m pip install --quiet --no-deps "deepbays==0.1.11"
"$VENV/bin/python" "$HERE/deepbays_conv1hl.py" --check
