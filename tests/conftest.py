"""Shared fixtures: every test starts with a seeded Pyro and an empty parameter store."""

import matplotlib
import pyro
import pytest

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _fresh_pyro():
    pyro.set_rng_seed(0)
    pyro.clear_param_store()
    yield
    pyro.clear_param_store()
