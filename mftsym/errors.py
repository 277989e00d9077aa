"""Exceptions raised by mftsym. Every message names what was wrong and what to do."""


class MftsymError(Exception):
    """Base class of all mftsym errors."""


class SpecError(MftsymError, ValueError):
    """A network spec (Python objects or a TOML file) is malformed.

    ``where`` names the file and/or field, e.g. ``"spec.toml: network.layers[2].fn"``.
    """

    def __init__(self, message: str, where: str | None = None):
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)


class ExpressionError(SpecError):
    """A user expression string was rejected by the whitelist parser."""


class EvaluationError(MftsymError, ValueError):
    """A numeric evaluation could not proceed (missing symbol value, bad array shapes, ...)."""


class ConvergenceError(MftsymError, RuntimeError):
    """An iterative solver did not converge; the message reports the residual."""


class TrainingDivergedError(MftsymError, RuntimeError):
    """A training run produced NaN/inf or an exploding loss."""
