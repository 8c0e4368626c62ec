"""Shared fixtures: every test starts with a seeded Pyro and an empty parameter store."""

import matplotlib
import pyro
import pytest

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch thread for a module of tiny problems: intra-op threads only add contention."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def _fresh_pyro():
    pyro.set_rng_seed(0)
    pyro.clear_param_store()
    yield
    pyro.clear_param_store()


_CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                   "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
def headless_chromium(tmp_path):
    """Open an HTML file in headless Chromium: ``(screenshot as an RGB array, the rendered DOM)``.

    Skips (saying why) where no Chromium is installed; ``.ci/extra-setup`` installs Debian's package
    (it needs root for apt-get).
    """
    import shutil
    import subprocess

    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        pytest.skip("no Chromium found on PATH; .ci/extra-setup installs Debian's chromium package (as root)")

    def render(html_path):
        from matplotlib.image import imread

        shot = tmp_path / "shot.png"
        base = [browser, *_CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
        subprocess.run([*base, "--window-size=1200,3000", f"--screenshot={shot}", html_path.as_uri()],
                       capture_output=True, timeout=120, check=False)
        assert shot.exists(), "Chromium wrote no screenshot"
        dom = subprocess.run([*base, "--dump-dom", html_path.as_uri()], capture_output=True, text=True,
                             timeout=120, check=False).stdout
        return imread(shot)[..., :3], dom

    return render


def assert_not_blank(img):
    """The page shows text and figures: many pixels differ from the background, in many colours."""
    import numpy as np

    background = np.median(img.reshape(-1, 3), axis=0)
    differs = np.abs(img - background).sum(axis=-1) > 0.1
    assert differs.mean() > 0.02
    assert len(np.unique((img * 255).astype(np.uint8).reshape(-1, 3), axis=0)) > 50
