"""Conversion of posterior draws to ArviZ InferenceData with ArviZ's dict converter."""

from __future__ import annotations

from typing import Any

import arviz as az
import numpy as np

__all__ = ["as_inference_data", "build_inference_data", "posterior_dims"]


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


def as_inference_data(obj: Any) -> az.InferenceData | None:
    """``obj`` as InferenceData: itself, or its ``to_inference_data()``; ``None`` if it is neither.

    The callers raise their own error (naming their argument) on ``None``.
    """
    if isinstance(obj, az.InferenceData):
        return obj
    if hasattr(obj, "to_inference_data"):
        return obj.to_inference_data()
    return None


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
) -> az.InferenceData:
    """Assemble the groups with :func:`arviz.from_dict`, ``feature`` and ``obs_id`` coordinates."""
    dims, coords = posterior_dims(feature_names)
    n_obs = next(iter(observed_data.values())).shape[0]
    coords["obs_id"] = np.arange(n_obs)
    dims["obs"] = ["obs_id"]
    clean_attrs = {k: _netcdf_attr(v) for k, v in attrs.items()}
    idata = az.from_dict(
        posterior=posterior,
        posterior_predictive=posterior_predictive,
        log_likelihood=log_likelihood,
        observed_data=observed_data,
        sample_stats=sample_stats or None,
        coords=coords,
        dims=dims,
    )
    for group in idata.groups():  # from_dict's `attrs` reaches only some groups
        getattr(idata, group).attrs.update(clean_attrs)
    return idata
