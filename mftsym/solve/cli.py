"""``mftsym solve`` and ``mftsym sweep`` (registered by the main CLI through ``add_parser``)."""

from __future__ import annotations

import numpy as np

from ..errors import EvaluationError, MftsymError


def _load_data(path):
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: np.asarray(z[k]) for k in z.files}
    except (OSError, ValueError) as exc:
        raise EvaluationError(f"--data {path}: cannot read a .npz file ({exc})") from None
    missing = [k for k in ("x_train", "y_train") if k not in arrays]
    if missing:
        raise EvaluationError(f"--data {path}: missing array(s) {missing}; DATA.npz needs x_train, y_train "
                              "and x_test")
    return arrays["x_train"], arrays["y_train"], arrays.get("x_test")


def _values(text):
    """"a:b:n" (linear), "log:a:b:n" (logarithmic) or "v1,v2,..."."""
    try:
        if text.startswith("log:"):
            a, b, n = text[4:].split(":")
            return np.logspace(np.log10(float(a)), np.log10(float(b)), int(n))
        if ":" in text:
            a, b, n = text.split(":")
            return np.linspace(float(a), float(b), int(n))
        return np.array([float(v) for v in text.split(",")])
    except ValueError:
        raise MftsymError(f"--values {text!r}: use A:B:N, log:A:B:N or V1,V2,...") from None


def run(args) -> int:
    from ..cli_common import load_cli_spec
    from ..io import atomic_write_json
    from .common import theory_kind
    spec = load_cli_spec(args.spec, args.set)
    kind = args.theory or theory_kind(spec)
    if args.data is None and (spec.data or {}).get("inputs") == "two_hot":
        from .modular_addition_phases import solve_modular_addition_phases
        sol = solve_modular_addition_phases(spec)
        atomic_write_json(args.out, sol.to_dict())
        print(sol)
        print(f"wrote {args.out}")
        return 0
    if args.data is None:
        if spec.data is None or spec.data.get("inputs") != "gaussian":
            raise MftsymError("give --data DATA.npz (x_train, y_train, x_test), or a symbolic [data] model "
                              "with inputs = \"gaussian\" in the spec")
        from .data_model import solve_data_model
        sol = solve_data_model(spec)
    else:
        from .api import solve
        x, y, xt = _load_data(args.data)
        options = {"confirm": True} if (args.confirm and kind == "kernel_renormalization") else {}
        if kind == "adaptive_kernel" and args.strategy:
            options["strategy"] = args.strategy
        sol = solve(spec, x, y, xt, theory=kind, **options)
    atomic_write_json(args.out, sol.to_dict())
    print(sol)
    if sol.extras.get("approximation"):
        print(f"theory: {sol.extras['approximation']}")
    print(f"wrote {args.out}")
    return 0 if sol.converged else 1


def run_sweep(args) -> int:
    from ..cli_common import load_cli_spec
    from ..io import atomic_write_json
    spec = load_cli_spec(args.spec, args.set)
    values = _values(args.values)
    if args.data is None and (spec.data or {}).get("inputs") == "two_hot":
        from .modular_addition_phases import sweep_two_hot
        result = sweep_two_hot(spec, args.param, values)
        atomic_write_json(args.out, result)
        print(f"wrote {args.out}")
        for t in result["transitions"]:
            print(f"{t['kind']} at {args.param} = {t['value']:.6g} ({t['from']} -> {t['to']}; {t['definition']})")
        return 0
    if args.data is None:
        from .data_model_sweep import sweep_data_model
        result = sweep_data_model(spec, args.param, values, plot=args.plot)
        atomic_write_json(args.out, result)
        print(f"wrote {args.out}" + (f" and {args.plot}" if args.plot else ""))
        if result.get("transitions"):
            for t in result["transitions"]:
                if "value" in t:
                    print(f"{t['kind']} at {args.param} = {t['value']:.6g} ({t.get('from')} -> {t.get('to')}; "
                          f"{t.get('definition', '')})")
        return 0
    from .renormalization import sweep_kernel_renormalization
    x, y, xt = _load_data(args.data)
    sols = sweep_kernel_renormalization(spec, x, y, {args.param: values}, x_test=xt)
    out = {"param": args.param, "values": values.tolist(), "solutions": [s.to_dict() for s in sols]}
    atomic_write_json(args.out, out)
    if args.plot:
        from .plotting import plot_sweep
        plot_sweep(args.plot, args.param, values, [s.order_parameters for s in sols])
    bad = sum(not s.converged for s in sols)
    print(f"wrote {args.out}: {len(sols)} points, {bad} not converged")
    return 0 if bad == 0 else 1


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("solve", help="solve the spec's theory (gp, kernel renormalization, adaptive kernel)")
    p.add_argument("spec", help="spec TOML file, or example:NAME")
    p.add_argument("--data", metavar="DATA.npz", help="x_train, y_train, x_test (omit for a symbolic [data] model)")
    p.add_argument("--out", required=True, metavar="RESULT.json")
    from .registry import solvable_theories
    p.add_argument("--theory", choices=list(solvable_theories()), help="override [theory] kind")
    p.add_argument("--strategy", choices=["gaussian", "langevin"], help="adaptive kernel: per-neuron strategy")
    p.add_argument("--confirm", action="store_true", help="confirm the root with mpmath (kernel renormalization)")
    p.add_argument("--set", action="append", metavar="NAME=VALUE", help="override a [params] value")
    p.set_defaults(func=run)
    s = subparsers.add_parser("sweep", help="solve over a range of one parameter and plot the order parameters")
    s.add_argument("spec")
    s.add_argument("--param", required=True, help="parameter to vary (noise for the noise variance, a width, "
                                                   "or a [params] name of the data model)")
    s.add_argument("--values", required=True, help="A:B:N, log:A:B:N or V1,V2,...")
    s.add_argument("--data", metavar="DATA.npz")
    s.add_argument("--out", required=True, metavar="SWEEP.json")
    s.add_argument("--plot", metavar="PLOT.png")
    s.add_argument("--set", action="append", metavar="NAME=VALUE")
    s.set_defaults(func=run_sweep)
