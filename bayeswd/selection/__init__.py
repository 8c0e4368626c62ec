r"""Choosing lambda: regularisation paths, validation, cross-validation, evidence, full Bayes.

Every function here speaks the penalty ``lam`` of :func:`bayeswd.map_fit`, the sum-of-squares form
of the negative log posterior times ``2 sigma^2``:

.. math::

    \text{gaussian:}\ \lVert y - Xw - b\rVert_2^2 + \lambda \lVert w\rVert_2^2,\quad
    \lambda = \sigma^2/\tau^2;\qquad
    \text{laplace:}\ \lVert y - Xw - b\rVert_2^2 + \lambda_1 \lVert w\rVert_1,\quad
    \lambda_1 = 2\sigma^2/\tau,

with an unpenalised intercept ``b``. The MAP depends on ``(sigma, tau)`` through ``lam`` only, so a
sweep needs no ``sigma``. Errors are mean squared errors ``mean((y - Xw - b)^2)`` (no 1/2).

- :func:`lam_sweep`: the whole path for a grid of ``lam`` (or ``tau``): one SVD of the centred design
  gives the gaussian path exactly; the laplace path is warm-started proximal gradient with an exact
  active-set solve, from the largest ``lam`` down.
- :func:`validation_curve`, :func:`cv_curve`: choose ``lam`` by a held-out set or by seeded k-fold
  cross-validation (curve, standard error, minimum and one-standard-error choice).
- :func:`maximize_evidence`: empirical Bayes, the closed-form gaussian marginal likelihood maximised
  over ``(sigma, tau)``; the same optimum as scikit-learn's ``BayesianRidge``.
- :func:`maximize_evidence_given`: the same over one scale, the other given.
- :func:`lam_from_draws`: full Bayes, posterior draws of ``tau`` (and ``sigma``) turned into draws of
  ``lam``.
- :func:`compare_priors`: an ArviZ LOO comparison table between posteriors.
- :func:`kfold_compare`: the same comparison by K-fold cross-validation with refits, for when
  PSIS-LOO's Pareto ``k`` is high (``d`` near or above ``n``).

The package has one module per concern: :mod:`~bayeswd.selection.paths` (the data of a path and
its solvers), :mod:`~bayeswd.selection.sweep`, :mod:`~bayeswd.selection.curves` (validation and
CV), :mod:`~bayeswd.selection.empirical_bayes` and :mod:`~bayeswd.selection.full_bayes`.
"""

from __future__ import annotations

from bayeswd.selection.curves import SelectionResult, cv_curve, validation_curve
from bayeswd.selection.empirical_bayes import EvidenceResult, maximize_evidence, maximize_evidence_given
from bayeswd.selection.full_bayes import compare_priors, lam_from_draws
from bayeswd.selection.kfold import kfold_compare, kfold_pointwise
from bayeswd.selection.sweep import SweepResult, lam_sweep

__all__ = [
    "EvidenceResult",
    "SelectionResult",
    "SweepResult",
    "compare_priors",
    "cv_curve",
    "kfold_compare",
    "kfold_pointwise",
    "lam_from_draws",
    "lam_sweep",
    "maximize_evidence",
    "maximize_evidence_given",
    "validation_curve",
]

