r"""MAP logistic and softmax regression under a gaussian (L2) or laplace (L1) prior.

The MAP minimises the negative log posterior of :func:`bayeswd.model.linear_regression_model` with
``family="bernoulli"`` or ``"categorical"``,

.. math::

    U(W, b) = \sum_i \mathrm{CE}_i(W, b) + R(W),\qquad
    R(W) = \frac{\lVert W\rVert_F^2}{2\tau^2}\ \text{(gaussian)},\quad
    R(W) = \frac{\lVert W\rVert_1}{\tau}\ \text{(laplace)},

with flat (unpenalised) intercepts. ``U = sum CE + lam R0(W)`` with ``lam = 1/tau^2`` and
``R0 = ||W||^2/2`` (gaussian) or ``lam = 1/tau`` and ``R0 = ||W||_1`` (laplace): ``lam = 1/C`` for
scikit-learn's ``LogisticRegression(C)``. Every other tool's scaling:
:mod:`bayeswd.classification.conventions` and docs/classification.md.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from bayeswd._validation import (
    as_design,
    check_bool,
    check_choice,
    check_positive,
    check_positive_int,
    describe,
)
from bayeswd.classification.conventions import (
    PRIORS,
    classifier_lam,
    logistic_C,
    tau_from_classifier_lam,
    torch_weight_decay,
)
from bayeswd.classification.problem import GLMProblem
from bayeswd.classification.solvers import newton, proximal_newton, uses_newton_cg
from bayeswd.exceptions import ConvergenceWarning

__all__ = ["CLASSIFIER_FAMILIES", "ClassifierMAPResult", "classifier_objective", "map_classifier"]

#: Values of ``family``: ``"auto"`` is bernoulli for two labels and categorical for more.
CLASSIFIER_FAMILIES = ("auto", "bernoulli", "categorical")
_DEFAULT_TOL = 1e-12
_DEFAULT_MAX_ITER = {"gaussian": 100, "laplace": 500}


@dataclass(frozen=True)
class ClassifierMAPResult:
    """A MAP fit of logistic (bernoulli) or softmax (categorical) regression.

    Attributes
    ----------
    coef : torch.Tensor, shape (d,) or (d, K)
        Weights (float64, on the CPU): a vector for the bernoulli family (the log odds of
        ``classes_[1]`` against ``classes_[0]``), the ``(d, K)`` matrix of the symmetric softmax for
        the categorical family (column ``k`` for ``classes_[k]``; for the gaussian prior its rows sum
        to zero).
    intercept : float or torch.Tensor of shape (K,)
        Intercept(s), unpenalised. Categorical: ``intercept[0] == 0`` (class 0 is the model's
        reference; subtract the mean for scikit-learn's sum-to-zero intercepts). 0 when not fitted.
    classes_ : numpy.ndarray, shape (K,)
        The sorted distinct labels of ``y``; ``classes_[k]`` is class index ``k`` of the model.
    family : {"bernoulli", "categorical"}
    prior : {"gaussian", "laplace"}
    tau : float
        Prior scale of every weight.
    lam : float
        Penalty of ``U = sum CE + lam R0(W)``: ``1/tau^2`` (gaussian) or ``1/tau`` (laplace);
        scikit-learn's ``C`` is ``1/lam``.
    objective : float
        ``U(W, b) = sum_i CE_i + R(W)`` at the result (the model's negative log posterior without the
        prior's normalising constants).
    n_iter : int
        Newton or proximal-Newton steps.
    converged : bool
        Whether the optimality residual reached ``tol``.
    optimality : float
        First-order optimality residual at the result, divided by ``max(1, max |grad sum CE at 0|)``:
        ``max |grad U|`` (gaussian), or the largest violation of ``0 in grad sum CE + lam d||W||_1``
        (laplace; the intercepts' gradient must be zero).
    method : {"newton", "newton-cg", "proximal-newton"}
        The solver: Newton (the full Hessian), truncated Newton (conjugate gradients on
        Hessian-vector products, where one Hessian costs more than
        :data:`~bayeswd.classification.solvers.NEWTON_CG_MIN_COST` multiply-adds) or proximal Newton.
    n_train : int
        Number of training rows.
    fit_intercept : bool
    feature_names : tuple of str
    """

    coef: torch.Tensor
    intercept: float | torch.Tensor
    classes_: np.ndarray
    family: str
    prior: str
    tau: float
    lam: float
    objective: float
    n_iter: int
    converged: bool
    optimality: float
    method: str
    n_train: int
    fit_intercept: bool
    feature_names: tuple[str, ...] = field(default=())

    @property
    def C(self) -> float:  # noqa: N802
        """scikit-learn ``LogisticRegression(C)`` of the same prior: ``tau^2`` or ``tau``."""
        return logistic_C(self.tau, self.prior)

    @property
    def weight_decay(self) -> float:
        """``SGD(weight_decay)`` on the mean ``BCEWithLogitsLoss`` / ``CrossEntropyLoss``: ``1/(n tau^2)``.

        Raises ``ValueError`` for the laplace prior, which no weight decay represents.
        """
        if self.prior != "gaussian":
            raise ValueError("`weight_decay` exists for the gaussian prior only; this fit is laplace.")
        return torch_weight_decay(self.tau, self.n_train, "mean")

    def decision_function(self, X: Any) -> torch.Tensor:
        """Logits: ``X w + b`` of shape ``(m,)`` (bernoulli) or ``X W + b`` of shape ``(m, K)``.

        Parameters
        ----------
        X : array_like, shape (m, d)

        Returns
        -------
        torch.Tensor
        """
        Xt, _ = as_design(X, min_rows=1)
        d = self.coef.shape[0]
        if Xt.shape[1] != d:
            raise ValueError(f"`X` must have {d} columns like the training data; got {Xt.shape[1]}.")
        with torch.no_grad():
            return Xt @ self.coef + self.intercept

    def predict_proba(self, X: Any) -> torch.Tensor:
        """Class probabilities, shape ``(m, K)``, columns in the order of ``classes_`` (K = 2: bernoulli)."""
        eta = self.decision_function(X)
        if self.family == "bernoulli":
            p = torch.sigmoid(eta)
            return torch.stack([1.0 - p, p], dim=1)
        return torch.softmax(eta, dim=1)

    def predict(self, X: Any) -> np.ndarray:
        """Most probable label of each row (an element of ``classes_``)."""
        eta = self.decision_function(X)
        idx = (eta > 0).long() if self.family == "bernoulli" else eta.argmax(dim=1)
        return self.classes_[idx.numpy()]

    def __repr__(self) -> str:
        return (
            f"ClassifierMAPResult(family={self.family!r}, prior={self.prior!r}, "
            f"classes={len(self.classes_)}, d={self.coef.shape[0]}, tau={self.tau:.6g}, "
            f"lam={self.lam:.6g}, objective={self.objective:.10g}, n_iter={self.n_iter}, "
            f"converged={self.converged})"
        )


def _labels(y: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``(classes_, codes)``: the sorted distinct labels and each row's index into them."""
    if isinstance(y, pd.DataFrame):
        if y.shape[1] != 1:
            raise ValueError(f"`y` must be 1-D of length {n}; got a DataFrame of shape {y.shape}.")
        y = y.iloc[:, 0]
    if isinstance(y, torch.Tensor):
        arr = y.detach().cpu().numpy()
    elif isinstance(y, (np.ndarray, list, tuple, pd.Series, pd.Categorical)):
        arr = np.asarray(y)
    else:
        raise TypeError(
            f"`y` must be a numpy array, torch tensor, list or pandas Series of labels; got {describe(y)}."
        )
    if arr.ndim != 1:
        raise ValueError(f"`y` must be 1-D of length {n}; got {arr.ndim}-D input of shape {arr.shape}.")
    if arr.shape[0] != n:
        raise ValueError(f"`y` must have length {n} (the number of rows of X); got {arr.shape[0]}.")
    if arr.dtype.kind == "c":
        raise ValueError(f"`y` must hold class labels; got complex values of dtype {arr.dtype}.")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        bad = int((~np.isfinite(arr)).sum())
        raise ValueError(f"`y` must hold class labels; got {bad} NaN or inf entries.")
    if arr.dtype.kind == "O" and any(v is None or (isinstance(v, float) and v != v) for v in arr):
        raise ValueError("`y` must hold class labels; got missing values (None or NaN).")
    try:
        classes, codes = np.unique(arr, return_inverse=True)
    except TypeError:
        raise TypeError(
            "`y` must hold labels of one sortable type (numbers or strings); got a mix of "
            f"{sorted({type(v).__name__ for v in arr})}."
        ) from None
    if classes.shape[0] < 2:
        raise ValueError(
            f"`y` must hold at least two distinct labels to fit a classifier; got only {classes.tolist()!r}."
        )
    return classes, codes.reshape(-1)


def _family(family: Any, n_classes: int) -> str:
    family = check_choice(family, "family", CLASSIFIER_FAMILIES)
    if family == "auto":
        return "bernoulli" if n_classes == 2 else "categorical"
    if family == "bernoulli" and n_classes != 2:
        raise ValueError(
            f"`family` 'bernoulli' needs exactly two distinct labels in `y`; got {n_classes}. "
            "Use family='categorical' (or 'auto')."
        )
    return family


def _tau_lam(prior: str, tau: Any, lam: Any) -> tuple[float, float]:
    if tau is not None and lam is not None:
        raise ValueError(f"give `tau` or `lam`, not both; got tau={tau!r} and lam={lam!r}.")
    if tau is None and lam is None:
        raise ValueError("one of `tau` (prior scale) or `lam` (penalty, 1/C) is required; got neither.")
    if tau is None:
        lam = check_positive(lam, "lam")
        return tau_from_classifier_lam(lam, prior), lam
    tau = check_positive(tau, "tau")
    return tau, classifier_lam(tau, prior)


def _problem(
    X: Any, y: Any, prior: str, tau: float, family: Any, fit_intercept: bool
) -> tuple[GLMProblem, np.ndarray, list[str]]:
    Xt, names = as_design(X)
    classes, codes = _labels(y, Xt.shape[0])
    fam = _family(family, classes.shape[0])
    yt = torch.from_numpy(codes.astype(np.int64))
    return GLMProblem(Xt, yt, fam, prior, tau, fit_intercept, classes.shape[0]), classes, names


def map_classifier(
    X: Any,
    y: Any,
    *,
    prior: str = "gaussian",
    tau: float | None = None,
    lam: float | None = None,
    family: str = "auto",
    fit_intercept: bool = True,
    tol: float | None = None,
    max_iter: int | None = None,
) -> ClassifierMAPResult:
    r"""Maximum a posteriori logistic / softmax regression under a gaussian (L2) or laplace (L1) prior.

    Minimises the negative log posterior of :func:`bayeswd.model.linear_regression_model` with
    ``family="bernoulli"`` or ``"categorical"``:

    .. math::

        U(W, b) = \sum_i \mathrm{CE}_i(W, b) + R(W),\quad
        R = \frac{\lVert W\rVert_F^2}{2\tau^2}\ \text{(gaussian)},\quad
        R = \frac{\lVert W\rVert_1}{\tau}\ \text{(laplace)},

    ``CE_i = -log p(y_i | x_i)`` summed over the rows (not averaged), the intercepts flat. This is
    scikit-learn's ``LogisticRegression(C=1/lam)`` with ``lam = 1/tau^2`` (gaussian, ``l1_ratio=0``)
    or ``lam = 1/tau`` (laplace, ``l1_ratio=1``), and the optimum of ``SGD(weight_decay=1/(n tau^2))``
    on the mean ``BCEWithLogitsLoss`` / ``CrossEntropyLoss`` with the decay on the weights only.

    Parameters
    ----------
    X : array_like, shape (n, d)
        numpy array, torch tensor or pandas DataFrame (column names become feature names).
    y : array_like, shape (n,)
        Labels of any one sortable type (numbers, strings, booleans); at least two distinct ones.
        ``classes_`` is their sorted set.
    prior : {"gaussian", "laplace"}, default "gaussian"
        ``W_jk ~ Normal(0, tau^2)`` (L2, weight decay) or ``Laplace(0, tau)`` (L1; exact zeros).
    tau : float, optional
        Prior scale (sd of the gaussian prior, scale of the laplace prior). Give exactly one of
        ``tau`` and ``lam``.
    lam : float, optional
        Penalty of ``U = sum CE + lam R0(W)`` instead of ``tau``: ``tau = 1/sqrt(lam)`` (gaussian,
        ``R0 = ||W||^2/2``) or ``tau = 1/lam`` (laplace, ``R0 = ||W||_1``). ``lam = 1/C``.
    family : {"auto", "bernoulli", "categorical"}, default "auto"
        ``"auto"``: bernoulli (logistic regression, one weight vector) for two labels, categorical
        (softmax regression, a ``(d, K)`` weight matrix with the prior on every entry) for more.
        ``"categorical"`` with two labels is the symmetric two-column softmax: the same predictions
        as the bernoulli family with prior scale ``sqrt(2) tau`` (gaussian), since ``w = W_1 - W_0``.
    fit_intercept : bool, default True
        Estimate the intercept(s) (flat prior, unpenalised); ``False`` fixes them at 0.
    tol : float, optional
        Stopping tolerance on the optimality residual (see :class:`ClassifierMAPResult`), default
        ``1e-12``.
    max_iter : int, optional
        Most Newton (default 100) or proximal-Newton (default 500) steps.

    Returns
    -------
    ClassifierMAPResult

    Raises
    ------
    ValueError, TypeError
        For invalid data or settings (one label only, non-finite ``X``, ``tau <= 0``, an unknown
        ``family``, ``y`` of the wrong length, ...); the message names the argument.

    Warns
    -----
    ConvergenceWarning
        When ``tol`` is not reached within ``max_iter`` steps (or rounding stops the progress first).

    Notes
    -----
    Gaussian prior: damped Newton (IRLS) on the full Hessian, ``d + 1`` (bernoulli) or
    ``(d + 1) K - 1`` (categorical, ``b_0 = 0``) unknowns, quadratic convergence. Laplace prior:
    proximal Newton, coordinate descent with soft-thresholding on the quadratic model finished by an
    exact solve on its sign pattern (as glmnet and liblinear's newGLMNET), exact zeros.

    The categorical likelihood is unchanged by adding a vector to every column of ``W`` and a number
    to every intercept. The prior on all ``K`` columns identifies ``W`` (the gaussian MAP's rows sum
    to zero; for the laplace prior with an even ``K`` the MAP of ``W`` can be a segment, and this
    returns one point of it); the flat intercepts are fixed by ``b_0 = 0``.

    Examples
    --------
    >>> import numpy as np
    >>> from bayeswd.classification import map_classifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(100, 3))
    >>> y = np.where(X[:, 0] + rng.normal(size=100) > 0, "yes", "no")
    >>> fit = map_classifier(X, y, tau=1.0)
    >>> fit.classes_.tolist(), fit.family, fit.converged, fit.C
    (['no', 'yes'], 'bernoulli', True, 1.0)
    """
    prior = check_choice(prior, "prior", PRIORS)
    tau, lam = _tau_lam(prior, tau, lam)
    fit_intercept = check_bool(fit_intercept, "fit_intercept")
    tol = _DEFAULT_TOL if tol is None else check_positive(tol, "tol")
    max_iter = _DEFAULT_MAX_ITER[prior] if max_iter is None else check_positive_int(max_iter, "max_iter")
    prob, classes, names = _problem(X, y, prior, tau, family, fit_intercept)
    if prior == "gaussian":
        method = "newton-cg" if uses_newton_cg(prob) else "newton"
        theta, n_iter, converged, optimality = newton(prob, max_iter, tol)
    else:
        method = "proximal-newton"
        theta, n_iter, converged, optimality = proximal_newton(prob, max_iter, tol)
    if not converged:
        warnings.warn(
            f"map_classifier(prior={prior!r}) stopped after {n_iter} steps with optimality "
            f"{optimality:.3g} > tol={tol:g}; increase `max_iter` or `tol`, or check the scaling of X.",
            ConvergenceWarning,
            stacklevel=2,
        )
    coef, intercept = prob.coef_intercept(theta)
    return ClassifierMAPResult(
        coef=coef,
        intercept=intercept,
        classes_=classes,
        family=prob.family,
        prior=prior,
        tau=tau,
        lam=lam,
        objective=prob.objective(theta),
        n_iter=n_iter,
        converged=converged,
        optimality=optimality,
        method=method,
        n_train=prob.X.shape[0],
        fit_intercept=fit_intercept,
        feature_names=tuple(names),
    )


def classifier_objective(
    X: Any, y: Any, coef: Any, intercept: Any = 0.0, *, prior: str = "gaussian", tau: float,
) -> float:
    """``U(W, b) = sum_i CE_i + R(W)`` at any coefficients (e.g. scikit-learn's ``coef_.T``).

    The family follows ``coef``: a vector ``(d,)`` is logistic regression (``classes_[1]`` the
    positive class), a matrix ``(d, K)`` softmax regression. The labels of ``y`` are encoded as in
    :func:`map_classifier` (sorted). The categorical intercepts may carry any common shift
    (reference or sum-to-zero): ``U`` does not see it.

    Parameters
    ----------
    X : array_like, shape (n, d)
    y : array_like, shape (n,)
    coef : array_like, shape (d,) or (d, K)
    intercept : float or array_like of shape (K,), default 0.0
    prior : {"gaussian", "laplace"}
    tau : float
        Prior scale.

    Returns
    -------
    float
    """
    prior = check_choice(prior, "prior", PRIORS)
    tau = check_positive(tau, "tau")
    Xt, _ = as_design(X)
    W = torch.as_tensor(np.asarray(coef, dtype=np.float64))
    b = torch.as_tensor(np.asarray(intercept, dtype=np.float64))
    d = Xt.shape[1]
    if W.ndim not in (1, 2) or W.shape[0] != d:
        raise ValueError(f"`coef` must have shape ({d},) or ({d}, K); got shape {tuple(W.shape)}.")
    family = "bernoulli" if W.ndim == 1 else "categorical"
    prob, _, _ = _problem(Xt, y, prior, tau, family, True)
    if W.ndim == 2 and W.shape[1] != prob.num_classes:
        raise ValueError(
            f"`coef` must have {prob.num_classes} columns, one per label of `y`; got {W.shape[1]}."
        )
    if family == "bernoulli":
        if b.numel() != 1:
            raise ValueError(f"`intercept` must be a number for a vector `coef`; got shape {tuple(b.shape)}.")
        W = W[:, None]
    else:
        b = b.expand(prob.num_classes) if b.numel() == 1 else b.reshape(-1)
        if b.numel() != prob.num_classes:
            raise ValueError(
                f"`intercept` must be a number or have {prob.num_classes} entries; got {b.numel()}."
            )
    theta = prob.pack(W, b)  # U does not see a common shift of the categorical intercepts
    return prob.objective(theta)
