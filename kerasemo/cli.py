"""The ``kerasemo`` command: one sub-command per stage of the method.

``kerasemo STAGE [ARGS...]`` runs the stage's entry point, ``kerasemo.experiments.<stage>``, with
``ARGS``, exactly as ``python -m kerasemo.experiments.<stage> ARGS...`` does; ``kerasemo STAGE
--help`` shows the stage's own options. Stage names take dashes or underscores
(``train-teacher`` or ``train_teacher``).

``kerasemo --help`` lists the stages without importing TensorFlow: the table below is all it
reads, and a stage's module is imported only when that stage runs.

Usage:

    kerasemo --help
    kerasemo distill                          # the whole method on the embedded synthetic corpus
    kerasemo train-teacher --help
    kerasemo predict talk.wav --model runs/demo/distill/student.keras
    python -m kerasemo --version              # the same command without the console script

Example (the stage that a name runs):

>>> from kerasemo.cli import resolve_stage
>>> resolve_stage("train-teacher").module
'kerasemo.experiments.train_teacher'
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import importlib
import sys

from kerasemo import __version__

PROG = "kerasemo"


@dataclasses.dataclass(frozen=True)
class Stage:
    """One sub-command of ``kerasemo``.

    Args:
        name: the command-line name, with dashes (``train-teacher``).
        module: the entry-point module; its ``main(argv)`` runs the stage.
        summary: one line for ``kerasemo --help``.

    Example:

    >>> Stage("predict", "kerasemo.experiments.predict", "emotion timeline").name
    'predict'
    """

    name: str
    module: str
    summary: str


# The stages in the order the method runs them. Each module's docstring is its full description.
STAGES: tuple[Stage, ...] = (
    Stage(
        "make-synthetic",
        "kerasemo.experiments.make_synthetic",
        "write the synthetic audio-visual corpus (default data)",
    ),
    Stage(
        "train-teacher",
        "kerasemo.experiments.train_teacher",
        "train the SE-ResNet face teacher on FERPlus",
    ),
    Stage(
        "build-emovoxceleb",
        "kerasemo.experiments.build_emovoxceleb",
        "label face tracks with the teacher; write TFRecords",
    ),
    Stage(
        "build-emovoxceleb-beam",
        "kerasemo.experiments.build_emovoxceleb_beam",
        "the same build on Apache Beam (Dataflow, Flink, Spark)",
    ),
    Stage(
        "distill",
        "kerasemo.experiments.distill",
        "distil the speech student (no --data: the whole demo)",
    ),
    Stage(
        "probe",
        "kerasemo.experiments.probe",
        "linear probes on labelled speech (Table 5, Figure 5)",
    ),
    Stage(
        "export",
        "kerasemo.experiments.export",
        "export a student: SavedModel, TFLite and a model card",
    ),
    Stage(
        "predict",
        "kerasemo.experiments.predict",
        "emotion timeline of audio or video files",
    ),
    Stage(
        "inspect",
        "kerasemo.experiments.inspect",
        "what the front-end and student make of an audio file",
    ),
    Stage(
        "diagnose-transfer",
        "kerasemo.experiments.diagnose_transfer",
        "synthetic corpus: ceiling, learning curves, targets",
    ),
    Stage(
        "benchmark",
        "kerasemo.experiments.benchmark",
        "measure the performance figures, write the report",
    ),
)


class UnknownStageError(ValueError):
    """The name given to ``kerasemo`` is not one of its stages."""


def stage_names() -> list[str]:
    """The stage names ``kerasemo`` accepts (dash form), in the order the method runs them.

    Example:

    >>> stage_names()[:2]
    ['make-synthetic', 'train-teacher']
    """
    return [stage.name for stage in STAGES]


def resolve_stage(name: str) -> Stage:
    """The stage called `name` (dashes or underscores).

    Args:
        name: a stage name such as ``"train-teacher"`` or ``"train_teacher"``.

    Returns:
        The matching `Stage`.

    Raises:
        UnknownStageError: if no stage has that name; the message lists the stages.

    Example:

    >>> resolve_stage("make_synthetic").name
    'make-synthetic'
    """
    wanted = name.replace("_", "-")
    for stage in STAGES:
        if stage.name == wanted:
            return stage
    close = difflib.get_close_matches(wanted, stage_names(), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise UnknownStageError(
        f"unknown stage {name!r}{hint}; choose one of: {', '.join(stage_names())} "
        f"(`{PROG} --help` describes them)"
    )


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``kerasemo`` itself: ``--help``, ``--version``, the stage and its arguments."""
    width = max(len(name) for name in stage_names()) + 2
    table = "\n".join(f"  {stage.name:<{width}}{stage.summary}" for stage in STAGES)
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Speech emotion recognition learned from faces, without labelled speech:\n"
        "cross-modal distillation from a face teacher to a speech student.\n"
        "Each stage of the method is one command.",
        epilog=f"stages:\n{table}\n\n`{PROG} STAGE --help` shows a stage's own options.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument(
        "stage", metavar="STAGE", help="the stage to run (listed below; dashes or underscores)"
    )
    parser.add_argument(
        "args", nargs=argparse.REMAINDER, metavar="ARGS", help="the stage's own arguments"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs ``kerasemo STAGE [ARGS...]``: the stage's ``main(ARGS)``, and returns its exit code.

    Args:
        argv: the arguments after ``kerasemo`` (default: ``sys.argv[1:]``).

    Returns:
        The stage's exit code; 2 for an unknown stage (after a one-line error on stderr).

    Example:

        main(["make-synthetic", "--out", "data/synthetic"])  # = kerasemo make-synthetic ...
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    if not argv:
        parser.error(f"name a stage: {', '.join(stage_names())} (`{PROG} --help` describes them)")
    args = parser.parse_args(argv)
    try:
        stage = resolve_stage(args.stage)
    except UnknownStageError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    entry_point = importlib.import_module(stage.module)
    code = entry_point.main(args.args)
    return 0 if code is None else code
