"""Benchmark: NNGP + NTK of deep ReLU and erf networks, mftsym against two baselines (issue 2).

    python benchmarks/bench_kernels.py [--n 2000] [--quick] [--json OUT.json]

Network: ``depth`` x (Dense + activation) then a Dense readout, NTK parametrization,
W_std = 1.4, b_std = 0.3 (weight_var = W_std**2, bias_var = b_std**2), inputs of dimension 100,
float64 on the CPU.  Both kernels (NNGP and NTK) between all pairs of the n inputs.

Baselines, measured in the same run on the same inputs:

* ``numpy-ref``: the same recursion written by hand below in plain numpy (Cho & Saul arc-cosine
  kernel for ReLU, Williams' arcsin kernel for erf), whole-array operations;
* ``neural-tangents``: ``jax.jit(kernel_fn)(x, x, get=('nngp', 'ntk'))`` with ``jax_enable_x64``,
  neural-tangents 0.6.5 on jax 0.4.23.  It needs numpy < 2, so it runs in its own venv,
  ``benchmarks/.nt-venv``, which this script creates if missing, as a subprocess running
  ``benchmarks/nt_baseline.py`` (JSON timings on stdout, kernels in an .npz).

mftsym is timed through the public API, ``mftsym.kernel(spec, x, kind=("nngp", "ntk"), ...)``
(one call, both kernels), for the numpy and the torch backend, twice: as ``K(X, X)`` (x2=None,
which lets mftsym evaluate only half of the symmetric grid) and as ``K(X, X2)`` with X2 a copy of
X (no symmetry used: the same work as the peers); and once more for torch with its opt-in
``torch.compile`` path (``MFTSYM_TORCH_COMPILE=1``; its first call includes the compile).  Every figure is the median of ``--repeats``
runs after a first call; the first call (derivation + code generation, or trace + XLA compile
for neural-tangents) is reported on its own.  The kernels are checked against numpy-ref and
neural-tangents (max |a - b| / max |b| <= 1e-10 off the diagonal, 1e-6 on it: see ``rel_err``);
a mismatch fails the run.  Nothing is asserted
about time: the figures are reported as ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
NT_VENV = HERE / ".nt-venv"
NT_PACKAGES = ["neural-tangents==0.6.5", "jax==0.4.23", "jaxlib==0.4.23", "tf2jax==0.3.5",
               "numpy<2", "scipy<1.13"]
W_STD, B_STD = 1.4, 0.3
RTOL = 1e-10       # off-diagonal entries, max |a - b| / max |b|
DIAG_RTOL = 1e-6   # entries K(x_i, x_i): see rel_err


# --------------------------------------------------------------------------- hand-written numpy
def numpy_reference(act, x, depth, cw, cb):
    """NNGP and NTK of the network, plain numpy over whole arrays (the recursion by hand)."""
    d = x.shape[1]
    sq = (x * x).sum(1) / d
    k12 = cw * (x @ x.T) / d + cb
    k11 = cw * sq[:, None] + cb
    k22 = cw * sq[None, :] + cb
    th = k12.copy()
    for _ in range(depth):
        if act == "relu":
            norm = np.sqrt(k11 * k22)
            t = np.arccos(np.clip(k12 / norm, -1.0, 1.0))
            c12 = norm * (np.sin(t) + (np.pi - t) * np.cos(t)) / (2 * np.pi)
            cdot = (np.pi - t) / (2 * np.pi)
            c11, c22 = k11 / 2, k22 / 2
        else:  # erf: Williams 1997
            a, b = 1 + 2 * k11, 1 + 2 * k22
            c12 = 2 / np.pi * np.arcsin(np.clip(2 * k12 / np.sqrt(a * b), -1.0, 1.0))
            cdot = 4 / np.pi / np.sqrt(a * b - 4 * k12**2)
            c11 = 2 / np.pi * np.arcsin(2 * k11 / a)
            c22 = 2 / np.pi * np.arcsin(2 * k22 / b)
        k12, k11, k22 = cw * c12 + cb, cw * c11 + cb, cw * c22 + cb
        th = k12 + cw * cdot * th
    return k12, th


def deep_spec(act, depth, dim):
    import mftsym as mf
    layers = []
    for _ in range(depth):
        layers += [mf.Dense("N", "W_std**2", "b_std**2"), mf.Activation(act)]
    layers.append(mf.Dense(1, "W_std**2", "b_std**2"))
    return mf.Spec(mf.Network(tuple(layers), input_dim=dim, parametrization="ntk"),
                   params={"W_std": W_STD, "b_std": B_STD, "N": 512})


# --------------------------------------------------------------------------- neural-tangents
def nt_python(create: bool, override: str | None = None) -> str | None:
    """The venv python for neural-tangents; build ``benchmarks/.nt-venv`` if asked and missing."""
    if override:
        return override
    py = NT_VENV / "bin" / "python"
    if py.exists():
        return str(py)
    if not create:
        return None
    print(f"creating {NT_VENV} (neural-tangents and old jax; takes a few minutes) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(NT_VENV)], check=True)
    subprocess.run([str(py), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=False)
    subprocess.run([str(py), "-m", "pip", "install", "--quiet", *NT_PACKAGES], check=True)
    return str(py)


def run_nt(py, act, xfile, depth, repeats, outfile):
    cmd = [py, str(HERE / "nt_baseline.py"), "--x", xfile, "--act", act, "--depth", str(depth),
           "--w-std", str(W_STD), "--b-std", str(B_STD), "--repeats", str(repeats), "--out", outfile]
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("PYTHONPATH", None)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"nt_baseline.py failed:\n{proc.stderr[-3000:]}")
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")][-1]
    res = json.loads(line)
    with np.load(outfile) as z:
        res["kernels"] = (z["nngp"], z["ntk"])
    return res


# --------------------------------------------------------------------------- timing
def timed(fn, repeats):
    t0 = time.perf_counter()
    out = fn()
    first = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return out, first, float(np.median(times)), times


def rel_err(a, b):
    """(off-diagonal, diagonal) max |a - b| / max |b|.

    The diagonal is checked apart: at x = x' the correlation rho is 1 up to rounding, and the ReLU
    NTK depends on arccos(rho), whose slope is infinite at rho = 1 -- one ulp of rho moves
    arccos(rho) by ~1.5e-8, so every implementation (neural-tangents included) differs from every
    other by ~1e-8 there.  Off the diagonal the comparison is held to 1e-10.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    err = np.abs(a - b) / np.max(np.abs(b))
    diag = np.diagonal(err).copy()
    np.fill_diagonal(err, 0.0)
    return float(err.max()), float(diag.max())


def kernel_errs(out, ref):
    (o1, d1), (o2, d2) = rel_err(out[0], ref[0]), rel_err(out[1], ref[1])
    return max(o1, o2), max(d1, d2)


def machine_info():
    import torch
    info = {"python": sys.version.split()[0], "numpy": np.__version__, "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(), "platform": platform.platform(),
            "cpu": platform.processor() or platform.machine()}
    try:
        info["lscpu"] = subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines()[:20]
        info["cpu"] = next((ln.split(":", 1)[1].strip() for ln in info["lscpu"] if ln.startswith("Model name")),
                           info["cpu"])
    except OSError:
        pass
    info["loadavg_at_start"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    info["cpus"] = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return info


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000, help="number of inputs (default 2000)")
    ap.add_argument("--dim", type=int, default=100)
    ap.add_argument("--depth", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--acts", default="relu,erf")
    ap.add_argument("--backends", default="numpy,torch")
    ap.add_argument("--quick", action="store_true",
                    help="n=200, 2 repeats, no torch.compile; neural-tangents only if its venv already exists")
    ap.add_argument("--no-nt", action="store_true", help="skip neural-tangents")
    ap.add_argument("--nt-python", help="python of an existing neural-tangents venv (default: benchmarks/.nt-venv)")
    ap.add_argument("--torch-compile", action=argparse.BooleanOptionalAction, default=True,
                    help="also time the torch backend with its opt-in torch.compile path (default on)")
    ap.add_argument("--device", default="cpu",
                    help="device of the torch backend, e.g. cuda (its time includes copying the kernels back)")
    ap.add_argument("--json", help="write all figures to this file")
    args = ap.parse_args(argv)
    if args.quick:
        args.n, args.repeats, args.torch_compile = min(args.n, 200), 2, False

    import torch

    import mftsym as mf
    import mftsym.compile.kernel_fn as kf

    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.n, args.dim))
    info = machine_info()
    py = None if args.no_nt else nt_python(create=not args.quick, override=args.nt_python)
    if args.device != "cpu":
        info["device"] = torch.cuda.get_device_name(args.device) if args.device.startswith("cuda") else args.device
    results = {"machine": info, "n": args.n, "dim": args.dim, "depth": args.depth, "repeats": args.repeats,
               "W_std": W_STD, "b_std": B_STD, "rows": []}
    print(f"# {args.n} inputs of dimension {args.dim}, depth {args.depth}, float64, CPU: {info['cpu']} "
          f"({info['cpus']} CPUs), numpy {info['numpy']}, torch {info['torch']} ({info['torch_threads']} threads)")
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        xfile = os.path.join(tmp, "x.npy")
        np.save(xfile, x)
        for act in args.acts.split(","):
            spec = deep_spec(act, args.depth, args.dim)
            cw, cb = W_STD**2, B_STD**2
            rows = []
            ref, ref_first, ref_t, _ = timed(lambda: numpy_reference(act, x, args.depth, cw, cb), args.repeats)
            rows.append({"impl": "numpy-ref (hand-written)", "median_s": ref_t, "first_s": ref_first})
            nt = None
            if py:
                nt = run_nt(py, act, xfile, args.depth, args.repeats, os.path.join(tmp, f"nt_{act}.npz"))
                results["nt_versions"] = nt["versions"]
                err, derr = kernel_errs(nt["kernels"], ref)
                rows.append({"impl": "neural-tangents jit", "median_s": nt["median_s"], "first_s": nt["first_call_s"],
                             "err_vs_ref": err, "diag_err_vs_ref": derr})
            variants = [(b, sym, False) for b in args.backends.split(",") for sym in (True, False)]
            if args.torch_compile and "torch" in args.backends.split(","):
                variants.append(("torch", False, True))
            for backend, sym, fused in variants:
                x2 = None if sym else x.copy()
                kf.TORCH_COMPILE = True if fused else None

                def call():
                    if backend != "torch":
                        return mf.kernel(spec, x, x2, kind=("nngp", "ntk"), backend=backend)
                    out = mf.kernel(spec, x, x2, kind=("nngp", "ntk"), backend=backend, device=args.device)
                    return tuple(o.cpu().numpy() for o in out)

                out, first, med, _ = timed(call, args.repeats)
                kf.TORCH_COMPILE = None
                err, derr = kernel_errs(out, ref)
                name = f"mftsym {backend}" + (f" {args.device}" if backend == "torch" and args.device != "cpu" else "") \
                    + (" compiled" if fused else "")
                row = {"impl": f"{name} " + ("K(X,X)" if sym else "K(X,X2=X copy)"),
                       "median_s": med, "first_s": first, "err_vs_ref": err, "diag_err_vs_ref": derr}
                if nt is not None:
                    row["err_vs_nt"], row["diag_err_vs_nt"] = kernel_errs(out, nt["kernels"])
                rows.append(row)
            for row in rows:
                row["act"] = act
                row["x_numpy_ref"] = row["median_s"] / ref_t
                if nt is not None:
                    row["x_nt"] = row["median_s"] / nt["median_s"]
                for key in ("err_vs_ref", "err_vs_nt", "diag_err_vs_ref", "diag_err_vs_nt"):
                    tol = DIAG_RTOL if key.startswith("diag") else RTOL
                    if not row.get(key, 0.0) <= tol:
                        failures.append(f"{act} {row['impl']}: {key} = {row[key]:.3g} > {tol}")
            results["rows"] += rows
            print(f"\n## {act}: NNGP + NTK, {args.n} x {args.n}")
            print(f"{'implementation':38s} {'median s':>9s} {'first s':>8s} {'x numpy-ref':>11s} {'x NT':>6s}"
                  f" {'err vs ref':>10s} {'err vs NT':>9s} {'diag vs ref':>11s}")
            for r in rows:
                def fmt(key, w):
                    return f"{r[key]:{w}.1e}" if key in r else f"{'-':>{w}s}"
                xnt = f"{r['x_nt']:6.2f}" if "x_nt" in r else f"{'-':>6s}"
                print(f"{r['impl']:38s} {r['median_s']:9.4f} {r['first_s']:8.3f} {r['x_numpy_ref']:11.3f} {xnt}"
                      f" {fmt('err_vs_ref', 10)} {fmt('err_vs_nt', 9)} {fmt('diag_err_vs_ref', 11)}")
    info["loadavg_at_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    print(f"\nload average at start {info['loadavg_at_start']}, at end {info['loadavg_at_end']}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    if failures:
        print("\nMISMATCH:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
