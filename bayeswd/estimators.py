"""scikit-learn estimators: Bayesian linear and logistic regression and their MAPs, in bayeswd's conventions.

Four estimators follow scikit-learn's conventions (``get_params`` / ``set_params``, no work in
``__init__``, fitted attributes with a trailing underscore, ``n_features_in_`` and
``feature_names_in_``), so they work in ``Pipeline``, ``GridSearchCV`` and ``cross_val_score``:

* :class:`BayesianLinearRegression`: the posterior of :func:`bayeswd.sample_posterior` (gaussian or
  laplace prior), with the posterior predictive mean and sd from ``predict(X, return_std=True)``
  and draws of new targets from ``sample_y``;
* :class:`MAPRegression`: the posterior mode of :func:`bayeswd.map_fit`, parameterised by the
  ``alpha`` of scikit-learn's ``Ridge`` (gaussian prior) or ``Lasso`` (laplace prior);
* :class:`BayesianLogisticRegression`: the posterior of logistic or softmax regression
  (:func:`bayeswd.classification.sample_classifier_posterior`), predicting the posterior
  predictive class probabilities;
* :class:`MAPClassifier`: the posterior mode of :func:`bayeswd.map_classifier`, parameterised by
  the ``C`` of scikit-learn's ``LogisticRegression`` (its ``coef_``, ``intercept_`` and
  ``predict_proba``).

scikit-learn is an optional dependency: ``pip install bayeswd[sklearn]``. ``import bayeswd`` does
not need it; ``bayeswd.BayesianLinearRegression``, ``bayeswd.MAPRegression``,
``bayeswd.BayesianLogisticRegression`` and ``bayeswd.MAPClassifier`` import this module on first
use.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy.special import expit, log_expit, log_softmax, softmax

from bayeswd._validation import (
    check_bool,
    check_choice,
    check_positive,
    check_positive_int,
    check_seed,
    describe,
    resolve_device,
)
from bayeswd.classification.conventions import tau_from_logistic_C
from bayeswd.classification.map import CLASSIFIER_FAMILIES, map_classifier
from bayeswd.classification.posterior import (
    _resolve as _resolve_classifier_method,
)
from bayeswd.classification.posterior import (
    _tau_argument,
    sample_classifier_posterior,
)
from bayeswd.conventions import PRIORS
from bayeswd.exact import covariance_factor, gaussian_posterior_from_stats
from bayeswd.infer.options import Auto, Exact, MethodOptions, resolve_method
from bayeswd.map import map_fit
from bayeswd.posterior import sample_posterior
from bayeswd.selection.empirical_bayes import maximize_evidence, maximize_evidence_given
from bayeswd.stats import sufficient_statistics

try:
    import sklearn  # noqa: F401  (first: a missing scikit-learn fails here, with the message below)
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.utils import check_random_state
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted
except ImportError as err:  # pragma: no cover - exercised in a test with scikit-learn hidden
    raise ImportError(
        "bayeswd's scikit-learn estimators need scikit-learn (>= 1.3): install it with "
        "`pip install bayeswd[sklearn]`."
    ) from err

try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data as _sklearn_validate_data
except ImportError:  # pragma: no cover - scikit-learn 1.3 to 1.5
    _sklearn_validate_data = None

__all__ = ["BayesianLinearRegression", "BayesianLogisticRegression", "MAPClassifier", "MAPRegression"]

#: How ``sigma=None`` / ``tau=None`` are resolved by :class:`BayesianLinearRegression`.
SCALE_SELECTIONS = ("evidence", "sample")
_METHOD_NAMES = ("auto", "exact", "collapsed", "nuts", "svi", "gibbs", "imh")
#: Number of posterior draws times rows handled at once by ``predict`` (bounds its memory).
_BLOCK_ELEMENTS = 1 << 22


def _validate(estimator: BaseEstimator, X: Any, y: Any = None, *, reset: bool) -> Any:
    """scikit-learn's input validation: float64 arrays, ``n_features_in_``, ``feature_names_in_``.

    At fit (``reset=True``) ``X`` and ``y`` are checked together (at least 2 rows, numeric ``y``);
    at predict ``X`` is checked against the fitted number and names of features.
    """
    kwargs: dict[str, Any] = {"dtype": np.float64, "reset": reset}
    if reset:
        kwargs.update(y_numeric=True, ensure_min_samples=2)
        args = (X, y)
    else:
        args = (X,)
    if _sklearn_validate_data is not None:
        out = _sklearn_validate_data(estimator, *args, **kwargs)
    else:  # pragma: no cover - scikit-learn < 1.6
        out = estimator._validate_data(*args, **kwargs)
    if reset:  # y_numeric keeps integer targets as they are: float64 like X
        return out[0], np.asarray(out[1], dtype=np.float64)
    return out


def _validate_labels(estimator: BaseEstimator, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's input validation for a classifier's fit: float64 ``X``, class labels ``y``.

    ``y`` keeps its labels (numbers, strings, booleans); a continuous or multi-output ``y`` raises
    scikit-learn's ``ValueError`` ("Unknown label type"), a 2-D column warns and is raveled.
    """
    kwargs: dict[str, Any] = {"dtype": np.float64, "reset": True, "ensure_min_samples": 2}
    if _sklearn_validate_data is not None:
        X, y = _sklearn_validate_data(estimator, X, y, **kwargs)
    else:  # pragma: no cover - scikit-learn < 1.6
        X, y = estimator._validate_data(X, y, **kwargs)
    check_classification_targets(y)
    return X, y


def _sklearn_layout(coef: np.ndarray, intercept: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Convert bayeswd's ``(coef, intercept)`` to ``LogisticRegression``'s ``(coef_, intercept_)``.

    Bernoulli (``coef`` of shape ``(d,)``, ``intercept`` of shape ``()``): ``coef_`` ``(1, d)``,
    ``intercept_`` ``(1,)``, the log odds of ``classes_[1]``. Categorical (``coef`` ``(d, K)``,
    ``intercept`` ``(K,)`` with the reference class's ``intercept[0] == 0``): with ``K > 2``,
    ``coef_ = coef.T`` of shape ``(K, d)`` and the intercepts shifted to sum to zero (scikit-learn's
    choice; the softmax does not see a common shift); with ``K == 2``, the binary layout of the
    difference ``coef[:, 1] - coef[:, 0]``, ``intercept[1] - intercept[0]`` (the same
    probabilities).
    """
    if coef.ndim == 1:
        return coef[None, :].copy(), np.reshape(intercept, (1,)).astype(np.float64)
    if coef.shape[1] == 2:
        return (coef[:, 1] - coef[:, 0])[None, :], np.array([intercept[1] - intercept[0]], dtype=np.float64)
    return coef.T.copy(), intercept - intercept.mean()


def _tensor(a: np.ndarray) -> torch.Tensor:
    """A float64 tensor sharing ``a``'s memory, or a copy when ``a`` is read-only (a memmap)."""
    return torch.from_numpy(a if a.flags.writeable else a.copy())


def _named(estimator: BaseEstimator, X: np.ndarray) -> Any:
    """``X`` for bayeswd: a DataFrame carrying ``feature_names_in_`` when fit saw names."""
    names = getattr(estimator, "feature_names_in_", None)
    return X if names is None else pd.DataFrame(X, columns=[str(c) for c in names], copy=False)


def _design(X: np.ndarray, fit_intercept: bool) -> np.ndarray:
    """``[X 1]`` with an intercept, ``X`` without: the rows that multiply ``theta = (w, b)``."""
    return np.hstack([X, np.ones((X.shape[0], 1))]) if fit_intercept else X


def _evidence_scales(
    X: np.ndarray, y: np.ndarray, prior: str, sigma: float | None, tau: float | None, fit_intercept: bool
) -> tuple[float, float]:
    """``sigma`` and ``tau`` with each ``None`` replaced by its empirical-Bayes value.

    The gaussian model's evidence (the bayeswd model's exact one: the flat intercept integrated
    out, ``intercept="integrate"``, as the ``bayeswd`` command uses it) is maximised over the
    missing scales (both: :func:`bayeswd.maximize_evidence`; one: with the other held fixed). The
    laplace model has no closed-form evidence: its ``tau`` is the gaussian one divided by
    ``sqrt(2)``, the laplace prior of the same variance ``2 tau^2`` (as the ``bayeswd`` command).
    """
    ratio = math.sqrt(2.0) if prior == "laplace" else 1.0  # gaussian sd of the same prior variance
    tau_g = None if tau is None else tau * ratio
    if sigma is None and tau_g is None:
        ev = maximize_evidence(X, y, fit_intercept=fit_intercept, intercept="integrate")
        sigma, tau_g = ev.sigma, ev.tau
    else:
        sigma, tau_g = maximize_evidence_given(X, y, sigma=sigma, tau=tau_g, fit_intercept=fit_intercept)
    return float(sigma), float(tau_g) / ratio


class BayesianLinearRegression(RegressorMixin, BaseEstimator):
    r"""Bayesian linear regression with a gaussian (ridge) or laplace (lasso) prior on the weights.

    The model of :func:`bayeswd.sample_posterior`: ``y_i ~ Normal(x_i . w + b, sigma^2)``,
    ``w_j ~ Normal(0, tau^2)`` (gaussian) or ``Laplace(0, tau)`` (laplace, variance
    ``2 tau^2``), a flat prior on the intercept ``b``. ``fit`` infers the posterior; ``predict``
    returns the posterior predictive mean and, with ``return_std=True``, its sd *including the
    noise* (as ``BayesianRidge.predict``); ``sample_y`` draws new targets from the posterior
    predictive (as ``GaussianProcessRegressor.sample_y``).

    Parameters
    ----------
    prior : {"gaussian", "laplace"}, default "gaussian"
    sigma : float or None, default None
        Noise sd. A number fixes it; ``None`` lets the data choose it (see ``scales``).
    tau : float or None, default None
        Prior scale of the weights (the sd of the gaussian prior; the laplace scale, whose sd is
        ``sqrt(2) tau``). A number fixes it; ``None`` lets the data choose it (see ``scales``).
    scales : {"evidence", "sample"}, default "evidence"
        How a ``None`` ``sigma`` or ``tau`` is chosen.

        * ``"evidence"`` (empirical Bayes): fixed at the maximum of the gaussian model's marginal
          likelihood, the weights and the flat intercept integrated out (the exact evidence of this
          model, :func:`bayeswd.maximize_evidence` with ``intercept="integrate"``, as the
          ``bayeswd`` command does), over the missing scales with a given one held fixed. For the
          laplace prior, whose evidence has no closed form, ``tau`` is the gaussian maximum over
          ``sqrt(2)``: the laplace prior of the same variance. The chosen values are ``sigma_`` and
          ``tau_``.
        * ``"sample"`` (full Bayes): sampled with the weights under
          :func:`bayeswd.sample_posterior`'s weakly informative hyperpriors
          (``sigma ~ HalfNormal(sd(y))``, ``tau ~ HalfNormal(sd(y) / s_x)``), averaging the
          predictions over them. Needs a sampling method (``"collapsed"``, ``"nuts"`` or ``"svi"``).
    method : {"auto", "exact", "collapsed", "nuts", "svi", "gibbs", "imh"} or options object, default "auto"
        The inference method, as :func:`bayeswd.sample_posterior` takes it (``bayeswd.NUTS(...)``,
        ``bayeswd.SVI(...)``, ``bayeswd.PyroNUTS(...)``, ``bayeswd.Exact()``,
        ``bayeswd.Gibbs(...)``, ``bayeswd.Collapsed(...)``, ``bayeswd.IMH(...)``). ``"auto"`` is
        ``"exact"`` (the conjugate gaussian posterior: instant, and ``predict`` in closed form) for
        the gaussian prior with fixed scales (given, or chosen by the evidence),
        ``bayeswd.Collapsed()`` for the gaussian prior with ``scales="sample"`` (the weights
        integrated out, near-independent draws), and for the laplace prior the choice
        :func:`bayeswd.sample_posterior` makes once it has the data (the independence sampler
        ``bayeswd.IMH()`` where ``n > d + 1`` and its pilot accepts enough, else NUTS or the
        blocked Gibbs sampler; see docs/benchmarks.md).
    num_samples : int, default 1000
        Draws per chain kept in ``posterior_``.
    num_chains : int, default 4
    seed : int, default 0
        Seeds the inference (see :func:`bayeswd.sample_posterior`): the same seed gives the same
        fit.
    fit_intercept : bool, default True
        Infer a flat-prior intercept; ``False`` fixes it at 0.
    device : {"cpu", "cuda", "auto"}, default "cpu"
        Where inference runs (``"auto"``: CUDA when available). Results are on the CPU.
    progress_bar : bool, default False
        Show the samplers' progress bars.

    Attributes
    ----------
    posterior_ : bayeswd.Posterior
        The full posterior (draws ``(chain, draw, ...)``, diagnostics, ``summary()``,
        ``to_inference_data()`` for ArviZ).
    coef_ : numpy.ndarray, shape (n_features,)
        Posterior mean of the weights: in closed form for ``method="exact"``, else the mean of the
        draws.
    intercept_ : float
        Posterior mean of the intercept (0.0 with ``fit_intercept=False``).
    sigma_, tau_ : float
        The noise sd and prior scale used: the given value, the evidence maximum, or (when
        sampled) their posterior mean.
    scale_selection_ : dict of str to str
        How ``sigma_`` and ``tau_`` were set: ``"given"``, ``"evidence"`` or ``"sampled"``.
    method_ : options object
        The inference method that ran (``"auto"`` resolved).
    n_features_in_ : int
    feature_names_in_ : numpy.ndarray of str
        Only when ``X`` was a DataFrame with string column names (they become the posterior's
        feature names).

    Notes
    -----
    The posterior predictive sd is ``sqrt(Var[x . w + b] + E[sigma^2])``, over the posterior.
    With ``method="exact"`` both terms are computed in closed form from the conjugate posterior;
    otherwise they are the variance of ``x . w + b`` over the draws (``ddof=0``) and the mean of
    ``sigma^2`` over the draws (``sigma^2`` when fixed). Custom hyperpriors (a
    ``torch.distributions`` prior on ``sigma`` or ``tau``) are available from
    :func:`bayeswd.sample_posterior` directly.

    Examples
    --------
    >>> import numpy as np
    >>> from bayeswd.estimators import BayesianLinearRegression
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [2.0, 1.0]])
    >>> est = BayesianLinearRegression(sigma=0.5, tau=2.0).fit(X, np.array([1.0, 2.0, 3.0, 5.0]))
    >>> mean, sd = est.predict(np.array([[1.0, 1.0]]), return_std=True)
    >>> print(mean.round(4), sd.round(4))
    [2.9808] [0.576]
    """

    def __init__(
        self,
        *,
        prior: str = "gaussian",
        sigma: float | None = None,
        tau: float | None = None,
        scales: str = "evidence",
        method: str | MethodOptions = "auto",
        num_samples: int = 1000,
        num_chains: int = 4,
        seed: int = 0,
        fit_intercept: bool = True,
        device: str = "cpu",
        progress_bar: bool = False,
    ) -> None:
        self.prior = prior
        self.sigma = sigma
        self.tau = tau
        self.scales = scales
        self.method = method
        self.num_samples = num_samples
        self.num_chains = num_chains
        self.seed = seed
        self.fit_intercept = fit_intercept
        self.device = device
        self.progress_bar = progress_bar

    def _resolve_method(self, prior: str, fixed_scales: bool) -> MethodOptions:
        method = self.method
        if isinstance(method, str):
            method = check_choice(method, "method", _METHOD_NAMES)
            if method == "auto":
                if prior == "laplace":  # decided by sample_posterior once it has read the data
                    return Auto()
                scale = 1.0 if fixed_scales else None  # a number: fixed; None: sampled
                return Auto().choose(prior, scale, scale)[0]
        options = resolve_method(method, {})
        if isinstance(options, Exact) and not (prior == "gaussian" and fixed_scales):
            why = (f"prior={prior!r} has no closed form" if prior != "gaussian" else
                   "sigma or tau would be sampled (scales='sample')")
            raise ValueError(
                f"`method` 'exact' needs the gaussian prior with sigma and tau fixed; {why}: use "
                "method='nuts' or 'svi'."
            )
        return options

    def fit(self, X: Any, y: Any) -> BayesianLinearRegression:
        """Infer the posterior from training data.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
        y : array_like of shape (n_samples,)

        Returns
        -------
        self

        Raises
        ------
        ValueError, TypeError
            For an invalid parameter (the message names it) or invalid data.
        """
        prior = check_choice(self.prior, "prior", PRIORS)
        sigma = check_positive(self.sigma, "sigma", allow_none=True)
        tau = check_positive(self.tau, "tau", allow_none=True)
        scales = check_choice(self.scales, "scales", SCALE_SELECTIONS)
        num_samples = check_positive_int(self.num_samples, "num_samples")
        num_chains = check_positive_int(self.num_chains, "num_chains")
        seed = check_seed(self.seed)
        fit_intercept = check_bool(self.fit_intercept, "fit_intercept")
        progress_bar = check_bool(self.progress_bar, "progress_bar")
        device = resolve_device(self.device)
        fixed = scales == "evidence" or (sigma is not None and tau is not None)
        options = self._resolve_method(prior, fixed)
        X, y = _validate(self, X, y, reset=True)

        source = {"sigma": "given" if sigma is not None else ("evidence" if fixed else "sampled"),
                  "tau": "given" if tau is not None else ("evidence" if fixed else "sampled")}
        if fixed and (sigma is None or tau is None):
            sigma, tau = _evidence_scales(X, y, prior, sigma, tau, fit_intercept)
        post = sample_posterior(
            _named(self, X), y, prior=prior, sigma=sigma, tau=tau, method=options,
            num_samples=num_samples, num_chains=num_chains, seed=seed, device=device,
            fit_intercept=fit_intercept, progress_bar=progress_bar,
        )
        self.posterior_ = post
        self.method_ = resolve_method(post.method, {}) if isinstance(options, Auto) else options
        self.scale_selection_ = source
        self.sigma_ = float(sigma) if sigma is not None else float(post.samples["sigma"].mean())
        self.tau_ = float(tau) if tau is not None else float(post.samples["tau"].mean())
        if isinstance(options, Exact):
            # the conjugate posterior in closed form: its mean, and a factor F of its covariance
            stats = sufficient_statistics(_tensor(X), _tensor(y), fit_intercept)
            exact = gaussian_posterior_from_stats(stats, sigma=self.sigma_, tau=self.tau_)
            self._theta_mean = exact.mean.numpy()
            self._theta_factor = covariance_factor(stats, sigma=self.sigma_, tau=self.tau_).numpy()
            theta_mean = self._theta_mean
        else:
            self._theta_mean = self._theta_factor = None
            theta_mean = self._theta_draws().mean(0)
        d = X.shape[1]
        self.coef_ = np.array(theta_mean[:d])
        self.intercept_ = float(theta_mean[d]) if fit_intercept else 0.0
        return self

    def _theta_draws(self) -> np.ndarray:
        """Posterior draws of ``theta = (w, b)`` (``b`` when fitted), shape (chains * draws, p)."""
        post = self.posterior_
        coef = post.samples["coef"].numpy().reshape(-1, post.samples["coef"].shape[-1])
        if not post.fit_intercept:
            return coef
        return np.hstack([coef, post.samples["intercept"].numpy().reshape(-1, 1)])

    def _sigma_draws(self) -> np.ndarray:
        """``sigma`` for each draw (the fixed value repeated when it was not sampled)."""
        post = self.posterior_
        if "sigma" in post.samples:
            return post.samples["sigma"].numpy().reshape(-1)
        return np.full(post.num_chains * post.num_draws, self.sigma_)

    def predict(self, X: Any, return_std: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Posterior predictive mean (and sd, noise included) at new rows.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
        return_std : bool, default False
            Also return the posterior predictive sd of a new target ``y = x . w + b + noise``.

        Returns
        -------
        y_mean : numpy.ndarray of shape (n_samples,)
        y_std : numpy.ndarray of shape (n_samples,)
            Only with ``return_std=True``.
        """
        check_is_fitted(self)
        return_std = check_bool(return_std, "return_std")
        A = _design(_validate(self, X, reset=False), self.posterior_.fit_intercept)
        if self._theta_mean is not None:
            mean = A @ self._theta_mean
            if not return_std:
                return mean
            var_mu = np.sum((A @ self._theta_factor) ** 2, axis=1)
            return mean, np.sqrt(var_mu + self.sigma_**2)
        theta = self._theta_draws()
        rows = max(1, _BLOCK_ELEMENTS // theta.shape[0])
        mean, var_mu = np.empty(A.shape[0]), np.empty(A.shape[0])
        for start in range(0, A.shape[0], rows):
            mu = theta @ A[start:start + rows].T  # (draws, rows)
            mean[start:start + rows] = mu.mean(0)
            var_mu[start:start + rows] = mu.var(0)
        if not return_std:
            return mean
        return mean, np.sqrt(var_mu + np.mean(self._sigma_draws() ** 2))

    def sample_y(self, X: Any, n_samples: int = 1, random_state: Any = 0) -> np.ndarray:
        """Draws of new targets at ``X`` from the posterior predictive, jointly over the rows.

        Each draw takes one posterior draw of ``(w, b, sigma)`` and adds independent noise:
        ``y = X w + b + sigma * eps``. With ``method="exact"`` the weights are drawn afresh from
        the conjugate posterior; otherwise draws of ``posterior_`` are picked uniformly at random
        (with replacement).

        Parameters
        ----------
        X : array_like of shape (n_rows, n_features)
        n_samples : int, default 1
            Number of draws.
        random_state : int, numpy.random.RandomState or None, default 0
            As in scikit-learn (``GaussianProcessRegressor.sample_y``).

        Returns
        -------
        numpy.ndarray of shape (n_rows, n_samples)
        """
        check_is_fitted(self)
        n_samples = check_positive_int(n_samples, "n_samples")
        rng = check_random_state(random_state)
        A = _design(_validate(self, X, reset=False), self.posterior_.fit_intercept)
        if self._theta_mean is not None:
            z = rng.standard_normal((self._theta_factor.shape[1], n_samples))
            theta = self._theta_mean[:, None] + self._theta_factor @ z  # (p, n_samples)
            sig = np.full(n_samples, self.sigma_)
        else:
            draws = self._theta_draws()
            pick = rng.randint(0, draws.shape[0], size=n_samples)
            theta, sig = draws[pick].T, self._sigma_draws()[pick]
        return A @ theta + sig * rng.standard_normal((A.shape[0], n_samples))


class MAPRegression(RegressorMixin, BaseEstimator):
    r"""The MAP of linear regression under a gaussian or laplace prior, with scikit-learn's ``alpha``.

    :func:`bayeswd.map_fit` with the penalty given as scikit-learn's ``alpha`` for the same prior
    (docs/conventions.md):

    * ``prior="gaussian"``: ``Ridge(alpha)``, minimising ``||y - Xw - b||^2 + alpha ||w||_2^2``;
      the gaussian prior with ``alpha = sigma^2 / tau^2``.
    * ``prior="laplace"``: ``Lasso(alpha)``, minimising ``||y - Xw - b||^2 / (2 n) + alpha
      ||w||_1`` (``n`` training rows); the laplace prior with ``alpha = sigma^2 / (n tau)``.

    So ``MAPRegression(alpha=a)`` gives the coefficients of ``Ridge(alpha=a)`` (gaussian) or
    ``Lasso(alpha=a)`` (laplace), and a grid search over ``alpha`` is the grid search users know.
    The MAP depends on ``alpha`` only; ``sigma`` turns ``alpha`` into the prior scale ``tau_``.

    Parameters
    ----------
    alpha : float, default 1.0
        The penalty, positive, with the meaning above.
    prior : {"gaussian", "laplace"}, default "gaussian"
    sigma : float, default 1.0
        Noise sd assumed when the penalty is read as a prior: ``tau_ = sigma / sqrt(alpha)``
        (gaussian) or ``sigma^2 / (n alpha)`` (laplace). It does not change the coefficients.
    fit_intercept : bool, default True
        Estimate an unpenalised intercept.
    method : str, default "auto"
        :func:`bayeswd.map_fit`'s solver: ``"newton"`` (gaussian default) or ``"lbfgs"``;
        ``"proximal"`` (laplace default, exact zeros); or the training loops ``"sgd"``, ``"adam"``,
        ``"adamw"``, ``"subgradient"``.
    max_iter : int or None, default None
        Iteration budget (``None``: the solver's default).
    tol : float or None, default None
        Stopping tolerance (``None``: the solver's default; see :func:`bayeswd.map_fit`).

    Attributes
    ----------
    coef_ : numpy.ndarray, shape (n_features,)
    intercept_ : float
    tau_ : float
        The prior scale equal to ``alpha`` at ``sigma``.
    lam_ : float
        The penalty of :func:`bayeswd.map_fit`'s sum-of-squares form: ``alpha`` (gaussian) or
        ``2 n alpha`` (laplace, in ``||r||^2 + lam ||w||_1``).
    result_ : bayeswd.MAPResult
        The full result (``objective``, ``optimality``, ``converged``, ``weight_decay`` for the
        gaussian prior: ``torch.optim.SGD``'s on ``MSELoss``).
    n_iter_ : int
    n_features_in_ : int
    feature_names_in_ : numpy.ndarray of str
        Only when ``X`` was a DataFrame with string column names.

    Examples
    --------
    >>> import numpy as np
    >>> from bayeswd.estimators import MAPRegression
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [2.0, 1.0]])
    >>> est = MAPRegression(alpha=1.0).fit(X, np.array([1.0, 2.0, 3.0, 5.0]))
    >>> est.coef_.round(6)  # Ridge(alpha=1.0)'s
    array([1.333333, 0.428571])
    """

    def __init__(
        self,
        alpha: float = 1.0,
        *,
        prior: str = "gaussian",
        sigma: float = 1.0,
        fit_intercept: bool = True,
        method: str = "auto",
        max_iter: int | None = None,
        tol: float | None = None,
    ) -> None:
        self.alpha = alpha
        self.prior = prior
        self.sigma = sigma
        self.fit_intercept = fit_intercept
        self.method = method
        self.max_iter = max_iter
        self.tol = tol

    def fit(self, X: Any, y: Any) -> MAPRegression:
        """Find the MAP (the ``Ridge`` / ``Lasso`` solution at ``alpha``).

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
        y : array_like of shape (n_samples,)

        Returns
        -------
        self

        Raises
        ------
        ValueError, TypeError
            For an invalid parameter (the message names it) or invalid data.
        """
        prior = check_choice(self.prior, "prior", PRIORS)
        alpha = check_positive(self.alpha, "alpha")
        sigma = check_positive(self.sigma, "sigma")
        fit_intercept = check_bool(self.fit_intercept, "fit_intercept")
        if not isinstance(self.method, str):
            raise TypeError(
                f"`method` must be a string naming a map_fit method; got {describe(self.method)}."
            )
        X, y = _validate(self, X, y, reset=True)
        lam = alpha if prior == "gaussian" else 2.0 * X.shape[0] * alpha
        result = map_fit(
            _named(self, X), y, prior=prior, sigma=sigma, lam=lam, fit_intercept=fit_intercept,
            method=self.method, max_iter=self.max_iter, tol=self.tol,
        )
        self.result_ = result
        self.coef_ = result.coef.numpy().copy()
        self.intercept_ = float(result.intercept)
        self.tau_ = float(result.tau)
        self.lam_ = float(result.lam)
        self.n_iter_ = int(result.n_iter)
        return self

    def predict(self, X: Any) -> np.ndarray:
        """``X coef_ + intercept_``.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)

        Returns
        -------
        numpy.ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        return _validate(self, X, reset=False) @ self.coef_ + self.intercept_


class MAPClassifier(ClassifierMixin, BaseEstimator):
    r"""The MAP of logistic / softmax regression under a gaussian or laplace prior, with scikit-learn's ``C``.

    :func:`bayeswd.map_classifier` with the penalty given as the ``C`` of scikit-learn's
    ``LogisticRegression`` for the same prior (docs/classification.md):

    * ``prior="gaussian"``: ``LogisticRegression(C, l1_ratio=0)`` (``penalty="l2"``), minimising
      ``C sum_i CE_i + ||W||^2 / 2``; the gaussian prior ``Normal(0, tau^2)`` with ``C = tau^2``.
    * ``prior="laplace"``: ``LogisticRegression(C, l1_ratio=1, solver="saga")`` (``penalty="l1"``),
      minimising ``C sum_i CE_i + ||W||_1``; the laplace prior ``Laplace(0, tau)`` with ``C = tau``.

    ``CE_i`` is the log loss of row ``i`` (summed over the rows, not averaged) and the intercepts
    are not penalised (a flat prior). So ``MAPClassifier(C=c)`` has the coefficients and the
    ``predict_proba`` of ``LogisticRegression(C=c)`` fitted to convergence with the solvers
    ``"lbfgs"``, ``"newton-cg"``, ``"newton-cholesky"``, ``"sag"`` or ``"saga"`` (the only one for
    L1 with more than two classes), and a grid search over ``C`` is the grid search users know.
    ``solver="liblinear"`` is a *different* model: it penalises the intercept (the weight of a
    constant column of value ``intercept_scaling``, shrunk like the other weights), so its
    estimates differ unless ``intercept_scaling`` is large; it also has no multinomial model.

    Parameters
    ----------
    C : float, default 1.0
        Inverse penalty, positive, with the meaning above: ``C = tau^2`` (gaussian) or ``C = tau``
        (laplace). Ignored when ``tau`` is given.
    prior : {"gaussian", "laplace"}, default "gaussian"
        ``W_jk ~ Normal(0, tau^2)`` (L2, weight decay) or ``Laplace(0, tau)`` (L1, exact zeros).
    tau : float or None, default None
        The prior scale itself (sd of the gaussian prior, scale of the laplace prior); when given
        it takes the place of ``C`` (search over ``C`` with ``tau=None``).
    family : {"auto", "bernoulli", "categorical"}, default "auto"
        ``"auto"``: logistic regression (bernoulli, one weight vector) for two labels, softmax
        regression (categorical, a weight vector per class, the prior on every one, as
        scikit-learn's multinomial model) for more. ``"categorical"`` with two labels is the
        symmetric two-class softmax; its ``coef_`` is the difference of the two classes' weights
        (scikit-learn's binary layout), which for the gaussian prior is the bernoulli MAP at
        ``2 C``.
    fit_intercept : bool, default True
        Estimate unpenalised intercepts; ``False`` fixes them at 0.
    tol : float or None, default None
        Stopping tolerance on the optimality residual of :func:`bayeswd.map_classifier` (``None``:
        its default, ``1e-12``).
    max_iter : int or None, default None
        Most Newton (gaussian, default 100) or proximal-Newton (laplace, default 500) steps.

    Attributes
    ----------
    coef_ : numpy.ndarray, shape (1, n_features) or (n_classes, n_features)
        scikit-learn's layout. Two classes: the weights of the log odds of ``classes_[1]``.
        More: row ``k`` holds the weights of ``classes_[k]`` (``result_.coef.T``); for the
        gaussian prior every column sums to zero, as scikit-learn's.
    intercept_ : numpy.ndarray, shape (1,) or (n_classes,)
        Two classes: the intercept of the log odds. More: bayeswd's model fixes the reference
        class's intercept at 0 (``result_.intercept[0] == 0``); the softmax does not see a common
        shift of the intercepts, and ``intercept_`` is ``result_.intercept`` shifted to sum to
        zero, scikit-learn's choice (so equal to ``LogisticRegression``'s). Zeros with
        ``fit_intercept=False``.
    classes_ : numpy.ndarray, shape (n_classes,)
        The sorted labels.
    C_ : float
        The ``C`` of the prior used (``C``, or the one ``tau`` implies).
    tau_ : float
        The prior scale used.
    family_ : {"bernoulli", "categorical"}
    result_ : bayeswd.ClassifierMAPResult
        The full result (bayeswd's layout, ``objective``, ``optimality``, ``converged``,
        ``weight_decay`` for the gaussian prior: ``torch.optim.SGD``'s on the mean cross-entropy).
    n_iter_ : int
    n_features_in_ : int
    feature_names_in_ : numpy.ndarray of str
        Only when ``X`` was a DataFrame with string column names.

    Notes
    -----
    With the laplace prior and an even number of classes (at least four) the MAP of the weights
    can be a segment along ``W -> W + c 1^T``, which the softmax does not see: ``predict_proba``
    is unique, ``coef_`` then one point of the segment (possibly another than scikit-learn's).

    Examples
    --------
    >>> import numpy as np
    >>> from bayeswd.estimators import MAPClassifier
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [2.0, 1.0], [0.5, 0.0], [2.0, 2.0]])
    >>> y = np.array(["no", "no", "yes", "yes", "no", "yes"])
    >>> clf = MAPClassifier(C=1.0).fit(X, y)  # LogisticRegression(C=1.0)'s coefficients
    >>> clf.coef_.round(6), clf.intercept_.round(6)
    (array([[0.870285, 0.746574]]), array([-1.52616]))
    >>> clf.predict_proba(np.array([[1.5, 1.5]])).round(6)
    array([[0.28923, 0.71077]])
    """

    def __init__(
        self,
        C: float = 1.0,  # noqa: N803 (scikit-learn's name)
        *,
        prior: str = "gaussian",
        tau: float | None = None,
        family: str = "auto",
        fit_intercept: bool = True,
        tol: float | None = None,
        max_iter: int | None = None,
    ) -> None:
        self.C = C
        self.prior = prior
        self.tau = tau
        self.family = family
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter

    def fit(self, X: Any, y: Any) -> MAPClassifier:
        """Find the MAP (the ``LogisticRegression`` solution at ``C``).

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
        y : array_like of shape (n_samples,)
            Class labels (numbers, strings, booleans), at least two distinct ones.

        Returns
        -------
        self

        Raises
        ------
        ValueError, TypeError
            For an invalid parameter (the message names it) or invalid data.

        Warns
        -----
        bayeswd.ConvergenceWarning
            When ``tol`` is not reached within ``max_iter`` steps.
        """
        prior = check_choice(self.prior, "prior", PRIORS)
        C = check_positive(self.C, "C")  # noqa: N806
        tau = check_positive(self.tau, "tau", allow_none=True)
        family = check_choice(self.family, "family", CLASSIFIER_FAMILIES)
        fit_intercept = check_bool(self.fit_intercept, "fit_intercept")
        tol = check_positive(self.tol, "tol", allow_none=True)
        max_iter = None if self.max_iter is None else check_positive_int(self.max_iter, "max_iter")
        X, y = _validate_labels(self, X, y)
        result = map_classifier(
            _named(self, X), y, prior=prior, tau=tau_from_logistic_C(C, prior) if tau is None else tau,
            family=family, fit_intercept=fit_intercept, tol=tol, max_iter=max_iter,
        )
        intercept = result.intercept
        intercept = intercept.numpy() if isinstance(intercept, torch.Tensor) else np.float64(intercept)
        self.result_ = result
        self.classes_ = result.classes_
        self.coef_, self.intercept_ = _sklearn_layout(result.coef.numpy(), intercept)
        self.C_ = C if tau is None else float(result.C)  # the given C exactly, not tau^2 rounded
        self.tau_ = float(result.tau)
        self.family_ = result.family
        self.n_iter_ = int(result.n_iter)
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        """Logits ``X coef_.T + intercept_``, as ``LogisticRegression.decision_function``.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)

        Returns
        -------
        numpy.ndarray of shape (n_samples,) or (n_samples, n_classes)
            Two classes: the log odds of ``classes_[1]``; more: one column per class.
        """
        check_is_fitted(self)
        scores = _validate(self, X, reset=False) @ self.coef_.T + self.intercept_
        return scores[:, 0] if scores.shape[1] == 1 else scores

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities: the sigmoid of the log odds (two classes) or the softmax of the logits.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)

        Returns
        -------
        numpy.ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``.
        """
        scores = self.decision_function(X)
        if scores.ndim == 1:
            p = expit(scores)
            return np.column_stack([1.0 - p, p])
        return softmax(scores, axis=1)

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Log class probabilities, computed stably (no ``log(0)`` for a probability below 1e-308).

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)

        Returns
        -------
        numpy.ndarray of shape (n_samples, n_classes)
        """
        scores = self.decision_function(X)
        if scores.ndim == 1:
            return np.column_stack([log_expit(-scores), log_expit(scores)])
        return log_softmax(scores, axis=1)

    def predict(self, X: Any) -> np.ndarray:
        """The most probable label of each row (log odds > 0, or the largest logit).

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)

        Returns
        -------
        numpy.ndarray of shape (n_samples,)
            Elements of ``classes_``.
        """
        scores = self.decision_function(X)
        index = (scores > 0).astype(np.intp) if scores.ndim == 1 else scores.argmax(axis=1)
        return self.classes_[index]


class BayesianLogisticRegression(ClassifierMixin, BaseEstimator):
    r"""Bayesian logistic / softmax regression with a gaussian (L2) or laplace (L1) prior on the weights.

    The model of :func:`bayeswd.classification.sample_classifier_posterior`:
    ``y_i ~ Categorical(softmax(x_i W + b))`` (for two labels ``Bernoulli(sigmoid(x_i . w + b))``),
    ``W_jk ~ Normal(0, tau^2)`` (gaussian) or ``Laplace(0, tau)`` (laplace), flat intercepts; its
    mode is :class:`MAPClassifier` and ``LogisticRegression(C)`` with ``C = tau^2`` (gaussian) or
    ``C = tau`` (laplace). ``fit`` draws from the posterior; ``predict_proba`` returns the
    *posterior predictive* probabilities ``E[p(y = k | x, W, b) | data]``, the average of the
    probabilities over the draws, and ``predict`` the most probable label under them.

    Parameters
    ----------
    prior : {"gaussian", "laplace"}, default "gaussian"
    tau : float, torch.distributions.Distribution or None, default None
        Prior scale of the weights. A number fixes it; ``None`` samples it under
        ``HalfNormal(2.5 / s_x)`` (``s_x`` the root mean column sd of ``X``): full Bayes over the
        strength of the regularisation, no ``C`` to choose; a distribution on the positive reals
        is used as its prior.
    family : {"auto", "bernoulli", "categorical"}, default "auto"
        ``"auto"``: bernoulli for two labels, categorical for more.
    method : str or options object, default "auto"
        The inference method, as :func:`bayeswd.classification.sample_classifier_posterior` takes
        it: ``"auto"`` (independence Metropolis-Hastings on the Laplace approximation when ``tau``
        is a number and a pilot accepts at least 40 % of its proposals, NUTS otherwise),
        ``"laplace_mh"`` / ``bayeswd.LaplaceMH(...)`` (exact; ``tau`` a number), ``"nuts"`` /
        ``bayeswd.NUTS(...)``, ``"gibbs"`` / ``bayeswd.Gibbs(...)`` (Polya-Gamma, exact; two labels
        only), ``"laplace_approx"`` / ``bayeswd.LaplaceApprox()`` (independent draws of the gaussian
        approximation at the MAP: fast, approximate; gaussian prior with ``tau`` a number only) or
        ``"svi"`` / ``bayeswd.SVI(...)`` (a Pyro autoguide: approximate).
    num_samples : int, default 1000
        Draws per chain kept in ``posterior_``.
    num_chains : int, default 4
    seed : int, default 0
        Seeds the inference: the same seed gives the same fit.
    fit_intercept : bool, default True
        Infer flat-prior intercepts; ``False`` fixes them at 0.
    device : {"cpu", "cuda", "auto"}, default "cpu"
        Where inference runs (``"auto"``: CUDA when available). Results are on the CPU.
    progress_bar : bool, default False
        Show the sampler's progress bar.

    Attributes
    ----------
    posterior_ : bayeswd.ClassifierPosterior
        The full posterior (draws ``(chain, draw, ...)`` in bayeswd's layout, diagnostics,
        ``summary()``, ``to_inference_data()`` for ArviZ and ``arviz.loo``).
    coef_ : numpy.ndarray, shape (1, n_features) or (n_classes, n_features)
        Posterior mean of the weights in :class:`MAPClassifier`'s (scikit-learn's) layout: two
        classes, the weights of the log odds of ``classes_[1]``; more, one row per class.
    intercept_ : numpy.ndarray, shape (1,) or (n_classes,)
        Posterior mean of the intercepts in the same layout (more than two classes: bayeswd's
        reference-class intercepts shifted to sum to zero, draw by draw). Zeros with
        ``fit_intercept=False``.
    classes_ : numpy.ndarray, shape (n_classes,)
        The sorted labels.
    tau_ : float
        The prior scale: the given number, or the posterior mean of the sampled ``tau``.
    method_ : options object
        The inference method that ran (``"auto"`` resolved).
    n_features_in_ : int
    feature_names_in_ : numpy.ndarray of str
        Only when ``X`` was a DataFrame with string column names (they become the posterior's
        feature names).

    Notes
    -----
    There is no ``decision_function``: the posterior predictive probability is an average of
    sigmoids (softmaxes), not a function of one linear score. In particular the probabilities
    at the posterior mean ``coef_``, ``intercept_`` (the "plug-in" prediction) are typically more
    extreme than ``predict_proba`` and can even order two rows differently; ``coef_`` and ``intercept_``
    summarise the posterior, ``predict_proba`` predicts. ``predict_log_proba`` is the log of the
    posterior predictive computed stably (a log-sum-exp over the draws).

    Examples
    --------
    >>> import numpy as np
    >>> from bayeswd.estimators import BayesianLogisticRegression
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [2.0, 1.0], [0.5, 0.0], [2.0, 2.0]])
    >>> y = np.array(["no", "no", "yes", "yes", "no", "yes"])
    >>> clf = BayesianLogisticRegression(tau=1.0, method="laplace_approx").fit(X, y)
    >>> clf.predict_proba(np.array([[1.5, 1.5]])).round(2)  # less sure than the MAP's 0.71
    array([[0.33, 0.67]])
    """

    def __init__(
        self,
        *,
        prior: str = "gaussian",
        tau: float | torch.distributions.Distribution | None = None,
        family: str = "auto",
        method: Any = "auto",
        num_samples: int = 1000,
        num_chains: int = 4,
        seed: int = 0,
        fit_intercept: bool = True,
        device: str = "cpu",
        progress_bar: bool = False,
    ) -> None:
        self.prior = prior
        self.tau = tau
        self.family = family
        self.method = method
        self.num_samples = num_samples
        self.num_chains = num_chains
        self.seed = seed
        self.fit_intercept = fit_intercept
        self.device = device
        self.progress_bar = progress_bar

    def fit(self, X: Any, y: Any) -> BayesianLogisticRegression:
        """Draw from the posterior given training data.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
        y : array_like of shape (n_samples,)
            Class labels (numbers, strings, booleans), at least two distinct ones.

        Returns
        -------
        self

        Raises
        ------
        ValueError, TypeError
            For an invalid parameter (the message names it) or invalid data.

        Warns
        -----
        bayeswd.DiagnosticWarning
            NUTS and Gibbs, when the chains fail bayeswd's convergence rules (R-hat, ESS,
            divergences).
        """
        prior = check_choice(self.prior, "prior", PRIORS)
        tau = _tau_argument(self.tau)
        family = check_choice(self.family, "family", CLASSIFIER_FAMILIES)
        _resolve_classifier_method(self.method)  # a bad method fails before the data are read
        num_samples = check_positive_int(self.num_samples, "num_samples")
        num_chains = check_positive_int(self.num_chains, "num_chains")
        seed = check_seed(self.seed)
        fit_intercept = check_bool(self.fit_intercept, "fit_intercept")
        progress_bar = check_bool(self.progress_bar, "progress_bar")
        device = resolve_device(self.device)
        X, y = _validate_labels(self, X, y)
        post = sample_classifier_posterior(
            _named(self, X), y, prior=prior, tau=tau, family=family, method=self.method,
            num_samples=num_samples, num_chains=num_chains, seed=seed, device=device,
            fit_intercept=fit_intercept, progress_bar=progress_bar,
        )
        self.posterior_ = post
        self.method_ = post.options  # "auto" resolved: the method that ran
        self.classes_ = post.classes_
        self.tau_ = float(post.tau) if post.tau is not None else float(post.samples["tau"].mean())
        coef = post.samples["coef"].mean((0, 1)).numpy()
        if not fit_intercept:
            intercept = np.zeros(() if post.family == "bernoulli" else post.num_classes)
        elif post.family == "bernoulli":
            intercept = np.float64(post.samples["intercept"].mean())
        else:  # the free intercepts of classes 1..K-1; the reference class's is 0
            intercept = np.concatenate([[0.0], post.samples["intercept"].mean((0, 1)).numpy()])
        self.coef_, self.intercept_ = _sklearn_layout(coef, intercept)
        return self

    def _blocks(self, X: Any) -> tuple[np.ndarray, int]:
        """Validated ``X`` and the rows handled at once (draws x rows x classes bounded)."""
        check_is_fitted(self)
        X = _validate(self, X, reset=False)
        post = self.posterior_
        per_row = post.num_chains * post.num_draws * post.num_classes
        return X, max(1, _BLOCK_ELEMENTS // per_row)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Posterior predictive class probabilities: the class probabilities averaged over the draws.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)

        Returns
        -------
        numpy.ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``; equal to ``posterior_.predict_proba(X)``.
        """
        X, rows = self._blocks(X)
        out = np.empty((X.shape[0], self.posterior_.num_classes))
        for start in range(0, X.shape[0], rows):
            out[start:start + rows] = self.posterior_.predict_proba(X[start:start + rows]).numpy()
        return out

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Log of the posterior predictive class probabilities, as a log-sum-exp over the draws.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)

        Returns
        -------
        numpy.ndarray of shape (n_samples, n_classes)
        """
        X, rows = self._blocks(X)
        post = self.posterior_
        log_draws = math.log(post.num_chains * post.num_draws)
        out = np.empty((X.shape[0], post.num_classes))
        for start in range(0, X.shape[0], rows):
            eta = post._logit_draws(_tensor(X[start:start + rows]))
            if post.family == "bernoulli":
                logp = torch.stack([torch.nn.functional.logsigmoid(-eta),
                                    torch.nn.functional.logsigmoid(eta)], dim=-1)
            else:
                logp = torch.log_softmax(eta, dim=-1)
            out[start:start + rows] = (torch.logsumexp(logp, dim=0) - log_draws).numpy()
        return out

    def predict(self, X: Any) -> np.ndarray:
        """The label of largest posterior predictive probability of each row.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)

        Returns
        -------
        numpy.ndarray of shape (n_samples,)
            Elements of ``classes_``.
        """
        index = self.predict_proba(X).argmax(axis=1)  # first: check_is_fitted
        return self.classes_[index]
