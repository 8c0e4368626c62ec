"""The analysis of a classification target: :func:`run_classifier_analysis`.

What ``bayeswd fit`` runs when the target holds class labels (logistic regression for two labels,
softmax regression for more): ``C`` (``lam = 1/C``, ``tau``) chosen by cross-validation for the
gaussian and the laplace prior and by the Laplace-approximate evidence for the gaussian one; the
MAP of both priors there; their full posteriors (NUTS on the closed-form potential); held-out
accuracy, log loss and calibration; the coefficients compared; every convention of the prior.
The folder is written as :func:`bayeswd.report.run_analysis` writes it (manifest, atomic
replacement, ``report.html`` last) and the warnings are placed the same way.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from bayeswd import _arviz
from bayeswd._arviz import to_netcdf
from bayeswd.classification import (
    ClassifierMAPResult,
    ClassifierPosterior,
    classifier_conventions_table,
    classifier_cv,
    classifier_evidence,
    map_classifier,
    sample_classifier_posterior,
)
from bayeswd.classification.plots import calibration_curve, plot_calibration, plot_classifier_selection
from bayeswd.plots import plot_densities, plot_forest
from bayeswd.report.analysis import AnalysisSettings, _diagnostics_row
from bayeswd.report.captured import AnalysisWarning, capture_warnings
from bayeswd.report.outputs import Outputs, check_output_folder
from bayeswd.report.page import Report, fig_of, figure, table
from bayeswd.selection import compare_priors

__all__ = ["run_classifier_analysis"]

S_DATA = "Data and classes"
S_CONV = "What this prior means in every convention"
S_SELECT = "Choosing C (lambda = 1/C)"
S_MAP = "MAP estimates"
S_HELDOUT = "Held-out accuracy, log loss and calibration"
S_COMPARE = "Comparing the coefficients"
S_LOO = "Predictive comparison (PSIS-LOO)"
S_DIAG = "Sampler diagnostics"
S_SUMMARY = "Posterior summary"

#: The coefficient plots show at most this many weights (the largest in absolute posterior mean).
MAX_FOREST = 10


def n_Cs(settings: AnalysisSettings) -> int:  # noqa: N802
    """Values of ``C`` on the CV grid ``np.logspace(-4, 4, m)``: ``n_lams // 3 + 3``, within [5, 17]."""
    return int(np.clip(settings.n_lams // 3 + 3, 5, 17))


@dataclass
class _Data:
    X_train: pd.DataFrame
    y_train: np.ndarray
    X_test: pd.DataFrame
    y_test: np.ndarray
    family: str
    classes: np.ndarray
    names: list[str]  # the feature names

    @property
    def n(self) -> int:
        return int(self.y_train.shape[0])

    @property
    def K(self) -> int:  # noqa: N802
        return int(self.classes.shape[0])

    def codes(self, y: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.classes, y)


def _scores(probs: Any, codes: np.ndarray, n_bins: int = 10) -> dict[str, float]:
    """Accuracy, mean log loss (nats), Brier score and ECE of probabilities ``(m, K)`` on ``codes``."""
    p = np.asarray(probs.numpy() if isinstance(probs, torch.Tensor) else probs, dtype=np.float64)
    m = codes.shape[0]
    picked = np.clip(p[np.arange(m), codes], 1e-300, 1.0)
    onehot = np.zeros_like(p)
    onehot[np.arange(m), codes] = 1.0
    return {
        "accuracy": float((p.argmax(1) == codes).mean()),
        "log loss": float(-np.log(picked).mean()),
        "Brier score": float(((p - onehot) ** 2).sum(1).mean()),
        f"ECE ({n_bins} bins)": calibration_curve(p, codes, n_bins=n_bins).ece,
    }


def _flat_names(d: _Data) -> list[str]:
    """The weight names: the features (bernoulli), or ``feature, class`` for each (feature, class)."""
    if d.family == "bernoulli":
        return list(d.names)
    return [f"{f}, {c}" for f in d.names for c in d.classes]


@dataclass(frozen=True)
class _FlatMAP:
    """A MAP fit's weights flattened like :func:`_flat_names` (what the coefficient plots take)."""

    coef: np.ndarray


def _coef_idata(post: ClassifierPosterior, names: list[str]) -> Any:
    """The weights of ``post`` as an ArviZ posterior ``coef`` of dims (chain, draw, feature)."""
    draws = post.samples["coef"].numpy()
    if draws.ndim == 4:
        draws = draws.reshape(draws.shape[0], draws.shape[1], -1)
    return _arviz.from_dict({"posterior": {"coef": draws}}, coords={"feature": names},
                            dims={"coef": ["feature"]})


def run_classifier_analysis(
    X_train: pd.DataFrame,
    y_train: Any,
    X_test: pd.DataFrame,
    y_test: Any,
    *,
    out: str | Path,
    family: str,
    tau: float | None = None,
    title: str = "bayeswd classifier analysis",
    settings: AnalysisSettings | None = None,
    seed: int = 0,
    device: str = "auto",
    progress_bar: bool = True,
    notes: str = "",
    data_html: str = "",
    force: bool = False,
    collected: list[AnalysisWarning] | None = None,
) -> Path:
    """Run the classifier analysis on one data set and write the report folder.

    Parameters
    ----------
    X_train, y_train, X_test, y_test
        Training rows (every fit) and held-out rows (accuracy, log loss, calibration); labels of
        one sortable type, every class present among the training rows. Feature names come from
        ``X_train`` (a DataFrame).
    out : str or Path
        Output folder, as :func:`bayeswd.report.run_analysis`.
    family : {"bernoulli", "categorical"}
        Logistic (two labels) or softmax regression.
    tau : float, optional
        Fix the gaussian prior sd (the laplace prior then has scale ``tau / sqrt(2)``, the same
        variance). Default: each prior at the ``C`` its cross-validation chooses.
    settings : AnalysisSettings, optional
        ``num_samples``, ``num_chains`` and ``nuts`` of the posteriors, ``priors`` (which get a
        posterior; both get a MAP), ``n_lams`` (the CV grid has :func:`n_Cs` values of ``C``) and
        ``n_folds``.
    seed, device, progress_bar, notes, force, collected
        As :func:`bayeswd.report.run_analysis`; ``data_html`` is the body of the data section.

    Returns
    -------
    Path
        The path of ``report.html``.
    """
    settings = settings or AnalysisSettings()
    out = Path(out)
    check_output_folder(out, force)
    found: list[AnalysisWarning] = [] if collected is None else collected
    y_tr, y_te = np.asarray(y_train), np.asarray(y_test)
    classes = np.unique(y_tr)
    d = _Data(X_train, y_tr, X_test, y_te, family, classes, [str(c) for c in X_train.columns])
    files, report = Outputs(out, force), Report(title, notes, warnings=found)
    priors = tuple(settings.priors)
    steps = ["choosing C", "MAP fits", *[f"{p} posterior" for p in priors], "held-out scores", "plots",
             "report"]
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

    def fig(name: str, obj: Any, caption: str) -> str:
        return figure(files, name, fig_of(obj), caption)

    try:
        report.add(S_DATA, data_html)
        with step("choosing C", "choosing C", S_SELECT):
            folds = max(2, min(settings.n_folds, int(np.bincount(d.codes(y_tr)).min())))
            cvs = {
                "gaussian": classifier_cv(X_train, y_tr, prior="gaussian", Cs=n_Cs(settings), cv=folds,
                                          family=family),
                "laplace": classifier_cv(X_train, y_tr, prior="laplace", Cs=n_Cs(settings), cv=folds,
                                         family=family),
            }
            evid = classifier_evidence(X_train, y_tr, family=family)
        taus = ({"gaussian": tau, "laplace": tau / np.sqrt(2.0)} if tau is not None
                else {p: cvs[p].tau_best for p in ("gaussian", "laplace")})
        with step("MAP fits", "MAP fits", S_MAP):
            maps = {f"{p} MAP": (cvs[p].fit if tau is None and cvs[p].fit is not None
                                 else map_classifier(X_train, y_tr, prior=p, tau=taus[p], family=family))
                    for p in ("gaussian", "laplace")}
        _selection_section(report, fig, cvs, evid, taus, tau is not None)
        _conventions_section(report, d, taus)
        posteriors: dict[str, ClassifierPosterior] = {}
        for p in priors:
            name = f"{p} NUTS"
            with step(f"{p} posterior", name, S_DIAG):
                posteriors[name] = sample_classifier_posterior(
                    X_train, y_tr, prior=p, tau=float(taus[p]), family=family, method=settings.nuts,
                    num_samples=settings.num_samples, num_chains=settings.num_chains, seed=seed,
                    device=device, progress_bar=False)
        with step("held-out scores", "held-out scores", S_HELDOUT):
            _map_section(report, d, maps)
            _heldout_section(report, fig, d, maps, posteriors)
        with step("plots", "posterior comparison", S_LOO if len(posteriors) >= 2 else S_COMPARE):
            idatas = {name: post.to_inference_data() for name, post in posteriors.items()}
            _comparison_section(report, fig, d, maps, posteriors)
            if len(idatas) >= 2:
                report.add(S_LOO, _loo(idatas))
            report.add(S_DIAG, _diagnostics(posteriors, found, settings))
            _summary_section(report, posteriors)
        with step("report", "report files", None):
            path = _write_files(files, report, d, maps, posteriors, idatas, timings)
        bar.update()
    finally:
        bar.close()
        plt.close("all")
    if collected is None:
        for w in found:
            warnings.warn(f"{w.result}: {w.message}", w.category, stacklevel=2)
    return path


def _selection_section(report: Report, fig: Any, cvs: dict[str, Any], evid: Any, taus: dict[str, float],
                       given: bool) -> None:
    """The CV curves of both priors (the evidence with the gaussian one) and the choices of ``C``."""
    f, axes = plt.subplots(1, 2, figsize=(13.0, 5.0), layout="constrained")
    plot_classifier_selection(cvs["gaussian"], evid, ax=axes[0])
    plot_classifier_selection(cvs["laplace"], ax=axes[1])
    for ax, (p, cv) in zip(axes, cvs.items(), strict=True):
        ax.set_title(("gaussian prior (L2, weight decay)" if p == "gaussian" else "laplace prior (L1)")
                     + _cap_cv_axis(ax, cv))
    g, lp = cvs["gaussian"], cvs["laplace"]
    rows = {
        ("gaussian", f"{g.n_folds}-fold CV minimum (log loss)"): g.C_best,
        ("gaussian", "CV one-standard-error rule"): g.C_1se,
        ("gaussian", "evidence maximum (Laplace approximation)"): evid.C,
        ("laplace", f"{lp.n_folds}-fold CV minimum (log loss)"): lp.C_best,
        ("laplace", "CV one-standard-error rule"): lp.C_1se,
    }
    for p in ("gaussian", "laplace"):
        rows[(p, "used below" + (" (from --tau)" if given else " (the CV minimum)"))] = (
            taus[p] ** 2 if p == "gaussian" else taus[p])
    sel = pd.DataFrame(
        [{"C": C, "lam = 1/C": 1.0 / C, "tau": np.sqrt(C) if p == "gaussian" else C}
         for (p, _), C in rows.items()],
        index=[f"{p}: {c}" for p, c in rows],
    )
    report.add(
        S_SELECT,
        "<p class='note'>The penalty of <code>U = sum CE + lam R0(W)</code> is <code>lam = 1/C</code>, "
        "scikit-learn's <code>LogisticRegression(C)</code>: <code>C = tau^2</code> for the gaussian prior "
        "(<code>R0 = ||W||^2/2</code>) and <code>C = tau</code> for the laplace prior "
        "(<code>R0 = ||W||_1</code>). "
        "Cross-validation is stratified, its folds those of <code>StratifiedKFold</code>; the evidence "
        "is the Laplace approximation of <code>log p(y | tau)</code> (gaussian prior only).</p>"
        + fig("lambda_selection", f, "Held-out log loss against lam = 1/C for each prior, with the "
              "evidence of the gaussian prior (right axis, green)")
        + table(sel, "{:.4g}"),
    )


def _cap_cv_axis(ax: Any, cv: Any) -> str:
    """Cut the CV curve's axis at 3x its strongest-prior loss when the weak-prior end shoots up.

    On (nearly) separable data a weak prior lets the weights grow without bound, and a held-out
    row on the wrong side costs thousands of nats: the rest of the curve would be a flat line.
    Returns the words to add to the title ("" when nothing was cut).
    """
    if cv.scoring != "log_loss":
        return ""
    cap = 3.0 * max(float(cv.score[0]), 0.05)
    top = float(np.nanmax(cv.score + np.nan_to_num(cv.se)))
    if top <= cap:
        return ""
    ax.set_ylim(0.0, cap)
    return f"\n(axis cut: the log loss reaches {float(np.nanmax(cv.score)):.3g} at weak priors)"


def _conventions_section(report: Report, d: _Data, taus: dict[str, float]) -> None:
    conv = pd.DataFrame({
        "gaussian prior": pd.Series(classifier_conventions_table(float(taus["gaussian"]), d.n, "gaussian")),
        "laplace prior": pd.Series(classifier_conventions_table(float(taus["laplace"]), d.n, "laplace")),
    })
    conv = conv.reindex([k for k in _CONV_NAMES if k in conv.index])
    conv.index = [_CONV_NAMES[k] for k in conv.index]
    report.add(
        S_CONV,
        f"<p class='note'>n = {d.n} training rows. The prior used below, written as each tool's "
        "setting (see <code>docs/classification.md</code>). Training <code>nn.Linear</code> with "
        "<code>SGD(weight_decay = 1/(n tau^2))</code> on the mean <code>BCEWithLogitsLoss</code> / "
        "<code>CrossEntropyLoss</code>, the decay on the weight only (not the bias), lands on the "
        "gaussian MAP; no weight decay gives the laplace prior.</p>" + table(conv, "{:.6g}"),
    )


_CONV_NAMES = {
    "tau": "tau (prior scale)",
    "prior_sd": "prior sd of each weight",
    "logistic_C": "scikit-learn LogisticRegression(C)",
    "lam": "lam = 1/C in sum CE + lam R0(W)",
    "torch_weight_decay_mean": "torch SGD weight_decay, mean loss: 1/(n tau^2)",
    "torch_weight_decay_sum": "torch SGD weight_decay, sum loss: 1/tau^2",
    "scratch_penalty_mean": "from scratch: mean CE + lam_fs R0(W)",
    "scratch_penalty_sum": "from scratch: sum CE + lam_fs R0(W)",
}


def _map_section(report: Report, d: _Data, maps: dict[str, ClassifierMAPResult]) -> None:
    codes = d.codes(d.y_test)
    rows = []
    for name, f in maps.items():
        s = _scores(f.predict_proba(d.X_test), codes)
        rows.append({"fit": name, "method": f.method, "tau": f.tau, "C": f.C, "lam": f.lam,
                     "objective U": f.objective, "iterations": f.n_iter, "converged": f.converged,
                     "exact zeros": int((f.coef == 0).sum()), "test accuracy": s["accuracy"],
                     "test log loss": s["log loss"]})
    shape = "one weight per feature" if d.family == "bernoulli" else f"a {len(d.names)} x {d.K} weight matrix"
    report.add(
        S_MAP,
        f"<p class='note'>{'Logistic' if d.family == 'bernoulli' else 'Softmax'} regression "
        f"(family <code>{d.family}</code>, {shape}), intercepts unpenalised, each prior at its C above: "
        "Newton (gaussian) or proximal Newton with exact zeros (laplace), the fits of "
        "<code>bayeswd.classification.map_classifier</code>.</p>"
        + table(pd.DataFrame(rows).set_index("fit").rename_axis(None)),
    )


def _heldout_section(report: Report, fig: Any, d: _Data, maps: dict[str, ClassifierMAPResult],
                     posteriors: dict[str, ClassifierPosterior]) -> None:
    codes = d.codes(d.y_test)
    n_bins = 10 if codes.size >= 100 else 5
    freq = np.bincount(d.codes(d.y_train), minlength=d.K) / d.n
    models: dict[str, Any] = {**{k.replace("NUTS", "posterior"): v for k, v in posteriors.items()}, **maps}
    rows = {name: _scores(m.predict_proba(d.X_test), codes, n_bins) for name, m in models.items()}
    rows["training class frequencies (baseline)"] = _scores(np.tile(freq, (codes.size, 1)), codes, n_bins)
    scores = pd.DataFrame(rows).T
    pairs = [(p, {f"{p} posterior": models[f"{p} posterior"], f"{p} MAP": maps[f"{p} MAP"]}
              if f"{p} posterior" in models else {f"{p} MAP": maps[f"{p} MAP"]})
             for p in ("gaussian", "laplace")]
    f, axes = plt.subplots(2, 2, figsize=(12.0, 6.6), sharex="col", layout="constrained",
                           gridspec_kw={"height_ratios": [3.2, 1.0]})
    for j, (p, group) in enumerate(pairs):
        plot_calibration(group, d.X_test, d.y_test, n_bins=n_bins, ax=axes[0, j], hist_ax=axes[1, j],
                         title=f"{p} prior: {codes.size} test rows, {n_bins} bins")
    what = (f"the predicted probability of '{d.classes[1]}'" if d.K == 2
            else "the top-label confidence (the largest class probability)")
    report.add(
        S_HELDOUT,
        f"<p class='note'>On the {codes.size} held-out rows. The posterior predictive probability is "
        "the mean over the draws of each draw's class probabilities (not the probability at the mean "
        "weights). Log loss in nats per row (lower is better); Brier score the mean squared distance "
        "to the one-hot label; ECE the expected calibration error of the diagram below (calibration, "
        "not discrimination: the constant prediction of the baseline row is calibrated too).</p>"
        + table(scores, "{:.4f}")
        + fig("calibration", f, f"Reliability diagram: {what} against how often it comes true, in "
              "equal-width bins (marker area and the histogram below: test rows per bin; bars: 90% Wilson "
              "interval of the frequency, wide where a bin holds few rows); the diagonal is perfect "
              "calibration"),
    )


def _esc(value: Any) -> str:
    import html

    return html.escape(str(value))


def _largest(means: list[np.ndarray]) -> list[int]:
    """Positions of the weights, largest absolute value (over the estimates) first."""
    return np.argsort(-np.max(np.abs(np.stack(means)), axis=0), kind="stable").tolist()


def _comparison_section(report: Report, fig: Any, d: _Data, maps: dict[str, ClassifierMAPResult],
                        posteriors: dict[str, ClassifierPosterior]) -> None:
    names = _flat_names(d)
    flat_maps = {k: _FlatMAP(v.coef.numpy().reshape(-1)) for k, v in maps.items()}
    idatas = {k: _coef_idata(p, names) for k, p in posteriors.items()}
    means = [m.coef for m in flat_maps.values()]
    means += [p.samples["coef"].numpy().reshape(p.num_chains * p.num_draws, -1).mean(0)
              for p in posteriors.values()]
    order = _largest(means)
    top = sorted(order[:MAX_FOREST])  # drawn in the order of the features
    shown = (f"all {len(names)} weights" if len(top) == len(names)
             else f"the {len(top)} of {len(names)} weights largest in absolute value")
    which = ("" if d.family == "bernoulli" else
             " (softmax: <code>coef[feature, class]</code>, one weight per pair). Only the differences "
             "between the classes' weights of a feature are pinned down by the data: adding the same number "
             "to all of them changes no prediction, so the prior alone holds their common level (the "
             "gaussian MAP's weights of a feature sum to zero over the classes), and each weight's interval "
             "is wide even where the predictions are sure")
    if idatas:
        forest = plot_forest(idatas, maps=flat_maps, features=top, max_features=len(top))
        forest.set_title(f"Posterior of the weights ({len(top)} of {len(names)}, the largest)"
                         if len(top) < len(names) else "Posterior of the weights")
        body = fig("forest", forest,
                   f"Forest plot of {shown}: posterior medians, quartiles and 94% HDIs, with the MAP of "
                   "each prior")
        body += fig("densities", plot_densities(idatas, maps=flat_maps, features=order[:3]),
                    "Marginal posterior densities of the three largest weights")
    else:
        body = fig("forest", _map_bars(names, flat_maps, top), f"MAP weights ({shown})")
    report.add(S_COMPARE, f"<p class='note'>Weights per standard deviation of a feature where standardised; "
               f"shown: {shown}{which}. The laplace prior pulls small weights to exactly zero at its MAP, "
               "not in its posterior.</p>" + body)


def _map_bars(names: list[str], maps: dict[str, _FlatMAP], idx: list[int]) -> Any:
    f, ax = plt.subplots(figsize=(7.0, 1.2 + 0.35 * len(idx)), layout="constrained")
    pos = np.arange(len(idx))[::-1]
    for j, (name, m) in enumerate(maps.items()):
        ax.barh(pos + 0.2 * (1 - 2 * j), m.coef[idx], height=0.4, label=name, color=f"C{j + 2}")
    ax.set_yticks(pos, labels=[f"coef[{names[i]}]" for i in idx])
    ax.axvline(0.0, color="grey", linewidth=0.8)
    ax.legend(fontsize="small")
    ax.set_xlabel("weight")
    return f


def _loo(idatas: dict[str, Any]) -> str:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"(?s).*Pareto", category=UserWarning)
        cmp = compare_priors(idatas)
    flagged = "warning" in cmp.columns and bool(cmp["warning"].astype(bool).any())
    note = (" Pareto <i>k</i> exceeded 0.7 for some rows: leaving such a row out moves the posterior "
            "too far for importance sampling, so read the difference as rough and prefer the held-out "
            "scores above." if flagged else "")
    return ("<p class='note'>PSIS-LOO of the posteriors on the training rows (higher elpd is better; "
            f"<code>dse</code> is the standard error of the difference).{note}</p>"
            + table(cmp.select_dtypes("number")))


def _diagnostics(posteriors: dict[str, ClassifierPosterior], found: list[AnalysisWarning],
                 settings: AnalysisSettings) -> str:
    if not posteriors:
        return "<p>No posterior was sampled (see <code>--prior</code>).</p>"
    rows = pd.DataFrame([_diagnostics_row(k, p, found) for k, p in posteriors.items()])
    rows = rows.set_index("posterior").rename_axis(None)
    return (f"<p class='note'>NUTS on the closed-form potential of the classifier, its metric from the "
            f"Laplace approximation at the MAP; {settings.num_chains} chain(s) of {settings.num_samples} "
            f"draws after {settings.nuts.num_warmup} warm-up steps, tau fixed at the C above.</p>"
            + table(rows))


def _summary_section(report: Report, posteriors: dict[str, ClassifierPosterior]) -> None:
    """One table: ArviZ's summary of every posterior side by side (a column group each)."""
    if not posteriors:
        return
    parts = {}
    for name, post in posteriors.items():
        s = post.summary(round_to=None)
        parts[name] = s[["mean", "sd", "hdi_3%", "hdi_97%", "ess_bulk", "r_hat"]].rename(
            columns={"hdi_3%": "HDI 3%", "hdi_97%": "HDI 97%", "ess_bulk": "ESS", "r_hat": "R-hat"})
    both = pd.concat(parts, axis=1)
    report.add(S_SUMMARY, "<p class='note'>ArviZ's summary of each posterior: mean, sd, 94% highest-density "
               "interval (HDI 3% to 97%), bulk effective sample size and R-hat of every weight and intercept "
               "(the softmax's intercepts are those of classes 1..K-1; class 0's is 0).</p>"
               + table(both, "{:.3g}"))


def _write_files(files: Outputs, report: Report, d: _Data, maps: dict[str, ClassifierMAPResult],
                 posteriors: dict[str, ClassifierPosterior], idatas: dict[str, Any],
                 timings: dict[str, float]) -> Path:
    names = _flat_names(d)
    frames = [pd.DataFrame({"estimate": k, "feature": names, "mean": f.coef.numpy().reshape(-1), "sd": np.nan,
                            "q3%": np.nan, "q97%": np.nan}) for k, f in maps.items()]
    for k, p in posteriors.items():
        draws = p.samples["coef"].numpy().reshape(p.num_chains * p.num_draws, -1)
        lo, hi = np.quantile(draws, [0.03, 0.97], axis=0)
        frames.append(pd.DataFrame({"estimate": k, "feature": names, "mean": draws.mean(0),
                                    "sd": draws.std(0, ddof=1), "q3%": lo, "q97%": hi}))
    files.add_bytes("summary.csv", pd.concat(frames, ignore_index=True).to_csv(index=False).encode("utf-8"))
    for name, idata in idatas.items():
        files.add_writer("posterior_" + name.replace(" ", "_").lower() + ".nc",
                         lambda path, idata=idata: to_netcdf(idata, path))
    tick = list(timings.values()) + [time.perf_counter()]
    report.add("Time spent", table(pd.DataFrame({"seconds": np.diff(tick)}, index=list(timings)), "{:.2f}"))
    files.add_bytes("report.html", report.render().encode("utf-8"))
    return files.commit(last="report.html")
