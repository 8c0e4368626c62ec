"""Empirical Bayes: the gaussian model's evidence maximised over ``sigma`` and ``tau``."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.optimize

from bayeswd._validation import (
    check_bool,
    check_choice,
    check_grid,
    check_nonnegative,
    check_positive,
    check_positive_int,
    is_dask_input,
)
from bayeswd.evidence import (
    EvidenceSpectrum,
    evidence_spectrum,
    flat_intercept_terms,
    log_marginal_from_parts,
    profile_log_marginal,
)
from bayeswd.exceptions import BayeswdWarning
from bayeswd.selection.paths import as_xy
from bayeswd.stats import centre, intercept_from_centred

__all__ = ["EvidenceResult", "maximize_evidence", "maximize_evidence_given"]

_INTERCEPT_MODES = ("centre", "integrate")


@dataclass(frozen=True)
class EvidenceResult:
    r"""The gaussian model's marginal likelihood, maximised over ``sigma`` and ``tau``.

    Attributes
    ----------
    lam : float
        ``sigma^2 / tau^2`` at the maximum (the ridge penalty that empirical Bayes picks).
    sigma, tau : float
        Maximising noise sd and prior sd.
    alpha_, lambda_ : float
        The same as precisions, ``1/sigma^2`` and ``1/tau^2`` (scikit-learn ``BayesianRidge``).
    log_evidence : float
        Maximum of ``log p(y | sigma, tau)`` (see :func:`maximize_evidence` for the exact form).
    coef : np.ndarray, shape (d,)
        Posterior mean (= MAP = ridge) weights at the maximum.
    intercept : float
        The intercept ``mean(y) - mean(X) @ coef`` (0 when ``fit_intercept=False``).
    lams : np.ndarray, shape (m,)
        Grid of ``lam`` for the profile curve.
    log_evidence_curve : np.ndarray, shape (m,)
        ``max over sigma of log p(y | sigma, tau = sigma / sqrt(lam))`` on ``lams``.
    sigma_curve : np.ndarray, shape (m,)
        The maximising ``sigma`` at each grid ``lam``.
    intercept_mode : {"centre", "integrate"}
        How the intercept was handled (see :func:`maximize_evidence`).
    """

    lam: float
    sigma: float
    tau: float
    alpha_: float
    lambda_: float
    log_evidence: float
    coef: np.ndarray
    intercept: float
    lams: np.ndarray
    log_evidence_curve: np.ndarray
    sigma_curve: np.ndarray
    intercept_mode: str

    def __repr__(self) -> str:
        return (
            f"EvidenceResult(lam={self.lam:.6g}, sigma={self.sigma:.6g}, tau={self.tau:.6g}, "
            f"log_evidence={self.log_evidence:.6g}, intercept_mode={self.intercept_mode!r})"
        )



def maximize_evidence(
    X: Any,
    y: Any,
    *,
    fit_intercept: bool = True,
    intercept: str = "centre",
    lams: Any = None,
    n_lams: int = 200,
    alpha_1: float = 0.0,
    alpha_2: float = 0.0,
    lambda_1: float = 0.0,
    lambda_2: float = 0.0,
) -> EvidenceResult:
    r"""Empirical Bayes: maximise the gaussian model's marginal likelihood over ``sigma`` and ``tau``.

    The evidence of ``y ~ Normal(X w + b, sigma^2 I)``, ``w ~ Normal(0, tau^2 I)`` with
    ``alpha = 1/sigma^2`` and ``lambda = 1/tau^2`` (``Xc``, ``yc`` centred, ``n`` rows, ``d``
    features) is

    .. math::

        \log p(y\mid\alpha,\lambda) = \tfrac12\Big[d\log\lambda + n_\text{eff}\log\alpha
        - \alpha\lVert y_c - X_c m\rVert^2 - \lambda\lVert m\rVert^2 - \log\lvert A\rvert
        - n_\text{eff}\log 2\pi\Big] + c,

    with ``A = lambda I + alpha Xc^T Xc`` and ``m = alpha A^{-1} Xc^T yc`` (the posterior mean, the
    ridge solution with ``lam = lambda/alpha = sigma^2/tau^2``). For fixed ``lam`` it is maximised
    by ``alpha = n_eff / (||yc - Xc m||^2 + lam ||m||^2)``, which leaves a one-dimensional profile in
    ``log lam``: evaluated on a grid (``log_evidence_curve``) and refined by bounded Brent search
    around the best grid point, all from one SVD of ``Xc``.

    Parameters
    ----------
    X : array_like, shape (n, d)
        In memory, or a ``dask.array`` / ``dask.dataframe`` (with ``y`` of the same partitions):
        then one Dask pass gives the centred Gram statistics and their eigendecomposition replaces
        the SVD (docs/dask.md).
    y : array_like, shape (n,)
    fit_intercept : bool, default True
        Centre ``X`` and ``y`` (the unpenalised intercept). ``False``: no intercept, no centring,
        ``n_eff = n``, ``c = 0``.
    intercept : {"centre", "integrate"}, default "centre"
        ``"centre"``: the centred data are treated as ``n`` independent rows, ``n_eff = n``,
        ``c = 0`` -- exactly the objective of scikit-learn's ``BayesianRidge`` (with its Gamma
        hyperpriors switched off, ``alpha_1 = alpha_2 = lambda_1 = lambda_2 = 0``), whose
        fixed-point updates are the stationarity conditions of this function.
        ``"integrate"``: the exact evidence of the bayeswd model, the flat intercept integrated out
        (``int db``, improper): one degree of freedom is spent on ``b``, ``n_eff = n - 1``,
        ``c = -log(n) / 2``.
    lams : array_like, optional
        Grid of ``lam = sigma^2/tau^2`` for the curve and the search. Default: ``n_lams`` values
        log-spaced over ``e_max [1e-10, 1e4]`` (``e_max`` the largest eigenvalue of ``Xc^T Xc``).
    n_lams : int, default 200
    alpha_1, alpha_2, lambda_1, lambda_2 : float, default 0
        Optional hyperprior terms added to the log evidence exactly as ``BayesianRidge`` adds them
        to its objective: ``alpha_1 log alpha - alpha_2 alpha + lambda_1 log lambda
        - lambda_2 lambda`` (Gamma densities on the precisions, up to constants). 0 (the default)
        is plain evidence maximisation; ``1e-6`` each reproduces ``BayesianRidge()``'s defaults.
        For fixed ``lam`` the maximising ``alpha`` stays closed form,
        ``(n_eff/2 + alpha_1 + lambda_1) / (E/2 + alpha_2 + lambda_2 lam)``.

    Returns
    -------
    EvidenceResult

    Warns
    -----
    BayeswdWarning
        When the maximum is at an end of the grid (the evidence may keep increasing beyond it).

    Notes
    -----
    ``BayesianRidge`` reports ``alpha_ = 1/sigma^2`` and ``lambda_ = 1/tau^2``; this function
    returns the same numbers (and ``sigma``, ``tau``, ``lam``). It reaches the optimum by its
    MacKay fixed-point iteration, ``lambda = (gamma + 2 lambda_1)/(||m||^2 + 2 lambda_2)``,
    ``alpha = (n - gamma + 2 alpha_1)/(rss + 2 alpha_2)``, ``gamma = sum alpha e_i/(lambda + alpha e_i)``,
    which are the stationarity conditions of the ``"centre"`` objective above (with ``n``, not
    ``n - 1``); here the same objective is maximised directly. Its default hyperpriors
    (``1e-6`` each) move the optimum by a relative amount of order ``1e-6 / n``.

    With ``n <= d`` and an intercept, the ``"centre"`` objective is unbounded: the centred rows
    span ``n - 1`` dimensions, the data are fitted exactly and the evidence grows without limit as
    ``sigma -> 0`` (``BayesianRidge`` drifts the same way). Use ``intercept="integrate"`` there.

    Examples
    --------
    >>> from bayeswd import seed_problem
    >>> p = seed_problem()
    >>> ev = maximize_evidence(p.train.X, p.train.y, intercept="integrate")  # n <= d: see Notes
    >>> round(ev.lam, 2)
    15.81
    """
    fit_intercept = check_bool(fit_intercept, "fit_intercept")
    intercept = check_choice(intercept, "intercept", _INTERCEPT_MODES)
    n_lams = check_positive_int(n_lams, "n_lams", minimum=3)
    hyper = tuple(check_nonnegative(v, name) for v, name in (
        (alpha_1, "alpha_1"), (alpha_2, "alpha_2"), (lambda_1, "lambda_1"), (lambda_2, "lambda_2")))
    if is_dask_input(X, y):  # one Dask pass: the spectrum of the centred Gram matrix (bayeswd._dask)
        from bayeswd._dask import evidence_inputs

        data, spec = evidence_inputs(X, y, fit_intercept)
        n, yty = data.n, data.yty
    else:
        Xt, yt, _ = as_xy(X, y)
        data = centre(Xt, yt, fit_intercept)
        yc = data.y.numpy()
        n, yty = yc.size, float(yc @ yc)
        spec = evidence_spectrum(data.X.numpy(), yc)
    if not yty > 0:
        raise ValueError("`y` must not be constant (after centring): the evidence has no maximum.")
    # "centre": the centred rows counted as n rows without an intercept (BayesianRidge)
    n_eff, const = flat_intercept_terms(n, fit_intercept and intercept == "integrate")
    if lams is None:
        top = float(spec.e.max()) if spec.e.size else 1.0
        grid = np.geomspace(top * 1e-10, top * 1e4, n_lams)
    else:
        grid = check_grid(lams, "lams")
        if grid.size < 3:
            raise ValueError(f"`lams` must hold at least 3 distinct values; got {grid.size}.")

    def profile(lam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return profile_log_marginal(lam, spec, n_eff, const, hyper)

    curve, sig = profile(grid)
    i = int(np.argmax(curve))
    if i in (0, grid.size - 1):
        warnings.warn(
            f"maximize_evidence: the evidence is largest at the end of the lam grid "
            f"(lam={grid[i]:.4g}); it may increase beyond it.", BayeswdWarning, stacklevel=2,
        )
        t_best = math.log(grid[i])
    else:
        res = scipy.optimize.minimize_scalar(
            lambda t: -float(profile(np.array([math.exp(t)]))[0][0]),
            bounds=(math.log(grid[i - 1]), math.log(grid[i + 1])),
            method="bounded",
            options={"xatol": 1e-12, "maxiter": 500},
        )
        t_best = float(res.x)
    lam = math.exp(t_best)
    logev, sigma_arr = profile(np.array([lam]))
    sigma = float(sigma_arr[0])
    tau = sigma / math.sqrt(lam)
    coef = spec.ridge_coef(lam)
    return EvidenceResult(
        lam=lam, sigma=sigma, tau=tau, alpha_=1.0 / sigma**2, lambda_=1.0 / tau**2,
        log_evidence=float(logev[0]), coef=coef, intercept=float(intercept_from_centred(data, coef)),
        lams=grid, log_evidence_curve=curve, sigma_curve=sig, intercept_mode=intercept,
    )


def _log_evidence(spec: EvidenceSpectrum, n_eff: int, const: float, sigma: Any, tau: Any) -> Any:
    """The gaussian model's log evidence at ``(sigma, tau)`` (vectorised) from one SVD of ``Xc``.

    :func:`bayeswd.evidence.log_marginal_from_parts` with ``E = ||yc - Xc m||^2 + lam ||m||^2`` and
    ``log det(I + Xc^T Xc / lam)`` in the eigenvalues ``e`` of ``Xc^T Xc`` (``lam = sigma^2/tau^2``),
    as :func:`bayeswd.evidence.profile_log_marginal` writes them, without profiling ``sigma`` out.
    """
    sigma, tau = np.broadcast_arrays(np.asarray(sigma, dtype=np.float64), np.asarray(tau, dtype=np.float64))
    lam = (sigma**2 / tau**2).reshape(-1, 1)
    e, uty = spec.e, spec.uty
    rss = np.sum((lam / (e + lam) * uty) ** 2, axis=1) + spec.rest
    wnorm2 = np.sum((np.sqrt(e) * uty / (e + lam)) ** 2, axis=1)
    fit = rss + lam[:, 0] * wnorm2
    log_det = np.sum(np.log1p(e / lam), axis=1)
    return log_marginal_from_parts(n_eff, sigma.reshape(-1), fit, log_det, const).reshape(sigma.shape)


def maximize_evidence_given(
    X: Any, y: Any, *, sigma: float | None = None, tau: float | None = None, fit_intercept: bool = True
) -> tuple[float, float]:
    """Empirical Bayes for one scale: the evidence maximum over the scale that is ``None``.

    The other scale is held at its given value (exactly one of ``sigma`` and ``tau`` must be given;
    for both, use :func:`maximize_evidence`). Returns ``(sigma, tau)``.

    The exact log evidence of the gaussian model (weights and a flat intercept integrated out) is
    evaluated on the ``lam = sigma^2 / tau^2`` grid of :func:`bayeswd.maximize_evidence` and refined
    by bounded Brent search around the best grid point, in ``log lam``; a maximum at an end of the
    grid is kept, with a ``BayeswdWarning``.
    """
    if (sigma is None) == (tau is None):
        raise ValueError(
            "exactly one of `sigma` and `tau` must be given (the other is maximised over); got "
            f"sigma={sigma!r}, tau={tau!r}. For both, use maximize_evidence."
        )
    sigma = check_positive(sigma, "sigma", allow_none=True)
    tau = check_positive(tau, "tau", allow_none=True)
    fit_intercept = check_bool(fit_intercept, "fit_intercept")
    if is_dask_input(X, y):  # one Dask pass, as maximize_evidence
        from bayeswd._dask import evidence_inputs

        data, spec = evidence_inputs(X, y, fit_intercept)
        n = data.n
    else:
        Xt, yt, _ = as_xy(X, y)
        data = centre(Xt, yt, fit_intercept)
        n = int(yt.shape[0])
        spec = evidence_spectrum(data.X.numpy(), data.y.numpy())
    n_eff, const = flat_intercept_terms(n, fit_intercept)
    fixed_sigma = sigma is not None

    def scales(log_lam: Any) -> tuple[Any, Any]:
        root = np.exp(0.5 * np.asarray(log_lam))
        return (sigma, sigma / root) if fixed_sigma else (tau * root, tau)  # type: ignore[operator]

    def neg_log_evidence(log_lam: Any) -> Any:
        return -_log_evidence(spec, n_eff, const, *scales(log_lam))

    top = float(spec.e.max()) if spec.e.size else 1.0
    grid = np.log(np.geomspace(top * 1e-10, top * 1e4, 200))
    curve = neg_log_evidence(grid)
    i = int(np.argmin(np.where(np.isfinite(curve), curve, np.inf)))
    if i in (0, grid.size - 1):
        free = "tau" if fixed_sigma else "sigma"
        warnings.warn(
            f"the evidence over `{free}` is largest at the end of its grid (lam = sigma^2/tau^2 = "
            f"{math.exp(grid[i]):.4g}); it may increase beyond it.", BayeswdWarning, stacklevel=2,
        )
        best = float(grid[i])
    else:
        best = float(scipy.optimize.minimize_scalar(
            lambda t: float(neg_log_evidence(t)), bounds=(grid[i - 1], grid[i + 1]), method="bounded",
            options={"xatol": 1e-12, "maxiter": 500},
        ).x)
    s, t = scales(best)
    return float(s), float(t)
