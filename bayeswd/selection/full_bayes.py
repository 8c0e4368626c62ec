"""Full Bayes over the penalty, and comparing posteriors by predictive accuracy."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from bayeswd import _arviz
from bayeswd._validation import check_choice, check_positive_array, describe
from bayeswd.conventions import PRIORS

__all__ = ["compare_priors", "lam_from_draws", "to_idata"]


def lam_from_draws(tau: Any, sigma: Any, *, prior: str = "gaussian") -> np.ndarray:
    r"""Posterior draws of the penalty from draws of ``tau`` (and ``sigma``).

    Full Bayes puts a prior on ``tau`` (and ``sigma``) instead of choosing them; each posterior draw
    then implies a penalty of :func:`bayeswd.map_fit`'s objective:
    ``lam = sigma^2 / tau^2`` (gaussian, in ``||r||^2 + lam ||w||_2^2``) or
    ``lam1 = 2 sigma^2 / tau`` (laplace, in ``||r||^2 + lam1 ||w||_1``).

    Parameters
    ----------
    tau : array_like
        Draws of the prior scale, any shape, e.g. ``posterior.samples["tau"]`` with shape
        ``(chain, draw)`` (numpy array or torch tensor).
    sigma : float or array_like
        The fixed noise sd, or draws of it with the same shape as ``tau`` (paired draw by draw).
    prior : {"gaussian", "laplace"}, default "gaussian"

    Returns
    -------
    np.ndarray
        Draws of ``lam`` with the broadcast shape of ``tau`` and ``sigma``.

    Examples
    --------
    >>> lam_from_draws([1.0, 2.0], 1.0)
    array([1.  , 0.25])
    """
    prior = check_choice(prior, "prior", PRIORS)
    t = check_positive_array(tau, "tau")
    s = check_positive_array(sigma, "sigma")
    if s.ndim and s.shape != t.shape:
        raise ValueError(
            f"`sigma` must be a number or have the shape of `tau` {t.shape}; got shape {s.shape}."
        )
    return s**2 / t**2 if prior == "gaussian" else 2.0 * s**2 / t



def to_idata(obj: Any, name: str) -> Any:
    """``obj`` as the installed ArviZ's container: itself, or its ``to_inference_data()``.

    ``arviz.InferenceData`` or ``xarray.DataTree`` (ArviZ 0.x converts a DataTree).
    """
    idata = _arviz.as_inference_data(obj)
    if idata is None:
        raise TypeError(
            f"`{name}` must be an arviz.InferenceData or xarray.DataTree, or have a "
            f"to_inference_data() method; got {describe(obj)}."
        )
    return idata


def compare_priors(
    posteriors: Mapping[str, Any], *, ic: str = "loo", scale: str = "log", var_name: str = "obs"
) -> Any:
    """Compare posteriors by expected log pointwise predictive density (``arviz.compare``).

    The table is the same on ArviZ 0.x and 1.x (ArviZ 0.x's columns and conventions).

    Parameters
    ----------
    posteriors : mapping of str to InferenceData, DataTree or posterior result
        Name -> an ``arviz.InferenceData`` or ``xarray.DataTree`` with a ``log_likelihood`` group
        holding the pointwise ``var_name`` (``(chain, draw, n)``), or anything with a
        ``to_inference_data()`` method. At least two entries.
    ic : {"loo", "waic"}, default "loo"
        Pareto-smoothed importance-sampling leave-one-out, or WAIC (ArviZ 0.x only: ArviZ 1.x
        has no WAIC, and ``ic="waic"`` is a ``ValueError`` there).
    scale : {"log", "negative_log", "deviance"}, default "log"
        ArviZ 0.x's scale: ``"log"`` means higher ``elpd`` is better; ``"negative_log"`` and
        ``"deviance"`` multiply it by -1 and -2 (and the standard errors by 1 and 2).
    var_name : str, default "obs"
        The log-likelihood variable.

    Returns
    -------
    pandas.DataFrame
        One row per model, best first: ``rank``, ``elpd_loo``, ``p_loo``, ``elpd_diff`` (the best
        model's elpd minus this one's, in ``scale`` units: never negative), ``weight`` (stacking),
        ``se`` (``sqrt(n)`` times the sd of the pointwise elpd), ``dse`` (the standard error of
        ``elpd_diff``), ``warning`` (some Pareto ``k`` is high), ``scale``
        (``elpd_waic``, ``p_waic`` for WAIC).

    Warns
    -----
    UserWarning
        From ArviZ, when Pareto ``k`` diagnostics are high (common when ``d > n``: the LOO estimate
        is then unreliable, as the ``warning`` column says).
    """
    if not isinstance(posteriors, Mapping) or len(posteriors) < 2:
        raise ValueError(
            "`posteriors` must be a mapping of at least two names to posteriors; "
            f"got {describe(posteriors)}."
        )
    ic = check_choice(ic, "ic", ("loo", "waic"))
    scale = check_choice(scale, "scale", ("log", "negative_log", "deviance"))
    data = {}
    for name, obj in posteriors.items():
        idata = to_idata(obj, f"posteriors[{name!r}]")
        if (not _arviz.has_group(idata, "log_likelihood")
                or var_name not in _arviz.get_group(idata, "log_likelihood")):
            raise ValueError(
                f"`posteriors[{name!r}]` must have a log_likelihood group with variable {var_name!r}; "
                f"got groups {_arviz.group_names(idata)}."
            )
        data[str(name)] = idata
    return _arviz.compare(data, ic=ic, scale=scale, var_name=var_name)

