"""The ``bayeswd`` command: a whole analysis into an HTML report, on the demo problem or a CSV.

``bayeswd demo`` runs the seed problem of the design notes; ``bayeswd fit data.csv --target y``
runs the same analysis on a user's data. ``python -m bayeswd`` is the same command.

``bayeswd fit`` chooses the likelihood from the target (``--family auto``, :func:`detect_family`):
linear regression for numbers, logistic regression for two labels, softmax regression for a few
(:func:`bayeswd.report.classifier.run_classifier_analysis` writes the classifier's report).

The command reports, it does not spill: the warnings of the analysis are caught and shown next to
their result in the report, and listed once on stderr at the end. Nothing is lost: it refuses an
``--out`` folder holding files it did not write (``--force`` overrides), writes each file under a
temporary name and moves it into place, ``report.html`` last, and stops on Ctrl-C with one line
(exit status 130).
"""

from __future__ import annotations

import argparse
import dataclasses
import html
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["FAMILIES", "MAX_AUTO_CLASSES", "MIN_CLASS_ROWS", "TargetFamily", "detect_family", "main"]

#: Values of ``bayeswd fit --family``.
FAMILIES = ("auto", "gaussian", "bernoulli", "categorical")
#: ``--family auto`` reads whole numbers with at most this many distinct values, and text labels
#: up to this many, as classes (softmax regression); more whole numbers are a regression target,
#: more text labels an error (``--family categorical`` fits them anyway).
MAX_AUTO_CLASSES = 20
#: Rows every class needs: two to train on (stratified cross-validation) and one to test on.
MIN_CLASS_ROWS = 3


class CLIError(Exception):
    """A user mistake: printed as one line on stderr, exit status 2, no traceback."""


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return value


def _fraction(text: str) -> float:
    value = _positive(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in (0, 1), got {text!r}")
    return value


def _common(p: argparse.ArgumentParser, default_out: str) -> None:
    p.add_argument("--out", default=default_out, help=f"output folder (default: {default_out})")
    p.add_argument("--quick", action="store_true", help="a short run (fewer draws, chains and lambdas)")
    p.add_argument("--seed", type=_seed, default=0, help="seed of every stochastic step (default: 0)")
    p.add_argument("--device", default="auto", help="'auto' (CUDA if available), 'cpu' or 'cuda'")
    p.add_argument(
        "--method",
        choices=["nuts", "svi", "both"],
        default="both",
        help="posterior method(s) (default: both)",
    )
    p.add_argument(
        "--backend",
        choices=["bayeswd", "pyro"],
        default="bayeswd",
        help="NUTS implementation: bayeswd's own sampler or pyro.infer.NUTS (default: bayeswd)",
    )
    p.add_argument(
        "--nuts",
        nargs="+",
        metavar="KEY=VALUE",
        default=None,
        help="settings of the NUTS sampler, e.g. --nuts num_warmup=500 target_accept_prob=0.9 "
        "(the fields of bayeswd.infer.NUTS, or PyroNUTS with --backend pyro)",
    )
    p.add_argument(
        "--svi",
        nargs="+",
        metavar="KEY=VALUE",
        default=None,
        help="settings of SVI, e.g. --svi guide=lowrank lr=0.01 (the fields of bayeswd.infer.SVI)",
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    p.add_argument(
        "--force",
        action="store_true",
        help="write into --out even if it holds files bayeswd did not write (they are left alone)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bayeswd",
        description="Weight decay as a gaussian prior, L1 as a laplace prior: MAP, sweeps, lambda selection "
        "and full posteriors of linear regression, written to an HTML report.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="{demo,fit}")
    demo = sub.add_parser(
        "demo",
        help="the built-in example: n=20, d=200, SGD weight_decay=3",
        description="Run the whole analysis on the seed problem of the design notes.",
    )
    _common(demo, "bayeswd-report")
    fit = sub.add_parser(
        "fit",
        help="run the analysis on a CSV file",
        description="Run the whole analysis on your CSV: numeric, text and category columns, one target. "
        "Text columns are one-hot encoded (treatment coding: the first level in sorted order is the "
        "reference, carried by the intercept); rows with missing values are refused unless --missing drop. "
        "The target chooses the model (--family auto): numbers give linear regression; two distinct "
        "values give logistic regression; text, true/false or category labels (up to "
        f"{MAX_AUTO_CLASSES}) and whole numbers with 3 to {MAX_AUTO_CLASSES} distinct values give "
        "softmax regression.",
    )
    fit.add_argument(
        "csv",
        help="path of the CSV file (header row with column names); or, read out of core with Dask, a "
        "Parquet file or folder, or a quoted glob of CSV or Parquet files such as 'data/*.csv' (a "
        "report from the sufficient statistics; needs pip install 'bayeswd[dask]')",
    )
    fit.add_argument("--target", required=True, help="name of the column to predict")
    fit.add_argument(
        "--family",
        choices=list(FAMILIES),
        default="auto",
        help="likelihood: gaussian (linear regression), bernoulli (logistic regression, two labels), "
        "categorical (softmax regression) or auto: bernoulli for a target with two distinct values, "
        f"categorical for text, true/false or category labels (at most {MAX_AUTO_CLASSES}) and for whole "
        f"numbers with 3 to {MAX_AUTO_CLASSES} distinct values, gaussian for other numbers (default: auto)",
    )
    fit.add_argument("--features", nargs="+", default=None, help="feature columns (default: all others)")
    fit.add_argument(
        "--categorical",
        nargs="+",
        metavar="COL",
        default=None,
        help="numeric feature columns to one-hot encode as categories, e.g. integer codes "
        "(text, category and true/false columns are encoded without being named)",
    )
    fit.add_argument(
        "--missing",
        choices=["error", "drop"],
        default="error",
        help="rows with a missing value in a feature or the target: refuse them (error) or drop them "
        "(default: error)",
    )
    fit.add_argument(
        "--prior",
        choices=["gaussian", "laplace", "both"],
        default="both",
        help="prior(s) on the weights (default: both)",
    )
    fit.add_argument(
        "--sigma",
        type=_positive,
        default=None,
        help="noise sd (default: empirical Bayes, the evidence maximum); regression only",
    )
    fit.add_argument(
        "--tau",
        type=_positive,
        default=None,
        help="gaussian prior sd (default: empirical Bayes for regression, cross-validation for a "
        "classifier); laplace uses tau/sqrt(2)",
    )
    fit.add_argument(
        "--test-fraction",
        type=_fraction,
        default=0.25,
        help="share of rows held out for test error and validation (default: 0.25)",
    )
    fit.add_argument(
        "--no-standardize",
        action="store_true",
        help="keep feature scales (default: standardise with the training rows' mean and sd)",
    )
    _common(fit, "bayeswd-report")
    return parser


@dataclasses.dataclass(frozen=True)
class TargetFamily:
    """The likelihood ``bayeswd fit`` uses for its target, and why.

    ``family`` is ``"gaussian"`` (linear regression), ``"bernoulli"`` (logistic regression) or
    ``"categorical"`` (softmax regression); ``classes`` the sorted labels of a classifier (``None``
    for regression); ``reason`` the rule that chose it, in words (the report says it).
    """

    family: str
    classes: np.ndarray | None
    reason: str

    @property
    def is_classifier(self) -> bool:
        """Whether the family is a classifier's (bernoulli or categorical)."""
        return self.family != "gaussian"


def _labels_of(values: Any) -> tuple[np.ndarray, bool]:
    """The sorted distinct labels of the non-missing ``values``, and whether they are numbers."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(values.dtype):
        return np.unique(values.to_numpy(dtype=bool)), False
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        arr = values.to_numpy(dtype=np.float64)
        uniq = np.unique(arr)
        whole = bool(np.all(np.isfinite(uniq)) and np.all(uniq == np.round(uniq)))
        return (uniq.astype(np.int64) if whole and np.all(np.abs(uniq) < 2**53) else uniq), True
    # text, category or mixed objects: labels as written (true/false stay booleans)
    items = values.tolist()
    if all(isinstance(v, (bool, np.bool_)) for v in items):
        return np.unique(np.asarray(items, dtype=bool)), False
    return np.unique(np.asarray([str(v) for v in items], dtype=object)), False


def _shown(classes: np.ndarray, limit: int = 6) -> str:
    items = [str(c) for c in classes[:limit]]
    return ", ".join(items) + (", ..." if classes.shape[0] > limit else "")


def detect_family(target: Any, family: str = "auto", name: str = "y") -> TargetFamily:
    """The likelihood of the target column ``target`` (a pandas Series) under ``--family family``.

    ``--family auto``, on the non-missing values:

    1. two distinct values (numbers, text or true/false): ``bernoulli``;
    2. text, true/false or ``category`` labels, 3 to :data:`MAX_AUTO_CLASSES` of them:
       ``categorical`` (more is an error: ``--family categorical`` fits them anyway);
    3. whole numbers with 3 to :data:`MAX_AUTO_CLASSES` distinct values: ``categorical``;
    4. any other numbers (fractions, or more distinct whole numbers): ``gaussian``.

    ``--family bernoulli`` needs exactly two distinct values and ``categorical`` at least two;
    ``gaussian`` is always linear regression (a non-numeric target is then an error of the table).
    Raises :class:`CLIError` for a target no family fits.
    """
    import pandas as pd

    if family == "gaussian":
        return TargetFamily("gaussian", None, "--family gaussian")
    values = target.dropna()
    if len(values) == 0:
        return TargetFamily("gaussian", None, "no values") if family == "auto" else _no_labels(name, family)
    try:
        classes, numeric = _labels_of(values)
    except TypeError as err:  # pragma: no cover - labels that cannot be sorted
        raise CLIError(f"--target column {name!r} holds labels that cannot be sorted: {err}") from None
    k = int(classes.shape[0])
    whole = numeric and classes.dtype.kind in "iu"
    listed = f"{k} distinct value(s) ({_shown(classes)})"
    if family == "bernoulli":
        if k != 2:
            raise CLIError(f"--family bernoulli needs a --target with exactly two distinct values; column "
                           f"{name!r} has {listed}; use --family categorical (softmax regression) or auto")
        return TargetFamily("bernoulli", classes, "--family bernoulli")
    if family == "categorical":
        if k < 2:
            _no_labels(name, family, listed)
        return TargetFamily("categorical", classes, "--family categorical")
    # auto
    if k == 2:
        return TargetFamily("bernoulli", classes, "the target has two distinct values")
    if not numeric and k > MAX_AUTO_CLASSES:
        raise CLIError(f"--target column {name!r} holds {k} distinct labels (e.g. {_shown(classes, 3)}); "
                       f"--family auto fits a softmax over at most {MAX_AUTO_CLASSES}: check --target, or "
                       "pass --family categorical to fit them all")
    if not numeric and k < 2:
        _no_labels(name, "auto", listed)
    if not numeric:
        what = "category" if isinstance(target.dtype, pd.CategoricalDtype) else "text"
        return TargetFamily("categorical", classes, f"the target holds {k} {what} labels")
    if whole and 3 <= k <= MAX_AUTO_CLASSES:
        return TargetFamily("categorical", classes,
                            f"the target holds whole numbers with {k} distinct values (at most "
                            f"{MAX_AUTO_CLASSES}: read as classes; --family gaussian for regression)")
    return TargetFamily("gaussian", None, "the target holds numbers")


def _no_labels(name: str, family: str, listed: str = "no values") -> TargetFamily:
    raise CLIError(f"--family {family} needs at least two distinct labels in --target column {name!r}; it "
                   f"has {listed}")


def read_table(
    path: str,
    target: str,
    features: list[str] | None,
    *,
    categorical: list[str] | None = None,
    missing: str = "error",
    family: str = "auto",
) -> tuple[Any, TargetFamily]:
    """Read ``path``, choose the family of its target and prepare it, or raise :class:`CLIError`.

    Returns ``(prep, kind)``: the :class:`bayeswd.tables.PreparedTable` (``X`` with text columns
    one-hot encoded, ``y``, the encoding, the rows dropped for missing values) and the
    :class:`TargetFamily` of :func:`detect_family`. For a classifier ``prep.y`` holds the class
    indices ``0..K-1`` into ``kind.classes`` (as float).
    """
    import pandas as pd

    from bayeswd.tables import _prepare

    file = Path(path)
    if not file.is_file():
        raise CLIError(f"CSV file {path!r} not found")
    try:
        df = pd.read_csv(file)
    except pd.errors.EmptyDataError:
        raise CLIError(f"CSV file {path!r} is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise CLIError(f"CSV file {path!r} could not be parsed: {err}") from None
    if df.shape[0] == 0:
        raise CLIError(f"CSV file {path!r} has a header but no data rows")
    columns = [str(c) for c in df.columns]
    if target not in columns:
        raise CLIError(f"--target column {target!r} is not in {path!r}; columns are {columns}")
    features = features or [c for c in columns if c != target]
    absent = [f for f in features if f not in columns]
    if absent:
        raise CLIError(f"--features column(s) {absent} not in {path!r}; columns are {columns}")
    if target in features:
        raise CLIError(f"--target column {target!r} is also listed in --features")
    if not features:
        raise CLIError(f"{path!r} has no feature columns besides the target {target!r}")
    kind = detect_family(df[target], family, target)
    if kind.is_classifier:  # the table takes a numeric target: the class indices, missing kept missing
        labels = df[target]
        as_label = (lambda v: bool(v)) if kind.classes.dtype == bool else (
            (lambda v: v) if kind.classes.dtype != object else str)
        lookup = {c: i for i, c in enumerate(kind.classes.tolist())}
        codes = [np.nan if pd.isna(v) else float(lookup[as_label(v)]) for v in labels.tolist()]
        df = df.assign(**{target: np.asarray(codes, dtype=np.float64)})
    try:  # row_offset 2: the header line, and file lines count from 1
        prep = _prepare(df, target, features, categorical, missing, cli=True, row_offset=2)
    except (ValueError, TypeError) as err:
        raise CLIError(str(err)) from None
    n, dropped = prep.X.shape[0], prep.dropped_rows.count
    if n < 8:
        after = f" after dropping {dropped} with missing values" if dropped else ""
        raise CLIError(f"{path!r} has {n} rows{after}; at least 8 are needed for a train/test split")
    return prep, kind


def load_csv(
    path: str,
    target: str,
    features: list[str] | None,
    *,
    categorical: list[str] | None = None,
    missing: str = "error",
) -> Any:
    """Read ``path`` for linear regression (:func:`read_table` with ``family="gaussian"``).

    Returns the :class:`bayeswd.tables.PreparedTable`: ``X`` (text columns one-hot encoded), ``y``,
    the encoding and the rows dropped for missing values (``missing="drop"``).
    """
    return read_table(path, target, features, categorical=categorical, missing=missing, family="gaussian")[0]


def _table_notes(prep: Any) -> str:
    """The encoding and the dropped rows of ``prep``, as HTML sentences for the report's notes."""
    esc = html.escape
    parts = []
    if prep.encoding.categorical:
        items = "; ".join(
            f"<code>{esc(str(e.column))}</code> (reference level <code>{esc(str(e.reference))}</code>) "
            f"&rarr; {', '.join(f'<code>{esc(c)}</code>' for c in e.columns)}"
            for e in prep.encoding.categorical
        )
        parts.append(f"One-hot encoded with treatment coding (the intercept carries the reference level): "
                     f"{items}.")
    dropped = prep.dropped_rows
    if dropped.count:
        where = ", ".join(f"<code>{esc(str(c))}</code> ({k})" for c, k in dropped.columns.items())
        parts.append(f"{dropped.count} row(s) with missing values dropped (missing in {where}).")
    return "".join(f" {p}" for p in parts)


def settings_from_args(args: argparse.Namespace, priors: tuple[str, ...]) -> Any:
    """The :class:`bayeswd.report.AnalysisSettings` of the command line ``args``.

    ``--quick`` picks the short run; ``--backend``, ``--nuts`` and ``--svi`` build the method
    objects (:class:`bayeswd.infer.NUTS` or ``PyroNUTS``, :class:`bayeswd.infer.SVI`) on top of
    its settings, validated by those classes. A bad setting raises :class:`CLIError`.
    """
    from bayeswd.infer import NUTS, SVI, PyroNUTS
    from bayeswd.infer.options import options_from_strings
    from bayeswd.report import AnalysisSettings

    methods = ("nuts", "svi") if args.method == "both" else (args.method,)
    base = AnalysisSettings.quick() if args.quick else AnalysisSettings()
    try:
        nuts = options_from_strings(PyroNUTS if args.backend == "pyro" else NUTS, args.nuts,
                                    base=base.nuts)
        svi = options_from_strings(SVI, args.svi, base=base.svi)
    except (ValueError, TypeError) as err:
        raise CLIError(str(err)) from None
    return dataclasses.replace(base, methods=methods, priors=priors, nuts=nuts, svi=svi)


def run_demo(args: argparse.Namespace, found: list[Any]) -> Path:
    """The demo analysis; its warnings go into ``found`` (:class:`bayeswd.report.AnalysisWarning`)."""
    import bayeswd as bw
    from bayeswd.report import run_analysis

    p = bw.seed_problem(seed=args.seed)
    notes = (
        "The seed problem: n = 20 training rows, d = 200 features, noise sd 0.01, true weights 0.01, "
        "intercept 0.05. Training with <code>SGD(weight_decay=3)</code> on <code>MSELoss</code> "
        f"is MAP under the gaussian prior with tau = {p.tau:.4g}; the laplace prior has the same "
        f"prior variance (scale {p.tau_laplace:.4g})."
    )
    return run_analysis(
        p.train.X,
        p.train.y,
        p.test.X,
        p.test.y,
        out=args.out,
        sigma=p.sigma,
        tau=p.tau,
        tau_laplace=p.tau_laplace,
        true_coef=p.train.w,
        settings=settings_from_args(args, ("gaussian", "laplace")),
        title="bayeswd demo: weight decay is a gaussian prior",
        seed=args.seed,
        device=args.device,
        progress_bar=not args.no_progress,
        notes=notes,
        force=args.force,
        collected=found,
    )


def _n_features(prep: Any) -> str:
    """``3 feature(s)``, or ``3 feature column(s), 4 after encoding``."""
    n_in, n_out = len(prep.encoding.features), prep.X.shape[1]
    return f"{n_in} feature(s)" if n_in == n_out else f"{n_in} feature column(s), {n_out} after encoding"


def run_fit(args: argparse.Namespace, found: list[Any]) -> Path:
    """The analysis of ``args.csv``; its warnings go into ``found`` (``AnalysisWarning`` records)."""
    from bayeswd._dask_cli import is_out_of_core, run_fit_dask
    from bayeswd.report import capture_warnings, run_analysis
    from bayeswd.selection import maximize_evidence, maximize_evidence_given

    if is_out_of_core(args.csv):  # Parquet or a glob: read with Dask, never whole (docs/dask.md)
        if args.family in ("bernoulli", "categorical"):
            raise CLIError(f"--family {args.family}: classifiers read a CSV file in memory; the out-of-core "
                           "path (Parquet, or a glob of files) fits linear regression only")
        return run_fit_dask(args, found)
    prep, kind = read_table(args.csv, args.target, args.features, categorical=args.categorical,
                            missing=args.missing, family=args.family)
    if kind.is_classifier:
        return run_fit_classifier(args, found, prep, kind)
    X, y = prep.X, prep.y
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(y))
    n_test = max(2, int(round(args.test_fraction * len(y))))
    test, train = order[:n_test], order[n_test:]
    X_train, X_test, y_train, y_test = X.iloc[train], X.iloc[test], y.iloc[train], y.iloc[test]
    scaling = "Features are used as given."
    if not args.no_standardize:
        mean, sd = X_train.mean(), X_train.std(ddof=0).replace(0.0, 1.0)
        X_train, X_test = (X_train - mean) / sd, (X_test - mean) / sd
        also = " (the one-hot columns too: their coefficients are per sd of the 0/1 column)"
        scaling = (f"Features are standardised with the training rows' mean and sd"
                   f"{also if prep.encoding.categorical else ''}, so one tau fits them all.")
    sigma, tau = args.sigma, args.tau
    source = "given on the command line"
    if sigma is None or tau is None:
        with capture_warnings(found, "sigma and tau (empirical Bayes)", step="choosing sigma and tau"):
            if sigma is None and tau is None:
                evid = maximize_evidence(X_train, y_train, intercept="integrate")
                sigma, tau = evid.sigma, evid.tau
            else:  # the missing one at the evidence maximum with the given one held (not the joint one)
                sigma, tau = maximize_evidence_given(X_train, y_train, sigma=sigma, tau=tau)
        source = "chosen by maximising the evidence (empirical Bayes) where not given"
    priors = ("gaussian", "laplace") if args.prior == "both" else (args.prior,)
    notes = (
        f"Data: <code>{html.escape(Path(args.csv).name)}</code>, "
        f"target <code>{html.escape(args.target)}</code>, "
        f"{_n_features(prep)}, {len(train)} training and {len(test)} test rows (seed {args.seed})."
        f"{_table_notes(prep)} {scaling} sigma = {sigma:.4g} and tau = {tau:.4g}, {source}."
    )
    return run_analysis(
        X_train,
        y_train.to_numpy(),
        X_test,
        y_test.to_numpy(),
        out=args.out,
        sigma=sigma,
        tau=tau,
        settings=settings_from_args(args, priors),
        title=f"bayeswd: {Path(args.csv).name}",
        seed=args.seed,
        device=args.device,
        progress_bar=not args.no_progress,
        notes=notes,
        force=args.force,
        collected=found,
    )


def _classifier_options(args: argparse.Namespace) -> None:
    """Refuse the options of regression that a classifier has no use for."""
    if args.sigma is not None:
        raise CLIError("--sigma is the noise sd of linear regression; a classifier has none (drop it, or "
                       "pass --family gaussian for regression)")
    if args.method == "svi" or args.svi:
        raise CLIError("--method svi and --svi: a classifier's posterior is drawn by NUTS (use --method nuts "
                       "or leave --method out)")
    if args.backend == "pyro":
        raise CLIError("--backend pyro: a classifier's posterior is drawn by bayeswd's NUTS on its "
                       "closed-form potential (leave --backend out)")


def stratified_split(codes: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(train, test)`` row positions: ``round(fraction * n_k)`` test rows of each class ``k``.

    Each class keeps at least two training rows and gives at least one test row (it has at least
    :data:`MIN_CLASS_ROWS`); the rows of a class are drawn by a seeded permutation.
    """
    rng = np.random.default_rng(seed)
    train, test = [], []
    for k in range(int(codes.max()) + 1):
        rows = rng.permutation(np.flatnonzero(codes == k))
        n_test = int(min(max(round(fraction * rows.size), 1), rows.size - 2))
        test.append(rows[:n_test])
        train.append(rows[n_test:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def run_fit_classifier(args: argparse.Namespace, found: list[Any], prep: Any, kind: TargetFamily) -> Path:
    """The classifier analysis of ``args.csv`` (logistic or softmax regression)."""
    import pandas as pd

    from bayeswd.report.classifier import run_classifier_analysis

    _classifier_options(args)
    codes = prep.y.to_numpy().astype(np.int64)
    counts = np.bincount(codes, minlength=kind.classes.shape[0])
    few = [(str(c), int(m)) for c, m in zip(kind.classes, counts, strict=True) if m < MIN_CLASS_ROWS]
    if few:
        after = " (after dropping rows with missing values)" if prep.dropped_rows.count else ""
        shown = ", ".join(f"{c!r}: {m}" for c, m in few[:5])
        raise CLIError(f"every class of --target {args.target!r} needs at least {MIN_CLASS_ROWS} rows (to "
                       f"train and to test on); rows per class{after}: {shown}; merge or drop rare classes")
    labels = kind.classes[codes]
    train, test = stratified_split(codes, args.test_fraction, args.seed)
    X_train, X_test = prep.X.iloc[train], prep.X.iloc[test]
    scaling = "Features are used as given."
    if not args.no_standardize:
        mean, sd = X_train.mean(), X_train.std(ddof=0).replace(0.0, 1.0)
        X_train, X_test = (X_train - mean) / sd, (X_test - mean) / sd
        also = " (the one-hot columns too: their coefficients are per sd of the 0/1 column)"
        scaling = (f"Features are standardised with the training rows' mean and sd"
                   f"{also if prep.encoding.categorical else ''}, so one prior scale fits them all.")
    model = ("logistic regression (family <code>bernoulli</code>)" if kind.family == "bernoulli"
             else f"softmax regression (family <code>categorical</code>, {len(kind.classes)} classes)")
    esc = html.escape
    notes = (
        f"Data: <code>{esc(Path(args.csv).name)}</code>, target <code>{esc(args.target)}</code>: "
        f"{model}, because {esc(kind.reason)}. {_n_features(prep)}, {len(train)} training and {len(test)} "
        f"test rows (a stratified split, seed {args.seed}).{_table_notes(prep)} {scaling}"
    )
    per_class = pd.DataFrame(
        {"training rows": np.bincount(codes[train], minlength=counts.size),
         "test rows": np.bincount(codes[test], minlength=counts.size)},
        index=[str(c) for c in kind.classes],
    )
    per_class["share"] = counts / counts.sum()
    from bayeswd.report.page import table

    positive = (f" The model gives the probability of <code>{esc(str(kind.classes[1]))}</code> (class 1) "
                f"against <code>{esc(str(kind.classes[0]))}</code>." if kind.family == "bernoulli" else
                f" Class 0 (<code>{esc(str(kind.classes[0]))}</code>) is the reference of the intercepts.")
    data_html = (f"<p class='note'>The classes of <code>{esc(args.target)}</code> in sorted order; each is "
                 f"split into training and test rows in the same proportion.{positive}</p>"
                 + table(per_class, "{:.3f}"))
    priors = ("gaussian", "laplace") if args.prior == "both" else (args.prior,)
    settings = dataclasses.replace(settings_from_args(args, priors), methods=("nuts",))
    return run_classifier_analysis(
        X_train,
        labels[train],
        X_test,
        labels[test],
        out=args.out,
        family=kind.family,
        tau=args.tau,
        settings=settings,
        title=f"bayeswd: {Path(args.csv).name} ({'logistic' if kind.family == 'bernoulli' else 'softmax'} "
              "regression)",
        seed=args.seed,
        device=args.device,
        progress_bar=not args.no_progress,
        notes=notes,
        data_html=data_html,
        force=args.force,
        collected=found,
    )


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Name -> (mtime, size) of the files in ``folder`` (empty if it does not exist)."""
    try:
        return {p.name: (st.st_mtime_ns, st.st_size) for p in folder.iterdir()
                if p.is_file() and (st := p.stat())}
    except OSError:
        return {}


def _interrupted(folder: Path, before: dict[str, tuple[int, int]]) -> str:
    """What an interrupted run left in ``folder``, in words."""
    from bayeswd.report import MANIFEST

    after = _snapshot(folder)
    changed = sorted(n for n, s in after.items()
                     if before.get(n) != s and n != MANIFEST and not n.endswith(".tmp"))
    if not changed:
        return "interrupted; nothing was written"
    kept = "" if "report.html" in changed else "; report.html was not rewritten"
    return (f"interrupted while writing; {len(changed)} file(s) in {folder} were replaced "
            f"({', '.join(changed)}){kept}")


def _list_warnings(command: str, found: list[Any]) -> None:
    """The warnings of the run, one line each, on stderr (nothing when there were none)."""
    if not found:
        return
    print(f"bayeswd {command}: {len(found)} warning(s); the report shows each next to its result, "
          "with what to do:", file=sys.stderr)
    for w in found:
        print(f"  - {w}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``bayeswd`` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")  # the command writes figures to files and never needs a screen
    from bayeswd.report import OutputFolderError, check_output_folder

    out = Path(args.out)
    before = _snapshot(out)
    found: list[Any] = []
    try:
        check_output_folder(out, force=args.force)
        path = run_demo(args, found) if args.command == "demo" else run_fit(args, found)
    except KeyboardInterrupt:
        print(f"bayeswd {args.command}: {_interrupted(out, before)}", file=sys.stderr)
        return 130
    except OutputFolderError as err:
        print(f"bayeswd {args.command}: error: --out {err.folder} holds {err.name!r}, {err.reason}; "
              "use --force to overwrite, or another --out", file=sys.stderr)
        return 2
    except NotADirectoryError as err:
        print(f"bayeswd {args.command}: error: --out {err}", file=sys.stderr)
        return 2
    except CLIError as err:
        print(f"bayeswd {args.command}: error: {err}", file=sys.stderr)
        return 2
    except (ValueError, TypeError) as err:  # a bad setting caught by the library's boundary checks
        print(f"bayeswd {args.command}: error: {err}", file=sys.stderr)
        return 2
    _list_warnings(args.command, found)
    print(f"Report written to {path.resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
