"""The teacher stage: the SE-ResNet face teacher trained on FERPlus, then tested.

Trains with SGD + momentum and L2 weight decay on the cross-entropy to the annotators' vote
distribution with the authors' step schedule (`kerasemo.training.schedules`), keeps the model
with the lowest PublicTest cross-entropy, and tests it on PrivateTest with majority-vote labels
next to a pixel-level logistic-regression baseline (`kerasemo.training.teacher_evaluation`).

Example:

```python
from kerasemo.config import load_config
from kerasemo.training import train_teacher

result = train_teacher(load_config("demo"), "data/ferplus", "runs/teacher", epochs=2)
print(result.table)
```
"""

from __future__ import annotations

import csv
import dataclasses
import json
import logging
import os
import pathlib
import time

from kerasemo import config as config_lib
from kerasemo.checks import check_positive_int
from kerasemo.training.teacher_evaluation import TEST_PROTOCOL, evaluate_teacher, format_table

logger = logging.getLogger(__name__)

CHECKPOINT = "teacher.keras"
TRAINING_LOG = "training_log.csv"
METRICS = "metrics.json"
BACKUP_DIR = "backup"
RUN_FILE = "run.json"
MONITOR = "val_cross_entropy"


@dataclasses.dataclass
class TeacherResult:
    """What a teacher run produced.

    On a worker that is not the chief of a multi-worker run nothing is written or tested:
    ``checkpoint`` is None, ``metrics`` is empty and ``table`` is ``""``.

    Attributes:
        checkpoint: the kept teacher (``teacher.keras``).
        metrics: what ``metrics.json`` holds.
        table: the PrivateTest table (teacher beside the baseline) and its notes, as text.
        epochs: the run's total epochs.
        weights_sha256: fingerprint of the final weights (the same on every worker).
        is_chief: whether this process wrote the run.
    """

    checkpoint: pathlib.Path | None
    metrics: dict
    table: str
    epochs: int
    weights_sha256: str
    is_chief: bool = True


def default_data(cache_dir: str | os.PathLike, seed: int) -> pathlib.Path:
    """The embedded synthetic face set (demo preset), generated once under `cache_dir`.

    Args:
        cache_dir: folder the corpus is generated in (``synthetic-demo-seed<seed>``).
        seed: the corpus seed.

    Returns:
        The folder holding its ``fer2013.csv`` and ``fer2013new.csv``.

    Example:

    >>> default_data("tfrecords", seed=0)  # doctest: +SKIP
    PosixPath('tfrecords/synthetic-demo-seed0/ferplus')
    """
    from kerasemo.data.synthetic import generate_corpus

    root = pathlib.Path(cache_dir) / f"synthetic-demo-seed{seed}"
    logger.info("embedded synthetic corpus (demo preset) at %s (generated on first use) ...", root)
    return generate_corpus(root, preset="demo", seed=seed).path("ferplus")


def _read_log(path: pathlib.Path) -> list[dict]:
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _trim_log(path: pathlib.Path, epochs_done: int) -> list[dict]:
    """Drops log rows of epochs the backup does not hold (interrupted after the CSV write)."""
    rows = _read_log(path)
    kept = [row for row in rows if int(row["epoch"]) < epochs_done]
    if len(kept) != len(rows):
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(kept)
    return kept


def _best_so_far(rows: list[dict]) -> tuple[float | None, int | None]:
    best, epoch = None, None
    for row in rows:
        try:
            value = float(row.get(MONITOR))
        except (TypeError, ValueError):
            continue
        if best is None or value < best:
            best, epoch = value, int(row["epoch"])
    return best, epoch


def _compiled_teacher(teacher_config, learning_rate: float, jit_compile):
    """The SE-ResNet teacher (from its weights file, if any) with weight decay, compiled.

    Returns:
        (model, number of kernels with L2 weight decay).
    """
    import keras

    from kerasemo.models.teacher import load_teacher
    from kerasemo.training.schedules import attach_weight_decay

    teacher = load_teacher(teacher_config.weights_path or None, teacher_config, allow_new_head=True)
    decayed = attach_weight_decay(teacher, teacher_config.weight_decay)
    teacher.compile(
        optimizer=keras.optimizers.SGD(learning_rate=learning_rate, momentum=teacher_config.momentum),
        loss=keras.losses.CategoricalCrossentropy(from_logits=True),
        metrics=[
            keras.metrics.CategoricalAccuracy(name="accuracy"),
            keras.metrics.CategoricalCrossentropy(from_logits=True, name="cross_entropy"),
        ],
        jit_compile=jit_compile,
    )
    return teacher, decayed


def _training_faces(records, teacher_config, seed: int, strategy):
    """The training batches for `strategy`, and the steps per epoch (None: one pass).

    On one device: one pass over the faces per epoch, as always. With several replicas or
    workers: each worker's input pipeline takes its own part of the faces (every n-th), repeats
    it, and every worker takes the same ``faces // global batch`` steps per epoch.
    """
    from kerasemo import distribute
    from kerasemo.data import face_records

    if not distribute.is_distributed(strategy):
        train = face_records.make_face_dataset(records, "train", teacher_config, training=True, seed=seed)
        return train, None
    steps_per_epoch = records.num_examples("train") // teacher_config.batch_size
    if steps_per_epoch < 1:
        raise distribute.StrategyError(
            f"{records.num_examples('train')} training faces are fewer than one global batch "
            f"(teacher.batch_size={teacher_config.batch_size})."
        )

    def make_dataset(batch_size, index, count):
        return face_records.make_face_dataset(
            records, "train", teacher_config, training=True, seed=seed + index, batch_size=batch_size,
            drop_remainder=True, num_shards=count, shard_index=index, repeat=True,
        )

    train = distribute.distribute_dataset(strategy, make_dataset, global_batch_size=teacher_config.batch_size)
    return train, steps_per_epoch


def _prepare_run_dir(out: pathlib.Path, data, *, resume: bool, chief: bool, experiment, cache_dir, command) -> pathlib.Path:
    """Checks and prepares the run directory; returns the data folder (the run's own when
    resuming without one, else the embedded default when None).

    Raises:
        FileExistsError: when `out` holds a run and `resume` is False.
        NotADirectoryError: when the data folder is not a folder.
    """
    backup, run_file = out / BACKUP_DIR, out / RUN_FILE
    if chief and not resume and (backup.exists() or (out / METRICS).exists()):
        raise FileExistsError(
            f"{out} already holds a teacher run. Pass --resume (resume=True) to continue it, or "
            "choose another --out."
        )
    if resume and not backup.exists():
        logger.info("nothing to resume in %s; starting a new run", out)
    if data is None and resume and run_file.exists():
        data = pathlib.Path(json.loads(run_file.read_text(encoding="utf-8"))["data"])
        logger.info("resuming with the run's data %s", data)
    data = default_data(cache_dir, experiment.seed) if data is None else pathlib.Path(data)
    if not data.is_dir():
        raise NotADirectoryError(
            f"{data} is not a folder; pass the folder holding fer2013.csv and fer2013new.csv."
        )
    if chief:  # the run directory is the chief's alone
        out.mkdir(parents=True, exist_ok=True)
        if not resume or not backup.exists():
            # Leftovers of a run interrupted before its first epoch ended.
            for name in (TRAINING_LOG, CHECKPOINT):
                (out / name).unlink(missing_ok=True)
        config_lib.save_config(experiment, out)
        if not (resume and run_file.exists()):
            run_info = {"data": str(data.resolve()), "argv": list(command or [])}
            run_file.write_text(json.dumps(run_info, indent=2), encoding="utf-8")
    return data


def _face_records(data: pathlib.Path, cache_dir):
    """The cleaned faces as TFRecord shards (cached), checked to hold every split.

    Raises:
        ValueError: when a split keeps no faces after cleaning.
    """
    from kerasemo.data import face_records

    records = face_records.prepare_face_records(data, cache_dir)
    logger.info("%s", records.report.summary())
    for split in face_records.SPLITS:
        if records.num_examples(split) == 0:
            raise ValueError(
                f"the FERPlus files in {data} keep no {split} images after cleaning "
                f"({face_records.SPLIT_OF_USAGE.get(split, split)} rows); training needs "
                "Training, PublicTest and PrivateTest faces."
            )
    return records


def _callbacks(out: pathlib.Path, schedule, *, resume: bool, chief: bool) -> list:
    """The learning-rate schedule, the writers (chief only) and the backup, resume-aware."""
    import keras

    from kerasemo import distribute

    epochs_done = 0
    metadata_path = out / BACKUP_DIR / "training_metadata.json"
    if resume and metadata_path.exists():
        epochs_done = int(json.loads(metadata_path.read_text()).get("epoch", 0))
    rows = _trim_log(out / TRAINING_LOG, epochs_done) if resume else []
    best_value, _ = _best_so_far(rows)
    if resume:
        logger.info("resuming after epoch %d", epochs_done)
    callbacks = [keras.callbacks.LearningRateScheduler(schedule)]
    if chief:  # only the chief writes
        callbacks += [
            keras.callbacks.ModelCheckpoint(
                str(out / CHECKPOINT), monitor=MONITOR, mode="min", save_best_only=True,
                initial_value_threshold=best_value,
            ),
            keras.callbacks.CSVLogger(str(out / TRAINING_LOG), append=True),
            keras.callbacks.TensorBoard(log_dir=str(out / "logs"), write_graph=False, profile_batch=0),
        ]
    # Last, so that a backed-up epoch is also in the log and the checkpoint.
    callbacks.append(distribute.WorkerBackupAndRestore(str(out / BACKUP_DIR), chief=chief, delete_checkpoint=False))
    return callbacks


def _fit(experiment, records, out, *, epochs, resume, precision, strategy, jit_compile, verbose):
    """Builds, compiles and fits the teacher; returns (model, total epochs, precision)."""
    import keras

    from kerasemo import distribute
    from kerasemo.data import face_records
    from kerasemo.training.runtime import resolve_precision
    from kerasemo.training.schedules import learning_rate_schedule

    teacher_config = experiment.teacher
    chief = distribute.is_chief(strategy)
    train, steps_per_epoch = _training_faces(records, teacher_config, experiment.seed, strategy)
    # Validation (model selection) always uses the vote distribution: the paper's loss. Every
    # worker of a multi-worker run reads all of it.
    val = distribute.replicate_dataset(
        face_records.make_face_dataset(records, "val", teacher_config, training=False, label_mode="distribution")
    )
    precision = resolve_precision(precision)
    keras.config.set_dtype_policy(precision)
    keras.utils.set_random_seed(experiment.seed)
    total_epochs = epochs or len(teacher_config.learning_rates) * teacher_config.epochs_per_rate
    schedule = learning_rate_schedule(teacher_config.learning_rates, teacher_config.epochs_per_rate, epochs)
    with strategy.scope():  # the model, its optimizer and metrics live on the strategy's devices
        teacher, decayed = _compiled_teacher(teacher_config, schedule(0), jit_compile)
        distribute.prepare_for_fit(teacher, strategy)
    logger.info(
        "teacher: %s preset, %s parameters, input %d x %d, %s; %d epochs, learning rates %s, "
        "L2 weight decay %g on %d kernels; global batch %d over %d replica(s) (%s)",
        experiment.name, f"{teacher.count_params():,}", teacher_config.input_size,
        teacher_config.input_size, precision, total_epochs, list(teacher_config.learning_rates),
        teacher_config.weight_decay, decayed, teacher_config.batch_size,
        strategy.num_replicas_in_sync, distribute.worker_role(strategy).describe(),
    )
    teacher.fit(
        train,
        validation_data=val,
        epochs=total_epochs,
        steps_per_epoch=steps_per_epoch,
        callbacks=_callbacks(out, schedule, resume=resume, chief=chief),
        shuffle=False,  # the dataset shuffles itself, seeded
        verbose=verbose,
    )
    return teacher, total_epochs, precision


def _best_teacher(out: pathlib.Path, last):
    """The checkpoint with the best validation loss, or the last model when none was saved."""
    import keras

    if (out / CHECKPOINT).exists():
        return keras.saving.load_model(out / CHECKPOINT, compile=False)
    logger.warning("no checkpoint was saved (validation loss never finite); using the last model")
    last.save(out / CHECKPOINT)
    return last


def _notes(metrics: dict) -> str:
    """The line under the table: class balance, the kept epoch and the baseline's fit."""
    best_value = metrics[f"best_{MONITOR}"]
    baseline = metrics["baseline_logistic_regression"]
    return (
        f"(most frequent class: {100 * metrics['most_frequent_class_share']:.1f}%; teacher: best "
        f"epoch {metrics['best_epoch']}, {MONITOR} {best_value if best_value is None else round(best_value, 4)}; "
        f"logistic regression: C = {baseline['C']:g} chosen on PublicTest, fitted in "
        f"{baseline['fit_seconds']:.0f} s)"
    )


def train_teacher(
    experiment: config_lib.ExperimentConfig,
    data: str | os.PathLike | None,
    out: str | os.PathLike,
    *,
    cache_dir: str | os.PathLike = "tfrecords",
    epochs: int | None = None,
    resume: bool = False,
    precision: str = "auto",
    strategy=None,
    jit_compile="auto",
    baseline_max_iter: int = 200,
    verbose: int = 1,
    command: list[str] | None = None,
) -> TeacherResult:
    """Trains the face teacher on FERPlus and tests it by the FERPlus protocol; writes into `out`.

    `out` receives ``teacher.keras`` (best validation model), ``training_log.csv``, ``logs/``
    (TensorBoard), ``backup/`` (state for `resume`), ``config.toml`` (the resolved
    configuration), ``run.json`` (data folder and command line), ``metrics.json`` and
    ``confusion_matrix.png``. The faces are cleaned as the authors did and cached as TFRecord
    shards under `cache_dir` (reused by later runs).

    Args:
        experiment: the resolved configuration (``teacher`` section, seed, preset name).
        data: folder holding ``fer2013.csv`` and ``fer2013new.csv``; None: the run's own folder
            when resuming, else the embedded synthetic face set (`default_data`).
        out: the run directory.
        cache_dir: where face TFRecord shards are cached.
        epochs: total epochs overriding ``learning_rates x epochs_per_rate``; the rates then
            share the epochs equally (for quick runs).
        resume: continue the run in `out` after an interruption (a finished run continues if
            `epochs` is larger).
        precision: dtype policy (`kerasemo.training.PRECISIONS`; auto: mixed_float16 on a GPU).
        strategy: a `tf.distribute.Strategy` (default: TensorFlow's default); only the chief
            writes the run and tests it.
        jit_compile: Keras' ``jit_compile`` for the train step (``"auto"``, True or False).
        baseline_max_iter: solver iterations per C of the logistic-regression baseline.
        verbose: Keras' ``verbose=``: 0 silent, 1 a progress bar, 2 one line per epoch.
        command: the command line recorded in ``run.json``.

    Returns:
        A `TeacherResult`.

    Raises:
        FileExistsError: when `out` holds a run and `resume` is False.
        NotADirectoryError: when the data folder is not a folder.
        FileNotFoundError: when the FERPlus files or the teacher's weights file are missing.
        ValueError: for unreadable FERPlus files, a split with no faces, or a batch that does
            not split over the replicas.

    Example:

    >>> result = train_teacher(load_config("demo"), None, "runs/teacher")  # doctest: +SKIP
    """
    from kerasemo import distribute

    if epochs is not None:
        check_positive_int(epochs, "epochs")
    started = time.perf_counter()
    strategy = strategy or distribute.make_strategy("default")
    chief = distribute.is_chief(strategy)
    out = pathlib.Path(out)
    data = _prepare_run_dir(
        out, data, resume=resume, chief=chief, experiment=experiment, cache_dir=cache_dir, command=command
    )
    records = _face_records(data, cache_dir)
    teacher, total_epochs, precision = _fit(
        experiment, records, out, epochs=epochs, resume=resume, precision=precision,
        strategy=strategy, jit_compile=jit_compile, verbose=verbose,
    )
    fingerprint = distribute.weights_fingerprint(teacher)
    logger.info("final teacher weights sha256 %s (%s)", fingerprint, distribute.worker_role(strategy).describe())
    if not chief:
        return TeacherResult(None, {}, "", total_epochs, fingerprint, is_chief=False)

    best = _best_teacher(out, teacher)
    tested = evaluate_teacher(best, records, experiment, out, baseline_max_iter=baseline_max_iter)
    metrics = _metrics(experiment, data, records, best, tested, total_epochs, precision, out)
    metrics["wall_time_seconds"] = time.perf_counter() - started
    (out / METRICS).write_text(json.dumps(metrics, indent=2), encoding="utf-8")
    table = format_table(tested["teacher"], tested["baseline_logistic_regression"], tested["num_images"])
    return TeacherResult(out / CHECKPOINT, metrics, table + "\n" + _notes(metrics), total_epochs, fingerprint)


def _metrics(experiment, data, records, best, tested, total_epochs, precision, out) -> dict:
    """What ``metrics.json`` holds (the wall time is added by the caller)."""
    rows = _read_log(out / TRAINING_LOG)
    best_value, best_epoch = _best_so_far(rows)
    return {
        "test_protocol": TEST_PROTOCOL,
        "preset": experiment.name,
        "data": str(data),
        "records": str(records.directory),
        "cleaning": records.report.as_dict(),
        "epochs": total_epochs,
        "epochs_in_log": len(rows),
        "best_epoch": best_epoch,
        f"best_{MONITOR}": best_value,
        "checkpoint": CHECKPOINT,
        "teacher_parameters": int(best.count_params()),
        "precision": precision,
        "teacher": tested["teacher"],
        "baseline_logistic_regression": tested["baseline_logistic_regression"],
        "most_frequent_class_share": tested["most_frequent_class_share"],
    }

