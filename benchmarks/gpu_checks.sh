#!/usr/bin/env bash
# The GPU checks of the torch paths, as one script for a lent CUDA machine (about 5 minutes):
#   1. tests/test_cuda.py (kernels, hand-written gradients, init covariance, Langevin, checkpoints,
#      batched saddle solves on the GPU against the CPU paths);
#   2. benchmarks/bench_langevin.py on the GPU: 16 members (the issue's figure) and 1024 members;
#   3. validation study 3 on the GPU ("3gpu"), its member count chosen from a timed probe so that
#      it fits the time left;
#   4. benchmarks/bench_kernels.py with the torch backend on the GPU (numpy on the host's CPUs);
#   5. benchmarks/bench_nnft_posterior.py: the 1/N-corrected posterior's sampling on the GPU.
# Everything lands in $OUT (default ./gpu_out): logs, JSON, and study3_gpu.tar.gz.
# Needs python3 with torch (CUDA), sympy, numpy, scipy, mpmath, matplotlib, tqdm, pytest, and
# tomli-w (pass its wheel directory as WHEELS=.whl if missing).
set -u
OUT=${OUT:-gpu_out}
mkdir -p "$OUT"
LOG="$OUT/gpu_checks.log"
if [ -n "${WHEELS:-}" ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site "$WHEELS"/*.whl \
        && export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 MPLBACKEND=Agg
start=$(date +%s)
log() { echo "== $(( $(date +%s) - start )) s: $*" | tee -a "$LOG"; }

log "machine"
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  python3 -c "import torch, sympy, numpy; print('torch', torch.__version__, 'sympy', sympy.__version__, 'numpy', numpy.__version__, 'cpus', __import__('os').cpu_count())"
} 2>&1 | tee -a "$LOG"

log "1. tests/test_cuda.py"
timeout 120 python3 -m pytest -q -p no:cacheprovider -rs tests/test_cuda.py 2>&1 | tail -15 | tee -a "$LOG"

log "2. Langevin ensemble vs per-network loop on the GPU"
timeout 80 python3 benchmarks/bench_langevin.py --device cuda --steps 40 --json "$OUT/langevin_cuda_m16.json" 2>&1 | tee -a "$LOG"
timeout 60 python3 benchmarks/bench_langevin.py --device cuda --members 1024 --sizes 1024 --steps 6 \
    --json "$OUT/langevin_cuda_m1024.json" 2>&1 | tee -a "$LOG"

log "3. study 3 on the GPU: timed probe, then the study"
members=$(timeout 60 python3 - <<'EOF' 2>>"$LOG"
import sys, time
sys.path.insert(0, "validation")
import run_studies as R
from mftsym.validate import Langevin, run_ensemble
spec, data = R.spec_of("study3_one_over_n"), R.study3_data()
tr = Langevin(step_size=1e-2, steps=400, burn_in=100, thin=5)
run_ensemble(spec, data, 512, 4096, Langevin(step_size=1e-2, steps=20, burn_in=10, thin=5), device="cuda")
t = time.perf_counter()
run_ensemble(spec, data, 512, 4096, tr, device="cuda")
per_step = (time.perf_counter() - t) / 400
# the five widths 32..512 cost at most ~2.5x the widest one; keep the study under ~150 s
projected = 14000 * per_step * 2.5
members = 4096 if projected < 150 else 2048 if projected / 2 < 150 else 1024
print(f"probe: {per_step * 1e3:.2f} ms/step at N=512 with 4096 members; projected {projected:.0f} s; "
      f"running {members} members", file=sys.stderr)
print(members)
EOF
)
log "study 3 members: ${members:-probe failed}"
if [ -n "${members:-}" ]; then
    timeout 200 python3 -c "
import sys, time; sys.path.insert(0, 'validation')
import run_studies as R
t = time.time(); rep = R.study3_gpu(members=$members)
print(f'study 3 gpu: {time.time() - t:.0f} s')
import json; print(json.dumps(json.load(open('validation/study3_one_over_n_gpu/signed_shift.json'))['fits'], indent=1))
" 2>&1 | tail -40 | tee -a "$LOG"
    tar czf "$OUT/study3_gpu.tar.gz" --exclude=runs validation/study3_one_over_n_gpu 2>>"$LOG"
    tar czf "$OUT/study3_gpu_runs.tar.gz" validation/study3_one_over_n_gpu/runs 2>>"$LOG"
    du -sh validation/study3_one_over_n_gpu/* | tee -a "$LOG"
fi

log "4. kernels: torch on the GPU vs numpy on the host"
timeout 75 python3 benchmarks/bench_kernels.py --device cuda --no-nt --no-torch-compile --repeats 3 \
    --json "$OUT/kernels_cuda.json" 2>&1 | tail -20 | tee -a "$LOG"
log "5. NNFT posterior contraction path: torch on the GPU vs numpy on the host"
timeout 60 python3 benchmarks/bench_nnft_posterior.py --P 1000 --T 100 --device cuda --repeats 2 \
    --json "$OUT/nnft_posterior_cuda.json" 2>&1 | tail -3 | tee -a "$LOG"
log "done"
