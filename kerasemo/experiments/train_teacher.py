"""Train the SE-ResNet face teacher on FERPlus and evaluate it by the FERPlus test protocol.

Reads `fer2013.csv` + `fer2013new.csv` (cleaned as the authors did), caches the faces as TFRecord
shards (reused by later runs), trains with SGD + momentum and L2 weight decay on the
cross-entropy to the annotators' vote distribution with the authors' step schedule, keeps the
model with the lowest PublicTest cross-entropy, and evaluates it on PrivateTest with
majority-vote labels (accuracy, per-class accuracy, normalised confusion matrix), next to a
pixel-level logistic-regression baseline fitted in the same run.

The run directory (``--out``) receives: ``teacher.keras`` (best validation model),
``training_log.csv``, ``logs/`` (TensorBoard), ``backup/`` (state for ``--resume``),
``config.toml`` (the resolved configuration), ``run.json`` (data folder and command line),
``metrics.json`` and ``confusion_matrix.png``.

The default preset follows what is asked: ``paper`` with ``--data`` (real FERPlus files),
``demo`` without it (the embedded synthetic faces); ``--config`` always wins. Redirected to a
file, training writes one line per epoch instead of progress bars; ``-q`` only warnings.

Examples:

    python -m kerasemo.experiments.train_teacher --data data/ferplus --out runs/teacher
    python -m kerasemo.experiments.train_teacher --out runs/demo-teacher      # demo preset, synthetic faces
    python -m kerasemo.experiments.train_teacher --data data/ferplus --epochs 2 --set teacher.batch_size=32
    python -m kerasemo.experiments.train_teacher --out runs/teacher --resume   # after an interruption
    python -m kerasemo.experiments.train_teacher --data data/ferplus --config paper --strategy mirrored

With ``--strategy mirrored`` or ``multi_worker`` (one process per machine, each with its
``TF_CONFIG``), ``teacher.batch_size`` is the global batch; each worker trains on its own part
of the faces, and only the chief writes the run and evaluates (`kerasemo.distribute`). The
configured learning rates apply to the batch-mean loss as written: scale them with the batch.
"""

from __future__ import annotations

import argparse
import logging
import os
import pathlib
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from kerasemo import config as config_lib  # noqa: E402
from kerasemo import quiet  # noqa: E402
from kerasemo import arguments  # noqa: E402
from kerasemo.strategies import add_strategy_argument  # noqa: E402
from kerasemo.training.runtime import PRECISIONS  # noqa: E402

DEFAULT_OUT = pathlib.Path("runs") / "teacher"


def build_parser() -> argparse.ArgumentParser:
    parser = arguments.docstring_parser("kerasemo.experiments.train_teacher", __doc__)
    arguments.add_data_arguments(
        parser,
        "--data",
        help="folder holding fer2013.csv and fer2013new.csv (default: the embedded synthetic "
        "face set, generated under --cache-dir on first use)",
    )
    parser.add_argument("--out", type=pathlib.Path, default=DEFAULT_OUT, help="run directory")
    parser.add_argument(
        "--cache-dir",
        type=pathlib.Path,
        default=pathlib.Path("tfrecords"),
        help="where face TFRecord shards are cached",
    )
    parser.add_argument(
        "--epochs",
        type=arguments.positive_int,
        help="total epochs, overriding learning_rates x epochs_per_rate; the learning rates "
        "then share the epochs equally (for quick runs)",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out after an interruption, with the run's own config.toml "
        "(--set overrides still apply) and data folder (unless --data is given); a finished "
        "run continues if --epochs is larger",
    )
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="auto",
        help="dtype policy: auto = mixed_float16 on a GPU, float32 otherwise (logits are "
        "float32 either way)",
    )
    add_strategy_argument(parser)
    parser.add_argument(
        "--jit-compile",
        choices=tuple(arguments.JIT_COMPILE),
        default="auto",
        help="XLA compilation of the train step (Keras' jit_compile)",
    )
    parser.add_argument(
        "--baseline-max-iter",
        type=arguments.positive_int,
        default=200,
        help="solver iterations per C of the logistic-regression baseline",
    )
    arguments.add_verbosity_arguments(parser)
    return parser


def _experiment(args) -> config_lib.ExperimentConfig:
    """``--config``/``--set``; on ``--resume``, the run's own config.toml with ``--set``."""
    saved = args.out / "config.toml"
    if args.resume and saved.exists():
        experiment = arguments.load_experiment(args, source=saved)
        logging.getLogger(__name__).info("resuming %s with its config.toml", args.out)
        return experiment
    return arguments.load_experiment(args)


def main(argv: list[str] | None = None) -> int:
    args = arguments.parse(build_parser(), argv)
    # TensorFlow loads only now, so --help and argument errors are instant.
    quiet.import_tensorflow_quietly(run_first_op=args.strategy != "multi_worker")
    from kerasemo import distribute
    from kerasemo.training import train_teacher
    from kerasemo.training.teacher import CHECKPOINT, METRICS
    from kerasemo.training.teacher_evaluation import CONFUSION_PNG

    with arguments.one_line_errors():
        # First: a multi-worker strategy must exist before TensorFlow runs anything.
        strategy = distribute.make_strategy(args.strategy)
    experiment = _experiment(args)
    if args.data is not None and not args.data.is_dir():
        raise SystemExit(
            f"error: --data {args.data} is not a folder; pass the folder holding fer2013.csv and "
            "fer2013new.csv."
        )
    with arguments.one_line_errors(FileExistsError, NotADirectoryError):
        result = train_teacher(
            experiment,
            args.data,
            args.out,
            **arguments.named(args, "cache_dir", "epochs", "resume", "precision", "baseline_max_iter"),
            strategy=strategy,
            jit_compile=arguments.JIT_COMPILE[args.jit_compile],
            verbose=arguments.keras_verbosity(args),
            command=list(argv if argv is not None else sys.argv[1:]),
        )
    if not result.is_chief:
        print(
            f"worker finished {result.epochs} epochs; final teacher weights sha256 "
            f"{result.weights_sha256} (the chief writes the teacher and evaluates it)"
        )
        return 0
    print()
    print(result.table)
    print(f"wrote {args.out / CHECKPOINT}, {args.out / METRICS}, {args.out / CONFUSION_PNG}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
