"""neural-tangents baseline for ``bench_cnn_kernels.py`` -- runs inside ``benchmarks/.nt-venv``.

    python nt_cnn_baseline.py --x X.npy --repeats 2 --out OUT.npz

Builds ``stax.serial([Conv(64, (3, 3), padding="SAME", W_std, b_std), Relu()] * 3, GlobalAvgPool(),
Dense(1, W_std, b_std))`` (NTK parametrization), jits ``kernel_fn(x, x, get=('nngp', 'ntk'))`` in
float64 on the CPU and prints one JSON line: the first call (trace + compile + run), the median of
``--repeats`` further calls, and the peak resident memory of this process.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--x", required=True, help=".npy file of images (P, H, W, C)")
    ap.add_argument("--w-std", type=float, default=1.4)
    ap.add_argument("--b-std", type=float, default=0.1)
    ap.add_argument("--depth", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--out", help=".npz file for the kernels (nngp, ntk)")
    args = ap.parse_args(argv)

    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import neural_tangents as nt
    from neural_tangents import stax

    layers = []
    for _ in range(args.depth):
        layers += [stax.Conv(64, (3, 3), padding="SAME", W_std=args.w_std, b_std=args.b_std), stax.Relu()]
    layers += [stax.GlobalAvgPool(), stax.Dense(1, W_std=args.w_std, b_std=args.b_std)]
    _, _, kernel_fn = stax.serial(*layers)
    kernel_fn = jax.jit(kernel_fn, static_argnames=("get",))
    x = jnp.asarray(np.load(args.x), dtype=jnp.float64)

    def run():
        out = kernel_fn(x, x, get=("nngp", "ntk"))
        jax.block_until_ready(out)
        return out

    t0 = time.perf_counter()
    nngp, ntk = run()
    first = time.perf_counter() - t0
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    if args.out:
        np.savez(args.out, nngp=np.asarray(nngp), ntk=np.asarray(ntk))
    print(json.dumps({"n": int(x.shape[0]), "first_call_s": first, "times_s": times,
                      "median_s": float(np.median(times)),
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "versions": {"jax": jax.__version__, "neural_tangents": getattr(nt, "__version__", None),
                                   "numpy": np.__version__, "python": sys.version.split()[0]}}))


if __name__ == "__main__":
    main()
