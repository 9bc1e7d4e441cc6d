"""The face teacher's test: FERPlus PrivateTest with majority-vote labels, beside a pixel baseline.

The best validation teacher is scored on PrivateTest (accuracy, per-class accuracy, normalised
confusion matrix), next to a pixel-level multinomial logistic regression fitted on the same
faces (the floor a face model has to clear).

Example:

```python
from kerasemo.training.teacher_evaluation import evaluate_teacher

metrics = evaluate_teacher(model, records, experiment, "runs/teacher")
metrics["teacher"]["accuracy"]
```
"""

from __future__ import annotations

import copy
import logging
import pathlib
import time
import warnings

import numpy as np

logger = logging.getLogger(__name__)

TEST_PROTOCOL = "FERPlus PrivateTest, majority-vote labels, accuracy"
CONFUSION_PNG = "confusion_matrix.png"
BASELINE_C_GRID = (1e-3, 1e-2, 1e-1)
"""Inverse L2 strengths tried by the logistic-regression baseline (picked on PublicTest)."""


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

    Args:
        train_images, val_images, test_images: face images ``[n, height, width]``, 0-255.
        train_labels, val_labels: class indices of the training and validation faces.
        c_grid: inverse L2 strengths to try.
        max_iter: solver iterations per C.
        seed: the solver's random state.

    Returns:
        A dict with `predictions` (test labels), `C`, `val_accuracy` (of the chosen C, and
        `val_accuracy_per_C`) and `fit_seconds`.

    Example:

    >>> rng = np.random.default_rng(0)
    >>> images, labels = rng.uniform(0, 255, (40, 4, 4)), np.arange(40) % 2
    >>> images[labels == 1] += 100
    >>> fit = logistic_regression_baseline(images, labels, images, labels, images[:3])
    >>> fit["val_accuracy"], fit["predictions"].tolist()
    (1.0, [0, 1, 0])
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    def flat(images):
        return images.reshape(len(images), -1).astype("float32") / 255.0

    start = time.perf_counter()
    scaler = StandardScaler().fit(flat(train_images))
    x_train, x_val, x_test = (scaler.transform(flat(x)) for x in (train_images, val_images, test_images))
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


def format_table(teacher: dict, baseline: dict, num_images: int) -> str:
    """The teacher's and the baseline's PrivateTest accuracies, overall and per class, as text.

    Args:
        teacher, baseline: `kerasemo.evaluation.classification.classification_summary` dicts.
        num_images: the PrivateTest faces scored.

    Example:

    >>> from kerasemo import emotions
    >>> summary = {"accuracy": 0.5, "per_class_accuracy": dict.fromkeys(emotions.CLASSES),
    ...            "support": dict.fromkeys(emotions.CLASSES, 0)}
    >>> format_table(summary, summary, 10).splitlines()[2]
    'accuracy         50.0                        50.0'
    """
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


def evaluate_teacher(model, records, experiment, out_dir, *, baseline_max_iter: int = 200) -> dict:
    """Scores `model` and the pixel baseline on PrivateTest; draws ``confusion_matrix.png``.

    Args:
        model: the face teacher to test (faces -> 8 logits).
        records: the cleaned FERPlus faces (`kerasemo.data.face_records.prepare_face_records`).
        experiment: the run's configuration (teacher batch size, seed, preset name).
        out_dir: where ``confusion_matrix.png`` is written.
        baseline_max_iter: solver iterations per C of the baseline.

    Returns:
        ``{"teacher": summary, "baseline_logistic_regression": summary + fit details,
        "most_frequent_class_share": float, "num_images": int}``.

    Example:

    >>> metrics = evaluate_teacher(model, records, experiment, "runs/teacher")  # doctest: +SKIP
    """
    from kerasemo import emotions
    from kerasemo.data import face_records, ferplus
    from kerasemo.evaluation.classification import classification_summary, save_confusion_matrix
    from kerasemo.models.teacher_inference import predict_frame_logits

    test = face_records.load_face_arrays(records, "test")
    labels = ferplus.majority_labels(test["votes"])
    logits = predict_frame_logits(model, test["images"], batch_size=experiment.teacher.batch_size)
    teacher_metrics = classification_summary(labels, logits.argmax(axis=1), emotions.CLASSES)

    logger.info("fitting the pixel-level logistic-regression baseline ...")
    train = face_records.load_face_arrays(records, "train")
    val = face_records.load_face_arrays(records, "val")
    baseline = logistic_regression_baseline(
        train["images"],
        ferplus.majority_labels(train["votes"]),
        val["images"],
        ferplus.majority_labels(val["votes"]),
        test["images"],
        max_iter=baseline_max_iter,
        seed=experiment.seed,
    )
    baseline_metrics = classification_summary(labels, baseline.pop("predictions"), emotions.CLASSES)
    baseline_metrics.update(baseline)
    save_confusion_matrix(
        [np.asarray(teacher_metrics["confusion_matrix"]), np.asarray(baseline_metrics["confusion_matrix"])],
        emotions.CLASSES,
        pathlib.Path(out_dir) / CONFUSION_PNG,
        titles=[
            f"teacher ({experiment.name}): {100 * teacher_metrics['accuracy']:.1f}%",
            f"pixel logistic regression: {100 * baseline_metrics['accuracy']:.1f}%",
        ],
    )
    share = float(np.bincount(labels, minlength=len(emotions.CLASSES)).max() / len(labels))
    return {
        "teacher": teacher_metrics,
        "baseline_logistic_regression": baseline_metrics,
        "most_frequent_class_share": share,
        "num_images": len(labels),
    }
