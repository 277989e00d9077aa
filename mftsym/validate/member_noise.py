"""Where an ensemble's Langevin noise comes from: one generator per member, or one per chunk.

``"member"`` (the default on CPU): member m draws from its own ``torch.Generator``, seeded by
(seed, m), so no member's chain depends on how the ensemble was split into chunks.  torch draws
from one generator serially, so on a CPU the members are split into one group per torch thread,
drawn concurrently (torch releases the GIL); each member's numbers are unchanged.  Measured on
the 2-core EPYC of ``benchmarks/README.md`` (16 networks, d = 50, N = 1024: 836k normals per
step): 15.2 ms → 8.6 ms per step in float64, 3.1 ms → 2.2 ms in float32.

``"chunk"`` (the default on a GPU): the whole chunk's noise is drawn from the first member's
generator, one call per parameter tensor.  On a GPU a call costs a kernel launch whatever its
size, and per-member calls (members × parameters launches per step) would dominate the step:
at ~10 µs a call, 4096 members with two parameter tensors would spend ~80 ms per step drawing
noise, against the 1.4 ms a whole study-3 step took on an H200 with chunk noise (70 000 steps of
4096 members at N = 32…512, recording included, in 101 s).  A member's chain
then depends on its chunk (seed, member offset and size, all in the run's fingerprint, so cached
chunks stay consistent).  Checkpoints hold every member's generator state either way, so a
resumed chain is bit-for-bit the uninterrupted one.
"""

from __future__ import annotations

import torch

from ..compile.kernel_fn import thread_pool

#: below this many normals per step one thread is faster than handing work to the pool
MIN_PARALLEL_NORMALS = 1 << 17

NOISE_MODES = ("auto", "member", "chunk")


def resolve_noise_mode(mode: str, device) -> str:
    """``"member"`` or ``"chunk"`` for ``mode`` on ``device`` (``"auto"``: member on CPU)."""
    if mode not in NOISE_MODES:
        raise ValueError(f"noise must be one of {NOISE_MODES}, got {mode!r}")
    if mode == "auto":
        return "member" if torch.device(device).type == "cpu" else "chunk"
    return mode


def member_groups(members: int, numel: int, device) -> list[slice] | None:
    """Slices of the members, one per torch CPU thread, or None where one thread is better."""
    threads = min(torch.get_num_threads(), members)
    if torch.device(device).type != "cpu" or threads < 2 or numel < MIN_PARALLEL_NORMALS:
        return None
    bounds = [round(i * members / threads) for i in range(threads + 1)]
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]


def draw_noise(buffers, generators, mode: str = "auto") -> None:
    """Fill every buffer (a leading member axis) with standard normals, per ``mode`` (above)."""
    if resolve_noise_mode(mode, buffers[0].device) == "chunk":
        for buf in buffers:
            torch.randn(buf.shape, generator=generators[0], out=buf)
        return
    members = len(generators)

    def draw(group):
        for buf in buffers:
            for m in range(*group.indices(members)):
                torch.randn(buf.shape[1:], generator=generators[m], out=buf[m])

    groups = member_groups(members, sum(b.numel() for b in buffers), buffers[0].device)
    if groups is None:
        draw(slice(None))
    else:
        list(thread_pool(len(groups)).map(draw, groups))


__all__ = ["MIN_PARALLEL_NORMALS", "NOISE_MODES", "draw_noise", "member_groups", "resolve_noise_mode"]
