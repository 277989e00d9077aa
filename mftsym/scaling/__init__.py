"""Scaling arguments for feature learning (Rubin, Davidovich & Ringel, arXiv:2512.04165).

``derive_scaling(spec, "He3")`` enumerates the feature-learning patterns of a spec from per-layer
cost rules, minimises each pattern's cost in closed form and returns the winning pattern per regime
with P* ~ kappa E~ and the phase boundaries (docs/theory/scaling.md).
"""

from .derive import KAPPA, ScalingResult, derive_scaling
from .layer_rules import RULES
from .result_io import result_to_dict
from .target import parse_target

__all__ = ["KAPPA", "RULES", "ScalingResult", "derive_scaling", "parse_target", "result_to_dict"]
