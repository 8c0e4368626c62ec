"""Tests of bayeswd.plots and compare_priors, on ArviZ fixtures built here with arviz.from_dict.

The fixtures do not use bayeswd.posterior: the gaussian posterior is drawn exactly from the
conjugate normal (sigma known, flat intercept); the "laplace" one is a Gaussian (Laplace)
approximation centred at the laplace MAP. Both have the layout of the library's posteriors:
posterior "coef" (chain, draw, feature) and "intercept", pointwise log_likelihood "obs",
posterior_predictive "obs" and observed_data "obs". The fixtures are the installed ArviZ's
container (InferenceData on ArviZ 0.x, DataTree on 1.x), built through bayeswd._arviz.from_dict.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure

import bayeswd
from bayeswd import _arviz
from bayeswd.plots import (
    plot_densities,
    plot_forest,
    plot_lam_selection,
    plot_path,
    plot_shrinkage,
    plot_sweep,
)
from bayeswd.selection import (
    compare_priors,
    cv_curve,
    lam_from_draws,
    lam_sweep,
    maximize_evidence,
    validation_curve,
)

SIGMA, TAU = 0.5, 0.4


def gaussian_idata(X, y, sigma, prior_precision, *, center=None, seed=0, chains=2, draws=400):
    """Draws of (w, b) ~ Normal(mean, P^-1), P = [X 1]^T [X 1] / sigma^2 + diag(prior_precision, 0).

    With ``center=None`` the mean is the exact conjugate posterior mean ``P^-1 [X 1]^T y / sigma^2``.
    """
    rng = np.random.default_rng(seed)
    n, d = X.shape
    A = np.hstack([X, np.ones((n, 1))])
    P = A.T @ A / sigma**2 + np.diag(np.append(prior_precision, 0.0))
    L = np.linalg.cholesky(P)
    mean = np.linalg.solve(P, A.T @ y / sigma**2) if center is None else np.asarray(center)
    z = rng.standard_normal((chains * draws, d + 1))
    theta = (mean + np.linalg.solve(L.T, z.T).T).reshape(chains, draws, d + 1)
    mu = theta @ A.T
    loglik = -0.5 * np.log(2 * np.pi * sigma**2) - (y - mu) ** 2 / (2 * sigma**2)
    return _arviz.from_dict(
        {
            "posterior": {"coef": theta[..., :d], "intercept": theta[..., d]},
            "log_likelihood": {"obs": loglik},
            "posterior_predictive": {"obs": mu + sigma * rng.standard_normal(mu.shape)},
            "observed_data": {"obs": y},
        },
        coords={"feature": [f"x{j}" for j in range(d)], "obs_id": np.arange(n)},
        dims={"coef": ["feature"], "obs": ["obs_id"]},
    )


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(0)
    n, d = 40, 6
    w = np.array([1.0, -0.6, 0.0, 0.0, 0.3, 0.05])
    X = rng.standard_normal((n, d))
    y = X @ w + 0.2 + SIGMA * rng.standard_normal(n)
    Xv = rng.standard_normal((60, d))
    yv = Xv @ w + 0.2 + SIGMA * rng.standard_normal(60)
    return X, y, w, Xv, yv


@pytest.fixture(scope="module")
def fits(problem):
    X, y, w, _, _ = problem
    d = X.shape[1]
    tau_l = TAU / np.sqrt(2.0)  # same prior variance
    gauss = gaussian_idata(X, y, SIGMA, np.full(d, 1 / TAU**2), seed=1)
    map_g = bayeswd.map_fit(X, y, sigma=SIGMA, tau=TAU)
    map_l = bayeswd.map_fit(X, y, prior="laplace", sigma=SIGMA, tau=tau_l)
    # Laplace approximation: likelihood curvature plus the variance-matched gaussian curvature
    lap = gaussian_idata(X, y, SIGMA, np.full(d, 1 / (2 * tau_l**2)),
                         center=np.append(map_l.coef.numpy(), map_l.intercept), seed=2)
    return {"gaussian": gauss, "laplace": lap}, {"gaussian MAP": map_g, "laplace MAP": map_l}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _save(fig, tmp_path, name):
    path = tmp_path / f"{name}.png"
    fig.savefig(path, dpi=60)
    assert path.stat().st_size > 1000
    with open(path, "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"


def _legend_texts(legend):
    return [t.get_text() for t in legend.get_texts()]


def test_conjugate_fixture_is_the_map(problem, fits):
    """Sanity of the fixture: the exact posterior mean equals the gaussian MAP (within MCSE)."""
    posts, maps = fits
    draws = _arviz.get_group(posts["gaussian"], "posterior")["coef"].values.reshape(-1, 6)
    mcse = draws.std(axis=0) / np.sqrt(draws.shape[0])
    assert np.all(np.abs(draws.mean(axis=0) - maps["gaussian MAP"].coef.numpy()) <= 5 * mcse)


def test_plot_forest_content(fits, tmp_path):
    posts, maps = fits
    ax = plot_forest(posts, maps=maps, features=["x0", "x2", "x4"])
    assert isinstance(ax, Axes)
    assert _legend_texts(ax.get_legend()) == ["gaussian", "laplace", "gaussian MAP", "laplace MAP"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["coef[x4]", "coef[x2]", "coef[x0]"] or [
        t.get_text() for t in ax.get_yticklabels()
    ] == ["coef[x0]", "coef[x2]", "coef[x4]"]
    markers = {ln.get_label(): ln for ln in ax.get_lines() if ln.get_label().endswith("MAP")}
    np.testing.assert_allclose(markers["laplace MAP"].get_xdata(), maps["laplace MAP"].coef.numpy()[[0, 2, 4]])
    np.testing.assert_allclose(markers["gaussian MAP"].get_xdata(), maps["gaussian MAP"].coef.numpy()[[0, 2, 4]])
    # markers sit at the centre of each feature's group, i.e. on the ticks
    np.testing.assert_allclose(sorted(markers["gaussian MAP"].get_ydata()), sorted(ax.get_yticks()))
    assert ax.get_title() and "weight" in ax.get_xlabel()
    _save(ax.figure, tmp_path, "forest")


def test_plot_forest_legend_follows_given_order_and_default_subset(fits):
    posts, _ = fits
    ax = plot_forest({"laplace": posts["laplace"], "gaussian": posts["gaussian"]}, max_features=4)
    assert _legend_texts(ax.get_legend()) == ["laplace", "gaussian"]
    assert len(ax.get_yticks()) == 4
    assert "4 of 6 features" in ax.get_title()


def test_plot_forest_accepts_to_inference_data(fits):
    posts, _ = fits

    class Result:  # stands for bayeswd's posterior result
        def to_inference_data(self):
            return posts["gaussian"]

    ax = plot_forest({"wrapped": Result()}, features=[1])
    assert _legend_texts(ax.get_legend()) == ["wrapped"]


def test_plot_densities_content(fits, tmp_path):
    posts, maps = fits
    fig = plot_densities(posts, maps=maps, features=[0, 1, 4, 5])
    assert isinstance(fig, Figure)
    visible = [a for a in fig.axes if a.get_visible()]
    assert [a.get_title() for a in visible] == ["coef[x0]", "coef[x1]", "coef[x4]", "coef[x5]"]
    assert _legend_texts(fig.legends[0]) == ["gaussian", "laplace", "gaussian MAP", "laplace MAP"]
    for a, k in zip(visible, [0, 1, 4, 5], strict=True):
        vlines = {ln.get_label(): ln.get_xdata()[0] for ln in a.get_lines() if ln.get_label().startswith("_map:")}
        assert vlines == pytest.approx({f"_map:{name}": float(m.coef[k]) for name, m in maps.items()})
        assert a.get_xlabel() == "weight value"
    assert fig._suptitle is not None and fig._suptitle.get_text()
    _save(fig, tmp_path, "densities")


def test_plot_shrinkage_content(problem, fits, tmp_path):
    X, y, w, _, _ = problem
    posts, maps = fits
    ax = plot_shrinkage(posts, w, maps=maps)
    assert len(ax.containers) == 2  # one errorbar per posterior
    labels = _legend_texts(ax.get_legend())
    assert labels[:2] == ["gaussian MAP", "laplace MAP"] or labels[0].startswith("gaussian")
    assert {"gaussian: mean, 90% interval", "laplace: mean, 90% interval", "no shrinkage (y = x)"} <= set(labels)
    means = ax.containers[0].lines[0].get_ydata()
    np.testing.assert_allclose(means, _arviz.get_group(posts["gaussian"], "posterior")["coef"].mean(("chain", "draw")).values)
    assert ax.get_xlabel() == "true weight" and ax.get_ylabel() == "estimated weight"
    _save(ax.figure, tmp_path, "shrinkage")
    ols = np.linalg.lstsq(np.hstack([X, np.ones((40, 1))]), y, rcond=None)[0][:6]
    ax2 = plot_shrinkage(posts, ols, reference_label="least-squares weight", features=["x0", "x1"])
    assert ax2.get_xlabel() == "least-squares weight"
    assert len(ax2.containers[0].lines[0].get_xdata()) == 2


def test_plot_sweep_and_path(problem, tmp_path):
    X, y, _, Xv, yv = problem
    sweeps = {p: lam_sweep(X, y, prior=p, X_test=Xv, y_test=yv, n_lams=30) for p in ("gaussian", "laplace")}
    ax = plot_sweep(sweeps)
    assert ax.get_xscale() == "log"
    assert len(ax.get_lines()) == 6  # train, test and the test minimum, per prior
    texts = _legend_texts(ax.get_legend())
    assert texts[:2] == ["gaussian: train", "gaussian: test"] and texts[3:5] == ["laplace: train", "laplace: test"]
    assert ax.get_ylabel() == "mean squared error" and "penalty" in ax.get_xlabel()
    _save(ax.figure, tmp_path, "sweep")
    ax = plot_sweep(sweeps["gaussian"])
    assert len(ax.get_lines()) == 3 and r"\sigma^2/\tau^2" in ax.get_xlabel()

    ax = plot_path(sweeps["laplace"])
    assert len(ax.get_lines()) == 6 + 1  # one per weight plus the zero line
    assert _legend_texts(ax.get_legend()) == [f"x{j}" for j in range(6)]
    np.testing.assert_allclose(ax.get_lines()[2].get_ydata(), sweeps["laplace"].coef[:, 2])
    assert "laplace" in ax.get_title() and ax.get_xscale() == "log"
    _save(ax.figure, tmp_path, "path")


def test_plot_lam_selection(problem, tmp_path):
    X, y, _, Xv, yv = problem
    lams = np.geomspace(1e-2, 1e3, 30)
    val = validation_curve(X, y, Xv, yv, lams=lams)
    cv = cv_curve(X, y, lams=lams, n_folds=5, seed=0)
    ev = maximize_evidence(X, y)
    draws = lam_from_draws(np.random.default_rng(0).lognormal(np.log(TAU), 0.2, (2, 300)), SIGMA)
    ax = plot_lam_selection(validation=val, cv=cv, evidence=ev, lam_draws=draws, oracle=SIGMA**2 / TAU**2)
    assert ax.get_xscale() == "log"
    texts = _legend_texts(ax.get_legend())
    assert texts[0] == "validation MSE" and texts[1].startswith("validation min")
    assert texts[2] == "5-fold CV MSE ± 1 se" and texts[3].startswith("CV min")
    assert any(t.startswith("evidence max") for t in texts)
    assert any(t.startswith("oracle") for t in texts)
    assert texts[-1].startswith("posterior of")
    vlines = {ln.get_label().split(":")[0]: ln.get_xdata()[0] for ln in ax.get_lines()}
    assert vlines["CV min"] == cv.lam_best and vlines["evidence max"] == ev.lam
    twin = ax.bayeswd_twin
    assert twin is not None and twin.get_xscale() == "log" and len(twin.patches) == 1
    assert "posterior density" in twin.get_ylabel()
    assert ax.get_ylabel() == "held-out mean squared error" and ax.get_title()
    _save(ax.figure, tmp_path, "lam_selection")
    # any subset works; draws alone give the histogram only
    ax = plot_lam_selection(lam_draws=draws)
    assert len(ax.get_lines()) == 0 and len(ax.bayeswd_twin.patches) == 1


@pytest.fixture(scope="module")
def loo_problem():
    """n = 200 rows, d = 3: leverages ~ 2%, so PSIS-LOO's Pareto k stays far below 0.7."""
    rng = np.random.default_rng(4)
    X = rng.standard_normal((200, 3))
    y = X @ np.array([0.5, -0.2, 0.0]) + 0.1 + SIGMA * rng.standard_normal(200)
    return X, y


def test_compare_priors_loo_table(loo_problem):
    """Two exact conjugate posteriors (prior sd TAU and 10 TAU)."""
    X, y = loo_problem
    narrow = gaussian_idata(X, y, SIGMA, np.full(3, 1 / TAU**2), seed=3)
    wide = gaussian_idata(X, y, SIGMA, np.full(3, 1 / (10 * TAU) ** 2), seed=4)
    table = compare_priors({"gaussian": narrow, "wide gaussian": wide})
    assert isinstance(table, pd.DataFrame)
    assert set(table.index) == {"gaussian", "wide gaussian"}
    assert not table["warning"].any()
    assert {"elpd_loo", "p_loo", "elpd_diff", "weight", "se"} <= set(table.columns)
    assert table["elpd_diff"].iloc[0] == 0.0
    assert np.all(np.isfinite(table["elpd_loo"]))


def test_compare_priors_pareto_warning_when_d_exceeds_n():
    p = bayeswd.seed_problem()
    X, y = p.train.X.numpy(), p.train.y.numpy()
    a = gaussian_idata(X, y, p.sigma, np.full(200, 1 / p.tau**2), seed=0, draws=200)
    b = gaussian_idata(X, y, p.sigma, np.full(200, 1 / (4 * p.tau**2)), seed=1, draws=200)
    with pytest.warns(UserWarning, match="Pareto"):
        table = compare_priors({"tau": a, "2 tau": b})
    assert table["warning"].any()


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda p, m: plot_forest([p["gaussian"]]), TypeError, "`posteriors` must be a non-empty mapping"),
        (lambda p, m: plot_forest({"a": 3}), TypeError, r"`posteriors\['a'\]` must be an arviz.InferenceData"),
        (lambda p, m: plot_forest(p, features=["nope"]), ValueError, "`features` must name features"),
        (lambda p, m: plot_forest(p, features=[9]), ValueError, r"`features` positions must lie in \[0, 6\)"),
        (lambda p, m: plot_forest(p, maps={"bad": np.zeros(3)}), ValueError, r"`maps\['bad'\]` must be a MAPResult"),
        (lambda p, m: plot_forest(p, hdi_prob=1.5), ValueError, "`hdi_prob` must be a probability in"),
        (lambda p, m: plot_shrinkage(p, np.zeros(5)), ValueError, "`reference` must be 6 finite weights"),
        (lambda p, m: plot_lam_selection(), ValueError, "give at least one of"),
        (lambda p, m: plot_lam_selection(lam_draws=[1.0, -1.0]), ValueError, "`lam_draws` must hold"),
        (lambda p, m: plot_sweep(3), TypeError, "`sweeps` must be a SweepResult"),
        (lambda p, m: compare_priors({"a": p["gaussian"]}), ValueError, "`posteriors` must be a mapping of at least two"),
    ],
)
def test_plot_validation_errors(fits, call, error, match):
    posts, maps = fits
    with pytest.raises(error, match=match):
        call(posts, maps)


def test_missing_coef_is_reported():
    idata = _arviz.from_dict({"posterior": {"beta": np.zeros((1, 5, 3))}})
    with pytest.raises(ValueError, match=r"`posteriors\['x'\]` must have a posterior variable 'coef'"):
        plot_forest({"x": idata})


def test_with_bayeswd_posterior_results(problem, loo_problem, fits, tmp_path):
    """The library's own posterior results plug in directly (via their to_inference_data())."""
    from bayeswd.posterior import sample_posterior

    X, y, _, _, _ = problem
    _, maps = fits
    kw = {"method": "exact", "sigma": SIGMA, "num_samples": 500, "num_chains": 2, "progress_bar": False}
    narrow = sample_posterior(X, y, tau=TAU, seed=0, **kw)
    wide = sample_posterior(X, y, tau=10 * TAU, seed=1, **kw)
    ax = plot_forest({"tau": narrow, "10 tau": wide}, maps={"gaussian MAP": maps["gaussian MAP"]})
    assert _legend_texts(ax.get_legend()) == ["tau", "10 tau", "gaussian MAP"]
    coef = narrow.samples["coef"].reshape(-1, 6).numpy()
    mcse = coef.std(axis=0) / np.sqrt(coef.shape[0])
    assert np.all(np.abs(coef.mean(axis=0) - maps["gaussian MAP"].coef.numpy()) <= 5 * mcse)
    _save(ax.figure, tmp_path, "forest_posterior")
    Xl, yl = loo_problem
    table = compare_priors({
        "tau": sample_posterior(Xl, yl, tau=TAU, seed=2, **kw),
        "10 tau": sample_posterior(Xl, yl, tau=10 * TAU, seed=3, **kw),
    })
    assert set(table.index) == {"tau", "10 tau"} and not table["warning"].any()
