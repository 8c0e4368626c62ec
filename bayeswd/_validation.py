"""Validation and conversion at the public boundary.

Every public function calls these helpers once, on entry; internals trust their inputs.
All messages have one shape: "`name` must be <expected>; got <given>."
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

__all__ = [
    "as_design",
    "as_target",
    "check_bool",
    "check_choice",
    "check_grid",
    "check_integer",
    "check_nonnegative",
    "check_positive",
    "check_positive_array",
    "check_positive_int",
    "check_seed",
    "describe",
    "is_dask_input",
    "resolve_device",
]

DTYPE = torch.float64


def describe(value: Any) -> str:
    """Short description of a value for an error message."""
    if isinstance(value, (torch.Tensor, np.ndarray)):
        return f"{type(value).__name__} of shape {tuple(value.shape)} and dtype {value.dtype}"
    if isinstance(value, (pd.DataFrame, pd.Series)):
        return f"{type(value).__name__} of shape {value.shape}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_positive(value: Any, name: str, *, allow_none: bool = False) -> float | None:
    """Return ``value`` as a float, or raise if it is not a positive finite number."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        if isinstance(value, torch.Tensor) and value.numel() == 1 and value.is_floating_point():
            value = float(value.item())
        else:
            raise TypeError(f"`{name}` must be a positive finite number; got {describe(value)}.")
    value = float(value)
    if not math.isfinite(value) or value <= 0.0:
        raise ValueError(f"`{name}` must be a positive finite number; got {value!r}.")
    return value


def check_positive_int(value: Any, name: str, *, minimum: int = 1) -> int:
    """Return ``value`` as an int, or raise if it is not an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"`{name}` must be an integer >= {minimum}; got {describe(value)}.")
    if value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}; got {value!r}.")
    return int(value)


def check_seed(value: Any, name: str = "seed") -> int:
    """Return ``value`` as an int, or raise if it is not a non-negative integer."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"`{name}` must be a non-negative integer; got {describe(value)}.")
    if value < 0:
        raise ValueError(f"`{name}` must be a non-negative integer; got {value!r}.")
    return int(value)


def check_bool(value: Any, name: str) -> bool:
    """Return ``value`` if it is ``True`` or ``False``, else raise."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be True or False; got {describe(value)}.")
    return bool(value)


def check_choice(value: Any, name: str, choices: Sequence[str]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise listing the valid names."""
    if not isinstance(value, str) or value not in choices:
        valid = ", ".join(repr(c) for c in choices)
        raise ValueError(f"`{name}` must be one of {valid}; got {describe(value)}.")
    return value


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Turn ``"auto" | "cpu" | "cuda" | "cuda:N" | torch.device`` into a usable device.

    ``"auto"`` is CUDA when available, the CPU otherwise. Asking for CUDA on a machine without it
    raises a ``ValueError`` instead of failing later inside torch.
    """
    if isinstance(device, torch.device):
        dev = device
    elif isinstance(device, str):
        if device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        try:
            dev = torch.device(device)
        except RuntimeError:
            raise ValueError(
                f"`device` must be 'auto', 'cpu', 'cuda' or 'cuda:N'; got {device!r}."
            ) from None
    else:
        raise TypeError(
            f"`device` must be 'auto', 'cpu', 'cuda' or a torch.device; got {describe(device)}."
        )
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"`device` must be 'auto', 'cpu', 'cuda' or 'cuda:N'; got {str(dev)!r}.")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"`device` is {str(dev)!r} but torch finds no CUDA device on this machine; "
            "use device='cpu' or device='auto'."
        )
    return dev


def is_dask_input(*values: Any) -> bool:
    """Whether any of ``values`` is a Dask collection, or bayeswd's stand-in for the rows of one.

    Decided from the type's module, so that Dask is never imported for in-memory data.
    """
    for value in values:
        module = type(value).__module__
        if module.split(".")[0] in ("dask", "dask_expr") or getattr(type(value), "rows_elsewhere", False):
            return True
    return False


#: What Dask input works with, for the messages.
DASK_METHODS = (
    "Dask input is taken where X enters only through X^T X, X^T y and y^T y: "
    "bayeswd.stats.sufficient_statistics, map_fit (method 'newton' or 'proximal'), sample_posterior "
    "(method 'exact', or 'nuts' and 'gibbs' with n > d), maximize_evidence and lam_sweep"
)


def _rows_needed(value: Any, name: str) -> str:
    """The error for a Dask collection where the rows themselves are needed."""
    return (
        f"`{name}` is a Dask collection ({type(value).__name__}) but this needs its rows in memory. "
        f"{DASK_METHODS}; otherwise pass `{name}.compute()` (when it fits in memory) or a sample of its rows."
    )


def _to_numpy_2d_numeric(X: Any, name: str) -> tuple[np.ndarray | torch.Tensor, list[str] | None]:
    if is_dask_input(X):
        raise TypeError(_rows_needed(X, name))
    feature_names = None
    if isinstance(X, pd.DataFrame):
        bad = [str(c) for c, t in X.dtypes.items() if not (pd.api.types.is_numeric_dtype(t))]
        bad += [str(c) for c, t in X.dtypes.items() if pd.api.types.is_complex_dtype(t)]
        if bad:
            raise ValueError(
                f"`{name}` must have numeric columns only; got non-numeric column(s) {bad}."
            )
        feature_names = [str(c) for c in X.columns]
        return X.to_numpy(dtype=np.float64), feature_names
    if isinstance(X, torch.Tensor):
        if X.is_complex() or not (X.is_floating_point() or X.dtype in _TORCH_INT_TYPES):
            raise TypeError(f"`{name}` must be a real numeric tensor; got {describe(X)}.")
        return X, None
    if isinstance(X, (pd.Series, np.ndarray, list, tuple)):
        arr = np.asarray(X)
    else:
        raise TypeError(
            f"`{name}` must be a numpy array, torch tensor or pandas DataFrame; got {describe(X)}."
        )
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"`{name}` must hold real numbers; got an array of dtype {arr.dtype}.")
    return arr, None


_TORCH_INT_TYPES = (torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)


def _finalise(arr: np.ndarray | torch.Tensor, name: str, device: torch.device) -> torch.Tensor:
    if isinstance(arr, np.ndarray):
        # No copy when the array already is writable float64 (a large X is not duplicated).
        arr = np.asarray(arr, dtype=np.float64)
        arr = torch.from_numpy(arr if arr.flags.writeable else arr.copy())
    tensor = arr.detach().to(device=device, dtype=DTYPE)
    bad = _count_nonfinite(tensor)
    if bad:
        raise ValueError(f"`{name}` must contain only finite values; got {bad} NaN or inf entries.")
    return tensor


def _count_nonfinite(t: torch.Tensor) -> int:
    """Number of NaN / inf entries, without temporaries the size of ``t``.

    ``torch.isfinite`` on a whole 800 MB design matrix allocates about 1 GB of temporaries; a NaN
    or inf anywhere makes the sum non-finite, so the sum is the fast path and the exact count
    (only needed for the error message, or after an overflowing sum) runs in blocks of rows.
    """
    if t.numel() == 0 or bool(torch.isfinite(t.sum())):
        return 0
    row = max(1, t[0].numel()) if t.dim() > 1 else 1
    rows = max(1, (1 << 20) // row)
    return sum(int((~torch.isfinite(block)).sum()) for block in t.split(rows))


def as_design(
    X: Any, *, name: str = "X", device: torch.device | None = None, min_rows: int = 2
) -> tuple[torch.Tensor, list[str]]:
    """Convert a design matrix to a float64 tensor on ``device``, with feature names.

    Accepts a numpy array, a torch tensor, a pandas DataFrame (column names become the feature
    names) or a nested list. Feature names default to ``x0, x1, ...``.
    """
    device = torch.device("cpu") if device is None else device
    arr, names = _to_numpy_2d_numeric(X, name)
    if arr.ndim != 2:
        raise ValueError(
            f"`{name}` must be 2-D with shape (n_samples, n_features); got {arr.ndim}-D input "
            f"of shape {tuple(arr.shape)}."
        )
    n, d = arr.shape
    if d == 0:
        raise ValueError(f"`{name}` must have at least one column; got shape {(n, d)}.")
    if n < min_rows:
        raise ValueError(f"`{name}` must have at least {min_rows} rows; got {n}.")
    tensor = _finalise(arr, name, device)
    return tensor, names if names is not None else [f"x{j}" for j in range(d)]


def as_target(y: Any, n: int, *, name: str = "y", device: torch.device | None = None) -> torch.Tensor:
    """Convert a target vector of length ``n`` to a float64 tensor on ``device``."""
    device = torch.device("cpu") if device is None else device
    if is_dask_input(y):
        raise TypeError(_rows_needed(y, name))
    if isinstance(y, pd.DataFrame):
        if y.shape[1] != 1:
            raise ValueError(f"`{name}` must be 1-D of length {n}; got a DataFrame of shape {y.shape}.")
        y = y.iloc[:, 0]
    if isinstance(y, pd.Series):
        if not pd.api.types.is_numeric_dtype(y.dtype) or pd.api.types.is_complex_dtype(y.dtype):
            raise ValueError(f"`{name}` must hold real numbers; got a Series of dtype {y.dtype}.")
        arr: Any = y.to_numpy(dtype=np.float64)
    elif isinstance(y, torch.Tensor):
        if y.is_complex() or not (y.is_floating_point() or y.dtype in _TORCH_INT_TYPES):
            raise TypeError(f"`{name}` must be a real numeric tensor; got {describe(y)}.")
        arr = y
    elif isinstance(y, (np.ndarray, list, tuple)):
        arr = np.asarray(y)
        if arr.dtype.kind not in "biuf":
            raise ValueError(f"`{name}` must hold real numbers; got an array of dtype {arr.dtype}.")
    else:
        raise TypeError(
            f"`{name}` must be a numpy array, torch tensor or pandas Series; got {describe(y)}."
        )
    if arr.ndim != 1:
        raise ValueError(
            f"`{name}` must be 1-D of length {n}; got {arr.ndim}-D input of shape {tuple(arr.shape)}."
        )
    if arr.shape[0] != n:
        raise ValueError(f"`{name}` must have length {n} (the number of rows of X); got {arr.shape[0]}.")
    return _finalise(arr, name, device)


def check_nonnegative(value: Any, name: str) -> float:
    """Return ``value`` as a float, or raise if it is not a non-negative finite number."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"`{name}` must be a non-negative finite number; got {describe(value)}.")
    if not math.isfinite(float(value)) or value < 0:
        raise ValueError(f"`{name}` must be a non-negative finite number; got {float(value)!r}.")
    return float(value)


def check_integer(value: Any, name: str) -> int:
    """Return ``value`` as an int, or raise if it is not an integer (any sign)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"`{name}` must be an integer; got {describe(value)}.")
    return int(value)


def _float_array(value: Any) -> np.ndarray | None:
    """``value`` as a float64 numpy array (a tensor is detached and moved to the CPU), or None."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None


def check_grid(values: Any, name: str) -> np.ndarray:
    """A 1-D grid of positive finite numbers, returned sorted increasing and de-duplicated."""
    arr = _float_array(values)
    if arr is None:
        raise TypeError(f"`{name}` must be a 1-D array of positive numbers; got {describe(values)}.")
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(
            f"`{name}` must be a non-empty 1-D array of positive numbers; got shape {arr.shape}."
        )
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        bad = float(arr[~(np.isfinite(arr) & (arr > 0))][0])
        raise ValueError(f"`{name}` must contain positive finite numbers only; got {bad!r}.")
    return np.unique(arr)


def check_positive_array(value: Any, name: str) -> np.ndarray:
    """A non-empty float64 array (any shape) of positive finite numbers, e.g. posterior draws."""
    arr = _float_array(value)
    if arr is None:
        raise TypeError(f"`{name}` must be an array of positive numbers; got {describe(value)}.")
    if arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(
            f"`{name}` must be a non-empty array of positive finite numbers; got {describe(value)}."
        )
    return arr
