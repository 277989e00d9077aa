"""Validation against finite-width networks: torch ensembles built from the *same* spec as the
theory, trained by Langevin (Bayesian posterior) or gradient descent, compared with theory.

Public entry point: :func:`validate`.  Building blocks: :func:`build_module` /
:class:`EnsembleNetwork` (networks), :class:`Langevin` / :class:`GradientDescent` (trainers),
:func:`run_ensemble` (one ensemble), :func:`sweep` (widths x chunks over an Executor),
:func:`teacher_data` / :func:`load_data` (data), :data:`THEORIES` / :func:`register_theory` (the
comparisons of the one theory registry, :mod:`mftsym.solve.registry`: ``"gp"``, ``"ntk"``,
``"kernel_renormalization"`` (``"kr"``), ``"adaptive_kernel"``, and ``"linear_exact"``, the exact
finite-width posterior of a one-hidden-layer linear net).
"""

from .data import DataError, Dataset, as_dataset, load_data, teacher_data
from .gradient_descent import GradientDescent
from .langevin import Langevin
from .runner import run_ensemble
from .sweep import sweep
from .theory import (THEORIES, gp_posterior, kernel_matrix, kernel_renormalization, linear_network_posterior,
                     ntk_predictor, register_theory)
from .torch_network import EnsembleNetwork, SpecNetwork, build_module, network_plan
from .validate import validate

__all__ = ["DataError", "Dataset", "EnsembleNetwork", "GradientDescent", "Langevin", "SpecNetwork", "THEORIES",
           "as_dataset", "build_module", "gp_posterior", "kernel_matrix", "kernel_renormalization",
           "linear_network_posterior", "load_data", "network_plan",
           "ntk_predictor", "register_theory", "run_ensemble", "sweep", "teacher_data", "validate"]
