"""Distil a speech student from a face teacher's predictions: the main job of kerasemo.

With ``--data`` it trains the VGG-M student on EmoVoxCeleb-style shards (built by
``build_emovoxceleb``): random 4 s crops, targets = the teacher's frame logits inside each crop
max-pooled, softened cross-entropy at T = 2, SGD with momentum, weight decay and a learning rate
log-spaced over the run; it keeps the student with the lowest validation distillation loss on
unheard identities, then reports the student's ROC AUC against the teacher on heard and unheard
identities (the identity-shortcut check is their gap).

With no arguments it runs the whole method on the embedded default (a synthetic audio-visual
corpus, `kerasemo.experiments.main_job`): it generates the corpus, trains the demo face teacher,
labels the talking-face tracks and writes the shards (each stage is skipped when its output
exists), distils and evaluates, probes the acted sets, and writes ``results.md``/``results.json``
(with a verdict in words: did emotion transfer, against chance and the acoustic baseline) and
``learning_curve.png`` in ``--work`` (default ``runs/demo``).

Outputs (in ``--out``): ``student.keras`` (the model to keep), ``distiller_history.csv``,
TensorBoard logs, ``auc.md``/``auc.json``, per-split logits (``*_logits.npz``) and the resolved
``config.toml``. An interrupted run resumes from its last finished epoch when rerun with the same
``--out``.

Examples:

    python -m kerasemo.experiments.distill
    python -m kerasemo.experiments.distill --config paper --data tfrecords/emovoxceleb --out runs/paper
    python -m kerasemo.experiments.distill --data tfrecords/demo --set distill.epochs=2
    python -m kerasemo.experiments.distill --data tfrecords/emovoxceleb --strategy mirrored
    TF_CONFIG='{"cluster": {"worker": ["host0:12345", "host1:12345"]}, "task": {"type": "worker", "index": 0}}' \
        python -m kerasemo.experiments.distill --data shared/emovoxceleb --out shared/runs/paper \
        --config paper --strategy multi_worker        # and index 1 on host1
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import os
import pathlib
import sys
import time
import warnings

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from kerasemo import config as config_lib  # noqa: E402
from kerasemo import distribute  # noqa: E402
from kerasemo.experiments import main_job  # noqa: E402

logger = logging.getLogger(__name__)

DEFAULT_OUT = pathlib.Path("runs") / "distill"


@dataclasses.dataclass
class DistillResult:
    """What a distillation run produced.

    On a worker that is not the chief of a multi-worker run, nothing is written:
    ``student_path`` is None and ``auc`` is empty; ``weights_sha256`` (the fingerprint of the
    student's weights at the end of training) is set on every worker, so their agreement can be
    checked.
    """

    student_path: pathlib.Path | None
    epochs_run: int
    best_epoch: int | None
    best_val_loss: float
    auc: dict
    precision: str
    seconds: float
    weights_sha256: str = ""
    is_chief: bool = True


def _count_tracks(data_dir: pathlib.Path, split: str, files: list[str]) -> int:
    """Tracks of a split, from the manifest when there is one (cheap), else by reading the shards."""
    from kerasemo.data import pipeline

    manifest = data_dir / "manifest.csv"
    if manifest.exists():
        import pandas as pd

        table = pd.read_csv(manifest, usecols=["split"])
        return int((table["split"] == split).sum())
    return pipeline.count_examples(files)


def collect_logits(student, dataset):
    """Runs the student over a validation dataset built ``with_ids=True``.

    Returns:
        (teacher logits [N, 8], student logits [N, 8], track ids [N] as str).
    """
    import numpy as np

    from kerasemo.models.calls import predict_batch

    teacher, predicted, ids = [], [], []
    for spectrogram, target, track_ids in dataset:
        predicted.append(predict_batch(student, spectrogram))
        teacher.append(np.asarray(target, dtype=np.float32))
        ids += [t.decode() for t in track_ids.numpy()]
    if not teacher:
        raise ValueError("The validation dataset is empty.")
    return np.concatenate(teacher), np.concatenate(predicted), np.asarray(ids)


def _save_logits(path: pathlib.Path, track_ids, teacher_logits, student_logits) -> None:
    import numpy as np

    np.savez(path, track_id=track_ids, teacher=teacher_logits, student=student_logits)


def build_distiller(experiment: config_lib.ExperimentConfig, steps_per_epoch: int):
    """The compiled `Distiller` around a new student, as `run_distillation` trains it.

    Call it inside the strategy's scope (and the dtype policy) the run uses.

    Args:
        experiment: the configuration (student size, distillation settings).
        steps_per_epoch: optimizer steps per epoch (the learning rate changes per epoch).

    Returns:
        A compiled `kerasemo.models.Distiller`.
    """
    import keras

    from kerasemo import training
    from kerasemo.models import Distiller, student_from_config

    settings = experiment.distill
    distiller = Distiller(
        student_from_config(experiment),
        temperature=settings.temperature,
        convention=settings.loss,
        weight_decay=training.authors_weight_decay(settings.weight_decay, settings.batch_size),
    )
    schedule = training.log_spaced_schedule(
        training.authors_learning_rate(settings.learning_rate_start, settings.batch_size),
        training.authors_learning_rate(settings.learning_rate_end, settings.batch_size),
        settings.epochs,
        steps_per_epoch,
    )
    distiller.compile(optimizer=keras.optimizers.SGD(schedule, momentum=settings.momentum))
    return distiller


def run_distillation(
    experiment: config_lib.ExperimentConfig,
    data_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    verbose: int | str = "auto",
    extra_callbacks: list | None = None,
    strategy=None,
) -> DistillResult:
    """Trains the student on the shards in `data_dir` and evaluates it; writes into `out_dir`.

    Args:
        experiment: the resolved configuration (student, frontend, frames, distill, evaluation).
        data_dir: folder with ``train-*``, ``heard_val-*`` and ``unheard_val-*`` shards.
        out_dir: run directory (created; reused to resume an interrupted run).
        verbose: Keras progress-bar setting.
        extra_callbacks: more Keras callbacks (appended after the run's own; chief only).
        strategy: a `tf.distribute.Strategy` (`kerasemo.distribute.make_strategy`); default:
            TensorFlow's default strategy. ``distill.batch_size`` is the global batch; in a
            multi-worker run every worker reads its own training shard files and only the chief
            writes into `out_dir` and evaluates (`kerasemo.distribute`).

    Returns:
        A `DistillResult`.

    Raises:
        FileNotFoundError: when a split has no shards.
        ValueError: when there are fewer training tracks than one batch, or the batch or the
            shard files cannot be split over the replicas and workers.
    """
    import keras

    from kerasemo import distribute, training
    from kerasemo.data import pipeline
    from kerasemo.evaluation.auc import auc_markdown, emotion_auc

    start = time.time()
    strategy = strategy or distribute.make_strategy("default")
    role = distribute.worker_role(strategy)
    data_dir, out_dir = pathlib.Path(data_dir), pathlib.Path(out_dir)
    if role.is_chief:
        out_dir.mkdir(parents=True, exist_ok=True)
        config_lib.save_config(experiment, out_dir)
    settings = experiment.distill
    if settings.deterministic:
        training.enable_determinism(experiment.seed)
    else:
        keras.utils.set_random_seed(experiment.seed)

    train_files = pipeline.shard_files(data_dir, "train")
    select_files = pipeline.shard_files(data_dir, settings.select_on)
    num_train = _count_tracks(data_dir, "train", train_files)
    if num_train < settings.batch_size:
        raise ValueError(
            f"{data_dir} holds {num_train} training tracks, fewer than one batch "
            f"(distill.batch_size={settings.batch_size}); lower it with "
            f"--set distill.batch_size=N."
        )
    steps_per_epoch = num_train // settings.batch_size

    precision = training.resolve_precision(settings.precision)
    previous_policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        with strategy.scope():
            distiller = distribute.prepare_for_fit(
                build_distiller(experiment, steps_per_epoch), strategy
            )
    finally:
        keras.config.set_dtype_policy(previous_policy)

    frames = experiment.frames
    # Training and validation crops are cut and labelled the same way.
    crop_settings = dict(
        crop_frames=experiment.frontend.crop_frames,
        pooling=frames.pooling,
        fps=frames.video_fps,
        frame_stride=frames.frame_stride,
    )

    def make_training_dataset(files, batch_size, pipeline_id):
        return pipeline.training_dataset(
            files,
            batch_size=batch_size,
            **crop_settings,
            seed=experiment.seed + pipeline_id,
            shuffle_buffer=settings.shuffle_buffer,
            deterministic=settings.deterministic,
            frequency_warp=settings.frequency_warp,
            repeat=True,
        )

    # A StrategyError (a ValueError) when the files or the batch do not split over the workers.
    train_ds = distribute.distribute_training_dataset(
        strategy, train_files, make_training_dataset, global_batch_size=settings.batch_size
    )
    val_batch = distribute.validation_batch_size(
        _count_tracks(data_dir, settings.select_on, select_files),
        settings.batch_size,
        strategy.num_replicas_in_sync,
    )
    val_ds = distribute.replicate_dataset(
        pipeline.validation_crops(select_files, batch_size=val_batch, **crop_settings)
    )
    best = training.SaveBestStudent(out_dir / "student.keras", monitor="val_loss")
    callbacks = [distribute.WorkerBackupAndRestore(str(out_dir / "backup"), chief=role.is_chief)]
    if role.is_chief:
        callbacks += [
            best,
            keras.callbacks.CSVLogger(str(out_dir / "distiller_history.csv"), append=True),
            keras.callbacks.TensorBoard(str(out_dir / "logs"), write_graph=False),
        ] + list(extra_callbacks or [])
    logger.info(
        "distilling: %d training tracks, %d steps/epoch x %d epochs, global batch %d over %d "
        "replica(s) (%s), precision %s",
        num_train,
        steps_per_epoch,
        settings.epochs,
        settings.batch_size,
        strategy.num_replicas_in_sync,
        role.describe(),
        precision,
    )
    with warnings.catch_warnings():
        # The validation crops have no static cardinality (records are counted by reading),
        # so Keras warns each time they are exhausted; the training set repeats forever.
        warnings.filterwarnings("ignore", message="Your input ran out of data")
        history = distiller.fit(
            train_ds,
            epochs=settings.epochs,
            steps_per_epoch=steps_per_epoch,
            validation_data=val_ds,
            callbacks=callbacks,
            verbose=verbose,
            shuffle=False,  # the pipeline shuffles
        )

    fingerprint = distribute.weights_fingerprint(distiller.student)
    logger.info("final student weights sha256 %s (%s)", fingerprint, role.describe())
    if not role.is_chief:
        return DistillResult(
            student_path=None,
            epochs_run=len(history.history.get("loss", [])),
            best_epoch=None,
            best_val_loss=math.nan,
            auc={},
            precision=precision,
            seconds=time.time() - start,
            weights_sha256=fingerprint,
            is_chief=False,
        )
    best_student = keras.saving.load_model(out_dir / "student.keras")
    reports = {}
    for split in ("heard_val", "unheard_val"):
        files = pipeline.shard_files(data_dir, split)
        teacher_logits, student_logits, track_ids = collect_logits(
            best_student, pipeline.validation_dataset(files, pooling=frames.pooling, with_ids=True)
        )
        reports[split] = emotion_auc(
            teacher_logits, student_logits, excluded=experiment.evaluation.auc_excluded
        )
        _save_logits(out_dir / f"{split}_logits.npz", track_ids, teacher_logits, student_logits)
    auc = {split: report.to_dict() for split, report in reports.items()}
    means = [reports[s].mean for s in ("heard_val", "unheard_val")]
    auc["heard_minus_unheard"] = None if None in means else means[0] - means[1]
    (out_dir / "auc.json").write_text(json.dumps(auc, indent=2))
    (out_dir / "auc.md").write_text(
        "# Student vs teacher: ROC AUC per emotion\n\n"
        "Positives: tracks whose dominant teacher emotion is the row's; score: the student's "
        "probability of it. The mean leaves out "
        f"{', '.join(experiment.evaluation.auc_excluded)} (the paper: 0.71 heard, 0.69 unheard).\n\n"
        + auc_markdown(reports)
        + "\n"
    )
    return DistillResult(
        student_path=out_dir / "student.keras",
        epochs_run=len(history.history.get("loss", [])),
        best_epoch=None if best.best_epoch is None else best.best_epoch + 1,
        best_val_loss=best.best,
        auc=auc,
        precision=precision,
        seconds=time.time() - start,
        weights_sha256=fingerprint,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m kerasemo.experiments.distill",
        description=__doc__.split("\n\nExamples:")[0],
        epilog="Examples:" + __doc__.split("\n\nExamples:")[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--data",
        type=pathlib.Path,
        help="folder of EmoVoxCeleb-style shards (train-*, heard_val-*, unheard_val-*); "
        "default: the embedded synthetic corpus's shards, built on first use",
    )
    parser.add_argument(
        "--out",
        type=pathlib.Path,
        help=f"run directory (default: {DEFAULT_OUT}; {main_job.DEFAULT_WORK}/distill for the "
        "embedded default)",
    )
    parser.add_argument(
        "--precision",
        choices=("auto", "float32", "mixed_float16", "mixed_bfloat16"),
        help="override distill.precision (auto: mixed_float16 on a GPU, float32 on CPU)",
    )
    distribute.add_strategy_argument(parser)
    embedded = parser.add_argument_group("embedded default (no --data)")
    embedded.add_argument(
        "--corpus",
        type=pathlib.Path,
        default=main_job.DEFAULT_CORPUS,
        help=f"synthetic corpus folder (default: {main_job.DEFAULT_CORPUS})",
    )
    embedded.add_argument(
        "--work",
        type=pathlib.Path,
        default=main_job.DEFAULT_WORK,
        help=f"folder for the teacher, distillation and probe runs (default: {main_job.DEFAULT_WORK})",
    )
    embedded.add_argument(
        "--shards",
        type=pathlib.Path,
        default=main_job.DEFAULT_SHARDS,
        help=f"folder for the demo shards (default: {main_job.DEFAULT_SHARDS})",
    )
    config_lib.add_config_arguments(parser, default="demo")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.data is None and args.strategy != "default":
        raise SystemExit(
            f"error: --strategy {args.strategy} needs --data (shards built beforehand); the "
            "embedded default runs on one device."
        )
    try:
        # First: a multi-worker strategy must exist before TensorFlow runs anything.
        strategy = distribute.make_strategy(args.strategy)
    except distribute.StrategyError as err:
        raise SystemExit(f"error: {err}") from None
    overrides = list(args.overrides)
    if args.precision:
        overrides.append(f"distill.precision={args.precision}")
    try:
        experiment = config_lib.apply_overrides(config_lib.load_config(args.config), overrides)
    except config_lib.ConfigError as err:
        raise SystemExit(f"error: {err}") from None
    if args.data is None:
        try:
            results = main_job.run(
                experiment,
                corpus=args.corpus,
                work=args.work,
                shards=args.shards,
                out=args.out,
                config_name=args.config,
                overrides=overrides,
            )
        except (FileNotFoundError, ValueError) as err:
            raise SystemExit(f"error: {err}") from None
        print(results)
        return 0
    out = args.out or DEFAULT_OUT
    try:
        result = run_distillation(experiment, args.data, out, strategy=strategy)
    except (FileNotFoundError, ValueError) as err:
        raise SystemExit(f"error: {err}") from None
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
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
