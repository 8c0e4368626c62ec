"""Full posteriors of the bayeswd model: :func:`sample_posterior` and its result, :class:`Posterior`.

Every method answers the same question about :func:`bayeswd.model.linear_regression_model`; each
lives in :mod:`bayeswd.infer` with its own settings (:class:`bayeswd.infer.NUTS`,
:class:`~bayeswd.infer.PyroNUTS`, :class:`~bayeswd.infer.SVI`, :class:`~bayeswd.infer.Exact`).
The result is a :class:`Posterior` with draws laid out ``(chain, draw, ...)``.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pyro.distributions as dist
import torch

from bayeswd import _arviz
from bayeswd._arviz import build_inference_data, posterior_dims
from bayeswd._validation import (
    DTYPE,
    as_design,
    as_target,
    check_bool,
    check_choice,
    check_positive,
    check_positive_int,
    check_seed,
    is_dask_input,
    resolve_device,
)
from bayeswd.classification.posterior import ClassifierPosterior
from bayeswd.conventions import PRIORS
from bayeswd.exceptions import BayeswdWarning, ConvergenceWarning
from bayeswd.infer.collapsed import check_collapsed, sample_collapsed
from bayeswd.infer.diagnostics import diagnose, nuts_diagnostics, warn_diagnostics
from bayeswd.infer.exact import check_exact, sample_exact
from bayeswd.infer.gibbs import check_gibbs, sample_gibbs
from bayeswd.infer.imh import AUTO_MIN_ACCEPT, imh_worth_trying, prepare_imh, sample_imh
from bayeswd.infer.nuts import LAPLACE_NUTS_MAX_COND, laplace_prefers_nuts, sample_nuts
from bayeswd.infer.options import (
    IMH,
    NUTS,
    SVI,
    Auto,
    Collapsed,
    Exact,
    Gibbs,
    MethodOptions,
    PyroNUTS,
    resolve_method,
)
from bayeswd.infer.pyro_nuts import sample_pyro_nuts
from bayeswd.infer.start import InferenceProblem, check_scale_prior, default_hyperpriors
from bayeswd.infer.svi import fit_svi
from bayeswd.model import FAMILIES
from bayeswd.stats import sufficient_statistics

__all__ = ["Posterior", "PredictiveInterval", "sample_posterior"]

#: Data up to this many numbers is copied into the result; larger data is kept by reference.
_COPY_MAX_ELEMENTS = 10_000_000
#: ``to_inference_data`` leaves out the groups of ``chains x draws x n`` numbers (log-likelihood,
#: replicated data) above this many numbers (400 MB each), with a warning, rather than allocate them.
PER_ROW_MAX_NUMBERS = 50_000_000
_RUNNERS = {NUTS: sample_nuts, PyroNUTS: sample_pyro_nuts, SVI: fit_svi, Exact: sample_exact,
            Gibbs: sample_gibbs, Collapsed: sample_collapsed, IMH: sample_imh}


class PredictiveInterval(NamedTuple):
    """Posterior (predictive) mean and an equal-tailed credible interval at each new row.

    Attributes
    ----------
    mean : torch.Tensor, shape (m,)
        Posterior mean of ``x . w + b`` (the noise has mean zero, so it is the same with noise).
    lower, upper : torch.Tensor, shape (m,)
        ``(1 - prob)/2`` and ``(1 + prob)/2`` quantiles over the draws.
    """

    mean: torch.Tensor
    lower: torch.Tensor
    upper: torch.Tensor


@dataclass(frozen=True, eq=False)  # fields hold tensors: identity, not ==
class Posterior:
    """Draws from the posterior of the bayeswd regression model, with diagnostics and settings.

    The model is ``y_i ~ Normal(x_i . w + b, sigma^2)`` with a gaussian (``w_j ~ Normal(0,
    tau^2)``) or laplace (``w_j ~ Laplace(0, tau)``) prior and a flat prior on ``b``
    (:func:`bayeswd.model.linear_regression_model`).

    Attributes
    ----------
    samples : dict of str to torch.Tensor
        CPU float64 draws with leading ``(chain, draw)`` axes: ``"coef"`` (chain, draw, d),
        ``"intercept"`` (chain, draw) when fitted, ``"sigma"`` and ``"tau"`` (chain, draw) when
        they were sampled.
    method : {"exact", "collapsed", "gibbs", "imh", "nuts", "svi"}
        The method that ran (``"auto"`` resolved; why: ``settings["method_choice"]``).
    prior : {"gaussian", "laplace"}
    sigma, tau : float or None
        The fixed values used; ``None`` where the parameter was sampled under ``hyperpriors``.
    hyperpriors : dict of str to str
        Description of the prior of each sampled scale (e.g. ``{"sigma": "HalfNormal(scale=0.14)"}``).
    fit_intercept : bool
    feature_names : tuple of str
        Names of the columns of ``X`` (the ``feature`` coordinate of the ArviZ output).
    X, y : torch.Tensor
        Training data on the CPU (used by ``to_inference_data``' log-likelihood and predictive):
        a copy, or for data of more than 10 million numbers a view of the caller's array (no
        second copy of a large ``X``). For Dask input, stand-ins with the shapes and no rows
        (:class:`bayeswd._dask.RowsElsewhere`): what needs the rows raises a ``ValueError``.
    diagnostics : dict
        ``"rhat"``, ``"ess_bulk"``, ``"ess_tail"``: dicts of variable name to numpy array (one value
        per scalar parameter), computed with ArviZ (rank-normalised split R-hat, bulk and tail
        ESS). For NUTS also ``"num_divergent"`` (int), ``"max_tree_depth_hits"`` (int) and
        ``"step_size"`` (per chain).
    sample_stats : dict of str to numpy.ndarray
        Per-draw statistics, shape (chain, draw): for NUTS ``diverging``, ``tree_depth``,
        ``step_size``, ``acceptance_rate`` (and ``n_steps``, the leapfrog steps of the draw, with
        ``backend="bayeswd"``); for the collapsed and independence samplers ``acceptance_rate``
        (the probability of moving to the step's proposal; with ``thin``, its mean over the
        proposals of the draw) and ``accepted``. Empty for SVI, exact and Gibbs draws.
    wall_time : float
        Seconds spent inferring (warm-up, compilation, optimisation and drawing included).
    seed : int
    device : str
        Where inference ran.
    elbo : numpy.ndarray or None
        SVI only: the ELBO (``-loss``) at every optimisation step.
    guide : str or None
        SVI only: ``"fullrank"``, ``"lowrank"`` or ``"meanfield"``.
    converged : bool
        SVI: the ELBO stopping rule was met. NUTS and exact: always ``True`` (see diagnostics).
    settings : dict
        Remaining settings (num_samples, num_warmup, num_chains, jit, ...).
    """

    samples: dict[str, torch.Tensor]
    method: str
    prior: str
    sigma: float | None
    tau: float | None
    hyperpriors: dict[str, str]
    fit_intercept: bool
    feature_names: tuple[str, ...]
    X: torch.Tensor
    y: torch.Tensor
    diagnostics: dict[str, Any]
    sample_stats: dict[str, np.ndarray]
    wall_time: float
    seed: int
    device: str
    elbo: np.ndarray | None = None
    guide: str | None = None
    converged: bool = True
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def num_chains(self) -> int:
        """Number of chains (leading axis of every draw)."""
        return int(self.samples["coef"].shape[0])

    @property
    def num_draws(self) -> int:
        """Draws per chain (second axis)."""
        return int(self.samples["coef"].shape[1])

    def _flat(self, name: str) -> torch.Tensor:
        value = self.samples[name]
        return value.reshape(-1, *value.shape[2:])

    def _sigma_draws(self) -> torch.Tensor:
        if "sigma" in self.samples:
            return self._flat("sigma")
        return torch.full((self.num_chains * self.num_draws,), float(self.sigma), dtype=DTYPE)

    def _mean_draws(self, X: torch.Tensor) -> torch.Tensor:
        """``x . w + b`` for every draw: shape (chain * draw, m)."""
        mean = self._flat("coef") @ X.T
        if self.fit_intercept:
            mean = mean + self._flat("intercept").unsqueeze(-1)
        return mean

    def predict(
        self, X_new: Any, *, prob: float = 0.9, include_noise: bool = False, seed: int = 0
    ) -> PredictiveInterval:
        """Posterior mean and equal-tailed credible interval of the regression at new rows.

        Without noise the interval is over ``mu(x) = x . w + b``; with ``include_noise=True`` it
        is the posterior predictive interval of a new ``y = mu(x) + sigma * eps``.

        Parameters
        ----------
        X_new : array_like, shape (m, d)
            New rows (numpy, torch or pandas).
        prob : float, default 0.9
            Probability mass of the interval, in (0, 1).
        include_noise : bool, default False
            Add observation noise ``Normal(0, sigma^2)`` (sigma from each draw when sampled).
        seed : int, default 0
            Seed of the noise draws (a private generator).

        Returns
        -------
        PredictiveInterval
            ``mean``, ``lower``, ``upper``, each a CPU float64 tensor of shape (m,).
        """
        Xn, _ = as_design(X_new, name="X_new", min_rows=1)
        if Xn.shape[1] != len(self.feature_names):
            raise ValueError(
                f"`X_new` must have {len(self.feature_names)} columns like the training X; "
                f"got {Xn.shape[1]}."
            )
        prob = check_positive(prob, "prob")
        if prob >= 1.0:
            raise ValueError(f"`prob` must lie in (0, 1); got {prob!r}.")
        draws = self._mean_draws(Xn)
        mean = draws.mean(0)
        if include_noise:
            gen = torch.Generator().manual_seed(check_seed(seed))
            eps = torch.randn(draws.shape, generator=gen, dtype=DTYPE)
            draws = draws + self._sigma_draws().unsqueeze(-1) * eps
        q = torch.tensor([(1.0 - prob) / 2.0, (1.0 + prob) / 2.0], dtype=DTYPE)
        lower, upper = torch.quantile(draws, q, dim=0)
        return PredictiveInterval(mean=mean, lower=lower, upper=upper)

    def log_likelihood(self) -> torch.Tensor:
        """Pointwise log-likelihood ``log Normal(y_i | x_i . w + b, sigma^2)``, shape (chain, draw, n)."""
        mean = self._mean_draws(self.X)
        sig = self._sigma_draws().unsqueeze(-1)
        ll = dist.Normal(mean, sig).log_prob(self.y)
        return ll.reshape(self.num_chains, self.num_draws, -1)

    def _per_row_skipped(self) -> str | None:
        """Why ``to_inference_data`` leaves out the per-row groups, or None when it builds them."""
        if is_dask_input(self.X):
            return (
                "to_inference_data: the rows of X stay in the Dask collection, so the groups with one "
                "value per training row (log_likelihood, posterior_predictive, observed_data) are left "
                "out; posterior and sample_stats are complete. For PSIS-LOO or predictive checks, sample "
                "the posterior of an in-memory sample of the rows."
            )
        size = self.num_chains * self.num_draws * int(self.X.shape[0])
        if size <= PER_ROW_MAX_NUMBERS:
            return None
        return (
            f"to_inference_data: the log-likelihood and the replicated data of the {int(self.X.shape[0])} "
            f"training rows would hold {size:.3g} numbers each ({8e-9 * size:.1f} GB), above "
            f"bayeswd.posterior.PER_ROW_MAX_NUMBERS = {PER_ROW_MAX_NUMBERS:.3g}; log_likelihood and "
            "posterior_predictive are left out (posterior, sample_stats and observed_data are complete). "
            "Draw fewer samples, use a sample of the rows, or raise the limit."
        )

    def _posterior_numpy(self) -> dict[str, np.ndarray]:
        return {k: v.numpy() for k, v in self.samples.items()}

    def summary(
        self,
        *,
        var_names: list[str] | None = None,
        kind: str = "all",
        hdi_prob: float = 0.94,
        round_to: int | str | None = "auto",
    ) -> pd.DataFrame:
        """Summary table (mean, sd, HDI, MCSE, ESS, R-hat) of every parameter, ArviZ 0.x's layout.

        The same table on ArviZ 0.x and 1.x (the diagnostics are ArviZ's).

        Parameters
        ----------
        var_names : list of str, optional
            Parameters to show (``"coef"``, ``"intercept"``, ...); default all.
        kind : {"all", "stats", "diagnostics"}, default "all"
        hdi_prob : float, default 0.94
            Probability of the highest density interval.
        round_to : int, "auto" or None, default "auto"
            Decimals; ``"auto"``: 3 (2 for R-hat, 0 for the ESS); ``None``: raw numbers.

        Returns
        -------
        pandas.DataFrame
            One row per scalar parameter, ``coef[<feature name>]`` for the weights; columns
            ``mean``, ``sd``, ``hdi_3%``, ``hdi_97%``, ``mcse_mean``, ``mcse_sd``, ``ess_bulk``,
            ``ess_tail``, ``r_hat`` (``kind="all"``, ``hdi_prob=0.94``).
        """
        dims, coords = posterior_dims(self.feature_names)
        data = _arviz.from_dict({"posterior": self._posterior_numpy()}, coords=coords, dims=dims)
        return _arviz.summary(data, var_names=var_names, kind=kind, hdi_prob=hdi_prob, round_to=round_to)

    def to_inference_data(self, *, seed: int | None = None) -> Any:
        """The posterior as the installed ArviZ's container, built with :func:`arviz.from_dict`.

        ``arviz.InferenceData`` with ArviZ 0.x, ``xarray.DataTree`` with ArviZ 1.x: the same
        groups, variables, dims, coordinates, values and attributes.

        Groups: ``posterior`` (``coef`` over the ``feature`` coordinate, ``intercept``, ``sigma``
        and ``tau`` when sampled), ``posterior_predictive`` (``obs``: one replicated data set per
        draw), ``log_likelihood`` (``obs``, pointwise per observation: ``arviz.loo`` works),
        ``observed_data`` (``obs``), ``sample_stats`` (NUTS: ``diverging``, ``tree_depth``,
        ``step_size``, ``acceptance_rate``; omitted for SVI and exact draws, which have no
        per-draw statistics). The settings (method, prior, fixed sigma and tau or ``"none"``,
        hyperpriors, wall time, seed, device, guide, ...) are the attributes of every group;
        for SVI the posterior group also carries ``elbo_final`` and ``elbo_steps``.

        The per-row groups are left out, with a :class:`~bayeswd.exceptions.BayeswdWarning`, for
        Dask input (the rows are not on the client; ``observed_data`` too) and when
        ``chains x draws x n`` exceeds :data:`PER_ROW_MAX_NUMBERS` (``log_likelihood`` and
        ``posterior_predictive``): never a silent allocation of several GB.

        Parameters
        ----------
        seed : int, optional
            Seed of the replicated data (default: the posterior's seed).

        Returns
        -------
        arviz.InferenceData or xarray.DataTree
        """
        gen = torch.Generator().manual_seed(self.seed if seed is None else check_seed(seed))
        skipped = self._per_row_skipped()
        if skipped is None:
            mean = self._mean_draws(self.X)
            y_rep = mean + self._sigma_draws().unsqueeze(-1) * torch.randn(
                mean.shape, generator=gen, dtype=DTYPE
            )
        else:
            warnings.warn(skipped, BayeswdWarning, stacklevel=2)
        shape = (self.num_chains, self.num_draws, -1)
        attrs: dict[str, Any] = {
            "inference_library": "bayeswd",
            "method": self.method,
            "prior": self.prior,
            "sigma": self.sigma,
            "tau": self.tau,
            "fit_intercept": self.fit_intercept,
            "wall_time": self.wall_time,
            "seed": self.seed,
            "device": self.device,
            "guide": self.guide,
            "converged": self.converged,
        }
        attrs.update({f"hyperprior_{k}": v for k, v in self.hyperpriors.items()})
        attrs.update({k: v for k, v in self.settings.items()})
        idata = build_inference_data(
            posterior=self._posterior_numpy(),
            posterior_predictive={} if skipped else {"obs": y_rep.reshape(shape).numpy()},
            log_likelihood={} if skipped else {"obs": self.log_likelihood().numpy()},
            observed_data={} if is_dask_input(self.y) else {"obs": self.y.numpy()},
            sample_stats=dict(self.sample_stats),
            feature_names=self.feature_names,
            attrs=attrs,
        )
        if self.elbo is not None:
            _arviz.get_group_attrs(idata, "posterior")["elbo_final"] = float(self.elbo[-1])
            _arviz.get_group_attrs(idata, "posterior")["elbo_steps"] = int(self.elbo.shape[0])
        return idata


def _classifier(X: Any, y: Any, *, family: str, sigma: Any, deprecated: dict[str, Any], **kwargs: Any
                ) -> ClassifierPosterior:
    """``sample_posterior`` for the bernoulli and categorical families."""
    from bayeswd.classification.posterior import _sample

    if sigma is not None:
        raise ValueError(
            f"`sigma` has no meaning for family={family!r} (a classifier has no noise scale) and must "
            f"be left at None; got {sigma!r}."
        )
    if deprecated:
        raise TypeError(
            f"sample_posterior(family={family!r}) got unexpected keyword argument(s) "
            f"{', '.join(map(repr, deprecated))}; set a method's settings on its options object, "
            "e.g. method=NUTS(num_warmup=500)."
        )
    return _sample(X, y, family=family, stacklevel=5, **kwargs)


def _own(t: torch.Tensor) -> torch.Tensor:
    """The result's CPU copy of the data, or a view for data over ``_COPY_MAX_ELEMENTS``.

    Copies keep the result independent of later changes to the caller's array; a large ``X``
    is not duplicated.
    """
    t = t.detach().to("cpu")
    return t.clone() if t.numel() <= _COPY_MAX_ELEMENTS else t


def _scale_argument(value: Any, name: str) -> Any:
    """``sigma`` / ``tau``: ``None``, a positive number (as a float) or a scalar positive prior."""
    if value is None:
        return None
    if isinstance(value, torch.distributions.Distribution):
        check_scale_prior(value, name)
        return value
    return check_positive(value, name)


def _laplace_choice(problem: InferenceProblem, options: Gibbs, choice: str, num_chains: int, seed: int
                    ) -> tuple[MethodOptions, str, dict[str, Any]]:
    """``method="auto"`` for the laplace prior, once the data are read.

    Where the rows outnumber the weights (:func:`bayeswd.infer.imh.imh_worth_trying`) the
    independence sampler's proposal is fitted and its pilot run decides: :class:`IMH` when it
    accepts at least :data:`~bayeswd.infer.imh.AUTO_MIN_ACCEPT` of its proposals (the fit is then
    reused). Otherwise NUTS on the laplace density where
    :func:`~bayeswd.infer.nuts.laplace_prefers_nuts` says so, the Gibbs sampler elsewhere.
    """
    pilot = None
    if imh_worth_trying(problem):
        imh = IMH()
        prepared = prepare_imh(problem, imh, num_chains=num_chains, seed=seed)
        pilot = prepared.pilot
        if pilot is not None and pilot >= AUTO_MIN_ACCEPT:
            why = (f"laplace prior, n > d + 1: independence Metropolis-Hastings on a fitted gaussian "
                   f"proposal (pilot acceptance {pilot:.2f} >= {AUTO_MIN_ACCEPT})")
            return imh, why, {"prepared": prepared}
    tried = ""
    if pilot is not None:
        tried = f"; the independence sampler's pilot accepted {pilot:.2f} < {AUTO_MIN_ACCEPT}"
    nuts_better, cond = laplace_prefers_nuts(problem)
    if nuts_better:
        return NUTS(), (f"laplace prior, n > d + 1, sigma sampled and well-conditioned features "
                        f"(correlation condition number {cond:.3g} <= {LAPLACE_NUTS_MAX_COND:g}): NUTS on "
                        f"the laplace density{tried}"), {}
    return options, choice + tried, {}


def sample_posterior(
    X: Any,
    y: Any,
    *,
    prior: str = "gaussian",
    sigma: float | torch.distributions.Distribution | None = None,
    tau: float | torch.distributions.Distribution | None = None,
    method: str | MethodOptions = "auto",
    num_samples: int = 1000,
    num_chains: int = 4,
    seed: int = 0,
    device: str | torch.device = "auto",
    fit_intercept: bool = True,
    progress_bar: bool = True,
    family: str = "gaussian",
    **deprecated: Any,
) -> Posterior | ClassifierPosterior:
    r"""Draw from the posterior of Bayesian linear regression with a gaussian or laplace prior.

    The model (:func:`bayeswd.model.linear_regression_model`) is

    .. math::

        y_i \sim \mathcal N(x_i^\top w + b, \sigma^2),\quad
        w_j \sim \mathcal N(0, \tau^2)\ \text{(gaussian)}\ \text{or}\
        \mathrm{Laplace}(0, \tau)\ \text{(density } e^{-|w|/\tau}/(2\tau)),\quad p(b) \propto 1,

    the posterior whose mode is the weight-decay / ridge (or lasso) solution of
    :func:`bayeswd.map_fit` with ``lam = sigma^2 / tau^2`` (``2 sigma^2 / tau`` for laplace).

    Parameters
    ----------
    X : array_like, shape (n, d)
        numpy array, torch tensor or pandas DataFrame (column names become the ``feature``
        coordinate); or a ``dask.array`` / ``dask.dataframe`` (with ``y`` of the same partitions),
        reduced to its sufficient statistics in one Dask pass, for ``"exact"``, and for ``"nuts"``
        and ``"gibbs"`` with ``n > d`` (docs/dask.md).
    y : array_like, shape (n,)
    prior : {"gaussian", "laplace"}, default "gaussian"
    sigma : float, Distribution or None, default None
        Noise sd. A number fixes it. ``None`` samples it under the weakly informative default
        ``sigma ~ HalfNormal(scale = sd(y))`` (the noise cannot exceed the spread of ``y`` by much);
        a ``torch.distributions.Distribution`` on the positive reals is used as its prior.
    tau : float, Distribution or None, default None
        Prior scale of the weights. A number fixes it. ``None`` is full Bayes over the
        regularisation strength: ``tau ~ HalfNormal(scale = sd(y) / s_x)`` with ``s_x`` the root
        mean column variance of ``X`` (the weight one feature needs to explain all of ``y``);
        a Distribution is used as its prior.
    method : str or options object, default "auto"
        How to infer, with its settings. ``"auto"`` (:class:`bayeswd.infer.Auto`) picks the
        fastest exact method the model allows and records which in ``Posterior.method`` and why in
        ``Posterior.settings["method_choice"]``: ``"exact"`` for the gaussian prior with ``sigma``
        and ``tau`` fixed, ``"collapsed"`` for the gaussian prior with a scale sampled, and for
        the laplace prior ``"imh"`` where ``n > d + 1`` and its pilot run accepts at least 40 % of
        its proposals, else ``"nuts"`` where ``n > d + 1``, ``sigma`` is sampled and the features
        are well conditioned, on the CPU (:func:`bayeswd.infer.nuts.laplace_prefers_nuts`), else
        ``"gibbs"``. The methods: :class:`bayeswd.infer.Exact` (``"exact"``: independent
        draws of the conjugate gaussian posterior; gaussian prior with ``sigma`` and ``tau`` fixed
        only), :class:`bayeswd.infer.Collapsed` (``"collapsed"``: gaussian prior with ``sigma``
        and/or ``tau`` sampled; the weights integrated out, the scales by an independence sampler
        on their tabulated posterior, then the weights exactly), :class:`bayeswd.infer.Gibbs`
        (``"gibbs"``: the blocked Gibbs sampler; laplace prior only), :class:`bayeswd.infer.IMH`
        (``"imh"``: independence Metropolis-Hastings on a gaussian proposal fitted to the
        posterior; any model, fast where ``n > d``), :class:`bayeswd.infer.NUTS`
        (``"nuts"``: bayeswd's own no-U-turn sampler, any model), :class:`bayeswd.infer.PyroNUTS`
        (``pyro.infer.NUTS`` on the Pyro model) and :class:`bayeswd.infer.SVI` (``"svi"``: a Pyro
        autoguide fitted to the ELBO). A string means the method with its default settings; e.g.
        ``method=NUTS(num_warmup=500, target_accept_prob=0.9)``.
    num_samples : int, default 1000
        Draws per chain kept (for SVI and exact: independent draws per "chain").
    num_chains : int, default 4
        Number of chains; several make R-hat meaningful.
    seed : int, default 0
        Seeds everything (chain ``c`` uses a seed derived from ``(seed, c)``). The caller's global
        torch and Pyro random state and Pyro param store are left as they were.
    device : {"auto", "cpu", "cuda"} or torch.device, default "auto"
        Where inference runs (``"auto"``: CUDA when available). Draws are returned on the CPU.
    fit_intercept : bool, default True
        Sample a flat-prior intercept; ``False`` fixes it at 0.
    progress_bar : bool, default True
        Show a tqdm progress bar (NUTS, SVI, Gibbs; exact and collapsed draws take no loop).
    family : {"gaussian", "bernoulli", "categorical"}, default "gaussian"
        The likelihood. ``"bernoulli"`` (logistic regression, two labels) and ``"categorical"``
        (softmax regression) hand the call to
        :func:`bayeswd.classification.sample_classifier_posterior` (``sigma`` must then be left at
        ``None``; ``method`` is ``"auto"``, ``"laplace_mh"``, ``"nuts"``, ``"gibbs"`` (Polya-Gamma,
        bernoulli), ``"laplace_approx"`` or ``"svi"``) and return a
        :class:`bayeswd.classification.ClassifierPosterior`.
    **deprecated
        The settings of a method given as keywords (``num_warmup``, ``backend``,
        ``target_accept_prob``, ``max_tree_depth``, ``dense_mass``, ``jit_compile``, ``guide``,
        ``lr``, ``max_steps``, ``window``, ``rtol``, ``num_decays``, ``num_particles``), the form
        before 0.2: still applied, with a ``FutureWarning``, when they configure the chosen
        method; a ``TypeError`` otherwise.

    Returns
    -------
    Posterior
        Draws with leading ``(chain, draw)`` axes, diagnostics and settings (a
        :class:`~bayeswd.classification.ClassifierPosterior` for a classification ``family``).

    Raises
    ------
    ValueError, TypeError
        For invalid data or settings (the message names the argument), for a setting that does
        not apply to the chosen method, and for ``method="exact"`` where no closed form exists
        (laplace prior, ``sigma`` or ``tau`` sampled), ``method="gibbs"`` with the gaussian prior
        and ``method="collapsed"`` with the laplace prior or both scales fixed.

    Warns
    -----
    DiagnosticWarning
        NUTS, Gibbs and collapsed, with rules calibrated to the run
        (:mod:`bayeswd.infer.diagnostics`): a bulk or tail R-hat above the bound a healthy run of
        this many chains, draws and parameters exceeds with 1 % probability (never below 1.01);
        a min bulk or tail ESS below
        ``min(100 per chain, max(50, 10 % of the draws))``; or any divergent transition.
    ConvergenceWarning
        SVI: the step budget ran out before the ELBO stopping rule was met.

    Notes
    -----
    Every method starts from the gaussian approximation at the starting scales: the conjugate
    posterior (laplace: the gaussian prior of the same variance ``2 tau^2``, centred at the
    sparse laplace MAP). For the gaussian model with fixed scales the full-rank SVI guide
    therefore starts at the exact answer; the mean-field guide starts at the best mean-field fit
    of that gaussian (sds ``1/sqrt(P_ii)``), which is *smaller* than the exact marginal sds:
    mean-field VI is underdispersed for correlated posteriors (measured in the test suite).

    Examples
    --------
    >>> from bayeswd import sample_posterior, seed_problem
    >>> p = seed_problem()
    >>> post = sample_posterior(p.train.X, p.train.y, sigma=p.sigma, tau=p.tau, method="exact")
    >>> post.samples["coef"].shape
    torch.Size([4, 1000, 200])
    """
    family = check_choice(family, "family", FAMILIES)
    if family != "gaussian":
        return _classifier(X, y, family=family, prior=prior, sigma=sigma, tau=tau, method=method,
                           num_samples=num_samples, num_chains=num_chains, seed=seed, device=device,
                           fit_intercept=fit_intercept, progress_bar=progress_bar, deprecated=deprecated)
    prior = check_choice(prior, "prior", PRIORS)
    options = resolve_method(method, deprecated, stacklevel=3)
    num_samples = check_positive_int(num_samples, "num_samples")
    num_chains = check_positive_int(num_chains, "num_chains")
    sigma = _scale_argument(sigma, "sigma")
    tau = _scale_argument(tau, "tau")
    fit_intercept = check_bool(fit_intercept, "fit_intercept")
    progress_bar = check_bool(progress_bar, "progress_bar")
    seed = check_seed(seed)
    choice = None
    if isinstance(options, Auto):
        options, choice = options.choose(prior, sigma, tau)
    if isinstance(options, Exact):
        check_exact(prior, sigma, tau)
    if isinstance(options, Gibbs):
        check_gibbs(prior)
    if isinstance(options, Collapsed):
        check_collapsed(prior, sigma, tau)
    dev = resolve_device(device)
    dask = is_dask_input(X, y)
    if dask:  # one Dask pass; X and y become stand-ins holding its statistics
        from bayeswd._dask import inference_data

        Xt, yt, names = inference_data(X, y, options, fit_intercept=fit_intercept, device=dev)
    else:
        Xt, names = as_design(X, device=dev)
        yt = as_target(y, Xt.shape[0], device=dev)

    start = time.perf_counter()
    stats = sufficient_statistics(Xt, yt, fit_intercept)  # the one pass over X every method needs
    sigma_arg, tau_arg, hyper = default_hyperpriors(Xt, yt, sigma, tau, stats)
    problem = InferenceProblem(Xt, yt, stats, prior, sigma_arg, tau_arg, fit_intercept, hyper)
    extra: dict[str, Any] = {}
    if choice is not None and isinstance(options, Gibbs) and not dask:
        options, choice, extra = _laplace_choice(problem, options, choice, num_chains, seed)
    out = _RUNNERS[type(options)](problem, options, num_samples=num_samples, num_chains=num_chains,
                                  seed=seed, progress_bar=progress_bar, **extra)
    order = [k for k in ("coef", "intercept", "sigma", "tau") if k in out.samples]
    samples = {k: out.samples[k].detach().to("cpu", DTYPE).contiguous() for k in order}
    wall = time.perf_counter() - start
    # the samplers' warning reuses the ranks of the diagnostics
    samplers = (NUTS, PyroNUTS, Gibbs, Collapsed, IMH)
    split: dict[str, np.ndarray] | None = {} if isinstance(options, samplers) else None
    diag = diagnose(samples, split=split)
    if isinstance(options, (NUTS, PyroNUTS)):
        diag.update(nuts_diagnostics(out.sample_stats, options.max_tree_depth))
        warn_diagnostics(diag, out.sample_stats, num_chains, samples=samples, split=split,
                         num_draws=num_samples, stacklevel=3)
    elif isinstance(options, (Gibbs, Collapsed, IMH)):
        warn_diagnostics(diag, out.sample_stats, num_chains, samples=samples, split=split,
                         num_draws=num_samples, stacklevel=3, sampler=type(options).__name__)
    if not out.converged:
        warnings.warn(
            f"SVI stopped after {out.info['svi_steps']} steps before its ELBO stopping rule was "
            f"met ({out.info['num_decays']} plateaus); raise `max_steps` or `lr` of the SVI "
            "options.",
            ConvergenceWarning,
            stacklevel=2,
        )
    return Posterior(
        samples=samples,
        method=options.name,
        prior=prior,
        sigma=sigma if isinstance(sigma, float) else None,
        tau=tau if isinstance(tau, float) else None,
        hyperpriors=hyper,
        fit_intercept=fit_intercept,
        feature_names=tuple(names),
        X=_own(Xt),
        y=_own(yt),
        diagnostics=diag,
        sample_stats=out.sample_stats,
        wall_time=wall,
        seed=int(seed),
        device=str(dev),
        elbo=out.elbo,
        guide=out.info.get("guide"),
        converged=out.converged,
        settings={"num_samples": num_samples, "num_chains": num_chains, **out.info,
                  **({"method_choice": f"auto: {choice}"} if choice else {})},
    )
