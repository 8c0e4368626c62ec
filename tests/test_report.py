"""run_analysis's output folder (manifest, refusal, atomic writes) and how it reports warnings."""

import json
import re
import warnings

import numpy as np
import pytest

import bayeswd.report as report
from bayeswd.exceptions import BayeswdWarning, ConvergenceWarning, DiagnosticWarning
from bayeswd.report import (
    MANIFEST,
    AnalysisWarning,
    OutputFolderError,
    capture_warnings,
    check_output_folder,
)
from bayeswd.report import analysis as report_analysis
from bayeswd.report import outputs as report_outputs
from bayeswd.report import page as report_page


def _commit(folder, files, force=False):
    outputs = report_outputs.Outputs(folder, force)
    for name, text in files.items():
        outputs.add_bytes(name, text.encode())
    return outputs.commit(last="report.html")


def _state(folder):
    return {p.name: p.read_bytes() if p.is_file() else "dir" for p in folder.iterdir()}


def test_commit_writes_files_and_manifest(tmp_path):
    out = tmp_path / "out"
    path = _commit(out, {"a.csv": "1", "report.html": "<html>1</html>"})
    assert path == out / "report.html" and path.read_text() == "<html>1</html>"
    manifest = json.loads((out / MANIFEST).read_text())
    assert set(manifest["files"]) == {"a.csv", "report.html"}
    assert not list(out.glob("*.tmp")) and not list(out.glob(".*.tmp"))
    check_output_folder(out)  # its own output: may be written again


def test_second_commit_replaces_own_files_and_removes_stale_ones(tmp_path):
    out = tmp_path / "out"
    _commit(out, {"a.csv": "1", "old.png": "x", "report.html": "1"})
    _commit(out, {"a.csv": "2", "report.html": "2"})
    assert _state(out).keys() == {"a.csv", "report.html", MANIFEST}
    assert (out / "a.csv").read_text() == "2"
    assert set(json.loads((out / MANIFEST).read_text())["files"]) == {"a.csv", "report.html"}


@pytest.mark.parametrize("change", ["foreign", "edited", "folder", "no-manifest"])
def test_foreign_or_changed_file_is_refused(tmp_path, change):
    out = tmp_path / "out"
    _commit(out, {"a.csv": "1", "report.html": "1"})
    if change == "foreign":
        (out / "notes.txt").write_text("mine")
        name, reason = "notes.txt", "did not write"
    elif change == "edited":
        (out / "a.csv").write_text("edited by hand")
        name, reason = "a.csv", "changed since"
    elif change == "folder":
        (out / "data").mkdir()
        name, reason = "data", "did not write"
    else:
        (out / MANIFEST).unlink()
        name, reason = "a.csv", "did not write"
    before = _state(out)
    with pytest.raises(OutputFolderError, match=reason) as err:
        check_output_folder(out)
    assert err.value.name == name and err.value.folder == out
    with pytest.raises(OutputFolderError):
        _commit(out, {"a.csv": "2", "report.html": "2"})
    assert _state(out) == before
    check_output_folder(out, force=True)


def test_force_replaces_own_files_and_leaves_foreign_ones(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (out / "report.html").write_text("someone's report")
    _commit(out, {"a.csv": "1", "report.html": "new"}, force=True)
    assert (out / "notes.txt").read_text() == "mine" and (out / "report.html").read_text() == "new"
    assert "notes.txt" not in json.loads((out / MANIFEST).read_text())["files"]
    with pytest.raises(OutputFolderError, match="notes.txt"):  # still not ours: --force each time
        check_output_folder(out)


def test_out_is_a_file(tmp_path):
    (tmp_path / "out").write_text("x")
    with pytest.raises(NotADirectoryError, match="is a file"):
        check_output_folder(tmp_path / "out", force=True)


@pytest.mark.parametrize("exc", [OSError("disk full"), KeyboardInterrupt()])
def test_failure_while_writing_keeps_the_old_report(tmp_path, exc):
    out = tmp_path / "out"
    _commit(out, {"a.csv": "1", "b.png": "1", "report.html": "old"})
    before = _state(out)
    outputs = report_outputs.Outputs(out, False)
    outputs.add_bytes("a.csv", b"2")

    def fail(path):
        path.write_bytes(b"half")
        raise exc

    outputs.add_writer("b.png", fail)
    outputs.add_bytes("report.html", b"new")
    with pytest.raises(type(exc)):
        outputs.commit(last="report.html")
    assert _state(out) == before  # nothing replaced, no temporary file left
    check_output_folder(out)


def test_interrupt_between_replaces_leaves_a_folder_the_next_run_accepts(tmp_path, monkeypatch):
    out = tmp_path / "out"
    _commit(out, {"a.csv": "1", "b.png": "1", "report.html": "old"})
    calls = []
    real_replace = report_outputs.os.replace

    def replace(src, dst):
        calls.append(dst)
        if len(calls) == 3:  # the manifest, a.csv, then stop before b.png
            raise KeyboardInterrupt
        real_replace(src, dst)

    monkeypatch.setattr(report_outputs.os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        _commit(out, {"a.csv": "2", "b.png": "2", "report.html": "new"})
    monkeypatch.undo()
    assert (out / "a.csv").read_text() == "2" and (out / "report.html").read_text() == "old"
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    check_output_folder(out)  # old and new content are both accepted: no --force needed
    _commit(out, {"a.csv": "3", "report.html": "3"})
    assert _state(out).keys() == {"a.csv", "report.html", MANIFEST}


def test_capture_warnings_keeps_bayeswd_and_passes_others():
    found = []
    with pytest.warns(RuntimeWarning, match="not ours"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DiagnosticWarning)  # the report is complete regardless
            with capture_warnings(found, "gaussian NUTS", "Sampler diagnostics", step="gaussian nuts"):
                for _ in range(2):
                    warnings.warn("NUTS diagnostics: max R-hat 1.05 > 1.01.", DiagnosticWarning, stacklevel=1)
                warnings.warn("SVI stopped after 10 steps", ConvergenceWarning, stacklevel=1)
                warnings.warn("not ours", RuntimeWarning, stacklevel=1)
    assert [(w.result, w.category, w.step) for w in found] == [
        ("gaussian NUTS", DiagnosticWarning, "gaussian nuts"),
        ("gaussian NUTS", ConvergenceWarning, "gaussian nuts"),
    ]
    assert "--nuts num_warmup" in found[0].advice and "--svi max_steps" in found[1].advice
    assert str(found[0]) == "gaussian NUTS: NUTS diagnostics: max R-hat 1.05 > 1.01."


def test_capture_warnings_records_what_came_before_an_interrupt():
    found = []
    with pytest.raises(KeyboardInterrupt):
        with capture_warnings(found, "MAP fits"):
            warnings.warn("stopped early", ConvergenceWarning, stacklevel=1)
            raise KeyboardInterrupt
    assert [w.message for w in found] == ["stopped early"]


def test_report_places_warnings_next_to_their_section():
    found = [
        AnalysisWarning("gaussian nuts", "gaussian NUTS", "Sampler diagnostics", DiagnosticWarning,
                        "R-hat <high>", "run longer"),
        AnalysisWarning("choosing sigma and tau", "sigma and tau", None, BayeswdWarning, "evidence at the end",
                        "give --sigma"),
    ]
    rep = report_page.Report("t", "notes", warnings=found)
    rep.add("MAP estimates", "<p>map</p>")
    rep.add("Sampler diagnostics", "<table></table>")
    html = rep.render()
    diag = re.search(r"<section id='sampler-diagnostics'>(.*?)</section>", html, re.S).group(1)
    assert "gaussian NUTS" in diag and "R-hat &lt;high&gt;" in diag and "run longer" in diag
    mapsec = re.search(r"<section id='map-estimates'>(.*?)</section>", html, re.S).group(1)
    assert "class='warn'" not in mapsec
    top = html[: html.index("<section")]
    assert "2 warning(s)" in top and "href='#sampler-diagnostics'" in top and "give --sigma" in top
    assert "class='warn" not in report_page.Report("t").render().split("</style>")[1]


def _tiny_problem():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(30, 3))
    y = X @ np.array([1.0, -0.5, 0.0]) + 0.3 * rng.normal(size=30)
    return X[:22], y[:22], X[22:], y[22:]


def _tiny_settings():
    from bayeswd.infer import NUTS, SVI

    return report.AnalysisSettings(num_samples=100, num_chains=2, nuts=NUTS(num_warmup=100),
                                   svi=SVI(max_steps=3000), n_lams=5, methods=("svi",), priors=("gaussian",))


@pytest.fixture
def warning_sampler(monkeypatch):
    """sample_posterior that warns (a DiagnosticWarning) on the fixed-tau posterior."""
    real = report_analysis.sample_posterior

    def sample(*args, **kwargs):
        if kwargs.get("tau") is not None:
            warnings.warn("NUTS diagnostics: injected.", DiagnosticWarning, stacklevel=2)
        return real(*args, **kwargs)

    monkeypatch.setattr(report_analysis, "sample_posterior", sample)


@pytest.mark.slow
def test_run_analysis_from_python_raises_the_warnings_again(tmp_path, warning_sampler):
    X, y, Xt, yt = _tiny_problem()
    with pytest.warns(DiagnosticWarning, match=r"^gaussian SVI: NUTS diagnostics: injected\.$") as rec:
        path = report.run_analysis(X, y, Xt, yt, out=tmp_path / "out", sigma=0.3, tau=1.0,
                                   settings=_tiny_settings(), progress_bar=False)
    assert rec[0].filename == __file__  # attributed to the caller of run_analysis
    diag = re.search(r"<section id='sampler-diagnostics'>(.*?)</section>", path.read_text(), re.S).group(1)
    assert "injected" in diag and "1 (see below)" in diag
