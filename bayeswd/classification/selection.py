r"""Choosing ``lam`` (``tau``, scikit-learn's ``C``) for logistic and softmax regression.

Two ways, on the scale of :func:`~bayeswd.classification.map_classifier` (``U = sum CE + lam R0(W)``,
``lam = 1/C``, ``lam = 1/tau^2`` for the gaussian prior and ``1/tau`` for the laplace prior):

- :func:`classifier_cv`: k-fold cross-validation of the held-out log loss (or accuracy) over a grid
  of ``C``. With the same grid and folds it chooses the ``C`` of scikit-learn's
  ``LogisticRegressionCV(scoring="neg_log_loss")``: an integer ``Cs`` is ``np.logspace(-4, 4, Cs)``,
  an integer ``cv`` is scikit-learn's ``StratifiedKFold(cv)`` without shuffling (re-implemented
  here, row for row), each fold's score is the mean over its held-out rows, the curve is the
  unweighted mean over folds, and ties go to the first (smallest) ``C``.
- :func:`classifier_evidence`: empirical Bayes for the gaussian prior, the Laplace approximation of
  the marginal likelihood ``log p(y | tau)`` (:func:`classifier_log_evidence`) maximised over
  ``log tau``.

The MAP objective does not depend on the number of rows through ``lam`` (``U`` is a *sum* of log
losses), so the folds and the full data share one scale: the ``C`` chosen on folds of
``(1 - 1/k) n`` rows is refitted on all ``n`` rows as it is, as scikit-learn does.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.optimize
import torch

from bayeswd._validation import (
    check_bool,
    check_choice,
    check_positive,
    check_positive_int,
    describe,
)
from bayeswd.classification.conventions import PRIORS
from bayeswd.classification.map import (
    _DEFAULT_MAX_ITER,
    _DEFAULT_TOL,
    ClassifierMAPResult,
    _problem,
    map_classifier,
)
from bayeswd.classification.problem import GLMProblem
from bayeswd.classification.solvers import newton, proximal_newton
from bayeswd.exceptions import BayeswdWarning, ConvergenceWarning

__all__ = [
    "CLASSIFIER_SCORINGS",
    "ClassifierCVResult",
    "ClassifierEvidenceResult",
    "classifier_cv",
    "classifier_evidence",
    "classifier_log_evidence",
    "stratified_folds",
]

#: Values of ``scoring`` in :func:`classifier_cv`.
CLASSIFIER_SCORINGS = ("log_loss", "accuracy")
_LOG_2PI = math.log(2.0 * math.pi)


# --------------------------------------------------------------------------------------------
# cross-validation


@dataclass(frozen=True)
class ClassifierCVResult:
    """A cross-validation curve of a classifier's held-out score against ``C`` (``lam = 1/C``).

    The grid is in increasing ``C`` (decreasing ``lam``, weakening prior), the order of
    scikit-learn's ``LogisticRegressionCV.Cs_``, so ``fold_scores`` lines up with its ``scores_``
    (which holds ``-log_loss`` for ``scoring="neg_log_loss"``).

    Attributes
    ----------
    prior : {"gaussian", "laplace"}
    family : {"bernoulli", "categorical"}
    scoring : {"log_loss", "accuracy"}
        ``"log_loss"``: mean held-out cross-entropy ``-log p(y_i | x_i)`` (nats per row, lower is
        better); ``"accuracy"``: fraction of held-out rows predicted right (higher is better).
    Cs : np.ndarray, shape (m,)
        scikit-learn's ``C``, increasing.
    lams : np.ndarray, shape (m,)
        ``1 / Cs``: the penalty of ``U = sum CE + lam R0(W)`` (decreasing).
    taus : np.ndarray, shape (m,)
        Prior scales: ``sqrt(C)`` (gaussian) or ``C`` (laplace).
    score : np.ndarray, shape (m,)
        Mean over folds of each fold's held-out score (each fold weighs the same, whatever its size).
    se : np.ndarray, shape (m,)
        Standard error ``std(fold scores, ddof=1) / sqrt(n_folds)`` (NaN with one fold).
    fold_scores : np.ndarray, shape (n_folds, m)
        Held-out score of each fold at each ``C``.
    best_index : int
        Index of the best ``score`` (the first, i.e. smallest ``C``, on ties).
    C_best, lam_best, tau_best : float
        The grid point at ``best_index``.
    C_1se, lam_1se, tau_1se : float
        One-standard-error rule: the smallest ``C`` (strongest prior) whose ``score`` is within
        ``se[best_index]`` of the best.
    fit : ClassifierMAPResult or None
        :func:`map_classifier` refitted on all rows at ``C_best`` (``None`` with ``refit=False``).
    folds : tuple of (np.ndarray, np.ndarray)
        The ``(train, test)`` row indices of every fold.
    fit_intercept : bool
    n_unconverged : int
        Fold fits that stopped before ``tol`` (a ``ConvergenceWarning`` was issued).
    """

    prior: str
    family: str
    scoring: str
    Cs: np.ndarray
    lams: np.ndarray
    taus: np.ndarray
    score: np.ndarray
    se: np.ndarray
    fold_scores: np.ndarray
    best_index: int
    C_best: float
    lam_best: float
    tau_best: float
    C_1se: float
    lam_1se: float
    tau_1se: float
    fit: ClassifierMAPResult | None
    folds: tuple[tuple[np.ndarray, np.ndarray], ...]
    fit_intercept: bool
    n_unconverged: int = 0

    @property
    def n_folds(self) -> int:
        """Number of folds."""
        return len(self.folds)

    @property
    def greater_is_better(self) -> bool:
        """``True`` for accuracy, ``False`` for log loss."""
        return self.scoring == "accuracy"

    def __repr__(self) -> str:
        return (
            f"ClassifierCVResult(prior={self.prior!r}, family={self.family!r}, scoring={self.scoring!r}, "
            f"m={self.Cs.size}, n_folds={self.n_folds}, C_best={self.C_best:.6g}, "
            f"tau_best={self.tau_best:.6g}, C_1se={self.C_1se:.6g})"
        )


def _check_Cs(Cs: Any) -> np.ndarray:  # noqa: N802
    """``Cs``: an int (scikit-learn's ``np.logspace(-4, 4, Cs)``) or positive values, sorted increasing."""
    expected = (
        "an integer >= 1 (that many C log-spaced over [1e-4, 1e4], as scikit-learn) or a non-empty "
        "1-D array of positive finite C values"
    )
    if isinstance(Cs, (bool, np.bool_)) or isinstance(Cs, (str, bytes)):
        raise TypeError(f"`Cs` must be {expected}; got {describe(Cs)}.")
    if isinstance(Cs, numbers.Integral):
        if Cs < 1:
            raise ValueError(f"`Cs` must be {expected}; got {Cs!r}.")
        return np.logspace(-4, 4, int(Cs))
    if isinstance(Cs, numbers.Real):
        raise TypeError(f"`Cs` must be {expected}; got the float {Cs!r} (an integer count or an array).")
    if isinstance(Cs, torch.Tensor):
        Cs = Cs.detach().cpu().numpy()
    try:
        arr = np.asarray(Cs, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"`Cs` must be {expected}; got {describe(Cs)}.") from None
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"`Cs` must be {expected}; got an array of shape {arr.shape}.")
    bad = ~(np.isfinite(arr) & (arr > 0))
    if bad.any():
        raise ValueError(f"`Cs` must be {expected}; got the entry {float(arr[bad][0])!r}.")
    return np.unique(arr)


def stratified_folds(codes: Any, n_splits: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """scikit-learn's ``StratifiedKFold(n_splits, shuffle=False).split(X, y)``, row for row.

    The classes are numbered by their first appearance in ``y``; each class's rows (in data order)
    are dealt to the folds in contiguous blocks whose sizes come from dealing the sorted labels
    round robin, so every fold has (nearly) the same class proportions. ``tests`` check the folds
    equal scikit-learn's.

    Parameters
    ----------
    codes : array_like, shape (n,)
        Labels (any values; only equality matters).
    n_splits : int
        Number of folds, at least 2 and at most the size of the largest class.

    Returns
    -------
    list of (train, test)
        Sorted int64 row indices of each fold, fold 0 first.
    """
    y = np.asarray(codes).reshape(-1)
    n_splits = check_positive_int(n_splits, "cv", minimum=2)
    _, first, inverse = np.unique(y, return_index=True, return_inverse=True)
    _, class_perm = np.unique(first, return_inverse=True)
    encoded = class_perm[inverse.reshape(-1)]
    n_classes = first.size
    counts = np.bincount(encoded, minlength=n_classes)
    if np.all(n_splits > counts):
        raise ValueError(
            f"`cv` = {n_splits} folds cannot be more than the size of the largest class "
            f"({int(counts.max())} rows): each fold must hold rows."
        )
    order = np.sort(encoded)
    allocation = np.asarray([np.bincount(order[i::n_splits], minlength=n_classes) for i in range(n_splits)])
    test_folds = np.empty(y.size, dtype=np.int64)
    for k in range(n_classes):
        test_folds[encoded == k] = np.arange(n_splits).repeat(allocation[:, k])
    rows = np.arange(y.size)
    return [(rows[test_folds != i], rows[test_folds == i]) for i in range(n_splits)]


def _index_array(part: Any, n: int, what: str) -> np.ndarray:
    expected = f"a non-empty 1-D array of integer row indices in [0, {n})"
    if isinstance(part, torch.Tensor):
        part = part.detach().cpu().numpy()
    arr = np.asarray(part)
    if arr.dtype.kind == "b":
        raise TypeError(f"`cv` {what} must be {expected}, not a boolean mask; got {describe(part)}.")
    if arr.ndim != 1 or arr.size == 0 or arr.dtype.kind not in "iu":
        raise ValueError(f"`cv` {what} must be {expected}; got {describe(part)}.")
    if arr.min() < 0 or arr.max() >= n:
        raise ValueError(f"`cv` {what} must be {expected}; got indices from {arr.min()} to {arr.max()}.")
    return arr.astype(np.int64)


def _folds(
    cv: Any, Xnp: np.ndarray, codes: np.ndarray, n_classes: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The ``(train, test)`` pairs of ``cv``: an int, a splitter with ``split(X, y)``, or an iterable."""
    n = codes.size
    expected = (
        "an integer >= 2 (stratified k-fold, as scikit-learn's StratifiedKFold without shuffling), "
        "an object with a split(X, y) method, or an iterable of (train, test) index arrays"
    )
    if isinstance(cv, (bool, np.bool_)) or isinstance(cv, (str, bytes)) or cv is None:
        raise TypeError(f"`cv` must be {expected}; got {describe(cv)}.")
    if isinstance(cv, numbers.Integral):
        if cv < 2:
            raise ValueError(f"`cv` must be {expected}; got {cv!r}.")
        pairs = stratified_folds(codes, int(cv))
    else:
        if hasattr(cv, "split") and callable(cv.split):
            source = cv.split(Xnp, codes)
        elif isinstance(cv, Iterable):
            source = cv
        else:
            raise TypeError(f"`cv` must be {expected}; got {describe(cv)}.")
        pairs = []
        for j, pair in enumerate(source):
            if isinstance(pair, (str, bytes)) or not isinstance(pair, Iterable):
                raise TypeError(f"`cv` must be {expected}; its item {j} is {describe(pair)}.")
            parts = list(pair)
            if len(parts) != 2:
                raise ValueError(
                    f"`cv` must be {expected}; its item {j} has {len(parts)} parts instead of (train, test)."
                )
            pairs.append((_index_array(parts[0], n, f"item {j} train"),
                          _index_array(parts[1], n, f"item {j} test")))
        if not pairs:
            raise ValueError(f"`cv` must be {expected}; got an empty iterable.")
    for j, (train, _) in enumerate(pairs):
        seen = np.unique(codes[train]).size
        if seen != n_classes:
            raise ValueError(
                f"`cv` fold {j}: its training rows hold {seen} of the {n_classes} classes of `y`; every "
                "training fold must see every class (the flat intercept of a missing class has no MAP). "
                "Use fewer folds or other splits."
            )
    return pairs


def _fit(prob: GLMProblem, tol: float, max_iter: int) -> tuple[torch.Tensor, bool]:
    solver = newton if prob.prior == "gaussian" else proximal_newton
    theta, _, converged, _ = solver(prob, max_iter, tol)
    return theta, converged


def _held_out(prob: GLMProblem, theta: torch.Tensor, scoring: str) -> float:
    """Mean held-out log loss (exact, from the logits) or accuracy of ``theta`` on ``prob``'s rows."""
    n = prob.X.shape[0]
    if scoring == "log_loss":
        return prob.nll(theta) / n
    eta = prob.logits(theta)
    pred = (eta > 0).long() if prob.family == "bernoulli" else eta.argmax(dim=1)
    return float((pred == prob.y).to(torch.float64).mean())


def classifier_cv(
    X: Any,
    y: Any,
    *,
    prior: str = "gaussian",
    Cs: Any = 10,
    cv: Any = 5,
    scoring: str = "log_loss",
    family: str = "auto",
    fit_intercept: bool = True,
    refit: bool = True,
    tol: float | None = None,
    max_iter: int | None = None,
) -> ClassifierCVResult:
    r"""Choose ``C`` (``lam = 1/C``, ``tau``) of a classifier by k-fold cross-validation.

    For each fold the MAP of :func:`map_classifier` is fitted on the training rows at every ``C``
    and scored on the held-out rows; the curve is the unweighted mean over folds, the best ``C`` its
    minimum (log loss) or maximum (accuracy), and the model is refitted on all rows there.

    With ``scoring="log_loss"`` this is scikit-learn's
    ``LogisticRegressionCV(Cs=Cs, cv=cv, scoring="neg_log_loss", l1_ratios=(0,) or (1,))`` with a
    solver that leaves the intercept unpenalised (``newton-cholesky``, ``lbfgs``, ``saga``, ...)
    run to a tight ``tol``: the same grid (an integer ``Cs`` is ``np.logspace(-4, 4, Cs)``), the
    same folds (an integer ``cv`` is ``StratifiedKFold(cv)`` without shuffling), the same per-fold
    score (mean over the held-out rows), the same argmax of the fold sum with ties to the first
    ``C``; ``fold_scores`` equals ``-LogisticRegressionCV.scores_[classes_[1]]`` (binary) to the
    solvers' precision, and ``C_best`` its ``C_[0]``.

    Parameters
    ----------
    X : array_like, shape (n, d)
    y : array_like, shape (n,)
        Labels, as :func:`map_classifier`.
    prior : {"gaussian", "laplace"}, default "gaussian"
        L2 (``tau = sqrt(C)``) or L1 (``tau = C``).
    Cs : int or array_like, default 10
        An integer ``m``: ``np.logspace(-4, 4, m)`` (scikit-learn's default grid). An array: the
        ``C`` values (sorted increasing, duplicates dropped).
    cv : int, splitter or iterable of (train, test), default 5
        An integer ``k >= 2``: stratified k-fold without shuffling, exactly scikit-learn's
        ``StratifiedKFold(k)`` (:func:`stratified_folds`). An object with ``split(X, y)`` (any
        scikit-learn splitter; called with ``X`` as a float array and ``y`` as class indices), or an
        iterable of ``(train, test)`` integer index arrays. Every training fold must hold every class.
    scoring : {"log_loss", "accuracy"}, default "log_loss"
        ``"log_loss"``: the mean held-out cross-entropy in nats, computed exactly from the logits
        (scikit-learn's ``log_loss`` clips probabilities at ``2.2e-16``, i.e. caps a row's loss at
        36.04; the two differ only for such a row). ``"accuracy"``: the fraction predicted right
        (ties at probability 1/2 go to ``classes_[0]``, as scikit-learn).
    family : {"auto", "bernoulli", "categorical"}, default "auto"
        As :func:`map_classifier` (scikit-learn: logistic for two labels, the symmetric softmax
        for more).
    fit_intercept : bool, default True
    refit : bool, default True
        Refit on all rows at ``C_best`` (``fit``).
    tol, max_iter : optional
        Of every fit, as :func:`map_classifier` (defaults ``1e-12`` and 100 / 500 steps).

    Returns
    -------
    ClassifierCVResult

    Raises
    ------
    ValueError, TypeError
        For a bad ``Cs``, ``cv``, ``scoring``, ``prior``, ``family``, data, or a training fold
        without some class; the message names the argument, the expected form and the value.

    Warns
    -----
    ConvergenceWarning
        Once, when some fold fits stop before ``tol`` (their count is ``n_unconverged``).

    Notes
    -----
    ``lam`` multiplies a *sum* of log losses, so one ``C`` is one prior whatever the number of rows:
    folds and the full data share the grid (a mean-scaled penalty such as ``weight_decay`` would not).
    Each fit starts from ``W = 0`` (no warm start); the gaussian prior's Newton converges in a few
    steps, the laplace prior's proximal Newton more slowly at large ``C`` on (nearly) separable data.

    Examples
    --------
    >>> import numpy as np
    >>> from bayeswd.classification.selection import classifier_cv
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(120, 3))
    >>> y = (X[:, 0] + rng.normal(size=120) > 0).astype(int)
    >>> res = classifier_cv(X, y, Cs=5, cv=4)
    >>> res.Cs.tolist()
    [0.0001, 0.01, 1.0, 100.0, 10000.0]
    >>> res.fold_scores.shape, res.fit.tau == res.tau_best
    ((4, 5), True)
    """
    prior = check_choice(prior, "prior", PRIORS)
    scoring = check_choice(scoring, "scoring", CLASSIFIER_SCORINGS)
    fit_intercept = check_bool(fit_intercept, "fit_intercept")
    refit = check_bool(refit, "refit")
    tol = _DEFAULT_TOL if tol is None else check_positive(tol, "tol")
    max_iter = _DEFAULT_MAX_ITER[prior] if max_iter is None else check_positive_int(max_iter, "max_iter")
    grid = _check_Cs(Cs)
    full, classes, _ = _problem(X, y, prior, 1.0, family, fit_intercept)
    codes = full.y.numpy()
    pairs = _folds(cv, full.X.numpy(), codes, classes.size)
    taus = np.sqrt(grid) if prior == "gaussian" else grid.copy()
    fold_scores = np.empty((len(pairs), grid.size))
    unconverged = 0
    for j, (train, test) in enumerate(pairs):
        tr, te = torch.from_numpy(train), torch.from_numpy(test)
        p_train = GLMProblem(full.X[tr], full.y[tr], full.family, prior, 1.0, fit_intercept, full.num_classes)
        p_test = GLMProblem(full.X[te], full.y[te], full.family, prior, 1.0, fit_intercept, full.num_classes)
        for i, tau in enumerate(taus):
            p_train.tau = float(tau)
            theta, ok = _fit(p_train, tol, max_iter)
            unconverged += not ok
            fold_scores[j, i] = _held_out(p_test, theta, scoring)
    if unconverged:
        warnings.warn(
            f"classifier_cv: {unconverged} of {fold_scores.size} fold fits stopped before tol={tol:g} "
            f"(max_iter={max_iter}); their scores may be slightly off.", ConvergenceWarning, stacklevel=2,
        )
    # scikit-learn: argmax of the fold *sum*, first index on ties
    total = fold_scores.sum(axis=0)
    best = int(np.argmax(total)) if scoring == "accuracy" else int(np.argmin(total))
    score = total / len(pairs)
    if len(pairs) > 1:
        se = fold_scores.std(axis=0, ddof=1) / math.sqrt(len(pairs))
        sign = -1.0 if scoring == "accuracy" else 1.0
        within = np.flatnonzero(sign * (score - score[best]) <= se[best])
        one_se = int(within.min())
    else:
        se = np.full(grid.size, np.nan)
        one_se = best
    fit = None
    if refit:
        fit = map_classifier(X, y, prior=prior, tau=float(taus[best]), family=full.family,
                             fit_intercept=fit_intercept, tol=tol, max_iter=max_iter)
    return ClassifierCVResult(
        prior=prior, family=full.family, scoring=scoring, Cs=grid, lams=1.0 / grid, taus=taus,
        score=score, se=se, fold_scores=fold_scores, best_index=best,
        C_best=float(grid[best]), lam_best=float(1.0 / grid[best]), tau_best=float(taus[best]),
        C_1se=float(grid[one_se]), lam_1se=float(1.0 / grid[one_se]), tau_1se=float(taus[one_se]),
        fit=fit, folds=tuple((tr, te) for tr, te in pairs), fit_intercept=fit_intercept,
        n_unconverged=int(unconverged),
    )


# --------------------------------------------------------------------------------------------
# evidence (Laplace approximation)


@dataclass(frozen=True)
class ClassifierEvidenceResult:
    """The Laplace-approximate evidence ``log p(y | tau)`` of a gaussian-prior classifier, maximised.

    Attributes
    ----------
    tau : float
        Maximising prior sd.
    lam, C : float
        The same as ``lam = 1/tau^2`` (:func:`map_classifier`) and scikit-learn's ``C = tau^2``.
    log_evidence : float
        The Laplace approximation at ``tau`` (see :func:`classifier_log_evidence`).
    taus : np.ndarray, shape (m,)
        Grid of ``tau``, increasing.
    lams, Cs : np.ndarray, shape (m,)
        ``1/taus^2`` and ``taus^2``.
    log_evidence_curve : np.ndarray, shape (m,)
        The approximation on ``taus``.
    fit : ClassifierMAPResult
        The MAP at ``tau``.
    family : {"bernoulli", "categorical"}
    fit_intercept : bool
    n_weights, n_intercepts : int
        Gaussian-prior weights (``d`` or ``d K``) and flat intercepts (1, ``K - 1`` or 0).
    at_boundary : bool
        Whether the maximum is at an end of the grid (a ``BayeswdWarning`` was issued).
    """

    tau: float
    lam: float
    C: float  # noqa: N815
    log_evidence: float
    taus: np.ndarray
    lams: np.ndarray
    Cs: np.ndarray  # noqa: N815
    log_evidence_curve: np.ndarray
    fit: ClassifierMAPResult
    family: str
    fit_intercept: bool
    n_weights: int
    n_intercepts: int
    at_boundary: bool = False

    def __repr__(self) -> str:
        return (
            f"ClassifierEvidenceResult(family={self.family!r}, tau={self.tau:.6g}, lam={self.lam:.6g}, "
            f"C={self.C:.6g}, log_evidence={self.log_evidence:.10g}, m={self.taus.size})"
        )


def _laplace_evidence(prob: GLMProblem, tau: float, tol: float, max_iter: int) -> tuple[float, bool]:
    """``(log evidence, converged)`` of ``prob`` at prior sd ``tau`` (sets ``prob.tau``)."""
    prob.tau = tau
    theta, _, converged, _ = newton(prob, max_iter, tol)
    f, _, probs = prob.value_grad(theta)
    nw, size = prob.n_weights, prob.size
    H = prob.hessian(probs)
    H.diagonal()[:nw] += 1.0 / tau**2
    L, info = torch.linalg.cholesky_ex(H)
    if int(info) != 0:  # cannot happen for a finite tau: the prior makes H positive definite
        raise RuntimeError(
            f"the Hessian of the negative log posterior is not positive definite at tau={tau!r}."
        )
    log_det = 2.0 * float(torch.log(L.diagonal()).sum())
    w = theta[:nw]
    U = f + float(w @ w) / (2.0 * tau**2)
    value = -U - nw * math.log(tau) + 0.5 * (size - nw) * _LOG_2PI - 0.5 * log_det
    return value, converged


def _gaussian_only(prior: Any) -> None:
    prior = check_choice(prior, "prior", PRIORS)
    if prior != "gaussian":
        raise ValueError(
            "classifier_evidence / classifier_log_evidence take prior='gaussian' only; got 'laplace'. The "
            "Laplace approximation needs the log posterior to be smooth at its mode, and the laplace "
            "prior's MAP has exact zeros where ||W||_1 has no Hessian. Use classifier_cv for the L1 prior."
        )


def classifier_log_evidence(
    X: Any,
    y: Any,
    *,
    tau: float,
    prior: str = "gaussian",
    family: str = "auto",
    fit_intercept: bool = True,
    tol: float | None = None,
    max_iter: int | None = None,
) -> float:
    r"""Laplace approximation of ``log p(y | tau)`` for logistic / softmax regression, gaussian prior.

    With ``theta* = (W*, b*)`` the MAP of :func:`map_classifier`, ``U = sum CE + ||W||^2/(2 tau^2)``
    and ``H = grad^2 U(theta*)`` (the Hessian of the negative log posterior in the ``P`` free
    parameters: ``P_w`` weights and the flat intercepts),

    .. math::

        \log p(y\mid\tau) \approx -U(\theta^*) - \frac{P_w}{2}\log(2\pi\tau^2)
        + \frac P2\log 2\pi - \frac12\log\det H.

    The ``-(P_w/2) log(2 pi tau^2)`` is the normaliser of the weights' prior, so
    ``-U - (P_w/2) log(2 pi tau^2)`` is the log joint density ``log p(y, theta*)`` of the model.

    Parameters
    ----------
    X : array_like, shape (n, d)
    y : array_like, shape (n,)
    tau : float
        Prior sd of every weight.
    prior : {"gaussian"}, default "gaussian"
        ``"laplace"`` raises ``ValueError``: the L1 posterior is not smooth at its mode.
    family : {"auto", "bernoulli", "categorical"}, default "auto"
    fit_intercept : bool, default True
    tol, max_iter : optional
        Of the MAP fit, as :func:`map_classifier`.

    Returns
    -------
    float

    Notes
    -----
    **The flat intercept.** ``p(b) = 1`` is improper; as in the regression evidence
    (:func:`bayeswd.maximize_evidence` with ``intercept="integrate"`` and docs/mathematics.md),
    bayeswd integrates it with the unit density: each flat intercept contributes ``(1/2) log 2 pi``
    and its rows and columns of ``H``, and no normaliser. The result is therefore defined up to a
    constant that does not depend on ``tau``: exact for comparing and maximising over ``tau``, not
    for comparing models with different numbers of flat intercepts. The categorical model's
    ``b_0 = 0`` leaves ``K - 1`` of them (``P = d K + K - 1``, ``P_w = d K``); without an intercept
    ``P = P_w``. The prior on every entry of ``W`` makes ``H`` positive definite although the
    softmax likelihood is flat along ``W -> W + c 1^T``.

    The error of the approximation is ``O(1/n)`` in ``log p`` for fixed ``d``; the tests measure it
    against 2-D quadrature (docs/classification.md).
    """
    _gaussian_only(prior)
    tau = check_positive(tau, "tau")
    fit_intercept = check_bool(fit_intercept, "fit_intercept")
    tol = _DEFAULT_TOL if tol is None else check_positive(tol, "tol")
    max_iter = _DEFAULT_MAX_ITER["gaussian"] if max_iter is None else check_positive_int(max_iter, "max_iter")
    prob, _, _ = _problem(X, y, "gaussian", tau, family, fit_intercept)
    value, converged = _laplace_evidence(prob, tau, tol, max_iter)
    if not converged:
        warnings.warn(f"classifier_log_evidence: the MAP at tau={tau:.4g} stopped before tol={tol:g}.",
                      ConvergenceWarning, stacklevel=2)
    return value


def _check_taus(taus: Any) -> np.ndarray:
    expected = "a 1-D array of at least 3 distinct positive finite prior sds"
    if taus is None:  # the C range of scikit-learn's default Cs, four points per decade of C
        return np.sqrt(np.logspace(-4, 4, 33))
    if isinstance(taus, (bool, np.bool_, str, bytes)) or isinstance(taus, numbers.Number):
        raise TypeError(f"`taus` must be None or {expected}; got {describe(taus)}.")
    if isinstance(taus, torch.Tensor):
        taus = taus.detach().cpu().numpy()
    try:
        arr = np.asarray(taus, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"`taus` must be None or {expected}; got {describe(taus)}.") from None
    if arr.ndim != 1:
        raise ValueError(f"`taus` must be None or {expected}; got an array of shape {arr.shape}.")
    bad = ~(np.isfinite(arr) & (arr > 0))
    if bad.any():
        raise ValueError(f"`taus` must be None or {expected}; got the entry {float(arr[bad][0])!r}.")
    arr = np.unique(arr)
    if arr.size < 3:
        raise ValueError(f"`taus` must be None or {expected}; got {arr.size} distinct values.")
    return arr


def classifier_evidence(
    X: Any,
    y: Any,
    *,
    taus: Any = None,
    prior: str = "gaussian",
    family: str = "auto",
    fit_intercept: bool = True,
    tol: float | None = None,
    max_iter: int | None = None,
) -> ClassifierEvidenceResult:
    r"""Empirical Bayes for a gaussian-prior classifier: maximise the Laplace-approximate evidence.

    :func:`classifier_log_evidence` is evaluated on the grid ``taus`` and refined by bounded Brent
    search in ``log tau`` between the neighbours of the best grid point (as
    :func:`bayeswd.maximize_evidence` does in ``log lam``). Each evaluation is one Newton MAP fit
    and one Cholesky factorisation of its Hessian.

    Parameters
    ----------
    X : array_like, shape (n, d)
    y : array_like, shape (n,)
    taus : array_like, optional
        Grid of prior sds (at least 3 distinct values; sorted). Default:
        ``sqrt(np.logspace(-4, 4, 33))``, i.e. ``C = tau^2`` over scikit-learn's default range
        ``[1e-4, 1e4]`` with four points per decade of ``C``.
    prior : {"gaussian"}, default "gaussian"
        ``"laplace"`` raises ``ValueError`` (see :func:`classifier_log_evidence`).
    family : {"auto", "bernoulli", "categorical"}, default "auto"
    fit_intercept : bool, default True
        Flat intercepts integrated with the unit density (see :func:`classifier_log_evidence`).
    tol, max_iter : optional
        Of every MAP fit, as :func:`map_classifier`.

    Returns
    -------
    ClassifierEvidenceResult

    Warns
    -----
    BayeswdWarning
        When the maximum is at an end of the grid (it may increase beyond it); that end is kept.
    ConvergenceWarning
        When a MAP fit stops before ``tol``.

    Examples
    --------
    >>> import numpy as np
    >>> from bayeswd.classification.selection import classifier_evidence
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3))
    >>> y = (X @ np.array([1.0, -0.5, 0.0]) + rng.logistic(size=200) > 0).astype(int)
    >>> ev = classifier_evidence(X, y)
    >>> ev.fit.tau == ev.tau, abs(ev.C - ev.tau**2) < 1e-12
    (True, True)
    """
    _gaussian_only(prior)
    grid = _check_taus(taus)
    fit_intercept = check_bool(fit_intercept, "fit_intercept")
    tol = _DEFAULT_TOL if tol is None else check_positive(tol, "tol")
    max_iter = _DEFAULT_MAX_ITER["gaussian"] if max_iter is None else check_positive_int(max_iter, "max_iter")
    prob, _, _ = _problem(X, y, "gaussian", float(grid[0]), family, fit_intercept)
    unconverged: list[float] = []

    def log_ev(tau: float) -> float:
        value, ok = _laplace_evidence(prob, tau, tol, max_iter)
        if not ok:
            unconverged.append(tau)
        return value

    curve = np.array([log_ev(float(t)) for t in grid])
    i = int(np.argmax(curve))
    at_boundary = i in (0, grid.size - 1)
    if at_boundary:
        warnings.warn(
            f"classifier_evidence: the evidence is largest at the end of the tau grid (tau={grid[i]:.4g}, "
            f"C={grid[i] ** 2:.4g}); it may increase beyond it.", BayeswdWarning, stacklevel=2,
        )
        tau, best = float(grid[i]), float(curve[i])
    else:
        res = scipy.optimize.minimize_scalar(
            lambda t: -log_ev(math.exp(t)),
            bounds=(math.log(grid[i - 1]), math.log(grid[i + 1])),
            method="bounded",
            options={"xatol": 1e-8, "maxiter": 200},
        )
        tau, best = math.exp(float(res.x)), -float(res.fun)
        if best < curve[i]:  # Brent never returns worse than its start; keep the grid point if so
            tau, best = float(grid[i]), float(curve[i])
    if unconverged:
        warnings.warn(
            f"classifier_evidence: {len(unconverged)} MAP fits stopped before tol={tol:g} (e.g. at "
            f"tau={unconverged[0]:.4g}); their evidence may be slightly off.",
            ConvergenceWarning,
            stacklevel=2,
        )
    fit = map_classifier(X, y, prior="gaussian", tau=tau, family=prob.family, fit_intercept=fit_intercept,
                         tol=tol, max_iter=max_iter)
    return ClassifierEvidenceResult(
        tau=tau, lam=1.0 / tau**2, C=tau**2, log_evidence=best, taus=grid, lams=1.0 / grid**2, Cs=grid**2,
        log_evidence_curve=curve, fit=fit, family=prob.family, fit_intercept=fit_intercept,
        n_weights=prob.n_weights, n_intercepts=prob.size - prob.n_weights, at_boundary=at_boundary,
    )
