"""neural-tangents baseline for ``bench_kernels.py`` -- runs inside ``benchmarks/.nt-venv``.

neural-tangents 0.6.5 needs old JAX (0.4.23) and numpy < 2, so it cannot share mftsym's
environment; ``bench_kernels.py`` runs this file as a subprocess with the venv's python.

    python nt_baseline.py --x X.npy --act relu --depth 5 --w-std 1.4 --b-std 0.3 \
        --repeats 5 --out OUT.npz

Builds ``stax.serial([Dense(512, W_std, b_std), Act()] * depth, Dense(1, W_std, b_std))`` in the
NTK parametrization, jits ``kernel_fn(x, x, get=('nngp', 'ntk'))`` in float64 on the CPU, and
prints one JSON line: the first call (trace + XLA compile + run) and the run times of
``--repeats`` further calls (median reported).  Widths do not enter the infinite-width kernels.
The kernels themselves are written to ``--out`` so the caller can compare them with mftsym's.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--x", required=True, help=".npy file of inputs, one per row")
    ap.add_argument("--act", choices=("relu", "erf"), required=True)
    ap.add_argument("--depth", type=int, default=5)
    ap.add_argument("--w-std", type=float, default=1.4)
    ap.add_argument("--b-std", type=float, default=0.3)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", help=".npz file for the kernels (nngp, ntk)")
    args = ap.parse_args(argv)

    import jax
    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_platforms", "cpu")
    import jax.numpy as jnp
    import neural_tangents as nt
    from neural_tangents import stax

    act = {"relu": stax.Relu, "erf": stax.Erf}[args.act]
    layers = []
    for _ in range(args.depth):
        layers += [stax.Dense(512, W_std=args.w_std, b_std=args.b_std, parameterization="ntk"), act()]
    layers.append(stax.Dense(1, W_std=args.w_std, b_std=args.b_std, parameterization="ntk"))
    _, _, kernel_fn = stax.serial(*layers)
    kernel_fn = jax.jit(kernel_fn, static_argnames=("get",))

    x = jnp.asarray(np.load(args.x), dtype=jnp.float64)

    def run():
        out = kernel_fn(x, x, get=("nngp", "ntk"))
        jax.block_until_ready(out)
        return out

    t0 = time.perf_counter()
    nngp, ntk = run()
    compile_s = time.perf_counter() - t0
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    if args.out:
        np.savez(args.out, nngp=np.asarray(nngp), ntk=np.asarray(ntk))
    print(json.dumps({
        "act": args.act, "n": int(x.shape[0]), "dim": int(x.shape[1]), "depth": args.depth,
        "dtype": str(nngp.dtype), "first_call_s": compile_s, "times_s": times,
        "median_s": float(np.median(times)),
        "versions": {"jax": jax.__version__, "jaxlib": jax.lib.__version__ if hasattr(jax.lib, "__version__") else None,
                     "neural_tangents": getattr(nt, "__version__", None), "numpy": np.__version__,
                     "python": sys.version.split()[0]},
        "device": str(jax.devices()[0]),
    }))


if __name__ == "__main__":
    main()
