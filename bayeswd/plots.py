"""Plots: choosing lambda, and comparing posteriors (gaussian vs laplace vs MAP).

Every function returns matplotlib objects (an ``Axes`` or a ``Figure``), draws on the ``ax`` it is
given when there is one, and never calls ``plt.show()``. Penalties are in
:func:`bayeswd.map_fit`'s ``lam`` convention: ``lam = sigma^2/tau^2`` in
``||r||^2 + lam ||w||_2^2`` (gaussian) and ``lam1 = 2 sigma^2/tau`` in ``||r||^2 + lam1 ||w||_1``
(laplace).

Posteriors are given as a mapping ``name -> arviz.InferenceData`` or ``xarray.DataTree`` (or
anything with a ``to_inference_data()`` method, such as a :mod:`bayeswd` posterior result); the
legend follows the mapping's order. They must hold the weights as the posterior variable ``"coef"``
with dims ``(chain, draw, feature)``. MAP and weight-decay fits (:class:`bayeswd.MAPResult`, or
anything with a ``coef`` of length ``d``) are overlaid as reference markers.

The forest and density plots are drawn here with matplotlib from the draws (the HDI of
:func:`bayeswd._arviz.hdi`, ArviZ's), so that they are the same with ArviZ 0.x and 1.x, whose
plotting functions differ and cannot all draw on a given ``Axes``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from scipy import stats

from bayeswd._arviz import as_inference_data, get_group, has_group, hdi
from bayeswd._validation import describe
from bayeswd.selection import EvidenceResult, SelectionResult, SweepResult

__all__ = [
    "plot_densities",
    "plot_forest",
    "plot_lam_selection",
    "plot_path",
    "plot_shrinkage",
    "plot_sweep",
]

_MAP_MARKERS = ("D", "s", "^", "v", "P", "X", "*")
_LAM_TEXT = {"gaussian": r"$\lambda = \sigma^2/\tau^2$", "laplace": r"$\lambda_1 = 2\sigma^2/\tau$"}


# --------------------------------------------------------------------------------------------
# helpers


def _new_ax(ax: Axes | None, figsize: tuple[float, float] = (7.0, 4.5)) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=figsize, layout="constrained")
    elif not isinstance(ax, Axes):
        raise TypeError(f"`ax` must be a matplotlib Axes or None; got {describe(ax)}.")
    return ax


def _lam_label(prior: str) -> str:
    return f"penalty {_LAM_TEXT.get(prior, 'lam')} (log scale)"


def _posteriors(posteriors: Any) -> dict[str, Any]:
    """Validate a name -> posterior mapping; each one's posterior group (a Dataset with ``coef``)."""
    if not isinstance(posteriors, Mapping) or len(posteriors) == 0:
        raise TypeError(
            "`posteriors` must be a non-empty mapping of names to InferenceData, DataTree or posterior "
            f"results; got {describe(posteriors)}."
        )
    out: dict[str, Any] = {}
    for name, obj in posteriors.items():
        idata = as_inference_data(obj)
        if idata is None:
            raise TypeError(
                f"`posteriors[{name!r}]` must be an arviz.InferenceData or xarray.DataTree, or have a "
                f"to_inference_data() method; got {describe(obj)}."
            )
        post = get_group(idata, "posterior") if has_group(idata, "posterior") else None
        if post is None or "coef" not in post:
            raise ValueError(
                f"`posteriors[{name!r}]` must have a posterior variable 'coef'; got "
                + (f"{list(post.data_vars)}." if post is not None else "no posterior group.")
            )
        coef = post["coef"]
        if coef.ndim != 3 or coef.dims[:2] != ("chain", "draw"):
            raise ValueError(
                f"`posteriors[{name!r}]` must hold 'coef' with dims (chain, draw, feature); "
                f"got dims {coef.dims}."
            )
        out[str(name)] = post
    dims = {post["coef"].shape[-1] for post in out.values()}
    if len(dims) != 1:
        raise ValueError(f"`posteriors` must all have the same number of features; got {sorted(dims)}.")
    return out


def _feature_dim(post: Any) -> str:
    return str(post["coef"].dims[2])


def _feature_names(post: Any) -> list[str]:
    dim = _feature_dim(post)
    return [str(v) for v in post["coef"][dim].values]


def _coef_draws(post: Any, idx: list[int]) -> np.ndarray:
    """The draws of the chosen weights, shape (chain * draw, len(idx))."""
    coef = post["coef"].values
    return coef.reshape(-1, coef.shape[-1])[:, idx]


def _select_features(names: list[str], features: Any, max_features: int) -> list[int]:
    """Positions of the chosen features: names or integer positions, or the first ``max_features``."""
    if features is None:
        return list(range(min(int(max_features), len(names))))
    if isinstance(features, (str, int, np.integer)):
        features = [features]
    if not isinstance(features, Sequence) and not isinstance(features, np.ndarray):
        raise TypeError(f"`features` must be a list of names or positions; got {describe(features)}.")
    idx: list[int] = []
    for f in features:
        if isinstance(f, (int, np.integer)) and not isinstance(f, bool):
            if not 0 <= int(f) < len(names):
                raise ValueError(f"`features` positions must lie in [0, {len(names)}); got {int(f)}.")
            idx.append(int(f))
        elif isinstance(f, str):
            if f not in names:
                raise ValueError(f"`features` must name features of the posterior; got {f!r}.")
            idx.append(names.index(f))
        else:
            raise TypeError(f"`features` must hold names or integer positions; got {describe(f)}.")
    if not idx:
        raise ValueError("`features` must select at least one feature; got an empty list.")
    return idx


def _map_coefs(maps: Any, d: int) -> dict[str, np.ndarray]:
    if maps is None:
        return {}
    if not isinstance(maps, Mapping):
        raise TypeError(f"`maps` must be a mapping of names to MAPResult; got {describe(maps)}.")
    out = {}
    for name, fit in maps.items():
        coef = getattr(fit, "coef", None)
        if isinstance(coef, torch.Tensor):
            coef = coef.detach().cpu().numpy()
        if coef is None or np.ndim(coef) != 1 or np.shape(coef)[0] != d:
            raise ValueError(
                f"`maps[{name!r}]` must be a MAPResult (or have `coef`) with {d} weights; "
                f"got {describe(fit)}."
            )
        out[str(name)] = np.asarray(coef, dtype=np.float64)
    return out


def _model_colors(n: int) -> list[str]:
    return [f"C{i % 10}" for i in range(n)]


def _map_style(j: int, n_models: int) -> dict[str, Any]:
    return {
        "marker": _MAP_MARKERS[j % len(_MAP_MARKERS)],
        "color": f"C{(n_models + j) % 10}",
        "markeredgecolor": "black",
        "markersize": 7,
        "linestyle": "none",
        "zorder": 5,
    }


def _check_hdi(p: Any, name: str = "hdi_prob") -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float, np.floating)) or not 0.0 < float(p) < 1.0:
        raise ValueError(f"`{name}` must be a probability in (0, 1); got {describe(p)}.")
    return float(p)


class _Comparison(NamedTuple):
    """The validated inputs of a plot that compares posteriors (and MAP fits) weight by weight."""

    data: dict[str, Any]  # name -> posterior group (a Dataset), in the caller's order
    names: list[str]  # every feature name
    idx: list[int]  # positions of the features to draw
    map_coefs: dict[str, np.ndarray]  # name -> MAP weights
    colors: list[str]  # one per posterior
    dim: str  # the feature dimension of "coef"
    prob: float  # the interval probability


def _comparison(
    posteriors: Any, maps: Any, features: Any, max_features: int | None, prob: Any,
    prob_name: str = "hdi_prob",
) -> _Comparison:
    """Validate the arguments shared by the comparison plots (``max_features=None``: all)."""
    data = _posteriors(posteriors)
    prob = _check_hdi(prob, prob_name)
    first = next(iter(data.values()))
    names = _feature_names(first)
    idx = _select_features(names, features, len(names) if max_features is None else max_features)
    return _Comparison(data, names, idx, _map_coefs(maps, len(names)), _model_colors(len(data)),
                       _feature_dim(first), prob)


# --------------------------------------------------------------------------------------------
# choosing lambda


def _sweeps(sweeps: Any) -> dict[str, SweepResult]:
    if isinstance(sweeps, SweepResult):
        return {sweeps.prior: sweeps}
    if isinstance(sweeps, Mapping) and sweeps and all(isinstance(s, SweepResult) for s in sweeps.values()):
        return {str(k): v for k, v in sweeps.items()}
    raise TypeError(
        f"`sweeps` must be a SweepResult or a mapping of names to SweepResult; got {describe(sweeps)}."
    )


def plot_sweep(sweeps: SweepResult | Mapping[str, SweepResult], *, ax: Axes | None = None) -> Axes:
    """Train and test mean squared error against the penalty, on log-log axes.

    Parameters
    ----------
    sweeps : SweepResult or mapping of str to SweepResult
        From :func:`bayeswd.lam_sweep`; several (e.g. ``{"gaussian": ..., "laplace": ...}``) share
        the axes, one colour each, in the order given. Errors are ``mean((y - Xw - b)^2)``.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        Solid lines: training error; dashed: test error (when the sweep has one), with a marker at
        the smallest test error.
    """
    items = _sweeps(sweeps)
    ax = _new_ax(ax)
    priors = {s.prior for s in items.values()}
    for i, (name, s) in enumerate(items.items()):
        color = f"C{i % 10}"
        ax.plot(s.lams, s.train_mse, color=color, label=f"{name}: train")
        if s.test_mse is not None:
            ax.plot(s.lams, s.test_mse, color=color, linestyle="--", label=f"{name}: test")
            j = int(np.argmin(s.test_mse))
            ax.plot(
                s.lams[j], s.test_mse[j], marker="o", color=color, linestyle="none",
                label=f"{name}: min test at {s.lams[j]:.3g}",
            )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(
        _lam_label(priors.pop()) if len(priors) == 1
        else r"penalty: gaussian $\lambda = \sigma^2/\tau^2$, laplace $\lambda_1 = 2\sigma^2/\tau$"
        " (log scale)"
    )
    ax.set_ylabel("mean squared error")
    ax.set_title("Train and test error against the penalty")
    ax.legend(fontsize="small")
    ax.grid(True, which="major", alpha=0.3)
    return ax


def plot_path(
    sweep: SweepResult, *, features: Any = None, max_features: int = 200, ax: Axes | None = None
) -> Axes:
    """The regularisation path: each weight against the penalty, on a log axis.

    Parameters
    ----------
    sweep : SweepResult
        From :func:`bayeswd.lam_sweep`.
    features : list of str or int, optional
        Weights to draw (names or positions); default the first ``max_features``. With 10 or fewer
        the lines are labelled in a legend.
    max_features : int, default 200
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        One line per weight, plus a dashed zero line.
    """
    if not isinstance(sweep, SweepResult):
        raise TypeError(f"`sweep` must be a SweepResult; got {describe(sweep)}.")
    names = list(sweep.feature_names) or [f"x{j}" for j in range(sweep.coef.shape[1])]
    idx = _select_features(names, features, max_features)
    ax = _new_ax(ax)
    labelled = len(idx) <= 10
    alpha = 1.0 if labelled else max(0.25, min(1.0, 20.0 / len(idx)))
    for j in idx:
        ax.plot(sweep.lams, sweep.coef[:, j], linewidth=1.0, alpha=alpha,
                label=names[j] if labelled else None)
    ax.axhline(0.0, color="black", linewidth=0.8, linestyle="--")
    ax.set_xscale("log")
    ax.set_xlabel(_lam_label(sweep.prior))
    ax.set_ylabel("weight $w_j$ (MAP)")
    shown = "" if len(idx) == len(names) else f", {len(idx)} of {len(names)} weights"
    ax.set_title(f"Regularisation path ({sweep.prior} prior{shown})")
    if labelled:
        ax.legend(fontsize="small", ncols=2)
    ax.grid(True, which="major", alpha=0.3)
    return ax


def plot_lam_selection(
    *,
    validation: SelectionResult | None = None,
    cv: SelectionResult | None = None,
    evidence: EvidenceResult | None = None,
    lam_draws: Any = None,
    oracle: float | None = None,
    bins: int = 40,
    ax: Axes | None = None,
) -> Axes:
    """Every way of choosing lambda on one log-lambda axis.

    Validation and cross-validation curves (mean squared error, left axis; the CV curve with a band
    of one standard error), vertical lines at the validated minimum, the CV minimum (and its
    one-standard-error choice), the evidence maximum and an optional oracle value, and the
    posterior of ``lam`` from full Bayes as a histogram on a twin (right) axis. It answers "is the
    validated lambda really optimal, and does it matter?": where the curve is flat around its
    minimum, the choices differ without changing the error.

    Parameters
    ----------
    validation, cv : SelectionResult, optional
        From :func:`bayeswd.validation_curve` and :func:`bayeswd.cv_curve`.
    evidence : EvidenceResult, optional
        From :func:`bayeswd.maximize_evidence`.
    lam_draws : array_like, optional
        Posterior draws of ``lam`` (e.g. :func:`bayeswd.lam_from_draws` of ``samples["tau"]``); drawn
        as a density of ``log10 lam`` (histogram with log-spaced bins).
    oracle : float, optional
        A reference penalty, e.g. the true ``sigma^2/tau^2`` of simulated data.
    bins : int, default 40
        Histogram bins for ``lam_draws``.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        The left (error) axes; the twin axes holding the histogram is ``ax.bayeswd_twin`` (``None``
        without draws).

    Notes
    -----
    All penalties are in the sum-of-squares convention ``||r||^2 + lam ||w||^2``,
    ``lam = sigma^2/tau^2``, which does not depend on the number of rows: CV folds, the full data
    and the posterior of ``tau`` are on one scale.
    """
    if validation is None and cv is None and evidence is None and lam_draws is None:
        raise ValueError(
            "give at least one of `validation`, `cv`, `evidence` or `lam_draws`; got none."
        )
    for name, obj, cls in (("validation", validation, SelectionResult), ("cv", cv, SelectionResult),
                           ("evidence", evidence, EvidenceResult)):
        if obj is not None and not isinstance(obj, cls):
            raise TypeError(f"`{name}` must be a {cls.__name__} or None; got {describe(obj)}.")
    draws = None
    if lam_draws is not None:
        if isinstance(lam_draws, torch.Tensor):
            lam_draws = lam_draws.detach().cpu().numpy()
        draws = np.asarray(lam_draws, dtype=np.float64).ravel()
        if draws.size < 2 or not np.all(np.isfinite(draws)) or np.any(draws <= 0):
            raise ValueError(
                f"`lam_draws` must hold at least 2 positive finite draws; got {describe(lam_draws)}."
            )
    if oracle is not None and (not np.isfinite(oracle) or oracle <= 0):
        raise ValueError(f"`oracle` must be a positive finite number; got {oracle!r}.")
    ax = _new_ax(ax, (8.5, 5.6))
    handles: list[Any] = []
    if validation is not None:
        (h,) = ax.plot(validation.lams, validation.mse, color="C0", label="validation MSE")
        handles.append(h)
        handles.append(ax.axvline(validation.lam_best, color="C0", linestyle=":", linewidth=1.5,
                                  label=f"validation min: {validation.lam_best:.3g}"))
    if cv is not None:
        (h,) = ax.plot(cv.lams, cv.mse, color="C1", label=f"{cv.fold_mse.shape[0]}-fold CV MSE ± 1 se"
                       if cv.fold_mse is not None else "CV MSE ± 1 se")
        ax.fill_between(cv.lams, cv.mse - cv.se, cv.mse + cv.se, color="C1", alpha=0.2, linewidth=0)
        handles.append(h)
        handles.append(ax.axvline(cv.lam_best, color="C1", linestyle="--", linewidth=1.5,
                                  label=f"CV min: {cv.lam_best:.3g}"))
        if cv.lam_1se != cv.lam_best:
            handles.append(ax.axvline(cv.lam_1se, color="C1", linestyle="-.", linewidth=1.0,
                                      label=f"CV 1-se rule: {cv.lam_1se:.3g}"))
    if evidence is not None:
        handles.append(ax.axvline(evidence.lam, color="C2", linestyle="-", linewidth=1.5,
                                  label=f"evidence max: {evidence.lam:.3g}"))
    if oracle is not None:
        handles.append(ax.axvline(oracle, color="black", linestyle="--", linewidth=1.0,
                                  label=f"oracle: {oracle:.3g}"))
    ax.set_xscale("log")
    if validation is not None or cv is not None:
        ax.set_yscale("log")
        ax.set_ylabel("held-out mean squared error")
    else:
        ax.set_yticks([])
    priors = {r.prior for r in (validation, cv) if r is not None}
    ax.set_xlabel(_lam_label(priors.pop() if len(priors) == 1 else "gaussian"))
    twin = None
    if draws is not None:
        twin = ax.twinx()
        logd = np.log10(draws)
        lo, hi = logd.min(), logd.max()
        if hi - lo < 1e-12:
            lo, hi = lo - 0.5, hi + 0.5
        edges = np.linspace(lo, hi, int(bins) + 1)
        dens, _ = np.histogram(logd, bins=edges, density=True)
        twin.stairs(dens, 10.0**edges, fill=True, color="C3", alpha=0.3)
        mid = float(np.median(draws))
        handles.append(Line2D([], [], color="C3", alpha=0.5, linewidth=8,
                              label=f"posterior of $\\lambda$ (median {mid:.3g})"))
        twin.set_ylabel(r"posterior density of $\log_{10}\lambda$", color="C3")
        twin.tick_params(axis="y", colors="C3")
        twin.set_ylim(0, dens.max() * 1.15)
        twin.set_xscale("log")
        ax.set_zorder(twin.get_zorder() + 1)  # curves and lines over the histogram
        ax.patch.set_visible(False)
    ax.set_title("Choosing lambda: validation, cross-validation, evidence and full Bayes")
    ax.legend(handles=handles, fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.13),
              ncols=3, frameon=False)
    ax.grid(True, which="major", alpha=0.3)
    ax.bayeswd_twin = twin  # type: ignore[attr-defined]
    return ax


# --------------------------------------------------------------------------------------------
# comparing posteriors


def plot_forest(
    posteriors: Mapping[str, Any],
    *,
    maps: Mapping[str, Any] | None = None,
    features: Any = None,
    max_features: int = 10,
    hdi_prob: float = 0.94,
    ax: Axes | None = None,
) -> Axes:
    """Forest plot of the weights of several posteriors, with MAP markers.

    Parameters
    ----------
    posteriors : mapping of str to InferenceData, DataTree or posterior result
        Name -> posterior with a ``"coef"`` variable of dims ``(chain, draw, feature)``; drawn
        top to bottom within each feature and listed in the legend in the order given.
    maps : mapping of str to MAPResult, optional
        Point estimates (MAP, weight-decay training, ...) drawn as markers at the centre of each
        feature's group.
    features : list of str or int, optional
        Features to show (names or positions); default the first ``max_features``, the first at
        the top.
    max_features : int, default 10
    hdi_prob : float, default 0.94
        Probability of the thin line (highest density interval); the thick line is the
        interquartile range and the dot the median (ArviZ's forest plot).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        One tick per feature, ``coef[<feature>]``, at the centre of its group.
    """
    data, names, idx, map_coefs, colors, _, hdi_prob = _comparison(
        posteriors, maps, features, max_features, hdi_prob)
    ax = _new_ax(ax, (7.0, 1.2 + 0.35 * len(idx) * (1 + len(data))))
    n_models = len(data)
    step = n_models + 1.0  # a row per model and a blank row between features
    centres = (len(idx) - 1 - np.arange(len(idx))) * step  # the first feature at the top
    for j, ((name, post), color) in enumerate(zip(data.items(), colors, strict=True)):
        draws = _coef_draws(post, idx)
        ys = centres + (n_models - 1) / 2.0 - j
        lo, hi = hdi(draws, hdi_prob)
        q25, med, q75 = np.quantile(draws, [0.25, 0.5, 0.75], axis=0)
        ax.hlines(ys, lo, hi, color=color, linewidth=1.5)
        ax.hlines(ys, q25, q75, color=color, linewidth=4.5)
        ax.plot(med, ys, marker="o", color=color, markeredgecolor="white", markersize=6,
                linestyle="none", zorder=4, label=f"_median:{name}")  # "_": not in legends
    ax.set_yticks(centres[::-1], labels=[f"coef[{names[k]}]" for k in idx[::-1]])
    ax.set_ylim(-step / 2.0, centres[0] + step / 2.0)
    handles: list[Any] = [
        Line2D([], [], color=c, marker="o", label=name) for name, c in zip(data, colors, strict=True)
    ]
    for j, (name, coef) in enumerate(map_coefs.items()):
        (h,) = ax.plot(coef[idx], centres, label=name, **_map_style(j, n_models))
        handles.append(h)
    ax.axvline(0.0, color="grey", linewidth=0.8, linestyle=":")
    ax.grid(True, axis="x", alpha=0.3)
    ax.set_xlabel(f"weight value ({hdi_prob:.0%} HDI, quartiles, median)")
    shown = "" if len(idx) == len(names) else f" ({len(idx)} of {len(names)} features)"
    ax.set_title(f"Posterior of the weights{shown}")
    ax.legend(handles=handles, fontsize="small", loc="best", framealpha=0.9)
    return ax


def _density(panel: Axes, x: np.ndarray, prob: float, color: str) -> None:
    """A gaussian kernel density estimate (Scott's bandwidth) of ``x``, drawn over its HDI."""
    mean = float(np.mean(x))
    if not np.ptp(x) > 0:  # constant draws: a point mass
        panel.axvline(mean, color=color, linewidth=1.5, label="_density")
        return
    lo, hi = hdi(x, prob)
    grid = np.linspace(lo, hi, 200)
    dens = stats.gaussian_kde(x)(grid)
    panel.plot(grid, dens, color=color, linewidth=1.5, label="_density")
    panel.fill_between(grid, dens, color=color, alpha=0.1, linewidth=0)
    panel.plot([mean], [0.0], marker="o", color=color, markersize=5, linestyle="none",
               clip_on=False, label="_mean")


def plot_densities(
    posteriors: Mapping[str, Any],
    *,
    maps: Mapping[str, Any] | None = None,
    features: Any = None,
    max_features: int = 4,
    hdi_prob: float = 0.94,
) -> Figure:
    """Marginal posterior densities of chosen weights, with MAP lines.

    Parameters
    ----------
    posteriors : mapping of str to InferenceData, DataTree or posterior result
        Overlaid in each panel, one colour each, legend in the order given.
    maps : mapping of str to MAPResult, optional
        Drawn as vertical lines (one style each) in every panel.
    features : list of str or int, optional
        Weights to show (names or positions); default the first ``max_features``.
    max_features : int, default 4
    hdi_prob : float, default 0.94
        Each density (a gaussian kernel density estimate with Scott's bandwidth) is drawn over
        its highest density interval of this probability, with a dot at the mean.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per weight, titled ``coef[<feature>]``.
    """
    data, names, idx, map_coefs, colors, _, hdi_prob = _comparison(
        posteriors, maps, features, max_features, hdi_prob)
    draws = {name: _coef_draws(post, idx) for name, post in data.items()}
    ncols = min(len(idx), 3)
    nrows = -(-len(idx) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.2 * nrows + 0.6), squeeze=False,
                             layout="constrained")
    for extra in axes.flat[len(idx):]:
        extra.set_visible(False)
    linestyles = ("--", ":", "-.", (0, (5, 1)), (0, (1, 3)))
    for col, (panel, k) in enumerate(zip(axes.flat, idx, strict=False)):  # spare panels stay empty
        for name, color in zip(data, colors, strict=True):
            _density(panel, draws[name][:, col], hdi_prob, color)
        for j, (name, coef) in enumerate(map_coefs.items()):
            panel.axvline(coef[k], color=f"C{(len(data) + j) % 10}",
                          linestyle=linestyles[j % len(linestyles)], linewidth=1.5,
                          label=f"_map:{name}")  # "_": kept out of automatic legends
        panel.set_ylim(bottom=0.0)
        panel.set_yticks([])
        panel.set_title(f"coef[{names[k]}]")
        panel.set_xlabel("weight value")
    handles: list[Any] = [Line2D([], [], color=c, label=n) for n, c in zip(data, colors, strict=True)]
    handles += [Line2D([], [], color=f"C{(len(data) + j) % 10}", linestyle=linestyles[j % len(linestyles)],
                       label=n) for j, n in enumerate(map_coefs)]
    fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 5), fontsize="small")
    fig.suptitle(f"Posterior densities of chosen weights (drawn over the {hdi_prob:.0%} HDI)")
    return fig


def plot_shrinkage(
    posteriors: Mapping[str, Any],
    reference: Any,
    *,
    maps: Mapping[str, Any] | None = None,
    reference_label: str = "true weight",
    features: Any = None,
    interval_prob: float = 0.9,
    ax: Axes | None = None,
) -> Axes:
    """Shrinkage plot: posterior means (with central intervals) against reference weights.

    Points on the diagonal ``y = x`` are not shrunk; points pulled towards 0 are.

    Parameters
    ----------
    posteriors : mapping of str to InferenceData, DataTree or posterior result
        One colour each, legend in the order given.
    reference : array_like, shape (d,)
        The x coordinate: true weights (simulations) or least-squares / minimum-norm weights.
    maps : mapping of str to MAPResult, optional
        Point estimates drawn as markers against the same reference.
    reference_label : str, default "true weight"
        Label of the x axis.
    features : list of str or int, optional
        Weights to show; default all.
    interval_prob : float, default 0.9
        Probability of the equal-tailed interval drawn as an error bar.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    data, names, idx, map_coefs, colors, _, interval_prob = _comparison(
        posteriors, maps, features, None, interval_prob, "interval_prob")
    if isinstance(reference, torch.Tensor):
        reference = reference.detach().cpu().numpy()
    ref = np.asarray(reference, dtype=np.float64)
    if ref.shape != (len(names),) or not np.all(np.isfinite(ref)):
        raise ValueError(
            f"`reference` must be {len(names)} finite weights (one per feature); got {describe(reference)}."
        )
    if not isinstance(reference_label, str):
        raise TypeError(f"`reference_label` must be a string; got {describe(reference_label)}.")
    ax = _new_ax(ax, (6.0, 5.5))
    q = [(1 - interval_prob) / 2, (1 + interval_prob) / 2]
    span = np.ptp(ref[idx]) if len(idx) > 1 else 0.0
    if span <= 0:  # equal reference weights: dodge relative to their size, not by an absolute 0.01
        span = float(np.abs(ref[idx]).max()) or 1.0
    offsets = (np.arange(len(data)) - (len(data) - 1) / 2) * 0.01 * span
    for (name, post), color, off in zip(data.items(), colors, offsets, strict=True):
        draws = _coef_draws(post, idx)
        mean = draws.mean(axis=0)
        lo, hi = np.quantile(draws, q, axis=0)
        ax.errorbar(ref[idx] + off, mean, yerr=[mean - lo, hi - mean], fmt="o", color=color,
                    markersize=3.5, elinewidth=0.8, alpha=0.8,
                    label=f"{name}: mean, {interval_prob:.0%} interval")
    for j, (name, coef) in enumerate(map_coefs.items()):
        style = _map_style(j, len(data)) | {"markersize": 6, "markerfacecolor": "none",
                                            "markeredgecolor": f"C{(len(data) + j) % 10}"}
        ax.plot(ref[idx], coef[idx], label=name, **style)
    lims = [min(ax.get_xlim()[0], ax.get_ylim()[0]), max(ax.get_xlim()[1], ax.get_ylim()[1])]
    ax.plot(lims, lims, color="black", linewidth=0.8, linestyle="--", label="no shrinkage (y = x)")
    ax.axhline(0.0, color="grey", linewidth=0.6, linestyle=":")
    ax.set_xlabel(reference_label)
    ax.set_ylabel("estimated weight")
    ax.set_title("Shrinkage: estimates against " + reference_label)
    ax.legend(fontsize="small", loc="best")
    return ax
