r"""Full posteriors of logistic and softmax regression: :func:`sample_classifier_posterior`.

The model is :func:`bayeswd.model.linear_regression_model` with ``family="bernoulli"`` or
``"categorical"``: a gaussian (weight decay, L2) or laplace (L1) prior on every weight, flat
intercepts (class 0's fixed at 0 for the softmax), ``tau`` fixed or sampled. There is no conjugate
posterior; the methods are

* ``"nuts"`` (:class:`bayeswd.infer.NUTS`): bayeswd's NUTS on the potential of
  :class:`~bayeswd.classification.potential.ClassifierPotential` (closed-form gradient, tested
  equal to Pyro's), preconditioned by the Laplace approximation at the MAP;
* ``"gibbs"`` (:class:`bayeswd.infer.Gibbs`): the Polya-Gamma Gibbs sampler of the bernoulli family
  (:mod:`bayeswd.classification.pg_gibbs`), exact, all chains batched;
* ``"laplace_mh"`` (:class:`~bayeswd.classification.imh.LaplaceMH`): independence
  Metropolis-Hastings with the Laplace approximation as proposal, exact, every proposal evaluated in
  batched matrix products (``tau`` fixed);
* ``"laplace_approx"`` (:class:`LaplaceApprox`): independent draws of the gaussian approximation at
  the MAP; fast and approximate (gaussian prior, ``tau`` fixed);
* ``"svi"`` (:class:`bayeswd.infer.SVI`): a Pyro autoguide fitted to the ELBO, started at the
  Laplace approximation (:mod:`bayeswd.classification.svi`); approximate, any prior, ``tau`` fixed
  or sampled;
* ``"auto"``: the fastest exact method for the model (see :func:`choose_classifier_method`).

:func:`bayeswd.sample_posterior` with ``family="bernoulli"`` or ``"categorical"`` calls this.
"""

from __future__ import annotations

import contextlib
import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch

from bayeswd import _arviz
from bayeswd._validation import (
    DTYPE,
    as_design,
    check_bool,
    check_choice,
    check_positive,
    check_positive_int,
    check_seed,
    resolve_device,
)
from bayeswd.classification.conventions import classifier_lam, logistic_C
from bayeswd.classification.imh import AUTO_MIN_ACCEPT, LaplaceMH, pilot_acceptance, sample_laplace_mh
from bayeswd.classification.map import _family, _labels
from bayeswd.classification.potential import (
    ClassifierPotential,
    GaussianApproximation,
    gaussian_approximation,
    site_draws,
)
from bayeswd.classification.problem import GLMProblem, softplus
from bayeswd.conventions import PRIORS
from bayeswd.exceptions import ConvergenceWarning
from bayeswd.infer.chains import run_chains
from bayeswd.infer.diagnostics import diagnose, nuts_diagnostics, warn_diagnostics
from bayeswd.infer.nuts import run_chain
from bayeswd.infer.options import NUTS, SVI, Gibbs
from bayeswd.infer.runtime import one_thread_if_small
from bayeswd.infer.start import MethodOutput, check_scale_prior, rms_column_sd

__all__ = [
    "DEFAULT_TAU_SCALE",
    "ClassifierPosterior",
    "LaplaceApprox",
    "choose_classifier_method",
    "sample_classifier_posterior",
]

#: ``tau ~ HalfNormal(DEFAULT_TAU_SCALE / s_x)`` by default: a change of one standard deviation of
#: a feature moves the log odds by about 2.5 or less a priori (the scale of Gelman, Jakulin, Pittau
#: and Su 2008's weakly informative prior for logistic regression).
DEFAULT_TAU_SCALE = 2.5
#: NUTS runs a sampled ``tau`` centred when the data add this many times the prior's precision to
#: the median weight, non-centred otherwise (:func:`prefers_noncentred`).
CENTRED_MIN_RATIO = 10.0
CLASSIFIER_METHODS = ("auto", "nuts", "gibbs", "laplace_mh", "laplace_approx", "svi")


@dataclass(frozen=True)
class LaplaceApprox:
    """The Laplace approximation: independent draws of ``Normal(MAP, H^{-1})``.

    ``H`` is the Hessian of the negative log posterior at the MAP (closed form, Newton's). Exact
    only in the limit of many rows per parameter: the posterior of a logistic regression is skewed
    where the data are few or a class is nearly separated. The gaussian prior with ``tau`` fixed
    only (the laplace prior has no Hessian at the MAP's exact zeros). It has no settings.
    """

    name: ClassVar[str] = "laplace_approx"


_OPTION_CLASSES = {"nuts": NUTS, "gibbs": Gibbs, "laplace_mh": LaplaceMH, "laplace_approx": LaplaceApprox,
                   "svi": SVI}


#: Warm-up of the NUTS that ``method="auto"`` runs: the chains start at the MAP with the Laplace
#: approximation as metric, so the step size and the diagonal settle fast. Measured (4 chains of
#: 1000 draws; warm-up 1000 / 300 / 200; min bulk ESS, max R-hat): breast_cancer 4041 / 4203 / 3429,
#: 1.004 / 1.004 / 1.003; wine 3850 / 4019 / 3830, 1.004 / 1.003 / 1.006; breast_cancer with tau
#: sampled 1029 / 1011 / 1125, 1.004 / 1.002 / 1.003; no divergences.
AUTO_NUTS_WARMUP = 300


def choose_classifier_method(prob: GLMProblem, tau: Any, approx: GaussianApproximation, num_chains: int,
                             seed: int) -> tuple[Any, str, float | None]:
    """The method ``method="auto"`` runs for a classifier, why, and the pilot acceptance.

    With ``tau`` fixed, a pilot of independence Metropolis-Hastings on the Laplace approximation
    (:func:`~bayeswd.classification.imh.pilot_acceptance`): when it accepts at least
    :data:`~bayeswd.classification.imh.AUTO_MIN_ACCEPT` of its proposals the independence sampler
    runs (a few batched matrix products for every draw of every chain); otherwise, and with ``tau``
    sampled, NUTS on the closed-form potential with the Laplace approximation as metric and
    :data:`AUTO_NUTS_WARMUP` warm-up iterations.
    """
    nuts = NUTS(num_warmup=AUTO_NUTS_WARMUP)
    if isinstance(tau, float):
        acc = pilot_acceptance(prob, approx, num_chains, seed)
        if acc >= AUTO_MIN_ACCEPT:
            return LaplaceMH(), (f"tau fixed and the Laplace approximation a good proposal (pilot "
                                 f"acceptance {acc:.2f} >= {AUTO_MIN_ACCEPT}): independence "
                                 "Metropolis-Hastings on it"), acc
        why = (f"tau fixed but the posterior far from the Laplace approximation (pilot acceptance "
               f"{acc:.2f} < {AUTO_MIN_ACCEPT}): NUTS with it as metric, {AUTO_NUTS_WARMUP} warm-up "
               "iterations")
        return nuts, why, None
    return nuts, (f"tau sampled: NUTS on the closed-form potential, the Laplace approximation as metric, "
                  f"{AUTO_NUTS_WARMUP} warm-up iterations"), None


def _resolve(method: Any) -> Any:
    if isinstance(method, (NUTS, Gibbs, LaplaceApprox, LaplaceMH, SVI)):
        return method
    if isinstance(method, str):
        name = check_choice(method, "method", CLASSIFIER_METHODS)
        return None if name == "auto" else _OPTION_CLASSES[name]()
    raise TypeError(
        "`method` for a classifier must be one of 'auto', 'nuts', 'gibbs', 'laplace_mh', "
        "'laplace_approx', 'svi' or an options object (NUTS, Gibbs, LaplaceMH, LaplaceApprox, SVI); got "
        f"{type(method).__name__}."
    )


def default_tau_prior(X: torch.Tensor) -> tuple[torch.distributions.Distribution, str]:
    """``tau ~ HalfNormal(2.5 / s_x)``, ``s_x`` the root mean column variance of ``X``."""
    scale = DEFAULT_TAU_SCALE / rms_column_sd(X)
    prior = torch.distributions.HalfNormal(torch.tensor(scale, dtype=DTYPE, device=X.device))
    return prior, f"HalfNormal(scale={scale:.6g})"


@dataclass(frozen=True, eq=False)
class ClassifierPosterior:
    """Draws from the posterior of logistic (bernoulli) or softmax (categorical) regression.

    Attributes
    ----------
    samples : dict of str to torch.Tensor
        CPU float64 draws with leading ``(chain, draw)`` axes: ``"coef"`` (chain, draw, d) for the
        bernoulli family, (chain, draw, d, K) for the categorical; ``"intercept"`` (chain, draw) or
        (chain, draw, K - 1) (the free intercepts of classes 1..K-1; class 0's is 0) when fitted;
        ``"tau"`` (chain, draw) when sampled.
    method : {"laplace_mh", "nuts", "gibbs", "laplace_approx", "svi"}
        The method that ran (``"auto"`` resolved; why: ``settings["method_choice"]``).
    family : {"bernoulli", "categorical"}
    prior : {"gaussian", "laplace"}
    tau : float or None
        The fixed prior scale, ``None`` when sampled (its prior in ``hyperpriors``).
    hyperpriors : dict of str to str
    classes_ : numpy.ndarray
        The sorted labels; class index ``k`` of the model is ``classes_[k]``.
    fit_intercept : bool
    feature_names : tuple of str
    X : torch.Tensor
        Training design (CPU).
    y : torch.Tensor
        Training class indices (int64, CPU).
    diagnostics : dict
        ``"rhat"``, ``"ess_bulk"``, ``"ess_tail"`` per variable (and NUTS's ``"num_divergent"``, ...).
    sample_stats : dict of str to numpy.ndarray
        Per-draw statistics (chain, draw): NUTS's ``diverging``, ``tree_depth``, ``step_size``,
        ``acceptance_rate``, ``n_steps``; empty for the other methods.
    wall_time : float
        Seconds of inference (MAP, warm-up and draws).
    seed : int
    device : str
    settings : dict
    options : object or None
        The options object of the method that ran (``"auto"`` resolved, e.g. ``NUTS(num_warmup=300)``).
    """

    samples: dict[str, torch.Tensor]
    method: str
    family: str
    prior: str
    tau: float | None
    hyperpriors: dict[str, str]
    classes_: np.ndarray
    fit_intercept: bool
    feature_names: tuple[str, ...]
    X: torch.Tensor
    y: torch.Tensor
    diagnostics: dict[str, Any]
    sample_stats: dict[str, np.ndarray]
    wall_time: float
    seed: int
    device: str
    settings: dict[str, Any] = field(default_factory=dict)
    options: Any = None

    @property
    def num_chains(self) -> int:
        """Number of chains."""
        return int(self.samples["coef"].shape[0])

    @property
    def num_draws(self) -> int:
        """Draws per chain."""
        return int(self.samples["coef"].shape[1])

    @property
    def num_classes(self) -> int:
        """``K``."""
        return int(self.classes_.shape[0])

    @property
    def C(self) -> float | None:  # noqa: N802
        """scikit-learn's ``C`` of the fixed prior scale (``None`` when ``tau`` was sampled)."""
        return None if self.tau is None else logistic_C(self.tau, self.prior)

    @property
    def lam(self) -> float | None:
        """The penalty ``lam = 1/C`` of the fixed prior scale (``None`` when ``tau`` was sampled)."""
        return None if self.tau is None else classifier_lam(self.tau, self.prior)

    def _flat(self, name: str) -> torch.Tensor:
        v = self.samples[name]
        return v.reshape(-1, *v.shape[2:])

    def _logit_draws(self, X: torch.Tensor) -> torch.Tensor:
        """Logits of every draw: (S, m) bernoulli, (S, m, K) categorical (S = chains x draws)."""
        W = self._flat("coef")
        if self.family == "bernoulli":
            eta = W @ X.T
            if self.fit_intercept:
                eta = eta + self._flat("intercept").unsqueeze(-1)
            return eta
        eta = torch.einsum("md,sdk->smk", X, W)
        if self.fit_intercept:
            b = self._flat("intercept")
            eta = eta + torch.cat([b.new_zeros(b.shape[0], 1), b], dim=1).unsqueeze(1)
        return eta

    def _check_X(self, X_new: Any) -> torch.Tensor:
        Xn, _ = as_design(X_new, name="X_new", min_rows=1)
        if Xn.shape[1] != len(self.feature_names):
            raise ValueError(
                f"`X_new` must have {len(self.feature_names)} columns like the training X; got {Xn.shape[1]}."
            )
        return Xn

    def proba_draws(self, X_new: Any) -> torch.Tensor:
        """Class probabilities under every draw: shape (chains x draws, m, K)."""
        eta = self._logit_draws(self._check_X(X_new))
        if self.family == "bernoulli":
            p = torch.sigmoid(eta)
            return torch.stack([1.0 - p, p], dim=-1)
        return torch.softmax(eta, dim=-1)

    def predict_proba(self, X_new: Any) -> torch.Tensor:
        """Posterior predictive class probabilities ``E[p(y = k | x, W, b)]``, shape (m, K).

        The average of the probabilities over the draws (not the probabilities at the mean
        weights): the calibrated prediction of the Bayesian model.
        """
        return self.proba_draws(X_new).mean(0)

    def predict(self, X_new: Any) -> np.ndarray:
        """The label of largest posterior predictive probability of each row."""
        return self.classes_[self.predict_proba(X_new).argmax(1).numpy()]

    def log_likelihood(self) -> torch.Tensor:
        """Pointwise ``log p(y_i | draw)``, shape (chain, draw, n)."""
        eta = self._logit_draws(self.X)
        if self.family == "bernoulli":
            y = self.y.to(eta.dtype)
            ll = y * eta - softplus(eta)
        else:
            ll = torch.log_softmax(eta, dim=-1).gather(
                2, self.y.view(1, -1, 1).expand(eta.shape[0], -1, 1))[..., 0]
        return ll.reshape(self.num_chains, self.num_draws, -1)

    def _dims(self) -> tuple[dict[str, list[str]], dict[str, Any]]:
        coords: dict[str, Any] = {"feature": list(self.feature_names)}
        dims: dict[str, list[str]] = {"coef": ["feature"]}
        if self.family == "categorical":
            coords["class"] = [str(c) for c in self.classes_]
            coords["class_free"] = [str(c) for c in self.classes_[1:]]
            dims = {"coef": ["feature", "class"], "intercept": ["class_free"]}
        return dims, coords

    def summary(self, *, var_names: list[str] | None = None, kind: str = "all", hdi_prob: float = 0.94,
                round_to: int | str | None = "auto") -> pd.DataFrame:
        """Summary table (mean, sd, HDI, MCSE, ESS, R-hat) of every parameter (ArviZ's numbers).

        Parameters and return value as :meth:`bayeswd.Posterior.summary`; the softmax's weights
        are ``coef[<feature>, <class>]`` and its intercepts ``intercept[<class>]`` (classes 1..K-1).
        """
        dims, coords = self._dims()
        data = _arviz.from_dict({"posterior": {k: v.numpy() for k, v in self.samples.items()}},
                                coords=coords, dims=dims)
        return _arviz.summary(data, var_names=var_names, kind=kind, hdi_prob=hdi_prob, round_to=round_to)

    def to_inference_data(self, *, seed: int | None = None) -> Any:
        """The posterior as ArviZ's container (``InferenceData`` on 0.x, ``DataTree`` on 1.x).

        Groups: ``posterior``; ``log_likelihood`` (``obs``, pointwise: ``arviz.loo`` works);
        ``posterior_predictive`` (``obs``: replicated class indices, one data set per draw);
        ``observed_data`` (``obs``: the class indices; ``classes_`` in the attributes);
        ``sample_stats`` (NUTS). The settings are the attributes of every group.

        Parameters
        ----------
        seed : int, optional
            Seed of the replicated data (default: the posterior's seed).
        """
        gen = torch.Generator().manual_seed(self.seed if seed is None else check_seed(seed))
        probs = self.proba_draws(self.X)  # (S, n, K)
        y_rep = torch.multinomial(probs.reshape(-1, probs.shape[-1]), 1, generator=gen)
        shape = (self.num_chains, self.num_draws, -1)
        dims, coords = self._dims()
        coords["obs_id"] = np.arange(self.X.shape[0])
        dims["obs"] = ["obs_id"]
        data = _arviz.from_dict(
            {
                "posterior": {k: v.numpy() for k, v in self.samples.items()},
                "log_likelihood": {"obs": self.log_likelihood().numpy()},
                "posterior_predictive": {"obs": y_rep.reshape(shape).numpy()},
                "observed_data": {"obs": self.y.numpy()},
                "sample_stats": dict(self.sample_stats),
            },
            coords=coords, dims=dims,
        )
        attrs: dict[str, Any] = {
            "inference_library": "bayeswd", "method": self.method, "family": self.family,
            "prior": self.prior, "tau": self.tau, "fit_intercept": self.fit_intercept,
            "classes": [str(c) for c in self.classes_], "wall_time": self.wall_time,
            "seed": self.seed, "device": self.device,
        }
        attrs.update({f"hyperprior_{k}": v for k, v in self.hyperpriors.items()})
        attrs.update(self.settings)
        for name in _arviz.group_names(data):
            _arviz.get_group_attrs(data, name).update({k: _arviz._netcdf_attr(v) for k, v in attrs.items()})
        return data

    def __repr__(self) -> str:
        tau = "sampled" if self.tau is None else f"{self.tau:.6g}"
        return (
            f"ClassifierPosterior(method={self.method!r}, family={self.family!r}, prior={self.prior!r}, "
            f"classes={self.num_classes}, d={len(self.feature_names)}, tau={tau}, "
            f"chains={self.num_chains}, draws={self.num_draws})"
        )


def _tau_argument(tau: Any) -> Any:
    if tau is None:
        return None
    if isinstance(tau, torch.distributions.Distribution):
        check_scale_prior(tau, "tau")
        return tau
    return check_positive(tau, "tau")


def sample_nuts_classifier(prob: GLMProblem, tau_prior: Any, options: NUTS, *, num_samples: int,
                           num_chains: int, seed: int, progress_bar: bool,
                           approx: GaussianApproximation) -> MethodOutput:
    """NUTS (bayeswd's) on :class:`ClassifierPotential`, metric from the Laplace approximation.

    With ``tau`` sampled the MAP and the Hessian are taken at the prior median of ``tau``, and
    ``log tau`` starts with the variance of its conditional given the weights
    (:func:`~bayeswd.classification.potential.tau_variance`); the warm-up adapts the diagonal.
    """
    noncentred = tau_prior is not None and prefers_noncentred(prob, approx)
    pot = ClassifierPotential(prob, tau_prior, noncentred=noncentred)
    mu = pot.pack(approx.mean, prob.tau)
    L = pot.metric_factor(approx.chol, prob.tau)
    dev = prob.X.device

    def one_chain(chain: int, cseed: int, tick: Any) -> tuple[dict[str, torch.Tensor], dict[str, np.ndarray]]:
        del chain
        gen = torch.Generator(device=dev).manual_seed(cseed)
        q0 = mu + L @ torch.randn(mu.shape, generator=gen, dtype=DTYPE, device=dev)
        res = run_chain(pot, q0, mu, L, num_warmup=options.num_warmup, num_samples=num_samples,
                        seed=cseed, target_accept_prob=options.target_for(False),
                        max_tree_depth=options.max_tree_depth, progress=tick)
        stats = {"diverging": res.diverging, "tree_depth": res.tree_depth, "step_size": res.step_size,
                 "acceptance_rate": res.acceptance_rate, "n_steps": res.num_steps}
        return {"q": res.draws}, stats

    samples, stats = run_chains(one_chain, num_chains=num_chains, seed=seed,
                                iterations=options.num_warmup + num_samples,
                                progress_bar=progress_bar, desc="NUTS")
    info = {"num_warmup": options.num_warmup, "max_tree_depth": options.max_tree_depth,
            "target_accept_prob": options.target_for(False), "map_iterations": approx.n_iter,
            "parameterisation": "non-centred (z = w / tau)" if noncentred else "direct"}
    return MethodOutput(samples=pot.unpack_draws(samples["q"]), sample_stats=stats, info=info)


def prefers_noncentred(prob: GLMProblem, approx: Any) -> bool:
    """Whether NUTS runs a sampled ``tau`` on ``z = w / tau`` (the non-centred form).

    The centred form suits weights that the data pin down each on its own: ``tau`` is then set by
    their spread. Where the prior holds them, small ``tau`` is a funnel in ``(w, log tau)`` that
    the centred form meets with divergences or crawls through. The rule: non-centred unless the
    data add at least :data:`CENTRED_MIN_RATIO` times the prior's precision to the median weight
    (the marginal precision ``1 / (H^{-1})_jj`` of the Laplace approximation at the starting
    ``tau``, less ``1/tau^2``). Measured (tau sampled, 4 chains of 1000 + 1000, min bulk ESS/s,
    non-centred vs centred): n = 2000, d = 20 (ratio 374): 32 vs 924; breast cancer (569 x 30,
    ratio 1.1): 91 vs 64; n = 100, d = 50 (ratio 3.1): 12 vs 2.
    """
    cov_diag = (approx.chol**2).sum(1)[: prob.n_weights]
    lik_precision = 1.0 / cov_diag - 1.0 / prob.tau**2
    return bool(torch.median(lik_precision) * prob.tau**2 < CENTRED_MIN_RATIO)


def sample_laplace_approx(prob: GLMProblem, tau_prior: Any, options: LaplaceApprox, *, num_samples: int,
                          num_chains: int, seed: int, progress_bar: bool,
                          approx: GaussianApproximation) -> MethodOutput:
    """Independent draws of the Laplace approximation (gaussian prior, ``tau`` fixed)."""
    del options, progress_bar, tau_prior
    gen = torch.Generator(device=prob.X.device).manual_seed(seed)
    z = torch.randn((num_chains, num_samples, prob.size), generator=gen, dtype=DTYPE, device=prob.X.device)
    theta = approx.mean + z @ approx.chol.T
    info = {"map_iterations": approx.n_iter, "log_det_hessian": approx.log_det_hessian}
    return MethodOutput(samples=site_draws(prob, theta), sample_stats={}, info=info)


def _sample_laplace_mh(prob: GLMProblem, tau_prior: Any, options: LaplaceMH, *, num_samples: int,
                       num_chains: int, seed: int, progress_bar: bool, approx: GaussianApproximation,
                       pilot: float | None = None) -> MethodOutput:
    del tau_prior, progress_bar  # batched: no loop worth a bar
    return sample_laplace_mh(prob, approx, options, num_samples=num_samples, num_chains=num_chains,
                             seed=seed, pilot=pilot)


def _sample_gibbs(prob: GLMProblem, tau_prior: Any, options: Gibbs, *, num_samples: int, num_chains: int,
                  seed: int, progress_bar: bool, approx: GaussianApproximation | None = None) -> MethodOutput:
    from bayeswd.classification.pg_gibbs import sample_pg_gibbs

    del approx
    out = sample_pg_gibbs(prob, tau_prior=tau_prior, options=options, num_samples=num_samples,
                          num_chains=num_chains, seed=seed, progress_bar=progress_bar)
    samples = site_draws(prob, out.samples["theta"])
    if "tau" in out.samples:
        samples["tau"] = out.samples["tau"]
    return MethodOutput(samples=samples, sample_stats=out.sample_stats, info=out.info)


def _sample_svi(prob: GLMProblem, tau_prior: Any, options: SVI, *, num_samples: int, num_chains: int,
                seed: int, progress_bar: bool, approx: GaussianApproximation) -> MethodOutput:
    from bayeswd.classification.svi import fit_classifier_svi  # imports Pyro's autoguides

    return fit_classifier_svi(prob, tau_prior, options, num_samples=num_samples, num_chains=num_chains,
                              seed=seed, progress_bar=progress_bar, approx=approx)


_RUNNERS = {NUTS: sample_nuts_classifier, Gibbs: _sample_gibbs, LaplaceApprox: sample_laplace_approx,
            LaplaceMH: _sample_laplace_mh, SVI: _sample_svi}


def sample_classifier_posterior(
    X: Any,
    y: Any,
    *,
    prior: str = "gaussian",
    tau: float | torch.distributions.Distribution | None = None,
    family: str = "auto",
    method: Any = "auto",
    num_samples: int = 1000,
    num_chains: int = 4,
    seed: int = 0,
    device: str | torch.device = "auto",
    fit_intercept: bool = True,
    progress_bar: bool = True,
) -> ClassifierPosterior:
    r"""Draw from the posterior of logistic or softmax regression with a gaussian or laplace prior.

    The model (:func:`bayeswd.model.linear_regression_model` with a classification family) is

    .. math::

        y_i \sim \mathrm{Categorical}(\mathrm{softmax}(x_i^\top W + b)),\quad
        W_{jk} \sim \mathcal N(0, \tau^2)\ \text{or}\ \mathrm{Laplace}(0, \tau),\quad p(b) \propto 1,

    (for two labels and ``family="bernoulli"``, ``y_i ~ Bernoulli(sigmoid(x_i . w + b))``), whose
    mode is :func:`bayeswd.classification.map_classifier` and scikit-learn's
    ``LogisticRegression(C)`` with ``C = tau^2`` (L2) or ``C = tau`` (L1).

    Parameters
    ----------
    X : array_like, shape (n, d)
        numpy array, torch tensor or pandas DataFrame (column names become feature names).
    y : array_like, shape (n,)
        Labels of one sortable type; ``classes_`` of the result is their sorted set.
    prior : {"gaussian", "laplace"}, default "gaussian"
    tau : float, Distribution or None, default None
        Prior scale of the weights. A number fixes it; ``None`` samples it under
        ``HalfNormal(2.5 / s_x)`` (``s_x`` the root mean column variance of ``X``): full Bayes over
        the regularisation strength; a Distribution on the positive reals is used as its prior.
    family : {"auto", "bernoulli", "categorical"}, default "auto"
        ``"auto"``: bernoulli for two labels, categorical for more.
    method : str or options object, default "auto"
        ``"auto"`` (see :func:`choose_classifier_method`; the choice is kept in
        ``settings["method_choice"]``), ``"nuts"`` / :class:`bayeswd.infer.NUTS`, ``"gibbs"`` /
        :class:`bayeswd.infer.Gibbs` (Polya-Gamma; bernoulli family only), ``"laplace_mh"`` /
        :class:`~bayeswd.classification.imh.LaplaceMH` (``tau`` fixed), ``"laplace_approx"`` /
        :class:`LaplaceApprox` (approximate; gaussian prior, ``tau`` fixed) or ``"svi"`` /
        :class:`bayeswd.infer.SVI` (approximate: a Pyro autoguide fitted to the ELBO from the
        Laplace approximation; its ELBO trace in ``settings["elbo_final"]``, ``"elbo_steps"``).
    num_samples : int, default 1000
        Draws per chain.
    num_chains : int, default 4
    seed : int, default 0
    device : {"auto", "cpu", "cuda"} or torch.device, default "auto"
    fit_intercept : bool, default True
    progress_bar : bool, default True

    Returns
    -------
    ClassifierPosterior

    Raises
    ------
    ValueError, TypeError
        For invalid data or settings; the message names the argument.

    Warns
    -----
    DiagnosticWarning
        NUTS and Gibbs, by the rules of :mod:`bayeswd.infer.diagnostics`.
    ConvergenceWarning
        SVI, when its stopping rule was not met within ``max_steps``.
    """
    return _sample(X, y, prior=prior, tau=tau, family=family, method=method, num_samples=num_samples,
                   num_chains=num_chains, seed=seed, device=device, fit_intercept=fit_intercept,
                   progress_bar=progress_bar, stacklevel=4)


def _sample(X: Any, y: Any, *, prior: str, tau: Any, family: str, method: Any, num_samples: int,
            num_chains: int, seed: int, device: Any, fit_intercept: bool, progress_bar: bool,
            stacklevel: int) -> ClassifierPosterior:
    """:func:`sample_classifier_posterior`; warnings ``stacklevel`` frames above ``warn_diagnostics``."""
    prior = check_choice(prior, "prior", PRIORS)
    options = _resolve(method)
    tau = _tau_argument(tau)
    num_samples = check_positive_int(num_samples, "num_samples")
    num_chains = check_positive_int(num_chains, "num_chains")
    seed = check_seed(seed)
    fit_intercept = check_bool(fit_intercept, "fit_intercept")
    progress_bar = check_bool(progress_bar, "progress_bar")
    dev = resolve_device(device)
    Xt, names = as_design(X, device=dev)
    classes, codes = _labels(y, Xt.shape[0])
    fam = _family(family, classes.shape[0])
    if isinstance(options, LaplaceMH) and not isinstance(tau, float):
        raise ValueError("method='laplace_mh' needs a fixed `tau`; got tau sampled. Use method='nuts'.")
    if isinstance(options, LaplaceApprox) and (prior != "gaussian" or not isinstance(tau, float)):
        given = tau if isinstance(tau, float) else "sampled"
        raise ValueError(
            "method='laplace_approx' needs the gaussian prior with a fixed `tau` (the laplace prior "
            f"has no Hessian at the MAP's zeros); got prior={prior!r}, tau={given}. Use method='nuts'."
        )
    if isinstance(options, Gibbs) and fam != "bernoulli":
        raise ValueError(
            f"method='gibbs' (Polya-Gamma) covers family='bernoulli' only; got family={fam!r} "
            f"({classes.shape[0]} labels). Use method='nuts'."
        )
    start = time.perf_counter()
    hyper: dict[str, str] = {}
    tau_prior = None
    if tau is None:
        tau_prior, hyper["tau"] = default_tau_prior(Xt)
    elif isinstance(tau, torch.distributions.Distribution):
        tau_prior, hyper["tau"] = tau, repr(tau)
    tau0 = tau if isinstance(tau, float) else _prior_median(tau_prior)
    yt = torch.from_numpy(codes.astype(np.int64)).to(dev)
    prob = GLMProblem(Xt, yt, fam, prior, tau0, fit_intercept, int(classes.shape[0]))
    with one_thread_if_small(dev, prob.size):
        approx = None if isinstance(options, Gibbs) else gaussian_approximation(prob)
        choice, extra = None, {}
        if options is None:
            options, choice, pilot = choose_classifier_method(prob, tau, approx, num_chains, seed)
            if pilot is not None:
                extra["pilot"] = pilot
    # the independence sampler's work is a few large batched products, where torch's threads pay
    # (1000 x 20: 0.19 s against 0.26 s on one thread of this 2-core CPU; 5000 x 50: 0.92 s against
    # 1.23 s); every other sampler is a loop of small operations
    batched = isinstance(options, LaplaceMH)
    with contextlib.nullcontext() if batched else one_thread_if_small(dev, prob.size):
        out = _RUNNERS[type(options)](prob, tau_prior, options, num_samples=num_samples,
                                      num_chains=num_chains, seed=seed, progress_bar=progress_bar,
                                      approx=approx, **extra)
    name = type(options).name
    order = [k for k in ("coef", "intercept", "tau") if k in out.samples]
    samples = {k: out.samples[k].detach().to("cpu", DTYPE).contiguous() for k in order}
    wall = time.perf_counter() - start
    # the samplers' warning reuses the ranks of the diagnostics
    split: dict[str, np.ndarray] | None = {} if isinstance(options, (NUTS, Gibbs, LaplaceMH)) else None
    diag = diagnose(samples, split=split)
    if isinstance(options, NUTS):
        diag.update(nuts_diagnostics(out.sample_stats, options.max_tree_depth))
        warn_diagnostics(diag, out.sample_stats, num_chains, samples=samples, split=split,
                         num_draws=num_samples, stacklevel=stacklevel)
    elif isinstance(options, (Gibbs, LaplaceMH)):
        warn_diagnostics(diag, out.sample_stats, num_chains, samples=samples, split=split,
                         num_draws=num_samples, stacklevel=stacklevel, sampler=type(options).__name__)
    svi_settings: dict[str, Any] = {}
    if isinstance(options, SVI):
        svi_settings = {"elbo_final": float(out.elbo[-1]), "elbo_steps": int(out.elbo.shape[0]),
                        "converged": bool(out.converged)}
        if not out.converged:
            warnings.warn(
                f"SVI stopped after {out.info['svi_steps']} steps before its ELBO stopping rule was "
                f"met ({out.info['num_decays']} plateaus); raise `max_steps` or `lr` of the SVI "
                "options.",
                ConvergenceWarning,
                stacklevel=stacklevel - 1,  # counted from here, one frame below warn_diagnostics
            )
    return ClassifierPosterior(
        samples=samples, method=name, family=fam, prior=prior,
        tau=tau if isinstance(tau, float) else None, hyperpriors=hyper, classes_=classes,
        fit_intercept=fit_intercept, feature_names=tuple(names), X=Xt.detach().cpu().clone(),
        y=yt.cpu().clone(), diagnostics=diag, sample_stats=out.sample_stats, wall_time=wall,
        seed=int(seed), device=str(dev),
        settings={"num_samples": num_samples, "num_chains": num_chains, **out.info, **svi_settings,
                  **({"method_choice": f"auto: {choice}"} if choice else {})},
        options=options,
    )


def _prior_median(prior: torch.distributions.Distribution) -> float:
    """A central value of a scale's prior (the start of a sampled ``tau``): its median, else its mean."""
    for value in (lambda: prior.icdf(torch.tensor(0.5, dtype=DTYPE)), lambda: prior.mean):
        try:
            v = float(value())
        except (NotImplementedError, AttributeError, ValueError):
            continue
        if math.isfinite(v) and v > 0.0:
            return v
    return 1.0
