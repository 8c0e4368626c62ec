"""The ``bayeswd`` command: a whole analysis into an HTML report, on the demo problem or a CSV.

``bayeswd demo`` runs the seed problem of the design notes; ``bayeswd fit data.csv --target y``
runs the same analysis on a user's data. ``python -m bayeswd`` is the same command.

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

__all__ = ["main"]


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
        description="Run the whole analysis on your CSV: numeric, text and category columns, one numeric "
        "target. Text columns are one-hot encoded (treatment coding: the first level in sorted order is the "
        "reference, carried by the intercept); rows with missing values are refused unless --missing drop.",
    )
    fit.add_argument(
        "csv",
        help="path of the CSV file (header row with column names); or, read out of core with Dask, a "
        "Parquet file or folder, or a quoted glob of CSV or Parquet files such as 'data/*.csv' (a "
        "report from the sufficient statistics; needs pip install 'bayeswd[dask]')",
    )
    fit.add_argument("--target", required=True, help="name of the column to predict")
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
        help="noise sd (default: empirical Bayes, the evidence maximum)",
    )
    fit.add_argument(
        "--tau",
        type=_positive,
        default=None,
        help="gaussian prior sd (default: empirical Bayes); laplace uses tau/sqrt(2)",
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


def load_csv(
    path: str,
    target: str,
    features: list[str] | None,
    *,
    categorical: list[str] | None = None,
    missing: str = "error",
) -> Any:
    """Read ``path`` and prepare it with :func:`bayeswd.prepare_table`, or raise :class:`CLIError`.

    Returns the :class:`bayeswd.tables.PreparedTable`: ``X`` (text columns one-hot encoded), ``y``,
    the encoding and the rows dropped for missing values (``missing="drop"``).
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
    try:  # row_offset 2: the header line, and file lines count from 1
        prep = _prepare(df, target, features, categorical, missing, cli=True, row_offset=2)
    except (ValueError, TypeError) as err:
        raise CLIError(str(err)) from None
    n, dropped = prep.X.shape[0], prep.dropped_rows.count
    if n < 8:
        after = f" after dropping {dropped} with missing values" if dropped else ""
        raise CLIError(f"{path!r} has {n} rows{after}; at least 8 are needed for a train/test split")
    return prep


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
        return run_fit_dask(args, found)
    prep = load_csv(args.csv, args.target, args.features, categorical=args.categorical, missing=args.missing)
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
