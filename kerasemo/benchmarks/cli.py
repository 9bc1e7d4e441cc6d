"""Measures kerasemo's performance figures and writes them to ``experiments/benchmarks.md``.

Every figure is measured in one process, side by side, so that ratios (the figures that carry
over between machines) are not skewed by another job on a shared machine. Absolute figures are
one-off measurements on the machine described in the table's header.

Sections (``--only`` selects some; the file keeps the other sections as they were):

- ``foundation``: the machine's own conv2d throughput; the VGG-M student's training step (paper
  size unless ``--config``/``--set`` say otherwise) in samples/s and as a fraction of the conv
  throughput; the graph front-end's cost per batch as a fraction of that step; graph front-end
  vs NumPy reference throughput; peak memory of the training step.
- ``synthetic``: generation time of the embedded corpus (demo and tiny presets).
- ``teacher``: teacher inference throughput at paper size, demo training throughput, and the
  estimated cost of labelling VoxCeleb's frames on this CPU and on an H100.
- ``emovoxceleb``: shard building speed and stage shares, storage per second of audio, shard
  reading speed against raw disk reads.
- ``probe``: embedding extraction real-time factor; probe fit time vs scikit-learn.
- ``export``: real-time factor of Keras, SavedModel, TFLite variants and ONNX, with model sizes,
  conversion times and parity.
- ``routes``: how far the SavedModel's and the TFLite models' utterance answers are from the
  ``.keras`` route's, per clip length (``--student``, else the main job's student, else random
  weights).
- ``distill``: input-pipeline throughput vs the training step, an H100 feed estimate, peak
  memory of distillation on 1x and 4x as many shards.
- ``student``: the demo student's training step with the previous and the current demo recipe
  and their ratio, the paper-size step against the conv reference, per-layer forward profiles.
- ``beam``: the Apache Beam build against the single-machine builder.
- ``scale``: two training workers on loopback against one process, VoxCeleb sizing estimates.

The conv reference and the student's training step are measured once per run and shared. The
table is written to ``experiments/benchmarks.md`` under the working directory (``--output``).

Example:

    python -m kerasemo.benchmarks                               # all sections, update the table
    python -m kerasemo.benchmarks --only probe export --no-write
    python -m kerasemo.benchmarks --only beam --beam-corpus tiny --no-write
    python -m kerasemo.benchmarks --only routes --student runs/distill/student.keras
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pathlib
import sys

from kerasemo import config as config_lib
from kerasemo.benchmarks import beam, emovoxceleb
from kerasemo.benchmarks.harness import describe_machine, render_section, update_markdown
from kerasemo.benchmarks.sections import SECTIONS, TITLES
from kerasemo.demo import DEFAULT_STUDENT
from kerasemo import arguments

PROG = "python -m kerasemo.benchmarks"
DEFAULT_OUTPUT = pathlib.Path("experiments") / "benchmarks.md"
"""The table a run updates, relative to the working directory."""
_CHOICE_OPTIONS = (
    (
        "--jit-compile",
        tuple(arguments.JIT_COMPILE),
        "XLA compilation of the training step (Keras' jit_compile; default auto)",
    ),
    (
        "--beam-corpus",
        beam.CORPUS_PRESETS,
        "synthetic corpus preset of the beam section (default demo; tiny is quicker)",
    ),
    (
        "--emovox-corpus",
        emovoxceleb.CORPUS_CHOICES,
        "corpus of the emovoxceleb section: the synthetic demo corpus (auto: if "
        "kerasemo.data.synthetic is available) or the built-in stand-in corpus",
    ),
)
"""The options that take one of a few names: (flag, the names with the default first, help)."""


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    """The benchmark's parser (building it imports no TensorFlow).

    Args:
        prog: the command shown in ``--help`` and recorded in the table.

    Example:

    >>> args = build_parser().parse_args(["--only", "probe,export", "--steps", "2"])
    >>> args.only, args.steps, str(args.output)
    (['probe,export'], 2, 'experiments/benchmarks.md')
    """
    width = max(map(len, SECTIONS)) + 2
    table = "\n".join(f"  {name:<{width}}{TITLES[name]}" for name in SECTIONS)
    parser = argparse.ArgumentParser(
        prog=prog,
        description=__doc__.split("\n\n")[0]
        + " Figures, goals and the machine are written as markdown tables.",
        epilog=f"sections (in run order):\n{table}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--only",
        nargs="+",
        action="extend",
        metavar="SECTION",
        help="sections to run, space- or comma-separated (default: all, in the order below)",
    )
    parser.add_argument("--batch-size", type=arguments.positive_int, default=32, help="training batch (default 32)")
    parser.add_argument("--steps", type=arguments.positive_int, default=3, help="timed training steps (default 3)")
    parser.add_argument("--repeats", type=arguments.positive_int, default=5, help="timed repeats of short figures")
    parser.add_argument(
        "--reference-clips", type=arguments.positive_int, default=4, help="clips timed through the NumPy reference"
    )
    for flag, choices, help_text in _CHOICE_OPTIONS:
        parser.add_argument(flag, choices=choices, default=choices[0], help=help_text)
    parser.add_argument(
        "--student",
        type=pathlib.Path,
        metavar="PATH",
        help=f"the .keras student of the routes section (default: {DEFAULT_STUDENT} when it "
        "exists, else the preset's student at random weights)",
    )
    config_lib.add_config_arguments(parser, default="paper")
    arguments.add_verbosity_arguments(parser)
    parser.add_argument(
        "--output",
        type=pathlib.Path,
        default=DEFAULT_OUTPUT,
        help=f"markdown table to update (default: {DEFAULT_OUTPUT}, relative to the working "
        "directory)",
    )
    parser.add_argument("--json", type=pathlib.Path, help="also write the figures as JSON here")
    parser.add_argument("--no-write", action="store_true", help="print only; leave the table as it is")
    return parser


def selected_sections(only: list[str] | None) -> list[str]:
    """The section names ``--only`` asked for (all when None), checked against `SECTIONS`.

    Args:
        only: ``--only``'s values; each may hold several comma-separated names.

    Raises:
        SystemExit: naming the unknown sections and the known ones.

    Example:

    >>> selected_sections(["probe,export", "beam"])
    ['probe', 'export', 'beam']
    """
    if not only:
        return list(SECTIONS)
    selected = [name.strip() for value in only for name in value.split(",") if name.strip()]
    unknown = [name for name in selected if name not in SECTIONS]
    if unknown or not selected:
        raise SystemExit(
            f"Unknown section(s) {unknown or only}; choose from {', '.join(SECTIONS)}."
        )
    return selected


def main(argv: list[str] | None = None, *, prog: str = PROG) -> int:
    """Runs the selected sections, prints their tables and updates the markdown file.

    Args:
        argv: the command-line arguments (default: ``sys.argv[1:]``).
        prog: the command shown in ``--help`` and recorded in each section's table.

    Returns:
        0.

    Example:

        main(["--only", "foundation", "--steps", "1", "--no-write"])
    """
    args = arguments.parse(build_parser(prog), argv)
    selected = selected_sections(args.only)
    args.experiment = arguments.load_experiment(args)
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args.jit_compile = arguments.JIT_COMPILE[args.jit_compile]
    args.shared = {}  # figures measured once and reused by several sections

    command = " ".join([prog, *(sys.argv[1:] if argv is None else argv)])
    machine = describe_machine()
    rendered, results = {}, {}
    for name in selected:
        figures = SECTIONS[name](args)
        results[name] = [dataclasses.asdict(f) for f in figures]
        rendered[name] = render_section(name, TITLES[name], figures, machine, command)
        print(rendered[name])
    if not args.no_write:
        update_markdown(args.output, rendered)
        print(f"\nupdated {args.output}")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine, "sections": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
