"""``bayeswd fit`` on a classification target: the family rule, the classifier report, clear errors."""

import re

import numpy as np
import pandas as pd
import pytest

from bayeswd.cli import CLIError, detect_family, main, stratified_split

# short, healthy runs: 2 chains of 200 draws after 100 warm-up steps
QUICK = ["--quick", "--no-progress", "--nuts", "num_warmup=100"]


def _frame(n, seed, labels):
    """Three numeric features and a text feature; ``labels(eta, rng)`` makes the target."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    df = pd.DataFrame(X, columns=["age", "bmi", "bp"])
    df["site"] = rng.choice(["north", "south"], size=n)
    eta = X @ [1.2, -0.8, 0.0] + 0.4 * (df["site"] == "south")
    df["y"] = labels(eta, rng)
    return df


def _binary(n=80, seed=0):
    return _frame(n, seed, lambda eta, rng: np.where(eta + rng.logistic(size=eta.size) > 0, "yes", "no"))


def _three_classes(n=90, seed=1):
    # whole numbers 1, 2, 3: read as classes by --family auto (at most 20 distinct values)
    return _frame(n, seed, lambda eta, rng: np.digitize(eta + rng.logistic(size=eta.size), [-0.7, 0.7]) + 1)


def _run(tmp_path, df, name, *extra):
    csv = tmp_path / f"{name}.csv"
    df.to_csv(csv, index=False)
    out = tmp_path / f"{name}_report"
    status = main(["fit", str(csv), "--target", "y", "--out", str(out), *QUICK, *extra])
    return status, out


def _sections(html):
    return re.findall(r"<h2>(.*?)</h2>", html)


@pytest.fixture(scope="module")
def binary_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("binary")
    return _run(folder, _binary(), "binary")


@pytest.fixture(scope="module")
def multiclass_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("multi")
    return _run(folder, _three_classes(), "multi", "--prior", "gaussian")


# --- the family rule --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "family", "expected", "classes"),
    [
        (["yes", "no", "no", None], "auto", "bernoulli", ["no", "yes"]),
        ([True, False, True], "auto", "bernoulli", [False, True]),
        ([0.5, 2.5, 0.5, 2.5], "auto", "bernoulli", [0.5, 2.5]),  # any two distinct values
        ([0, 1, 1, np.nan], "auto", "bernoulli", [0, 1]),  # whole numbers read as float (a gap)
        (["a", "b", "c", "a"], "auto", "categorical", ["a", "b", "c"]),
        ([1, 2, 3, 3, 2], "auto", "categorical", [1, 2, 3]),
        (list(range(20)) * 2, "auto", "categorical", list(range(20))),
        (list(range(21)) * 2, "auto", "gaussian", None),  # more than 20 whole numbers: regression
        ([0.1, 0.2, 0.35, 1.0], "auto", "gaussian", None),  # fractions: regression
        ([1, 2, 3, 3], "gaussian", "gaussian", None),
        (["a", "b", "a"], "categorical", "categorical", ["a", "b"]),
        ([0.1, 0.2, 0.35, 1.0] * 3, "categorical", "categorical", [0.1, 0.2, 0.35, 1.0]),
    ],
)
def test_family_rule(values, family, expected, classes):
    kind = detect_family(pd.Series(values), family)
    assert kind.family == expected and kind.reason
    if classes is None:
        assert kind.classes is None
    else:
        assert kind.classes.tolist() == classes


@pytest.mark.parametrize(
    ("values", "family", "match"),
    [
        (["a", "b", "c"], "bernoulli", r"--family bernoulli needs a --target with exactly two distinct values; "
                                       r"column 'y' has 3 distinct value\(s\) \(a, b, c\)"),
        ([1, 1, 1], "bernoulli", "exactly two distinct values"),
        (["a", "a"], "categorical", "at least two distinct labels"),
        (["only"] * 4, "auto", "at least two distinct labels"),
        ([f"id{i}" for i in range(30)], "auto", "holds 30 distinct labels .* pass --family categorical"),
    ],
)
def test_family_rule_errors(values, family, match):
    with pytest.raises(CLIError, match=match):
        detect_family(pd.Series(values), family, "y")


def test_stratified_split_keeps_every_class_on_both_sides():
    codes = np.repeat([0, 1, 2], [3, 10, 40])
    train, test = stratified_split(codes, 0.25, seed=0)
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(codes.size))
    assert np.bincount(codes[test]).tolist() == [1, 2, 10]  # round(0.25 n_k), at least one, two left to train
    assert np.bincount(codes[train]).min() >= 2


# --- the report -------------------------------------------------------------------------------


def _check_images(out, html):
    images = re.findall(r'<img src="([^"]+)"', html)
    assert {"lambda_selection.png", "calibration.png", "forest.png"} <= set(images)
    for name in images:
        data = (out / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


def test_binary_text_target_is_logistic_regression(binary_run, capsys):
    status, out = binary_run
    assert status == 0
    html = (out / "report.html").read_text()
    assert "logistic regression" in html and "because the target has two distinct values" in html
    assert _sections(html)[:2] == ["Data and classes", "Choosing C (lambda = 1/C)"]
    assert {"What this prior means in every convention", "MAP estimates",
            "Held-out accuracy, log loss and calibration", "Comparing the coefficients",
            "Predictive comparison (PSIS-LOO)", "Sampler diagnostics", "Posterior summary"} <= set(_sections(html))
    assert "torch SGD weight_decay, mean loss: 1/(n tau^2)" in html and "LogisticRegression(C)" in html
    assert "evidence maximum (Laplace approximation)" in html
    assert "training class frequencies (baseline)" in html and "ECE (5 bins)" in html  # 20 test rows
    assert "coef[site[south]]" in html  # the one-hot text feature reaches the summary
    _check_images(out, html)
    summary = pd.read_csv(out / "summary.csv")
    assert set(summary["estimate"]) == {"gaussian MAP", "laplace MAP", "gaussian NUTS", "laplace NUTS"}
    assert set(summary["feature"]) == {"age", "bmi", "bp", "site[south]"}
    assert {p.name for p in out.glob("posterior_*.nc")} == {"posterior_gaussian_nuts.nc", "posterior_laplace_nuts.nc"}


def test_binary_map_rows_match_the_api(binary_run):
    """The MAP in summary.csv is map_classifier's at the C the report says it used."""
    from bayeswd.classification import map_classifier
    from bayeswd.cli import read_table

    status, out = binary_run
    assert status == 0
    prep, kind = read_table(str(out.parent / "binary.csv"), "y", None)
    codes = prep.y.to_numpy().astype(int)
    train, _ = stratified_split(codes, 0.25, 0)
    X = prep.X.iloc[train]
    X = (X - X.mean()) / X.std(ddof=0)
    summary = pd.read_csv(out / "summary.csv")
    html = (out / "report.html").read_text()
    C = float(re.search(r"gaussian: used below \(the CV minimum\)</th>\s*<td>([^<]+)</td>", html).group(1))
    fit = map_classifier(X, kind.classes[codes[train]], prior="gaussian", tau=C**0.5)
    rows = summary[summary["estimate"] == "gaussian MAP"]
    np.testing.assert_allclose(rows["mean"].to_numpy(), fit.coef.numpy(), rtol=1e-3, atol=1e-6)


def test_three_integer_labels_are_softmax_regression(multiclass_run):
    status, out = multiclass_run
    assert status == 0
    html = (out / "report.html").read_text()
    assert "softmax regression (family <code>categorical</code>, 3 classes)" in html
    assert "whole numbers with 3 distinct values" in html
    _check_images(out, html)
    summary = pd.read_csv(out / "summary.csv")
    assert set(summary["estimate"]) == {"gaussian MAP", "laplace MAP", "gaussian NUTS"}  # --prior gaussian
    assert "age, 2" in set(summary["feature"]) and len(set(summary["feature"])) == 4 * 3
    assert "Predictive comparison" not in html  # one posterior: nothing to compare
    assert "top-label confidence" in html


def test_family_override_categorical_on_two_labels(tmp_path):
    status, out = _run(tmp_path, _binary(n=60, seed=3), "override", "--family", "categorical", "--prior", "gaussian",
                       "--nuts", "num_warmup=50")
    assert status == 0
    html = (out / "report.html").read_text()
    assert "softmax regression" in html and "because --family categorical" in html
    assert len(set(pd.read_csv(out / "summary.csv")["feature"])) == 4 * 2


@pytest.mark.parametrize(
    ("df", "extra", "match"),
    [
        (_three_classes(), ["--family", "bernoulli"],
         r"--family bernoulli needs a --target with exactly two distinct values; column 'y' has 3"),
        (_binary(), ["--sigma", "1"], r"--sigma is the noise sd of linear regression"),
        (_binary(), ["--method", "svi"], r"a classifier's posterior is drawn by NUTS"),
        (_binary().assign(y=lambda d: np.where(np.arange(len(d)) < 2, "rare", d["y"])), [],
         r"every class of --target 'y' needs at least 3 rows .* 'rare': 2"),
    ],
    ids=["bernoulli-with-3-labels", "sigma", "svi", "rare-class"],
)
def test_classifier_errors_are_clear(tmp_path, capsys, df, extra, match):
    status, out = _run(tmp_path, df, "bad", *extra)
    err = capsys.readouterr().err
    assert status == 2, err
    assert re.search(match, err), err
    assert "Traceback" not in err and not (out / "report.html").exists()


def test_float_target_stays_regression(tmp_path):
    """A float target with many values reads as regression: the regression path and its table errors."""
    df = _binary().assign(y=lambda d: np.linspace(0.0, 1.0, len(d)))
    kind = detect_family(df["y"])
    assert kind.family == "gaussian" and not kind.is_classifier
    # and a text target under --family gaussian is the regression table's error, as before
    status, _ = _run(tmp_path, _binary(), "text", "--family", "gaussian")
    assert status == 2
