"""``python -m utils COMMAND``: the command line (:mod:`utils.cli`)."""

import sys

from utils.cli import main

sys.exit(main())
