"""A full spec: the network, numeric values for its symbols, and the optional sections that the
theory stages read (``[posterior]``, ``[theory]``, ``[data]``).  Loads from and saves to TOML."""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Mapping


from ..errors import SpecError
from .expressions import make_symbol
from .layers import layer_from_dict
from .network import Network

_SECTIONS = ("network", "params", "posterior", "theory", "data", "dynamics")


def _check_params(params, where: str) -> Mapping[str, float]:
    out = {}
    for name, value in dict(params or {}).items():
        if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
            raise SpecError(f"parameter name {name!r} is not a valid symbol name", f"{where}.{name}")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise SpecError(f"parameter value must be a number, got {value!r}", f"{where}.{name}") from None
        if not math.isfinite(value):
            raise SpecError(f"parameter value must be finite, got {value!r}", f"{where}.{name}")
        out[name] = float(value)
    return MappingProxyType(out)


@dataclass(frozen=True)
class Spec:
    """Network + parameter values (+ optional posterior/theory/data sections as plain tables)."""

    network: Network
    params: Mapping[str, float] = field(default_factory=dict)
    posterior: Mapping | None = None
    theory: Mapping | None = None
    data: Mapping | None = None
    dynamics: Mapping | None = None          # [dynamics]: training-dynamics settings (docs/theory/dynamics.md)
    source: str | None = field(default=None, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "params", _check_params(self.params, f"{self.source or 'spec'}: params"))

    def with_params(self, **overrides) -> "Spec":
        """A copy with some parameter values replaced (what ``--set NAME=VALUE`` does)."""
        return replace(self, params={**self.params, **overrides})

    def substitutions(self) -> dict:
        """{Symbol: value} for the known parameters."""
        return {make_symbol(k): v for k, v in self.params.items()}

    # -- TOML ------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: dict, source: str | None = None) -> "Spec":
        where = source or "spec"
        unknown = set(data) - set(_SECTIONS)
        if unknown:
            raise SpecError(f"unknown top-level sections {sorted(unknown)}; known: {list(_SECTIONS)}", where)
        if "network" not in data:
            raise SpecError("missing [network] section", where)
        net = data["network"]
        if not isinstance(net, dict):
            raise SpecError("[network] must be a table", where)
        unknown = set(net) - {"input_dim", "input_shape", "parametrization", "layers"}
        if unknown:
            raise SpecError(f"unknown keys {sorted(unknown)} in [network]", where)
        layers_data = net.get("layers")
        if not isinstance(layers_data, list) or not layers_data:
            raise SpecError("[network] needs at least one [[network.layers]] table", f"{where}: network.layers")
        layers = [layer_from_dict(d, f"{where}: network.layers[{i}]") for i, d in enumerate(layers_data)]
        network = Network(tuple(layers), input_dim=net.get("input_dim", "d"),
                          parametrization=net.get("parametrization", "ntk"), where=f"{where}: network",
                          input_shape=net.get("input_shape"))
        extra = {}
        for key in ("posterior", "theory", "data", "dynamics"):
            if key in data:
                if not isinstance(data[key], dict):
                    raise SpecError(f"[{key}] must be a table", where)
                extra[key] = MappingProxyType(dict(data[key]))
        return cls(network, data.get("params", {}), source=source, **extra)

    @classmethod
    def from_toml(cls, path) -> "Spec":
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as exc:
            raise SpecError(f"cannot read spec file: {exc.strerror}", str(path)) from None
        return cls.from_toml_string(text, source=str(path))

    @classmethod
    def from_toml_string(cls, text: str, source: str | None = None) -> "Spec":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise SpecError(f"not valid TOML: {exc}", source or "spec") from None
        return cls.from_dict(data, source=source)

    def to_dict(self) -> dict:
        d = {"network": self.network.to_dict()}
        if self.params:
            d["params"] = dict(self.params)
        for key in ("posterior", "theory", "data", "dynamics"):
            value = getattr(self, key)
            if value is not None:
                d[key] = dict(value)
        return d

    def to_toml(self) -> str:
        import tomli_w
        return tomli_w.dumps(self.to_dict())

    def save(self, path) -> None:
        from ..io import atomic_write_text
        atomic_write_text(path, self.to_toml())


def load_spec(spec) -> Spec:
    """A Spec from a Spec, a Network (no params), a path to a TOML file, or a dict."""
    if isinstance(spec, Spec):
        return spec
    if isinstance(spec, Network):
        return Spec(spec)
    if isinstance(spec, dict):
        return Spec.from_dict(spec)
    if isinstance(spec, (str, Path)):
        return Spec.from_toml(spec)
    raise SpecError(f"cannot make a spec from {type(spec).__name__}")


__all__ = ["Spec", "load_spec"]
