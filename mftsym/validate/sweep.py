"""Width x member-chunk sweeps over any ``concurrent.futures.Executor``.

Every job is :func:`.runner.run_ensemble` on a chunk of members at one width, called with
picklable arguments only (the spec as its dict, the data as arrays), so a
``ProcessPoolExecutor``, a ``ThreadPoolExecutor`` or a Dask cluster's ``Client.get_executor()``
runs the same sweep unchanged.  ``executor=None`` runs the jobs one after another in-process.

With ``out_dir``, each finished job is saved atomically to ``out_dir/runs/N{width}_m{offset}.npz``
and skipped on a rerun of the same configuration (a fingerprint of spec, data, width, members,
seed and trainer); unfinished jobs resume from ``out_dir/checkpoints/...``.
"""

from __future__ import annotations

import json
from concurrent.futures import Future
from pathlib import Path

import numpy as np

from .data import as_dataset
from .runner import _dtype, fingerprint, run_ensemble

_ARRAY_KEYS = ("mean_f", "mean_f2", "rb_mean_f", "rb_mean_f2", "train_loss", "qbar", "overlap", "norm2", "curve_f", "curve_loss",
               "readout_kernel")


def _job_name(width, offset):
    return f"N{width}_m{offset:05d}"


def _save_job(path, result):
    from ..io import atomic_save_npz
    arrays = {k: np.asarray(v) for k, v in result.items() if k in _ARRAY_KEYS or k == "rhat"}
    meta = {k: v for k, v in result.items() if k not in arrays}
    arrays["_meta"] = np.asarray(json.dumps(meta, default=float))
    atomic_save_npz(path, **arrays)


def _load_job(path):
    with np.load(path, allow_pickle=False) as z:
        out = {k: z[k] for k in z.files if k != "_meta"}
        out.update(json.loads(str(z["_meta"])))
    return out


def merge_chunks(results: list) -> dict:
    """Concatenate per-member arrays of several chunks at one width (member axis 0)."""
    results = sorted(results, key=lambda r: r.get("member_offset", 0))
    out = {k: v for k, v in results[0].items() if k not in _ARRAY_KEYS}
    for key in _ARRAY_KEYS:
        if all(key in r for r in results):
            out[key] = np.concatenate([np.asarray(r[key]) for r in results], axis=0)
    if all("rhat" in r for r in results):
        out["rhat"] = np.nanmax(np.stack([np.asarray(r["rhat"], float) for r in results]), axis=0)
    out["members"] = int(sum(r["members"] for r in results))
    return out


def per_width(value, width):
    """``value[width]`` for a {width: value} dict, else ``value``."""
    if isinstance(value, dict):
        if width not in value and int(width) not in value:
            raise KeyError(f"no entry for width {width} in {value}")
        return value[width] if width in value else value[int(width)]
    return value


def sweep(spec, data, widths, ensemble, trainer, seed: int = 0, chunks=1, executor=None,
          out_dir=None, dtype="float64", device="cpu", checkpoint_every: int = 0, progress: bool = False,
          threads: int | None = None) -> dict:
    """Run ``ensemble`` members at every width, split into ``chunks`` jobs per width.

    ``ensemble`` and ``chunks`` may also be {width: int} dicts (more members where the Monte Carlo
    error matters most, e.g. at the largest widths of a scaling study).  Returns {width: merged
    per-member results}.  Member m of a width is seeded by (seed, m) whatever ``chunks`` is, so
    on CPU results do not depend on how the sweep was split (on a GPU Langevin draws each chunk's
    noise in one call per parameter, see :mod:`.member_noise`); a finished chunk is reused when a
    rerun has a chunk with the same offset and size (e.g. growing 64 -> 256 members in chunks of 32).
    """
    spec_dict = spec.to_dict() if hasattr(spec, "to_dict") else dict(spec)
    data = as_dataset(data)
    data_arrays = data.arrays()
    runs_dir = Path(out_dir) / "runs" if out_dir else None
    jobs = {}
    for width in widths:
        n_w = int(per_width(ensemble, width))
        chunks_w = max(1, min(int(per_width(chunks, width)), n_w))
        bounds = np.linspace(0, n_w, chunks_w + 1).astype(int)
        for c in range(chunks_w):
            off, size = int(bounds[c]), int(bounds[c + 1] - bounds[c])
            name = _job_name(width, off)
            path = runs_dir / f"{name}.npz" if runs_dir else None
            fp = fingerprint(spec_dict, data, width, size, (seed, off), trainer, _dtype(dtype), device)
            if path is not None and path.is_file():
                cached = _load_job(path)
                if cached.get("fingerprint") == fp:     # a finished job of this very configuration
                    fut = Future()
                    fut.set_result(cached)
                    jobs[(width, off)] = (fut, path, fp)
                    continue
            ckpt = str(Path(out_dir) / "checkpoints" / name) if out_dir and checkpoint_every else None
            kwargs = dict(seed=seed, dtype=dtype, device=device, member_offset=off, checkpoint_dir=ckpt,
                          checkpoint_every=checkpoint_every, progress=progress and executor is None, threads=threads)
            if executor is None:
                fut = Future()
                try:
                    fut.set_result(run_ensemble(spec_dict, data_arrays, width, size, trainer, **kwargs))
                except BaseException as exc:  # noqa: BLE001 -- re-raised by .result() below
                    fut.set_exception(exc)
            else:
                fut = executor.submit(run_ensemble, spec_dict, data_arrays, width, size, trainer, **kwargs)
            jobs[(width, off)] = (fut, path, fp)
    by_width = {}
    for (width, off), (fut, path, fp) in jobs.items():
        res = fut.result()
        res["member_offset"] = off
        if path is not None and res.get("fingerprint") != fp:
            res["fingerprint"] = fp
            _save_job(path, res)
        by_width.setdefault(width, []).append(res)
    return {w: merge_chunks(by_width[w]) for w in widths}


__all__ = ["merge_chunks", "per_width", "sweep"]
