"""Files mftsym writes honour the umask (``0o666 & ~umask``), as ``open(path, "w")`` would."""

import os
import stat

import numpy as np
import pytest

from mftsym.io import atomic_save_npy, atomic_write_json, atomic_write_text, current_umask


@pytest.fixture
def umask():
    old = os.umask(0o022)
    os.umask(old)

    def set_mask(mask):
        os.umask(mask)
        return mask
    yield set_mask
    os.umask(old)


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o077, 0o027])
def test_new_files_get_0666_minus_umask(tmp_path, umask, mask):
    umask(mask)
    assert current_umask() == mask
    atomic_write_text(tmp_path / "a.txt", "x\n")
    atomic_write_json(tmp_path / "sub" / "b.json", {"a": 1})
    atomic_save_npy(tmp_path / "c.npy", np.zeros(3))
    with open(tmp_path / "plain.txt", "w") as fh:           # what an ordinary write gives
        fh.write("x\n")
    for name in ("a.txt", "sub/b.json", "c.npy"):
        assert _mode(tmp_path / name) == 0o666 & ~mask == _mode(tmp_path / "plain.txt"), name
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_replaced_file_keeps_its_mode(tmp_path, umask):
    umask(0o022)
    target = tmp_path / "r.txt"
    target.write_text("old\n")
    os.chmod(target, 0o640)
    atomic_write_text(target, "new\n")
    assert target.read_text() == "new\n" and _mode(target) == 0o640


def test_current_umask_leaves_the_umask_alone(umask):
    umask(0o037)
    assert current_umask() == 0o037 == current_umask()
