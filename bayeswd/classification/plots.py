"""Figures of a classifier: choosing ``lam``, and the calibration of its predicted probabilities.

:func:`plot_classifier_selection` is like :func:`bayeswd.plot_lam_selection` for regression, on the
classifier's scale ``lam = 1/C`` (``U = sum CE + lam R0(W)``; ``lam = 1/tau^2`` for the gaussian
prior, ``1/tau`` for the laplace prior). :func:`plot_calibration` is the reliability diagram of
predicted probabilities (posterior predictive or MAP), with the expected calibration error of
:func:`calibration_curve`. Both return matplotlib objects and never call ``plt.show()``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from matplotlib.axes import Axes
from scipy import stats

from bayeswd._validation import describe
from bayeswd.classification.selection import ClassifierCVResult, ClassifierEvidenceResult

__all__ = ["CalibrationCurve", "calibration_curve", "plot_calibration", "plot_classifier_selection"]

_SCORE_LABEL = {"log_loss": "held-out log loss (nats per row)", "accuracy": "held-out accuracy"}


def plot_classifier_selection(
    cv_result: ClassifierCVResult | None = None,
    evidence_result: ClassifierEvidenceResult | None = None,
    ax: Axes | None = None,
) -> Axes:
    r"""Choosing ``lam = 1/C`` for a classifier: the CV curve and the evidence on one log-``lam`` axis.

    The cross-validated score (mean over folds, with a band of one standard error) on the left
    axis, vertical lines at its best ``lam`` and its one-standard-error choice; the Laplace
    evidence ``log p(y | tau)`` on a twin (right) axis with a vertical line at its maximiser. With
    the evidence alone it is drawn on ``ax`` itself.

    Parameters
    ----------
    cv_result : ClassifierCVResult, optional
        From :func:`bayeswd.classification.selection.classifier_cv`.
    evidence_result : ClassifierEvidenceResult, optional
        From :func:`bayeswd.classification.selection.classifier_evidence`.
    ax : matplotlib Axes, optional
        Drawn on if given; otherwise a new figure.

    Returns
    -------
    matplotlib.axes.Axes
        The axes of the CV curve (or of the evidence when there is no CV result). The twin axes of
        the evidence is ``ax.bayeswd_twin`` (``None`` when not drawn).

    Raises
    ------
    ValueError
        When neither result is given.
    TypeError
        For a result of the wrong type or an ``ax`` that is not an Axes.

    Notes
    -----
    The laplace prior's ``lam = 1/tau`` and the gaussian prior's ``lam = 1/tau^2`` are both
    scikit-learn's ``1/C``: a laplace CV curve and the (gaussian) evidence share the axis as
    ``1/C``, not as one prior scale.
    """
    if cv_result is None and evidence_result is None:
        raise ValueError("give at least one of `cv_result` or `evidence_result`; got neither.")
    if cv_result is not None and not isinstance(cv_result, ClassifierCVResult):
        raise TypeError(f"`cv_result` must be a ClassifierCVResult or None; got {describe(cv_result)}.")
    if evidence_result is not None and not isinstance(evidence_result, ClassifierEvidenceResult):
        raise TypeError(
            f"`evidence_result` must be a ClassifierEvidenceResult or None; got {describe(evidence_result)}."
        )
    if ax is None:
        _, ax = plt.subplots(figsize=(8.0, 5.2), layout="constrained")
    elif not isinstance(ax, Axes):
        raise TypeError(f"`ax` must be a matplotlib Axes or None; got {describe(ax)}.")
    handles = []
    twin = None
    if cv_result is not None:
        r = cv_result
        (h,) = ax.plot(r.lams, r.score, color="C0", marker="o", markersize=3,
                       label=f"{r.n_folds}-fold CV {r.scoring.replace('_', ' ')} ± 1 se")
        handles.append(h)
        if np.all(np.isfinite(r.se)):
            ax.fill_between(r.lams, r.score - r.se, r.score + r.se, color="C0", alpha=0.2, linewidth=0)
        handles.append(ax.axvline(r.lam_best, color="C0", linestyle="--", linewidth=1.5,
                                  label=f"CV best: lam={r.lam_best:.3g} (C={r.C_best:.3g})"))
        if r.lam_1se != r.lam_best:
            handles.append(ax.axvline(r.lam_1se, color="C0", linestyle="-.", linewidth=1.0,
                                      label=f"CV 1-se rule: lam={r.lam_1se:.3g}"))
        ax.set_ylabel(_SCORE_LABEL[r.scoring])
    if evidence_result is not None:
        e = evidence_result
        target = ax
        if cv_result is not None:
            twin = target = ax.twinx()
            twin.tick_params(axis="y", colors="C2")
        (h,) = target.plot(e.lams, e.log_evidence_curve, color="C2", label="log evidence (Laplace)")
        handles.append(h)
        handles.append(target.axvline(e.lam, color="C2", linestyle="-", linewidth=1.5,
                                      label=f"evidence max: lam={e.lam:.3g} (C={e.C:.3g})"))
        target.set_ylabel(r"log evidence $\log p(y\mid\tau)$ (Laplace)", **({"color": "C2"} if twin else {}))
        target.set_xscale("log")
    ax.set_xscale("log")
    ax.set_xlabel(r"penalty $\lambda = 1/C$ (log scale)")
    ax.set_title("Choosing lambda for a classifier: cross-validation and evidence")
    ax.legend(handles=handles, fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.13),
              ncols=2, frameon=False)
    ax.grid(True, which="major", alpha=0.3)
    ax.bayeswd_twin = twin  # type: ignore[attr-defined]
    return ax


# --------------------------------------------------------------------------------------------
# calibration (reliability diagram)


@dataclass(frozen=True)
class CalibrationCurve:
    """The reliability curve of predicted probabilities in equal-width bins, and its ECE.

    Binary (two classes): each row's predicted probability of class 1, ``p_i = P(y_i = 1)``,
    against the observed frequency of class 1 in its bin. More classes: the top-label confidence
    ``p_i = max_k P(y_i = k)`` against the accuracy of the top label in its bin (ties go to the
    first class, as ``argmax``).

    Attributes
    ----------
    kind : {"binary", "top_label"}
    edges : numpy.ndarray, shape (n_bins + 1,)
        ``linspace(0, 1, n_bins + 1)``. Row ``i`` is in bin ``b = min(floor(n_bins p_i), n_bins - 1)``:
        ``[b/n_bins, (b+1)/n_bins)``, the last bin closed.
    counts : numpy.ndarray of int, shape (n_bins,)
        Rows in each bin.
    confidence : numpy.ndarray, shape (n_bins,)
        Mean ``p_i`` of each bin (NaN where empty).
    frequency : numpy.ndarray, shape (n_bins,)
        Observed frequency of class 1 (binary) or accuracy of the top label (top_label) of each bin
        (NaN where empty).
    ece : float
        Expected calibration error ``sum_b (counts_b / n) |frequency_b - confidence_b|``.
    n : int
        Number of rows.
    """

    kind: str
    edges: np.ndarray
    counts: np.ndarray
    confidence: np.ndarray
    frequency: np.ndarray
    ece: float
    n: int

    @property
    def n_bins(self) -> int:
        """Number of bins."""
        return int(self.counts.size)

    def interval(self, prob: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
        """Wilson score interval of each bin's observed frequency, ``(lower, upper)`` (NaN where empty).

        How far the frequency of a bin with few rows may stray from its mean prediction by chance
        alone: a point off the diagonal whose interval crosses it is no evidence of miscalibration.
        """
        prob = _check_prob(prob)
        z = float(stats.norm.ppf(0.5 + prob / 2.0))
        with np.errstate(invalid="ignore", divide="ignore"):
            n = self.counts.astype(np.float64)
            f = self.frequency
            centre = (f + z**2 / (2 * n)) / (1 + z**2 / n)
            half = z / (1 + z**2 / n) * np.sqrt(f * (1 - f) / n + z**2 / (4 * n**2))
        return centre - half, centre + half


def _check_prob(prob: Any, name: str = "interval_prob") -> float:
    number = isinstance(prob, (int, float, np.floating)) and not isinstance(prob, (bool, np.bool_))
    if not number or not 0 < prob < 1:
        raise ValueError(f"`{name}` must be a probability in (0, 1); got {describe(prob)}.")
    return float(prob)


def _check_n_bins(n_bins: Any) -> int:
    if isinstance(n_bins, (bool, np.bool_)) or not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise ValueError(f"`n_bins` must be an integer >= 1; got {describe(n_bins)}.")
    return int(n_bins)


def _as_probs(probs: Any, name: str) -> np.ndarray:
    """``probs`` as a float (m, K) array of rows on the simplex; a 1-D array is P(class 1) of two classes."""
    if isinstance(probs, torch.Tensor):
        probs = probs.detach().cpu().numpy()
    elif isinstance(probs, (pd.DataFrame, pd.Series)):
        probs = probs.to_numpy()
    if isinstance(probs, (str, bytes)) or not isinstance(probs, (np.ndarray, list, tuple)):
        raise TypeError(
            f"`{name}` must be an array of class probabilities (m,) or (m, K), or a fitted classifier "
            f"with predict_proba and classes_; got {describe(probs)}."
        )
    try:
        p = np.asarray(probs, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"`{name}` must hold numbers (probabilities); got {describe(probs)}.") from None
    if p.ndim == 1:
        p = np.stack([1.0 - p, p], axis=1)
    if p.ndim != 2 or p.shape[0] == 0 or p.shape[1] < 2:
        raise ValueError(
            f"`{name}` must have shape (m,) (P(class 1) of two classes) or (m, K) with m >= 1 and K >= 2; "
            f"got shape {np.shape(probs)}."
        )
    if not np.all(np.isfinite(p)):
        raise ValueError(f"`{name}` must be finite; got {int((~np.isfinite(p)).sum())} NaN or inf entries.")
    if p.min() < -1e-9 or p.max() > 1.0 + 1e-9:
        raise ValueError(
            f"`{name}` must hold probabilities in [0, 1]; got values in [{p.min():.4g}, {p.max():.4g}]."
        )
    worst = float(np.abs(p.sum(axis=1) - 1.0).max())
    if worst > 1e-6:
        raise ValueError(
            f"the rows of `{name}` must sum to 1 (a probability per class); the worst is off by {worst:.3g}."
        )
    return np.clip(p, 0.0, 1.0)


def _as_indices(y: Any, n_classes: int, m: int) -> np.ndarray:
    """``y`` as class indices ``0..K-1`` (the columns of an array of probabilities)."""
    if isinstance(y, torch.Tensor):
        y = y.detach().cpu().numpy()
    arr = np.asarray(y.to_numpy() if isinstance(y, (pd.Series, pd.DataFrame)) else y)
    if arr.ndim != 1 or arr.shape[0] != m:
        raise ValueError(
            f"`y` must be 1-D with one entry per row of the probabilities ({m}); got shape {arr.shape}."
        )
    if arr.dtype.kind == "b":
        arr = arr.astype(np.int64)
    if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
        arr = arr.astype(np.int64)
    if arr.dtype.kind not in "iu":
        raise TypeError(
            "`y` must hold class indices 0..K-1 (the columns of the probabilities) when they are given "
            f"as an array; got dtype {arr.dtype}. Pass the fitted classifier (with X) to use its labels."
        )
    if arr.min() < 0 or arr.max() >= n_classes:
        raise ValueError(
            f"`y` must hold class indices in [0, {n_classes}); got values in [{arr.min()}, {arr.max()}]."
        )
    return arr.astype(np.int64)


def _label_indices(y: Any, classes: np.ndarray, m: int) -> np.ndarray:
    """The index in ``classes`` of each label of ``y``."""
    if isinstance(y, torch.Tensor):
        y = y.detach().cpu().numpy()
    arr = np.asarray(y.to_numpy() if isinstance(y, (pd.Series, pd.DataFrame)) else y)
    if arr.ndim != 1 or arr.shape[0] != m:
        raise ValueError(f"`y` must be 1-D with one label per row of `X` ({m}); got shape {arr.shape}.")
    lookup = {c: k for k, c in enumerate(classes.tolist())}
    try:
        idx = np.array([lookup.get(v, -1) for v in arr.tolist()], dtype=np.int64)
    except TypeError:  # unhashable labels
        raise TypeError(
            f"`y` must hold labels such as the classifier's classes_; got {describe(y)}."
        ) from None
    if (idx < 0).any():
        unknown = sorted({str(v) for v, k in zip(arr.tolist(), idx, strict=True) if k < 0})[:5]
        raise ValueError(
            f"`y` holds labels the classifier does not know ({unknown}); its classes_ are {classes.tolist()}."
        )
    return idx


def _resolve(obj: Any, X: Any, y: Any, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``(probs (m, K), class indices (m,), classes_ or None)`` of a classifier with ``X``, or of an array."""
    if y is None:
        raise ValueError("`y` (the observed classes) is required; got None.")
    if callable(getattr(obj, "predict_proba", None)) and hasattr(obj, "classes_"):
        if X is None:
            raise ValueError(f"`X` is required with a fitted classifier ({name}); got None.")
        classes = np.asarray(obj.classes_)
        p = _as_probs(obj.predict_proba(X), f"{name}.predict_proba(X)")
        return p, _label_indices(y, classes, p.shape[0]), classes
    if X is not None:
        raise ValueError(
            f"`X` is used only with a fitted classifier; `{name}` is an array of probabilities: "
            "give X=None."
        )
    p = _as_probs(obj, name)
    return p, _as_indices(y, p.shape[1], p.shape[0]), None


def calibration_curve(probs: Any, y: Any, *, n_bins: int = 10) -> CalibrationCurve:
    """The reliability curve and expected calibration error (ECE) of predicted probabilities.

    Parameters
    ----------
    probs : array_like, shape (m,) or (m, K)
        Predicted class probabilities (rows on the simplex); a 1-D array is ``P(class 1)`` of a
        binary problem.
    y : array_like of int, shape (m,)
        Observed class indices ``0..K-1`` (the columns of ``probs``).
    n_bins : int, default 10
        Equal-width bins on ``[0, 1]``.

    Returns
    -------
    CalibrationCurve
        Binary problems (``K = 2``): ``P(class 1)`` against the frequency of class 1; ``K > 2``: the
        top-label confidence against its accuracy.

    Raises
    ------
    ValueError, TypeError
        For probabilities off the simplex, ``y`` of the wrong length or outside ``0..K-1``, or a
        bad ``n_bins``.

    Examples
    --------
    >>> c = calibration_curve([0.1, 0.2, 0.8, 0.9], [0, 1, 1, 1], n_bins=2)
    >>> c.counts.tolist(), c.frequency.tolist(), round(c.ece, 3)
    ([2, 2], [0.5, 1.0], 0.25)
    """
    n_bins = _check_n_bins(n_bins)
    p = _as_probs(probs, "probs")
    idx = _as_indices(y, p.shape[1], p.shape[0])
    return _curve(p, idx, n_bins)


def _curve(p: np.ndarray, idx: np.ndarray, n_bins: int) -> CalibrationCurve:
    if p.shape[1] == 2:
        kind, conf, hit = "binary", p[:, 1], (idx == 1).astype(np.float64)
    else:
        top = p.argmax(axis=1)
        kind, conf, hit = "top_label", p[np.arange(p.shape[0]), top], (top == idx).astype(np.float64)
    b = np.minimum(np.floor(conf * n_bins).astype(np.int64), n_bins - 1)
    counts = np.bincount(b, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        confidence = np.bincount(b, weights=conf, minlength=n_bins) / counts
        frequency = np.bincount(b, weights=hit, minlength=n_bins) / counts
    full = counts > 0
    ece = float((counts[full] * np.abs(frequency[full] - confidence[full])).sum() / p.shape[0])
    return CalibrationCurve(kind=kind, edges=np.linspace(0.0, 1.0, n_bins + 1), counts=counts,
                            confidence=confidence, frequency=frequency, ece=ece, n=int(p.shape[0]))


def _default_name(obj: Any) -> str:
    if callable(getattr(obj, "proba_draws", None)):
        return "posterior predictive"
    if callable(getattr(obj, "decision_function", None)):
        return "MAP"
    return "predicted"


def plot_calibration(
    posterior_or_probs: Any,
    X: Any = None,
    y: Any = None,
    *,
    n_bins: int = 10,
    ax: Axes | None = None,
    hist_ax: Axes | None = None,
    interval_prob: float | None = 0.9,
    title: str | None = None,
) -> Axes:
    """Reliability diagram: predicted probabilities against observed frequencies, per equal-width bin.

    Binary problems show each row's predicted ``P(y = classes_[1])``; problems with more classes
    the top-label confidence ``max_k P(y = k)`` against the accuracy of that label. Each bin is a
    point at (mean prediction, observed frequency) whose area grows with its number of rows, on
    the diagonal of perfect calibration, with a vertical bar of the Wilson interval of its
    frequency (:meth:`CalibrationCurve.interval`: a bin of a few rows strays far by chance); the
    legend gives each model's expected calibration error (:func:`calibration_curve`). Below (when
    this function makes the figure, or on ``hist_ax``) a histogram of the rows per bin.

    Parameters
    ----------
    posterior_or_probs : classifier, array_like, or mapping of str to either
        A fitted classifier with ``predict_proba(X)`` and ``classes_``
        (:class:`~bayeswd.classification.ClassifierPosterior`, whose ``predict_proba`` is the
        posterior predictive mean; :class:`~bayeswd.classification.ClassifierMAPResult`;
        scikit-learn's ``LogisticRegression``); or predicted probabilities, shape (m,) (``P(class
        1)``) or (m, K); or a mapping ``name -> either`` to draw several models on one axes (e.g.
        ``{"posterior": post, "MAP": fit}``), all with the same number of classes.
    X : array_like, shape (m, d), optional
        Rows to predict (held-out rows, for an honest diagram); required with a classifier, and
        must be ``None`` with probabilities.
    y : array_like, shape (m,)
        Observed labels (elements of ``classes_``) with a classifier; class indices ``0..K-1`` with
        probabilities.
    n_bins : int, default 10
        Equal-width bins on ``[0, 1]``.
    ax : matplotlib Axes, optional
        Drawn on if given (then the histogram only on ``hist_ax``); otherwise a new figure with the
        diagram above and the histogram below.
    hist_ax : matplotlib Axes, optional
        Where to draw the histogram of rows per bin when ``ax`` is given.
    interval_prob : float or None, default 0.9
        Probability of the Wilson interval drawn at each bin; ``None`` draws none.
    title : str, optional
        Default: "Calibration (reliability diagram), m rows".

    Returns
    -------
    matplotlib.axes.Axes
        The diagram. ``ax.bayeswd_calibration`` maps each model's name to its
        :class:`CalibrationCurve` (``.ece`` the expected calibration error); ``ax.bayeswd_hist`` is
        the histogram's axes (``None`` when not drawn).

    Raises
    ------
    ValueError, TypeError
        For probabilities off the simplex, ``y`` missing, of the wrong length or with unknown
        labels, ``X`` missing with a classifier (or given with probabilities), models with
        different numbers of classes, an empty mapping, a bad ``n_bins``, or an ``ax`` that is not
        an Axes.
    """
    n_bins = _check_n_bins(n_bins)
    if interval_prob is not None:
        interval_prob = _check_prob(interval_prob)
    for arg, value in (("ax", ax), ("hist_ax", hist_ax)):
        if value is not None and not isinstance(value, Axes):
            raise TypeError(f"`{arg}` must be a matplotlib Axes or None; got {describe(value)}.")
    if isinstance(posterior_or_probs, Mapping):
        if not posterior_or_probs:
            raise ValueError("`posterior_or_probs` must not be an empty mapping; give at least one model.")
        models = {str(k): v for k, v in posterior_or_probs.items()}
    else:
        models = {_default_name(posterior_or_probs): posterior_or_probs}
    resolved = {name: _resolve(obj, X, y, name if len(models) > 1 else "posterior_or_probs")
                for name, obj in models.items()}
    widths = {name: r[0].shape[1] for name, r in resolved.items()}
    if len(set(widths.values())) != 1:
        raise ValueError(f"the models must predict the same number of classes; got {widths}.")
    curves = {name: _curve(p, idx, n_bins) for name, (p, idx, _) in resolved.items()}
    classes = next((c for _, _, c in resolved.values() if c is not None), None)
    if ax is None:
        fig, (ax, hist_ax) = plt.subplots(2, 1, figsize=(6.4, 6.6), sharex=True, layout="constrained",
                                          gridspec_kw={"height_ratios": [3.2, 1.0]})
    first = next(iter(curves.values()))
    ax.plot([0.0, 1.0], [0.0, 1.0], color="grey", linestyle="--", linewidth=1.0, label="perfect calibration")
    for j, (name, c) in enumerate(curves.items()):
        full = c.counts > 0
        color = f"C{j % 10}"
        size = 20.0 + 280.0 * c.counts[full] / max(1, c.counts.max())
        ax.plot(c.confidence[full], c.frequency[full], color=color, linewidth=1.1, alpha=0.75,
                label=f"{name} (ECE {c.ece:.3f})")
        if interval_prob is not None:
            lo, hi = c.interval(interval_prob)
            ax.vlines(c.confidence[full], lo[full], hi[full], color=color, linewidth=1.0, alpha=0.45,
                      zorder=2)
        ax.scatter(c.confidence[full], c.frequency[full], s=size, color=color, edgecolor="white",
                   linewidth=0.8, alpha=0.85, zorder=3)
        if hist_ax is not None:
            hist_ax.stairs(c.counts, c.edges, color=color, linewidth=1.5,
                           **({"fill": True, "alpha": 0.25} if len(curves) == 1 else {}))
    if first.kind == "binary":
        positive = "class 1" if classes is None else f"y = {classes[1]}"
        ax.set_ylabel(f"observed frequency of {positive}")
        xlabel = f"predicted P({positive})"
    else:
        ax.set_ylabel("accuracy of the top label")
        xlabel = "top-label confidence (the largest class probability)"
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_aspect("auto")
    ax.grid(True, alpha=0.3)
    key = "marker area: rows per bin" + (f"; bars: {interval_prob:.0%} interval" if interval_prob else "")
    ax.legend(loc="best", fontsize="small", title=key, title_fontsize="x-small")
    ax.set_title(title if title is not None else f"Calibration (reliability diagram), {first.n} rows")
    if hist_ax is not None:
        hist_ax.set_ylabel("rows per bin")
        hist_ax.set_xlabel(xlabel)
        hist_ax.grid(True, alpha=0.3)
        hist_ax.set_xlim(-0.02, 1.02)
    else:
        ax.set_xlabel(xlabel)
    ax.bayeswd_calibration = curves  # type: ignore[attr-defined]
    ax.bayeswd_hist = hist_ax  # type: ignore[attr-defined]
    return ax
