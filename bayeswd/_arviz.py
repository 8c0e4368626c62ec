"""The one place that knows which ArviZ is installed: ArviZ 0.x (InferenceData) or 1.x (DataTree).

ArviZ 1.x (arviz-base, arviz-stats, arviz-plots) stores posteriors in :class:`xarray.DataTree`,
renamed its converters' arguments, moved PSIS-LOO's results to other field names and changed
some defaults (the tail ESS's quantiles, the summary's interval and columns, the sign of
``elpd_diff``, the ``ddof`` of the elpd's standard error). Every use of ArviZ in bayeswd goes
through this module, and what it returns is the same on both lines: the container ArviZ expects
(``az.InferenceData`` on 0.x, ``xarray.DataTree`` on 1.x), xarray Datasets of the groups, and
pandas tables with one set of column names and conventions (ArviZ 0.x's). The numbers agree to
rounding: the diagnostics are the same formulas (R-hat, bulk ESS, MCSE), the tail ESS is asked for
the 5 % and 95 % quantiles on both, the HDI, the summary's mean and sd and the elpd's standard
error are computed here. No other module of bayeswd checks the ArviZ version.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import Any

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

__all__ = [
    "ARVIZ_1",
    "ARVIZ_MODULES",
    "CONTAINER",
    "LOO",
    "as_inference_data",
    "build_inference_data",
    "compare",
    "convert_to_dataset",
    "ess",
    "from_dict",
    "from_netcdf",
    "get_group",
    "get_group_attrs",
    "group_names",
    "has_group",
    "hdi",
    "is_arviz_file",
    "is_inference_data",
    "loo",
    "mcse",
    "posterior_dims",
    "rhat",
    "summary",
    "to_netcdf",
]

#: Whether the installed ArviZ is 1.x (DataTree based) rather than 0.x (InferenceData).
ARVIZ_1: bool = int(az.__version__.split(".")[0]) >= 1
#: The name of the container :func:`build_inference_data` returns, for messages.
CONTAINER = "xarray.DataTree" if ARVIZ_1 else "arviz.InferenceData"
#: The modules whose warnings are ArviZ's (a ``module=`` regex of :func:`warnings.filterwarnings`).
ARVIZ_MODULES = r"arviz(_base|_stats|_plots)?(\.|$)"
#: The central probability of the quantiles the tail ESS uses (ArviZ 0.x's, fixed; 1.x's default
#: follows its ``stats.ci_prob``).
_TAIL_PROB = (0.05, 0.95)


def is_arviz_file(filename: str) -> bool:
    """Whether a warning's ``filename`` lies in an ArviZ package (``arviz``, ``arviz_stats``, ...)."""
    return any(part == "arviz" or part.startswith("arviz_") for part in Path(filename).parts)


# ------------------------------------------------------------------------------------------
# the container


def is_inference_data(obj: Any) -> bool:
    """Whether ``obj`` is an ArviZ container: InferenceData (0.x) or a DataTree (either line)."""
    return isinstance(obj, xr.DataTree) or (not ARVIZ_1 and isinstance(obj, az.InferenceData))


def _native(obj: Any) -> Any:
    """An ArviZ container as the installed ArviZ's own kind (0.x: a DataTree becomes InferenceData)."""
    if not ARVIZ_1 and isinstance(obj, xr.DataTree):
        return az.InferenceData.from_datatree(obj)
    return obj


def as_inference_data(obj: Any) -> Any:
    """``obj`` as the installed ArviZ's container: itself, or its ``to_inference_data()``.

    InferenceData and DataTree are accepted on ArviZ 0.x (a DataTree is converted); ``None`` if
    ``obj`` is neither and has no ``to_inference_data()``. The callers raise their own error
    (naming their argument) on ``None``.
    """
    if is_inference_data(obj):
        return _native(obj)
    if hasattr(obj, "to_inference_data"):
        return _native(obj.to_inference_data())
    return None


def group_names(data: Any) -> list[str]:
    """The groups of an InferenceData or DataTree (``"posterior"``, ``"log_likelihood"``, ...)."""
    if isinstance(data, xr.DataTree):
        return [str(name) for name in data.children]
    return list(data.groups())


def has_group(data: Any, name: str) -> bool:
    """Whether the container has the group ``name``."""
    return name in group_names(data)


def get_group(data: Any, name: str) -> xr.Dataset:
    """The group ``name`` as an :class:`xarray.Dataset` (a view on DataTree, the group itself on 0.x)."""
    if isinstance(data, xr.DataTree):
        return data[name].to_dataset()
    return getattr(data, name)


def get_group_attrs(data: Any, name: str) -> dict[str, Any]:
    """The attributes of the group ``name``: the container's own dict (changes stay)."""
    node = data[name] if isinstance(data, xr.DataTree) else getattr(data, name)
    return node.attrs


def _set_group_attrs(data: Any, attrs: Mapping[str, Any]) -> None:
    for name in group_names(data):
        get_group_attrs(data, name).update(attrs)


def from_dict(
    groups: Mapping[str, Mapping[str, np.ndarray]],
    *,
    coords: Mapping[str, Any] | None = None,
    dims: Mapping[str, Sequence[str]] | None = None,
) -> Any:
    """:func:`arviz.from_dict` in the installed line's form: ``{group: {variable: array}}``.

    Sampled groups have the leading dims ``(chain, draw)``; groups with ``data`` in their name
    (``observed_data``) have none. Returns InferenceData (0.x) or a DataTree (1.x).
    """
    groups = {g: dict(v) for g, v in groups.items() if v}
    if ARVIZ_1:
        return az.from_dict(groups, coords=coords, dims=dims)
    return az.from_dict(**groups, coords=coords, dims=dims)


def _netcdf_attr(value: Any) -> Any:
    """Attributes must survive a netCDF round trip: no None, no bool, no nested containers."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float, str, np.integer, np.floating)):
        return value
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return ",".join(value)
    return repr(value)


def posterior_dims(feature_names: tuple[str, ...]) -> tuple[dict[str, list[str]], dict[str, Any]]:
    """Coordinates and dims of the posterior variables (``coef`` runs over ``feature``)."""
    coords: dict[str, Any] = {"feature": list(feature_names)}
    dims: dict[str, list[str]] = {"coef": ["feature"]}
    return dims, coords


def build_inference_data(
    *,
    posterior: dict[str, np.ndarray],
    posterior_predictive: dict[str, np.ndarray],
    log_likelihood: dict[str, np.ndarray],
    observed_data: dict[str, np.ndarray],
    sample_stats: dict[str, np.ndarray],
    feature_names: tuple[str, ...],
    attrs: dict[str, Any],
) -> Any:
    """Assemble the groups with :func:`from_dict`, ``feature`` and ``obs_id`` coordinates.

    Every group carries ``attrs`` (made netCDF-safe). An empty ``sample_stats`` is left out.
    Returns InferenceData (ArviZ 0.x) or a DataTree (ArviZ 1.x).
    """
    dims, coords = posterior_dims(feature_names)
    if observed_data:  # absent when the rows are not on the client (Dask input)
        n_obs = next(iter(observed_data.values())).shape[0]
        coords["obs_id"] = np.arange(n_obs)
        dims["obs"] = ["obs_id"]
    data = from_dict(
        {
            "posterior": posterior,
            "posterior_predictive": posterior_predictive,
            "log_likelihood": log_likelihood,
            "observed_data": observed_data,
            "sample_stats": sample_stats,
        },
        coords=coords,
        dims=dims,
    )
    _set_group_attrs(data, {k: _netcdf_attr(v) for k, v in attrs.items()})
    return data


def to_netcdf(data: Any, path: str | Path) -> None:
    """Write an InferenceData or DataTree to one netCDF file (a group per ArviZ group)."""
    _native(data).to_netcdf(str(path), engine="h5netcdf")


def from_netcdf(path: str | Path) -> Any:
    """Read a netCDF file written by :func:`to_netcdf` (or ArviZ) into memory, file closed."""
    if ARVIZ_1:
        with xr.open_datatree(str(path), engine="h5netcdf") as tree:
            return tree.load()
    return az.from_netcdf(str(path))


# ------------------------------------------------------------------------------------------
# diagnostics and summaries


def convert_to_dataset(obj: Any) -> xr.Dataset:
    """:func:`arviz.convert_to_dataset`: a dict of ``(chain, draw, ...)`` arrays as a Dataset."""
    if isinstance(obj, xr.Dataset):
        return obj
    if is_inference_data(obj):
        return get_group(_native(obj), "posterior")
    return az.convert_to_dataset(obj)


def _diagnostic(fn: Any, data: Any, **kwargs: Any) -> Any:
    """Apply an ArviZ diagnostic to a Dataset (or dict / container): a Dataset; to an array: an array.

    An array is ``(chain, draw, ...)`` (1-D: the draws of one chain); the result has its trailing
    shape.
    """
    if isinstance(data, (np.ndarray, list, tuple)):
        arr = np.asarray(data, dtype=float)
        arr = arr[None] if arr.ndim == 1 else arr
        return np.asarray(fn(az.convert_to_dataset({"x": arr}), **kwargs)["x"].values)
    return fn(convert_to_dataset(data), **kwargs)


def rhat(data: Any, *, method: str = "rank") -> Any:
    """Rank-normalised split R-hat (:func:`arviz.rhat`); ``method`` as ArviZ's (``"rank"``, ...)."""
    return _diagnostic(az.rhat, data, method=method)


def ess(data: Any, *, method: str = "bulk") -> Any:
    """Effective sample size (:func:`arviz.ess`); the tail ESS is of the 5 % and 95 % quantiles."""
    kwargs: dict[str, Any] = {"method": method}
    if method == "tail" and ARVIZ_1:
        kwargs["prob"] = _TAIL_PROB  # ArviZ 0.x's; 1.x's default follows rcParams["stats.ci_prob"]
    return _diagnostic(az.ess, data, **kwargs)


@contextmanager
def _without_numba() -> Iterator[None]:
    """ArviZ 0.x without its numba paths, where numba is installed.

    ArviZ 0.23's numba path of the MCSE of the sd calls ``float()`` on a 1-element array, an
    error with NumPy >= 2.4; the numpy path computes the same number.
    """
    numba = getattr(getattr(az, "utils", None), "Numba", None)
    if ARVIZ_1 or numba is None or not numba.numba_flag:
        yield
        return
    numba.numba_flag = False
    try:
        yield
    finally:
        numba.numba_flag = True


def mcse(data: Any, *, method: str = "mean") -> Any:
    """Monte Carlo standard error (:func:`arviz.mcse`) of the ``"mean"``, ``"sd"``, ... of the draws."""
    with _without_numba():
        return _diagnostic(az.mcse, data, method=method)


def hdi(draws: Any, prob: float, axis: int = 0) -> np.ndarray:
    """Highest density interval of unimodal draws along ``axis``: ``[lower, upper]`` first.

    The shortest interval holding ``floor(prob * n)`` + 1 sorted draws, ArviZ's unimodal HDI on
    both lines (tested equal). Returns shape ``(2,) + shape without axis``.
    """
    x = np.sort(np.moveaxis(np.asarray(draws, dtype=float), axis, 0), axis=0)
    n = x.shape[0]
    k = int(math.floor(prob * n))
    width = x[k:] - x[: n - k]
    start = np.argmin(width, axis=0)[None]
    lower = np.take_along_axis(x, start, axis=0)[0]
    upper = np.take_along_axis(x, start + k, axis=0)[0]
    return np.stack([lower, upper])


def _labels(da: xr.DataArray, sample_dims: tuple[str, ...]) -> list[str]:
    """ArviZ 0.x's row labels: ``name`` or ``name[c1, c2]`` over the coordinates of the other dims."""
    other = [d for d in da.dims if d not in sample_dims]
    if not other:
        return [str(da.name)]
    values = [[str(v) for v in da[d].values] for d in other]
    return [f"{da.name}[{', '.join(c)}]" for c in product(*values)]


def _round_summary(table: pd.DataFrame, round_to: Any) -> pd.DataFrame:
    if round_to is None:
        return table
    if round_to == "auto":  # ArviZ 0.x's default: 3 decimals, R-hat 2, whole ESS
        return table.round({c: 0 if c.startswith("ess") else 2 if c == "r_hat" else 3
                            for c in table.columns})
    return table.round(int(round_to))


def summary(
    data: Any,
    *,
    var_names: Sequence[str] | None = None,
    kind: str = "all",
    hdi_prob: float = 0.94,
    round_to: int | str | None = "auto",
) -> pd.DataFrame:
    """ArviZ 0.x's summary table of the posterior, the same on both ArviZ lines.

    Parameters
    ----------
    data : InferenceData, DataTree, Dataset or dict of arrays
        The posterior (a container's ``posterior`` group); arrays are ``(chain, draw, ...)``.
    var_names : list of str, optional
        Variables to summarise, in this order; default all.
    kind : {"all", "stats", "diagnostics"}, default "all"
    hdi_prob : float, default 0.94
        Probability of the highest density interval.
    round_to : int, "auto" or None, default "auto"
        Decimals; ``"auto"``: 3 (2 for R-hat, 0 for the ESS), as ArviZ 0.x; ``None``: raw numbers.

    Returns
    -------
    pandas.DataFrame
        One row per scalar parameter (``coef[<feature>]``), columns ``mean``, ``sd``,
        ``hdi_3%``, ``hdi_97%`` (for ``hdi_prob=0.94``), ``mcse_mean``, ``mcse_sd``,
        ``ess_bulk``, ``ess_tail``, ``r_hat`` (the first four for ``"stats"``, the others for
        ``"diagnostics"``). ``sd`` has ``ddof=1``.
    """
    if kind not in ("all", "stats", "diagnostics"):
        raise ValueError(f"`kind` must be 'all', 'stats' or 'diagnostics'; got {kind!r}.")
    if isinstance(hdi_prob, bool) or not 0.0 < float(hdi_prob) < 1.0:
        raise ValueError(f"`hdi_prob` must be a probability in (0, 1); got {hdi_prob!r}.")
    ds = convert_to_dataset(data)
    names = list(ds.data_vars) if var_names is None else [str(v) for v in var_names]
    missing = [v for v in names if v not in ds.data_vars]
    if missing:
        raise ValueError(f"`var_names` must name posterior variables {list(ds.data_vars)}; got {missing}.")
    ds = ds[names]
    sample = ("chain", "draw")
    columns: dict[str, xr.Dataset] = {}
    if kind in ("all", "stats"):
        alpha = 1.0 - float(hdi_prob)
        columns["mean"] = ds.mean(sample)
        columns["sd"] = ds.std(sample, ddof=1)
        stacked = ds.stack(__sample__=sample).transpose("__sample__", ...)
        bounds = {k: hdi(v.values, float(hdi_prob)) for k, v in stacked.data_vars.items()}
        columns[f"hdi_{100 * alpha / 2:g}%"] = ds.mean(sample).copy(data={k: b[0] for k, b in bounds.items()})
        columns[f"hdi_{100 * (1 - alpha / 2):g}%"] = ds.mean(sample).copy(
            data={k: b[1] for k, b in bounds.items()})
    if kind in ("all", "diagnostics"):
        with warnings.catch_warnings():
            # numpy warns inside ArviZ on degenerate chains (constant draws): the values are NaN
            warnings.filterwarnings("ignore", category=RuntimeWarning,
                                    module=r"(arviz(_base|_stats)?|numpy|xarray)(\.|$)")
            columns["mcse_mean"] = mcse(ds, method="mean")
            columns["mcse_sd"] = mcse(ds, method="sd")
            columns["ess_bulk"] = ess(ds, method="bulk")
            columns["ess_tail"] = ess(ds, method="tail")
            columns["r_hat"] = rhat(ds, method="rank")
    index: list[str] = []
    for name in names:
        index += _labels(ds[name], sample)
    table = pd.DataFrame(
        {col: np.concatenate([np.ravel(stat[name].transpose(*[d for d in ds[name].dims
                                                                  if d not in sample]).values)
                              for name in names]).astype(float)
         for col, stat in columns.items()},
        index=index,
    )
    return _round_summary(table, round_to)


# ------------------------------------------------------------------------------------------
# predictive accuracy


@dataclass(frozen=True)
class LOO:
    """PSIS-LOO of one posterior, in the same fields on both ArviZ lines.

    Attributes
    ----------
    elpd : float
        Expected log pointwise predictive density (log scale: higher is better).
    se : float
        Its standard error, ``sqrt(n)`` times the standard deviation (``ddof=0``) of the
        pointwise elpd (ArviZ 0.x's; ArviZ 1.x's own ``se`` uses ``ddof=1``).
    p : float
        Effective number of parameters.
    elpd_i : np.ndarray
        The pointwise elpd, one per observation (``elpd`` is their sum).
    pareto_k : np.ndarray
        Pareto ``k`` per observation.
    good_k : float
        The threshold above which a ``k`` makes the estimate unreliable.
    warning : bool
        Whether some ``k`` exceeds ``good_k``.
    native : object
        ArviZ's own result (``ELPDData``), as :func:`arviz.compare` takes it.
    """

    elpd: float
    se: float
    p: float
    elpd_i: np.ndarray
    pareto_k: np.ndarray
    good_k: float
    warning: bool
    native: Any


def loo(data: Any, *, var_name: str | None = None) -> LOO:
    """PSIS-LOO (:func:`arviz.loo`) from the pointwise ``log_likelihood`` group, on the log scale.

    ArviZ's ``UserWarning`` on high Pareto ``k`` passes through.
    """
    data = _native(data)
    native = az.loo(data, pointwise=True, var_name=var_name)
    if ARVIZ_1:
        elpd, p, elpd_i = native.elpd, native.p, native.elpd_i
    else:
        elpd, p, elpd_i = native["elpd_loo"], native["p_loo"], native["loo_i"]
    elpd_i = np.ravel(np.asarray(elpd_i, dtype=float))
    # ArviZ 0.x's standard error, sqrt(n) times the sd (ddof=0) of the pointwise elpd; 1.x uses
    # ddof=1, larger by a factor sqrt(n / (n - 1))
    se = math.sqrt(elpd_i.size * np.var(elpd_i))
    return LOO(float(elpd), se, float(p), elpd_i, np.ravel(np.asarray(native.pareto_k, dtype=float)),
               float(native.good_k), bool(native.warning), native)


#: The factor from the log scale to ArviZ 0.x's ``scale`` (``elpd`` times it).
_SCALES = {"log": 1.0, "negative_log": -1.0, "deviance": -2.0}


def compare(
    data: Mapping[str, Any], *, ic: str = "loo", scale: str = "log", var_name: str | None = None
) -> pd.DataFrame:
    """ArviZ 0.x's comparison table (:func:`arviz.compare`, stacking weights), on both lines.

    Returns columns ``rank``, ``elpd_<ic>``, ``p_<ic>``, ``elpd_diff`` (the best model's elpd
    minus this model's, in ``scale`` units: ``>= 0``), ``weight``, ``se``, ``dse``, ``warning``
    (high Pareto ``k``) and ``scale``, best model first. ``ic="waic"`` needs ArviZ 0.x (1.x has
    only PSIS-LOO): a ``ValueError`` on 1.x.
    """
    if scale not in _SCALES:
        raise ValueError(f"`scale` must be one of {list(_SCALES)}; got {scale!r}.")
    if ic not in ("loo", "waic"):
        raise ValueError(f"`ic` must be 'loo' or 'waic'; got {ic!r}.")
    if ic == "waic" and ARVIZ_1:
        raise ValueError(
            f"`ic='waic'` needs ArviZ 0.x; ArviZ {az.__version__} compares by PSIS-LOO only (ic='loo')."
        )
    data = {str(k): _native(v) for k, v in data.items()}
    if ic == "waic":
        with warnings.catch_warnings():
            # arviz 0.23 calls DataFrame.sort_values(inplace=True), deprecated in pandas 3.1 (a
            # DeprecationWarning attributed to arviz); not actionable by our users
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"arviz(\.|$)")
            table = az.compare(data, ic="waic", scale="log", var_name=var_name)
    else:
        loos = {k: loo(v, var_name=var_name) for k, v in data.items()}
        natives = {k: v.native for k, v in loos.items()}
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"arviz(\.|$)")
            native = az.compare(natives, round_to="none") if ARVIZ_1 else az.compare(natives, ic="loo")
        if ARVIZ_1:
            table = pd.DataFrame(
                {
                    "rank": native["rank"].astype(int),
                    "elpd_loo": native["elpd"].astype(float),
                    "p_loo": native["p"].astype(float),
                    # 1.x: this model's elpd minus the best's; 0.x: the best's minus this one's
                    # (+ 0.0: the best model's -0.0 becomes 0.0)
                    "elpd_diff": -native["elpd_diff"].astype(float) + 0.0,
                    "weight": native["weight"].astype(float),
                    "se": [loos[k].se for k in native.index],  # ArviZ 0.x's (ddof=0)
                    "dse": native["dse"].astype(float),
                    "warning": [loos[k].warning for k in native.index],
                    "scale": "log",
                },
                index=native.index,
            )
        else:
            table = native
    factor = _SCALES[scale]
    out = table.copy()
    out[f"elpd_{ic}"] = out[f"elpd_{ic}"] * factor
    for col in ("elpd_diff", "se", "dse"):
        out[col] = out[col] * abs(factor)
    out["rank"] = out["rank"].astype(int)
    out["warning"] = out["warning"].astype(bool)
    out["scale"] = scale
    return out
