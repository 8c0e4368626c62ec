"""``bayeswd fit`` on data larger than memory: Parquet files and globs of CSV files, read with Dask.

The file is read as a ``dask.dataframe``; the table preparation of :func:`bayeswd.prepare_table`
(one-hot encoding with treatment coding, ``--missing error|drop``, the same refusals) is decided
from one pass that counts the missing values and collects the levels of the text, category and
boolean columns, then applied partition by partition. A second pass reduces the encoded rows to
the moments of a seeded training and test split (:func:`bayeswd._dask.split_moments`). Every
result of the report comes from those moments: the rows never come to the client.

What differs from the in-memory analysis, and why, is listed in the report itself
(:data:`NOT_AVAILABLE`) and in docs/dask.md.
"""

from __future__ import annotations

import glob
import html
import math
import time
import warnings
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from bayeswd._dask import (
    Moments,
    RowsElsewhere,
    reduce_tree,
    require_dask,
    split_moments,
    standardized,
)
from bayeswd._dask_blocks import TARGET
from bayeswd.tables import (
    _CLI_NAMES,
    CategoricalEncoding,
    DroppedRows,
    TableEncoding,
    _counts,
    _kind,
    _label,
    _names,
    _py,
)

__all__ = ["MAX_LEVELS", "NOT_AVAILABLE", "DaskTable", "is_out_of_core", "prepare_dask_table", "read_table",
           "run_fit_dask"]

#: A text column with more distinct values than this is refused (an identifier, not a category):
#: its levels would have to come to the client.
MAX_LEVELS = 1000

#: The steps of the in-memory report that need the rows, and what the out-of-core report does instead.
NOT_AVAILABLE = (
    ("the SGD training loop", "minibatches are rows; the MAP by Newton's method and the proximal lasso "
     "solver run on the statistics"),
    ("SVI and Pyro's NUTS", "they evaluate the likelihood row by row; the exact gaussian posterior, "
     "bayeswd's NUTS and, for the laplace prior, the Gibbs sampler run on the statistics"),
    ("k-fold cross-validation and the validation curve's standard error", "they need per-row errors; "
     "the test error of the held-out rows comes from their moments"),
    ("PSIS-LOO, posterior predictive draws of the training rows",
     "one value per row and draw; the posterior groups are saved"),
)


def is_out_of_core(path: str) -> bool:
    """Whether the ``bayeswd fit`` input is read with Dask: a Parquet file or folder, or a glob."""
    return any(ch in path for ch in "*?[") or Path(path).is_dir() or Path(path).suffix.lower() in (
        ".parquet", ".pq")


def _format(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return "parquet" if suffix in (".parquet", ".pq") else "csv" if suffix in (".csv", ".txt", ".gz") else "?"


def read_table(path: str) -> tuple[Any, str, int]:
    """The table at ``path`` as a ``dask.dataframe``, a description of its source, and its file count.

    A folder or a ``.parquet`` / ``.pq`` file is read as Parquet; a glob (``"data/*.csv"``) matches
    CSV files (a header row in each) or Parquet files. Raises ``ValueError`` with what was wrong.
    """
    require_dask()
    import dask.dataframe as dd

    if any(ch in path for ch in "*?["):
        files = sorted(glob.glob(path))
        if not files:
            raise ValueError(f"no file matches {path!r}")
        kinds = {_format(f) for f in files}
        if len(kinds) > 1 or kinds == {"?"}:
            shown = ", ".join(Path(f).name for f in files[:5]) + (", ..." if len(files) > 5 else "")
            raise ValueError(f"{path!r} must match CSV files or Parquet files, not both nor others; "
                             f"got {shown}")
        kind, n_files = kinds.pop(), len(files)
    elif Path(path).is_dir():
        n_files = sum(1 for p in Path(path).rglob("*") if p.is_file() and _format(p.name) == "parquet")
        if not n_files:
            raise ValueError(f"folder {path!r} holds no .parquet files")
        kind, files = "parquet", [path]
    elif Path(path).is_file():
        kind, files, n_files = "parquet", [path], 1
    else:
        raise ValueError(f"Parquet file {path!r} not found")
    try:
        if kind == "parquet":
            df = dd.read_parquet(files[0] if len(files) == 1 else files)
        else:  # integers as floats: a missing value in a later file does not break the dtypes
            df = dd.read_csv(files, assume_missing=True)
    except (OSError, ValueError, TypeError) as err:
        raise ValueError(f"{path!r} could not be read as {kind.upper()}: {err}") from None
    return df, f"{kind.upper()}, {n_files} file(s), {df.npartitions} partition(s)", n_files


class DaskTable(NamedTuple):
    """The prepared table, lazily: what :func:`bayeswd.prepare_table` returns, for a Dask frame.

    ``X`` (float64 dask DataFrame, columns ``encoding.columns``) and ``y`` (float64 dask Series) have
    the same partitions. ``dropped_rows.index`` is empty: the labels of dropped rows stay with the data.
    """

    X: Any
    y: Any
    encoding: TableEncoding
    dropped_rows: DroppedRows


def _levels_of(part: pd.DataFrame, columns: list[Any]) -> dict[Any, set[Any]]:
    """The distinct values of ``columns`` in one partition (at most ``MAX_LEVELS + 1`` each)."""
    out = {}
    for c in columns:
        values = {_py(v) for v in pd.unique(part[c].dropna().to_numpy(dtype=object))}
        out[c] = set(list(values)[: MAX_LEVELS + 1]) if len(values) > MAX_LEVELS else values
    return out


def _merge_levels(*parts: dict[Any, set[Any]]) -> dict[Any, set[Any]]:
    out: dict[Any, set[Any]] = {c: set() for c in parts[0]}
    for p in parts:
        for c, values in p.items():
            if len(out[c]) <= MAX_LEVELS:
                out[c] |= values
    return {c: v if len(v) <= MAX_LEVELS else set(list(v)[: MAX_LEVELS + 1]) for c, v in out.items()}


def _missing_of(part: pd.DataFrame) -> tuple[int, int, pd.Series]:
    na = part.isna()
    return len(part), int(na.any(axis=1).sum()), na.sum()


def _merge_missing(*parts: tuple[int, int, pd.Series]) -> tuple[int, int, pd.Series]:
    return sum(p[0] for p in parts), sum(p[1] for p in parts), sum((p[2] for p in parts[1:]), parts[0][2])


def _dtype_kind(dtype: Any) -> str:
    """What a column is from its dtype alone.

    ``"text"`` (object and string columns) is decided by the values of the levels pass
    (:func:`_encodings`), as :func:`bayeswd.tables._kind` decides it.
    """
    if pd.api.types.is_bool_dtype(dtype) or isinstance(dtype, pd.CategoricalDtype):
        return "categorical"
    if pd.api.types.is_complex_dtype(dtype):
        return "other"
    if pd.api.types.is_numeric_dtype(dtype):
        return "numeric"
    if pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype):
        return "text"
    return "other"


def prepare_dask_table(
    df: Any, target: str, features: list[str] | None, categorical: list[str] | None, missing: str
) -> DaskTable:
    """:func:`bayeswd.prepare_table`'s rules on a ``dask.dataframe``, in one pass over it.

    The pass counts the missing values (rows and columns) and collects the levels of the columns
    to encode among the rows kept. The differences from the in-memory rules: the levels of a
    ``category`` column are put in sorted order (the declared order is not known without reading
    every partition's metadata); a text column with more than :data:`MAX_LEVELS` distinct values
    is refused; the missing-value error gives counts per column, not file lines. Raises
    ``ValueError`` / ``TypeError`` with the in-memory messages otherwise.
    """
    dask = require_dask()
    opt = _CLI_NAMES
    columns = [str(c) for c in df.columns]
    if target not in columns:
        raise ValueError(f"--target column {target!r} is not in the table; columns are {columns}")
    feats = list(features) if features else [c for c in columns if c != target]
    absent = [f for f in feats if f not in columns]
    if absent:
        raise ValueError(f"--features column(s) {absent} not in the table; columns are {columns}")
    if target in feats:
        raise ValueError(f"--target column {target!r} is also listed in --features")
    if not feats:
        raise ValueError(f"the table has no feature columns besides the target {target!r}")
    forced = list(categorical or [])
    stray = [c for c in forced if c not in feats]
    if stray:
        raise ValueError(f"{opt['categorical']} must name feature columns; got {_names(stray)}, which are "
                         f"not among the features {_names(feats)}.")
    used = df[[*feats, target]]
    meta = used._meta
    kinds = {c: "categorical" if c in forced else _dtype_kind(meta[c].dtype) for c in feats}
    other = {c: str(meta[c].dtype) for c, k in kinds.items() if k == "other"}
    if other:
        raise TypeError(
            f"column(s) {_names(other)} have dtype(s) {list(other.values())}, which bayeswd cannot use as "
            f"features; convert them to numbers, leave them out of {opt['features']}, or name them in "
            f"{opt['categorical']} to encode each value as a level.")
    t = meta[target]
    if not (pd.api.types.is_bool_dtype(t.dtype) or pd.api.types.is_numeric_dtype(t.dtype)) or (
            pd.api.types.is_complex_dtype(t.dtype)):
        raise ValueError(f"{opt['target']} column {target!r} must be numeric (booleans count as 0/1); "
                         f"got dtype {t.dtype}.")
    encode = [c for c in feats if kinds[c] != "numeric"]
    kept = used.dropna() if missing == "drop" else used
    parts_missing = [dask.delayed(_missing_of, pure=True)(p) for p in used.to_delayed()]
    parts_levels = [dask.delayed(_levels_of, pure=True)(p, encode) for p in kept.to_delayed()]
    counts, levels = dask.compute(reduce_tree(parts_missing, _merge_missing),
                                  reduce_tree(parts_levels, _merge_levels) if encode else {})
    n_rows, n_bad, per_col = counts
    per_column = {c: int(k) for c, k in per_col.items() if k}
    if n_bad and missing == "error":
        raise ValueError(
            f"{n_bad} row(s) have missing values in column(s) {_counts(per_column)}; pass {opt['drop']} to "
            "drop those rows, or impute the values first.")
    dropped = DroppedRows(int(n_bad), per_column, pd.Index([]))
    n_kept = n_rows - n_bad
    if n_kept == 0:
        raise ValueError(f"no rows are left after dropping the {n_bad} row(s) with missing values "
                         f"(in {_counts(per_column)}).")
    encodings = _encodings(feats, kinds, forced, levels, n_kept, dropped, opt)
    by_col = {e.column: e for e in encodings}
    out_names = [n for c in feats for n in (by_col[c].columns if c in by_col else (str(c),))]
    clash = sorted({n for n in out_names if out_names.count(n) > 1})
    if clash:
        raise ValueError(f"the encoded columns {clash} would appear twice (a one-hot column has the name of "
                         "another column); rename that column.")
    encoding = TableEncoding(tuple(feats), tuple(encodings), tuple(out_names))
    bad = [c for c in feats if kinds[c] == "text" and c not in by_col]
    if bad:  # a text column whose values are all numbers: in memory a numeric feature, here refused
        raise ValueError(f"column(s) {_names(bad)} hold numbers stored as objects; convert them to a numeric "
                         f"dtype, or name them in {opt['categorical']} to encode each value as a level.")
    meta = pd.DataFrame({c: pd.Series(dtype=np.float64) for c in [*out_names, TARGET]})
    both = kept.map_partitions(_encode_partition, encoding, target, meta=meta)  # X and y: one frame
    return DaskTable(both.drop(columns=[TARGET]), both[TARGET], encoding, dropped)


def _encode_partition(part: pd.DataFrame, encoding: TableEncoding, target: Any) -> pd.DataFrame:
    """One partition encoded, with the target as the column ``TARGET`` (float64)."""
    out = encoding.transform(part)
    out[TARGET] = part[target].to_numpy(dtype=np.float64)
    return out


def _encodings(
    feats: list[Any], kinds: dict[Any, str], forced: list[Any], levels: dict[Any, set[Any]], n_kept: int,
    dropped: DroppedRows, opt: dict[str, str],
) -> list[CategoricalEncoding]:
    """The encoding of each column to one-hot encode, with the in-memory refusals."""
    after = f" (after dropping {dropped.count} row(s) with missing values)" if dropped.count else ""
    out = []
    for col in feats:
        if kinds[col] == "numeric":
            continue
        values = levels[col]
        if col not in forced:
            kind = _kind(pd.Series(sorted(values, key=str), dtype=object), col)
            if kind == "mixed":
                raise ValueError(
                    f"column(s) {_names([col])} hold non-numeric values among numbers; fix those values, or "
                    f"name the column(s) in {opt['categorical']} to encode every value as a level.")
            if kind == "numeric text":
                raise ValueError(
                    f"column(s) {_names([col])} hold numbers written as text; convert them to numbers, or "
                    f"name the column(s) in {opt['categorical']} to encode each value as a level.")
            if kind == "numeric":  # numbers stored as objects: refused by the caller
                continue
        if len(values) > MAX_LEVELS:
            raise ValueError(
                f"column {col!r} has more than {MAX_LEVELS} distinct values: it looks like an identifier, "
                f"not a category; leave it out of {opt['features']}.")
        try:
            ordered = sorted(values)
        except TypeError:  # levels of several types (only when named in --categorical)
            ordered = sorted(values, key=lambda v: (type(v).__name__, str(v)))
        if len(ordered) < 2:
            shown = _label(ordered[0]) if ordered else "none"
            raise ValueError(
                f"categorical column {col!r} has the single level {shown!r}{after}: it carries no "
                f"information; leave it out of {opt['features']}.")
        if col not in forced and kinds[col] == "text" and len(ordered) == n_kept >= 3:
            raise ValueError(
                f"text column {col!r} has a different value in every row ({len(ordered)} levels in {n_kept} "
                f"rows): it looks like an identifier, not a category; leave it out of {opt['features']}, or "
                f"name it in {opt['categorical']} to encode it anyway.")
        names = tuple(f"{col}[{_label(v)}]" for v in ordered[1:])
        if len(set(names)) < len(names):
            raise ValueError(f"categorical column {col!r} has levels that print the same ({ordered}); "
                             "recode them to distinct values.")
        out.append(CategoricalEncoding(col, tuple(ordered), ordered[0], names))
    return out


# --- the analysis --------------------------------------------------------------------------------


def _train_scaling(train: Moments, standardize: bool) -> tuple[np.ndarray, np.ndarray]:
    """Column means and sds (ddof 0, zeros replaced by 1) of the training rows, or (0, 1)."""
    d = train.d
    if not standardize:
        return np.zeros(d), np.ones(d)
    sd = np.sqrt(np.maximum(np.diagonal(train.xx), 0.0) / train.n)
    return train.x_mean.copy(), np.where(sd > 0, sd, 1.0)


def run_fit_dask(args: Any, found: list[Any]) -> Path:
    """The out-of-core analysis of ``args.csv`` (a Parquet file or folder, or a glob); the report path."""
    from bayeswd.cli import CLIError, _n_features, _table_notes, settings_from_args

    try:
        df, source, _ = read_table(args.csv)
        prep = prepare_dask_table(df, args.target, args.features, args.categorical, args.missing)
        start = time.perf_counter()
        train, test, names = split_moments(prep.X, prep.y, args.test_fraction, args.seed)
        pass_seconds = time.perf_counter() - start
    except ImportError as err:
        raise CLIError(str(err)) from None
    except (ValueError, TypeError) as err:
        raise CLIError(f"{args.csv}: {err}") from None
    for mom, which in ((train, "training"), (test, "test")):
        if mom.nonfinite_x or mom.nonfinite_y:
            bad = mom.nonfinite_x + mom.nonfinite_y
            raise CLIError(f"{args.csv}: the {which} rows hold {bad} NaN or inf values after encoding")
    if train.n < 8 or test.n < 2:
        raise CLIError(f"{args.csv} has {train.n} training and {test.n} test rows; at least 8 and 2 are "
                       "needed")
    mean, sd = _train_scaling(train, not args.no_standardize)
    train, test = standardized(train, mean, sd), standardized(test, mean, sd)
    notes = (
        f"Data: <code>{html.escape(args.csv)}</code> ({html.escape(source)}), read out of core with Dask; "
        f"target <code>{html.escape(args.target)}</code>, {_n_features(prep)}, {train.n} training and "
        f"{test.n} test rows (a seeded split in each partition, seed {args.seed}); one pass over the data "
        f"took {pass_seconds:.2f} s.{_table_notes(prep)} "
        + ("Features are standardised with the training rows' mean and sd (from the moments)."
           if not args.no_standardize else "Features are used as given.")
    )
    priors = ("gaussian", "laplace") if args.prior == "both" else (args.prior,)
    return _analysis(args, found, train, test, names, settings_from_args(args, priors), notes)


def _analysis(
    args: Any, found: list[Any], train: Moments, test: Moments, names: list[str], settings: Any, notes: str
) -> Path:
    """The sections of the out-of-core report, each from the moments of the split."""
    import bayeswd as bw
    from bayeswd._arviz import to_netcdf
    from bayeswd.conventions import conventions_table
    from bayeswd.plots import plot_forest, plot_path, plot_sweep
    from bayeswd.report.captured import capture_warnings
    from bayeswd.report.outputs import Outputs, check_output_folder
    from bayeswd.report.page import Report, fig_of, figure, table

    out = Path(args.out)
    check_output_folder(out, args.force)
    files, report = Outputs(out, args.force), Report(f"bayeswd: {Path(args.csv).name} (out of core)", "",
                                                     warnings=found)
    X, y = RowsElsewhere(train, names, "X"), RowsElsewhere(train, names, "y")
    Xt, yt = RowsElsewhere(test, names, "X"), RowsElsewhere(test, names, "y")
    timings: dict[str, float] = {}
    sigma, tau = args.sigma, args.tau
    source = "given on the command line"
    with capture_warnings(found, "sigma and tau (empirical Bayes)", "Choosing lambda", step="evidence"):
        t0 = time.perf_counter()
        evid = bw.maximize_evidence(X, y, intercept="integrate")
        if (sigma is None) != (tau is None):  # the missing one with the given one held, as cli.run_fit
            sigma, tau = bw.maximize_evidence_given(X, y, sigma=sigma, tau=tau)
        timings["evidence"] = time.perf_counter() - t0
    if sigma is None or tau is None:
        sigma, tau = evid.sigma, evid.tau
        source = "chosen by maximising the evidence (empirical Bayes) where not given"
    elif args.sigma is None or args.tau is None:
        source = "chosen by maximising the evidence (empirical Bayes) where not given"
    taus = {"gaussian": tau, "laplace": tau / math.sqrt(2.0)}
    report.notes = f"{notes} sigma = {sigma:.4g} and tau = {tau:.4g}, {source}."

    with capture_warnings(found, "MAP fits", "MAP estimates", step="MAP fits"):
        t0 = time.perf_counter()
        maps = {f"{p} MAP": bw.map_fit(X, y, prior=p, sigma=sigma, tau=taus[p])
                for p in ("gaussian", "laplace")}
        timings["MAP fits"] = time.perf_counter() - t0
    conv = pd.DataFrame({f"{p} prior": pd.Series(conventions_table(sigma, taus[p], train.n, p))
                         for p in ("gaussian", "laplace")})
    report.add("What this prior means in every convention", table(conv, "{:.6g}"))
    rows = [{"fit": k, "method": f.method, "lam": f.lam, "objective U": f.objective, "iterations": f.n_iter,
             "converged": f.converged, "exact zeros": int((f.coef == 0).sum()),
             "test MSE": float(test.mse(f.coef.numpy(), f.intercept))} for k, f in maps.items()]
    report.add("MAP estimates", table(pd.DataFrame(rows).set_index("fit")))

    with capture_warnings(found, "lambda sweeps", "Train and test error as lambda grows", step="sweeps"):
        t0 = time.perf_counter()
        sweeps = {p: bw.lam_sweep(X, y, prior=p, n_lams=settings.n_lams, X_test=Xt, y_test=yt)
                  for p in ("gaussian", "laplace")}
        timings["lambda sweeps"] = time.perf_counter() - t0
    figs = [figure(files, f"sweep_{p}", fig_of(plot_sweep(s)), f"Train and test error against lambda ({p})")
            for p, s in sweeps.items()]
    figs += [figure(files, f"path_{p}", fig_of(plot_path(s)), f"Regularisation path ({p} prior)")
             for p, s in sweeps.items()]
    report.add("Train and test error as lambda grows", "\n".join(figs))
    ev_table = pd.DataFrame({"value": [evid.lam, evid.sigma, evid.tau, evid.log_evidence]},
                            index=["lambda", "sigma", "tau", "log evidence"])
    report.add("Choosing lambda", "<p class='note'>The evidence maximum (empirical Bayes), from the "
               "eigenvalues of the centred Gram matrix.</p>" + table(ev_table, "{:.5g}"))

    posteriors = _posteriors(args, found, settings, X, y, sigma, taus, train, timings)
    idatas = {}
    with warnings.catch_warnings():  # the report says why the per-row groups are absent
        warnings.filterwarnings("ignore", message="to_inference_data: the rows of X stay")
        idatas = {k: p.to_inference_data() for k, p in posteriors.items()}
    if idatas:
        with capture_warnings(found, "posterior comparison", "Posteriors", step="plots"):
            fig = figure(files, "forest", fig_of(plot_forest(idatas, maps=maps)),
                         "Forest plot of the weights, with the MAP estimates")
        summaries = pd.concat([p.summary().assign(posterior=k) for k, p in posteriors.items()])
        report.add("Posteriors", fig + table(summaries))
        files.add_bytes("summary.csv", summaries.to_csv().encode("utf-8"))
        for k, idata in idatas.items():
            files.add_writer("posterior_" + k.replace(" ", "_").lower() + ".nc",
                             lambda path, idata=idata: to_netcdf(idata, path))
    items = "".join(f"<li><b>{html.escape(a)}</b>: {html.escape(b)}.</li>" for a, b in NOT_AVAILABLE)
    report.add("Not available out of core", f"<p class='note'>The rows stay on disk (or the cluster); these "
               f"steps of the in-memory report need them:</p><ul>{items}</ul>")
    report.add("Time spent", table(pd.DataFrame({"seconds": list(timings.values())}, index=list(timings)),
                                   "{:.2f}"))
    files.add_bytes("report.html", report.render().encode("utf-8"))
    return files.commit(last="report.html")


def _posteriors(
    args: Any, found: list[Any], settings: Any, X: Any, y: Any, sigma: float, taus: dict[str, float],
    train: Moments, timings: dict[str, float],
) -> dict[str, Any]:
    """The posteriors of the report, each on the statistics.

    Gaussian prior: the exact posterior, and bayeswd's NUTS with ``--method nuts`` or ``both``.
    Laplace prior: the Gibbs sampler (:class:`bayeswd.infer.Gibbs`), exact and fast on the
    statistics; NUTS on the laplace scale mixture slows down as ``n`` grows (its geometry narrows).
    """
    import bayeswd as bw
    from bayeswd.infer import NUTS
    from bayeswd.report.captured import capture_warnings

    common = {"sigma": sigma, "num_samples": settings.num_samples, "num_chains": settings.num_chains,
              "seed": args.seed, "device": args.device, "progress_bar": False}
    warmup = getattr(settings.nuts, "num_warmup", 1000)
    runs = []
    if "gaussian" in settings.priors:
        runs.append(("gaussian exact", "gaussian", "exact"))
        if "nuts" in settings.methods and isinstance(settings.nuts, NUTS) and train.n > train.d + 1:
            runs.append(("gaussian NUTS", "gaussian", settings.nuts))
    if "laplace" in settings.priors and train.n > train.d:
        runs.append(("laplace Gibbs", "laplace", bw.Gibbs(num_warmup=warmup)))
    out = {}
    for name, prior, method in runs:
        with capture_warnings(found, name, "Posteriors", step=name):
            t0 = time.perf_counter()
            out[name] = bw.sample_posterior(X, y, prior=prior, tau=taus[prior], method=method, **common)
            timings[name] = time.perf_counter() - t0
    return out
