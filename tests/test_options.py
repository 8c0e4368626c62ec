"""The method options objects: each setting on the method it configures, never silently ignored."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import bayeswd as bw
from bayeswd.exceptions import ConvergenceWarning, DiagnosticWarning
from bayeswd.infer import NUTS, SVI, Exact, PyroNUTS
from bayeswd.infer.options import options_from_strings

QUIET = dict(progress_bar=False, device="cpu")


def _data(n: int = 20, d: int = 2):
    data = bw.synthetic_data(np.linspace(0.5, -0.5, d), 0.1, n=n, noise=0.3, seed=1)
    return data.X, data.y


@pytest.mark.parametrize(("method", "kwargs", "match"), [
    ("nuts", {"lr": 0.01}, r"`lr` does not apply to NUTS \(method='nuts'\); it is a setting of SVI"),
    ("nuts", {"guide": "lowrank"}, r"`guide` does not apply to NUTS"),
    ("nuts", {"dense_mass": True}, r"`dense_mass` does not apply to NUTS .*PyroNUTS"),
    ("svi", {"num_warmup": 100}, r"`num_warmup` does not apply to SVI .*NUTS or PyroNUTS"),
    ("svi", {"target_accept_prob": 0.9}, r"`target_accept_prob` does not apply to SVI"),
    ("svi", {"backend": "pyro"}, r"`backend` applies to method='nuts' only; got method='svi'"),
    ("exact", {"max_steps": 10}, r"`max_steps` does not apply to Exact \(method='exact'\)"),
    ("exact", {"num_warmup": 10}, r"`num_warmup` does not apply to Exact"),
    ("nuts", {"step_size": 0.1}, r"unexpected keyword argument 'step_size'"),
])
def test_inapplicable_setting_is_a_type_error(method, kwargs, match):
    X, y = _data()
    with pytest.raises(TypeError, match=match):
        bw.sample_posterior(X, y, sigma=0.3, tau=1.0, method=method, **kwargs, **QUIET)


@pytest.mark.parametrize(("method", "match"), [
    (NUTS(), r"`num_warmup` cannot be given next to method=NUTS\(\.\.\.\): set it on the method object, "
             r"e\.g\. method=NUTS\(num_warmup=10\)"),
    (PyroNUTS(), r"`num_warmup` cannot be given next to method=PyroNUTS"),
    (SVI(), r"`num_warmup` does not apply to SVI \(method='svi'\); it is a setting of NUTS or PyroNUTS"),
    (Exact(), r"`num_warmup` does not apply to Exact"),
])
def test_settings_next_to_an_options_object_are_a_type_error(method, match):
    X, y = _data()
    with pytest.raises(TypeError, match=match):
        bw.sample_posterior(X, y, sigma=0.3, tau=1.0, method=method, num_warmup=10, **QUIET)


def test_method_of_a_wrong_type():
    X, y = _data()
    with pytest.raises(TypeError, match=r"`method` must be one of 'auto', 'nuts', .* or an options object .*got type"):
        bw.sample_posterior(X, y, sigma=0.3, tau=1.0, method=NUTS, **QUIET)


@pytest.mark.parametrize(("build", "error", "match"), [
    (lambda: NUTS(num_warmup=-1), ValueError, r"`num_warmup` must be an integer >= 0; got -1"),
    (lambda: NUTS(target_accept_prob=1.0), ValueError, r"`target_accept_prob` must lie in \(0, 1\)"),
    (lambda: NUTS(max_tree_depth=2.5), TypeError, r"`max_tree_depth` must be an integer"),
    (lambda: PyroNUTS(dense_mass="yes"), TypeError, r"`dense_mass` must be True or False"),
    (lambda: PyroNUTS(jit_compile=1), TypeError, r"`jit_compile` must be True or False"),
    (lambda: SVI(guide="flow"), ValueError, r"`guide` must be one of 'auto', 'fullrank'"),
    (lambda: SVI(lr=0.0), ValueError, r"`lr` must be a positive finite number; got 0.0"),
    (lambda: SVI(window=1), ValueError, r"`window` must be an integer >= 2; got 1"),
    (lambda: SVI(num_particles=0), ValueError, r"`num_particles` must be an integer >= 1"),
    (lambda: NUTS(lr=0.1), TypeError, r"unexpected keyword argument 'lr'"),
])
def test_options_validate_when_made(build, error, match):
    with pytest.raises(error, match=match):
        build()


def test_options_are_frozen_and_normalised():
    opts = SVI(lr=1, max_steps=np.int64(50))
    assert isinstance(opts.lr, float) and type(opts.max_steps) is int
    with pytest.raises(AttributeError):
        opts.lr = 0.5  # type: ignore[misc]
    assert NUTS().name == PyroNUTS().name == "nuts" and (NUTS.backend, PyroNUTS.backend) == ("bayeswd", "pyro")


def test_legacy_keywords_warn_and_give_the_same_draws():
    """The old form (settings as keywords) still works for one release, with a FutureWarning."""
    X, y = _data()
    kw = dict(sigma=0.3, tau=1.0, num_samples=30, num_chains=2, seed=3, **QUIET)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DiagnosticWarning)  # 30 draws: too few, on purpose
        new = bw.sample_posterior(X, y, method=NUTS(num_warmup=30, max_tree_depth=6), **kw)
        with pytest.warns(FutureWarning, match=r"use method=NUTS\(num_warmup=30, max_tree_depth=6\)") as rec:
            old = bw.sample_posterior(X, y, num_warmup=30, max_tree_depth=6, **kw)
        with pytest.warns(FutureWarning, match=r"`backend`.*use method=PyroNUTS\(num_warmup=30\)"):
            pyro_old = bw.sample_posterior(X, y, backend="pyro", num_warmup=30, **kw)
    assert rec[0].filename == __file__  # points at the caller's line
    assert torch.equal(new.samples["coef"], old.samples["coef"])
    assert old.settings["max_tree_depth"] == 6 and pyro_old.settings["backend"] == "pyro"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        with pytest.warns(FutureWarning, match=r"use method=SVI\(max_steps=20\)"):
            svi = bw.sample_posterior(X, y, method="svi", max_steps=20, **kw)
    assert svi.settings["svi_steps"] == 20


def test_settings_of_the_run_are_recorded():
    X, y = _data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DiagnosticWarning)
        post = bw.sample_posterior(X, y, sigma=0.3, tau=1.0, num_samples=20, num_chains=1,
                                   method=NUTS(num_warmup=20, target_accept_prob=0.9), **QUIET)
    assert post.method == "nuts"
    assert {k: post.settings[k] for k in ("num_warmup", "target_accept_prob", "backend")} == {
        "num_warmup": 20, "target_accept_prob": 0.9, "backend": "bayeswd"}


def test_options_from_strings():
    assert options_from_strings(NUTS, ["num_warmup=500", "target_accept_prob=0.9"]) == NUTS(
        num_warmup=500, target_accept_prob=0.9)
    assert options_from_strings(SVI, ["guide=lowrank", "lr=none", "jit-compile=false"]) == SVI(
        guide="lowrank", lr=None, jit_compile=False)
    # settings carried over from another method's object where they apply
    assert options_from_strings(PyroNUTS, ["dense_mass=true"], base=NUTS(num_warmup=200)) == PyroNUTS(
        num_warmup=200, dense_mass=True)
    with pytest.raises(ValueError, match=r"NUTS has no setting 'lr'; its settings are: num_warmup"):
        options_from_strings(NUTS, ["lr=0.1"])
    with pytest.raises(ValueError, match=r"settings must look like KEY=VALUE; got 'num_warmup'"):
        options_from_strings(NUTS, ["num_warmup"])
    with pytest.raises(ValueError, match=r"`target_accept_prob` must lie in"):
        options_from_strings(NUTS, ["target_accept_prob=2"])


def test_command_line_builds_the_same_objects():
    from bayeswd.cli import build_parser, settings_from_args

    args = build_parser().parse_args(["demo", "--quick", "--backend", "pyro", "--nuts", "dense_mass=false",
                                      "max_tree_depth=8", "--svi", "guide=meanfield", "lr=0.01"])
    settings = settings_from_args(args, ("gaussian",))
    # --quick's NUTS warm-up is kept, the given settings are applied on top
    assert settings.nuts == PyroNUTS(num_warmup=200, max_tree_depth=8, dense_mass=False)
    assert settings.svi == SVI(guide="meanfield", lr=0.01, max_steps=10_000)
    assert settings.method("svi") is settings.svi


def test_command_line_bad_setting_exits_2(tmp_path):
    from bayeswd.cli import main

    code = main(["demo", "--quick", "--no-progress", "--out", str(tmp_path / "r"), "--nuts", "lr=0.1"])
    assert code == 2
    assert not (tmp_path / "r").exists()
