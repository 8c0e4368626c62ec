"""Dask input: the one pass as a Dask reduction gives the in-memory answer, with bounded client memory.

Tolerances. Both passes compute the same sums in float64 in a different order (blocks of rows
centred at their own means and merged by Chan's update, against one pass centred at the global
mean), so each entry of the statistics differs by rounding of order ``eps`` times the magnitude
of its terms summed over the rows: ``sqrt(n) eps`` typically, ``n eps`` at worst, ~1e-13 for
n = 3000. The statistics are compared at 1e-12 relative (Frobenius norm). Results computed from
them (a Cholesky solve, an eigendecomposition, a lasso on the Gram matrix) multiply that by the
condition number of the posterior precision, below 10 on these standard-normal designs: 1e-10
relative. The evidence maximiser is the exception, see its test.
"""

import math
import threading
import time
import tracemalloc
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")
pytest.importorskip("pyarrow")

import bayeswd as bw  # noqa: E402
from bayeswd._arviz import group_names  # noqa: E402
from bayeswd._dask import RowsElsewhere, moments  # noqa: E402
from bayeswd.cli import main  # noqa: E402
from bayeswd.exceptions import BayeswdWarning  # noqa: E402
from bayeswd.stats import sufficient_statistics  # noqa: E402

STATS_RTOL = 1e-12
RESULT_RTOL = 1e-10


def _rel(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


@pytest.fixture(scope="module")
def data():
    """n = 3000 rows, d = 6 columns with offsets and scales (the centring matters), y offset by 50."""
    rng = np.random.default_rng(7)
    n, d = 3000, 6
    X = rng.standard_normal((n, d)) * [1.0, 2.0, 0.5, 1.0, 3.0, 1.0] + [0.0, 5.0, -3.0, 20.0, 0.0, 1.0]
    y = X @ np.linspace(-1.0, 1.0, d) + 50.0 + rng.standard_normal(n)
    return X, y


def _as_dask(X, y, kind):
    if kind == "array":  # uneven row chunks, and columns split in two chunks (rechunked inside)
        return da.from_array(X, chunks=((500, 1200, 700, 600), (4, 2))), da.from_array(y, chunks=800)
    frame = pd.DataFrame(X, columns=[f"c{j}" for j in range(X.shape[1])]).assign(y=y)
    df = dd.from_pandas(frame, npartitions=7)
    return df.drop(columns="y"), df["y"]


@pytest.mark.parametrize("kind", ["array", "frame"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_statistics_equal_the_in_memory_pass(data, kind, fit_intercept):
    X, y = data
    ref = sufficient_statistics(torch.from_numpy(X), torch.from_numpy(y), fit_intercept)
    got = sufficient_statistics(*_as_dask(X, y, kind), fit_intercept)
    d = X.shape[1]
    assert (got.n, got.d, got.fit_intercept) == (ref.n, ref.d, ref.fit_intercept)
    assert _rel(got.gram, ref.gram) < STATS_RTOL
    # A^T y_c: the intercept's entry is the sum of the centred y, zero up to rounding in both
    assert _rel(got.aty[:d], ref.aty[:d]) < STATS_RTOL
    assert abs(got.yty - ref.yty) < STATS_RTOL * ref.yty
    assert got.shift == pytest.approx(ref.shift, rel=STATS_RTOL)
    cg, cr = got.centred(), ref.centred()
    assert _rel(cg.gram, cr.gram) < STATS_RTOL
    assert _rel(cg.xty, cr.xty) < STATS_RTOL
    assert cg.yty == pytest.approx(cr.yty, rel=STATS_RTOL)


@pytest.mark.parametrize(("prior", "tau"), [("gaussian", 0.5), ("laplace", 0.01)])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_map_fit_equals_the_in_memory_fit(data, prior, tau, fit_intercept):
    X, y = data
    kw = {"prior": prior, "sigma": 1.0, "tau": tau, "fit_intercept": fit_intercept,
          "intercept": None if fit_intercept else 50.0}
    ref = bw.map_fit(X, y, **kw)
    got = bw.map_fit(*_as_dask(X, y, "frame"), **kw)
    assert _rel(got.coef, ref.coef) < RESULT_RTOL
    assert got.intercept == pytest.approx(ref.intercept, rel=RESULT_RTOL)
    assert np.array_equal(got.coef.numpy() == 0, ref.coef.numpy() == 0)  # the same exact zeros
    # U = RSS / (2 sigma^2) + R(w): from the statistics the RSS is a difference of sums of order
    # y_c^T y_c, so it carries eps * yty / RSS of relative rounding (~1e-14 here)
    assert got.objective == pytest.approx(ref.objective, rel=1e-12)
    assert (got.n_train, got.feature_names, got.converged) == (3000, tuple(f"c{j}" for j in range(6)), True)


def test_exact_posterior_and_its_draws_equal_the_in_memory_ones(data):
    X, y = data
    kw = {"sigma": 1.0, "tau": 0.5, "method": "exact", "num_samples": 200, "num_chains": 2, "seed": 3}
    ref = bw.sample_posterior(X, y, **kw)
    got = bw.sample_posterior(*_as_dask(X, y, "array"), **kw)
    for k in ("coef", "intercept"):  # the same seeded noise through the same mean and factor
        assert _rel(got.samples[k], ref.samples[k]) < RESULT_RTOL
    assert isinstance(got.X, RowsElsewhere) and tuple(got.X.shape) == (3000, 6)


@pytest.mark.parametrize("scales", [{"sigma": 1.0, "tau": 0.05}, {}], ids=["fixed", "sampled"])
def test_gibbs_equals_the_in_memory_sampler(data, scales):
    X, y = data
    kw = {"prior": "laplace", "method": bw.Gibbs(num_warmup=100), "num_samples": 100, "num_chains": 2,
          "progress_bar": False, **scales}
    ref = bw.sample_posterior(X, y, **kw)
    # fixed scales: the same seed, so the same draws; sampled: another seed, two independent runs
    got = bw.sample_posterior(*_as_dask(X, y, "frame"), **kw, **({} if scales else {"seed": 1}))
    if scales:
        # fixed scales: conjugate draws, no adaptation; the same seeded updates from statistics
        # equal to rounding stay within rounding of each other (1e-10 relative is generous)
        for k in ref.samples:
            assert _rel(got.samples[k], ref.samples[k]) < RESULT_RTOL, k
        return
    # sampled scales: two independently seeded runs (in memory and through Dask) estimate one
    # posterior; their means agree within 5 standard errors of a difference, sqrt(2) sd / sqrt(ESS)
    for k in ref.samples:
        a, b = got.samples[k].reshape(200, -1), ref.samples[k].reshape(200, -1)
        se = np.sqrt(2.0) * b.std(0) / torch.from_numpy(np.sqrt(np.atleast_1d(ref.diagnostics["ess_bulk"][k])))
        assert ((a.mean(0) - b.mean(0)).abs() <= 5 * se).all(), k


def test_nuts_runs_on_the_statistics_and_finds_the_exact_posterior(data):
    X, y = data
    Xd, yd = _as_dask(X, y, "frame")
    exact = bw.gaussian_posterior(torch.from_numpy(X), torch.from_numpy(y), sigma=1.0, tau=0.5)
    post = bw.sample_posterior(Xd, yd, sigma=1.0, tau=0.5, method=bw.NUTS(num_warmup=150),
                               num_samples=150, num_chains=2, progress_bar=False)
    assert post.settings["likelihood"] == "sufficient statistics"
    draws = post.samples["coef"].reshape(-1, 6)
    # MCMC draws are not the in-memory ones to rounding (warm-up amplifies the last bits); their
    # mean is within 5 Monte Carlo standard errors (sd / sqrt(ESS)) of the exact mean
    mcse = exact.cov.diagonal()[:6].sqrt() / torch.from_numpy(np.sqrt(post.diagnostics["ess_bulk"]["coef"]))
    assert ((draws.mean(0) - exact.mean[:6]).abs() < 5 * mcse).all()


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_default_hyperpriors_come_from_the_moments(data, fit_intercept):
    """sd(y) and the column variances of X (the defaults' scales) from the stand-ins' moments."""
    from bayeswd.exceptions import DiagnosticWarning

    X, y = data
    kw = {"prior": "gaussian", "method": bw.NUTS(num_warmup=20), "num_samples": 20, "num_chains": 1,
          "fit_intercept": fit_intercept, "progress_bar": False}
    with warnings.catch_warnings():  # 20 draws of one chain: the diagnostics rightly complain
        warnings.simplefilter("ignore", DiagnosticWarning)
        ref = bw.sample_posterior(X, y, **kw)
        got = bw.sample_posterior(*_as_dask(X, y, "array"), **kw)
    assert got.hyperpriors == ref.hyperpriors and set(got.hyperpriors) == {"sigma", "tau"}
    assert got.settings["likelihood"] == "sufficient statistics"


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_evidence_equals_the_in_memory_evidence(data, fit_intercept):
    X, y = data
    ref = bw.maximize_evidence(X, y, fit_intercept=fit_intercept, intercept="integrate")
    got = bw.maximize_evidence(*_as_dask(X, y, "array"), fit_intercept=fit_intercept, intercept="integrate")
    # The curve is a smooth function of the spectrum: to rounding.
    assert _rel(got.log_evidence_curve, ref.log_evidence_curve) < RESULT_RTOL
    assert got.log_evidence == pytest.approx(ref.log_evidence, rel=RESULT_RTOL)
    # The maximiser of a function known to rounding delta is known to about sqrt(delta / curvature):
    # with |log evidence| ~ 1e4 and delta ~ 1e-12 of it, lam to ~1e-6 relative (in memory too).
    assert got.lam == pytest.approx(ref.lam, rel=1e-5)
    assert _rel(got.coef, ref.coef) < 1e-8


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_evidence_over_one_scale_equals_the_in_memory_one(data, fit_intercept):
    X, y = data
    for given in ({"sigma": 0.7}, {"tau": 0.3}):
        ref = bw.maximize_evidence_given(X, y, fit_intercept=fit_intercept, **given)
        got = bw.maximize_evidence_given(*_as_dask(X, y, "array"), fit_intercept=fit_intercept, **given)
        # the maximiser of a curve known to rounding: to ~1e-6 relative, as above
        assert got == pytest.approx(ref, rel=1e-5)


@pytest.mark.parametrize("prior", ["gaussian", "laplace"])
def test_lam_sweep_equals_the_in_memory_sweep(data, prior):
    X, y = data
    Xtest, ytest = X[:400] + 0.1, y[:400]
    ref = bw.lam_sweep(X, y, prior=prior, n_lams=15, X_test=Xtest, y_test=ytest)
    Xd, yd = _as_dask(X, y, "frame")
    got = bw.lam_sweep(Xd, yd, prior=prior, n_lams=15, X_test=da.from_array(Xtest, chunks=150),
                       y_test=da.from_array(ytest, chunks=150))
    assert np.allclose(got.lams, ref.lams, rtol=RESULT_RTOL, atol=0)
    assert _rel(got.coef, ref.coef) < RESULT_RTOL
    assert np.array_equal(got.n_nonzero, ref.n_nonzero)
    # the errors from the moments: variance of the residual about its mean from centred sums of
    # order y_c^T y_c, so rounding of eps * yty / RSS relative (~1e-13 here)
    assert np.allclose(got.train_mse, ref.train_mse, rtol=1e-10, atol=0)
    assert np.allclose(got.test_mse, ref.test_mse, rtol=1e-10, atol=0)
    assert got.feature_names == tuple(f"c{j}" for j in range(6))


def test_what_needs_the_rows_is_refused_or_left_out_with_a_clear_message(data):
    X, y = data
    Xd, yd = _as_dask(X, y, "frame")
    with pytest.raises(ValueError, match=r"method` 'sgd' .* use method='newton'"):
        bw.map_fit(Xd, yd, sigma=1.0, tau=1.0, method="sgd")
    with pytest.raises(ValueError, match=r"method` SVI is not available for Dask input"):
        bw.sample_posterior(Xd, yd, method="svi")
    with pytest.raises(ValueError, match=r"method` PyroNUTS is not available"):
        bw.sample_posterior(Xd, yd, method=bw.PyroNUTS())
    small_X, small_y = da.from_array(X[:5], chunks=3), da.from_array(y[:5], chunks=3)
    with pytest.raises(ValueError, match=r"'nuts' with n = 5 rows and d = 6 features \(n <= 7\) .* X.compute\(\)"):
        bw.sample_posterior(small_X, small_y, method="nuts")
    with pytest.raises(ValueError, match=r"'gibbs' with n = 5 rows and d = 6 features \(n <= 6\)"):
        bw.sample_posterior(small_X, small_y, prior="laplace", method="gibbs")
    with pytest.raises(TypeError, match=r"`X` is a Dask collection .* needs its rows in memory"):
        bw.cv_curve(Xd, yd)
    with pytest.raises(TypeError, match=r"`y` must be a Dask collection like the other argument"):
        bw.map_fit(Xd, y, sigma=1.0, tau=1.0)
    post = bw.sample_posterior(Xd, yd, sigma=1.0, tau=0.5, method="exact", num_samples=50)
    with pytest.raises(ValueError, match=r"needs the rows of `X` or `y`, which stay in the Dask collection"):
        post.log_likelihood()
    with pytest.raises(TypeError, match=r"`X_new` is a Dask collection"):
        post.predict(Xd)
    assert post.predict(X[:4]).mean.shape == (4,)  # in-memory new rows are fine
    with pytest.warns(BayeswdWarning, match=r"rows of X stay in the Dask collection"):
        idata = post.to_inference_data()
    assert {"posterior"} <= set(group_names(idata)) and not {"log_likelihood", "observed_data"} & set(group_names(idata))


def test_bad_dask_input_gives_the_in_memory_messages(data):
    X, y = data
    Xbad = X.copy()
    Xbad[10, 2] = np.nan
    with pytest.raises(ValueError, match=r"`X` must contain only finite values; got 1 NaN or inf entries"):
        bw.map_fit(da.from_array(Xbad, chunks=700), da.from_array(y, chunks=700), sigma=1.0, tau=1.0)
    with pytest.raises(ValueError, match=r"`y` must be split into the partitions of `X`: `X` has 2 and `y` 3"):
        # unknown row counts cannot be rechunked to match
        bw.map_fit(da.from_array(X, chunks=1500).to_dask_dataframe().to_dask_array(),
                   da.from_array(y, chunks=1000).to_dask_dataframe().to_dask_array(), sigma=1.0, tau=1.0)
    frame = dd.from_pandas(pd.DataFrame({"a": ["x", "y"] * 5, "b": np.arange(10.0)}), npartitions=2)
    with pytest.raises(ValueError, match=r"non-numeric column\(s\) \['a'\]"):
        bw.map_fit(frame, frame["b"], sigma=1.0, tau=1.0)


def test_large_in_memory_n_leaves_the_per_row_groups_out(monkeypatch):
    import bayeswd.posterior as posterior

    rng = np.random.default_rng(0)
    X = rng.standard_normal((500, 3))
    post = bw.sample_posterior(X, X @ [1.0, 0.0, -1.0] + rng.standard_normal(500), sigma=1.0, tau=1.0,
                               method="exact", num_samples=100, num_chains=2)
    assert "log_likelihood" in group_names(post.to_inference_data())  # 2 x 100 x 500 = 1e5 numbers
    monkeypatch.setattr(posterior, "PER_ROW_MAX_NUMBERS", 99_999)
    with pytest.warns(BayeswdWarning, match=r"would hold 1e\+05 numbers each .* left out"):
        idata = post.to_inference_data()
    assert "log_likelihood" not in group_names(idata) and "posterior_predictive" not in group_names(idata)
    assert "observed_data" in group_names(idata)


# --- a dask.distributed cluster --------------------------------------------------------------------


@pytest.fixture
def client():
    """Two worker processes of one thread: the data never enters this (the client's) process.

    Function-scoped: an active Client becomes Dask's default scheduler, and a module-scoped one
    would carry the later tests (the CLI's, meant for the local threads) onto the cluster, where
    they hung on Python 3.12.

    The reduction's functions reach the workers by value (bayeswd._dask_blocks), so the workers
    import numpy, pandas and dask only. The context managers close the client, then the cluster.
    """
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, memory_limit="1GiB",
                                  dashboard_address=":0") as cluster, distributed.Client(cluster) as c:
        yield c


def test_the_pass_runs_on_the_active_cluster(client, data):
    X, y = data
    ref = bw.sample_posterior(X, y, sigma=1.0, tau=0.5, method="exact", num_samples=100, seed=1)
    with distributed.get_task_stream(client) as stream:
        got = bw.sample_posterior(*_as_dask(X, y, "array"), sigma=1.0, tau=0.5, method="exact",
                                  num_samples=100, seed=1)
    assert sum(str(t["key"]).startswith("block_moments-") for t in stream.data) == 4  # one per row block
    assert _rel(got.samples["coef"], ref.samples["coef"]) < RESULT_RTOL
    imported = client.run(lambda: sorted(m for m in __import__("sys").modules if m.startswith(("bayeswd", "torch"))))
    assert all(not mods for mods in imported.values()), imported


class _PeakMemory:
    """Peak resident memory of this process above its start (sampled every 2 ms) and the peak of
    the allocations Python (and numpy) make, from tracemalloc."""

    def __enter__(self):
        import psutil

        self._proc, self._stop = psutil.Process(), threading.Event()
        self.base = self.peak = self._proc.memory_info().rss
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        tracemalloc.start()
        return self

    def _watch(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self._proc.memory_info().rss)
            time.sleep(0.002)

    def __exit__(self, *exc):
        self.traced = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._proc.memory_info().rss)
        self.growth = self.peak - self.base


def test_a_parquet_data_set_larger_than_the_client_may_hold(client, tmp_path):
    parts, rows, d = 40, 12_500, 15
    w = np.linspace(-1.0, 1.0, d)
    for i in range(parts):  # written part by part: this process never holds the whole set either
        rng = np.random.default_rng(i)
        X = rng.standard_normal((rows, d)) + np.arange(d)
        frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(d)]).assign(y=X @ w + 3.0 + rng.standard_normal(rows))
        frame.to_parquet(tmp_path / f"part-{i:03d}.parquet")
    data_bytes = parts * rows * (d + 1) * 8  # 64 MB as float64
    budget = data_bytes // 8  # what the client may hold: 8 MB
    df = dd.read_parquet(str(tmp_path))
    X, y = df.drop(columns="y"), df["y"]
    kw = {"sigma": 1.0, "tau": 0.5, "method": "exact", "num_samples": 100, "num_chains": 2, "seed": 2}
    bw.sample_posterior(X.partitions[:2], y.partitions[:2], **kw)  # first use: imports, connections
    with _PeakMemory() as mem:
        got = bw.sample_posterior(X, y, **kw)
    assert mem.growth < budget, f"client grew by {mem.growth / 1e6:.1f} MB for {data_bytes / 1e6:.0f} MB of data"
    assert mem.traced < budget
    assert got.X.shape == (parts * rows, d)
    full = pd.read_parquet(tmp_path)  # the in-memory answer, after the measurement
    ref = bw.sample_posterior(full.drop(columns="y"), full["y"], **kw)
    assert _rel(got.samples["coef"], ref.samples["coef"]) < RESULT_RTOL
    assert _rel(got.samples["intercept"], ref.samples["intercept"]) < RESULT_RTOL


# --- the command line ------------------------------------------------------------------------------


def _table(rng, n):
    frame = pd.DataFrame({"a": rng.standard_normal(n), "b": 3.0 * rng.standard_normal(n) + 1.0,
                          "city": rng.choice(["Oslo", "Bergen", "Tromso"], n), "flag": rng.random(n) < 0.3})
    frame["y"] = (1.5 * frame.a - 0.5 * frame.b + 2.0 * (frame.city == "Oslo") + 0.7 * frame.flag
                  + 0.5 * rng.standard_normal(n) + 10.0)
    return frame


def _posterior_draws(folder, name):
    import xarray as xr

    with xr.open_dataset(folder / f"posterior_{name}.nc", group="posterior", engine="h5netcdf") as ds:
        return ds["coef"].values


def test_cli_on_a_csv_glob_gives_the_in_memory_posterior_of_its_split(tmp_path, capsys):
    rng = np.random.default_rng(3)
    files = []
    for i in range(4):  # one partition per file
        files.append(_table(rng, 300 + 50 * i))
        files[-1].to_csv(tmp_path / f"part{i}.csv", index=False)
    out = tmp_path / "report"
    args = [str(tmp_path / "part*.csv"), "--target", "y", "--quick", "--no-progress", "--method", "svi",
            "--sigma", "0.5", "--tau", "1.0", "--seed", "4", "--out", str(out)]
    assert main(["fit", *args]) == 0
    page = (out / "report.html").read_text()
    assert "Not available out of core" in page and "city[Oslo]" in page and "laplace Gibbs" in page
    # the same split and encoding in memory: partition i, row j is a test row when u_j < 0.25
    test = np.concatenate([np.random.default_rng((4, i)).random(len(f)) < 0.25 for i, f in enumerate(files)])
    prep = bw.prepare_table(pd.concat(files, ignore_index=True), "y")
    Xtr, ytr = prep.X[~test], prep.y[~test]
    Xtr = (Xtr - Xtr.mean()) / Xtr.std(ddof=0)
    ref = bw.sample_posterior(Xtr, ytr, sigma=0.5, tau=1.0, method="exact", num_samples=200, num_chains=2,
                              seed=4)
    assert _rel(_posterior_draws(out, "gaussian_exact"), ref.samples["coef"]) < RESULT_RTOL
    assert f"{int((~test).sum())} training and {int(test.sum())} test rows" in page


def test_cli_reads_a_parquet_folder_and_refuses_or_drops_missing_values(tmp_path, capsys):
    from bayeswd._dask_cli import prepare_dask_table, read_table

    rng = np.random.default_rng(5)
    folder = tmp_path / "data"
    folder.mkdir()
    frames = []
    for i in range(3):
        frames.append(_table(rng, 400))
        frames[-1].loc[frames[-1].index[:2], "b"] = np.nan
        frames[-1].to_parquet(folder / f"part-{i}.parquet")
    args = ["fit", str(folder), "--target", "y", "--quick", "--no-progress", "--out", str(tmp_path / "report")]
    assert main(args) == 2
    assert "6 row(s) have missing values in column(s) 'b' (6); pass --missing drop" in capsys.readouterr().err
    df, source, n_files = read_table(str(folder))
    assert n_files == 3 and source.startswith("PARQUET, 3 file(s)")
    prep = prepare_dask_table(df, "y", None, None, "drop")
    assert prep.dropped_rows.count == 6 and dict(prep.dropped_rows.columns) == {"b": 6}
    ref = bw.prepare_table(pd.concat(frames, ignore_index=True), "y", missing="drop")
    assert prep.encoding == ref.encoding  # the same columns, levels and references as in memory
    got = sufficient_statistics(prep.X, prep.y)
    want = sufficient_statistics(torch.tensor(ref.X.to_numpy()), torch.tensor(ref.y.to_numpy()))
    assert got.n == 1194 and _rel(got.gram, want.gram) < STATS_RTOL
    assert main(["fit", str(tmp_path / "nothing*.csv"), "--target", "y", "--out", str(tmp_path / "r2")]) == 2
    assert "no file matches" in capsys.readouterr().err


def test_moments_merge_is_exact_for_any_partitioning(data):
    X, y = data
    one, _ = moments(da.from_array(X, chunks=3000), da.from_array(y, chunks=3000))
    many, _ = moments(da.from_array(X, chunks=37), da.from_array(y, chunks=37))  # 82 blocks, a 2-level tree
    assert one.n == many.n == 3000
    assert _rel(many.xx, one.xx) < STATS_RTOL and _rel(many.x_mean, one.x_mean) < STATS_RTOL
    assert many.yy == pytest.approx(one.yy, rel=STATS_RTOL)
    assert math.isclose(many.y_mean, one.y_mean, rel_tol=STATS_RTOL)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert one.mse(np.zeros(6), 0.0) == pytest.approx(float(np.mean(y**2)), rel=1e-12)
