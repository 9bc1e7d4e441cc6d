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

Example:

    python -m kerasemo.experiments.train_teacher --data data/ferplus --out runs/teacher
    python -m kerasemo.experiments.train_teacher --data data/ferplus --config paper --out runs/paper
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
import csv
import json
import logging
import os
import pathlib
import sys
import time

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from kerasemo import config as config_lib  # noqa: E402
from kerasemo import distribute  # noqa: E402

logger = logging.getLogger(__name__)

CHECKPOINT = "teacher.keras"
TRAINING_LOG = "training_log.csv"
METRICS = "metrics.json"
CONFUSION_PNG = "confusion_matrix.png"
BACKUP_DIR = "backup"
RUN_FILE = "run.json"
MONITOR = "val_cross_entropy"
TEST_PROTOCOL = "FERPlus PrivateTest, majority-vote labels, accuracy"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m kerasemo.experiments.train_teacher",
        description=__doc__.split("\n\n")[0] + "\n\n" + __doc__.split("\n\n")[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--data",
        type=pathlib.Path,
        help="folder holding fer2013.csv and fer2013new.csv (default: the embedded synthetic "
        "face set, generated under --cache-dir on first use)",
    )
    parser.add_argument(
        "--out",
        type=pathlib.Path,
        default=pathlib.Path("runs") / "teacher",
        help="run directory (default: runs/teacher)",
    )
    parser.add_argument(
        "--cache-dir",
        type=pathlib.Path,
        default=pathlib.Path("tfrecords"),
        help="where face TFRecord shards are cached (default: tfrecords)",
    )
    parser.add_argument(
        "--epochs",
        type=int,
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
        choices=("auto", "float32", "mixed_float16", "mixed_bfloat16"),
        default="auto",
        help="dtype policy: auto = mixed_float16 on a GPU, float32 otherwise (logits are "
        "float32 either way)",
    )
    distribute.add_strategy_argument(parser)
    parser.add_argument(
        "--jit-compile",
        choices=("auto", "true", "false"),
        default="auto",
        help="XLA compilation of the train step (Keras' jit_compile; default auto)",
    )
    parser.add_argument(
        "--baseline-max-iter",
        type=int,
        default=200,
        help="solver iterations per C of the logistic-regression baseline (default 200)",
    )
    parser.add_argument(
        "--verbose",
        type=int,
        choices=(0, 1, 2),
        default=1,
        help="Keras fit verbosity: 1 = progress bar (default), 2 = one line per epoch",
    )
    config_lib.add_config_arguments(parser, default="demo")
    return parser


# ---------------------------------------------------------------------------------------------
# Pieces that tests and other entry points reuse.


def learning_rate_schedule(learning_rates, epochs_per_rate: int, total_epochs: int | None = None):
    """The authors' step schedule as a function epoch (0-based) -> learning rate.

    Each rate holds for `epochs_per_rate` epochs (the last one holds after that). With
    `total_epochs`, the rates share `total_epochs` equally instead.

    Example:

    >>> schedule = learning_rate_schedule((1e-2, 1e-3, 1e-4), 60)
    >>> [schedule(e) for e in (0, 59, 60, 179, 200)]
    [0.01, 0.01, 0.001, 0.0001, 0.0001]
    """
    rates = tuple(float(r) for r in learning_rates)

    def schedule(epoch, lr=None):
        if total_epochs:
            stage = epoch * len(rates) // total_epochs
        else:
            stage = epoch // epochs_per_rate
        return rates[min(int(stage), len(rates) - 1)]

    return schedule


def attach_weight_decay(model, weight_decay: float) -> int:
    """Adds the authors' weight decay to every conv and dense kernel as an L2 penalty.

    MatConvNet adds `weight_decay * w` to the gradient before the momentum update, which is
    the gradient of `(weight_decay / 2) * ||w||^2`: each kernel gets
    `keras.regularizers.L2(weight_decay / 2)`. (Keras' `SGD(weight_decay=...)` is decoupled
    decay, applied outside the momentum, so it is not used.) Batch-norm scales and offsets and
    biases are not decayed. The penalty lives on the variables only: it is not part of the
    saved model's configuration.

    Returns:
        The number of kernels regularised.
    """
    import keras

    if weight_decay <= 0:
        return 0
    regularizer = keras.regularizers.L2(weight_decay / 2.0)
    count = 0
    def layers_of(container):
        for layer in container.layers:
            if isinstance(layer, keras.Model):
                yield from layers_of(layer)
            else:
                yield layer

    for layer in layers_of(model):
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
            layer.kernel.regularizer = regularizer
            count += 1
    return count


def _default_data(cache_dir: pathlib.Path, seed: int) -> pathlib.Path:
    """The embedded synthetic face set (generated once under `cache_dir`)."""
    try:
        from kerasemo.data.synthetic import generate_corpus
    except ImportError:
        raise SystemExit(
            "error: --data is required (the folder holding fer2013.csv and fer2013new.csv); "
            "the embedded synthetic corpus is not available in this installation."
        ) from None
    root = cache_dir / f"synthetic-demo-seed{seed}"
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
        value = row.get(MONITOR)
        try:
            value = float(value)
        except (TypeError, ValueError):
            continue
        if best is None or value < best:
            best, epoch = value, int(row["epoch"])
    return best, epoch


# Inverse L2 strengths tried by the logistic-regression baseline (picked on PublicTest).
BASELINE_C_GRID = (1e-3, 1e-2, 1e-1)


def logistic_regression_baseline(
    train_images,
    train_labels,
    val_images,
    val_labels,
    test_images,
    *,
    c_grid=BASELINE_C_GRID,
    max_iter: int = 200,
    seed: int = 0,
) -> dict:
    """Pixel-level multinomial logistic regression: standardised 48x48 pixels -> class.

    The L2 strength is chosen on the validation split (PublicTest) from `c_grid`; the fits run
    from the most to the least regularised, each warm-started from the previous solution.

    Returns:
        A dict with `predictions` (test labels), `C`, `val_accuracy` (of the chosen C, and
        `val_accuracy_per_C`) and `fit_seconds`.
    """
    import copy
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    def flat(images):
        return images.reshape(len(images), -1).astype("float32") / 255.0

    start = time.perf_counter()
    scaler = StandardScaler().fit(flat(train_images))
    x_train, x_val, x_test = (scaler.transform(flat(x)) for x in (train_images, val_images,
                                                                   test_images))
    model = LogisticRegression(max_iter=max_iter, tol=1e-3, warm_start=True, random_state=seed)
    best, scores = None, {}
    for c in sorted(c_grid):
        model.set_params(C=c)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(x_train, train_labels)
        scores[c] = float(np.mean(model.predict(x_val) == np.asarray(val_labels)))
        logger.info("  logistic regression C=%g: PublicTest accuracy %.3f", c, scores[c])
        if best is None or scores[c] > scores[best[0]]:
            best = (c, copy.deepcopy(model))
    return {
        "predictions": best[1].predict(x_test),
        "C": best[0],
        "val_accuracy": scores[best[0]],
        "val_accuracy_per_C": {str(c): v for c, v in scores.items()},
        "fit_seconds": time.perf_counter() - start,
    }


def _format_table(teacher: dict, baseline: dict, num_images: int) -> str:
    from kerasemo import emotions

    def cell(value):
        return "   -  " if value is None else f"{100 * value:6.1f}"

    lines = [
        f"{TEST_PROTOCOL}: {num_images} images",
        f"{'':12s} {'teacher':>8s} {'pixel logistic regression':>27s}",
        f"{'accuracy':12s} {cell(teacher['accuracy']):>8s} {cell(baseline['accuracy']):>27s}",
    ]
    for name in emotions.CLASSES:
        lines.append(
            f"  {name:10s} {cell(teacher['per_class_accuracy'][name]):>8s} "
            f"{cell(baseline['per_class_accuracy'][name]):>27s}"
            f"   (n = {teacher['support'][name]})"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------


def _compiled_teacher(teacher_config, learning_rate: float, jit_compile: str):
    """The SE-ResNet teacher (from its weights file, if any) with weight decay, compiled.

    Returns:
        (model, number of kernels with L2 weight decay).
    """
    import keras

    from kerasemo.models.teacher import load_teacher

    teacher = load_teacher(teacher_config.weights_path or None, teacher_config, allow_new_head=True)
    decayed = attach_weight_decay(teacher, teacher_config.weight_decay)
    teacher.compile(
        optimizer=keras.optimizers.SGD(learning_rate=learning_rate, momentum=teacher_config.momentum),
        loss=keras.losses.CategoricalCrossentropy(from_logits=True),
        metrics=[
            keras.metrics.CategoricalAccuracy(name="accuracy"),
            keras.metrics.CategoricalCrossentropy(from_logits=True, name="cross_entropy"),
        ],
        jit_compile={"auto": "auto", "true": True, "false": False}[jit_compile],
    )
    return teacher, decayed


def _training_faces(records, teacher_config, seed: int, strategy):
    """The training batches for `strategy`, and the steps per epoch (None: one pass).

    On one device: one pass over the faces per epoch, as always. With several replicas or
    workers: each worker's input pipeline takes its own part of the faces (every n-th), repeats
    it, and every worker takes the same ``faces // global batch`` steps per epoch.
    """
    from kerasemo.data import face_records

    if not distribute.is_distributed(strategy):
        train = face_records.make_face_dataset(
            records, "train", teacher_config, training=True, seed=seed
        )
        return train, None
    steps_per_epoch = records.num_examples("train") // teacher_config.batch_size
    if steps_per_epoch < 1:
        raise distribute.StrategyError(
            f"{records.num_examples('train')} training faces are fewer than one global batch "
            f"(teacher.batch_size={teacher_config.batch_size})."
        )

    def make_dataset(batch_size, index, count):
        return face_records.make_face_dataset(
            records,
            "train",
            teacher_config,
            training=True,
            seed=seed + index,
            batch_size=batch_size,
            drop_remainder=True,
            num_shards=count,
            shard_index=index,
            repeat=True,
        )

    train = distribute.distribute_dataset(
        strategy, make_dataset, global_batch_size=teacher_config.batch_size
    )
    return train, steps_per_epoch


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        # First: a multi-worker strategy must exist before TensorFlow runs anything.
        strategy = distribute.make_strategy(args.strategy)
    except distribute.StrategyError as err:
        raise SystemExit(f"error: {err}") from None
    chief = distribute.is_chief(strategy)
    started = time.perf_counter()
    out: pathlib.Path = args.out
    backup = out / BACKUP_DIR
    saved_config = out / "config.toml"

    # --- Configuration and run directory.
    try:
        if args.resume and saved_config.exists():
            experiment = config_lib.apply_overrides(
                config_lib.load_config(saved_config), args.overrides
            )
            logger.info("resuming %s with its config.toml", out)
        else:
            experiment = config_lib.config_from_args(args)
    except (config_lib.ConfigError, FileNotFoundError) as err:
        raise SystemExit(f"error: {err}") from None
    if args.epochs is not None and args.epochs < 1:
        raise SystemExit(f"error: --epochs must be >= 1; received {args.epochs}.")
    if chief and not args.resume and (backup.exists() or (out / METRICS).exists()):
        raise SystemExit(
            f"error: {out} already holds a teacher run. Pass --resume to continue it, or choose "
            "another --out."
        )
    if args.resume and not backup.exists():
        logger.info("nothing to resume in %s; starting a new run", out)
    teacher_config = experiment.teacher

    data_dir = args.data
    run_file = out / RUN_FILE
    if data_dir is None and args.resume and run_file.exists():
        data_dir = pathlib.Path(json.loads(run_file.read_text(encoding="utf-8"))["data"])
        logger.info("resuming with the run's data %s", data_dir)
    if data_dir is None:
        data_dir = _default_data(args.cache_dir, experiment.seed)
    if not data_dir.is_dir():
        raise SystemExit(
            f"error: --data {data_dir} is not a folder; pass the folder holding fer2013.csv and "
            "fer2013new.csv."
        )

    import keras

    from kerasemo import emotions, training
    from kerasemo.data import face_records, ferplus
    from kerasemo.evaluation.classification import classification_summary, plot_confusion_matrix
    from kerasemo.models.teacher import TeacherWeightsError
    from kerasemo.models.teacher_inference import predict_frame_logits

    if chief:  # the run directory is the chief's alone
        out.mkdir(parents=True, exist_ok=True)
        if not args.resume or not backup.exists():
            # Leftovers of a run interrupted before its first epoch ended.
            for name in (TRAINING_LOG, CHECKPOINT):
                (out / name).unlink(missing_ok=True)
        config_lib.save_config(experiment, out)
        if not (args.resume and run_file.exists()):
            run_info = {"data": str(data_dir.resolve()), "argv": list(argv or sys.argv[1:])}
            run_file.write_text(json.dumps(run_info, indent=2), encoding="utf-8")

    # --- Data: cleaned once into TFRecord shards, reused afterwards.
    try:
        records = face_records.prepare_face_records(data_dir, args.cache_dir)
    except (FileNotFoundError, ferplus.FERPlusError) as err:
        raise SystemExit(f"error: {err}") from None
    logger.info("%s", records.report.summary())
    for split in face_records.SPLITS:
        if records.num_examples(split) == 0:
            raise SystemExit(
                f"error: the FERPlus files in {data_dir} keep no {split} images after cleaning "
                f"({face_records.SPLIT_OF_USAGE.get(split, split)} rows); training needs "
                "Training, PublicTest and PrivateTest faces."
            )
    try:
        train, steps_per_epoch = _training_faces(records, teacher_config, experiment.seed, strategy)
    except distribute.StrategyError as err:
        raise SystemExit(f"error: {err}") from None
    # Validation (model selection) always uses the vote distribution: the paper's loss. Every
    # worker of a multi-worker run reads all of it.
    val = distribute.replicate_dataset(
        face_records.make_face_dataset(
            records, "val", teacher_config, training=False, label_mode="distribution"
        )
    )

    # --- Model.
    precision = training.resolve_precision(args.precision)
    keras.config.set_dtype_policy(precision)
    keras.utils.set_random_seed(experiment.seed)
    total_epochs = args.epochs or (
        len(teacher_config.learning_rates) * teacher_config.epochs_per_rate
    )
    schedule = learning_rate_schedule(
        teacher_config.learning_rates, teacher_config.epochs_per_rate, args.epochs
    )
    try:
        # The model, its optimizer and metrics live on the strategy's devices.
        with strategy.scope():
            teacher, decayed = _compiled_teacher(teacher_config, schedule(0), args.jit_compile)
            distribute.prepare_for_fit(teacher, strategy)
    except (FileNotFoundError, TeacherWeightsError) as err:
        raise SystemExit(f"error: {err}") from None
    logger.info(
        "teacher: %s preset, %s parameters, input %d x %d, %s; %d epochs, learning rates %s, "
        "L2 weight decay %g on %d kernels; global batch %d over %d replica(s) (%s)",
        experiment.name,
        f"{teacher.count_params():,}",
        teacher_config.input_size,
        teacher_config.input_size,
        precision,
        total_epochs,
        list(teacher_config.learning_rates),
        teacher_config.weight_decay,
        decayed,
        teacher_config.batch_size,
        strategy.num_replicas_in_sync,
        distribute.worker_role(strategy).describe(),
    )

    # --- Resume bookkeeping: the CSV log and the best value so far.
    epochs_done = 0
    metadata_path = backup / "training_metadata.json"
    if args.resume and metadata_path.exists():
        epochs_done = int(json.loads(metadata_path.read_text()).get("epoch", 0))
    rows = _trim_log(out / TRAINING_LOG, epochs_done) if args.resume else []
    best_value, _ = _best_so_far(rows)
    if args.resume:
        logger.info("resuming after epoch %d of %d", epochs_done, total_epochs)

    callbacks = [keras.callbacks.LearningRateScheduler(schedule)]
    if chief:  # only the chief writes
        callbacks += [
            keras.callbacks.ModelCheckpoint(
                str(out / CHECKPOINT),
                monitor=MONITOR,
                mode="min",
                save_best_only=True,
                initial_value_threshold=best_value,
            ),
            keras.callbacks.CSVLogger(str(out / TRAINING_LOG), append=True),
            keras.callbacks.TensorBoard(
                log_dir=str(out / "logs"), write_graph=False, profile_batch=0
            ),
        ]
    # Last, so that a backed-up epoch is also in the log and the checkpoint.
    callbacks.append(
        distribute.WorkerBackupAndRestore(str(backup), chief=chief, delete_checkpoint=False)
    )
    teacher.fit(
        train,
        validation_data=val,
        epochs=total_epochs,
        steps_per_epoch=steps_per_epoch,
        callbacks=callbacks,
        shuffle=False,  # the dataset shuffles itself, seeded
        verbose=args.verbose,
    )
    fingerprint = distribute.weights_fingerprint(teacher)
    logger.info("final teacher weights sha256 %s (%s)", fingerprint, distribute.worker_role(strategy).describe())
    if not chief:
        print(
            f"worker finished {total_epochs} epochs; final teacher weights sha256 {fingerprint} "
            "(the chief writes the teacher and evaluates it)"
        )
        return 0

    # --- Evaluation: the best validation model on PrivateTest, majority-vote labels.
    rows = _read_log(out / TRAINING_LOG)
    best_value, best_epoch = _best_so_far(rows)
    if (out / CHECKPOINT).exists():
        best = keras.saving.load_model(out / CHECKPOINT, compile=False)
    else:
        logger.warning(
            "no checkpoint was saved (validation loss never finite); using the last model"
        )
        best = teacher
        best.save(out / CHECKPOINT)
    test = face_records.load_face_arrays(records, "test")
    labels = ferplus.majority_labels(test["votes"])
    logits = predict_frame_logits(best, test["images"], batch_size=teacher_config.batch_size)
    teacher_metrics = classification_summary(labels, logits.argmax(axis=1), emotions.CLASSES)

    logger.info("fitting the pixel-level logistic-regression baseline ...")
    train_arrays = face_records.load_face_arrays(records, "train")
    val_arrays = face_records.load_face_arrays(records, "val")
    baseline = logistic_regression_baseline(
        train_arrays["images"],
        ferplus.majority_labels(train_arrays["votes"]),
        val_arrays["images"],
        ferplus.majority_labels(val_arrays["votes"]),
        test["images"],
        max_iter=args.baseline_max_iter,
        seed=experiment.seed,
    )
    baseline_metrics = classification_summary(labels, baseline.pop("predictions"), emotions.CLASSES)
    baseline_metrics.update(baseline)

    plot_confusion_matrix(
        [np.asarray(teacher_metrics["confusion_matrix"]),
         np.asarray(baseline_metrics["confusion_matrix"])],
        emotions.CLASSES,
        out / CONFUSION_PNG,
        titles=[
            f"teacher ({experiment.name}): {100 * teacher_metrics['accuracy']:.1f}%",
            f"pixel logistic regression: {100 * baseline_metrics['accuracy']:.1f}%",
        ],
    )
    majority_share = float(np.bincount(labels, minlength=len(emotions.CLASSES)).max() / len(labels))
    metrics = {
        "test_protocol": TEST_PROTOCOL,
        "preset": experiment.name,
        "data": str(data_dir),
        "records": str(records.directory),
        "cleaning": records.report.as_dict(),
        "epochs": total_epochs,
        "epochs_in_log": len(rows),
        "best_epoch": best_epoch,
        f"best_{MONITOR}": best_value,
        "checkpoint": CHECKPOINT,
        "teacher_parameters": int(best.count_params()),
        "precision": precision,
        "teacher": teacher_metrics,
        "baseline_logistic_regression": baseline_metrics,
        "most_frequent_class_share": majority_share,
        "wall_time_seconds": time.perf_counter() - started,
    }
    (out / METRICS).write_text(json.dumps(metrics, indent=2), encoding="utf-8")

    print()
    print(_format_table(teacher_metrics, baseline_metrics, len(labels)))
    print(
        f"(most frequent class: {100 * majority_share:.1f}%; teacher: best epoch {best_epoch}, "
        f"{MONITOR} {best_value if best_value is None else round(best_value, 4)}; logistic "
        f"regression: C = {baseline_metrics['C']:g} chosen on PublicTest, fitted in "
        f"{baseline_metrics['fit_seconds']:.0f} s)"
    )
    print(f"wrote {out / CHECKPOINT}, {out / METRICS}, {out / CONFUSION_PNG}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
