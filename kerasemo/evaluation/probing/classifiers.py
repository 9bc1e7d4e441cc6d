"""Cross-validation of the probe's classifiers: fit on each training fold, score the test fold.

Scores are the mean and standard deviation over folds of the per-fold accuracy, UAR
(unweighted average recall) and macro-F1; the standard deviation uses ``ddof=1`` (MATLAB's
``std``, as in the authors' ``emo_benchmarks.m``). Confusion matrices pool every clip's
prediction from the fold where it was tested (the authors sum the per-fold matrices: the same
thing).

Classifiers (`CLASSIFIERS`): ``"linear"`` (`kerasemo.models.probe.LinearProbe`: affine +
softmax, unregularised, the paper's probe), ``"forest"`` (a seeded random forest, the acoustic
baseline's) and ``"majority"`` (the training fold's most frequent class).

Example:

>>> x = np.r_[np.zeros((20, 1)), np.ones((20, 1))]; y = np.r_[np.zeros(20), np.ones(20)].astype(int)
>>> from kerasemo.evaluation.probing.folds import random_folds
>>> score = cross_validate(x, y, random_folds(40, 4), num_classes=2, classifier="majority")
>>> score.summary("uar")[0]
0.5
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np

from kerasemo.evaluation import classification
from kerasemo.evaluation.probing.folds import FoldPlan

METRICS: tuple[str, ...] = ("accuracy", "uar", "macro_f1")
"""Per-fold scores of every row, in table order."""

METRIC_TITLES = {"accuracy": "accuracy", "uar": "UAR", "macro_f1": "macro-F1"}

_METRIC_FUNCTIONS = {
    "accuracy": classification.accuracy,
    "uar": classification.unweighted_average_recall,
    "macro_f1": classification.macro_f1,
}


def mean_and_std(values) -> tuple[float, float]:
    """Mean and ddof-1 standard deviation of per-fold scores (NaN where undefined).

    Example:

    >>> mean_and_std([0.5, 1.0, 1.5])
    (1.0, 0.5)
    """
    values = [float(v) for v in values]
    mean = float(np.mean(values)) if values else float("nan")
    std = float(np.std(values, ddof=1)) if len(values) > 1 else float("nan")
    return mean, std


@dataclasses.dataclass
class ProtocolScore:
    """A method's cross-validated scores under one protocol.

    Args:
        mean: mean of the per-fold accuracies (fraction, 0-1).
        std: their standard deviation, ddof=1 (NaN with a single fold).
        fold_accuracies: one accuracy per fold that had test clips.
        num_clips: clips the method was evaluated on.
        num_folds: folds used.
        predictions: `[N]` predicted class of each clip in its test fold (-1 where not evaluated).
        confusion: `[K, K]` counts, rows = truth, pooled over folds.
        fold_scores: metric name (`METRICS`) -> one score per fold (accuracy included).

    Example:

    >>> score = ProtocolScore(0.5, float("nan"), [0.5], 2, 1, np.array([0, 0]),
    ...                       np.array([[1, 0], [1, 0]]), {"uar": [0.5], "macro_f1": [1 / 3]})
    >>> score.summary("uar"), score.to_dict()["uar"]["std"]
    ((0.5, nan), None)
    """

    mean: float
    std: float
    fold_accuracies: list[float]
    num_clips: int
    num_folds: int
    predictions: np.ndarray
    confusion: np.ndarray
    fold_scores: dict[str, list[float]] = dataclasses.field(default_factory=dict)

    def summary(self, metric: str = "accuracy") -> tuple[float, float]:
        """(mean, std over folds) of one of `METRICS`."""
        if metric == "accuracy":
            return self.mean, self.std
        if metric not in METRICS:
            raise ValueError(f"Unknown metric {metric!r}; expected one of {METRICS}.")
        return mean_and_std(self.fold_scores.get(metric, []))

    def to_dict(self) -> dict:
        """JSON-ready: accuracy as ``mean``/``std``/``fold_accuracies``, then UAR and macro-F1."""
        def optional(value):
            return None if math.isnan(value) else value

        record = {
            "mean": self.mean,
            "std": optional(self.std),
            "fold_accuracies": list(self.fold_accuracies),
            "num_clips": self.num_clips,
            "num_folds": self.num_folds,
            "confusion": self.confusion.tolist(),
        }
        for metric in METRICS[1:]:
            mean, std = self.summary(metric)
            record[metric] = {
                "mean": optional(mean),
                "std": optional(std),
                "folds": list(self.fold_scores.get(metric, [])),
            }
        return record


def fit_predict_linear(num_classes: int, seed: int = 0) -> Callable:
    """``(x_train, y_train, x_test) -> predictions`` of a `LinearProbe` (seed unused: exact fit).

    Example:

    >>> fit_predict = fit_predict_linear(2)
    >>> fit_predict(np.array([[0.0], [0.2], [1.0], [1.2]]), np.array([0, 0, 1, 1]), np.array([[1.1]]))
    array([1])
    """
    from kerasemo.models.probe import LinearProbe

    probe = LinearProbe(num_classes=num_classes)

    def fit_predict(x_train, y_train, x_test):
        probe.fit(x_train, y_train)
        return probe.predict_labels(x_test)

    return fit_predict


def fit_predict_forest(num_classes: int, seed: int = 0, trees: int = 300) -> Callable:
    """``(x_train, y_train, x_test) -> predictions`` of a seeded random forest of `trees` trees.

    Example:

    >>> fit_predict_forest(2, trees=5)(np.array([[0.0], [1.0]]), np.array([0, 1]), np.array([[1.0]]))
    array([1])
    """
    from sklearn.ensemble import RandomForestClassifier

    def fit_predict(x_train, y_train, x_test):
        forest = RandomForestClassifier(n_estimators=trees, random_state=seed, n_jobs=-1)
        forest.fit(x_train, y_train)
        return forest.predict(x_test).astype(np.int64)

    return fit_predict


def fit_predict_majority(num_classes: int, seed: int = 0) -> Callable:
    """``(x_train, y_train, x_test) -> predictions``: the training fold's most frequent class.

    Example:

    >>> fit_predict_majority(3)(np.zeros((3, 1)), np.array([2, 2, 0]), np.zeros((2, 1)))
    array([2, 2])
    """

    def fit_predict(x_train, y_train, x_test):
        counts = np.bincount(y_train, minlength=num_classes)
        return np.full(len(x_test), int(np.argmax(counts)), np.int64)

    return fit_predict


CLASSIFIERS: dict[str, Callable] = {
    "linear": fit_predict_linear,
    "forest": fit_predict_forest,
    "majority": fit_predict_majority,
}


def cross_validate(
    features,
    labels,
    plan: FoldPlan,
    *,
    num_classes: int,
    classifier: str | Callable = "linear",
    valid=None,
    seed: int = 0,
) -> ProtocolScore:
    """Fits a classifier on each training fold and scores it on the matching test fold.

    Args:
        features: `[N, D]` features.
        labels: `[N]` integer labels in ``0..num_classes - 1``.
        plan: the folds (`make_folds`).
        num_classes: K.
        classifier: ``"linear"`` (`LinearProbe`), ``"forest"`` (seeded random forest),
            ``"majority"``, or a callable ``(x_train, y_train, x_test) -> predictions``.
        valid: optional `[N]` bool mask of clips that have features; the others are left out of
            both training and test folds (a fold with no valid test clip is not scored).
        seed: seed of the random forest.

    Returns:
        A `ProtocolScore` (accuracy, UAR and macro-F1 per fold; pooled confusion).

    Example:

    >>> from kerasemo.evaluation.probing.folds import random_folds
    >>> x = np.r_[np.zeros((20, 1)), np.ones((20, 1))]; y = np.r_[np.zeros(20), np.ones(20)].astype(int)
    >>> cross_validate(x, y, random_folds(40, 4), num_classes=2).mean
    1.0
    """
    if not callable(classifier) and classifier not in CLASSIFIERS:
        raise ValueError(
            f"Unknown classifier {classifier!r}; expected one of {sorted(CLASSIFIERS)} or a "
            "callable (x_train, y_train, x_test) -> predictions."
        )
    features = np.asarray(features)
    labels = np.asarray(labels).astype(np.int64)
    num_samples = len(labels)
    valid = np.ones(num_samples, bool) if valid is None else np.asarray(valid, bool)
    fit_predict = classifier if callable(classifier) else CLASSIFIERS[classifier](num_classes, seed)
    predictions = np.full(num_samples, -1, np.int64)
    fold_scores: dict[str, list[float]] = {metric: [] for metric in METRICS}
    for train, test in plan.splits(num_samples):
        train, test = train[valid[train]], test[valid[test]]
        if len(test) == 0 or len(train) == 0:
            continue
        predicted = np.asarray(fit_predict(features[train], labels[train], features[test]))
        predictions[test] = predicted
        for metric, function in _METRIC_FUNCTIONS.items():
            fold_scores[metric].append(function(labels[test], predicted))
    evaluated = predictions >= 0
    confusion = classification.confusion_matrix(labels[evaluated], predictions[evaluated], num_classes)
    accuracies = fold_scores.pop("accuracy")
    mean, std = mean_and_std(accuracies)
    return ProtocolScore(
        mean, std, accuracies, int(evaluated.sum()), len(accuracies), predictions, confusion,
        fold_scores,
    )
