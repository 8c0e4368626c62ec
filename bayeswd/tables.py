"""Real tables in: text and category columns one-hot encoded, rows with missing values dropped or refused.

:func:`prepare_table` turns a pandas DataFrame into the float64 design matrix and target that
:func:`~bayeswd.map_fit` and :func:`~bayeswd.sample_posterior` take, and records what it did
(:class:`TableEncoding`, :class:`DroppedRows`) so that new rows can be encoded the same way
(:meth:`TableEncoding.transform`). The ``bayeswd fit`` command runs the same function.

The rules, in one place:

- A numeric column (integer, float, pandas' nullable ``Int64`` / ``Float64``) is kept as float64.
- A text column (``object`` or ``string`` dtype holding strings), a pandas ``category`` column and a
  boolean column (``bool`` or nullable ``boolean``), and every column named in ``categorical``
  (integer codes, say), is one-hot encoded with treatment coding: one 0/1 column ``col[level]``
  per level except the reference level, which is dropped, as patsy and formulaic do; the model's
  intercept (unpenalised) carries the reference level. The reference is the first level in
  sorted order (``False`` for booleans); for a ``category`` column it is the first of its
  categories, in their declared order, that occurs in the rows kept.
- Missing values (NaN, None, ``pd.NA``, NaT) in the features or the target are refused with
  ``missing="error"`` (the default; the message says how many rows, in which columns) or their
  rows dropped with ``missing="drop"``.
- A text column that mixes numbers and text (``1, 2, x``), or holds numbers written as text, is
  refused: it is a typo or a parsing problem more often than a category. Naming it in
  ``categorical`` encodes every value as a level. So is a text column with a different value in
  every row (an identifier such as a name), and a categorical column with a single level.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from bayeswd._validation import check_choice, describe

__all__ = ["CategoricalEncoding", "DroppedRows", "PreparedTable", "TableEncoding", "prepare_table"]


@dataclasses.dataclass(frozen=True)
class CategoricalEncoding:
    """How one categorical column is one-hot encoded (treatment coding).

    Attributes
    ----------
    column : str
        The column of the input table.
    levels : tuple
        Its levels, in order; the first is the reference.
    reference : object
        The reference level: it gets no column of its own (the intercept carries it).
    columns : tuple of str
        The names of the new 0/1 columns, one per level after the reference: ``column[level]``.
    """

    column: Hashable
    levels: tuple[Any, ...]
    reference: Any
    columns: tuple[str, ...]

    def describe(self) -> str:
        """One line in words, e.g. ``sex: reference 'F'; new column(s) sex[M]``."""
        return f"{self.column}: reference {_label(self.reference)!r}; new column(s) {', '.join(self.columns)}"


@dataclasses.dataclass(frozen=True)
class TableEncoding:
    """The encoding :func:`prepare_table` chose, to apply again to new rows with :meth:`transform`.

    Attributes
    ----------
    features : tuple
        The input feature columns, in order.
    categorical : tuple of CategoricalEncoding
        One record per one-hot encoded column, in the order of ``features``.
    columns : tuple of str
        The columns of the encoded design matrix: each numeric feature under its own name, each
        categorical one replaced, where it stood, by its 0/1 columns.
    """

    features: tuple[Hashable, ...]
    categorical: tuple[CategoricalEncoding, ...]
    columns: tuple[str, ...]

    def transform(self, data: pd.DataFrame) -> pd.DataFrame:
        """Encode new rows as the rows :func:`prepare_table` saw were encoded.

        Parameters
        ----------
        data : pandas.DataFrame
            Holds at least the columns of ``features`` (others, such as the target, are ignored).

        Returns
        -------
        pandas.DataFrame
            float64 columns ``columns``, with the index of ``data``.

        Raises
        ------
        ValueError
            A feature column is absent, holds a missing value, a non-numeric value where numbers
            were, or a level of a categorical column that was not seen (naming the column and
            the level).
        """
        if not isinstance(data, pd.DataFrame):
            raise TypeError(f"`data` must be a pandas DataFrame; got {describe(data)}.")
        absent = [c for c in self.features if c not in data.columns]
        if absent:
            raise ValueError(f"`data` must hold the feature columns {list(self.features)}; "
                             f"got none for {absent}.")
        bad = {c: int(n) for c, n in data[list(self.features)].isna().sum().items() if n}
        if bad:
            raise ValueError(f"`data` must have no missing values in the feature columns; got "
                             f"{_counts(bad)}. Drop those rows first, e.g. data.dropna(subset=features).")
        encodings = {e.column: e for e in self.categorical}
        parts: dict[str, Any] = {}
        for col in self.features:
            s = data[col]
            if col in encodings:
                parts.update(_one_hot(s, encodings[col], check=True))
            else:
                if _kind(s, col) != "numeric":
                    raise ValueError(f"`data` column {col!r} must be numeric, as in the table the encoding "
                                     f"was made from; got dtype {s.dtype} (e.g. {_first(s)!r}).")
                parts[str(col)] = s.to_numpy(dtype=np.float64)
        return pd.DataFrame(parts, index=data.index, columns=list(self.columns))

    def describe(self) -> str:
        """The encoding in words, one line per categorical column (empty when there is none)."""
        return "\n".join(e.describe() for e in self.categorical)


@dataclasses.dataclass(frozen=True)
class DroppedRows:
    """The rows :func:`prepare_table` dropped for missing values (``missing="drop"``).

    Attributes
    ----------
    count : int
        How many rows were dropped (0 when none).
    columns : Mapping[str, int]
        For each column with missing values, in how many rows.
    index : pandas.Index
        The index labels of the dropped rows in the input table.
    """

    count: int
    columns: Mapping[Hashable, int]
    index: pd.Index

    def describe(self) -> str:
        """In words, e.g. ``2 row(s) dropped for missing values (in 'bmi': 1, 'y': 1)``."""
        if not self.count:
            return "no rows dropped"
        return f"{self.count} row(s) dropped for missing values (in {_counts(self.columns)})"


@dataclasses.dataclass(frozen=True)
class PreparedTable:
    """The result of :func:`prepare_table`.

    Attributes
    ----------
    X : pandas.DataFrame
        The design matrix, float64, columns ``encoding.columns``, index of the kept rows.
    y : pandas.Series
        The target, float64, same index.
    encoding : TableEncoding
        How each column was encoded; ``encoding.transform(new_rows)`` encodes new rows the same way.
    dropped_rows : DroppedRows
        The rows dropped for missing values.
    """

    X: pd.DataFrame
    y: pd.Series
    encoding: TableEncoding
    dropped_rows: DroppedRows


def prepare_table(
    data: pd.DataFrame,
    target: Hashable,
    *,
    features: Iterable[Hashable] | None = None,
    categorical: Iterable[Hashable] | None = None,
    missing: str = "error",
) -> PreparedTable:
    """Turn a table with text columns and missing values into the numbers a fit takes.

    Numeric columns are kept (as float64). Text, ``category`` and boolean columns, and the
    columns named in ``categorical``, are one-hot encoded with treatment coding: a 0/1 column
    ``col[level]`` for each level but the reference (the first in sorted order; the first
    category present for a ``category`` column), which the fit's unpenalised intercept carries.

    Parameters
    ----------
    data : pandas.DataFrame
        The table, one row per observation.
    target : column label
        The column to predict; it must be numeric (booleans count as 0/1).
    features : list of column labels, optional
        The feature columns (default: every column but ``target``).
    categorical : list of column labels, optional
        Feature columns to one-hot encode even though they are numeric, e.g. integer codes of a
        region. Text, ``category`` and boolean columns are encoded without being named.
    missing : {"error", "drop"}
        What to do with rows that have a missing value (NaN, None, ``pd.NA``) in a feature or the
        target: ``"error"`` (default) raises a ``ValueError`` saying how many rows, in which
        columns; ``"drop"`` drops them (``dropped_rows`` says how many).

    Returns
    -------
    PreparedTable
        ``X`` (float64 DataFrame), ``y`` (float64 Series), ``encoding`` (:class:`TableEncoding`,
        with ``transform`` for new rows) and ``dropped_rows`` (:class:`DroppedRows`).

    Raises
    ------
    TypeError
        ``data`` is not a DataFrame; a column has a type that cannot be a feature (dates,
        complex numbers) and is not named in ``categorical``.
    ValueError
        A named column is absent; missing values with ``missing="error"``; a non-numeric
        target; a text column mixing numbers and text, or with a different value in every row;
        a categorical column with a single level in the rows kept; no rows left.

    Examples
    --------
    >>> import pandas as pd
    >>> import bayeswd as bw
    >>> df = pd.DataFrame({"age": [31, 45, 22, 60, 38, 51], "sex": ["F", "M", "M", "F", None, "M"],
    ...                    "y": [1.2, 2.0, 0.7, 2.9, 1.5, 2.4]})
    >>> prep = bw.prepare_table(df, "y", missing="drop")
    >>> list(prep.X.columns), prep.dropped_rows.count
    (['age', 'sex[M]'], 1)
    >>> prep.encoding.categorical[0].reference
    'F'
    >>> fit = bw.map_fit(prep.X, prep.y, prior="gaussian", sigma=0.5, tau=1.0)
    >>> fit.feature_names
    ('age', 'sex[M]')
    >>> new = prep.encoding.transform(pd.DataFrame({"age": [40], "sex": ["M"]}))
    >>> fit.predict(new).shape
    torch.Size([1])
    """
    return _prepare(data, target, features, categorical, missing, cli=False)


# --- the work -------------------------------------------------------------------------------------


def _prepare(data: Any, target: Any, features: Any, categorical: Any, missing: str, *,
             cli: bool, row_offset: int = 0) -> PreparedTable:
    """:func:`prepare_table`, with messages worded for the command line when ``cli``.

    ``row_offset`` (command line) turns row positions into file lines in the missing-value error.
    """
    opt = _CLI_NAMES if cli else _API_NAMES
    used, feats, forced = _select(data, target, features, categorical, missing, opt)
    kinds = _check_kinds(used, feats, forced, target, opt)
    kept, dropped = _drop_missing(used, missing, opt, cli, row_offset)
    return _encode(kept, feats, kinds, forced, dropped, target, opt)


def _select(
    data: Any, target: Any, features: Any, categorical: Any, missing: str, opt: dict[str, str]
) -> tuple[pd.DataFrame, list[Any], list[Any]]:
    """The used columns (features, then the target), the feature list and the forced categoricals."""
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"`data` must be a pandas DataFrame; got {describe(data)}.")
    check_choice(missing, "missing", ("error", "drop"))
    columns = list(data.columns)
    dup = sorted({str(c) for c in data.columns[data.columns.duplicated()]})
    if dup:
        raise ValueError(f"`data` must have distinct column names; got {dup} more than once.")
    if not isinstance(target, Hashable) or target not in columns:
        raise ValueError(f"{opt['target']} must be a column of the table; got {target!r}; "
                         f"columns are {_names(columns)}.")
    feats = _column_list(features, opt["features"], columns)
    if feats is None:
        feats = [c for c in columns if c != target]
    if target in feats:
        raise ValueError(f"{opt['target']} column {target!r} is also listed in {opt['features']}.")
    if not feats:
        raise ValueError(f"the table has no feature columns besides the target {target!r}.")
    forced = _column_list(categorical, opt["categorical"], columns) or []
    feat_set = set(feats)
    stray = [c for c in forced if c not in feat_set]
    if stray:
        verb = "is" if len(stray) == 1 else "are"
        raise ValueError(f"{opt['categorical']} must name feature columns; got {_names(stray)}, "
                         f"which {verb} not among the features {_names(feats)}.")
    used = data[[*feats, target]]

    return used, feats, forced


def _check_kinds(
    used: pd.DataFrame, feats: list[Any], forced: list[Any], target: Any, opt: dict[str, str]
) -> dict[Any, str]:
    """What each feature column is; errors for columns bayeswd cannot use, and a non-numeric target."""
    # before dropping rows, so that the errors speak of the whole table
    kinds = {c: ("categorical" if c in forced else _kind(used[c], c)) for c in feats}
    mixed = {c: v for c, k in kinds.items() if k == "mixed" for v in [_first_text(used[c])]}
    if mixed:
        raise ValueError(
            f"column(s) {_names(mixed)} hold non-numeric values (e.g. {_examples(mixed)}) among numbers; "
            f"fix those values, or name the column(s) in {opt['categorical']} to encode every value as a "
            "level.")
    texty = {c: _first(used[c]) for c, k in kinds.items() if k == "numeric text"}
    if texty:
        raise ValueError(
            f"column(s) {_names(texty)} hold numbers written as text (e.g. {_examples(texty)}); convert them "
            f"to numbers (pd.to_numeric), or name the column(s) in {opt['categorical']} to encode each value "
            "as a level.")
    other = {c: str(used[c].dtype) for c, k in kinds.items() if k == "other"}
    if other:
        raise TypeError(
            f"column(s) {_names(other)} have dtype(s) {list(other.values())}, which bayeswd cannot use as "
            f"features; convert them to numbers, leave them out of {opt['features']}, or name them in "
            f"{opt['categorical']} to encode each value as a level.")
    t = used[target]
    if not (pd.api.types.is_bool_dtype(t.dtype) or _kind(t, target) == "numeric"):
        raise ValueError(f"{opt['target']} column {target!r} must be numeric (booleans count as 0/1); "
                         f"got dtype {t.dtype} (e.g. {_first(t)!r}).")

    return kinds


def _drop_missing(
    used: pd.DataFrame, missing: str, opt: dict[str, str], cli: bool, row_offset: int
) -> tuple[pd.DataFrame, DroppedRows]:
    """The rows kept and the record of those dropped, or the missing-value error."""
    na = used.isna()
    rows = na.any(axis=1).to_numpy()
    per_column = {c: int(n) for c, n in na.sum().items() if n}
    if rows.any() and missing == "error":
        where = np.flatnonzero(rows)
        if cli:
            shown = ", ".join(str(i + row_offset) for i in where[:5])
            place = f"file lines {shown}{', ...' if where.size > 5 else ''}"
        else:
            shown = ", ".join(repr(_py(v)) for v in used.index[where[:5]])
            place = f"index {shown}{', ...' if where.size > 5 else ''}"
        raise ValueError(
            f"{where.size} row(s) have missing values ({place}) in column(s) {_counts(per_column)}; "
            f"pass {opt['drop']} to drop those rows, or impute the values first.")
    dropped = DroppedRows(int(rows.sum()), MappingProxyType(per_column), used.index[rows])
    kept = used.loc[~rows] if rows.any() else used
    if kept.shape[0] == 0:
        raise ValueError(f"no rows are left after dropping the {dropped.count} row(s) with missing values "
                         f"(in {_counts(per_column)}).")

    return kept, dropped


def _encode(
    kept: pd.DataFrame, feats: list[Any], kinds: dict[Any, str], forced: list[Any], dropped: DroppedRows,
    target: Any, opt: dict[str, str],
) -> PreparedTable:
    """Numeric columns as they are, the others one-hot with treatment coding."""
    encodings: list[CategoricalEncoding] = []
    out_names: list[str] = []
    parts: dict[str, Any] = {}
    after = f" (after dropping {dropped.count} row(s) with missing values)" if dropped.count else ""
    for col in feats:
        s = kept[col]
        if kinds[col] == "numeric":
            out_names.append(str(col))
            parts[str(col)] = s.to_numpy(dtype=np.float64)
            continue
        levels = _levels(s)
        if len(levels) < 2:
            raise ValueError(
                f"categorical column {col!r} has the single level {_label(levels[0])!r}{after}: it carries "
                f"no information; leave it out of {opt['features']}.")
        if col not in forced and kinds[col] == "text" and len(levels) == len(s) >= 3:
            raise ValueError(
                f"text column {col!r} has a different value in every row ({len(levels)} levels in {len(s)} "
                f"rows, e.g. {_label(levels[0])!r}): it looks like an identifier, not a category; leave it "
                f"out of {opt['features']}, or name it in {opt['categorical']} to encode it anyway.")
        names = tuple(f"{col}[{_label(v)}]" for v in levels[1:])
        if len(set(names)) < len(names):
            raise ValueError(f"categorical column {col!r} has levels that print the same ({list(levels)}); "
                             "recode them to distinct values.")
        enc = CategoricalEncoding(col, tuple(levels), levels[0], names)
        encodings.append(enc)
        out_names.extend(names)
        parts.update(_one_hot(s, enc, check=False))
    clash = sorted(n for n, k in Counter(out_names).items() if k > 1)
    if clash:
        raise ValueError(f"the encoded columns {clash} would appear twice (a one-hot column has the name of "
                         "another column); rename that column.")
    X = pd.DataFrame(parts, index=kept.index, columns=out_names)
    y = pd.Series(kept[target].to_numpy(dtype=np.float64), index=kept.index, name=target)
    encoding = TableEncoding(tuple(feats), tuple(encodings), tuple(out_names))
    return PreparedTable(X, y, encoding, dropped)


_API_NAMES = {"target": "`target`", "features": "`features`", "categorical": "`categorical`",
              "missing": "`missing`", "drop": 'missing="drop"'}
_CLI_NAMES = {"target": "--target", "features": "--features", "categorical": "--categorical",
              "missing": "--missing", "drop": "--missing drop"}


def _kind(s: pd.Series, col: Any) -> str:
    """What a column is when not named in ``categorical``.

    One of "numeric", "categorical" (bool and category dtypes), "text" (strings only, to
    encode), "mixed" (numbers and text), "numeric text" (numbers written as strings) and "other"
    (dates, complex numbers, ...).
    """
    dtype = s.dtype
    if pd.api.types.is_bool_dtype(dtype) or isinstance(dtype, pd.CategoricalDtype):
        return "categorical"
    if pd.api.types.is_complex_dtype(dtype):
        return "other"
    if pd.api.types.is_numeric_dtype(dtype):
        return "numeric"
    if not (pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)):
        return "other"
    values = s.dropna()
    if len(values) == 0:
        return "numeric"  # all missing: the missing-value rule speaks
    n_number = n_bool = n_numeric_text = n_text = 0
    for v in values:
        if isinstance(v, (bool, np.bool_)):
            n_bool += 1
        elif isinstance(v, numbers.Real):
            n_number += 1
        elif isinstance(v, str):
            if _parses(v):
                n_numeric_text += 1
            else:
                n_text += 1
        else:
            return "other"
    total = len(values)
    if n_number == total:
        return "numeric"
    if n_text + n_bool == total:
        return "text" if n_text else "categorical"
    if n_numeric_text == total:
        return "numeric text"
    return "mixed"


def _parses(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _levels(s: pd.Series) -> list[Any]:
    """The levels of ``s`` (no missing values) in order; the first is the reference."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        present = set(s.cat.remove_unused_categories().cat.categories)
        return [_py(c) for c in s.cat.categories if c in present]
    values = {_py(v) for v in pd.unique(s.to_numpy(dtype=object))}
    try:
        return sorted(values)
    except TypeError:  # levels of several types (only when named in `categorical`)
        return sorted(values, key=lambda v: (type(v).__name__, str(v)))


def _one_hot(s: pd.Series, enc: CategoricalEncoding, *, check: bool) -> dict[str, np.ndarray]:
    """The 0/1 columns of ``s`` under ``enc``; with ``check``, an unseen level is an error."""
    values = s.to_numpy(dtype=object)
    if check:
        known = pd.Series(values).isin(list(enc.levels)).to_numpy()
        if not known.all():
            unseen = _py(values[~known][0])
            raise ValueError(
                f"`data` column {enc.column!r} holds the level {unseen!r}, which the table the encoding was "
                f"made from did not have; known levels are {list(enc.levels)} (reference {enc.reference!r}).")
    pairs = zip(enc.columns, enc.levels[1:], strict=True)
    return {name: (values == level).astype(np.float64) for name, level in pairs}


def _py(value: Any) -> Any:
    """A numpy scalar as the Python scalar it holds (other values unchanged)."""
    return value.item() if isinstance(value, np.generic) else value


def _label(level: Any) -> str:
    """How a level is written in a column name: ``2`` for the float 2.0 of an integer code."""
    if isinstance(level, float) and math.isfinite(level) and level.is_integer():
        return str(int(level))
    return str(level)


def _column_list(value: Any, name: str, columns: list[Any]) -> list[Any] | None:
    """``value`` as a list of columns of the table (a lone name is a list of one), or None."""
    if value is None:
        return None
    items = [value] if isinstance(value, (str, bytes)) or not isinstance(value, Iterable) else list(value)
    known = set(columns)
    absent = [c for c in items if not isinstance(c, Hashable) or c not in known]
    if absent:
        raise ValueError(f"{name} must name columns of the table; got {_names(absent)}, which "
                         f"{'is' if len(absent) == 1 else 'are'} not among the columns {_names(columns)}.")
    if len(set(items)) < len(items):
        raise ValueError(f"{name} must name each column once; got {_names(items)}.")
    return items


def _names(columns: Iterable[Any]) -> list[Any]:
    return [str(c) if not isinstance(c, (int, float)) else c for c in columns]


def _counts(per_column: Mapping[Any, int]) -> str:
    return ", ".join(f"{str(c)!r} ({n})" for c, n in per_column.items())


def _examples(values: Mapping[Any, Any]) -> str:
    return "{" + ", ".join(f"{str(c)!r}: {v!r}" for c, v in values.items()) + "}"


def _first(s: pd.Series) -> Any:
    values = s.dropna()
    return _py(values.iloc[0]) if len(values) else None


def _first_text(s: pd.Series) -> Any:
    """The first value of ``s`` that is not a number (nor a number written as text)."""
    for v in s.dropna():
        if not (isinstance(v, numbers.Real) or (isinstance(v, str) and _parses(v))):
            return _py(v)
    return _first(s)
