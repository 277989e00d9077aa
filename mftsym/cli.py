"""Command-line interface: ``mftsym derive | kernel | ...``.

Each subcommand is a small function; stages contributed by other modules register through
``add_parser(subparsers)`` / ``run(args)`` pairs listed in ``_PLUGINS`` (imported lazily).  Helpers
the subcommands share (``load_cli_spec``) live in :mod:`mftsym.cli_common`: no stage imports this module.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from .cli_common import load_cli_spec
from .errors import MftsymError

#: module path -> subcommand it provides (add_parser(subparsers) and run(args)).
_PLUGINS = {
    "mftsym.solve.cli": "solve",
    "mftsym.validate.cli": "validate",
    "mftsym.nnft.cli": "criticality",
    "mftsym.scaling.cli": "scaling",
    "mftsym.solve.curves_cli": "curves",
}


def _cmd_derive(args):
    from . import derive_kernels
    from .export.latex import write_latex
    spec = load_cli_spec(args.spec, args.set)
    derivations = [derive_kernels(spec, method=args.method)]
    for extra in _extra_derivations(spec, args):
        derivations.append(extra)
    if args.latex:
        write_latex(args.latex, derivations, title=f"mftsym: {Path(str(args.spec)).name}")
        print(f"wrote {args.latex}")
    else:
        for der in derivations:
            print(der)
            print()
    return 0


def _extra_derivations(spec, args):
    """Derivations contributed by later stages (actions, finite-width), when the spec asks for them."""
    out = []
    if spec.theory is not None or spec.posterior is not None:
        try:
            from .solve.derive import derive_theory
        except ImportError:
            derive_theory = None
        if derive_theory is not None:
            out.extend(derive_theory(spec))
    if getattr(args, "finite_width", False):
        from .nnft.derive import derive_finite_width
        out.extend(derive_finite_width(spec))
    return out


def _load_array(path, name):
    import numpy as np
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise MftsymError(f"{name} {path}: cannot read a .npy array ({exc})") from None


def _cmd_kernel(args):
    from . import kernel
    from .io import atomic_save_npy
    spec = load_cli_spec(args.spec, args.set)
    x = _load_array(args.x, "--x")
    x2 = _load_array(args.x2, "--x2") if args.x2 else None
    if args.device and args.backend != "torch":
        raise MftsymError("--device needs --backend torch (numpy and mpmath run on the CPU)")
    k = kernel(spec, x, x2, kind=args.kind, backend=args.backend, method=args.method, device=args.device)
    if args.backend == "torch":
        k = k.cpu().numpy()
    atomic_save_npy(args.out, k)
    print(f"wrote {args.out}: {args.kind} kernel of shape {tuple(k.shape)}")
    return 0


def _cmd_run(args):
    from .pipeline import run_pipeline
    spec = load_cli_spec(args.spec, args.set)
    widths = tuple(int(w) for w in args.widths.split(","))
    run_pipeline(spec, args.out, widths=widths, ensemble=args.ensemble, steps=args.steps,
                 progress=not args.no_progress, device=args.device)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mftsym", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("derive", help="derive the kernels (and actions) of a spec; print or write LaTeX")
    d.add_argument("spec", help="spec TOML file, or example:NAME for a built-in example")
    d.add_argument("--latex", metavar="OUT.tex", help="write a compilable LaTeX document")
    d.add_argument("--finite-width", action="store_true", help="add the NNFT / 1/N equations")
    d.add_argument("--method", default="auto", choices=["auto", "hermite", "quadrature"])
    d.add_argument("--set", action="append", metavar="NAME=VALUE", help="override a [params] value")
    d.set_defaults(func=_cmd_derive)

    k = sub.add_parser("kernel", help="evaluate the NNGP/NTK kernel between the rows of X and X2")
    k.add_argument("spec")
    k.add_argument("--x", required=True, metavar="X.npy")
    k.add_argument("--x2", metavar="X2.npy")
    k.add_argument("--kind", default="nngp", choices=["nngp", "ntk"])
    k.add_argument("--backend", default="numpy", choices=["numpy", "torch", "mpmath"])
    k.add_argument("--method", default="auto", choices=["auto", "hermite", "quadrature"])
    k.add_argument("--device", help="torch device for --backend torch, e.g. cuda")
    k.add_argument("--set", action="append", metavar="NAME=VALUE")
    k.add_argument("--out", required=True, metavar="K.npy")
    k.set_defaults(func=_cmd_kernel)

    r = sub.add_parser("run", help="the whole pipeline on a spec: derive, solve, train ensembles, report")
    r.add_argument("spec", help="spec TOML file, or example:NAME (e.g. example:two_layer_erf)")
    r.add_argument("--out", required=True, metavar="DIR")
    r.add_argument("--widths", default="16,64,256", help="comma-separated hidden widths to train")
    r.add_argument("--ensemble", type=int, default=8, help="networks per width")
    r.add_argument("--steps", type=int, default=12000, help="Langevin steps per network")
    r.add_argument("--device", default="cpu", help="torch device the networks train on, e.g. cuda")
    r.add_argument("--no-progress", action="store_true")
    r.add_argument("--set", action="append", metavar="NAME=VALUE")
    r.set_defaults(func=_cmd_run)

    for module, _name in _PLUGINS.items():
        try:
            mod = importlib.import_module(module)
        except ImportError:
            continue
        mod.add_parser(sub)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except MftsymError as exc:
        print(f"mftsym: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
