"""bayeswd: weight decay and Gaussian priors as one exact, tested story.

Linear regression with a gaussian (L2 / ridge / weight decay) or laplace (L1 / lasso) prior on the
weights, written once as a Pyro model; MAP by autograd that equals weight-decay training with
``lam = sigma^2 / tau^2``; every scaling convention of the tools users meet.

The scikit-learn estimators ``BayesianLinearRegression`` and ``MAPRegression``
(:mod:`bayeswd.estimators`) are imported on first use: ``import bayeswd`` does not need
scikit-learn (``pip install bayeswd[sklearn]``).
"""

import importlib
from typing import Any

from bayeswd.classification import (
    ClassifierMAPResult,
    ClassifierPosterior,
    LaplaceApprox,
    LaplaceMH,
    classifier_cv,
    classifier_evidence,
    logistic_C,
    map_classifier,
    plot_calibration,
    plot_classifier_selection,
)
from bayeswd.conventions import (
    bayesian_ridge_precisions,
    conventions_table,
    l1_subgradient_lambda,
    lam_from_tau,
    lasso_alpha,
    ridge_alpha,
    sgd_weight_decay,
    tau_from_bayesian_ridge,
    tau_from_l1_subgradient_lambda,
    tau_from_lam,
    tau_from_lasso_alpha,
    tau_from_ridge_alpha,
    tau_from_weight_decay,
)
from bayeswd.data import (
    RegressionData,
    SeedProblem,
    correlated_problem,
    seed_problem,
    synthetic_data,
    tall_problem,
)
from bayeswd.evidence import gaussian_log_marginal
from bayeswd.exact import GaussianPosterior, gaussian_posterior
from bayeswd.exceptions import BayeswdWarning, ConvergenceWarning, DiagnosticWarning
from bayeswd.infer import IMH, NUTS, SVI, Auto, Collapsed, Exact, Gibbs, PyroNUTS
from bayeswd.map import MAPResult, map_fit, map_objective
from bayeswd.model import linear_regression_model, log_density
from bayeswd.plots import (
    plot_densities,
    plot_forest,
    plot_lam_selection,
    plot_path,
    plot_shrinkage,
    plot_sweep,
)
from bayeswd.posterior import Posterior, PredictiveInterval, sample_posterior
from bayeswd.selection import (
    EvidenceResult,
    SelectionResult,
    SweepResult,
    compare_priors,
    cv_curve,
    kfold_compare,
    lam_from_draws,
    lam_sweep,
    maximize_evidence,
    maximize_evidence_given,
    validation_curve,
)
from bayeswd.tables import CategoricalEncoding, DroppedRows, PreparedTable, TableEncoding, prepare_table

__version__ = "0.1.0"

__all__ = [
    "BayeswdWarning",
    "ClassifierMAPResult",
    "ClassifierPosterior",
    "LaplaceApprox",
    "LaplaceMH",
    "classifier_cv",
    "classifier_evidence",
    "plot_calibration",
    "plot_classifier_selection",
    "CategoricalEncoding",
    "ConvergenceWarning",
    "DiagnosticWarning",
    "DroppedRows",
    "EvidenceResult",
    "Auto",
    "Collapsed",
    "Exact",
    "GaussianPosterior",
    "Gibbs",
    "IMH",
    "MAPResult",
    "map_classifier",
    "logistic_C",
    "NUTS",
    "Posterior",
    "PredictiveInterval",
    "PreparedTable",
    "PyroNUTS",
    "RegressionData",
    "SVI",
    "SeedProblem",
    "SelectionResult",
    "SweepResult",
    "TableEncoding",
    "__version__",
    "bayesian_ridge_precisions",
    "compare_priors",
    "conventions_table",
    "correlated_problem",
    "cv_curve",
    "gaussian_log_marginal",
    "gaussian_posterior",
    "kfold_compare",
    "l1_subgradient_lambda",
    "lam_from_draws",
    "lam_from_tau",
    "lam_sweep",
    "lasso_alpha",
    "linear_regression_model",
    "log_density",
    "map_fit",
    "map_objective",
    "maximize_evidence",
    "maximize_evidence_given",
    "plot_densities",
    "plot_forest",
    "plot_lam_selection",
    "plot_path",
    "plot_shrinkage",
    "plot_sweep",
    "prepare_table",
    "ridge_alpha",
    "sample_posterior",
    "seed_problem",
    "sgd_weight_decay",
    "synthetic_data",
    "tall_problem",
    "tau_from_bayesian_ridge",
    "tau_from_l1_subgradient_lambda",
    "tau_from_lam",
    "tau_from_lasso_alpha",
    "tau_from_ridge_alpha",
    "tau_from_weight_decay",
    "validation_curve",
]

#: The scikit-learn estimators, exported lazily (scikit-learn is the optional extra ``sklearn``).
_ESTIMATORS = ("BayesianLinearRegression", "MAPRegression", "BayesianLogisticRegression", "MAPClassifier")


def __getattr__(name: str) -> Any:
    """The scikit-learn estimators, imported on first use.

    ``bayeswd.BayesianLinearRegression``, ``bayeswd.MAPRegression``,
    ``bayeswd.BayesianLogisticRegression`` and ``bayeswd.MAPClassifier`` (:mod:`bayeswd.estimators`).

    Raises ``ImportError`` naming ``pip install bayeswd[sklearn]`` when scikit-learn is missing.
    """
    if name in _ESTIMATORS:
        return getattr(importlib.import_module("bayeswd.estimators"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
