"""bayeswd._arviz: the same results with ArviZ 0.x (InferenceData) and ArviZ 1.x (DataTree).

Every test runs on whichever ArviZ is installed (CI runs the suite once with each line) and checks
what must hold on both: the container is the installed line's own kind, with the same groups,
variables, dims, coordinates, values and attributes; the summary and comparison tables have one
set of columns and are checked against independent computations (numpy, the exact leave-one-out
predictive density of a conjugate posterior, bayeswd's own R-hat and ESS); reference numbers that
the two lines would compute differently by default (the tail ESS) are pinned to ArviZ 0.23's.
"""

from __future__ import annotations

import importlib.metadata
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure

import bayeswd as bw
from bayeswd import _arviz
from bayeswd.infer.diagnostics import split_rank_statistics
from bayeswd.plots import plot_densities, plot_forest
from bayeswd.report.captured import capture_warnings

GROUPS = {"posterior", "posterior_predictive", "log_likelihood", "observed_data", "sample_stats"}
SUMMARY_COLUMNS = ["mean", "sd", "hdi_3%", "hdi_97%", "mcse_mean", "mcse_sd", "ess_bulk", "ess_tail", "r_hat"]
COMPARE_COLUMNS = ["rank", "elpd_loo", "p_loo", "elpd_diff", "weight", "se", "dse", "warning", "scale"]
SIGMA = 0.5


def _container_type():
    if _arviz.ARVIZ_1:
        return xr.DataTree
    import arviz as az

    return az.InferenceData


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def nuts_post():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((25, 2))
    y = X @ np.array([1.0, -0.5]) + 0.3 + 0.4 * rng.standard_normal(25)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bw.exceptions.DiagnosticWarning)  # a short run; not tested here
        return bw.sample_posterior(X, y, sigma=0.4, tau=1.0, method=bw.NUTS(num_warmup=150),
                                   num_samples=150, num_chains=2, seed=1, progress_bar=False)


def conjugate(X, y, tau, *, seed, sigma=SIGMA, chains=2, draws=1000):
    """Exact draws of (w, b) under w ~ N(0, tau^2), a flat intercept, sigma known; and the exact LOO.

    Returns the installed line's container and the exact leave-one-out elpd, sum_i log p(y_i | y_-i).
    """
    rng = np.random.default_rng(seed)
    n, d = X.shape
    A = np.hstack([X, np.ones((n, 1))])
    D = np.diag(np.append(np.full(d, 1 / tau**2), 0.0))
    P = A.T @ A / sigma**2 + D
    mean = np.linalg.solve(P, A.T @ y / sigma**2)
    L = np.linalg.cholesky(P)
    theta = mean + np.linalg.solve(L.T, rng.standard_normal((chains * draws, d + 1)).T).T
    theta = theta.reshape(chains, draws, d + 1)
    mu = theta @ A.T
    loglik = -0.5 * np.log(2 * np.pi * sigma**2) - (y - mu) ** 2 / (2 * sigma**2)
    exact = 0.0
    for i in range(n):
        P_i = P - np.outer(A[i], A[i]) / sigma**2
        m_i = np.linalg.solve(P_i, (A.T @ y - A[i] * y[i]) / sigma**2)
        var = sigma**2 + A[i] @ np.linalg.solve(P_i, A[i])
        exact += -0.5 * np.log(2 * np.pi * var) - (y[i] - A[i] @ m_i) ** 2 / (2 * var)
    data = _arviz.from_dict(
        {"posterior": {"coef": theta[..., :d], "intercept": theta[..., d]},
         "log_likelihood": {"obs": loglik}, "observed_data": {"obs": y}},
        coords={"feature": [f"x{j}" for j in range(d)], "obs_id": np.arange(n)},
        dims={"coef": ["feature"], "obs": ["obs_id"]},
    )
    return data, exact


@pytest.fixture(scope="module")
def loo_models():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((200, 3))
    y = X @ np.array([0.5, -0.2, 0.0]) + 0.1 + SIGMA * rng.standard_normal(200)
    return {"narrow": conjugate(X, y, 0.05, seed=1), "wide": conjugate(X, y, 4.0, seed=2)}


# ------------------------------------------------------------------------------------------
# the container


def test_line_detection_matches_the_installed_arviz():
    major = int(importlib.metadata.version("arviz").split(".")[0])
    assert _arviz.ARVIZ_1 == (major >= 1)
    assert _arviz.CONTAINER == ("xarray.DataTree" if major >= 1 else "arviz.InferenceData")


def test_to_inference_data_is_the_installed_lines_container(nuts_post):
    idata = nuts_post.to_inference_data()
    assert type(idata) is _container_type()
    assert _arviz.is_inference_data(idata)
    assert set(_arviz.group_names(idata)) == GROUPS
    post = _arviz.get_group(idata, "posterior")
    assert isinstance(post, xr.Dataset)
    assert list(post.data_vars) == ["coef", "intercept"]
    assert post["coef"].dims == ("chain", "draw", "feature")
    assert post["intercept"].dims == ("chain", "draw")
    assert list(post["feature"].values) == ["x0", "x1"]
    np.testing.assert_array_equal(post["chain"].values, [0, 1])
    np.testing.assert_array_equal(post["draw"].values, np.arange(150))
    np.testing.assert_array_equal(post["coef"].values, nuts_post.samples["coef"].numpy())
    ll = _arviz.get_group(idata, "log_likelihood")["obs"]
    assert ll.dims == ("chain", "draw", "obs_id")
    np.testing.assert_array_equal(ll.values, nuts_post.log_likelihood().numpy())
    obs = _arviz.get_group(idata, "observed_data")["obs"]
    assert obs.dims == ("obs_id",)
    np.testing.assert_array_equal(obs.values, nuts_post.y.numpy())
    np.testing.assert_array_equal(obs["obs_id"].values, np.arange(25))
    assert _arviz.get_group(idata, "posterior_predictive")["obs"].shape == (2, 150, 25)
    assert set(_arviz.get_group(idata, "sample_stats").data_vars) >= {"diverging", "tree_depth"}
    for group in GROUPS:  # bayeswd's settings on every group, netCDF-safe
        attrs = _arviz.get_group(idata, group).attrs
        assert attrs["method"] == "nuts" and attrs["prior"] == "gaussian"
        assert attrs["sigma"] == 0.4 and attrs["fit_intercept"] == 1


def test_exact_draws_have_no_sample_stats_and_svi_attrs_reach_the_posterior():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((15, 2))
    y = X @ np.array([1.0, 0.0]) + 0.2 * rng.standard_normal(15)
    idata = bw.sample_posterior(X, y, sigma=0.2, tau=1.0, method="exact", num_samples=50,
                                num_chains=2, progress_bar=False).to_inference_data()
    assert set(_arviz.group_names(idata)) == GROUPS - {"sample_stats"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bw.exceptions.ConvergenceWarning)  # a short fit, not tested here
        svi = bw.sample_posterior(X, y, sigma=0.2, tau=1.0, method=bw.SVI(max_steps=300), num_samples=20,
                                  num_chains=1, progress_bar=False)
    attrs = _arviz.get_group(svi.to_inference_data(), "posterior").attrs
    assert attrs["elbo_steps"] == svi.elbo.shape[0] and np.isfinite(attrs["elbo_final"])


def test_netcdf_round_trip(nuts_post, tmp_path):
    idata = nuts_post.to_inference_data()
    path = tmp_path / "post.nc"
    _arviz.to_netcdf(idata, path)
    back = _arviz.from_netcdf(path)
    assert type(back) is _container_type()
    assert set(_arviz.group_names(back)) == GROUPS
    for group in GROUPS:
        a, b = _arviz.get_group(idata, group), _arviz.get_group(back, group)
        assert b.equals(a), group
        assert {k: b.attrs[k] for k in ("method", "sigma", "seed")} == {
            k: a.attrs[k] for k in ("method", "sigma", "seed")}
    # the file is closed: it can be replaced at once
    path.unlink()
    assert _arviz.summary(back).equals(_arviz.summary(idata))


def test_a_datatree_is_accepted_on_both_lines(nuts_post):
    idata = nuts_post.to_inference_data()
    tree = xr.DataTree.from_dict({g: _arviz.get_group(idata, g) for g in _arviz.group_names(idata)})
    native = _arviz.as_inference_data(tree)
    assert type(native) is _container_type()
    assert _arviz.get_group(native, "posterior").equals(_arviz.get_group(idata, "posterior"))
    assert _arviz.as_inference_data(nuts_post) is not None and _arviz.as_inference_data(3) is None


# ------------------------------------------------------------------------------------------
# diagnostics and the summary


def test_hdi_equals_arvizs():
    rng = np.random.default_rng(2)
    draws = np.column_stack([rng.standard_normal(801), rng.gamma(2.0, size=801), rng.standard_t(3, 801)])
    if _arviz.ARVIZ_1:
        from arviz_stats import hdi as reference
    else:
        from arviz import hdi as reference
    for prob in (0.5, 0.9, 0.94):
        ours = _arviz.hdi(draws, prob)
        assert ours.shape == (2, 3)
        for j in range(3):
            np.testing.assert_allclose(ours[:, j], np.ravel(reference(draws[:, j], prob)), rtol=1e-12)


def test_diagnostics_equal_bayeswds_own_and_the_tail_ess_is_arviz_023s():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 61, 2))
    x[..., 1] = np.cumsum(x[..., 1], axis=1)
    st = split_rank_statistics(x)
    np.testing.assert_allclose(_arviz.rhat(x), np.maximum(st["rhat_bulk"], st["rhat_folded"]), rtol=1e-10)
    np.testing.assert_allclose(_arviz.ess(x, method="bulk"), st["ess_bulk"], rtol=1e-9)
    # the tail ESS of the 5 % and 95 % quantiles: ArviZ 0.23's default (1.x's follows its ci_prob)
    np.testing.assert_allclose(_arviz.ess(x, method="tail"), [146.11122776, 14.45805379], rtol=1e-8)
    ds = _arviz.convert_to_dataset({"q": x})
    assert isinstance(ds, xr.Dataset)
    np.testing.assert_allclose(_arviz.mcse(ds, method="mean")["q"].values, [0.07792595, 1.91835196], rtol=1e-6)
    np.testing.assert_allclose(_arviz.mcse(x, method="sd"), [0.05372055, 1.00847245], rtol=1e-6)


def test_summary_table_is_the_same_on_both_lines(nuts_post):
    table = nuts_post.summary(round_to=None)
    assert list(table.columns) == SUMMARY_COLUMNS
    assert list(table.index) == ["coef[x0]", "coef[x1]", "intercept"]
    coef = nuts_post.samples["coef"].numpy()
    flat = coef.reshape(-1, 2)
    np.testing.assert_allclose(table["mean"].iloc[:2], flat.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(table["sd"].iloc[:2], flat.std(axis=0, ddof=1), rtol=1e-12)
    lo, hi = _arviz.hdi(flat, 0.94)
    np.testing.assert_allclose(table["hdi_3%"].iloc[:2], lo)
    np.testing.assert_allclose(table["hdi_97%"].iloc[:2], hi)
    st = split_rank_statistics(coef)
    np.testing.assert_allclose(table["r_hat"].iloc[:2], np.maximum(st["rhat_bulk"], st["rhat_folded"]), rtol=1e-10)
    np.testing.assert_allclose(table["ess_bulk"].iloc[:2], st["ess_bulk"], rtol=1e-9)
    np.testing.assert_allclose(table["ess_tail"].iloc[:2], _arviz.ess(coef, method="tail"), rtol=1e-12)
    # ArviZ 0.x's default rounding, and the other kinds and interval probabilities
    rounded = nuts_post.summary()
    np.testing.assert_array_equal(rounded["mean"], table["mean"].round(3))
    np.testing.assert_array_equal(rounded["r_hat"], table["r_hat"].round(2))
    np.testing.assert_array_equal(rounded["ess_bulk"], table["ess_bulk"].round(0))
    assert list(nuts_post.summary(kind="stats", hdi_prob=0.9).columns) == ["mean", "sd", "hdi_5%", "hdi_95%"]
    assert list(nuts_post.summary(kind="diagnostics").columns) == SUMMARY_COLUMNS[4:]
    assert list(nuts_post.summary(var_names=["intercept"]).index) == ["intercept"]
    with pytest.raises(ValueError, match="`var_names` must name posterior variables"):
        nuts_post.summary(var_names=["nope"])
    with pytest.raises(ValueError, match="`kind` must be"):
        nuts_post.summary(kind="everything")


def test_summary_labels_every_coordinate():
    x = np.random.default_rng(3).standard_normal((2, 30, 2, 3))
    data = _arviz.from_dict({"posterior": {"w": x}}, coords={"a": ["p", "q"], "b": [0, 1, 2]},
                            dims={"w": ["a", "b"]})
    table = _arviz.summary(data, kind="stats", round_to=None)
    assert list(table.index) == [f"w[{a}, {b}]" for a in "pq" for b in range(3)]
    np.testing.assert_allclose(table["mean"], x.mean(axis=(0, 1)).ravel())


# ------------------------------------------------------------------------------------------
# predictive accuracy


def test_loo_equals_the_exact_leave_one_out_density(loo_models):
    for data, exact in loo_models.values():
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # n = 200, d = 3: no high Pareto k
            res = _arviz.loo(data)
        assert isinstance(res, _arviz.LOO)
        # Monte Carlo error of PSIS-LOO from 2000 exact draws: sd ~0.07 over seeds (measured)
        assert res.elpd == pytest.approx(exact, abs=0.3)
        assert res.elpd_i.shape == res.pareto_k.shape == (200,)
        assert res.elpd == pytest.approx(res.elpd_i.sum(), rel=1e-12)
        assert res.se == pytest.approx(np.sqrt(200 * np.var(res.elpd_i)), rel=1e-12)
        assert not res.warning and res.pareto_k.max() < res.good_k
        assert 2.0 < res.p < 6.0  # about d + 1 = 4 parameters for the wide prior, fewer for the narrow


def test_compare_table_is_the_same_on_both_lines(loo_models):
    data = {name: m[0] for name, m in loo_models.items()}
    table = bw.compare_priors(data)
    assert isinstance(table, pd.DataFrame)
    assert list(table.columns) == COMPARE_COLUMNS
    loos = {name: _arviz.loo(d) for name, d in data.items()}
    best = max(loos, key=lambda k: loos[k].elpd)
    assert list(table.index) == sorted(loos, key=lambda k: -loos[k].elpd) and table.index[0] == best
    assert list(table["rank"]) == [0, 1]
    for name, res in loos.items():
        row = table.loc[name]
        assert row["elpd_loo"] == pytest.approx(res.elpd, rel=1e-12)
        assert row["p_loo"] == pytest.approx(res.p, rel=1e-12)
        assert row["se"] == pytest.approx(res.se, rel=1e-12)
        diff = loos[best].elpd_i - res.elpd_i
        assert row["elpd_diff"] == pytest.approx(diff.sum(), abs=1e-9)
        assert row["dse"] == pytest.approx(np.sqrt(200 * np.var(diff)), abs=1e-9)
    assert table["elpd_diff"].iloc[0] == 0.0 and not np.signbit(table["elpd_diff"].iloc[0])
    assert table["elpd_diff"].iloc[1] > 0
    assert table["weight"].sum() == pytest.approx(1.0) and (table["weight"] >= -1e-12).all()
    assert table["warning"].dtype == bool and not table["warning"].any()
    assert set(table["scale"]) == {"log"}
    # the other scales: elpd times -1 or -2, the standard errors and differences times 1 or 2
    for scale, f in (("negative_log", -1.0), ("deviance", -2.0)):
        other = bw.compare_priors(data, scale=scale)
        np.testing.assert_allclose(other["elpd_loo"], f * table["elpd_loo"])
        for col in ("elpd_diff", "se", "dse"):
            np.testing.assert_allclose(other[col], abs(f) * table[col])
        assert set(other["scale"]) == {scale}


def test_waic_needs_arviz_0():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((40, 2))
    y = X @ np.array([0.3, 0.0]) + SIGMA * rng.standard_normal(40)
    data = {"a": conjugate(X, y, 0.5, seed=1)[0], "b": conjugate(X, y, 5.0, seed=2)[0]}
    if _arviz.ARVIZ_1:
        with pytest.raises(ValueError, match="ic='waic'` needs ArviZ 0.x"):
            bw.compare_priors(data, ic="waic")
    else:
        with warnings.catch_warnings():
            # WAIC's own warning on a high posterior variance of the log density is not the point
            warnings.filterwarnings("ignore", message="For one or more samples the posterior variance")
            table = bw.compare_priors(data, ic="waic")
        assert list(table.columns) == ["rank", "elpd_waic", "p_waic", *COMPARE_COLUMNS[3:]]


def test_pareto_warning_is_arvizs_and_is_captured_by_the_report():
    p = bw.seed_problem()
    X, y = p.train.X.numpy(), p.train.y.numpy()
    data, _ = conjugate(X, y, p.tau, sigma=p.sigma, seed=0, draws=200)
    assert _arviz.is_arviz_file("/x/site-packages/arviz_stats/loo/loo_helper.py")
    assert _arviz.is_arviz_file("/x/site-packages/arviz/stats/stats.py")
    assert not _arviz.is_arviz_file("/x/site-packages/bayeswd/_arviz.py")
    found: list = []
    with capture_warnings(found, "gaussian NUTS", "section"):
        res = _arviz.loo(data)
    assert res.warning
    assert len(found) == 1 and found[0].category is UserWarning and "Pareto" in found[0].message
    assert found[0].summary.startswith("PSIS-LOO: Pareto k is high")


# ------------------------------------------------------------------------------------------
# plots


@pytest.mark.parametrize("as_tree", [False, True])
def test_plots_draw_the_installed_lines_container_and_a_datatree(nuts_post, tmp_path, as_tree):
    idata = nuts_post.to_inference_data()
    if as_tree:
        idata = xr.DataTree.from_dict({g: _arviz.get_group(idata, g) for g in _arviz.group_names(idata)})
    ax = plot_forest({"nuts": idata, "again": nuts_post}, hdi_prob=0.9)
    assert isinstance(ax, Axes)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["coef[x1]", "coef[x0]"]
    # the thin lines are the 90% HDI of each weight
    segments = ax.collections[0].get_segments()
    lo, hi = _arviz.hdi(nuts_post.samples["coef"].numpy().reshape(-1, 2), 0.9)
    np.testing.assert_allclose(sorted(s[0, 0] for s in segments), sorted(lo))
    np.testing.assert_allclose(sorted(s[1, 0] for s in segments), sorted(hi))
    fig = plot_densities({"nuts": idata}, hdi_prob=0.9)
    assert isinstance(fig, Figure)
    assert [a.get_title() for a in fig.axes if a.get_visible()] == ["coef[x0]", "coef[x1]"]
    curve = next(ln for ln in fig.axes[0].get_lines() if ln.get_label() == "_density")
    np.testing.assert_allclose(curve.get_xdata()[[0, -1]], [lo[0], hi[0]])
    for name, f in (("forest", ax.figure), ("densities", fig)):
        path = tmp_path / f"{name}.png"
        f.savefig(path, dpi=50)
        assert path.stat().st_size > 1000
