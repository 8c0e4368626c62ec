"""The report: a whole analysis into one folder (MAP, sweeps, lambda selection, posteriors, plots).

:func:`run_analysis` is what the ``bayeswd demo`` and ``bayeswd fit`` commands call. It writes

- ``report.html``: the figures, a table of what lambda, tau and ``weight_decay`` mean for this data
  set in each convention, the MAP fits and the sampler diagnostics;
- the figures as PNG files;
- ``summary.csv``: one row per (posterior or MAP, weight) with mean, sd and the 3% and 97%
  quantiles (an equal-tailed 94% interval);
- ``posterior_<prior>_<method>.nc``: every posterior, one netCDF group per ArviZ group (written
  from InferenceData with ArviZ 0.x, from a DataTree with 1.x; either line, and
  ``xarray.open_datatree``, reads both);
- ``.bayeswd-report.json``: the manifest, the files this run wrote and their SHA-256.

Nothing is lost: :func:`run_analysis` refuses a folder that holds a file no earlier run wrote
(or one changed since), unless ``force=True``. Every file is kept in memory or under a temporary
name until the analysis is done, then moved into place with :func:`os.replace`, ``report.html``
last, so an interrupted or failed run leaves the previous report whole.

Warnings are reported, not spilled: the warnings of bayeswd (:class:`~bayeswd.exceptions.BayeswdWarning`
and its subclasses) and ArviZ's PSIS-LOO warnings raised in each step are caught and shown in the
report next to the result they concern, with what to do about them (see :class:`AnalysisWarning`).

The package has one module per concern: :mod:`~bayeswd.report.analysis` (the settings, the
sections and :func:`run_analysis`), :mod:`~bayeswd.report.classifier` (the same for a
classification target, :func:`run_classifier_analysis`: C by cross-validation and evidence, MAP
and NUTS posteriors of logistic or softmax regression, held-out scores and calibration),
:mod:`~bayeswd.report.captured` (the warnings), :mod:`~bayeswd.report.outputs` (the output
folder) and :mod:`~bayeswd.report.page` (the HTML).
"""

from bayeswd.report.analysis import AnalysisSettings, run_analysis
from bayeswd.report.captured import AnalysisWarning, capture_warnings
from bayeswd.report.classifier import run_classifier_analysis
from bayeswd.report.outputs import MANIFEST, OutputFolderError, check_output_folder

__all__ = [
    "MANIFEST",
    "AnalysisSettings",
    "AnalysisWarning",
    "OutputFolderError",
    "capture_warnings",
    "check_output_folder",
    "run_analysis",
    "run_classifier_analysis",
]
