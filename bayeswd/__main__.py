"""``python -m bayeswd``: the same as the ``bayeswd`` command."""

import sys

from bayeswd.cli import main

sys.exit(main())
