"""``mftsym curves SPEC --P 10:10000:30 [--out J.json] [--plot curve.png]``: the spectral learning
curve of the spec's kernel (registered by the main CLI through ``add_parser``)."""

from __future__ import annotations

import numpy as np

from ..errors import MftsymError


def sample_sizes(text: str) -> np.ndarray:
    """"A:B:N" (N log-spaced integers from A to B, duplicates dropped) or "P1,P2,..."."""
    try:
        if ":" in text:
            a, b, n = text.split(":")
            a, b, n = float(a), float(b), int(n)
            if not (0 < a <= b) or n < 1:
                raise ValueError
            return np.unique(np.round(np.logspace(np.log10(a), np.log10(b), n)).astype(int))
        out = np.array([int(v) for v in text.split(",")])
        if np.any(out < 1):
            raise ValueError
        return out
    except ValueError:
        raise MftsymError(f"--P {text!r}: use A:B:N (log-spaced, 0 < A <= B) or P1,P2,... (positive integers)") \
            from None


def plot_curve(path, curve, top: int = 6):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    ax.loglog(curve.P, curve.Eg, "k-", lw=2, label=r"$E_g$ total")
    contrib = curve.modes.max(axis=0)
    labels = curve.labels if curve.labels is not None else np.arange(curve.modes.shape[1])
    for j in np.argsort(contrib)[::-1][:top]:
        if contrib[j] > 0:
            ax.loglog(curve.P, curve.modes[:, j], "--", lw=1, label=f"mode {labels[j]}")
    if np.any(curve.noise_part > 0):
        ax.loglog(curve.P, curve.noise_part, ":", lw=1.2, label="noise")
    ax.set_xlabel("P (training samples)")
    ax.set_ylabel(r"$E_g$")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def run(args) -> int:
    from ..cli_common import load_cli_spec
    from ..io import atomic_write_json
    from .curves import spec_learning_curve
    spec = load_cli_spec(args.spec, args.set)
    P = sample_sizes(args.P)
    x = y = None
    if args.data:
        from .cli import _load_data
        try:
            x, y, _ = _load_data(args.data)
        except MftsymError:
            with np.load(args.data, allow_pickle=False) as z:
                if "x" not in z.files and "x_train" not in z.files:
                    raise MftsymError(f"--data {args.data}: needs an array x (or x_train), optionally y") from None
                x = np.asarray(z["x"] if "x" in z.files else z["x_train"])
                y = np.asarray(z["y"]) if "y" in z.files else None
        if args.target is not None:
            y = None
    curve = spec_learning_curve(spec, P, target=args.target, ridge=args.ridge, noise=args.noise,
                                kind=args.kernel, lmax=args.lmax, d=args.d, x=x, y=y)
    if args.out:
        atomic_write_json(args.out, curve.to_dict())
    if args.plot:
        plot_curve(args.plot, curve)
    print(f"learning curve of the {args.kernel.upper()} ({curve.meta['measure']}), target "
          f"{curve.meta['target']!r}, ridge {curve.ridge:g}, label noise {curve.noise:g}")
    for p, e, k in zip(curve.P, curve.Eg, curve.kappa):
        print(f"  P = {int(p):>8d}   E_g = {e:.6g}   kappa = {k:.6g}")
    for path in (args.out, args.plot):
        if path:
            print(f"wrote {path}")
    return 0


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("curves", help="spectral learning curve E_g(P) of kernel regression with the "
                                             "spec's kernel (Canatar, Bordelon & Pehlevan 2021)")
    p.add_argument("spec", help="spec TOML file, or example:NAME")
    p.add_argument("--P", default="10:10000:30", help="sample sizes: A:B:N (log-spaced) or P1,P2,...")
    p.add_argument("--target", help="\"gp\" (teacher drawn from the kernel) or an expression in z = w*.x, "
                                    "|w*| = 1, e.g. \"He1(z) + 0.3*He3(z)\" (default: [data] teacher, else gp)")
    p.add_argument("--ridge", type=float, help="ridge lambda (default: the [posterior] noise_var, else 0)")
    p.add_argument("--noise", type=float, default=0.0, help="label-noise variance sigma^2 (default 0)")
    p.add_argument("--kernel", choices=["nngp", "ntk"], default="nngp")
    p.add_argument("--lmax", type=int, default=40, help="spherical-harmonic degrees kept (sphere spectrum)")
    p.add_argument("--d", type=int, help="input dimension (default: the spec's input_dim)")
    p.add_argument("--data", metavar="DATA.npz", help="inputs x (or x_train) and optional labels y (or y_train) "
                                                      "for the Nystrom spectrum")
    p.add_argument("--out", metavar="CURVE.json")
    p.add_argument("--plot", metavar="CURVE.png")
    p.add_argument("--set", action="append", metavar="NAME=VALUE", help="override a [params] value")
    p.set_defaults(func=run)
