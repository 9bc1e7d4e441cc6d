"""The names of the tf.distribute strategies kerasemo builds, and the ``--strategy`` argument.

TensorFlow-free, so that an entry point can describe ``--strategy`` in its ``--help`` without
loading TensorFlow; `kerasemo.distribute.make_strategy` builds them.

Example:

>>> import argparse
>>> parser = argparse.ArgumentParser()
>>> add_strategy_argument(parser)
>>> parser.parse_args(["--strategy", "mirrored"]).strategy
'mirrored'
"""

from __future__ import annotations

STRATEGIES = ("default", "mirrored", "multi_worker")

STRATEGY_HELP = (
    "tf.distribute strategy: default (one device), mirrored (all GPUs of this machine), "
    "multi_worker (several machines, each run with its own TF_CONFIG). The batch size is the "
    "global batch across all replicas; only the chief writes outputs."
)


def add_strategy_argument(parser) -> None:
    """Adds ``--strategy`` (choices `STRATEGIES`, default ``default``) to an argparse parser.

    Args:
        parser: an `argparse.ArgumentParser`.
    """
    parser.add_argument("--strategy", choices=STRATEGIES, default="default", help=STRATEGY_HELP)
