"""prepare_table: text, category, bool and nullable columns one-hot encoded (treatment coding), missing
values refused or dropped, the encoding applied again to new rows; and the command line on such a CSV."""

import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import assert_not_blank

import bayeswd as bw


def _table():
    return pd.DataFrame({
        "age": [31, 45, 22, 60, 38, 51, 29, 47],
        "sex": ["M", "F", "M", "F", "F", "M", "F", "M"],
        "city": ["Oslo", "Bergen", "Oslo", "Tromso", "Bergen", "Oslo", "Tromso", "Bergen"],
        "y": [1.2, 2.0, 0.7, 2.9, 1.5, 2.4, 1.1, 2.2],
    })


def test_text_columns_are_one_hot_encoded_with_the_first_sorted_level_as_reference():
    df = _table()
    prep = bw.prepare_table(df, "y")
    assert list(prep.X.columns) == ["age", "sex[M]", "city[Oslo]", "city[Tromso]"]
    assert (prep.X.dtypes == np.float64).all() and prep.y.dtype == np.float64
    np.testing.assert_array_equal(prep.X["sex[M]"], (df["sex"] == "M").astype(float))
    np.testing.assert_array_equal(prep.X["city[Tromso]"], (df["city"] == "Tromso").astype(float))
    np.testing.assert_array_equal(prep.X["age"], df["age"].astype(float))
    np.testing.assert_array_equal(prep.y, df["y"])
    sex, city = prep.encoding.categorical
    assert (sex.column, sex.levels, sex.reference, sex.columns) == ("sex", ("F", "M"), "F", ("sex[M]",))
    assert (city.reference, city.columns) == ("Bergen", ("city[Oslo]", "city[Tromso]"))
    assert prep.encoding.features == ("age", "sex", "city") and prep.dropped_rows.count == 0
    assert "sex: reference 'F'; new column(s) sex[M]" in prep.encoding.describe()
    fit = bw.map_fit(prep.X, prep.y, sigma=0.5, tau=1.0)
    assert fit.feature_names == tuple(prep.X.columns)


def test_explicit_categorical_encodes_integer_codes():
    df = _table().assign(region=[3, 1, 2, 3, 1, 2, 2, 3])
    prep = bw.prepare_table(df, "y", features=["age", "region"], categorical=["region"])
    assert list(prep.X.columns) == ["age", "region[2]", "region[3]"]
    assert prep.encoding.categorical[0].reference == 1
    np.testing.assert_array_equal(prep.X["region[3]"], (df["region"] == 3).astype(float))
    # without naming it, an integer column stays numeric
    assert list(bw.prepare_table(df, "y", features=["region"]).X.columns) == ["region"]
    with pytest.raises(ValueError, match=r"`categorical` must name feature columns; got \['sex'\]"):
        bw.prepare_table(df, "y", features=["age"], categorical=["sex"])


def test_bool_category_and_nullable_dtypes():
    df = pd.DataFrame({
        "flag": [True, False, True, True, False, False],
        "size": pd.Categorical(["L", "S", "M", "S", "L", "S"], categories=["S", "M", "L", "XL"]),
        "count": pd.array([1, 2, None, 4, 5, 6], dtype="Int64"),
        "frac": pd.array([0.5, 0.1, 0.2, None, 0.3, 0.4], dtype="Float64"),
        "ok": pd.array([True, False, True, True, None, False], dtype="boolean"),
        "label": pd.array(["a", "b", "a", "b", "a", pd.NA], dtype="string"),
        "y": pd.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], dtype="Float64"),
    })
    with pytest.raises(ValueError, match=r"4 row\(s\) have missing values \(index 2, 3, 4, 5\) in column\(s\) "
                                         r"'count' \(1\), 'frac' \(1\), 'ok' \(1\), 'label' \(1\)"):
        bw.prepare_table(df, "y")
    prep = bw.prepare_table(df, "y", missing="drop")
    # bool: reference False; category: its declared order, unused categories left out
    assert list(prep.X.columns) == ["flag[True]", "size[L]", "count", "frac", "ok[True]", "label[b]"]
    assert list(prep.X.index) == [0, 1] and (prep.X.dtypes == np.float64).all()
    np.testing.assert_array_equal(prep.X.to_numpy(), [[1, 1, 1, 0.5, 1, 0], [0, 0, 2, 0.1, 0, 1]])
    assert prep.encoding.categorical[1].levels == ("S", "L")  # 'M' and 'XL' are not in the rows kept
    full = bw.prepare_table(df[["size", "flag", "y"]], "y")
    assert full.encoding.categorical[0].levels == ("S", "M", "L") and full.encoding.categorical[0].reference == "S"


def test_missing_values_error_names_counts_columns_and_the_option():
    df = _table()
    df.loc[2, "age"] = np.nan
    df.loc[5, "sex"] = None
    df.loc[5, "y"] = np.nan
    with pytest.raises(ValueError) as err:
        bw.prepare_table(df, "y")
    msg = str(err.value)
    assert msg.startswith("2 row(s) have missing values (index 2, 5) in column(s) 'age' (1), 'sex' (1), 'y' (1)")
    assert 'missing="drop"' in msg
    prep = bw.prepare_table(df, "y", missing="drop")
    assert prep.dropped_rows.count == 2 and list(prep.dropped_rows.index) == [2, 5]
    assert dict(prep.dropped_rows.columns) == {"age": 1, "sex": 1, "y": 1}
    assert "2 row(s) dropped for missing values" in prep.dropped_rows.describe()
    assert list(prep.X.index) == list(prep.y.index) == [0, 1, 3, 4, 6, 7]
    np.testing.assert_array_equal(prep.y, df["y"].drop([2, 5]))
    with pytest.raises(ValueError, match=r"`missing` must be one of 'error', 'drop'; got 'ignore'"):
        bw.prepare_table(df, "y", missing="ignore")


def test_single_level_column_is_refused():
    df = _table()
    df["sex"] = ["F"] * 7 + [None]
    with pytest.raises(ValueError, match=r"categorical column 'sex' has the single level 'F' \(after dropping 1 "
                                         r"row\(s\) with missing values\): it carries no information"):
        bw.prepare_table(df, "y", missing="drop")


def test_transform_applies_the_encoding_and_refuses_unknown_levels():
    prep = bw.prepare_table(_table(), "y")
    new = pd.DataFrame({"city": ["Tromso", "Bergen"], "sex": ["F", "M"], "age": [40, 50]}, index=[10, 11])
    X = prep.encoding.transform(new)
    assert list(X.columns) == list(prep.X.columns) and list(X.index) == [10, 11]
    np.testing.assert_array_equal(X.to_numpy(), [[40, 0, 0, 1], [50, 1, 0, 0]])
    # the rows it was made from come back unchanged
    pd.testing.assert_frame_equal(prep.encoding.transform(_table()), prep.X)
    with pytest.raises(ValueError, match=r"`data` column 'city' holds the level 'Stavanger', which the table the "
                                         r"encoding was made from did not have; known levels are \['Bergen', "
                                         r"'Oslo', 'Tromso'\]"):
        prep.encoding.transform(new.assign(city=["Oslo", "Stavanger"]))
    with pytest.raises(ValueError, match=r"must hold the feature columns .*got none for \['sex'\]"):
        prep.encoding.transform(new.drop(columns="sex"))


def test_numeric_table_is_unchanged():
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(10, 3)), columns=["a", "b", "y"])
    prep = bw.prepare_table(df, "y")
    pd.testing.assert_frame_equal(prep.X, df[["a", "b"]])
    pd.testing.assert_series_equal(prep.y, df["y"])
    assert prep.encoding.categorical == () and prep.encoding.columns == ("a", "b")


@pytest.mark.parametrize(
    ("change", "kwargs", "error", "message"),
    [
        ({"age": ["31", "x"] + ["40"] * 6}, {}, ValueError,
         r"column\(s\) \['age'\] hold non-numeric values \(e.g. \{'age': 'x'\}\) among numbers; .* `categorical`"),
        ({"age": [str(v) for v in range(8)]}, {}, ValueError, r"hold numbers written as text \(e.g. \{'age': '0'\}\)"),
        ({"name": [f"p{i}" for i in range(8)]}, {}, ValueError,
         r"text column 'name' has a different value in every row \(8 levels in 8 rows"),
        ({"y": ["a"] * 8}, {}, ValueError, r"`target` column 'y' must be numeric"),
        ({"when": pd.date_range("2020-01-01", periods=8)}, {}, TypeError, r"\['when'\] have dtype\(s\) \['datetime64"),
        ({}, {"features": ["age", "zz"]}, ValueError, r"`features` must name columns of the table; got \['zz'\]"),
        ({}, {"features": ["age", "y"]}, ValueError, r"`target` column 'y' is also listed in `features`"),
    ],
    ids=["mixed", "numbers-as-text", "identifier", "text-target", "dates", "absent-feature", "target-as-feature"],
)
def test_bad_tables_give_clear_errors(change, kwargs, error, message):
    with pytest.raises(error, match=message):
        bw.prepare_table(_table().assign(**change), "y", **kwargs)


def test_categorical_overrides_the_refusals():
    df = _table().assign(name=[f"p{i}" for i in range(8)])
    prep = bw.prepare_table(df, "y", features=["name"], categorical=["name"])
    assert prep.X.shape == (8, 7) and prep.encoding.categorical[0].reference == "p0"
    with pytest.raises(TypeError, match=r"`data` must be a pandas DataFrame; got ndarray of shape \(8, 5\)"):
        bw.prepare_table(df.to_numpy(), "y")


@pytest.mark.slow
def test_cli_fit_on_a_csv_with_text_and_missing_values(tmp_path, headless_chromium):
    rng = np.random.default_rng(1)
    n = 30
    sex = rng.choice(["F", "M"], size=n)
    age = rng.normal(40, 10, size=n)
    y = 0.05 * age + 1.5 * (sex == "M") + 0.3 * rng.normal(size=n)
    df = pd.DataFrame({"age": age, "sex": sex, "y": y})
    df.loc[4, "age"] = np.nan
    csv, out = tmp_path / "people.csv", tmp_path / "out"
    df.to_csv(csv, index=False)
    base = [sys.executable, "-m", "bayeswd", "fit", str(csv), "--target", "y", "--quick", "--method", "svi",
            "--prior", "gaussian", "--no-progress", "--out", str(out)]
    refused = subprocess.run(base, capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert re.search(r"1 row\(s\) have missing values \(file lines 6\) in column\(s\) 'age' \(1\); pass --missing "
                     r"drop", refused.stderr), refused.stderr
    proc = subprocess.run([*base, "--missing", "drop"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    html = (out / "report.html").read_text()
    assert "<code>sex</code> (reference level <code>F</code>) &rarr; <code>sex[M]</code>" in html
    assert "1 row(s) with missing values dropped (missing in <code>age</code> (1))" in html
    assert "2 feature(s), 22 training and 7 test rows" in html
    summary = pd.read_csv(out / "summary.csv")
    assert set(summary["feature"]) == {"age", "sex[M]"}
    # the report as a browser shows it: figures drawn, the encoding and the dropped row stated
    img, dom = headless_chromium(out / "report.html")
    assert_not_blank(img)
    assert "reference level" in dom and "sex[M]" in dom and "dropped" in dom
