"""The ``bayeswd`` command: CSV error cases (clear message, exit 2, no traceback), quick runs, warnings
reported and not spilled, the output folder (refusal, --force, atomic writes) and Ctrl-C."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import assert_not_blank

import bayeswd.report as report
from bayeswd.cli import main
from bayeswd.report import analysis as report_analysis
from bayeswd.report import outputs as report_outputs


def run_cli(*args):
    """Run ``python -m bayeswd`` in a subprocess, as a user would."""
    return subprocess.run([sys.executable, "-m", "bayeswd", *args], capture_output=True, text=True, timeout=900)


def _write_good_csv(folder):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    df = pd.DataFrame(X, columns=["age", "bmi", "bp"]).assign(y=X @ [1.0, -0.5, 0.0] + 0.3 * rng.normal(size=40))
    path = folder / "data.csv"
    df.to_csv(path, index=False)
    return path


@pytest.fixture
def good_csv(tmp_path):
    return _write_good_csv(tmp_path)


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        (None, ["missing.csv", "--target", "y"], r"CSV file '.*missing.csv' not found"),
        ("", ["{csv}", "--target", "y"], r"CSV file '.*' is empty"),
        ("a,y\n", ["{csv}", "--target", "y"], r"has a header but no data rows"),
        ("a,b\n1,2\n", ["{csv}", "--target", "y"], r"--target column 'y' is not in .*; columns are \['a', 'b'\]"),
        ("a,y\n1,2\n", ["{csv}", "--target", "y", "--features", "a", "zz"], r"--features column\(s\) \['zz'\] not in"),
        ("a,y\n1,2\nx,3\n" + "4,5\n" * 8, ["{csv}", "--target", "y"], r"column\(s\) \['a'\] hold non-numeric values \(e.g. \{'a': 'x'\}\)"),
        ("a,y\n1,2\n,3\n" + "4,5\n" * 8, ["{csv}", "--target", "y"], r"1 row\(s\) have missing values \(file lines 3\)"),
        ("a,y\n1,2\n3,4\n", ["{csv}", "--target", "y"], r"has 2 rows; at least 8 are needed"),
        ("a,y\n" + "1,2\n" * 10, ["{csv}", "--target", "y", "--features", "y"], r"--target column 'y' is also listed"),
    ],
    ids=["missing-file", "empty-file", "no-rows", "missing-target", "missing-feature", "non-numeric", "nan-row",
         "too-few-rows", "target-as-feature"],
)
def test_fit_bad_csv_gives_clear_error(tmp_path, capsys, content, args, message):
    csv = tmp_path / "bad.csv"
    if content is not None:
        csv.write_text(content)
    argv = ["fit", *[a.format(csv=csv) if a == "{csv}" else (str(tmp_path / a) if a == "missing.csv" else a) for a in args],
            "--out", str(tmp_path / "out"), "--no-progress"]
    status = main(argv)
    err = capsys.readouterr().err
    assert status == 2
    assert re.search(message, err), err
    assert "Traceback" not in err
    assert not (tmp_path / "out" / "report.html").exists()


def test_bad_option_value_exits_2(good_csv):
    proc = run_cli("fit", str(good_csv), "--target", "y", "--sigma", "-1")
    assert proc.returncode == 2
    assert "expected a positive number, got '-1'" in proc.stderr and "Traceback" not in proc.stderr


def test_backend_option_reaches_the_settings():
    from bayeswd.cli import build_parser, settings_from_args

    args = build_parser().parse_args(["demo", "--quick", "--backend", "pyro", "--method", "nuts"])
    settings = settings_from_args(args, ("gaussian",))
    assert (settings.nuts.backend, settings.methods, settings.num_chains) == ("pyro", ("nuts",), 2)
    assert settings_from_args(build_parser().parse_args(["demo"]), ("gaussian",)).nuts.backend == "bayeswd"
    proc = run_cli("demo", "--backend", "stan")
    assert proc.returncode == 2 and "invalid choice: 'stan'" in proc.stderr


def test_help_lists_commands():
    proc = run_cli("--help")
    assert proc.returncode == 0 and "demo" in proc.stdout and "fit" in proc.stdout


def _check_report(out: Path):
    html = (out / "report.html").read_text()
    images = re.findall(r'<img src="([^"]+)"', html)
    assert len(images) >= 6
    for name in images:  # every image the HTML refers to exists and is a non-empty PNG
        data = (out / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    summary = pd.read_csv(out / "summary.csv")
    assert {"estimate", "feature", "mean", "sd", "q3%", "q97%"} <= set(summary.columns)
    assert list(out.glob("posterior_*.nc"))
    return html, summary


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """One quick demo run (NUTS), shared by the tests below.

    NUTS gets 5 warm-up steps and trajectories of one leapfrog step, so that the run warns about the
    fixed-prior posteriors (200 weights). Full Bayes over tau (the weights integrated out, NUTS on
    log tau alone) stays healthy even so.
    """
    out = tmp_path_factory.mktemp("demo") / "report"
    proc = run_cli("demo", "--quick", "--out", str(out), "--no-progress", "--method", "nuts", "--nuts", "num_warmup=5",
                   "max_tree_depth=1")
    return out, proc


@pytest.fixture(scope="module")
def fit_run(tmp_path_factory):
    """One quick, healthy run on a small CSV (laplace prior, NUTS), shared by the tests below."""
    folder = tmp_path_factory.mktemp("fit")
    csv, out = _write_good_csv(folder), folder / "fit"
    proc = run_cli("fit", str(csv), "--target", "y", "--prior", "laplace", "--method", "nuts", "--quick",
                   "--out", str(out), "--no-progress")
    return csv, out, proc


@pytest.mark.slow
def test_demo_quick_end_to_end(demo_run):
    import torch

    import bayeswd as bw
    from bayeswd import _arviz

    out, proc = demo_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == f"Report written to {(out / 'report.html').resolve()}"
    html, summary = _check_report(out)
    assert "weight_decay" in html and "sgd_weight_decay_mse_mean" in html
    # the summary agrees with the API: the MAP rows are map_fit's coefficients
    p = bw.seed_problem()
    fit = bw.map_fit(p.train.X, p.train.y, sigma=p.sigma, tau=p.tau)
    rows = summary[summary["estimate"] == "gaussian MAP"]
    np.testing.assert_allclose(rows["mean"].to_numpy(), fit.coef.numpy(), rtol=1e-9, atol=1e-12)
    # the saved posteriors load back with their feature coordinate
    idata = _arviz.from_netcdf(next(out.glob("posterior_gaussian_nuts.nc")))
    assert idata.posterior["coef"].shape[-1] == 200
    torch.testing.assert_close(torch.as_tensor(idata.posterior["coef"].mean(("chain", "draw")).values),
                               torch.as_tensor(summary[summary["estimate"] == "gaussian NUTS"]["mean"].to_numpy().copy()))


@pytest.mark.slow
def test_fit_csv_end_to_end(fit_run):
    _, out, proc = fit_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    html, summary = _check_report(out)
    assert set(summary["feature"]) == {"age", "bmi", "bp"}
    assert "bayeswd: data.csv" in html


@pytest.mark.slow
def test_report_renders_in_headless_browser(headless_chromium, demo_run):
    out, proc = demo_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    img, dom = headless_chromium(out / "report.html")
    assert_not_blank(img)
    assert "Predictive comparison" in dom and "<img" in dom


# --- the command reports, it does not spill -------------------------------------------------------


@pytest.mark.slow
def test_healthy_run_prints_nothing_on_stderr(fit_run):
    _, out, proc = fit_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr == "", proc.stderr  # no warning, no source line, no progress bar (--no-progress)
    assert proc.stdout.splitlines() == [f"Report written to {(out / 'report.html').resolve()}"]
    html = (out / "report.html").read_text()
    assert "<div class='warn" not in html and "warning(s)" not in html


@pytest.mark.slow
def test_warnings_are_listed_once_at_the_end_and_next_to_their_result(demo_run):
    out, proc = demo_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stderr.splitlines()
    # stderr is the list and nothing else: no raw Python warning (file path, source line), no traceback
    assert re.fullmatch(r"bayeswd demo: (\d+) warning\(s\); the report shows each next to its result, with what "
                        r"to do:", lines[0]), proc.stderr
    assert len(lines) == 1 + int(re.search(r"\d+", lines[0]).group()) and all(li.startswith("  - ") for li in lines[1:])
    assert not re.search(r"\.py:\d+|Traceback|DiagnosticWarning|warnings\.warn", proc.stderr)
    nuts = [li for li in lines if li.startswith("  - gaussian NUTS: NUTS diagnostics")]
    assert len(nuts) == 1, proc.stderr
    assert not [li for li in lines if "tau sampled" in li], proc.stderr
    # the report: a summary at the top, and the warning (with what to do) in the diagnostics section
    html = (out / "report.html").read_text()
    top = html[: html.index("<section")]
    assert "warning(s)" in top and "href='#sampler-diagnostics'" in top
    diag = re.search(r"<section id='sampler-diagnostics'>(.*?)</section>", html, re.S).group(1)
    box = re.search(r"<div class='warn'><b>&#9888; gaussian NUTS</b>: NUTS diagnostics(.*?)</div>", diag, re.S)
    assert box and "What to do:" in box.group(1) and "num_warmup" in box.group(1)
    n_nuts = sum(li.startswith(("  - gaussian NUTS: NUTS diagnostics", "  - laplace NUTS: NUTS diagnostics"))
                 for li in lines)
    # the K-fold refits of the comparison (PSIS-LOO's Pareto k is high at d = 200, n = 20) share the
    # broken settings: one line for all of them, not one per refit
    assert sum("K-fold refits warned" in li for li in lines) == 1, proc.stderr
    assert diag.count("(see below)") == n_nuts  # the table row of each posterior points at it


# --- nothing lost ---------------------------------------------------------------------------------


def _state(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir()}


@pytest.fixture
def tiny_quick(monkeypatch):
    """--quick made tiny, for in-process runs that only exercise the output folder."""
    from bayeswd.infer import NUTS, SVI

    tiny = report.AnalysisSettings(num_samples=100, num_chains=2, nuts=NUTS(num_warmup=100),
                                   svi=SVI(max_steps=3000), n_lams=5)
    monkeypatch.setattr(report.AnalysisSettings, "quick", classmethod(lambda cls, **changes: tiny))


def _fit_args(csv, out, *extra):
    return ["fit", str(csv), "--target", "y", "--prior", "gaussian", "--method", "svi", "--quick", "--no-progress",
            "--out", str(out), *extra]


@pytest.mark.slow
def test_refuses_to_overwrite_a_file_it_did_not_write(tmp_path, capsys, fit_run):
    csv, first, _ = fit_run
    out = tmp_path / "out"
    shutil.copytree(first, out)
    (out / "notes.txt").write_text("my notes")
    before = _state(out)
    assert main(_fit_args(csv, out)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert re.fullmatch(r"bayeswd fit: error: --out .*out holds 'notes.txt', which bayeswd did not write; "
                        r"use --force to overwrite, or another --out\n", err), err
    assert _state(out) == before


@pytest.mark.slow
def test_second_run_into_its_own_output_then_force(tmp_path, capsys, fit_run, tiny_quick):
    csv, first, _ = fit_run
    out = tmp_path / "out"
    shutil.copytree(first, out)
    old_report = (out / "report.html").read_bytes()
    # its own previous output (another prior and method): no --force needed; its stale files go
    assert main(_fit_args(csv, out)) == 0, capsys.readouterr().err
    assert capsys.readouterr().err == ""
    assert (out / "report.html").read_bytes() != old_report
    assert (out / "posterior_gaussian_svi.nc").exists() and not (out / "posterior_laplace_nuts.nc").exists()
    manifest = json.loads((out / ".bayeswd-report.json").read_text())["files"]
    assert set(manifest) == {p.name for p in out.iterdir()} - {".bayeswd-report.json"}
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    # a foreign file: --force writes anyway and leaves it alone
    (out / "notes.txt").write_text("my notes")
    assert main(_fit_args(csv, out, "--force")) == 0
    assert (out / "notes.txt").read_text() == "my notes"
    assert "notes.txt" not in json.loads((out / ".bayeswd-report.json").read_text())["files"]


@pytest.mark.slow
def test_report_without_pointwise_log_likelihood_says_so(tmp_path, capsys, good_csv, tiny_quick, monkeypatch):
    # above PER_ROW_MAX_NUMBERS the posteriors leave the per-row groups out; the comparison section
    # says LOO was not computed instead of failing the run
    import bayeswd.posterior

    monkeypatch.setattr(bayeswd.posterior, "PER_ROW_MAX_NUMBERS", 10)
    out = tmp_path / "out"
    args = ["fit", str(good_csv), "--target", "y", "--prior", "both", "--method", "nuts", "--quick",
            "--no-progress", "--out", str(out)]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "left out" in err  # the one warning of the run, listed at the end
    html = (out / "report.html").read_text()
    assert "Not computed: the pointwise log-likelihood" in html


# --- Ctrl-C ---------------------------------------------------------------------------------------


def test_interrupt_stops_with_one_line_and_status_130(tmp_path, capsys, good_csv, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(report_analysis, "sample_posterior", interrupted)
    out = tmp_path / "out"
    assert main(_fit_args(good_csv, out)) == 130
    assert capsys.readouterr().err == "bayeswd fit: interrupted; nothing was written\n"
    assert not out.exists()


@pytest.mark.slow
def test_interrupt_while_writing_says_which_files_and_keeps_the_old_report(tmp_path, capsys, fit_run, tiny_quick,
                                                                          monkeypatch):
    csv, first, _ = fit_run
    out = tmp_path / "out"
    shutil.copytree(first, out)
    old_report = (out / "report.html").read_bytes()
    real_replace, calls = report_outputs.os.replace, []

    def replace(src, dst):
        calls.append(dst)
        if len(calls) == 3:  # the manifest and one file are in place
            raise KeyboardInterrupt
        real_replace(src, dst)

    monkeypatch.setattr(report_outputs.os, "replace", replace)
    assert main(_fit_args(csv, out)) == 130
    err = capsys.readouterr().err
    assert re.fullmatch(r"bayeswd fit: interrupted while writing; 1 file\(s\) in .* were replaced \([^,]+\); "
                        r"report.html was not rewritten\n", err), err
    assert (out / "report.html").read_bytes() == old_report
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    report.check_output_folder(out)  # the next run accepts the folder without --force
