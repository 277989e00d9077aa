"""Training dynamics at infinite width in the maximal-update (μP) parametrization: the dynamical
mean-field theory (DMFT) of gradient descent of Bordelon & Pehlevan (NeurIPS 2022).

``[theory] kind = "dmft"`` with a ``[dynamics]`` section; see docs/theory/dynamics.md.
"""

from .config import DynamicsConfig, dynamics_config
from .equations import derive_dmft
from .model import TwoLayerModel, two_layer_model
from .solver import compare_dmft, dmft_derivations, predict_dmft, solve_dmft

__all__ = ["DynamicsConfig", "TwoLayerModel", "compare_dmft", "derive_dmft", "dmft_derivations", "dynamics_config", "predict_dmft", "solve_dmft",
           "two_layer_model"]
