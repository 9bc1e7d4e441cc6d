"""``python -m kerasemo``: the ``kerasemo`` command (see `kerasemo.cli`)."""

import sys

from kerasemo.cli import main

if __name__ == "__main__":
    sys.exit(main())
