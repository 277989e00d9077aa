"""Atomic file writes: a result is written to a temporary file beside its target and renamed,
so an interrupted run never leaves a half-written file.

The file gets the permissions an ordinary ``open(path, "w")`` would give it: ``0o666 & ~umask``
for a new file, the old mode for a file it replaces (``tempfile.mkstemp`` alone would leave 0600).
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
import threading
from pathlib import Path


_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """The process umask (read from /proc where available, else by setting and restoring it)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def _target_mode(path: Path) -> int:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return 0o666 & ~current_umask()


def atomic_write_bytes(path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = _target_mode(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
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
