"""Training/test data: DATA.npz loading with clear errors, and built-in teacher models.

DATA.npz holds ``x_train`` (P, d), ``y_train`` (P,) or (P, out), ``x_test`` (P*, d) and optionally
``y_test``; any other arrays (e.g. ``teacher_direction``) are kept in ``meta``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import EvaluationError


class DataError(EvaluationError):
    """Training or test data with wrong shapes, NaN/inf or missing arrays."""


@dataclass(frozen=True, eq=False)
class Dataset:
    x_train: np.ndarray
    y_train: np.ndarray          # always (P, out)
    x_test: np.ndarray
    y_test: np.ndarray | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        x_train = _matrix(self.x_train, "x_train")
        x_test = _matrix(self.x_test, "x_test")
        y_train = _targets(self.y_train, "y_train", len(x_train))
        if x_test.shape[1] != x_train.shape[1]:
            raise DataError(f"x_test has dimension {x_test.shape[1]} but x_train has {x_train.shape[1]}")
        y_test = None
        if self.y_test is not None:
            y_test = _targets(self.y_test, "y_test", len(x_test))
            if y_test.shape[1] != y_train.shape[1]:
                raise DataError(f"y_test has {y_test.shape[1]} outputs but y_train has {y_train.shape[1]}")
        object.__setattr__(self, "x_train", x_train)
        object.__setattr__(self, "y_train", y_train)
        object.__setattr__(self, "x_test", x_test)
        object.__setattr__(self, "y_test", y_test)
        object.__setattr__(self, "meta", {k: np.asarray(v) for k, v in dict(self.meta).items()})

    @property
    def n_train(self) -> int:
        return len(self.x_train)

    @property
    def input_dim(self) -> int:
        return self.x_train.shape[1]

    @property
    def output_dim(self) -> int:
        return self.y_train.shape[1]

    @property
    def teacher_direction(self):
        return self.meta.get("teacher_direction")

    def arrays(self) -> dict:
        out = {"x_train": self.x_train, "y_train": self.y_train, "x_test": self.x_test}
        if self.y_test is not None:
            out["y_test"] = self.y_test
        out.update(self.meta)
        return out

    def save(self, path) -> None:
        from ..io import atomic_save_npz
        atomic_save_npz(path, **self.arrays())

    def subset(self, n_train: int) -> "Dataset":
        """The first ``n_train`` training points (for learning curves)."""
        return Dataset(self.x_train[:n_train], self.y_train[:n_train], self.x_test, self.y_test, self.meta)


def _matrix(a, name):
    try:
        a = np.asarray(a, dtype=float)
    except (TypeError, ValueError):
        raise DataError(f"{name} is not a numeric array") from None
    if a.ndim == 1:
        raise DataError(f"{name} must be 2-D (one input per row), got shape {a.shape}; "
                        f"for 1-D inputs use {name}[:, None]")
    if a.ndim > 2 and a.shape[0] > 0:
        a = a.reshape(a.shape[0], -1)      # spatial inputs (P, *input_shape): stored flattened, channels last
    if a.ndim != 2 or a.shape[0] == 0 or a.shape[1] == 0:
        raise DataError(f"{name} must be a non-empty 2-D array (points x input_dim), got shape {a.shape}")
    _finite(a, name)
    return a


def _targets(a, name, n):
    try:
        a = np.asarray(a, dtype=float)
    except (TypeError, ValueError):
        raise DataError(f"{name} is not a numeric array") from None
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise DataError(f"{name} must be shaped (P,) or (P, outputs), got {a.shape}")
    if a.shape[0] != n:
        xname = name.replace("y", "x")
        raise DataError(f"{name} has {a.shape[0]} rows but {xname} has {n}; they must match")
    _finite(a, name)
    return a


def _finite(a, name):
    bad = ~np.isfinite(a)
    if bad.any():
        idx = np.argwhere(bad)[0]
        raise DataError(f"{name} contains {int(bad.sum())} NaN/inf value(s), first at index {tuple(int(i) for i in idx)}")


def load_data(path) -> Dataset:
    """Read and validate DATA.npz; every problem is a :class:`DataError` naming the array."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise DataError(f"{path}: no such data file") from None
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable .npz file ({exc})") from None
    missing = [k for k in ("x_train", "y_train", "x_test") if k not in arrays]
    if missing:
        raise DataError(f"{path}: missing array(s) {missing}; DATA.npz needs x_train, y_train, x_test "
                        f"(and optionally y_test); found {sorted(arrays)}")
    meta = {k: v for k, v in arrays.items() if k not in ("x_train", "y_train", "x_test", "y_test")}
    try:
        return Dataset(arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays.get("y_test"), meta)
    except DataError as exc:
        raise DataError(f"{path}: {exc}") from None


def as_dataset(data) -> Dataset:
    """A Dataset from a Dataset, a path to DATA.npz, or a dict of arrays."""
    if isinstance(data, Dataset):
        return data
    if isinstance(data, (str, Path)):
        return load_data(data)
    if isinstance(data, dict):
        meta = {k: v for k, v in data.items() if k not in ("x_train", "y_train", "x_test", "y_test")}
        missing = [k for k in ("x_train", "y_train", "x_test") if k not in data]
        if missing:
            raise DataError(f"data dict is missing {missing}")
        return Dataset(data["x_train"], data["y_train"], data["x_test"], data.get("y_test"), meta)
    raise DataError(f"cannot make a dataset from {type(data).__name__}; give a path to DATA.npz or a dict")


# --------------------------------------------------------------------------- teachers
def hermite_he(n: int, z):
    """Probabilists' Hermite polynomial He_n(z)."""
    c = np.zeros(n + 1)
    c[n] = 1.0
    return np.polynomial.hermite_e.hermeval(z, c)


def teacher_data(n_train: int, n_test: int, input_dim: int, teacher: str = "linear", degree: int = 1,
                 coeffs=None, noise_var: float = 0.0, seed: int = 0, input_var: float = 1.0) -> Dataset:
    """Gaussian inputs x ~ N(0, input_var I_d) and a teacher of a hidden unit direction w*.

    ``teacher="linear"``: y = w*·x.  ``teacher="hermite"``: y = Σ_k c_k He_k(w*·x/√input_var)/√k!
    with ``coeffs`` {k: c_k} (default {degree: 1}), normalised so each term has unit variance.
    Label noise N(0, noise_var) is added to training targets only; ``y_test`` is noiseless.
    ``meta["teacher_direction"]`` holds w* (|w*| = 1).
    """
    if n_train < 1 or n_test < 1 or input_dim < 1:
        raise DataError("n_train, n_test and input_dim must be positive")
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(input_dim)
    w /= np.linalg.norm(w)
    x = rng.standard_normal((n_train + n_test, input_dim)) * math.sqrt(input_var)
    z = x @ w / math.sqrt(input_var)
    if teacher == "linear":
        y = z * math.sqrt(input_var)
    elif teacher == "hermite":
        coeffs = coeffs or {degree: 1.0}
        y = sum(float(c) * hermite_he(int(k), z) / math.sqrt(math.factorial(int(k))) for k, c in coeffs.items())
    else:
        raise DataError(f"unknown teacher {teacher!r}; use 'linear' or 'hermite'")
    y = np.asarray(y, float)[:, None]
    y_train = y[:n_train] + (math.sqrt(noise_var) * rng.standard_normal((n_train, 1)) if noise_var > 0 else 0)
    return Dataset(x[:n_train], y_train, x[n_train:], y[n_train:],
                   {"teacher_direction": w, "noise_var": np.asarray(noise_var)})


__all__ = ["DataError", "Dataset", "as_dataset", "hermite_he", "load_data", "teacher_data"]
