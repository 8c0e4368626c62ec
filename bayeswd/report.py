"""A whole analysis into one folder: MAP, sweeps, lambda selection, posteriors, plots, HTML report.

:func:`run_analysis` is what the ``bayeswd demo`` and ``bayeswd fit`` commands call. It writes

- ``report.html``: the figures, a table of what lambda, tau and ``weight_decay`` mean for this data
  set in each convention, the MAP fits and the sampler diagnostics;
- the figures as PNG files;
- ``summary.csv``: one row per (posterior or MAP, weight) with mean, sd and the 3% and 97%
  quantiles (an equal-tailed 94% interval);
- ``posterior_<prior>_<method>.nc``: every posterior as ArviZ InferenceData (netCDF).
"""

from __future__ import annotations

import html
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from bayeswd.conventions import conventions_table
from bayeswd.infer import NUTS, SVI, PyroNUTS
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
from bayeswd.selection import (
    compare_priors,
    cv_curve,
    lam_from_draws,
    lam_sweep,
    maximize_evidence,
    validation_curve,
)

__all__ = ["AnalysisSettings", "run_analysis"]


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


@dataclass
class _Report:
    title: str
    sections: list[str] = field(default_factory=list)

    def add(self, heading: str, body: str) -> None:
        self.sections.append(f"<section><h2>{html.escape(heading)}</h2>\n{body}\n</section>")

    def render(self) -> str:
        return _HTML.format(title=html.escape(self.title), body="\n".join(self.sections))


_HTML = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 1100px;
        color: #222; line-height: 1.45; padding: 0 1rem; }}
h1 {{ font-size: 1.7rem; border-bottom: 2px solid #3b6ea5; padding-bottom: .3rem; }}
h2 {{ font-size: 1.25rem; margin-top: 2.2rem; color: #3b6ea5; }}
table {{ border-collapse: collapse; margin: .6rem 0; font-size: .9rem; }}
th, td {{ border: 1px solid #ccc; padding: .25rem .6rem; text-align: right; }}
th {{ background: #eef3f8; }} td:first-child, th:first-child {{ text-align: left; }}
figure {{ margin: 1rem 0; }} img {{ max-width: 100%; border: 1px solid #ddd; }}
figcaption {{ font-size: .85rem; color: #555; }} .note {{ font-size: .9rem; color: #444; }}
code {{ background: #f4f4f4; padding: 0 .2rem; }}
</style></head>
<body><h1>{title}</h1>
{body}
</body></html>
"""


def _table(df: pd.DataFrame, float_format: str = "{:.4g}") -> str:
    return df.to_html(border=0, float_format=lambda v: float_format.format(v), escape=True, na_rep="—")


def _figure(out: Path, name: str, fig: Any, caption: str) -> str:
    path = out / f"{name}.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return (
        f'<figure><img src="{path.name}" alt="{html.escape(caption)}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def _fig_of(obj: Any) -> Any:
    return obj if hasattr(obj, "savefig") else obj.figure


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


def _diagnostics_row(name: str, post: Posterior) -> dict[str, Any]:
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
) -> Path:
    """Run the whole story on one data set and write the report folder.

    Parameters
    ----------
    X_train, y_train, X_test, y_test : array_like
        Training rows (used for every fit) and held-out rows (test error and the validation
        curve). Feature names come from ``X_train`` when it is a DataFrame.
    out : str or Path
        Output folder (created).
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

    Returns
    -------
    Path
        The path of ``report.html``.
    """
    settings = settings or AnalysisSettings()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tau_l = tau / math.sqrt(2.0) if tau_laplace is None else tau_laplace
    a = _Analysis(X_train, y_train, X_test, y_test, sigma, {"gaussian": tau, "laplace": tau_l},
                  settings, seed, device, out, _Report(title))
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

    def step(name: str) -> None:
        if timings:
            bar.update()
        timings[name] = time.perf_counter()
        bar.set_postfix_str(name)

    step("MAP fits")
    maps = _map_section(a)
    step("lambda sweeps")
    sweeps = _sweep_section(a)
    step("choosing lambda")
    val = validation_curve(X_train, y_train, X_test, y_test, prior="gaussian", n_lams=settings.n_lams)
    cv = cv_curve(X_train, y_train, prior="gaussian", n_lams=settings.n_lams,
                  n_folds=min(settings.n_folds, a.n), seed=seed)
    # the flat intercept integrated out exactly (the model's own), which stays proper when n <= d
    evid = maximize_evidence(X_train, y_train, intercept="integrate")
    posteriors: dict[str, Posterior] = {}
    for prior in settings.priors:
        for method in settings.methods:
            step(f"{prior} {method}")
            options = settings.method(method)
            posteriors[f"{prior} {method.upper()}"] = a.posterior(prior, a.taus[prior], options)
    step("full Bayes over tau")
    hyper = a.posterior("gaussian", None, settings.nuts)
    _selection_section(a, val, cv, evid, hyper)
    step("comparison plots")
    idatas = _comparison_section(a, posteriors, maps, sweeps, true_coef)
    posteriors[_HYPER] = hyper
    idatas[_HYPER] = hyper.to_inference_data()
    a.report.add("Sampler diagnostics", _table(
        pd.DataFrame([_diagnostics_row(k, p) for k, p in posteriors.items()]).set_index("posterior")))
    step("report")
    path = _write_files(a, maps, posteriors, idatas, timings, notes)
    bar.update()
    bar.close()
    return path


_HYPER = "gaussian NUTS, tau sampled"


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
    out: Path
    report: _Report

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
        return _figure(self.out, name, _fig_of(obj), caption)


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
    y_test = torch.as_tensor(np.asarray(a.y_test, dtype=float))
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
            + _table(conv, "{:.6g}")
        ),
    )
    a.report.add(
        "MAP estimates",
        _table(map_table)
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
    a.report.add("Train and test error as lambda grows", "\n".join(figs))
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
        "Choosing lambda",
        a.figure(
            "lambda_selection",
            plot_lam_selection(validation=val, cv=cv, evidence=evid, lam_draws=lam_draws),
            "Validation curve, CV choice, evidence maximum and the posterior of lambda",
        )
        + _table(sel_table, "{:.5g}"),
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
    a.report.add("Comparing posteriors", "\n".join(figs))
    nuts = {k: v for k, v in idatas.items() if k.endswith("NUTS")}
    if len(nuts) >= 2:
        cmp = compare_priors(nuts)
        a.report.add("Predictive comparison (PSIS-LOO)", _table(cmp.select_dtypes("number")))
    return idatas


def _write_files(
    a: _Analysis, maps: dict[str, MAPResult], posteriors: dict[str, Posterior], idatas: dict[str, Any],
    timings: dict[str, float], notes: str,
) -> Path:
    """``summary.csv``, one netCDF file per posterior, and ``report.html``; the report's path."""
    summary = pd.concat(
        [_map_rows(k, f) for k, f in maps.items()] + [_posterior_rows(k, p) for k, p in posteriors.items()],
        ignore_index=True,
    )
    summary.to_csv(a.out / "summary.csv", index=False)
    for name, idata in idatas.items():
        idata.to_netcdf(str(a.out / ("posterior_" + name.replace(",", "").replace(" ", "_").lower() + ".nc")))
    tick = list(timings.values()) + [time.perf_counter()]
    times = pd.DataFrame({"seconds": np.diff(tick)}, index=list(timings))
    a.report.add("Time spent", _table(times, "{:.2f}"))
    if notes:
        a.report.sections.insert(0, f"<p class='note'>{notes}</p>")
    path = a.out / "report.html"
    path.write_text(a.report.render(), encoding="utf-8")
    return path
