"""``derive_scaling(spec, target)``: the whole scaling argument for a spec and a Hermite target.

Steps (Rubin, Davidovich & Ringel, arXiv:2512.04165; docs/theory/scaling.md):
1. read the spec's hidden layers and readout (architecture.py);
2. enumerate the patterns and their cost monomials from the per-layer rules (patterns.py);
3. per pattern: the exact interior optimum and the scaling regimes (optimum.py);
4. the winning pattern per regime, P* ~ kappa E~, and the phase boundaries (phases.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ..errors import SpecError
from ..spec import load_spec
from .architecture import scaling_architecture
from .optimum import interior_optimum, scaling_regimes
from .patterns import enumerate_patterns
from .phases import PatternScaling, phase_diagram
from .target import parse_target

KAPPA = sp.Symbol("kappa", positive=True)


@dataclass(frozen=True)
class DegreeResult:
    degree: int
    scalings: tuple         # PatternScaling
    optima: dict            # pattern name -> InteriorOptimum | None
    phases: tuple           # Phase
    boundaries: dict        # (label, label) -> set of inequalities


@dataclass(frozen=True)
class ScalingResult:
    source: str
    architecture: object
    target: object
    per_degree: tuple       # DegreeResult

    @property
    def scale_variables(self) -> tuple:
        return self.architecture.scale_variables


def derive_scaling(spec, target: str = "He3", span: float = 8.0, steps: int = 65) -> ScalingResult:
    """The scaling argument of ``spec`` (Spec, path or Network) for ``target`` ("He3", "He1+He3")."""
    spec = load_spec(spec)
    arch = scaling_architecture(spec.network)
    tgt = parse_target(target)
    names = arch.scale_variables
    reference = arch.input_dim_name if arch.input_dim_name in names else names[0]
    out = []
    for k in tgt.degrees:
        patterns = enumerate_patterns(arch, k)
        scalings = tuple(PatternScaling(p, tuple(scaling_regimes(p))) for p in patterns)
        optima = {p.name: interior_optimum(p) for p in patterns}
        if not patterns:
            acts = ", ".join(sorted({l.activation.source for l in arch.layers}))
            raise SpecError(f"no feature-learning pattern can carry He{k}: the activation(s) {acts} have no "
                            f"Hermite component the target needs (e.g. an odd activation and an even degree); "
                            "choose another target degree or activation", "--target")
        phases, boundaries = phase_diagram(scalings, names, reference, span=span, steps=steps)
        out.append(DegreeResult(k, scalings, optima, tuple(phases), boundaries))
    return ScalingResult(getattr(spec, "source", None) or "spec", arch, tgt, tuple(out))


__all__ = ["DegreeResult", "ScalingResult", "derive_scaling", "KAPPA"]
