"""Finite-width torch networks of a spec: re-exported from :mod:`mftsym.layers.finite`, where the
numeric plans and the one forward path live (so that theory modules never import ``validate``)."""

from __future__ import annotations

from ..layers.activation import ActivationPlan
from ..layers.dense import DensePlan
from ..layers.finite import (EnsembleNetwork, NetworkPlan, SpecNetwork, _number, build_module,  # noqa: F401
                             hidden_width_symbols, member_generators, network_plan, spec_values)
from ..layers.torch_activation import torch_activation

__all__ = ["ActivationPlan", "DensePlan", "EnsembleNetwork", "NetworkPlan", "SpecNetwork", "build_module",
           "hidden_width_symbols", "member_generators", "network_plan", "spec_values", "torch_activation"]
