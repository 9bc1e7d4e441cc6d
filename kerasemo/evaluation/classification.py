"""Classification metrics and confusion-matrix figures (teacher, probes, side by side).

Example:

```python
from kerasemo import emotions
from kerasemo.evaluation.classification import (
    accuracy, confusion_matrix, per_class_accuracy, plot_confusion_matrix)

matrix = confusion_matrix(y_true, y_pred, num_classes=8)        # rows = truth
plot_confusion_matrix([matrix, baseline], emotions.CLASSES, "confusion.png",
                      titles=["teacher", "logistic regression"])
```
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Sequence

import numpy as np


def _labels(values, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(
            f"`{name}` must be a 1-D sequence of integer class indices; received shape "
            f"{array.shape} (take the argmax of scores or one-hot rows first)."
        )
    if array.size and not np.issubdtype(array.dtype, np.integer):
        if not np.all(np.equal(np.mod(array, 1), 0)):
            raise ValueError(f"`{name}` must hold integer class indices; received {array[:5]}...")
        array = array.astype(np.int64)
    return array.astype(np.int64)


def _pair(y_true, y_pred):
    y_true, y_pred = _labels(y_true, "y_true"), _labels(y_pred, "y_pred")
    if len(y_true) != len(y_pred):
        raise ValueError(
            f"y_true and y_pred must have the same length; received {len(y_true)} and "
            f"{len(y_pred)}."
        )
    return y_true, y_pred


def accuracy(y_true, y_pred) -> float:
    """Fraction of predictions equal to the truth (NaN for empty inputs).

    Example:

    >>> accuracy([0, 1, 2, 2], [0, 1, 1, 2])
    0.75
    """
    y_true, y_pred = _pair(y_true, y_pred)
    if len(y_true) == 0:
        return float("nan")
    return float(np.mean(y_true == y_pred))


def confusion_matrix(y_true, y_pred, num_classes: int) -> np.ndarray:
    """`[num_classes, num_classes]` int64 counts; rows = true class, columns = predicted.

    Raises:
        ValueError: for labels outside `0..num_classes - 1`.

    Example:

    >>> confusion_matrix([0, 1, 1], [0, 0, 1], 2).tolist()
    [[1, 0], [1, 1]]
    """
    y_true, y_pred = _pair(y_true, y_pred)
    for name, values in (("y_true", y_true), ("y_pred", y_pred)):
        if values.size and (values.min() < 0 or values.max() >= num_classes):
            raise ValueError(
                f"`{name}` holds class {int(values.min() if values.min() < 0 else values.max())}"
                f", outside 0..{num_classes - 1}."
            )
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (y_true, y_pred), 1)
    return matrix


def per_class_accuracy(y_true, y_pred, num_classes: int) -> np.ndarray:
    """Recall of each true class (`[num_classes]` float; NaN where a class has no samples).

    Example:

    >>> per_class_accuracy([0, 0, 1], [0, 1, 1], 3).tolist()
    [0.5, 1.0, nan]
    """
    matrix = confusion_matrix(y_true, y_pred, num_classes)
    totals = matrix.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, np.diag(matrix) / np.maximum(totals, 1), np.nan)


def normalize_confusion(matrix, normalize: str | None = "true") -> np.ndarray:
    """Normalises a confusion matrix over rows ("true"), columns ("pred"), "all" or None.

    Rows (or columns) with no samples stay 0.
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    if normalize is None:
        return matrix
    if normalize == "true":
        totals = matrix.sum(axis=1, keepdims=True)
    elif normalize == "pred":
        totals = matrix.sum(axis=0, keepdims=True)
    elif normalize == "all":
        totals = matrix.sum()
    else:
        raise ValueError(
            f"normalize must be 'true', 'pred', 'all' or None; received {normalize!r}."
        )
    return np.divide(matrix, totals, out=np.zeros_like(matrix), where=np.asarray(totals) > 0)


def classification_summary(y_true, y_pred, class_names: Sequence[str]) -> dict:
    """Accuracy, per-class accuracy (by name; None where absent) and the confusion matrix."""
    num_classes = len(class_names)
    per_class = per_class_accuracy(y_true, y_pred, num_classes)
    matrix = confusion_matrix(y_true, y_pred, num_classes)
    return {
        "accuracy": accuracy(y_true, y_pred),
        "num_samples": int(len(np.asarray(y_true))),
        "per_class_accuracy": {
            name: (None if np.isnan(value) else float(value))
            for name, value in zip(class_names, per_class, strict=True)
        },
        "support": {name: int(n) for name, n in zip(class_names, matrix.sum(axis=1), strict=True)},
        "confusion_matrix": matrix.tolist(),
    }


def plot_confusion_matrix(
    matrices,
    class_names: Sequence[str],
    path: str | os.PathLike,
    *,
    titles: Sequence[str] | None = None,
    normalize: str | None = "true",
    annotate: bool = True,
) -> pathlib.Path:
    """Writes one or more confusion matrices side by side as a PNG (matplotlib, Agg).

    Args:
        matrices: one `[C, C]` count matrix (rows = truth) or a list of them.
        class_names: the C class names (axis labels).
        path: output PNG path (parent folders are created).
        titles: one title per matrix.
        normalize: "true" (rows sum to 1, the default), "pred", "all" or None (raw counts).
        annotate: write each cell's value in it.

    Returns:
        The path written.

    Raises:
        ValueError: if a matrix is not `[C, C]` for the C class names, or titles do not match.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if isinstance(matrices, np.ndarray) and matrices.ndim == 2:
        matrices = [matrices]
    matrices = [np.asarray(m) for m in matrices]
    num_classes = len(class_names)
    for index, matrix in enumerate(matrices):
        if matrix.shape != (num_classes, num_classes):
            raise ValueError(
                f"Confusion matrix {index} has shape {matrix.shape}; expected "
                f"({num_classes}, {num_classes}) for {num_classes} class names."
            )
    if titles is None:
        titles = [""] * len(matrices)
    if len(titles) != len(matrices):
        raise ValueError(f"Got {len(titles)} titles for {len(matrices)} matrices.")

    path = pathlib.Path(os.fspath(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    side = 0.55 * num_classes + 1.5
    figure, axes = plt.subplots(
        1,
        len(matrices),
        figsize=(side * len(matrices) + 1.5, side),
        squeeze=False,
        layout="constrained",
    )
    image = None
    for axis, matrix, title in zip(axes[0], matrices, titles, strict=True):
        shown = normalize_confusion(matrix, normalize)
        vmax = 1.0 if normalize else max(float(shown.max()), 1.0)
        image = axis.imshow(shown, cmap="Blues", vmin=0.0, vmax=vmax)
        axis.set_xticks(range(num_classes), labels=list(class_names), rotation=45, ha="right")
        axis.set_yticks(range(num_classes), labels=list(class_names))
        axis.set_xlabel("predicted")
        axis.set_ylabel("true")
        if title:
            axis.set_title(title)
        if annotate:
            for row in range(num_classes):
                for column in range(num_classes):
                    value = shown[row, column]
                    text = f"{value:.2f}" if normalize else f"{int(value)}"
                    axis.text(
                        column,
                        row,
                        text,
                        ha="center",
                        va="center",
                        fontsize=7,
                        color="white" if value > 0.6 * vmax else "black",
                    )
    figure.colorbar(image, ax=list(axes[0]), shrink=0.8)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
