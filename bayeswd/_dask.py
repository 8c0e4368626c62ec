r"""Data larger than memory: the sufficient statistics as a Dask reduction, and what runs on them.

A ``dask.array`` or ``dask.dataframe`` given as ``X`` and ``y`` never comes to the client. One pass
over its partitions, run on whatever scheduler is active (Dask's threads by default, a
``dask.distributed`` cluster when a ``Client`` exists), reduces it to its moments (:class:`Moments`):
the row count, the column means, and the centred cross-products

.. math::

    M_{xx} = \sum_i (x_i - \bar x)(x_i - \bar x)^\top,\quad
    M_{xy} = \sum_i (x_i - \bar x)(y_i - \bar y),\quad
    M_{yy} = \sum_i (y_i - \bar y)^2.

Each partition is centred at its own means before its products (as :func:`bayeswd.stats.
sufficient_statistics` centres its blocks), and two partial results merge exactly by the update of
Chan, Golub and LeVeque (1979): with ``delta = mean_b - mean_a``,
``M = M_a + M_b + delta delta^T n_a n_b / n``. The merges form a tree (``FAN_IN`` at a node), so
the client receives ``O(d^2)`` numbers and nothing of size ``n``. The per-partition work is in
:mod:`bayeswd._dask_blocks` (numpy alone), sent to the workers by value: they need numpy, pandas
and dask, not bayeswd. From the moments come the
:class:`~bayeswd.stats.SufficientStats` of either intercept setting (:meth:`Moments.statistics`)
without a second pass, and the mean squared error of any ``(w, b)`` (:meth:`Moments.mse`).

The rest of bayeswd sees the data through :class:`RowsElsewhere`: a tensor with the shape of ``X``
(or ``y``), the device and the dtype, carrying the moments, and no rows. Everything that works
from the sufficient statistics takes it as it takes an in-memory tensor; anything that reads a row
raises a ``ValueError`` that says so, never a silent allocation of the size of the data.
docs/dask.md has the numerics and what is not available for Dask input.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np
import torch

from bayeswd import _dask_blocks as blocks
from bayeswd._validation import DASK_METHODS, DTYPE, describe, is_dask_input
from bayeswd.evidence import EvidenceSpectrum
from bayeswd.model import log_density
from bayeswd.solvers.problem import Problem
from bayeswd.solvers.ridge import RidgeSVD
from bayeswd.stats import CentredStats, SufficientStats

__all__ = [
    "FAN_IN",
    "Moments",
    "RowsElsewhere",
    "StatsProblem",
    "evidence_from_stats",
    "inference_data",
    "map_problem",
    "moments",
    "rows_elsewhere",
    "statistics",
]

#: Partial results merged at one node of the reduction tree.
FAN_IN = 8



def require_dask() -> Any:
    """The ``dask`` module, or an ``ImportError`` that says how to install it."""
    try:
        import dask
    except ImportError as err:  # pragma: no cover - the test environment has dask
        raise ImportError(
            "Dask input needs the dask package: pip install 'bayeswd[dask]' "
            "(dask[dataframe,distributed] and pyarrow)."
        ) from err
    return dask


# --- the moments and their reduction ------------------------------------------------------------


class Moments(NamedTuple):
    """Row count, means and centred cross-products of ``(X, y)``: what one pass over the data leaves.

    Attributes
    ----------
    n : int
        Rows.
    x_mean : np.ndarray, shape (d,)
    y_mean : float
    xx : np.ndarray, shape (d, d)
        ``sum_i (x_i - x_mean)(x_i - x_mean)^T``.
    xy : np.ndarray, shape (d,)
        ``sum_i (x_i - x_mean)(y_i - y_mean)``.
    yy : float
        ``sum_i (y_i - y_mean)^2``.
    nonfinite_x, nonfinite_y : int
        NaN and inf entries met in ``X`` and ``y`` (then the other fields mean nothing).
    """

    n: int
    x_mean: np.ndarray
    y_mean: float
    xx: np.ndarray
    xy: np.ndarray
    yy: float
    nonfinite_x: int = 0
    nonfinite_y: int = 0

    @property
    def d(self) -> int:
        """Columns of ``X``."""
        return int(self.x_mean.shape[0])

    def statistics(
        self, fit_intercept: bool, intercept: float = 0.0, device: torch.device | None = None
    ) -> SufficientStats:
        """The :class:`~bayeswd.stats.SufficientStats` of ``(X, y - intercept)``, no second pass.

        With an intercept the centred statistics are the moments themselves (``y`` is shifted by
        its mean, as :func:`bayeswd.stats.sufficient_statistics` shifts it) and ``A^T A`` is
        rebuilt as ``M_xx + n m m^T``. Without one (``intercept`` frozen), the raw sums
        ``X^T X = M_xx + n m m^T``, ``X^T y0 = M_xy + n m mean(y0)`` and ``y0^T y0 = M_yy + n
        mean(y0)^2``, each term accurate to rounding relative to the sum.
        """
        dev = torch.device("cpu") if device is None else device
        n, d, m = self.n, self.d, self.x_mean
        xx = torch.from_numpy(self.xx.copy()).to(dev, DTYPE)
        xy = torch.from_numpy(self.xy.copy()).to(dev, DTYPE)
        mt = torch.from_numpy(m.copy()).to(dev, DTYPE)
        raw = xx + n * torch.outer(mt, mt)
        if not fit_intercept:
            y0 = self.y_mean - intercept
            aty = xy + (n * y0) * mt
            return SufficientStats(raw, aty, self.yy + n * y0 * y0, 0.0, n, d, False)
        gram = raw.new_zeros(d + 1, d + 1)
        gram[:d, :d] = raw
        gram[:d, d] = n * mt
        gram[d, :d] = n * mt
        gram[d, d] = float(n)
        aty = raw.new_zeros(d + 1)
        aty[:d] = xy  # X^T (y - mean y) = M_xy: the column of ones is orthogonal to the centred y
        return SufficientStats(gram, aty, float(self.yy), float(self.y_mean), n, d, True, xx.clone(),
                               xy.clone())

    def centred(self, device: torch.device | None = None) -> CentredStats:
        """The centred statistics (the intercept profiled out) straight from the moments."""
        return self.statistics(True, device=device).centred()

    def mse(self, coef: np.ndarray, intercept: np.ndarray | float) -> np.ndarray:
        """``mean((y - X w - b)^2)`` for each row ``w`` of ``coef`` (shape (m, d) or (d,)).

        ``(M_yy - 2 w^T M_xy + w^T M_xx w) / n + (mean(y) - mean(X) w - b)^2``: the variance of the
        residual about its mean from the centred moments, plus its mean squared.
        """
        W = np.atleast_2d(np.asarray(coef, dtype=np.float64))
        b = np.broadcast_to(np.asarray(intercept, dtype=np.float64), (W.shape[0],))
        var = (self.yy - 2.0 * W @ self.xy + np.einsum("id,de,ie->i", W, self.xx, W)) / self.n
        mean = self.y_mean - W @ self.x_mean - b
        out = np.maximum(var, 0.0) + mean * mean
        return out if np.ndim(coef) > 1 else out[0]


class _ByValue:
    """A function of :mod:`bayeswd._dask_blocks` that pickles by value (cloudpickle).

    Unpickled, it is the plain function: workers need numpy, pandas and dask, not bayeswd (the
    object's own class never reaches them, see ``__reduce__``). In one process it is called as is.
    """

    def __init__(self, func: Callable[..., Any]) -> None:
        import cloudpickle

        cloudpickle.register_pickle_by_value(blocks)
        self.func, self.blob = func, cloudpickle.dumps(func)
        self.__name__ = func.__name__  # the name of the tasks' keys

    def __repr__(self) -> str:
        return f"{blocks.__name__}.{self.__name__} (by value)"

    def __call__(self, *args: Any) -> Any:
        return self.func(*args)

    def __reduce__(self) -> tuple[Any, ...]:
        import cloudpickle

        return (cloudpickle.loads, (self.blob,))

    def __dask_tokenize__(self) -> tuple[str, str]:
        return ("bayeswd._dask_blocks", self.func.__name__)


def _task(func: Callable[..., Any]) -> Any:
    """``dask.delayed`` of a function of :mod:`bayeswd._dask_blocks`, sent by value."""
    import dask

    return dask.delayed(_ByValue(func), pure=True)


def _partitions(X: Any, y: Any) -> tuple[list[Any], list[Any], list[str]]:
    """The partitions of ``X`` and ``y`` as lists of Dask delayed objects, and the feature names."""
    import dask.array as da
    import dask.dataframe as dd

    if not is_dask_input(X) or not is_dask_input(y):
        which, other = ("y", y) if is_dask_input(X) else ("X", X)
        raise TypeError(
            f"`{which}` must be a Dask collection like the other argument (a dask array, or a dask "
            f"DataFrame / Series with the same partitions); got {describe(other)}."
        )
    if isinstance(X, da.Array):
        if X.ndim != 2:
            raise ValueError(
                f"`X` must be 2-D with shape (n_samples, n_features); got a {X.ndim}-D dask array."
            )
        if X.dtype.kind not in "biuf":
            raise ValueError(f"`X` must hold real numbers; got a dask array of dtype {X.dtype}.")
        if math.isnan(X.shape[1]):
            raise ValueError("`X` must have a known number of columns; got a dask array with unknown column "
                             "chunks (call X.compute_chunk_sizes()).")
        if len(X.chunks[1]) > 1:
            X = X.rechunk({1: -1})
        names = [f"x{j}" for j in range(X.shape[1])]
        if isinstance(y, da.Array) and y.ndim == 1 and y.chunks[0] != X.chunks[0] and not (
            any(math.isnan(c) for c in X.chunks[0] + y.chunks[0])
        ):
            y = y.rechunk((X.chunks[0],))
        xs = list(X.to_delayed()[:, 0])
    elif isinstance(X, dd.DataFrame):
        bad = [str(c) for c, t in X.dtypes.items()
               if not _is_numeric(t)]
        if bad:
            raise ValueError(
                f"`X` must have numeric columns only; got non-numeric column(s) {bad} (the command line "
                "`bayeswd fit` one-hot encodes text columns of Parquet and CSV files)."
            )
        names = [str(c) for c in X.columns]
        xs = list(X.to_delayed())
    else:
        raise TypeError(f"`X` must be a dask array or dask DataFrame; got {describe(X)}.")
    if not names:
        raise ValueError("`X` must have at least one column; got none.")
    if isinstance(y, da.Array):
        if y.ndim != 1:
            raise ValueError(f"`y` must be 1-D; got a {y.ndim}-D dask array.")
        if y.dtype.kind not in "biuf":
            raise ValueError(f"`y` must hold real numbers; got a dask array of dtype {y.dtype}.")
        ys = list(y.to_delayed())
    elif isinstance(y, (dd.Series, dd.DataFrame)):
        if isinstance(y, dd.DataFrame):
            if len(y.columns) != 1:
                raise ValueError(f"`y` must be 1-D; got a dask DataFrame with {len(y.columns)} columns.")
            y = y[y.columns[0]]
        if not _is_numeric(y.dtype):
            raise ValueError(f"`y` must hold real numbers; got a dask Series of dtype {y.dtype}.")
        ys = list(y.to_delayed())
    else:
        raise TypeError(f"`y` must be a dask array or dask Series; got {describe(y)}.")
    if isinstance(X, dd.DataFrame) and isinstance(y, dd.Series):
        # One frame for both: Dask's optimiser may fuse the partitions of a projection (y alone
        # reads fewer columns, so fewer, larger partitions), and one frame is read once.
        # Assertion: dask-expr's optimiser asserts on partitions it cannot line up (seen with
        # dask 2026.8 on a map_partitions next to a projection of its input); then no fusion.
        try:
            frames = list(X.assign(**{blocks.TARGET: y}).to_delayed())
        except (ValueError, TypeError, NotImplementedError, AssertionError):
            frames = None
        if frames is not None:
            return frames, [None] * len(frames), names
        xs, ys = list(X.to_delayed(optimize_graph=False)), list(y.to_delayed(optimize_graph=False))
    if len(xs) != len(ys):
        raise ValueError(
            f"`y` must be split into the partitions of `X`: `X` has {len(xs)} and `y` {len(ys)}; derive "
            "both from one collection, e.g. X = df[features], y = df[target]."
        )
    return xs, ys, names


def _is_numeric(dtype: Any) -> bool:
    import pandas as pd

    return bool(pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(dtype))


def reduce_tree(parts: Sequence[Any], combine: Callable[..., Any], fan_in: int = FAN_IN) -> Any:
    """One delayed result from ``parts``: ``combine`` applied in a tree, ``fan_in`` at a node.

    ``combine`` is sent by value when it is one of :mod:`bayeswd._dask_blocks`.
    """
    import dask

    level = list(parts)
    by_value = getattr(combine, "__module__", None) == blocks.__name__
    combine_d = _task(combine) if by_value else dask.delayed(combine, pure=True)
    while len(level) > 1:
        level = [level[i] if i + 1 == min(i + fan_in, len(level)) else combine_d(*level[i:i + fan_in])
                 for i in range(0, len(level), fan_in)]
    return level[0]


def moments_graph(X: Any, y: Any) -> tuple[Any, list[str]]:
    """The delayed :class:`Moments` of ``(X, y)`` (not computed) and the feature names."""
    require_dask()
    xs, ys, names = _partitions(X, y)
    block = _task(blocks.block_moments)
    parts = [block(xb, yb, i) for i, (xb, yb) in enumerate(zip(xs, ys, strict=True))]
    if not parts:
        raise ValueError("`X` must have at least one partition; got none.")
    return reduce_tree(parts, blocks.merge), names


def moments(X: Any, y: Any, *, min_rows: int = 2) -> tuple[Moments, list[str]]:
    """One pass over the Dask collections ``X`` and ``y``: their :class:`Moments` and feature names.

    Computed with ``dask.compute``, so on the active scheduler (a ``dask.distributed`` client when
    one exists). Raises ``ValueError`` for NaN or inf entries and for fewer than ``min_rows`` rows,
    with the messages of the in-memory checks.
    """
    dask = require_dask()
    graph, names = moments_graph(X, y)
    (result,) = dask.compute(graph)
    mom = Moments(*result)
    check_moments(mom, min_rows)
    return mom, names


def check_moments(mom: Moments, min_rows: int = 2) -> None:
    """The in-memory checks on a computed pass: finite values, enough rows."""
    for name, bad in (("X", mom.nonfinite_x), ("y", mom.nonfinite_y)):
        if bad:
            raise ValueError(f"`{name}` must contain only finite values; got {bad} NaN or inf entries.")
    if mom.n < min_rows:
        raise ValueError(f"`X` must have at least {min_rows} rows; got {mom.n}.")


# --- the rows' stand-in on the client -----------------------------------------------------------


def _op_name(func: Any) -> str:
    owner = getattr(func, "__self__", None)
    return str(getattr(owner, "__name__", None) or getattr(func, "__name__", None) or func)


class RowsElsewhere(torch.Tensor):
    """``X`` (shape (n, d)) or ``y`` (shape (n,)) of a Dask collection: a shape without rows.

    It answers what the statistics-based code asks of the data (shape, dtype, device,
    ``new_zeros`` and friends; ``y.std()`` and ``X.var(0)`` from the moments) and holds the
    :class:`Moments` of the one pass. Any operation that would read a row raises a ``ValueError``
    naming it: per-row work on Dask input fails loudly instead of allocating.
    """

    #: Marks the stand-in for :func:`bayeswd._validation.is_dask_input`.
    rows_elsewhere = True

    _ALLOWED = frozenset({
        torch.Tensor.shape.__get__, torch.Tensor.size, torch.Tensor.dim, torch.Tensor.numel,
        torch.Tensor.device.__get__, torch.Tensor.dtype.__get__, torch.Tensor.is_cuda.__get__,
        torch.Tensor.ndim.__get__, torch.Tensor.new_ones, torch.Tensor.new_zeros,
        torch.Tensor.new_tensor, torch.Tensor.new_full, torch.Tensor.new_empty,
        torch.Tensor.element_size, torch.Tensor.__len__, torch.Tensor.is_floating_point,
        torch.Tensor.is_complex, torch.Tensor.requires_grad.__get__,
    })

    moments: Moments
    feature_names: tuple[str, ...]
    role: str

    @staticmethod
    def __new__(cls, mom: Moments, names: Sequence[str], role: str, device: torch.device | None = None
                ) -> RowsElsewhere:
        shape = (mom.n, mom.d) if role == "X" else (mom.n,)
        base = torch.zeros((), dtype=DTYPE, device=device).expand(shape)
        out = torch.Tensor._make_subclass(cls, base)
        out.moments, out.feature_names, out.role = mom, tuple(names), role
        return out

    @classmethod
    def __torch_function__(cls, func: Any, types: Any, args: Sequence[Any] = (), kwargs: Any = None) -> Any:
        if func in cls._ALLOWED:
            with torch._C.DisableTorchFunctionSubclass():
                out = func(*args, **(kwargs or {}))
            return out.as_subclass(torch.Tensor) if isinstance(out, torch.Tensor) else out
        first = next(a for a in args if isinstance(a, RowsElsewhere)) if args else None
        shape = f" (n = {first.moments.n}, d = {first.moments.d})" if first is not None else ""
        raise ValueError(
            f"`{_op_name(func)}` needs the rows of `X` or `y`, which stay in the Dask collection{shape}: "
            f"only their sufficient statistics came to the client. {DASK_METHODS}. For per-row quantities "
            "compute a sample of the rows (e.g. df.partitions[:2].compute())."
        )

    def __repr__(self, *args: Any, **kwargs: Any) -> str:
        return f"RowsElsewhere({self.role}, shape={tuple(self.shape)}, rows in a Dask collection)"

    __str__ = __repr__

    def __reduce_ex__(self, protocol: Any) -> Any:
        return (_rebuild, (self.moments, self.feature_names, self.role))

    def __deepcopy__(self, memo: Any) -> RowsElsewhere:
        return self

    def statistics(self, fit_intercept: bool, intercept: float = 0.0) -> SufficientStats:
        """:meth:`Moments.statistics` on this stand-in's device."""
        return self.moments.statistics(fit_intercept, intercept, self.device)

    def std(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        """``y.std()`` (unbiased) from the moments; only the target's stand-in has it."""
        if self.role != "y" or args or kwargs:
            return self.__torch_function__(torch.Tensor.std, (type(self),), (self, *args), kwargs)
        n = self.moments.n
        return torch.tensor(math.sqrt(self.moments.yy / (n - 1)) if n > 1 else float("nan"), dtype=DTYPE)

    def var(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        """``X.var(0)`` (unbiased column variances) from the moments; only the design's stand-in."""
        if self.role != "X" or tuple(args) + tuple(kwargs.values()) not in ((0,),):
            return self.__torch_function__(torch.Tensor.var, (type(self),), (self, *args), kwargs)
        n = self.moments.n
        return torch.from_numpy(np.diagonal(self.moments.xx) / max(n - 1, 1)).to(self.device, DTYPE)

    def detach(self) -> RowsElsewhere:
        """Itself: the stand-in holds no graph."""
        return self

    def clone(self, *args: Any, **kwargs: Any) -> RowsElsewhere:
        """Itself: the stand-in is immutable."""
        return self

    def to(self, *args: Any, **kwargs: Any) -> RowsElsewhere:
        """The stand-in on another device (only float64 exists)."""
        device = kwargs.get("device", next((a for a in args if isinstance(a, (str, torch.device))), None))
        dtype = kwargs.get("dtype", next((a for a in args if isinstance(a, torch.dtype)), DTYPE))
        if dtype != DTYPE:
            raise ValueError(f"the rows of a Dask collection are float64 here; got dtype {dtype}.")
        if device is None or torch.device(device) == self.device:
            return self
        return RowsElsewhere(self.moments, self.feature_names, self.role, torch.device(device))

    def cpu(self) -> RowsElsewhere:
        """The stand-in on the CPU."""
        return self.to("cpu")


def _rebuild(mom: Moments, names: tuple[str, ...], role: str) -> RowsElsewhere:
    return RowsElsewhere(mom, names, role)


def rows_elsewhere(
    X: Any, y: Any, *, device: torch.device | None = None, min_rows: int = 2
) -> tuple[RowsElsewhere, RowsElsewhere, list[str]]:
    """The stand-ins of ``X`` and ``y`` after one pass (or the given stand-ins), and feature names."""
    if isinstance(X, RowsElsewhere) and isinstance(y, RowsElsewhere) and X.role == "X" and y.role == "y":
        if X.moments is not y.moments:
            raise ValueError("`X` and `y` must be the stand-ins of one Dask pass; got two different ones.")
        return X.to(device=device), y.to(device=device), list(X.feature_names)
    mom, names = moments(X, y, min_rows=min_rows)
    return RowsElsewhere(mom, names, "X", device), RowsElsewhere(mom, names, "y", device), names


def statistics(X: Any, y: Any, fit_intercept: bool = True) -> SufficientStats:
    """:func:`bayeswd.stats.sufficient_statistics` of Dask ``X`` and ``y`` (or their stand-ins)."""
    if isinstance(X, RowsElsewhere) and isinstance(y, RowsElsewhere):
        Xp, _, _ = rows_elsewhere(X, y)
        return Xp.statistics(fit_intercept)
    mom, _ = moments(X, y, min_rows=1)
    return mom.statistics(fit_intercept)


# --- map_fit -------------------------------------------------------------------------------------


class StatsProblem(Problem):
    """A :class:`~bayeswd.solvers.problem.Problem` whose likelihood comes from the statistics alone.

    ``X`` and ``y`` are :class:`RowsElsewhere`. The likelihood's gradient is ``-A^T r / sigma^2``
    with ``A^T r`` from the centred statistics (``X^T r = c - G w - n u mean(X)``, ``1^T r = -n u``,
    ``u = b + mean(X) w - mean(y)``), exact up to rounding but, unlike the in-memory residual,
    computed as a difference of sums. There is no residual vector: its stand-in is the one-element
    ``(||r||,)``, whose squared norm, the only use ``map_fit`` makes of it, is the residual sum of
    squares ``yc^T yc - 2 w^T c + w^T G w + n u^2``.
    """

    def neg_log_density(self, theta: torch.Tensor, part: str = "joint") -> torch.Tensor:
        """Not available: the rows are elsewhere (the methods using it are refused before)."""
        raise ValueError(f"the log density over the rows needs them in memory. {DASK_METHODS}.")

    def neg_log_prior(self, theta: torch.Tensor) -> torch.Tensor:
        """``-log p(w, b)`` from the model, traced on one row of zeros (the prior does not see data)."""
        return -log_density(
            self.unpack(theta), self.X.new_zeros(1, self.d), self.X.new_zeros(1), part="prior",
            **self.model_kwargs,
        )

    def gradient(self, theta: torch.Tensor, part: str = "joint") -> tuple[torch.Tensor, torch.Tensor]:
        """Gradient of ``-log density`` (``part`` "joint" or "likelihood") and the residual's stand-in."""
        theta, d, stats = theta.detach(), self.d, self.statistics()
        w = theta[:d]
        if self.fit_intercept:
            cs = stats.centred()
            u = float(theta[d]) + float(cs.x_mean @ w) - cs.y_mean
            Gw = cs.gram @ w
            xtr = cs.xty - Gw - (cs.n * u) * cs.x_mean
            g = torch.cat([xtr, xtr.new_tensor([-cs.n * u])]).neg_() / self.sigma**2
            rss = cs.yty - 2.0 * float(w @ cs.xty) + float(w @ Gw) + cs.n * u * u
        else:  # statistics of y0 = y - frozen intercept, uncentred
            Gw = stats.gram @ w
            g = (Gw - stats.aty) / self.sigma**2
            rss = stats.yty - 2.0 * float(w @ stats.aty) + float(w @ Gw)
        if part == "joint":
            from bayeswd.solvers.problem import grad

            g = g + grad(self.neg_log_prior, theta)
        return g, theta.new_tensor([math.sqrt(max(rss, 0.0))])


#: The methods of map_fit that run on the statistics alone.
MAP_METHODS = ("newton", "proximal")


def map_problem(
    X: Any, y: Any, *, prior: str, sigma: float, tau: float, fit_intercept: bool, intercept: float,
    method: str, device: torch.device,
) -> tuple[StatsProblem, list[str]]:
    """The :class:`StatsProblem` of ``map_fit`` on Dask ``X`` and ``y``, and the feature names."""
    if method not in MAP_METHODS:
        raise ValueError(
            f"`method` {method!r} of map_fit evaluates the likelihood row by row, and the rows of a Dask `X` "
            "stay in the collection: use method='newton' (gaussian prior) or 'proximal' (laplace), which "
            "work from the sufficient statistics, or pass X.compute() and y.compute()."
        )
    Xp, yp, names = rows_elsewhere(X, y, device=device)
    prob = StatsProblem(Xp, yp, prior, sigma, tau, fit_intercept, intercept)
    prob._stats = Xp.statistics(fit_intercept, 0.0 if fit_intercept else intercept)
    return prob, names


# --- sample_posterior ----------------------------------------------------------------------------


def inference_data(
    X: Any, y: Any, options: Any, *, fit_intercept: bool, device: torch.device
) -> tuple[RowsElsewhere, RowsElsewhere, list[str]]:
    """The stand-ins ``sample_posterior`` runs on for Dask input, after checking the method can.

    ``Exact`` needs the statistics only; bayeswd's ``NUTS`` too when ``n > d`` (plus one with an
    intercept), where every potential it runs on reads ``X^T X``, ``X^T y`` and ``y^T y``, the
    ``Gibbs`` sampler when ``n > d`` (its gaussian block on the centred statistics), and the
    ``Collapsed`` sampler when ``n > d`` (the eigendecomposition of the centred Gram matrix). Pyro's NUTS,
    SVI, and NUTS or Gibbs with fewer rows evaluate the likelihood row by row or work on the
    design: a ``ValueError`` says so (as for any other method: only these are known to run on the
    statistics alone; the stand-ins refuse any per-row work anyway).
    """
    from bayeswd.infer.options import NUTS, Collapsed, Exact, Gibbs

    if not isinstance(options, (NUTS, Exact, Gibbs, Collapsed)):
        raise ValueError(
            f"`method` {type(options).__name__} is not available for Dask input (the rows of a Dask `X` stay "
            "in the collection, and it reads them): use method='exact' (gaussian prior, sigma and tau "
            "fixed), 'collapsed' (gaussian prior, a scale sampled), 'gibbs' (laplace prior) or 'nuts' "
            "(bayeswd's sampler), which run on the sufficient statistics when n > d, or pass "
            "X.compute() and y.compute()."
        )
    Xp, yp, names = rows_elsewhere(X, y, device=device)
    n, d = Xp.shape
    rows_needed = 0  # NUTS and Gibbs work on the design up to these many rows
    if isinstance(options, (NUTS, Gibbs, Collapsed)):
        rows_needed = d + int(fit_intercept and isinstance(options, NUTS))
    if n <= rows_needed:
        raise ValueError(
            f"`method` {options.name!r} with n = {n} rows and d = {d} features (n <= {rows_needed}) runs on "
            "the design matrix itself, whose rows stay in the Dask collection: the data are small, pass "
            "X.compute() and y.compute()."
        )
    return Xp, yp, names


# --- maximize_evidence and lam_sweep ------------------------------------------------------------


def evidence_from_stats(cs: CentredStats) -> EvidenceSpectrum:
    """:class:`~bayeswd.evidence.EvidenceSpectrum` from the centred Gram statistics, by ``eigh(G)``.

    ``G = V diag(e) V^T`` gives what the thin SVD ``Xc = U S V^T`` gives in memory: ``e = s^2``,
    ``U^T yc = V^T c / sqrt(e)`` and ``rest = yc^T yc - ||U^T yc||^2``. Eigenvalues of ``G`` carry an
    absolute rounding error of about ``eps e_max``, so those below ``d eps e_max`` count as zero
    (the SVD resolves ``s`` to ``eps s_max``: the two differ only for a numerically rank-deficient
    ``X``).
    """
    G = cs.gram.cpu().numpy()
    c = cs.xty.cpu().numpy()
    e, V = np.linalg.eigh(0.5 * (G + G.T))
    e, V = e[::-1], V[:, ::-1]  # decreasing, as the SVD orders them
    top = float(e[0]) if e.size else 0.0
    keep = e > top * max(e.size, 1) * np.finfo(float).eps if top > 0 else e > 0
    e, V = e[keep], V[:, keep]
    uty = (V.T @ c) / np.sqrt(e)
    rest = max(float(cs.yty) - float(uty @ uty), 0.0)
    return EvidenceSpectrum(e, uty, rest, np.ascontiguousarray(V.T))


def evidence_inputs(X: Any, y: Any, fit_intercept: bool) -> tuple[CentredStats, EvidenceSpectrum]:
    """The centred statistics of Dask ``X``, ``y`` and their evidence spectrum (one pass)."""
    Xp, _, _ = rows_elsewhere(X, y)
    cs = Xp.statistics(fit_intercept).centred()
    return cs, evidence_from_stats(cs)


class RidgeGram(RidgeSVD):
    """:class:`~bayeswd.solvers.ridge.RidgeSVD` from the centred Gram statistics (``eigh(G)``).

    ``s = sqrt(e)``, ``U^T yc = V^T c / s`` (components with ``e`` at the rounding floor dropped,
    see :func:`evidence_from_stats`), so that the ridge path ``V diag(s / (s^2 + lam)) U^T yc =
    V diag(1 / (e + lam)) V^T c`` is the in-memory one.
    """

    def __init__(self, cs: CentredStats) -> None:  # no SVD: the spectrum of G
        spec = evidence_from_stats(cs)
        self.s, self.Vt, self.uty = np.sqrt(spec.e), spec.Vt, spec.uty


def path_data(X: Any, y: Any, prior: str, fit_intercept: bool) -> tuple[Any, Moments, list[str]]:
    """A :class:`~bayeswd.selection.paths.PathData` from one pass over Dask ``X``, ``y``.

    Returns the path data, the moments (for the training error of the path) and the feature names.
    """
    from bayeswd.selection.paths import PathData
    from bayeswd.solvers.lasso import LassoGram

    Xp, _, names = rows_elsewhere(X, y)
    cs = Xp.statistics(fit_intercept).centred()
    data = PathData.__new__(PathData)
    data.prior, data.centred = prior, cs
    data.solver = RidgeGram(cs) if prior == "gaussian" else LassoGram.from_stats(cs)
    return data, Xp.moments, names


def held_out_moments(X_test: Any, y_test: Any, d: int) -> Moments:
    """The moments of Dask test rows, checked to have ``d`` columns."""
    Xp, _, _ = rows_elsewhere(X_test, y_test, min_rows=1)
    if Xp.shape[1] != d:
        raise ValueError(f"`X_test` must have {d} columns like `X`; got {Xp.shape[1]}.")
    return Xp.moments


# --- a train / test split in the same pass (the command line) -----------------------------------


def split_moments(X: Any, y: Any, fraction: float, seed: int) -> tuple[Moments, Moments, list[str]]:
    """One pass over Dask ``X``, ``y``: the moments of a seeded random training and test split."""
    dask = require_dask()
    xs, ys, names = _partitions(X, y)
    block = _task(blocks.split_block_moments)
    parts = [block(xb, yb, i, fraction, seed) for i, (xb, yb) in enumerate(zip(xs, ys, strict=True))]
    (pair,) = dask.compute(reduce_tree(parts, blocks.merge_pairs))
    return Moments(*pair[0]), Moments(*pair[1]), names


def standardized(mom: Moments, mean: np.ndarray, sd: np.ndarray) -> Moments:
    """The moments of the columns ``(x - mean) / sd``: an exact affine map, no pass over the rows."""
    return mom._replace(x_mean=(mom.x_mean - mean) / sd, xx=mom.xx / np.outer(sd, sd), xy=mom.xy / sd)
