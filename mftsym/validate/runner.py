"""Train one ensemble (one width, one seed, ``members`` networks) with a trainer; resumable.

This is the unit of work a sweep distributes: a plain top-level function of picklable arguments
(the spec travels as its dict, the data as arrays) returning a dict of numpy arrays.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import torch

from ..spec import Spec
from .checkpoint import load_checkpoint, save_checkpoint
from .data import as_dataset
from .observables import teacher_overlaps
from ..solve.values import raw_noise_value
from .torch_network import EnsembleNetwork, member_generators, network_plan


def _dtype(dtype):
    if isinstance(dtype, torch.dtype):
        return dtype
    return {"float64": torch.float64, "float32": torch.float32, "double": torch.float64,
            "float": torch.float32}[str(dtype)]


def fingerprint(spec_dict, data, width, members, seed, trainer, dtype, device="cpu") -> str:
    h = hashlib.sha256()
    dev = torch.device(device).type        # CPU and GPU draw different random streams
    h.update(json.dumps({"spec": spec_dict, "width": width, "members": members, "seed": seed,
                         "trainer": trainer.config(), "dtype": str(dtype), **({"device": dev} if dev != "cpu" else {})},
                        sort_keys=True, default=str).encode())
    for a in (data.x_train, data.y_train, data.x_test):
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:16]


def run_ensemble(spec, data, width, members: int, trainer, seed: int = 0, dtype="float64", device="cpu",
                 member_offset: int = 0,
                 checkpoint_dir=None, checkpoint_every: int = 0, progress: bool = False, threads: int | None = None,
                 _stop_at_step: int | None = None) -> dict:
    """Train/sample ``members`` networks of ``spec`` at hidden width ``width`` on ``data``.

    Returns per-member measurements (numpy arrays with a leading member axis: ``mean_f``,
    ``mean_f2`` on ``x_test``, ``train_loss``, ``qbar``, ...) plus ``rhat`` for Langevin and
    teacher ``overlap``/``norm2`` when the data has a ``teacher_direction``.  With
    ``member_offset`` numbers the members (member m is seeded by (seed, member_offset + m), so
    splitting an ensemble into chunks does not change any member's chain).  With
    ``checkpoint_dir`` and ``checkpoint_every > 0`` the run writes per-member checkpoints and
    resumes from the latest one.  ``threads`` sets torch's CPU threads for the run (None: one
    thread for small problems, where multithreading only adds synchronisation cost).
    """
    old_threads = torch.get_num_threads()
    try:
        if threads is None and str(device) == "cpu":
            work = network_plan(spec if not isinstance(spec, dict) else Spec.from_dict(spec), width,
                                as_dataset(data).input_dim).n_params() * members * len(as_dataset(data).x_train)
            threads = 1 if work < 2e7 else old_threads
        if threads:
            torch.set_num_threads(int(threads))
        return _run(spec, data, width, members, trainer, seed, dtype, device, checkpoint_dir, checkpoint_every,
                    progress, _stop_at_step, member_offset)
    finally:
        torch.set_num_threads(old_threads)


def _run(spec, data, width, members, trainer, seed, dtype, device, checkpoint_dir, checkpoint_every, progress,
         _stop_at_step, member_offset=0):
    spec_dict = spec if isinstance(spec, dict) else spec.to_dict()
    spec = Spec.from_dict(spec_dict) if isinstance(spec, dict) else spec
    data = as_dataset(data)
    dtype = _dtype(dtype)
    plan = network_plan(spec, width, data.input_dim)
    if plan.output_dim != data.output_dim:
        from ..errors import EvaluationError
        raise EvaluationError(f"the network has {plan.output_dim} outputs but y_train has {data.output_dim} columns")
    ens = EnsembleNetwork(plan, members, dtype, device)
    if trainer.name == "langevin":
        # mu_p: the likelihood force carries the learning-rate multiplier gamma0^2 N like GD's step, i.e. the
        # posterior is p0(theta) exp(-gamma0^2 N sum (f - y)^2 / (2 sigma^2)) (docs/theory/dynamics.md)
        raw = float(trainer.noise_var) if trainer.noise_var is not None else raw_noise_value(spec)
        object.__setattr__(trainer, "_s2", raw / getattr(plan, "lr_multiplier", 1.0))
    xtr = torch.as_tensor(data.x_train, dtype=dtype, device=device)
    ytr = torch.as_tensor(data.y_train, dtype=dtype, device=device)
    xte = torch.as_tensor(data.x_test, dtype=dtype, device=device)
    gens = member_generators(seed, members, offset=member_offset, device=device)
    fp = fingerprint(spec_dict, data, width, members, (seed, member_offset), trainer, dtype, device)
    start = 0
    state = load_checkpoint(checkpoint_dir, members, fp, device, dtype) if checkpoint_dir else None
    if state is not None:
        start, params, gen_states, acc = state
        for g, s in zip(gens, gen_states):
            g.set_state(s.cpu())           # a generator's state is a CPU ByteTensor, whatever its device
    else:
        params = ens.init_params(gens)
        acc = trainer.init_accumulators(ens, len(data.x_test), data.output_dim)
    with torch.no_grad():
        f0 = ens.forward(params, xtr)
        ref = float((0.5 * ((f0 - ytr) ** 2).flatten(1).sum(1)).max()) + float((ytr ** 2).sum()) + 1.0
    buffers = [torch.empty_like(p) for p in params]
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=trainer.steps, initial=start, desc=f"{trainer.name} N={width} seed={seed}", leave=False)
    for k in range(start, trainer.steps):
        if _stop_at_step is not None and k == _stop_at_step:
            return {"interrupted_at": k}
        loss = trainer.step(ens, params, gens, xtr, ytr, k, ref, buffers)
        trainer.record(ens, params, k, xte, acc, loss)
        if bar is not None:
            bar.update(1)
        if checkpoint_dir and checkpoint_every and (k + 1) % checkpoint_every == 0 and k + 1 < trainer.steps:
            save_checkpoint(checkpoint_dir, k + 1, params, gens, acc, fp)
    if bar is not None:
        bar.close()
    out = trainer.finish(ens, params, acc, xte=xte, xtr=xtr, ytr=ytr)
    if data.teacher_direction is not None and data.teacher_direction.shape == (data.input_dim,) \
            and len(plan.dense) > 1 and plan.is_mlp:
        out.update(teacher_overlaps(ens, params, data.teacher_direction))
    out.update({"width": width, "seed": seed, "members": members, "n_params": plan.n_params(),
                "values": plan.values})
    return out


__all__ = ["fingerprint", "run_ensemble"]
