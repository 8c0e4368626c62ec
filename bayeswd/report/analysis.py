"""The analysis itself: its settings, each section of the report, and :func:`run_analysis`."""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from bayeswd._arviz import has_group, to_netcdf
from bayeswd.conventions import conventions_table
from bayeswd.exceptions import DiagnosticWarning
from bayeswd.infer import NUTS, SVI, Exact, PyroNUTS
from bayeswd.map import MAPResult, map_fit
from bayeswd.plots import (
    plot_densities,
    plot_forest,
    plot_lam_selection,
    plot_path,
    plot_shrinkage,
    plot_sweep,
)
from bayeswd.posterior import Posterior, sample_posterior
from bayeswd.report.captured import HYPER_RESULT, AnalysisWarning, capture_warnings
from bayeswd.report.outputs import Outputs, check_output_folder
from bayeswd.report.page import Report, fig_of, figure, table
from bayeswd.selection import (
    compare_priors,
    cv_curve,
    kfold_compare,
    lam_from_draws,
    lam_sweep,
    maximize_evidence,
    validation_curve,
)


@dataclass(frozen=True)
class AnalysisSettings:
    """What :func:`run_analysis` runs, and the sizes of its long steps.

    The posterior methods carry their own settings: ``nuts`` (:class:`bayeswd.infer.NUTS`, or
    :class:`~bayeswd.infer.PyroNUTS` for Pyro's sampler) and ``svi`` (:class:`bayeswd.infer.SVI`),
    exactly the objects :func:`bayeswd.sample_posterior` takes. ``quick()`` gives a short run for
    smoke tests and a first look; the defaults are a full run.
    """

    num_samples: int = 1000
    num_chains: int = 4
    nuts: NUTS | PyroNUTS = field(default_factory=NUTS)
    svi: SVI = field(default_factory=SVI)
    n_lams: int = 50
    n_folds: int = 5
    kfold_draws: int = 250
    methods: tuple[str, ...] = ("nuts", "svi")
    priors: tuple[str, ...] = ("gaussian", "laplace")

    def method(self, name: str) -> NUTS | PyroNUTS | SVI:
        """The options object of the posterior method ``name`` (``"nuts"`` or ``"svi"``)."""
        return {"nuts": self.nuts, "svi": self.svi}[name]

    @classmethod
    def quick(cls, **changes: Any) -> AnalysisSettings:
        """A short run: 2 chains of 200 + 200 NUTS draws, SVI capped at 10000 steps, 20 lambdas.

        (The laplace SVI needs ~6500 steps to meet its stopping rule on the seed problem.)
        """
        base = {"num_samples": 200, "num_chains": 2, "nuts": NUTS(num_warmup=200),
                "svi": SVI(max_steps=10_000), "n_lams": 20}
        return cls(**{**base, **changes})


def _posterior_rows(name: str, post: Posterior) -> pd.DataFrame:
    draws = post.samples["coef"].reshape(-1, post.samples["coef"].shape[-1]).numpy()
    lo, hi = np.quantile(draws, [0.03, 0.97], axis=0)
    return pd.DataFrame(
        {
            "estimate": name,
            "feature": list(post.feature_names),
            "mean": draws.mean(0),
            "sd": draws.std(0, ddof=1),
            "q3%": lo,
            "q97%": hi,
        }
    )


def _map_rows(name: str, fit: MAPResult) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "estimate": name,
            "feature": list(fit.feature_names),
            "mean": fit.coef.numpy(),
            "sd": np.nan,
            "q3%": np.nan,
            "q97%": np.nan,
        }
    )


def _diagnostics_row(name: str, post: Posterior, found: list[AnalysisWarning]) -> dict[str, Any]:
    diag = post.diagnostics
    rhat = max((float(np.nanmax(v)) for v in diag.get("rhat", {}).values()), default=float("nan"))
    ess = min((float(np.nanmin(v)) for v in diag.get("ess_bulk", {}).values()), default=float("nan"))
    return {
        "posterior": name,
        "method": post.method,
        "chains": post.num_chains,
        "draws/chain": post.num_draws,
        "max R-hat": rhat,
        "min bulk ESS": ess,
        "divergences": diag.get("num_divergent", 0),
        "wall time (s)": post.wall_time,
        "warnings": (f"{n} (see below)" if (n := sum(w.result == name for w in found)) else "none"),
    }


def run_analysis(
    X_train: Any,
    y_train: Any,
    X_test: Any,
    y_test: Any,
    *,
    out: str | Path,
    sigma: float,
    tau: float,
    tau_laplace: float | None = None,
    true_coef: Any = None,
    title: str = "bayeswd analysis",
    settings: AnalysisSettings | None = None,
    seed: int = 0,
    device: str = "auto",
    progress_bar: bool = True,
    notes: str = "",
    force: bool = False,
    collected: list[AnalysisWarning] | None = None,
) -> Path:
    """Run the whole story on one data set and write the report folder.

    Parameters
    ----------
    X_train, y_train, X_test, y_test : array_like
        Training rows (used for every fit) and held-out rows (test error and the validation
        curve). Feature names come from ``X_train`` when it is a DataFrame.
    out : str or Path
        Output folder (created when the analysis is done). A folder holding a file that no earlier
        run wrote, or one changed since, is refused (:class:`OutputFolderError`) unless ``force``.
    sigma : float
        Noise sd used by the MAP fits and the fixed-sigma posteriors.
    tau : float
        Gaussian prior sd; the laplace prior uses ``tau_laplace`` (default ``tau / sqrt(2)``, the
        same prior variance).
    true_coef : array_like, optional
        True weights (simulated data): the reference of the shrinkage plot. Without them the
        reference is the weakest-penalty MAP of the sweep (close to least squares).
    title : str
        Report title.
    settings : AnalysisSettings, optional
        Sizes of the long steps (default: full run).
    seed : int
        Seed of every stochastic step.
    device : str
        Where the posteriors are computed.
    progress_bar : bool
        Show a progress bar over the steps (and inside the samplers).
    notes : str
        Extra HTML put under the title (e.g. what data set this is).
    force : bool
        Write into ``out`` even if it holds files bayeswd did not write (those are left alone;
        the files of this run replace theirs).
    collected : list of AnalysisWarning, optional
        Where the caught warnings go. The warnings of each step that bayeswd reports (its own,
        :class:`~bayeswd.exceptions.BayeswdWarning` and subclasses, and ArviZ's PSIS-LOO
        warnings) are caught and shown in the report next to the result they concern. With a
        list (what the command line does) they are appended to it and not raised again; the
        list may already hold warnings of steps run before (they are shown at the top of the
        report). Without one (default) each is raised again, once the report is written, as a
        warning of its own category whose message starts with the result it concerns, so a
        Python caller sees them and its warning filters apply. Other warnings pass unchanged.

    Returns
    -------
    Path
        The path of ``report.html``.

    Raises
    ------
    OutputFolderError
        ``out`` holds a file bayeswd did not write, and not ``force`` (checked before any work).

    Warns
    -----
    BayeswdWarning
        Without ``collected``: each warning of the analysis, after the report is written.
    """
    settings = settings or AnalysisSettings()
    out = Path(out)
    check_output_folder(out, force)
    found: list[AnalysisWarning] = [] if collected is None else collected
    tau_l = tau / math.sqrt(2.0) if tau_laplace is None else tau_laplace
    a = _Analysis(X_train, y_train, X_test, y_test, sigma, {"gaussian": tau, "laplace": tau_l},
                  settings, seed, device, Outputs(out, force), Report(title, notes, warnings=found))
    steps = [
        "MAP fits",
        "lambda sweeps",
        "choosing lambda",
        *[f"{prior} {m}" for prior in settings.priors for m in settings.methods],
        "full Bayes over tau",
        "comparison plots",
        "report",
    ]
    bar = tqdm(total=len(steps), desc="bayeswd", disable=not progress_bar, unit="step")
    timings: dict[str, float] = {}

    @contextmanager
    def step(name: str, result: str, section: str | None) -> Iterator[None]:
        if timings:
            bar.update()
        timings[name] = time.perf_counter()
        bar.set_postfix_str(name)
        with capture_warnings(found, result, section, step=name):
            yield

    try:
        with step("MAP fits", "MAP fits", _S_MAP):
            maps = _map_section(a)
        with step("lambda sweeps", "lambda sweeps", _S_SWEEP):
            sweeps = _sweep_section(a)
        with step("choosing lambda", "lambda selection", _S_SELECT):
            val = validation_curve(X_train, y_train, X_test, y_test, prior="gaussian", n_lams=settings.n_lams)
            cv = cv_curve(X_train, y_train, prior="gaussian", n_lams=settings.n_lams,
                          n_folds=min(settings.n_folds, a.n), seed=seed)
            # the flat intercept integrated out exactly (the model's own), which stays proper when n <= d
            evid = maximize_evidence(X_train, y_train, intercept="integrate")
        posteriors: dict[str, Posterior] = {}
        for prior in settings.priors:
            for method in settings.methods:
                name = f"{prior} {method.upper()}"
                with step(f"{prior} {method}", name, _S_DIAG):
                    posteriors[name] = a.posterior(prior, a.taus[prior], settings.method(method))
        with step("full Bayes over tau", HYPER_RESULT, _S_DIAG):
            hyper = a.posterior("gaussian", None, settings.nuts)
        with capture_warnings(found, "lambda selection", _S_SELECT, step="full Bayes over tau"):
            _selection_section(a, val, cv, evid, hyper)
        n_nuts = sum(k.endswith("NUTS") for k in posteriors)
        with step("comparison plots", "posterior comparison", _S_LOO if n_nuts >= 2 else _S_COMPARE):
            idatas = _comparison_section(a, posteriors, maps, sweeps, true_coef)
            posteriors[HYPER_RESULT] = hyper
            idatas[HYPER_RESULT] = hyper.to_inference_data()
            a.report.add(_S_DIAG, table(pd.DataFrame(
                [_diagnostics_row(k, p, found) for k, p in posteriors.items()]).set_index("posterior")))
        with step("report", "report files", None):
            path = _write_files(a, maps, posteriors, idatas, timings)
        bar.update()
    finally:
        bar.close()
    if collected is None:
        for w in found:
            warnings.warn(f"{w.result}: {w.message}", w.category, stacklevel=2)
    return path


_S_MAP = "MAP estimates"
_S_SWEEP = "Train and test error as lambda grows"
_S_SELECT = "Choosing lambda"
_S_DIAG = "Sampler diagnostics"
_S_COMPARE = "Comparing posteriors"
_S_LOO = "Predictive comparison (PSIS-LOO or K-fold)"


@dataclass
class _Analysis:
    """The data and settings of one :func:`run_analysis`, and the report being written."""

    X_train: Any
    y_train: Any
    X_test: Any
    y_test: Any
    sigma: float
    taus: dict[str, float]
    settings: AnalysisSettings
    seed: int
    device: str
    files: Outputs
    report: Report

    @property
    def n(self) -> int:
        return int(np.shape(self.y_train)[0])

    def posterior(self, prior: str, tau: float | None, method: Any) -> Posterior:
        """A posterior of the training rows; every call is built from the settings' method objects."""
        s = self.settings
        return sample_posterior(
            self.X_train, self.y_train, prior=prior, sigma=self.sigma, tau=tau, method=method,
            num_samples=s.num_samples, num_chains=s.num_chains, seed=self.seed, device=self.device,
            progress_bar=False,
        )

    def figure(self, name: str, obj: Any, caption: str) -> str:
        """Save the figure of ``obj`` (a Figure or an Axes) as ``name.png``; its HTML."""
        return figure(self.files, name, fig_of(obj), caption)


def _map_section(a: _Analysis) -> dict[str, MAPResult]:
    """MAP under both priors and the training loop it equals; the conventions table."""
    sigma, tau, tau_l = a.sigma, a.taus["gaussian"], a.taus["laplace"]
    X, y = a.X_train, a.y_train
    maps = {
        "gaussian MAP": map_fit(X, y, prior="gaussian", sigma=sigma, tau=tau),
        "laplace MAP": map_fit(X, y, prior="laplace", sigma=sigma, tau=tau_l),
        "SGD weight decay": map_fit(
            X, y, prior="gaussian", sigma=sigma, tau=tau, method="sgd", max_iter=20_000
        ),
    }
    g = maps["gaussian MAP"].coef
    sgd_gap = float((maps["SGD weight decay"].coef - g).norm() / max(float(g.norm()), 1e-300))
    sgd_note = (
        f"it lands on the gaussian MAP (relative distance {sgd_gap:.1e}).</p>"
        if maps["SGD weight decay"].converged
        else f"it had not converged after {maps['SGD weight decay'].n_iter} steps "
        f"(relative distance to the MAP {sgd_gap:.1e}).</p>"
    )
    conv = pd.DataFrame(
        {
            "gaussian prior": pd.Series(conventions_table(sigma, tau, a.n, "gaussian")),
            "laplace prior": pd.Series(conventions_table(sigma, tau_l, a.n, "laplace")),
        }
    )
    y_test = torch.as_tensor(np.array(a.y_test, dtype=float))  # a copy: pandas may hand out read-only arrays
    map_table = pd.DataFrame(
        [
            {
                "fit": name,
                "method": f.method,
                "prior": f.prior,
                "lam": f.lam,
                "objective U": f.objective,
                "iterations": f.n_iter,
                "converged": f.converged,
                "exact zeros": int((f.coef == 0).sum()),
                "test MSE": float(((f.predict(a.X_test) - y_test) ** 2).mean()),
            }
            for name, f in maps.items()
        ]
    ).set_index("fit")
    a.report.add(
        "What this prior means in every convention",
        (
            f"<p class='note'>n = {a.n} training rows, noise sd sigma = {sigma:.4g}. "
            "The same prior written as each tool's setting (see <code>docs/conventions.md</code>):</p>"
            + table(conv, "{:.6g}")
        ),
    )
    a.report.add(
        _S_MAP,
        table(map_table)
        + (
            "<p class='note'>The SGD row is the classic training loop (<code>nn.Linear</code>, "
            "<code>SGD(weight_decay)</code> on the weight only, <code>MSELoss</code>): "
            + sgd_note
        ),
    )
    return maps


def _sweep_section(a: _Analysis) -> dict[str, Any]:
    """Train and test error, and the path, along lambda for both priors."""
    sweeps = {
        prior: lam_sweep(a.X_train, a.y_train, prior=prior, n_lams=a.settings.n_lams, X_test=a.X_test,
                         y_test=a.y_test)
        for prior in ("gaussian", "laplace")
    }
    figs = [a.figure(f"sweep_{prior}", plot_sweep(sw), f"Train and test error against lambda ({prior})")
            for prior, sw in sweeps.items()]
    figs += [a.figure(f"path_{prior}", plot_path(sw), f"Regularisation path ({prior} prior)")
             for prior, sw in sweeps.items()]
    a.report.add(_S_SWEEP, "\n".join(figs))
    return sweeps


def _selection_section(a: _Analysis, val: Any, cv: Any, evid: Any, hyper: Posterior) -> None:
    """The lambda-selection figure and table: validation, CV, evidence and full Bayes."""
    sigma, tau = a.sigma, a.taus["gaussian"]
    lam_draws = lam_from_draws(hyper.samples["tau"].numpy().reshape(-1), sigma)
    sel_table = pd.DataFrame(
        {
            "lambda": [
                val.lam_best,
                cv.lam_best,
                cv.lam_1se,
                evid.lam,
                float(np.median(lam_draws)),
                sigma**2 / tau**2,
            ],
        },
        index=[
            "validation minimum",
            f"{cv.fold_mse.shape[0] if cv.fold_mse is not None else ''}-fold CV minimum",
            "CV one-standard-error rule",
            "evidence maximum (empirical Bayes)",
            "posterior median (full Bayes)",
            "the prior used above",
        ],
    )
    a.report.add(
        _S_SELECT,
        a.figure(
            "lambda_selection",
            plot_lam_selection(validation=val, cv=cv, evidence=evid, lam_draws=lam_draws),
            "Validation curve, CV choice, evidence maximum and the posterior of lambda",
        )
        + table(sel_table, "{:.5g}"),
    )


def _comparison_section(
    a: _Analysis, posteriors: dict[str, Posterior], maps: dict[str, MAPResult], sweeps: dict[str, Any],
    true_coef: Any,
) -> dict[str, Any]:
    """Forest, density and shrinkage plots of the fixed-tau posteriors, and their LOO comparison."""
    map_refs = {"gaussian MAP": maps["gaussian MAP"], "laplace MAP": maps["laplace MAP"]}
    idatas = {name: post.to_inference_data() for name, post in posteriors.items()}
    figs = [
        a.figure("forest", plot_forest(idatas, maps=map_refs),
                 "Forest plot of the weights: gaussian vs laplace posteriors, with the MAP estimates"),
        a.figure("densities", plot_densities(idatas, maps=map_refs),
                 "Marginal posterior densities of chosen weights"),
    ]
    # a shrinkage plot against reference weights that are all equal (the seed problem's truth) says
    # nothing: then the weakest-penalty MAP (the least-squares end of the path) is the reference
    truth = None if true_coef is None else np.asarray(true_coef, dtype=float)
    use_truth = truth is not None and np.ptp(truth) > 0
    reference = truth if use_truth else sweeps["gaussian"].coef[0]
    ref_label = "true weight" if use_truth else "weakest-penalty MAP"
    figs.append(a.figure(
        "shrinkage",
        plot_shrinkage(idatas, reference, maps=map_refs, reference_label=ref_label),
        f"Shrinkage: posterior means (90% intervals) against the {ref_label}",
    ))
    a.report.add(_S_COMPARE, "\n".join(figs))
    nuts = {k: v for k, v in idatas.items() if k.endswith("NUTS")}
    if len(nuts) >= 2:
        a.report.add(_S_LOO, _predictive_comparison(a, nuts))
    return idatas


def _predictive_comparison(a: _Analysis, nuts: dict[str, Any]) -> str:
    """PSIS-LOO of the NUTS posteriors; K-fold CV with refits where LOO's Pareto k flags a row.

    Pareto ``k > 0.7`` means the importance weights of a left-out row have too heavy a tail for
    PSIS (every row moves the posterior when ``d >= n``): a known limit of the method, not a fault
    of the run, so it is no warning here. The refits answer the same question reliably. Where
    the posteriors have no pointwise log-likelihood (left out above
    ``bayeswd.posterior.PER_ROW_MAX_NUMBERS``, with its own warning), the section says so.
    """
    if not all(has_group(idata, "log_likelihood") for idata in nuts.values()):
        return (
            "<p>Not computed: the pointwise log-likelihood of the training rows was left out of the "
            "posteriors at this size (see the warning of <code>to_inference_data</code>), and PSIS-LOO "
            "needs it. With this many rows the choice of prior matters little for prediction; compare "
            "them on a sample of the rows with <code>bayeswd.kfold_compare</code>.</p>"
        )
    with warnings.catch_warnings():
        # the high-k case is handled below (and said in the report): ArviZ's warning about it
        # would only tell the user to do what this function does
        warnings.filterwarnings("ignore", message=r"(?s).*Pareto", category=UserWarning)
        cmp = compare_priors(nuts)
    if "warning" not in cmp.columns or not bool(cmp["warning"].astype(bool).any()):
        return "<p>PSIS-LOO (higher elpd is better).</p>" + table(cmp.select_dtypes("number"))
    s = a.settings
    draws = min(s.kfold_draws, s.num_samples)
    refit_nuts = replace(s.nuts, num_warmup=min(s.nuts.num_warmup, draws))
    models = {
        name: {"prior": (prior := name.split()[0]), "sigma": a.sigma, "tau": a.taus[prior],
               # with sigma and tau fixed the gaussian posterior is exact: its refits need no sampler
               "method": Exact() if prior == "gaussian" else refit_nuts,
               "num_samples": draws, "num_chains": 2, "device": a.device}
        for name in nuts
    }
    with warnings.catch_warnings(record=True) as refits:
        warnings.simplefilter("always", DiagnosticWarning)
        kf = kfold_compare(a.X_train, a.y_train, models, k=min(s.n_folds, a.n), seed=a.seed)
    for w in refits:  # anything but the refits' own diagnostics goes on as it came
        if not issubclass(w.category, DiagnosticWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    flagged = [w for w in refits if issubclass(w.category, DiagnosticWarning)]
    if flagged:  # one warning for all refits, not one per fold
        warnings.warn(
            f"{len(flagged)} of the {len(models) * int(kf['k'].iloc[0])} K-fold refits warned about their "
            f"sampler diagnostics (the first: {flagged[0].message}); the K-fold comparison is only as good "
            "as the refits. Give NUTS more warm-up and draws.",
            DiagnosticWarning,
            stacklevel=2,
        )
    return (
        "<p>PSIS-LOO's Pareto <i>k</i> exceeded 0.7 for some rows (common when the number of "
        "weights is near or above the number of rows: leaving one row out moves the posterior too "
        f"far for importance sampling), so the priors are compared by {kf['k'].iloc[0]}-fold "
        "cross-validation instead: each posterior is refitted without each fold (the gaussian one "
        f"by exact draws, the laplace one by NUTS, 2 chains of {draws} draws after {refit_nuts.num_warmup} "
        "warm-up steps; the held-out densities need fewer draws than the tails of the posterior) "
        "and scored on the rows left out. Higher <code>elpd_kfold</code> is better; "
        "<code>dse</code> is the standard error of the difference.</p>" + table(kf.select_dtypes("number"))
    )


def _write_files(
    a: _Analysis, maps: dict[str, MAPResult], posteriors: dict[str, Posterior], idatas: dict[str, Any],
    timings: dict[str, float],
) -> Path:
    """``summary.csv``, one netCDF file per posterior, and ``report.html`` (last); the report's path."""
    summary = pd.concat(
        [_map_rows(k, f) for k, f in maps.items()] + [_posterior_rows(k, p) for k, p in posteriors.items()],
        ignore_index=True,
    )
    a.files.add_bytes("summary.csv", summary.to_csv(index=False).encode("utf-8"))
    for name, idata in idatas.items():
        a.files.add_writer("posterior_" + name.replace(",", "").replace(" ", "_").lower() + ".nc",
                           lambda path, idata=idata: to_netcdf(idata, path))
    tick = list(timings.values()) + [time.perf_counter()]
    times = pd.DataFrame({"seconds": np.diff(tick)}, index=list(timings))
    a.report.add("Time spent", table(times, "{:.2f}"))
    a.files.add_bytes("report.html", a.report.render().encode("utf-8"))
    return a.files.commit(last="report.html")
