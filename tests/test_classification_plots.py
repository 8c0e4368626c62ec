"""The calibration plot of a classifier (headless): what it draws, its ECE by hand, its input errors."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.collections import PathCollection

from bayeswd.classification import map_classifier, sample_classifier_posterior
from bayeswd.classification.plots import CalibrationCurve, calibration_curve, plot_calibration


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def binary_fits():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    y = np.where(X @ [1.5, -1.0, 0.0] + rng.logistic(size=120) > 0, "yes", "no")
    fit = map_classifier(X[:80], y[:80], tau=1.0)
    post = sample_classifier_posterior(X[:80], y[:80], tau=1.0, method="laplace_approx", num_samples=100,
                                       num_chains=2, progress_bar=False)
    return X[80:], y[80:], fit, post


def _hand_ece(conf, hit, n_bins):
    """The ECE written out bin by bin, as a reader would compute it."""
    total = 0.0
    for b in range(n_bins):
        lo, hi = b / n_bins, (b + 1) / n_bins
        inside = [(c, h) for c, h in zip(conf, hit, strict=True) if lo <= c < hi or (b == n_bins - 1 and c == 1.0)]
        if inside:
            mean_c = sum(c for c, _ in inside) / len(inside)
            mean_h = sum(h for _, h in inside) / len(inside)
            total += len(inside) * abs(mean_h - mean_c)
    return total / len(conf)


def test_binary_ece_equals_the_hand_computation():
    p1 = [0.05, 0.12, 0.18, 0.52, 0.41, 0.47, 0.62, 0.66, 0.71, 0.88, 0.93, 0.97, 1.0, 0.0]
    y = [0, 0, 1, 0, 1, 1, 0, 1, 1, 1, 1, 1, 1, 0]
    curve = calibration_curve(p1, y, n_bins=5)
    assert isinstance(curve, CalibrationCurve) and curve.kind == "binary" and curve.n == 14
    assert curve.ece == pytest.approx(_hand_ece(p1, y, 5), abs=1e-12)
    # bins of width 0.2: [0, .2) holds 0.0, 0.05, 0.12, 0.18; none in [.2, .4); 1.0 goes to the last bin
    assert curve.counts.tolist() == [4, 0, 3, 3, 4]
    assert curve.frequency[0] == pytest.approx(0.25) and np.isnan(curve.frequency[1])
    assert curve.confidence[4] == pytest.approx((0.88 + 0.93 + 0.97 + 1.0) / 4)
    np.testing.assert_allclose(curve.edges, np.linspace(0, 1, 6))
    # the same as a (m, 2) array
    two = np.stack([1 - np.array(p1), p1], axis=1)
    assert calibration_curve(two, y, n_bins=5).ece == pytest.approx(curve.ece, abs=1e-15)


def test_multiclass_uses_the_top_label():
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.5, 0.4], [0.3, 0.3, 0.4], [0.05, 0.05, 0.9], [0.6, 0.3, 0.1]])
    y = np.array([0, 2, 2, 2, 1])
    curve = calibration_curve(probs, y, n_bins=4)
    conf = probs.max(1)
    hit = (probs.argmax(1) == y).astype(float)
    assert curve.kind == "top_label"
    assert curve.ece == pytest.approx(_hand_ece(conf.tolist(), hit.tolist(), 4), abs=1e-12)
    assert curve.counts.tolist() == [0, 1, 3, 1]  # 0.4 | 0.5, 0.6, 0.7 | 0.9


def test_plot_draws_the_diagonal_one_line_per_model_and_the_counts(binary_fits):
    X_test, y_test, fit, post = binary_fits
    ax = plot_calibration({"posterior": post, "MAP": fit}, X_test, y_test, n_bins=8)
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels[0] == "perfect calibration" and np.allclose(ax.get_lines()[0].get_xydata(), [[0, 0], [1, 1]])
    assert [lab.split(" (ECE")[0] for lab in labels[1:]] == ["posterior", "MAP"]
    curves = ax.bayeswd_calibration
    for name, model in (("posterior", post), ("MAP", fit)):
        codes = np.searchsorted(model.classes_, y_test)
        expected = calibration_curve(model.predict_proba(X_test), codes, n_bins=8)
        assert curves[name].ece == pytest.approx(expected.ece, abs=1e-12)
        assert f"{name} (ECE {expected.ece:.3f})" in labels
    # the markers' areas grow with the rows per bin; the histogram below counts every row
    dots = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(dots) == 2 and len(dots[0].get_sizes()) == int((curves["posterior"].counts > 0).sum())
    hist = ax.bayeswd_hist
    assert hist is not None and len(hist.patches) == 2
    assert sum(curves["MAP"].counts) == len(y_test)
    assert "y = yes" in ax.get_ylabel() and "P(y = yes)" in hist.get_xlabel()
    assert ax.get_legend() is not None


def test_plot_on_a_given_axes_and_probabilities(binary_fits):
    X_test, y_test, fit, _ = binary_fits
    fig, ax = plt.subplots()
    codes = (y_test == "yes").astype(int)
    out = plot_calibration(fit.predict_proba(X_test)[:, 1].numpy(), y=codes, ax=ax, n_bins=5)
    assert out is ax and ax.bayeswd_hist is None and len(fig.axes) == 1
    assert len(ax.get_lines()) == 2 and "class 1" in ax.get_xlabel()
    # a torch (m, K) tensor gives the same curve
    again = plot_calibration(fit.predict_proba(X_test), y=torch.as_tensor(codes), n_bins=5)
    assert again.bayeswd_calibration["predicted"].ece == pytest.approx(ax.bayeswd_calibration["predicted"].ece)


def test_single_posterior_is_named_posterior_predictive(binary_fits):
    X_test, y_test, _, post = binary_fits
    ax = plot_calibration(post, X_test, y_test)
    assert list(ax.bayeswd_calibration) == ["posterior predictive"]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"posterior_or_probs": [[0.5, 0.6]], "y": [0]}, ValueError, "must sum to 1"),
        ({"posterior_or_probs": [1.2, 0.5], "y": [0, 1]}, ValueError, r"probabilities in \[0, 1\]"),
        ({"posterior_or_probs": [0.2, float("nan")], "y": [0, 1]}, ValueError, "must be finite"),
        ({"posterior_or_probs": [0.2, 0.4], "y": [0, 1, 1]}, ValueError, "one entry per row"),
        ({"posterior_or_probs": [0.2, 0.4], "y": [0, 2]}, ValueError, r"class indices in \[0, 2\)"),
        ({"posterior_or_probs": [0.2, 0.4], "y": ["a", "b"]}, TypeError, "class indices 0..K-1"),
        ({"posterior_or_probs": [0.2, 0.4], "y": None}, ValueError, "`y` .* is required"),
        ({"posterior_or_probs": [0.2, 0.4], "X": np.ones((2, 3)), "y": [0, 1]}, ValueError, "only with a fitted"),
        ({"posterior_or_probs": [0.2, 0.4], "y": [0, 1], "n_bins": 0}, ValueError, "`n_bins` must be"),
        ({"posterior_or_probs": [0.2, 0.4], "y": [0, 1], "n_bins": 2.5}, ValueError, "`n_bins` must be"),
        ({"posterior_or_probs": [0.2, 0.4], "y": [0, 1], "ax": "left"}, TypeError, "`ax` must be"),
        ({"posterior_or_probs": {}, "y": [0, 1]}, ValueError, "empty mapping"),
        ({"posterior_or_probs": "probs", "y": [0, 1]}, TypeError, "array of class probabilities"),
        ({"posterior_or_probs": {"a": [0.2, 0.4], "b": [[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]]}, "y": [0, 1]},
         ValueError, "same number of classes"),
    ],
    ids=["not-simplex", "above-one", "nan", "y-length", "y-range", "y-labels", "y-missing", "X-with-probs",
         "zero-bins", "float-bins", "bad-ax", "empty-mapping", "string", "mixed-K"],
)
def test_bad_input_raises_a_clear_error(kwargs, error, match):
    with pytest.raises(error, match=match):
        plot_calibration(**kwargs)


def test_classifier_input_errors(binary_fits):
    X_test, y_test, fit, _ = binary_fits
    with pytest.raises(ValueError, match="`X` is required"):
        plot_calibration(fit, y=y_test)
    with pytest.raises(ValueError, match=r"labels the classifier does not know \(\['maybe'\]\)"):
        plot_calibration(fit, X_test, np.where(y_test == "yes", "maybe", y_test))
    with pytest.raises(ValueError, match="one label per row"):
        plot_calibration(fit, X_test, y_test[:-1])
