"""``python -m kerasemo.experiments.benchmark``: the same command as ``python -m kerasemo.benchmarks``.

Measures kerasemo's performance figures and writes them to ``experiments/benchmarks.md`` (under
the working directory); ``kerasemo benchmark`` runs it too. Its options, sections and output
are those of `kerasemo.benchmarks.cli`; this entry point only names itself in ``--help`` and in
the command recorded in the table.

Example:

    python -m kerasemo.experiments.benchmark --only foundation --steps 2 --no-write
"""

from __future__ import annotations

import sys

from kerasemo.benchmarks import cli

PROG = "python -m kerasemo.experiments.benchmark"


def build_parser():
    """The benchmark's parser under this entry point's name (`kerasemo.benchmarks.cli`)."""
    return cli.build_parser(PROG)


def main(argv: list[str] | None = None) -> int:
    """Runs `kerasemo.benchmarks.cli.main` under this entry point's name."""
    return cli.main(argv, prog=PROG)


if __name__ == "__main__":
    sys.exit(main())
