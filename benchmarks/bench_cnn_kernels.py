"""NNGP + NTK of a 3-conv-layer ReLU CNN with global average pooling on 8x8x3 images, float64, CPU:
mftsym against neural-tangents' jitted ``kernel_fn``, both measured in the same run.

    python benchmarks/bench_cnn_kernels.py [--n 256] [--repeats 2] [--threads T]

The network (both libraries): [conv 3x3 "same" (W_std=1.4, b_std=0.1), ReLU] x 3, global average
pooling, dense readout.  Global pooling mixes positions, so both keep every position pair:
(P, P, 64, 64) entries per kernel.  neural-tangents runs in ``benchmarks/.nt-venv`` (built by
``bench_kernels.py --with-nt``) through ``nt_cnn_baseline.py``; each library runs in its own
subprocess so that its peak resident memory (ru_maxrss) is its own.  Prints one JSON line and the
agreement max |mftsym - NT| / max |NT|.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
NT_PYTHON = HERE / ".nt-venv" / "bin" / "python"

SPEC = {"network": {"input_shape": [8, 8, 3], "parametrization": "ntk", "layers": (
    [{"type": "conv", "width": "C", "kernel": [3, 3], "padding": "same", "weight_var": 1.4 ** 2,
      "bias_var": 0.1 ** 2}, {"type": "activation", "fn": "relu"}] * 3
    + [{"type": "global_avg_pool"}, {"type": "dense", "width": 1, "weight_var": 1.4 ** 2, "bias_var": 0.1 ** 2}])}}


def run_mftsym(xfile, out, repeats, threads):
    """Child process: time mftsym.kernel and report its peak memory."""
    import mftsym as mf
    spec = mf.Spec.from_dict(SPEC)
    x = np.load(xfile)
    t0 = time.perf_counter()
    mf.derive_kernels(spec)
    derive_s = time.perf_counter() - t0
    from mftsym.compile.spatial_kernel import evaluate_spatial_kernel
    der = mf.derive_kernels(spec)
    t0 = time.perf_counter()
    k = evaluate_spatial_kernel(der, spec.network, x, None, ("nngp", "ntk"), {}, threads=threads)
    first = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        evaluate_spatial_kernel(der, spec.network, x, None, ("nngp", "ntk"), {}, threads=threads)
        times.append(time.perf_counter() - t0)
    np.savez(out, nngp=k[0], ntk=k[1])
    print(json.dumps({"derive_s": derive_s, "first_call_s": first, "times_s": times,
                      "median_s": float(np.median(times)),
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--no-nt", action="store_true", help="skip neural-tangents (its memory grows as P^2 |S|^2 "
                    "arrays of several GB at P = 256)")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return run_mftsym(args.child[0], args.child[1], args.repeats, args.threads)
    x = np.random.default_rng(0).normal(size=(args.n, 8, 8, 3))
    with tempfile.TemporaryDirectory() as tmp:
        xfile = os.path.join(tmp, "x.npy")
        np.save(xfile, x)
        cmd = [sys.executable, __file__, "--child", xfile, os.path.join(tmp, "mf.npz"), "--repeats",
               str(args.repeats)] + (["--threads", str(args.threads)] if args.threads else [])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE.parent), os.environ.get("PYTHONPATH", "")])}
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=HERE.parent, env=env)
        if proc.returncode:
            raise RuntimeError(proc.stderr[-3000:])
        mine = json.loads(proc.stdout.strip().splitlines()[-1])
        result = {"n": args.n, "mftsym": mine}
        if NT_PYTHON.exists() and not args.no_nt:
            proc = subprocess.run([str(NT_PYTHON), str(HERE / "nt_cnn_baseline.py"), "--x", xfile, "--out",
                                   os.path.join(tmp, "nt.npz"), "--repeats", str(args.repeats)],
                                  capture_output=True, text=True)
            if proc.returncode:
                raise RuntimeError(proc.stderr[-3000:])
            result["neural_tangents"] = json.loads(proc.stdout.strip().splitlines()[-1])
            a, b = np.load(os.path.join(tmp, "mf.npz")), np.load(os.path.join(tmp, "nt.npz"))
            result["agreement"] = {k: float(np.max(np.abs(a[k] - b[k].reshape(a[k].shape))) / np.max(np.abs(b[k])))
                                   for k in ("nngp", "ntk")}
            result["time_ratio"] = mine["median_s"] / result["neural_tangents"]["median_s"]
            result["memory_ratio"] = mine["peak_rss_mb"] / result["neural_tangents"]["peak_rss_mb"]
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
