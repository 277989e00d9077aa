"""Helpers shared by the command-line subcommands (``mftsym.cli`` and each stage's ``cli`` module):
reading a spec argument with ``--set NAME=VALUE`` overrides.  Subcommand modules import these from
here, never from :mod:`mftsym.cli`, so that no stage depends on the top-level CLI."""

from __future__ import annotations

from .errors import SpecError


def parse_set(items) -> dict:
    """{name: float} from ``--set NAME=VALUE`` arguments (a :class:`SpecError` naming a bad one)."""
    out = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise SpecError(f"--set expects NAME=VALUE, got {item!r}")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise SpecError(f"--set {name.strip()}: value must be a number, got {value!r}") from None
    return out


def load_cli_spec(path, sets=None):
    """The spec at ``path`` (or a built-in example ``example:NAME``) with --set overrides."""
    from . import example_spec
    from .spec import Spec
    spec = example_spec(path.split(":", 1)[1]) if str(path).startswith("example:") else Spec.from_toml(path)
    overrides = parse_set(sets)
    return spec.with_params(**overrides) if overrides else spec


__all__ = ["load_cli_spec", "parse_set"]
