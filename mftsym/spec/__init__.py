"""Stage 1 of the pipeline: the network spec (layers, prior, parameter values) in SymPy terms."""

from .activations import ActivationFunction, resolve_activation
from .expressions import X, make_symbol, parse_expression
from .layers import Dense, Nonlinearity
from .network import Network
from .spec import Spec, load_spec

__all__ = ["ActivationFunction", "Dense", "Network", "Nonlinearity", "Spec", "X", "load_spec",
           "make_symbol", "parse_expression", "resolve_activation"]
