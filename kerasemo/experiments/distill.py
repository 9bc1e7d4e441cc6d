"""Distil a speech student from a face teacher's predictions: the main job of kerasemo.

With ``--data`` it trains the VGG-M student on EmoVoxCeleb-style shards (built by
``build_emovoxceleb``): random 4 s crops, targets = the teacher's frame logits inside each crop
max-pooled, softened cross-entropy at T = 2, SGD with momentum, weight decay and a learning rate
log-spaced over the run; it keeps the student with the lowest validation distillation loss on
unheard identities, then reports the student's ROC AUC against the teacher on heard and unheard
identities (the identity-shortcut check is their gap).

With no arguments it runs the whole method on the embedded default (a synthetic audio-visual
corpus, `kerasemo.demo.run_demo`): it generates the corpus, trains the demo face teacher,
labels the talking-face tracks and writes the shards (each stage is skipped when its output
exists), distils and evaluates, probes the acted sets, and writes ``results.md``/``results.json``
(with a verdict in words: did emotion transfer, against chance and the acoustic baseline) and
``learning_curve.png`` in ``--work`` (default ``runs/demo``). It runs with oneDNN's CPU kernels
off (``TF_ENABLE_ONEDNN_OPTS=0`` unless you set it), so every run on a machine gives the same
student and the same figures.

Outputs (in ``--out``): ``student.keras`` (the model to keep), ``distiller_history.csv``,
TensorBoard logs, ``auc.md``/``auc.json``, per-split logits (``*_logits.npz``) and the resolved
``config.toml`` and, once finished, ``complete.json``. An interrupted run resumes from its last
finished epoch when rerun with the same ``--out``; a finished one is kept (the rerun says so and
changes nothing) unless ``--force``; a run directory of other settings is refused, naming them.
Before any epoch the shards' own records (``plan.json``, ``config.toml``, the records) are
compared with the configuration: another frame timing or sample rate stops the run, naming the
setting and the fix; other split fractions, seed or preset are a warning.

The default preset follows what is asked: ``demo`` for the embedded default (no ``--data``),
``paper`` for shards of real data (``--data``); ``--config`` always wins. Redirected to a file,
training writes one line per epoch instead of progress bars; ``-q`` only warnings.

Examples:

    python -m kerasemo.experiments.distill
    python -m kerasemo.experiments.distill --data tfrecords/emovoxceleb --out runs/paper
    python -m kerasemo.experiments.distill --data tfrecords/demo --config demo --set distill.epochs=2
    python -m kerasemo.experiments.distill --data tfrecords/emovoxceleb --strategy mirrored
    TF_CONFIG='{"cluster": {"worker": ["host0:12345", "host1:12345"]}, "task": {"type": "worker", "index": 0}}' \
        python -m kerasemo.experiments.distill --data shared/emovoxceleb --out shared/runs/paper \
        --config paper --strategy multi_worker        # and index 1 on host1
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from kerasemo import demo, quiet  # noqa: E402
from kerasemo import arguments  # noqa: E402
from kerasemo.strategies import add_strategy_argument  # noqa: E402
from kerasemo.training.runtime import PRECISIONS  # noqa: E402

DEFAULT_OUT = pathlib.Path("runs") / "distill"


def build_parser() -> argparse.ArgumentParser:
    parser = arguments.docstring_parser("kerasemo.experiments.distill", __doc__)
    arguments.add_data_arguments(
        parser,
        "--data",
        help="folder of EmoVoxCeleb-style shards (train-*, heard_val-*, unheard_val-*); "
        "default: the embedded synthetic corpus's shards, built on first use",
    )
    parser.add_argument(
        "--out",
        type=pathlib.Path,
        help=f"run directory (default: {DEFAULT_OUT}; {demo.DEFAULT_STUDENT.parent} for the "
        "embedded default)",
    )
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        help="override distill.precision (auto: mixed_float16 on a GPU, float32 on CPU)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="train again even if --out holds a finished run (or a run of other settings), "
        "replacing it",
    )
    add_strategy_argument(parser)
    embedded = parser.add_argument_group("embedded default (no --data)")
    embedded.add_argument("--corpus", type=pathlib.Path, default=demo.DEFAULT_CORPUS,
                          help="synthetic corpus folder")
    embedded.add_argument("--work", type=pathlib.Path, default=demo.DEFAULT_WORK,
                          help="folder for the teacher, distillation and probe runs")
    embedded.add_argument("--shards", type=pathlib.Path, default=demo.DEFAULT_SHARDS,
                          help="folder for the demo shards")
    arguments.add_verbosity_arguments(parser)
    return parser


def _precision_override(args) -> list[str]:
    return [f"distill.precision={args.precision}"] if args.precision else []


def main(argv: list[str] | None = None) -> int:
    args, experiment = arguments.start(build_parser(), argv, extra_overrides=_precision_override)
    if args.data is None and args.strategy != "default":
        raise SystemExit(
            f"error: --strategy {args.strategy} needs --data (shards built beforehand); the "
            "embedded default runs on one device."
        )
    if args.data is None:  # the main job: the same figures on every run (before TensorFlow loads)
        for name, value in demo.REPRODUCIBLE_ENVIRONMENT.items():
            os.environ.setdefault(name, value)
    # TensorFlow loads only now, so --help and argument errors are instant.
    quiet.import_tensorflow_quietly(run_first_op=args.strategy != "multi_worker")
    from kerasemo import distribute
    from kerasemo.training import distill

    with arguments.one_line_errors():
        # Before anything else runs TensorFlow: a multi-worker strategy must exist first.
        strategy = distribute.make_strategy(args.strategy)
    verbose = arguments.keras_verbosity(args)
    if args.data is None:
        with arguments.one_line_errors():
            table = demo.run_demo(
                experiment, **arguments.named(args, "corpus", "work", "shards", "out", "force"),
                verbose=verbose,
            )
        print(table)
        return 0
    out = args.out or DEFAULT_OUT
    with arguments.one_line_errors():
        result = distill(experiment, args.data, out, strategy=strategy, force=args.force, verbose=verbose)
    if not result.is_chief:
        print(
            f"worker finished {result.epochs_run} epochs in {result.seconds:.0f} s; final student "
            f"weights sha256 {result.weights_sha256} (the chief writes the outputs)"
        )
        return 0
    print((out / "auc.md").read_text())
    print(
        f"student: {result.student_path} (best epoch {result.best_epoch}, val loss "
        f"{result.best_val_loss:.4f}); {result.epochs_run} epochs in {result.seconds:.0f} s, "
        f"precision {result.precision}; final weights sha256 {result.weights_sha256}"
        + (" (finished before: kept as it was; --force trains again)" if result.skipped else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
