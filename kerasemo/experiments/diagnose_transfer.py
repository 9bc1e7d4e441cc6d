"""Diagnose transfer on the synthetic corpus: oracle ceiling, learning curves, target quality.

Reads the corpus's ground truth on purpose (it never runs inside the main job) to say what
limits the student: the signal, the teacher's targets, the data or the compute. It needs the
main job's corpus and shards (run ``python -m kerasemo.experiments.distill`` first) and trains:

- the oracle: the same student and budget on the voice's latent emotion instead of the teacher;
- one student per setting (``--variant``; by default the demo preset as it is and the previous
  demo recipe: linear magnitudes on 512 mirrored bins, a third of the learning rate), scored
  every ``--every`` epochs.

Outputs (in ``--out``): ``diagnosis.json`` (every measurement), ``diagnosis.md`` (the reading in
words), ``learning_curves.png`` (ground-truth ROC AUC on unheard tracks and speaker-independent
linear-probe accuracy on the acted sets against SGD steps) and one run folder per student.

It runs on the synthetic corpus only, so its preset is ``demo`` unless ``--config`` says
otherwise. Redirected to a file, training writes one line per epoch; ``-q`` only warnings.

Examples:

    python -m kerasemo.experiments.diagnose_transfer
    python -m kerasemo.experiments.diagnose_transfer --variant demo= --no-oracle --every 1
    python -m kerasemo.experiments.diagnose_transfer --variant "log=student.log_magnitude=true" \\
        --variant "linear=student.log_magnitude=false" --set distill.epochs=10
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from kerasemo import config as config_lib  # noqa: E402
from kerasemo import demo, quiet  # noqa: E402
from kerasemo import arguments  # noqa: E402

DEFAULT_OUT = pathlib.Path("runs") / "diagnosis"


def _variant(text: str) -> tuple[str, list[str]]:
    name, _, overrides = text.partition("=")
    if not name:
        raise argparse.ArgumentTypeError(
            f"expected NAME=OVERRIDE[,OVERRIDE...] (e.g. linear=student.log_magnitude=false), "
            f"received {text!r}"
        )
    return name, [o for o in overrides.split(",") if o]


def build_parser() -> argparse.ArgumentParser:
    parser = arguments.docstring_parser("kerasemo.experiments.diagnose_transfer", __doc__)
    parser.add_argument("--corpus", type=pathlib.Path, default=demo.DEFAULT_CORPUS,
                        help="the main job's synthetic corpus")
    parser.add_argument("--shards", type=pathlib.Path, default=demo.DEFAULT_SHARDS,
                        help="its distillation shards")
    parser.add_argument("--out", type=pathlib.Path, default=DEFAULT_OUT, help="output folder")
    parser.add_argument(
        "--variant", action="append", type=_variant, metavar="NAME=OVERRIDE[,OVERRIDE...]",
        help="a setting to train and score, as --set overrides on --config; repeatable "
        "(default: demo= and previous=, the demo recipe before log magnitudes, 257 bins and the "
        "higher learning rate)",
    )
    parser.add_argument("--no-oracle", action="store_true", help="skip the oracle student")
    parser.add_argument("--every", type=arguments.positive_int, default=2,
                        help="score the students every N epochs")
    config_lib.add_config_arguments(parser, default=config_lib.DEMO_PRESET)
    arguments.add_verbosity_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args, experiment = arguments.start(build_parser(), argv)
    for folder, what in ((args.corpus / "ground_truth", "corpus"), (args.shards, "shards")):
        if not folder.exists():
            raise SystemExit(
                f"error: {str(folder)!r} does not exist; the diagnosis reads the main job's {what}: "
                "run `python -m kerasemo.experiments.distill` first (or pass --corpus/--shards)."
            )
    quiet.import_tensorflow_quietly()
    from kerasemo.evaluation.diagnosis import PREVIOUS_RECIPE, diagnose_transfer

    variants = dict(args.variant) if args.variant else {"demo": [], "previous": list(PREVIOUS_RECIPE)}
    with arguments.one_line_errors():  # a ConfigError (a ValueError) for a bad --variant
        diagnose_transfer(
            experiment, args.corpus, args.shards, args.out, variants=variants,
            oracle=not args.no_oracle, every=args.every, verbose=arguments.keras_verbosity(args),
        )
    print((args.out / "diagnosis.md").read_text())
    print(f"learning curves: {args.out / 'learning_curves.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
