"""deepbays ``CONV_1HL`` reference for local kernel renormalization -- runs inside
``benchmarks/.deepbays-venv`` (built by ``build_deepbays_venv.sh``).

    python deepbays_conv1hl.py --data IN.npz --Nc 8 --T 0.1 --mask 2 --l0 1 --l1 1 --act erf --out OUT.npz
    python deepbays_conv1hl.py --check          # import test

IN.npz holds ``x`` (P, side*side) single-channel square images, ``y`` (P,), ``x_test`` (P*, side*side).
OUT.npz receives ``Q`` (the saddle-point matrix over the mask x mask patches, deepbays' ``optQ``),
``mean`` and ``var`` (the posterior on ``x_test``), ``converged`` and ``grad`` (deepbays' own
diagnostics).  deepbays imports torchvision and cupy, unused here; they are stubbed when absent.
"""

from __future__ import annotations

import argparse
import sys
import types


def _stub_optional_imports():
    """torchvision (data-set loaders) and cupy (GPU kernels) are imported by deepbays at package
    import but not used by CONV_1HL on the CPU: empty modules stand in when they are absent."""
    try:
        import cupy  # noqa: F401
    except ImportError:
        cp = types.ModuleType("cupy")
        cp.__path__ = []
        cp.cuda = types.ModuleType("cupy.cuda")
        cp.cuda.Device = None
        sys.modules.update({"cupy": cp, "cupy.cuda": cp.cuda})
    try:
        import torchvision  # noqa: F401
        return
    except ImportError:
        pass
    tv = types.ModuleType("torchvision")
    tv.transforms = types.ModuleType("torchvision.transforms")
    tv.datasets = types.ModuleType("torchvision.datasets")
    sys.modules.update({"torchvision": tv, "torchvision.transforms": tv.transforms,
                        "torchvision.datasets": tv.datasets})


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data")
    ap.add_argument("--out")
    ap.add_argument("--Nc", type=int, default=8)
    ap.add_argument("--T", type=float, default=0.1)
    ap.add_argument("--mask", type=int, default=2)
    ap.add_argument("--l0", type=float, default=1.0)
    ap.add_argument("--l1", type=float, default=1.0)
    ap.add_argument("--act", default="erf")
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args(argv)
    _stub_optional_imports()
    import numpy as np
    import torch
    from deepbays.rkgp import CONV_1HL
    if args.check:
        print("deepbays CONV_1HL importable")
        return 0
    d = np.load(args.data)
    model = CONV_1HL(args.Nc, args.T, args.mask, args.mask, l0=args.l0, l1=args.l1, act=args.act)
    model.preprocess(d["x"], torch.as_tensor(d["y"]))
    model.optimize(Q0=1.0, minimizationTol=1e-12, gradTol=1e-8)
    mean = model.predict(d["x_test"])
    rk0 = np.asarray(model.rK0)
    if rk0.ndim == 2:       # deepbays broadcasts the (P*,) test diagonal into a (P*, P*) array of equal rows
        rk0 = np.diagonal(rk0)
    var = rk0 - np.einsum("ij,ij->i", model.K0_invK, model.rK0X)
    np.savez(args.out, Q=model.optQ, mean=np.asarray(mean).reshape(-1), var=np.asarray(var).reshape(-1),
             converged=bool(model.converged), grad=np.asarray(model.grad))
    return 0


if __name__ == "__main__":
    sys.exit(main())
