"""The lambda-selection figure of a classifier: cross-validated log loss and the evidence, against ``lam``.

Like :func:`bayeswd.plot_lam_selection` for regression, on the classifier's scale
``lam = 1/C`` (``U = sum CE + lam R0(W)``; ``lam = 1/tau^2`` for the gaussian prior, ``1/tau`` for
the laplace prior). Returns matplotlib objects and never calls ``plt.show()``.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes

from bayeswd._validation import describe
from bayeswd.classification.selection import ClassifierCVResult, ClassifierEvidenceResult

__all__ = ["plot_classifier_selection"]

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
