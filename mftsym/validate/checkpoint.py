"""Per-member checkpoints of an ensemble run, written atomically and resumable.

Layout under ``directory``::

    step_000000200/member_0000.pt ... member_{M-1}.pt   # one file per ensemble member
    latest.json                                        # {"step": 200, "fingerprint": ...}

A generation of member files is written first (each atomically), then ``latest.json`` is
replaced atomically, then older generations are deleted.  An interrupted write therefore never
leaves a half-visible state: resume reads the generation ``latest.json`` names.  Each member file
holds the member's raw parameters, its random generator state, its observable accumulators and
the step, so the resumed chain is bit-for-bit the uninterrupted one.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import torch

from ..errors import EvaluationError
from ..io import atomic_write_bytes, atomic_write_json


def _gen_dir(directory: Path, step: int) -> Path:
    return directory / f"step_{step:09d}"


def save_checkpoint(directory, step: int, params, generators, accumulators: dict, fingerprint: str) -> None:
    """Write one file per member for ``step``, then point ``latest.json`` at it."""
    directory = Path(directory)
    gdir = _gen_dir(directory, step)
    gdir.mkdir(parents=True, exist_ok=True)
    for m, g in enumerate(generators):
        state = {"step": int(step), "params": [p[m].detach().cpu().clone() for p in params],
                 "generator": g.get_state(), "acc": {k: v[m].detach().cpu().clone() for k, v in accumulators.items()},
                 "fingerprint": fingerprint}
        buf = io.BytesIO()
        torch.save(state, buf)
        atomic_write_bytes(gdir / f"member_{m:04d}.pt", buf.getvalue())
    atomic_write_json(directory / "latest.json", {"step": int(step), "members": len(generators),
                                                  "fingerprint": fingerprint})
    for old in directory.glob("step_*"):
        if old != gdir and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)


def load_checkpoint(directory, members: int, fingerprint: str, device="cpu", dtype=None):
    """(step, params, generator_states, accumulators) of the latest complete generation, or None.

    Raises :class:`EvaluationError` if the checkpoint belongs to a different run configuration.
    """
    directory = Path(directory)
    latest = directory / "latest.json"
    if not latest.is_file():
        return None
    info = json.loads(latest.read_text())
    if info.get("fingerprint") != fingerprint:
        raise EvaluationError(f"{directory} holds a checkpoint of a different run (spec, data, width, members, "
                              "seed or trainer changed); use a fresh output directory or delete it")
    if info.get("members") != members:
        raise EvaluationError(f"{directory}: checkpoint has {info.get('members')} members, this run {members}")
    gdir = _gen_dir(directory, int(info["step"]))
    states = []
    for m in range(members):
        path = gdir / f"member_{m:04d}.pt"
        if not path.is_file():
            raise EvaluationError(f"{path} is missing; the checkpoint is damaged: delete {directory} to restart")
        states.append(torch.load(path, map_location=device, weights_only=False))
    n_par = len(states[0]["params"])
    params = [torch.stack([s["params"][i] for s in states]).to(device=device, dtype=dtype or states[0]["params"][i].dtype)
              for i in range(n_par)]
    acc = {k: torch.stack([s["acc"][k] for s in states]).to(device) for k in states[0]["acc"]}
    return int(info["step"]), params, [s["generator"] for s in states], acc


def clear_checkpoint(directory) -> None:
    directory = Path(directory)
    if directory.is_dir():
        shutil.rmtree(directory, ignore_errors=True)


__all__ = ["clear_checkpoint", "load_checkpoint", "save_checkpoint"]
