"""What every entry point does before its work: parse, set up logging, load the configuration,
and turn the library's errors into one-line messages (argparse ``type=`` callables too).

Example:

>>> import argparse
>>> from kerasemo import config as config_lib
>>> parser = argparse.ArgumentParser()
>>> config_lib.add_config_arguments(parser, default="demo")
>>> args, experiment = start(parser, ["--set", "distill.epochs=2"])
>>> experiment.distill.epochs
2
>>> named(args, "overrides")
{'overrides': ['distill.epochs=2']}
>>> with one_line_errors():
...     raise FileNotFoundError("shards/ holds no train shards")
Traceback (most recent call last):
...
SystemExit: error: shards/ holds no train shards
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import os
import pathlib
import sys

from kerasemo import config as config_lib
from kerasemo import quiet

JIT_COMPILE = {"auto": "auto", "true": True, "false": False}
"""``--jit-compile`` choices and the value each gives Keras' ``jit_compile``."""

ERRORS = (FileNotFoundError, ValueError)
"""What the library raises for bad input: shown as ``error: <message>``, without a traceback."""


def add_verbosity_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds ``-v/--verbose`` (repeatable) and ``-q/--quiet`` to an entry point's parser.

    The levels: ``-q`` warnings and errors only, no progress; the default, one line per step of
    work (and progress bars on a terminal); ``-v`` debug messages too; ``-vv`` also TensorFlow's
    native start-up lines. `log_level` and `keras_verbosity` read them.

    Example:

    >>> parser = argparse.ArgumentParser()
    >>> add_verbosity_arguments(parser)
    >>> args = parser.parse_args(["-v"])
    >>> logging.getLevelName(log_level(args))
    'DEBUG'
    """
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="more output: -v adds debug messages, -vv also TensorFlow's native start-up lines",
    )
    group.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="only warnings and errors; no progress bars",
    )


def verbosity(args: argparse.Namespace) -> int:
    """-1 for ``--quiet``, 0 by default, else the number of ``-v`` (0 without those flags)."""
    if getattr(args, "quiet", False):
        return -1
    verbose = getattr(args, "verbose", 0)
    return verbose if isinstance(verbose, int) else 0


def log_level(args: argparse.Namespace) -> int:
    """The logging level that ``-q``/``-v`` ask for: WARNING, INFO (default) or DEBUG."""
    level = verbosity(args)
    return logging.WARNING if level < 0 else logging.DEBUG if level > 0 else logging.INFO


def progress_bars(args: argparse.Namespace, stream=None) -> bool:
    """Whether to draw progress bars: not ``--quiet``, and `stream` is a terminal.

    Args:
        args: the parsed arguments (`add_verbosity_arguments`).
        stream: where the bars would go (default: standard error, where tqdm draws them).

    Example:

    >>> import io
    >>> progress_bars(argparse.Namespace(verbose=0, quiet=False), io.StringIO())
    False
    """
    if verbosity(args) < 0:
        return False
    stream = sys.stderr if stream is None else stream
    return bool(getattr(stream, "isatty", lambda: False)())


def keras_verbosity(args: argparse.Namespace, stream=None) -> int:
    """Keras' ``verbose=`` for `args`: 0 quiet, 1 a progress bar on a terminal, 2 one line per epoch.

    Progress bars are drawn only when `stream` (default: standard output, where Keras writes
    them) is a terminal; redirected to a file or a pipe, training logs one line per epoch.

    Example:

    >>> import io
    >>> keras_verbosity(argparse.Namespace(verbose=0, quiet=False), io.StringIO())
    2
    """
    if verbosity(args) < 0:
        return 0
    return 1 if progress_bars(args, sys.stdout if stream is None else stream) else 2


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions and epilogs as written; every option's help ends with its default.

    ``(default: VALUE)`` is added unless the help already speaks of its default, or the option
    has none worth stating (None, an empty list, a flag such as ``--force`` or ``-v``).

    Example:

    >>> parser = argparse.ArgumentParser(formatter_class=HelpFormatter)
    >>> _ = parser.add_argument("--shard-mb", type=float, default=64.0, help="shard size in MB")
    >>> "shard size in MB (default: 64.0)" in parser.format_help()
    True
    """

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        flag = action.nargs == 0  # store_true, count: the default says nothing
        if flag or "default" in text or action.default in (None, [], argparse.SUPPRESS):
            return text
        return f"{text} (default: %(default)s)"


def docstring_parser(module: str, doc: str, **kwargs) -> argparse.ArgumentParser:
    """A parser for an entry point whose docstring is a description, then "Examples:" and examples.

    Args:
        module: the entry point's module name; ``prog`` is ``python -m <module>`` (not
            ``__name__``, which is ``"__main__"`` under ``python -m``).
        doc: its docstring; the text before a blank line and "Examples:" is the description,
            the rest the epilog (printed as written).
        **kwargs: more `argparse.ArgumentParser` arguments (e.g. ``allow_abbrev=False``).

    Returns:
        The parser, with `HelpFormatter` (every option's help states its default).

    Example:

    >>> parser = docstring_parser("kerasemo.experiments.x", "Does x.")
    >>> parser.prog, parser.description
    ('python -m kerasemo.experiments.x', 'Does x.')
    """
    description, _, examples = doc.partition("\n\nExamples:")
    return argparse.ArgumentParser(
        prog=f"python -m {module}",
        description=description,
        epilog="Examples:" + examples if examples else None,
        formatter_class=HelpFormatter,
        **kwargs,
    )


def add_data_arguments(parser: argparse.ArgumentParser, name: str, help: str, **kwargs) -> None:
    """Adds the stage's data argument (a path) and ``--config``/``--set``, whose default follows it.

    Without the data argument the stage works on the embedded synthetic data and its default
    preset is ``demo``; given one, ``paper`` (`kerasemo.config.DefaultPreset`).

    Args:
        parser: the entry point's parser.
        name: the argument: an option (``"--data"``) or a positional's name (``"audio"``).
        help: its help text (say what leaving it out does).
        **kwargs: more `argparse.ArgumentParser.add_argument` arguments (``nargs="?"``).

    Example:

    >>> parser = argparse.ArgumentParser()
    >>> add_data_arguments(parser, "--data", "folder of shards (default: the demo's)")
    >>> config_lib.chosen_preset(parser.parse_args(["--data", "shards"]))
    'paper'
    """
    parser.add_argument(name, type=pathlib.Path, help=help, **kwargs)
    config_lib.add_config_arguments(parser, demo_without=name)


def named(args: argparse.Namespace, *names: str) -> dict:
    """The arguments called `names`, as keyword arguments of the library call they configure.

    Example:

    >>> named(argparse.Namespace(epochs=2, resume=False, out="x"), "epochs", "resume")
    {'epochs': 2, 'resume': False}
    """
    return {name: getattr(args, name) for name in names}


def parse(
    parser: argparse.ArgumentParser,
    argv: list[str] | None,
    *,
    known: bool = False,
    level: int | None = None,
):
    """Parses `argv` and sets up logging (messages only).

    Args:
        parser: the entry point's parser.
        argv: the arguments (None: ``sys.argv[1:]``).
        known: return ``(args, unknown arguments)`` (`argparse.ArgumentParser.parse_known_args`).
        level: the logging level; None: what ``-q``/``-v`` ask for (`log_level`), INFO
            without those flags.
    """
    parsed = parser.parse_known_args(argv) if known else parser.parse_args(argv)
    args = parsed[0] if known else parsed
    logging.basicConfig(level=log_level(args) if level is None else level, format="%(message)s")
    if verbosity(args) >= 2:
        os.environ.setdefault(quiet.SHOW_ENV, "1")
    return parsed


def load_experiment(
    args: argparse.Namespace, extra_overrides=(), *, source: str | os.PathLike | None = None
) -> config_lib.ExperimentConfig:
    """The configuration of ``--config`` (or `source`) with ``--set`` and `extra_overrides`.

    Raises:
        SystemExit: ``error: <what is wrong>`` for an unknown preset, a missing file, or a bad
            key or value.
    """
    try:
        experiment = config_lib.load_config(config_lib.chosen_preset(args) if source is None else source)
        return config_lib.apply_overrides(experiment, list(args.overrides) + list(extra_overrides))
    except (config_lib.ConfigError, FileNotFoundError) as err:
        raise SystemExit(f"error: {err}") from None


def start(parser: argparse.ArgumentParser, argv: list[str] | None, *, extra_overrides=None):
    """`parse` then `load_experiment`: ``(args, experiment)``.

    Args:
        parser: a parser with `kerasemo.config.add_config_arguments`.
        argv: the arguments (None: ``sys.argv[1:]``).
        extra_overrides: optional ``args -> list of "section.key=value"`` (flags that set keys),
            applied after ``--set``.
    """
    args = parse(parser, argv)
    return args, load_experiment(args, extra_overrides(args) if extra_overrides else ())


@contextlib.contextmanager
def one_line_errors(*errors: type[BaseException]):
    """Turns `ERRORS` (and `errors`) raised inside the block into ``SystemExit("error: ...")``."""
    try:
        yield
    except ERRORS + errors as err:
        raise SystemExit(f"error: {err}") from None


def positive_int(text: str) -> int:
    """An integer >= 1, or an argparse error that quotes what was received."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, received {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, received {text!r}")
    return value


def positive_seconds(text: str) -> float:
    """A finite number of seconds > 0, or an argparse error that quotes what was received."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, received {text!r}") from None
    if not value > 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, received {text!r}")
    return value
