"""The distillation stage: a speech student trained on a face teacher's predictions.

Random 4 s crops of each track's spectrogram, targets = the teacher's frame logits inside the
crop pooled (max, as the paper), softened cross-entropy at the configured temperature, SGD with
momentum, weight decay and a learning rate log-spaced over the run (the authors' settings,
`kerasemo.training.schedules`). The student with the lowest validation distillation loss is
kept, then scored against the teacher (ROC AUC) on heard and unheard identities; their gap is
the identity-shortcut check (paper, Section 4.2).

Example:

```python
from kerasemo.config import load_config
from kerasemo.training import distill

result = distill(load_config("demo"), "tfrecords/demo", "runs/distill")
result.auc["unheard_val"]["mean"]
```
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import pathlib
import shutil
import time
import warnings

from kerasemo import config as config_lib
from kerasemo.training import run_record

logger = logging.getLogger(__name__)

STUDENT = "student.keras"
HISTORY = "distiller_history.csv"
AUC_JSON = "auc.json"
AUC_MARKDOWN = "auc.md"
VALIDATION_SPLITS = ("heard_val", "unheard_val")
# What a run writes; `force=True` removes them before training again.
RUN_OUTPUTS = (
    STUDENT, STUDENT + ".json", HISTORY, AUC_JSON, AUC_MARKDOWN, "backup", "logs", run_record.COMPLETE,
) + tuple(f"{split}_logits.npz" for split in VALIDATION_SPLITS)


class RunConfigMismatchError(ValueError):
    """The run directory holds a run of another configuration."""


@dataclasses.dataclass
class DistillResult:
    """What a distillation run produced.

    On a worker that is not the chief of a multi-worker run, nothing is written:
    ``student_path`` is None and ``auc`` is empty; ``weights_sha256`` (the fingerprint of the
    student's weights at the end of training) is set on every worker, so their agreement can be
    checked. ``skipped`` is True when the run directory already held this finished run.
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
    skipped: bool = False


def collect_logits(student, dataset):
    """Runs the student over a validation dataset built ``with_ids=True``.

    Args:
        student: a Keras model ``[batch, bins, frames] -> [batch, 8]``.
        dataset: batches of ``(spectrogram, teacher target, track id)``
            (`kerasemo.data.pipeline.validation_dataset` with ``with_ids=True``).

    Returns:
        (teacher logits [N, 8], student logits [N, 8], track ids [N] as str).

    Raises:
        ValueError: for an empty dataset.

    Example:

    >>> teacher, student, ids = collect_logits(model, dataset)  # doctest: +SKIP
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


def build_distiller(experiment: config_lib.ExperimentConfig, steps_per_epoch: int):
    """The compiled `Distiller` around a new student, as `distill` trains it.

    Call it inside the strategy's scope (and the dtype policy) the run uses.

    Args:
        experiment: the configuration (student size, distillation settings).
        steps_per_epoch: optimizer steps per epoch (the learning rate changes per epoch).

    Returns:
        A compiled `kerasemo.models.Distiller`.

    Example:

    >>> from kerasemo.config import load_config
    >>> distiller = build_distiller(load_config("demo"), steps_per_epoch=10)
    >>> distiller.temperature
    2.0
    """
    import keras

    from kerasemo.models import Distiller, student_from_config
    from kerasemo.training.schedules import authors_learning_rate, authors_weight_decay, log_spaced_schedule

    settings = experiment.distill
    distiller = Distiller(
        student_from_config(experiment),
        temperature=settings.temperature,
        convention=settings.loss,
        weight_decay=authors_weight_decay(settings.weight_decay, settings.batch_size),
    )
    schedule = log_spaced_schedule(
        authors_learning_rate(settings.learning_rate_start, settings.batch_size),
        authors_learning_rate(settings.learning_rate_end, settings.batch_size),
        settings.epochs,
        steps_per_epoch,
    )
    distiller.compile(optimizer=keras.optimizers.SGD(schedule, momentum=settings.momentum))
    return distiller


def _finished_run(experiment, out_dir: pathlib.Path, force: bool) -> DistillResult | None:
    """The recorded result when `out_dir` holds this finished run; clears it with `force`.

    Raises:
        RunConfigMismatchError: when `out_dir` holds a run of another configuration (unless
            `force`).
    """
    if force:
        for name in RUN_OUTPUTS:
            path = out_dir / name
            shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
        return None
    record = run_record.read_record(out_dir)
    if record:
        differences = run_record.config_differences(record["config"], experiment)
    elif (out_dir / "backup").exists() or (out_dir / HISTORY).exists():  # trained, unfinished
        differences = run_record.saved_config_differences(out_dir, experiment)
    else:
        differences = []
    if differences:
        raise RunConfigMismatchError(
            f"{out_dir} holds a {'finished' if record else 'started'} distillation run with "
            f"other settings ({'; '.join(differences)}). Choose another output folder, or pass "
            "force=True (--force) to replace it."
        )
    if record is None:
        return None
    logger.info("%s holds this finished distillation run; skipping (force=True retrains)", out_dir)
    result = dict(record["result"])
    best_val_loss = result.pop("best_val_loss")
    return DistillResult(
        student_path=out_dir / STUDENT,
        auc=json.loads((out_dir / AUC_JSON).read_text()),
        best_val_loss=math.nan if best_val_loss is None else best_val_loss,
        skipped=True,
        **result,
    )


def _verify(data_dir: pathlib.Path) -> dict[str, int]:
    """Every shard whole before any epoch: a bad one is one line naming it (`verify_shards`).

    Returns:
        ``{shard file name: records}``, read while checking (the splits' track counts).
    """
    from kerasemo.data import pipeline
    from kerasemo.data.shard_integrity import verify_shards

    pipeline.shard_files(data_dir, "train")  # no shards at all: its message says how to build them
    clock = time.time()
    counts = verify_shards(data_dir)
    logger.info(
        "verified %d shard files (%d tracks) in %.2f s", len(counts), sum(counts.values()),
        time.time() - clock,
    )
    return counts


def _training_data(experiment, data_dir: pathlib.Path, strategy, records: dict[str, int]):
    """The distributed training and validation datasets and the steps per epoch.

    Raises:
        FileNotFoundError: when a split has no shards.
        ValueError: when there are fewer training tracks than one batch, or the batch or the
            shard files cannot be split over the replicas and workers.
    """
    from kerasemo import distribute
    from kerasemo.data import pipeline

    settings, frames = experiment.distill, experiment.frames
    train_files = pipeline.shard_files(data_dir, "train")
    select_files = pipeline.shard_files(data_dir, settings.select_on)

    def tracks_in(files):
        return sum(records[pathlib.Path(f).name] for f in files)

    num_train = tracks_in(train_files)
    if num_train < settings.batch_size:
        raise ValueError(
            f"{data_dir} holds {num_train} training tracks, fewer than one batch "
            f"(distill.batch_size={settings.batch_size}); lower it with "
            f"--set distill.batch_size=N."
        )
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
    train = distribute.distribute_training_dataset(
        strategy, train_files, make_training_dataset, global_batch_size=settings.batch_size
    )
    val_batch = distribute.validation_batch_size(
        tracks_in(select_files),
        settings.batch_size,
        strategy.num_replicas_in_sync,
    )
    val = distribute.replicate_dataset(
        pipeline.validation_crops(select_files, batch_size=val_batch, **crop_settings)
    )
    return train, val, num_train, num_train // settings.batch_size


def _compiled_distiller(experiment, steps_per_epoch: int, strategy):
    """`build_distiller` under the run's dtype policy and the strategy's scope; and the policy."""
    import keras

    from kerasemo import distribute
    from kerasemo.training.runtime import resolve_precision

    precision = resolve_precision(experiment.distill.precision)
    previous_policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        with strategy.scope():
            distiller = distribute.prepare_for_fit(build_distiller(experiment, steps_per_epoch), strategy)
    finally:
        keras.config.set_dtype_policy(previous_policy)
    return distiller, precision


def _callbacks(out_dir: pathlib.Path, is_chief: bool, extra_callbacks):
    """The run's callbacks (backup on every worker; the writers on the chief) and its best-model keeper."""
    import keras

    from kerasemo import distribute
    from kerasemo.training.callbacks import SaveBestStudent

    best = SaveBestStudent(out_dir / STUDENT, monitor="val_loss")
    callbacks = [distribute.WorkerBackupAndRestore(str(out_dir / "backup"), chief=is_chief)]
    if is_chief:
        callbacks += [
            best,
            keras.callbacks.CSVLogger(str(out_dir / HISTORY), append=True),
            keras.callbacks.TensorBoard(str(out_dir / "logs"), write_graph=False),
        ] + list(extra_callbacks or [])
    return callbacks, best


def _evaluate(experiment, data_dir: pathlib.Path, out_dir: pathlib.Path) -> dict:
    """Scores the kept student against the teacher on the validation splits; writes the reports.

    Writes ``auc.json``, ``auc.md`` and ``<split>_logits.npz``; returns what ``auc.json`` holds.
    """
    import keras
    import numpy as np

    from kerasemo.data import pipeline
    from kerasemo.evaluation.auc import auc_markdown, emotion_auc

    best_student = keras.saving.load_model(out_dir / STUDENT)
    excluded = experiment.evaluation.auc_excluded
    reports = {}
    for split in VALIDATION_SPLITS:
        files = pipeline.shard_files(data_dir, split)
        teacher_logits, student_logits, track_ids = collect_logits(
            best_student,
            pipeline.validation_dataset(files, pooling=experiment.frames.pooling, with_ids=True),
        )
        reports[split] = emotion_auc(teacher_logits, student_logits, excluded=excluded)
        np.savez(
            out_dir / f"{split}_logits.npz", track_id=track_ids, teacher=teacher_logits, student=student_logits
        )
    auc = {split: report.to_dict() for split, report in reports.items()}
    means = [reports[s].mean for s in VALIDATION_SPLITS]
    auc["heard_minus_unheard"] = None if None in means else means[0] - means[1]
    text = json.dumps(auc, indent=2)
    (out_dir / AUC_JSON).write_text(text)
    (out_dir / AUC_MARKDOWN).write_text(
        "# Student vs teacher: ROC AUC per emotion\n\n"
        "Positives: tracks whose dominant teacher emotion is the row's; score: the student's "
        "probability of it. The mean leaves out "
        f"{', '.join(excluded)} (the paper: 0.71 heard, 0.69 unheard).\n\n"
        + auc_markdown(reports)
        + "\n"
    )
    return json.loads(text)  # as a finished run's rerun reads it back


def _fit(distiller, train, val, epochs: int, steps_per_epoch: int, callbacks, verbose):
    with warnings.catch_warnings():
        # The validation crops have no static cardinality (records are counted by reading),
        # so Keras warns each time they are exhausted; the training set repeats forever.
        warnings.filterwarnings("ignore", message="Your input ran out of data")
        return distiller.fit(
            train,
            epochs=epochs,
            steps_per_epoch=steps_per_epoch,
            validation_data=val,
            callbacks=callbacks,
            verbose=verbose,
            shuffle=False,  # the pipeline shuffles
        )


def distill(
    experiment: config_lib.ExperimentConfig,
    data: str | os.PathLike,
    out: str | os.PathLike,
    *,
    strategy=None,
    verbose: int | str = "auto",
    extra_callbacks: list | None = None,
    force: bool = False,
) -> DistillResult:
    """Trains the student on the shards in `data` and evaluates it; writes into `out`.

    Outputs (in `out`): ``student.keras`` (the kept student), ``distiller_history.csv``,
    TensorBoard ``logs/``, ``auc.md``/``auc.json``, per-split logits (``*_logits.npz``), the
    resolved ``config.toml`` and, last, ``complete.json`` (the configuration and the result).
    An interrupted run resumes from its last finished epoch; a finished one is kept: calling
    again with the same settings logs that it is finished and returns its recorded result, and
    a run directory of other settings is refused (in one process; a multi-worker run, whose
    workers must decide alike, always trains).

    Args:
        experiment: the resolved configuration (student, frontend, frames, distill, evaluation).
        data: folder with ``train-*``, ``heard_val-*`` and ``unheard_val-*`` shards.
        out: run directory (created; reused to resume an interrupted run).
        strategy: a `tf.distribute.Strategy` (`kerasemo.distribute.make_strategy`); default:
            TensorFlow's default strategy. ``distill.batch_size`` is the global batch; in a
            multi-worker run every worker reads its own training shard files and only the chief
            writes into `out` and evaluates (`kerasemo.distribute`).
        verbose: Keras' ``verbose=``: 0 silent, 1 a progress bar, 2 one line per epoch (for
            output redirected to a file); "auto" is 1.
        extra_callbacks: more Keras callbacks (appended after the run's own; chief only).
        force: remove a previous run's outputs in `out` (finished or not, any settings) and
            train again.

    Returns:
        A `DistillResult`.

    Raises:
        FileNotFoundError: when a split has no shards.
        ShardIntegrityError: (a ValueError) before any epoch, when a shard is corrupt,
            truncated, changed or missing; the message names it and how to rebuild it.
        ShardConfigMismatchError: (a ValueError) before any epoch, when the shards were built
            with another frame timing, sample rate or record format than `experiment` reads
            (`kerasemo.data.shard_config`); the message names each setting, both values and
            the fix. Other recorded differences (split fractions, seed, preset) are logged.
        RunConfigMismatchError: (a ValueError) when `out` holds a run of other settings; the
            message names each differing setting with both values.
        ValueError: when there are fewer training tracks than one batch, or the batch or the
            shard files cannot be split over the replicas and workers.

    Example:

    >>> result = distill(load_config("demo"), "tfrecords/demo", "runs/distill")  # doctest: +SKIP
    """
    import keras

    from kerasemo import distribute
    from kerasemo.data.shard_config import check_shard_config
    from kerasemo.training.runtime import enable_determinism

    start = time.time()
    strategy = strategy or distribute.make_strategy("default")
    role = distribute.worker_role(strategy)
    data_dir, out_dir = pathlib.Path(data), pathlib.Path(out)
    # Every process of a run must decide alike: a multi-worker run always trains.
    finished = _finished_run(experiment, out_dir, force) if role.num_workers == 1 else None
    if finished is not None:
        return finished
    if role.is_chief:
        out_dir.mkdir(parents=True, exist_ok=True)
        config_lib.save_config(experiment, out_dir)
    settings = experiment.distill
    if settings.deterministic:
        enable_determinism(experiment.seed)
    else:
        keras.utils.set_random_seed(experiment.seed)
    records = _verify(data_dir)
    check_shard_config(data_dir, experiment)  # the frame timing and format the shards were built with
    train, val, num_train, steps_per_epoch = _training_data(experiment, data_dir, strategy, records)
    distiller, precision = _compiled_distiller(experiment, steps_per_epoch, strategy)
    callbacks, best = _callbacks(out_dir, role.is_chief, extra_callbacks)
    logger.info(
        "distilling: %d training tracks, %d steps/epoch x %d epochs, global batch %d over %d "
        "replica(s) (%s), precision %s",
        num_train, steps_per_epoch, settings.epochs, settings.batch_size,
        strategy.num_replicas_in_sync, role.describe(), precision,
    )
    history = _fit(distiller, train, val, settings.epochs, steps_per_epoch, callbacks, verbose)
    fingerprint = distribute.weights_fingerprint(distiller.student)
    logger.info("final student weights sha256 %s (%s)", fingerprint, role.describe())
    result = DistillResult(
        student_path=None,
        epochs_run=len(history.history.get("loss", [])),
        best_epoch=None,
        best_val_loss=math.nan,
        auc={},
        precision=precision,
        seconds=0.0,
        weights_sha256=fingerprint,
        is_chief=role.is_chief,
    )
    if role.is_chief:
        result.auc = _evaluate(experiment, data_dir, out_dir)
        result.student_path = out_dir / STUDENT
        result.best_epoch = None if best.best_epoch is None else best.best_epoch + 1
        result.best_val_loss = best.best
    result.seconds = time.time() - start
    if role.is_chief:
        run_record.write_record(out_dir, experiment, _recorded(result))
    return result


def _recorded(result: DistillResult) -> dict:
    """The figures of `result` that ``complete.json`` keeps (strict JSON: no NaN)."""
    finite = math.isfinite(result.best_val_loss)
    return {
        "epochs_run": result.epochs_run,
        "best_epoch": result.best_epoch,
        "best_val_loss": result.best_val_loss if finite else None,
        "precision": result.precision,
        "seconds": result.seconds,
        "weights_sha256": result.weights_sha256,
    }
