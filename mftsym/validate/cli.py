"""The ``mftsym validate`` subcommand (the lead wires ``add_parser``/``run`` into mftsym.cli).

    mftsym validate SPEC --data DATA.npz --widths 64,256,1024 --ensemble 16 --out DIR
                    [--trainer langevin|gd] [--step-size 1e-3] [--steps 5000] [--burn-in 1000]
                    [--thin 10] [--integrator ou|euler] [--noise auto|member|chunk]
                    [--lr 0.1] [--batch-size B] [--theory gp,ntk] [--dtype float64]
                    [--device cpu] [--chunks 1] [--workers 1] [--checkpoint-every 500] [--seed 0]
"""

from __future__ import annotations


def add_parser(subparsers):
    p = subparsers.add_parser("validate", help="train finite-width ensembles of SPEC and compare with theory")
    p.add_argument("spec", help="spec TOML file")
    p.add_argument("--data", required=True, help="DATA.npz with x_train, y_train, x_test (optional y_test)")
    p.add_argument("--widths", required=True, help="comma-separated hidden widths, e.g. 64,256,1024")
    p.add_argument("--ensemble", type=int, default=16, help="networks per width")
    p.add_argument("--out", required=True, help="output directory (report.json, report.md, PNGs)")
    p.add_argument("--trainer", choices=("langevin", "gd"), default="langevin")
    p.add_argument("--step-size", type=float, default=1e-3, help="Langevin step size")
    p.add_argument("--steps", type=int, default=5000)
    p.add_argument("--burn-in", type=int, default=1000)
    p.add_argument("--thin", type=int, default=10)
    p.add_argument("--integrator", choices=("ou", "euler"), default="ou",
                   help="Langevin discretisation (ou: the prior part exact; see mftsym.validate.langevin)")
    p.add_argument("--noise", choices=("auto", "member", "chunk"), default="auto",
                   help="Langevin noise per member or per chunk (auto: member on CPU, chunk on GPU)")
    p.add_argument("--noise-var", type=float, default=None, help="override [posterior] noise_var")
    p.add_argument("--lr", type=float, default=0.1, help="gradient-descent learning rate")
    p.add_argument("--batch-size", type=int, default=None, help="SGD minibatch (default: full batch)")
    p.add_argument("--theory", default=None, help="comma-separated theory names (default: gp for langevin, ntk for gd)")
    p.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    p.add_argument("--device", default="cpu")
    p.add_argument("--chunks", type=int, default=1, help="jobs per width")
    p.add_argument("--workers", type=int, default=1, help="processes for the jobs (1: in-process)")
    p.add_argument("--checkpoint-every", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    from concurrent.futures import ProcessPoolExecutor

    from . import GradientDescent, Langevin, validate
    if args.trainer == "langevin":
        trainer = Langevin(args.step_size, args.steps, args.burn_in, args.thin, noise_var=args.noise_var,
                           integrator=args.integrator, noise=args.noise)
    else:
        trainer = GradientDescent(args.lr, args.steps, batch_size=args.batch_size)
    widths = [int(w) for w in str(args.widths).split(",") if w.strip()]
    theory = args.theory.split(",") if args.theory else None
    executor = ProcessPoolExecutor(args.workers) if args.workers > 1 else None
    try:
        validate(args.spec, args.data, widths, args.ensemble, args.out, trainer=trainer, theory=theory,
                 seed=args.seed, chunks=args.chunks, executor=executor, dtype=args.dtype, device=args.device,
                 checkpoint_every=args.checkpoint_every, progress=not args.no_progress)
    finally:
        if executor is not None:
            executor.shutdown()
    print(f"wrote {args.out}/report.md and report.json")
    return 0


__all__ = ["add_parser", "run"]
