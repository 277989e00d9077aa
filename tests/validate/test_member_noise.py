"""Langevin noise: per-member streams drawn in threads are bit-identical to serial draws; the
chunk mode draws from the first member's generator only; both resume and sample correctly."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mftsym.validate import Langevin
from mftsym.validate import member_noise
from mftsym.validate.torch_network import member_generators


def _buffers(members=6):
    return [torch.empty(members, 40, 30, dtype=torch.float64), torch.empty(members, 30)]


def test_threaded_member_noise_is_bit_identical_to_serial(monkeypatch):
    old = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        monkeypatch.setattr(member_noise, "MIN_PARALLEL_NORMALS", 1)
        assert member_noise.member_groups(6, 10, "cpu") == [slice(0, 3), slice(3, 6)]
        threaded = _buffers()
        member_noise.draw_noise(threaded, member_generators(3, 6), "member")
        monkeypatch.setattr(member_noise, "MIN_PARALLEL_NORMALS", 1 << 60)
        assert member_noise.member_groups(6, 10, "cpu") is None
        serial = _buffers()
        member_noise.draw_noise(serial, member_generators(3, 6), "member")
    finally:
        torch.set_num_threads(old)
    for a, b in zip(threaded, serial):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    # member m's numbers are its own generator's: the same as drawing member m alone
    g = member_generators(3, 6)[4]
    torch.testing.assert_close(serial[0][4], torch.randn(40, 30, generator=g, dtype=torch.float64), rtol=0, atol=0)


def test_chunk_noise_uses_the_first_generator_only():
    gens = member_generators(0, 6)
    untouched = [g.get_state() for g in gens[1:]]
    bufs = _buffers()
    member_noise.draw_noise(bufs, gens, "chunk")
    ref = torch.randn(6, 40, 30, generator=member_generators(0, 1)[0], dtype=torch.float64)
    torch.testing.assert_close(bufs[0], ref, rtol=0, atol=0)
    assert all(torch.equal(g.get_state(), s) for g, s in zip(gens[1:], untouched))
    x = torch.cat([b.flatten() for b in bufs])
    assert abs(float(x.mean())) < 0.03 and abs(float(x.var()) - 1) < 0.03


def test_auto_mode_and_bad_mode():
    assert member_noise.resolve_noise_mode("auto", "cpu") == "member"
    assert member_noise.resolve_noise_mode("auto", "meta") == "chunk"
    with pytest.raises(ValueError, match="noise must be one of"):
        Langevin(step_size=1e-3, steps=10, noise="global")
    # the default keeps old fingerprints; an explicit mode is part of the run's configuration
    assert "noise" not in Langevin(step_size=1e-3, steps=10).config()
    assert Langevin(step_size=1e-3, steps=10, noise="chunk").config()["noise"] == "chunk"


@settings(max_examples=60, deadline=None)
@given(members=st.integers(1, 70), threads=st.integers(1, 8))
def test_member_groups_partition_the_members(members, threads):
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        groups = member_noise.member_groups(members, 1 << 40, "cpu")
    finally:
        torch.set_num_threads(old)
    if groups is None:                       # one thread, or one member: drawn serially
        assert min(threads, members) < 2
        return
    covered = [m for g in groups for m in range(*g.indices(members))]
    assert covered == list(range(members)) and len(groups) == min(threads, members)
    sizes = [g.stop - g.start for g in groups]
    assert max(sizes) - min(sizes) <= 1      # balanced
