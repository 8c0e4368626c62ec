"""Logistic and softmax regression with a gaussian (L2, weight decay) or laplace (L1) prior.

:func:`map_classifier` finds the MAP of :func:`bayeswd.model.linear_regression_model` with
``family="bernoulli"`` (two labels) or ``family="categorical"`` (more): the minimiser of
``U = sum_i CE_i + ||W||^2 / (2 tau^2)`` (gaussian) or ``sum_i CE_i + ||W||_1 / tau`` (laplace), the
intercepts unpenalised. :mod:`bayeswd.classification.conventions` converts ``tau`` to scikit-learn's
``C``, torch's ``weight_decay`` and a from-scratch penalty. docs/classification.md has the model, the
identifiability of the softmax and every convention.

:func:`sample_classifier_posterior` (also :func:`bayeswd.sample_posterior` with ``family=``) draws
the full posterior (NUTS, Polya-Gamma Gibbs, the Laplace approximation); :func:`classifier_cv` and
:func:`classifier_evidence` choose ``tau`` (scikit-learn's ``C``) by cross-validation, matching
``LogisticRegressionCV``, or by the Laplace-approximation evidence.
"""

from bayeswd.classification.conventions import (
    CLASSIFIER_LOSSES,
    classifier_conventions_table,
    classifier_lam,
    logistic_C,
    scratch_penalty,
    tau_from_classifier_lam,
    tau_from_logistic_C,
    tau_from_scratch_penalty,
    tau_from_torch_weight_decay,
    torch_weight_decay,
)
from bayeswd.classification.imh import LaplaceMH
from bayeswd.classification.map import (
    CLASSIFIER_FAMILIES,
    ClassifierMAPResult,
    classifier_objective,
    map_classifier,
)
from bayeswd.classification.plots import (
    CalibrationCurve,
    calibration_curve,
    plot_calibration,
    plot_classifier_selection,
)
from bayeswd.classification.posterior import (
    ClassifierPosterior,
    LaplaceApprox,
    sample_classifier_posterior,
)
from bayeswd.classification.selection import (
    CLASSIFIER_SCORINGS,
    ClassifierCVResult,
    ClassifierEvidenceResult,
    classifier_cv,
    classifier_evidence,
    classifier_log_evidence,
    stratified_folds,
)

__all__ = [
    "CLASSIFIER_FAMILIES",
    "CLASSIFIER_LOSSES",
    "CLASSIFIER_SCORINGS",
    "CalibrationCurve",
    "ClassifierCVResult",
    "ClassifierEvidenceResult",
    "ClassifierMAPResult",
    "ClassifierPosterior",
    "LaplaceApprox",
    "LaplaceMH",
    "calibration_curve",
    "classifier_cv",
    "classifier_evidence",
    "classifier_log_evidence",
    "plot_calibration",
    "plot_classifier_selection",
    "sample_classifier_posterior",
    "stratified_folds",
    "classifier_conventions_table",
    "classifier_lam",
    "classifier_objective",
    "logistic_C",
    "map_classifier",
    "scratch_penalty",
    "tau_from_classifier_lam",
    "tau_from_logistic_C",
    "tau_from_scratch_penalty",
    "tau_from_torch_weight_decay",
    "torch_weight_decay",
]
