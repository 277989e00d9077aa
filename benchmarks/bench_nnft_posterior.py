"""The 1/N-corrected posterior's contraction path (mftsym.nnft.predict, method="contract"): numpy
against the torch sampling path on a device, measured in the same run.

    python benchmarks/bench_nnft_posterior.py [--P 250] [--T 50] [--samples 200000] [--device cpu]
                                              [--repeats 3] [--json OUT.json]

The built-in erf example (d = 8), P training and T test points, the same draws count for both.
Reported: the median seconds of each, their ratio, and the largest difference of the two
estimates of the mean and variance corrections in units of their combined standard error (two
independent random streams: |z| of a few is expected, not an error).  Nothing is asserted about time.
"""

import argparse
import json
import os
import platform
import time

import numpy as np
import torch

import mftsym
from mftsym.nnft import predict


def timed(fn, repeats):
    fn()
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return out, float(np.median(times))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--P", type=int, default=250)
    ap.add_argument("--T", type=int, default=50)
    ap.add_argument("--samples", type=int, default=200_000)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json")
    args = ap.parse_args()
    spec = mftsym.example_spec("two_layer_erf")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.P + args.T, 8))
    y = np.sin(x[:args.P, 0]) + 0.1 * rng.normal(size=args.P)
    run = dict(x_train=x[:args.P], y_train=y, x_test=x[args.P:], noise_var=0.05, method="contract",
               samples=args.samples)
    ref, t_np = timed(lambda: predict(spec, **run), args.repeats)
    got, t_dev = timed(lambda: predict(spec, **run, device=args.device), args.repeats)
    z = {k: float(np.max(np.abs(got[k] - ref[k]) / np.hypot(got[k + "_se"], ref[k + "_se"])))
         for k in ("correction", "var_correction")}
    row = {"P": args.P, "T": args.T, "samples": args.samples, "device": args.device, "numpy_s": t_np,
           "torch_s": t_dev, "numpy_over_torch": t_np / t_dev, "max_abs_z": z,
           "machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
           "torch_threads": torch.get_num_threads(),
           "gpu": torch.cuda.get_device_name() if str(args.device).startswith("cuda") else None}
    print(f"P={args.P} T={args.T} samples={args.samples}: numpy {t_np:.3f} s, torch on {args.device} "
          f"{t_dev:.3f} s ({t_np / t_dev:.1f}x); max |z| between them: mean {z['correction']:.2f}, "
          f"variance {z['var_correction']:.2f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(row, fh, indent=2)


if __name__ == "__main__":
    main()
