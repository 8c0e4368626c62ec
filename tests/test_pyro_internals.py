"""Every use of Pyro's private API (bayeswd/infer/pyro_internals.py), exercised by name.

A Pyro release that renames or changes one of these fails here, with the name of what broke,
instead of deep inside a sampler or SVI run.
"""

from __future__ import annotations

import inspect

import pyro
import pyro.distributions as dist
import torch
from pyro.infer.autoguide import AutoMultivariateNormal, AutoNormal
from pyro.infer.mcmc import NUTS

from bayeswd.infer.pyro_internals import (
    RecordingNUTS,
    guide_unpack_latent,
    latent_sites,
    meanfield_loc_scale,
)


def _model() -> None:
    a = pyro.sample("a", dist.Normal(torch.zeros(2, dtype=torch.float64), 1.0).to_event(1))
    pyro.sample("s", dist.HalfNormal(torch.tensor(1.0, dtype=torch.float64)))
    pyro.sample("obs", dist.Normal(a.sum(), 1.0), obs=torch.tensor(0.5, dtype=torch.float64))


def test_nuts_build_tree_signature_is_the_one_recording_nuts_overrides() -> None:
    params = list(inspect.signature(NUTS._build_tree).parameters)
    assert params == ["self", "z", "r", "z_grads", "log_slice", "direction", "tree_depth",
                      "energy_current"], params


def test_recording_nuts_reads_the_kernels_statistics() -> None:
    def potential(z: dict[str, torch.Tensor]) -> torch.Tensor:
        return 0.5 * (z["x"] ** 2).sum()

    pyro.set_rng_seed(0)
    kernel = RecordingNUTS(potential_fn=potential, max_tree_depth=5)
    kernel.initial_params = {"x": torch.zeros(2, dtype=torch.float64)}
    kernel.setup(5)
    z = kernel.initial_params
    accepts = []
    for _ in range(10):
        before = kernel.divergence_count()
        z = kernel.sample(z)
        assert 1 <= kernel.depth_now <= 5
        assert kernel.divergence_count() >= before
        accepts.append(kernel.mean_accept_prob)
    assert all(0.0 <= a <= 1.0 for a in accepts)
    assert isinstance(kernel.divergence_count(), int)
    kernel.cleanup()


def test_guide_internals() -> None:
    with pyro.get_param_store().scope():
        mf = AutoNormal(_model)
        mf()
        assert [name for name, _ in latent_sites(mf)] == ["a", "s"]
        loc, scale = meanfield_loc_scale(mf, "a")
        assert loc.shape == scale.shape == (2,)
        full = AutoMultivariateNormal(_model)
        full()
        latent = full.get_posterior().sample()
        unpacked = {site["name"]: value for site, value in guide_unpack_latent(full, latent)}
        assert set(unpacked) == {"a", "s"} and unpacked["a"].shape == (2,)
        assert unpacked["s"].shape == ()
