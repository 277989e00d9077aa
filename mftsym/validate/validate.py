"""The one entry point: train finite-width ensembles of a spec and compare them with theory."""

from __future__ import annotations

import time
from pathlib import Path

from ..errors import EvaluationError, SpecError
from ..spec import load_spec
from .data import as_dataset
from .report import build_report, write_report
from .sweep import per_width, sweep
from .theory import THEORIES, call_theory
from .torch_network import hidden_width_symbols, network_plan, spec_values


def _theories(theory, trainer) -> dict:
    if theory is None:
        theory = trainer.default_theories
    if isinstance(theory, str):
        theory = (theory,)
    if isinstance(theory, dict):
        return dict(theory)
    out = {}
    for name in theory:
        if callable(name):
            out[getattr(name, "__name__", f"theory{len(out)}")] = name
        elif name in THEORIES:
            out[name] = THEORIES[name]
        else:
            raise SpecError(f"unknown theory {name!r}; known: {sorted(THEORIES)} (or pass a callable)")
    return out


def validate(spec, data, widths, ensemble, out_dir, trainer=None, theory=None, *, seed: int = 0,
             chunks=1, executor=None, dtype="float64", device="cpu", checkpoint_every: int = 0,
             progress: bool = True, plots: bool = True, threads: int | None = None) -> dict:
    """Train ``ensemble`` networks of ``spec`` at each of ``widths`` on ``data`` and compare with theory.

    ``ensemble`` (and ``chunks``) may be a {width: int} dict to give each width its own size.

    ``trainer``: a :class:`~mftsym.validate.Langevin` (default; compared with the NNGP posterior
    ``"gp"``) or :class:`~mftsym.validate.GradientDescent` (compared with ``"ntk"``).
    ``theory``: names from :data:`~mftsym.validate.theory.THEORIES`, callables, or a
    {name: callable(spec, data, trainer=None) -> {"mean", "var"}} dict; each is evaluated with the
    spec's hidden widths set to N.  ``chunks``/``executor`` split and distribute the work (see
    :func:`~mftsym.validate.sweep.sweep`).  Writes ``out_dir/report.json``, ``report.md`` and PNGs
    atomically and returns the report.  Spec, data and theories are checked before anything is
    written, so bad input leaves ``out_dir`` untouched.
    """
    from .langevin import Langevin
    spec = load_spec(spec)
    data = as_dataset(data)
    widths = sorted({int(w) for w in widths})
    if not widths or widths[0] < 1:
        raise EvaluationError(f"widths must be positive integers, got {widths}")
    if isinstance(ensemble, dict):
        ensemble = {int(k): int(v) for k, v in ensemble.items()}
        if set(widths) - set(ensemble):
            raise EvaluationError(f"the ensemble dict has no entry for widths {sorted(set(widths) - set(ensemble))}")
    if isinstance(chunks, dict):
        chunks = {int(k): int(v) for k, v in chunks.items()}
    sizes = {w: int(per_width(ensemble, w)) for w in widths}
    if min(sizes.values()) < 2:
        raise EvaluationError("ensemble must be >= 2 members to estimate standard errors")
    if not hidden_width_symbols(spec) and len(widths) > 1:
        raise SpecError("the spec has no symbolic hidden width (e.g. width = \"N1\"), so --widths has nothing to set")
    if trainer is None:
        trainer = Langevin(step_size=1e-3, steps=5000, burn_in=1000, thin=10)
    theories = _theories(theory, trainer)
    # everything that can fail on bad input, before the first write
    predictions, info = {}, {}
    for w in widths:
        plan = network_plan(spec, w, data.input_dim)
        if plan.output_dim != data.output_dim:
            raise EvaluationError(f"the network has {plan.output_dim} outputs but y_train has {data.output_dim} columns")
        spec_w = spec.with_params(**{k: v for k, v in spec_values(spec, w).items() if k in hidden_width_symbols(spec)})
        predictions[w] = {}
        for name, fn in theories.items():
            pred = call_theory(fn, spec_w, data, trainer)
            predictions[w][name] = pred
            info[name] = {k: v for k, v in pred.items()
                          if k in ("equations", "kernel_source", "order_parameters", "loss_curve")}
    out_dir = Path(out_dir)
    t0 = time.time()
    results = sweep(spec, data, widths, sizes, trainer, seed=seed, chunks=chunks, executor=executor,
                    out_dir=out_dir, dtype=dtype, device=device, checkpoint_every=checkpoint_every,
                    progress=progress, threads=threads)
    report = build_report(spec, data, trainer, results, predictions, info)
    report["wall_seconds"] = time.time() - t0
    report["dtype"], report["device"] = str(dtype), str(device)
    rep = write_report(out_dir, report, results, plots=plots)
    return rep


__all__ = ["validate"]
