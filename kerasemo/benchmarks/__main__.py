"""``python -m kerasemo.benchmarks``: measures the benchmark sections (see `kerasemo.benchmarks.cli`)."""

import sys

from kerasemo.benchmarks.cli import main

if __name__ == "__main__":
    sys.exit(main())
