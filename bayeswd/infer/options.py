"""The inference methods of :func:`bayeswd.sample_posterior`, each with its own options.

Each method is a small frozen record of the settings that configure it, validated when it is
made (the message names the setting):

* :class:`Auto`: the default, which picks the fastest exact method the model allows
  (:class:`Exact`, :class:`Collapsed` or :class:`Gibbs`) and says which;
* :class:`NUTS`: bayeswd's own NUTS sampler;
* :class:`PyroNUTS`: ``pyro.infer.NUTS`` on the Pyro model itself;
* :class:`SVI`: stochastic variational inference with a Pyro autoguide;
* :class:`Exact`: independent draws from the conjugate gaussian posterior;
* :class:`Gibbs`: the blocked Gibbs sampler of the laplace prior's scale mixture;
* :class:`Collapsed`: the gaussian prior with sampled scales, weights integrated out.

``sample_posterior(..., method=NUTS(target_accept_prob=0.9))``; a string (``"auto"``, ``"nuts"``,
``"svi"``, ``"exact"``, ``"gibbs"``, ``"collapsed"``) means the method with its defaults. A setting
can only be given to the method it configures, so no setting is ever silently ignored. The
``bayeswd`` command builds the same objects from ``--nuts KEY=VALUE`` and ``--svi KEY=VALUE``
(:func:`options_from_strings`).
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass
from typing import Any, ClassVar

from bayeswd._validation import check_bool, check_choice, check_positive, check_positive_int

__all__ = [
    "METHODS",
    "SVI_GUIDES",
    "Auto",
    "Collapsed",
    "Exact",
    "Gibbs",
    "IMH",
    "MethodOptions",
    "NUTS",
    "PyroNUTS",
    "SVI",
    "options_from_strings",
    "resolve_method",
]

METHODS = ("auto", "nuts", "svi", "exact", "gibbs", "collapsed", "imh")
NUTS_BACKENDS = ("bayeswd", "pyro")
SVI_GUIDES = ("auto", "fullrank", "lowrank", "meanfield")


def _set(obj: Any, name: str, value: Any) -> None:
    object.__setattr__(obj, name, value)  # normalise a field of a frozen dataclass


def _check_probability(value: Any, name: str) -> float:
    value = check_positive(value, name)
    if value >= 1.0:
        raise ValueError(f"`{name}` must lie in (0, 1); got {value!r}.")
    return value


@dataclass(frozen=True)
class _NUTSOptions:
    num_warmup: int = 1000
    target_accept_prob: float | None = None
    max_tree_depth: int = 10

    name: ClassVar[str] = "nuts"

    def __post_init__(self) -> None:
        _set(self, "num_warmup", check_positive_int(self.num_warmup, "num_warmup", minimum=0))
        if self.target_accept_prob is not None:
            target = _check_probability(self.target_accept_prob, "target_accept_prob")
            _set(self, "target_accept_prob", target)
        _set(self, "max_tree_depth", check_positive_int(self.max_tree_depth, "max_tree_depth"))

    def target_for(self, collapsed_scales: bool = False) -> float:
        """The acceptance target used: the setting, else 0.8 (0.95 on the collapsed scales)."""
        if self.target_accept_prob is not None:
            return self.target_accept_prob
        return 0.95 if collapsed_scales else 0.8


@dataclass(frozen=True)
class NUTS(_NUTSOptions):
    """bayeswd's own no-U-turn sampler.

    Stan's multinomial NUTS in a lean torch loop on the model's potential energy written in
    torch (:mod:`bayeswd.infer.potentials`; tested equal to the one Pyro derives from the model),
    through the sufficient statistics ``X^T X``, ``X^T y`` when ``n > d``, preconditioned by the
    gaussian approximation of the posterior (a dense factor) times a diagonal adapted in Stan's
    warm-up windows. The laplace prior runs as its scale mixture of normals (the density's kink
    at 0 would force tiny steps): with ``n <= d`` the weights are integrated out, NUTS samples
    the mixing scales and the weights are drawn exactly given them (``settings
    ["parameterisation"]`` of the result says which form ran). Chains run one after the other,
    each with its own seed, started at the MAP plus one approximate posterior sd of seeded noise.
    Speed against Pyro and NumPyro: ``docs/benchmarks.md``.

    Parameters
    ----------
    num_warmup : int, default 1000
        Warm-up (adaptation) iterations per chain, discarded.
    target_accept_prob : float, optional
        Target mean acceptance of the step-size adaptation, in (0, 1). Default 0.8; 0.95 for the
        gaussian model with a sampled scale, which NUTS runs on the one or two scale coordinates
        (the weights integrated out): the log-transformed tails of a half-normal hyperprior are
        stiff, a transition there costs microseconds, and smaller steps keep them free of
        divergences.
    max_tree_depth : int, default 10
        Maximum number of trajectory doublings.
    """

    backend: ClassVar[str] = "bayeswd"


@dataclass(frozen=True)
class PyroNUTS(_NUTSOptions):
    """``pyro.infer.NUTS`` on the Pyro model itself (slower; a reference for bayeswd's NUTS).

    Parameters
    ----------
    num_warmup, target_accept_prob, max_tree_depth
        As for :class:`NUTS`.
    dense_mass : bool, optional
        Adapt a dense mass matrix (learns correlations; costs ``O(p^2)`` a step and needs enough
        warm-up to estimate ``p^2 / 2`` entries) instead of a diagonal one. Default: dense up to
        100 latent coordinates, diagonal above.
    jit_compile : bool, default True
        Trace the potential energy with ``torch.jit`` once and reuse it in every chain; falls
        back to plain autograd if tracing fails (``settings["jit"]`` says which ran).
    """

    dense_mass: bool | None = None
    jit_compile: bool = True

    backend: ClassVar[str] = "pyro"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.dense_mass is not None:
            _set(self, "dense_mass", check_bool(self.dense_mass, "dense_mass"))
        _set(self, "jit_compile", check_bool(self.jit_compile, "jit_compile"))


@dataclass(frozen=True)
class SVI:
    """Stochastic variational inference: a Pyro autoguide fitted by maximising the ELBO.

    The ELBO is ``E_q[log p(y, w, b, ...) - log q(w, b, ...)]``; the guide starts at the gaussian
    approximation of the posterior (for the gaussian model with fixed scales, the exact answer).
    Every ``window`` steps the mean loss of the last window is compared with the window before:
    a window whose smoothed ELBO improved by less than ``max(rtol * |ELBO|, 2 standard errors)``
    is a plateau; each plateau halves the learning rate; after the ``num_decays``-th plateau one
    more window is run and its iterates are averaged (Polyak-Ruppert), and the run has converged.

    Parameters
    ----------
    guide : {"auto", "fullrank", "lowrank", "meanfield"}, default "auto"
        ``AutoMultivariateNormal``, ``AutoLowRankMultivariateNormal`` (rank 20), ``AutoNormal``.
        ``"auto"`` is full-rank up to :data:`bayeswd.infer.svi.FULLRANK_MAX_PARAMS` = 500 latent
        coordinates (the full-rank family contains the exact posterior of the gaussian model),
        low-rank above.
    lr : float, optional
        Adam learning rate. The guide's locations are stepped at ``lr`` times the median
        approximate posterior sd, the log scales and correlations at ``lr``. Default: 0.002 for
        the gaussian prior with ``sigma`` and ``tau`` fixed (the guide starts at the answer and
        only has to keep it; the gradient noise makes the iterates random-walk by about
        ``sqrt(lr)`` posterior sds), 0.05 otherwise (the guide has to travel). The measurements
        behind both are in ``docs/benchmarks.md``.
    max_steps : int, default 20000
        Step budget.
    window : int, optional
        Steps per window of the stopping rule (at least 2). Default: 100 for the gaussian prior
        with ``sigma`` and ``tau`` fixed, 500 otherwise (the one-draw ELBO of a non-gaussian
        posterior is noisy, and over short windows slow progress looks like a plateau).
    rtol : float, default 1e-4
        Relative ELBO improvement below which a window is a plateau.
    num_decays : int, default 4
        Plateaus (learning-rate halvings) before the final averaged window.
    num_particles : int, default 1
        Monte Carlo particles per ELBO gradient.
    jit_compile : bool, default True
        Trace the ELBO once (``pyro.infer.JitTrace_ELBO``); plain ``Trace_ELBO`` if tracing
        fails (``settings["jit"]`` says which ran).
    """

    guide: str = "auto"
    lr: float | None = None
    max_steps: int = 20_000
    window: int | None = None
    rtol: float = 1e-4
    num_decays: int = 4
    num_particles: int = 1
    jit_compile: bool = True

    name: ClassVar[str] = "svi"

    def __post_init__(self) -> None:
        _set(self, "guide", check_choice(self.guide, "guide", SVI_GUIDES))
        if self.lr is not None:
            _set(self, "lr", check_positive(self.lr, "lr"))
        _set(self, "max_steps", check_positive_int(self.max_steps, "max_steps"))
        if self.window is not None:
            _set(self, "window", check_positive_int(self.window, "window", minimum=2))
        _set(self, "rtol", check_positive(self.rtol, "rtol"))
        _set(self, "num_decays", check_positive_int(self.num_decays, "num_decays"))
        _set(self, "num_particles", check_positive_int(self.num_particles, "num_particles"))
        _set(self, "jit_compile", check_bool(self.jit_compile, "jit_compile"))


@dataclass(frozen=True)
class Exact:
    """Independent draws from the conjugate gaussian posterior (:func:`bayeswd.gaussian_posterior`).

    Exists for the gaussian prior with ``sigma`` and ``tau`` fixed only; it has no settings.
    """

    name: ClassVar[str] = "exact"


@dataclass(frozen=True)
class Gibbs:
    """Blocked Gibbs sampler for the laplace prior (its scale mixture of normals).

    ``w_j | v_j ~ Normal(0, v_j)``, ``v_j ~ Exponential(rate 1 / (2 tau^2))`` (Park and Casella
    2008), in two blocks: ``(sigma, w, b) | v`` (``sigma`` with the weights integrated out, as in
    the "fast Bayesian lasso" of Rajaratnam, Sparks, Khare and Zhang 2019, which avoids the slow
    mixing of ``sigma`` given ``w`` when ``n < d``; then ``w`` exactly: a Cholesky factor of the
    ``d x d`` precision when ``n > d``, the ``O(n^2 d)`` algorithm of Bhattacharya et al. when
    ``n <= d``) and ``(tau, v) | w`` (``1 / v_j`` inverse gaussian; ``tau`` interweaved: drawn
    given ``w`` and again given ``w / tau``). A sampled ``sigma`` is updated by slice sampling on
    its log, a sampled ``tau`` by independence Metropolis-Hastings (its conditionals without the
    prior, drawn exactly, as proposals). All chains advance together as batched tensor operations
    (one generator seeded with ``seed`` drives them all). Laplace prior only. The derivation:
    docs/mathematics.md, section 2.11; speed against NUTS: docs/benchmarks.md.

    Parameters
    ----------
    num_warmup : int, default 1000
        Iterations discarded at the start (the slice widths of sampled scales adapt during them).
    thin : int, optional
        Keep every ``thin``-th iteration after warm-up (``num_samples`` kept per chain). Default:
        chosen at the end of the warm-up as ``ceil(t / 2)``, at most 10, with ``t`` the largest
        autocorrelation time of the warm-up's last half (``settings["thin_choice"]`` says it);
        1 when the warm-up has fewer than 100 iterations.
    """

    num_warmup: int = 1000
    thin: int | None = None

    name: ClassVar[str] = "gibbs"

    def __post_init__(self) -> None:
        _set(self, "num_warmup", check_positive_int(self.num_warmup, "num_warmup", minimum=0))
        if self.thin is not None:
            _set(self, "thin", check_positive_int(self.thin, "thin"))


@dataclass(frozen=True)
class Collapsed:
    """The gaussian model with ``sigma`` and/or ``tau`` sampled: weights integrated out, scales tabulated.

    The posterior of the one or two sampled scales (weights and intercept integrated out in
    closed form) is tabulated on a grid and sampled by independence Metropolis-Hastings with
    that table as proposal (exact whatever the grid's resolution); the weights and the intercept
    are then drawn exactly given each kept ``(sigma, tau)``. Draws are close to independent
    (the acceptance rate is in ``Posterior.settings["mean_acceptance"]``). Gaussian prior with a
    sampled scale only. Details: :mod:`bayeswd.infer.collapsed`, docs/mathematics.md section 2.12.

    Parameters
    ----------
    num_warmup : int, default 100
        Proposals discarded at the start of each chain (a chain starts at a draw of the proposal,
        already close to the posterior).
    grid_points : int or None, default None
        Grid points per sampled scale (``None``: as many as about ``3e7`` numbers allow,
        ``points^D x min(n, d)``: 1,024 to 8,192 for one scale, 256 to 768 per axis for two).
    """

    num_warmup: int = 100
    grid_points: int | None = None

    name: ClassVar[str] = "collapsed"

    def __post_init__(self) -> None:
        _set(self, "num_warmup", check_positive_int(self.num_warmup, "num_warmup", minimum=0))
        if self.grid_points is not None:
            _set(self, "grid_points", check_positive_int(self.grid_points, "grid_points", minimum=8))


@dataclass(frozen=True)
class IMH:
    """Independence Metropolis-Hastings on a fitted gaussian proposal (exact; :mod:`bayeswd.infer.imh`).

    The proposal, a gaussian in the unconstrained coordinates mixed with a Student-t (4 degrees of
    freedom) of the same centre and scale, is fitted to the posterior by a few rounds of importance
    sampling; then every chain's proposals are drawn and evaluated in batched matrix products and
    accepted or rejected by the Metropolis-Hastings rule, so the draws are exact whatever the fit.
    Fast where the rows outnumber the weights (the posterior is then close to a gaussian); where it
    is not, acceptance falls, ``thin`` rises to its cap (20) and the diagnostics of the result say
    so. Either prior, any scales.

    Parameters
    ----------
    num_warmup : int, default 20
        Kept draws' worth of proposals discarded at the start of each chain (each chain starts at
        a draw of the proposal, which is already close to the posterior).
    thin : int, optional
        Proposals per kept draw; default: chosen from a pilot run's acceptance ``a`` as
        ``ceil(4/a) - 3``, at most 20.
    defensive : float, default 0.3
        Weight of the Student-t component of the proposal, in [0, 1).
    """

    num_warmup: int = 20
    thin: int | None = None
    defensive: float = 0.3

    name: ClassVar[str] = "imh"

    def __post_init__(self) -> None:
        _set(self, "num_warmup", check_positive_int(self.num_warmup, "num_warmup", minimum=0))
        if self.thin is not None:
            _set(self, "thin", check_positive_int(self.thin, "thin"))
        d = self.defensive
        if isinstance(d, bool) or not isinstance(d, (int, float)) or not 0.0 <= float(d) < 1.0:
            raise ValueError(f"`defensive` must be a number in [0, 1); got {d!r}.")
        _set(self, "defensive", float(d))


@dataclass(frozen=True)
class Auto:
    """Let :func:`bayeswd.sample_posterior` choose the fastest exact method for the model (the default).

    * gaussian prior, ``sigma`` and ``tau`` fixed: :class:`Exact` (independent conjugate draws);
    * gaussian prior, a scale sampled: :class:`Collapsed` (weights integrated out);
    * laplace prior: with ``n > d + 1`` (and at most 200 coordinates), :class:`IMH` when the
      pilot run of its fitted proposal accepts at least 40 % (:mod:`bayeswd.infer.imh`); otherwise
      :class:`NUTS` on the laplace density with ``n > d + 1``, ``sigma`` sampled and
      well-conditioned features on the CPU (:func:`bayeswd.infer.nuts.laplace_prefers_nuts`);
      otherwise :class:`Gibbs` (the blocked Gibbs sampler of the scale mixture). Decided once the
      data are read.

    The choice and its reason are kept in ``Posterior.method`` and
    ``Posterior.settings["method_choice"]``. It has no settings: to set one, pass the chosen
    method's options object.
    """

    name: ClassVar[str] = "auto"

    def choose(self, prior: str, sigma: Any, tau: Any) -> tuple[Exact | Collapsed | Gibbs, str]:
        """The method for ``prior`` with ``sigma``/``tau`` (a float is fixed), and why."""
        if prior == "laplace":
            return Gibbs(), "laplace prior: the blocked Gibbs sampler of its scale mixture"
        if isinstance(sigma, float) and isinstance(tau, float):
            return Exact(), ("gaussian prior with sigma and tau fixed: independent draws of the conjugate "
                             "posterior")
        return Collapsed(), ("gaussian prior with a sampled scale: weights integrated out, the scales by "
                             "an independence sampler on their tabulated posterior")


MethodOptions = NUTS | PyroNUTS | SVI | Exact | Gibbs | Collapsed | IMH | Auto
_CLASSES: tuple[type, ...] = (NUTS, PyroNUTS, SVI, Exact, Gibbs, Collapsed, IMH, Auto)
_BY_NAME = {"nuts": NUTS, "svi": SVI, "exact": Exact, "gibbs": Gibbs, "collapsed": Collapsed,
            "imh": IMH, "auto": Auto}


def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def _owners(key: str) -> list[str]:
    return [cls.__name__ for cls in _CLASSES if key in _field_names(cls)]


def _call_form(cls: type, items: dict[str, Any]) -> str:
    args = ", ".join(f"{k}={v!r}" for k, v in items.items())
    return f"method={cls.__name__}({args})"


def _reject(key: str, cls: type) -> None:
    """Raise the ``TypeError`` for a keyword that is not a setting of ``cls``."""
    owners = _owners(key)
    if not owners:
        raise TypeError(f"sample_posterior() got an unexpected keyword argument {key!r}.")
    raise TypeError(
        f"`{key}` does not apply to {cls.__name__} (method={cls.name!r}); it is a setting of "
        f"{' or '.join(owners)}: e.g. method={owners[0]}({key}=...)."
    )


def resolve_method(method: Any, legacy: dict[str, Any], *, stacklevel: int = 3) -> MethodOptions:
    """The options object of ``method``, with the deprecated keywords ``legacy`` folded in.

    ``method`` is a method name or an options object. ``legacy`` holds settings passed to
    :func:`bayeswd.sample_posterior` as keywords (the form before 0.2): each must configure the
    chosen method (``backend="pyro"`` picks :class:`PyroNUTS`); it is then applied with a
    ``FutureWarning`` showing the new form. A setting of another method, or any setting next to
    an options object, is a ``TypeError`` naming it.
    """
    if isinstance(method, _CLASSES):
        for key, value in legacy.items():
            if key in _field_names(type(method)):
                raise TypeError(
                    f"`{key}` cannot be given next to method={type(method).__name__}(...): set it "
                    f"on the method object, e.g. {_call_form(type(method), {key: value})}."
                )
            _reject(key, type(method))
        return method
    if not isinstance(method, str):
        raise TypeError(
            "`method` must be one of 'auto', 'nuts', 'svi', 'exact', 'gibbs', 'collapsed' or an options "
            f"object (Auto, NUTS, PyroNUTS, SVI, Exact, Gibbs, Collapsed); got {type(method).__name__}."
        )
    method = check_choice(method, "method", METHODS)
    if method == "auto" and legacy:  # settings as keywords predate "auto": they meant NUTS, then the default
        method = "nuts"
    cls: type = _BY_NAME[method]
    given = list(legacy)
    legacy = dict(legacy)
    if "backend" in legacy:
        backend = legacy.pop("backend")
        if method != "nuts":
            raise TypeError(f"`backend` applies to method='nuts' only; got method={method!r}.")
        backend = check_choice(backend, "backend", NUTS_BACKENDS)
        cls = PyroNUTS if backend == "pyro" else NUTS
    for key in legacy:
        if key not in _field_names(cls):
            _reject(key, cls)
    options = cls(**legacy)
    if given:
        warnings.warn(
            f"passing {', '.join(f'`{k}`' for k in given)} to sample_posterior is deprecated and "
            f"will stop working in the next release; use {_call_form(cls, legacy)}.",
            FutureWarning,
            stacklevel=stacklevel,
        )
    return options


def _parse_value(text: str) -> Any:
    lowered = text.strip().lower()
    if lowered == "none":
        return None
    if lowered in ("true", "false"):
        return lowered == "true"
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return text


def options_from_strings(cls: type, pairs: list[str] | None, *, base: Any = None) -> MethodOptions:
    """Build ``cls`` from ``KEY=VALUE`` strings (the command line's ``--nuts`` and ``--svi``).

    Values are read as ``None``, ``true``/``false``, an integer, a number or a string, and then
    validated by the class like any other value. ``base`` supplies the other settings (default:
    the class's defaults).
    """
    values: dict[str, Any] = {}
    if base is not None:  # e.g. NUTS settings carried over to PyroNUTS
        values = {k: v for k, v in dataclasses.asdict(base).items() if k in _field_names(cls)}
    for pair in pairs or []:
        key, sep, text = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise ValueError(f"settings must look like KEY=VALUE; got {pair!r}.")
        if key not in _field_names(cls):
            valid = ", ".join(_field_names(cls))
            raise ValueError(f"{cls.__name__} has no setting {key!r}; its settings are: {valid}.")
        values[key] = _parse_value(text)
    return cls(**values)
