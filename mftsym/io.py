"""Atomic file writes: a result is written to a temporary file beside its target and renamed,
so an interrupted run never leaves a half-written file."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def atomic_write_bytes(path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def atomic_write_json(path, obj, **kw) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, **kw) + "\n")


def atomic_save_npy(path, array) -> None:
    import io
    import numpy as np
    buf = io.BytesIO()
    np.save(buf, np.asarray(array))
    atomic_write_bytes(path, buf.getvalue())


def atomic_save_npz(path, **arrays) -> None:
    import io
    import numpy as np
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())
