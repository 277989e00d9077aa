"""Validation helpers shared by the spatial layers' spec tables."""

from __future__ import annotations

from ..errors import SpecError

PADDINGS = ("same", "valid", "circular")


def int_tuple(value, where: str, what: str, minimum: int = 1) -> tuple:
    """A tuple of integers >= minimum from an int or a list of ints."""
    if isinstance(value, bool):
        raise SpecError(f"{what} must be a list of integers, got {value!r}", where)
    if isinstance(value, int):
        value = [value]
    if not isinstance(value, (list, tuple)) or not value:
        raise SpecError(f"{what} must be a non-empty list of integers, got {value!r}", where)
    out = []
    for v in value:
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
            raise SpecError(f"{what} must hold integers >= {minimum}, got {value!r}", where)
        out.append(int(v))
    return tuple(out)


def check_padding(value, where: str) -> str:
    if value not in PADDINGS:
        raise SpecError(f"padding must be one of {PADDINGS}, got {value!r}", where)
    return value


def check_keys(d: dict, allowed: set, required: set, kind: str, where: str):
    unknown = set(d) - allowed - {"type"}
    if unknown:
        raise SpecError(f"unknown keys {sorted(unknown)} for a {kind} layer; known: {sorted(allowed)}", where)
    missing = required - set(d)
    if missing:
        raise SpecError(f"a {kind} layer needs {sorted(missing)}", where)


def check_rank(window: tuple, spatial, kind: str, where: str):
    if spatial is None:
        raise SpecError(f"a {kind} layer needs spatial inputs: set [network] input_shape = [H, W, C] "
                        "(or [L, C]) and no flatten/global_avg_pool before it", where)
    if len(window) != len(spatial):
        raise SpecError(f"{kind}: a window of rank {len(window)} on inputs with {len(spatial)} spatial "
                        f"axes {tuple(spatial)}; give one size per spatial axis", where)
