"""Classification metrics (scikit-learn) and confusion-matrix figures (teacher, probes).

Accuracy, confusion matrices, per-class recall, UAR and macro-F1 are `sklearn.metrics`
computations behind the project's label checks (1-D integer class indices; errors say what was
received). UAR, the unweighted average recall (`sklearn.metrics.balanced_accuracy_score`), is
the usual headline of speech-emotion work on unbalanced sets: the mean of the per-class recalls,
so a classifier that always predicts the majority class scores 1/K.

Example:

>>> y_true, y_pred = [0, 0, 1, 1, 1, 2], [0, 1, 1, 1, 0, 2]
>>> round(accuracy(y_true, y_pred), 4), round(unweighted_average_recall(y_true, y_pred), 4)
(0.6667, 0.7222)
>>> confusion_matrix(y_true, y_pred, num_classes=3).tolist()   # rows = truth
[[1, 1, 0], [1, 2, 0], [0, 0, 1]]

Figures (`plot_confusion_matrix` returns a `matplotlib.figure.Figure`; nothing is shown or
saved unless asked, and no matplotlib backend is selected):

```python
figure = plot_confusion_matrix([matrix, baseline], emotions.CLASSES,
                               titles=["teacher", "logistic regression"],
                               dataset="FERPlus", split="test")
figure.savefig("confusion.png", dpi=110)
```
"""

from __future__ import annotations

import os
import pathlib
import warnings
from collections.abc import Sequence

import numpy as np
from sklearn import metrics as sk_metrics

NORMALIZATIONS: tuple[str | None, ...] = ("true", "pred", "all", None)
_COLORBAR_LABELS = {
    "true": "fraction of the true class (rows sum to 1)",
    "pred": "fraction of the predicted class (columns sum to 1)",
    "all": "fraction of all samples",
    None: "samples",
}


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


def _pair_in_range(y_true, y_pred, num_classes: int):
    """`_pair`, then a check that every label lies in ``0..num_classes - 1``."""
    y_true, y_pred = _pair(y_true, y_pred)
    for name, values in (("y_true", y_true), ("y_pred", y_pred)):
        if values.size and (values.min() < 0 or values.max() >= num_classes):
            raise ValueError(
                f"`{name}` holds class {int(values.min() if values.min() < 0 else values.max())}"
                f", outside 0..{num_classes - 1}."
            )
    return y_true, y_pred


def accuracy(y_true, y_pred) -> float:
    """Fraction of predictions equal to the truth (NaN for empty inputs).

    Args:
        y_true: `[N]` integer true classes.
        y_pred: `[N]` integer predicted classes.

    Example:

    >>> accuracy([0, 1, 2, 2], [0, 1, 1, 2])
    0.75
    """
    y_true, y_pred = _pair(y_true, y_pred)
    if len(y_true) == 0:
        return float("nan")
    return float(sk_metrics.accuracy_score(y_true, y_pred))


def unweighted_average_recall(y_true, y_pred) -> float:
    """UAR: the mean recall over the classes present in `y_true` (balanced accuracy).

    Classes that are predicted but never true do not count (scikit-learn's
    `balanced_accuracy_score`). NaN for empty inputs.

    Args:
        y_true: `[N]` integer true classes.
        y_pred: `[N]` integer predicted classes.

    Example:

    >>> unweighted_average_recall([0, 0, 0, 1], [0, 0, 0, 0])   # majority guess: 1/K
    0.5
    """
    y_true, y_pred = _pair(y_true, y_pred)
    if len(y_true) == 0:
        return float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "y_pred contains classes not in y_true"
        return float(sk_metrics.balanced_accuracy_score(y_true, y_pred))


def macro_f1(y_true, y_pred) -> float:
    """The unweighted mean of the per-class F1 scores over the classes in `y_true` or `y_pred`.

    A class with no true and no correct prediction scores 0 (``zero_division=0``). NaN for
    empty inputs.

    Args:
        y_true: `[N]` integer true classes.
        y_pred: `[N]` integer predicted classes.

    Example:

    >>> round(macro_f1([0, 0, 1, 1], [0, 1, 1, 1]), 4)
    0.7333
    """
    y_true, y_pred = _pair(y_true, y_pred)
    if len(y_true) == 0:
        return float("nan")
    return float(sk_metrics.f1_score(y_true, y_pred, average="macro", zero_division=0.0))


def confusion_matrix(y_true, y_pred, num_classes: int) -> np.ndarray:
    """`[num_classes, num_classes]` int64 counts; rows = true class, columns = predicted.

    Args:
        y_true: `[N]` integer true classes in ``0..num_classes - 1``.
        y_pred: `[N]` integer predicted classes in ``0..num_classes - 1``.
        num_classes: K.

    Raises:
        ValueError: for labels outside `0..num_classes - 1`.

    Example:

    >>> confusion_matrix([0, 1, 1], [0, 0, 1], 2).tolist()
    [[1, 0], [1, 1]]
    """
    y_true, y_pred = _pair_in_range(y_true, y_pred, num_classes)
    if len(y_true) == 0:
        return np.zeros((num_classes, num_classes), dtype=np.int64)
    return sk_metrics.confusion_matrix(y_true, y_pred, labels=np.arange(num_classes)).astype(np.int64)


def per_class_accuracy(y_true, y_pred, num_classes: int) -> np.ndarray:
    """Recall of each true class (`[num_classes]` float; NaN where a class has no samples).

    The arguments, and the errors they raise, are those of `confusion_matrix`.

    Example:

    >>> per_class_accuracy([0, 0, 1], [0, 1, 1], 3).tolist()
    [0.5, 1.0, nan]
    """
    y_true, y_pred = _pair_in_range(y_true, y_pred, num_classes)
    if len(y_true) == 0:
        return np.full(num_classes, np.nan)
    return sk_metrics.recall_score(
        y_true, y_pred, labels=np.arange(num_classes), average=None, zero_division=np.nan
    ).astype(np.float64)


def normalize_confusion(matrix, normalize: str | None = "true") -> np.ndarray:
    """Normalises a confusion matrix over rows ("true"), columns ("pred"), "all" or None.

    Rows (or columns) with no samples stay 0.

    Args:
        matrix: `[K, K]` counts, rows = truth.
        normalize: one of `NORMALIZATIONS`.

    Example:

    >>> normalize_confusion([[1, 3], [0, 0]]).tolist()
    [[0.25, 0.75], [0.0, 0.0]]
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
    """Accuracy, UAR, macro-F1, per-class recall (by name; None where absent) and confusion.

    Args:
        y_true: `[N]` integer true classes.
        y_pred: `[N]` integer predicted classes.
        class_names: the K class names (index i names class i).

    Example:

    >>> summary = classification_summary([0, 1, 1], [0, 1, 0], ["a", "b", "c"])
    >>> summary["per_class_accuracy"], summary["support"]
    ({'a': 1.0, 'b': 0.5, 'c': None}, {'a': 1, 'b': 2, 'c': 0})
    """
    num_classes = len(class_names)
    per_class = per_class_accuracy(y_true, y_pred, num_classes)
    matrix = confusion_matrix(y_true, y_pred, num_classes)
    return {
        "accuracy": accuracy(y_true, y_pred),
        "uar": unweighted_average_recall(y_true, y_pred),
        "macro_f1": macro_f1(y_true, y_pred),
        "num_samples": int(len(np.asarray(y_true))),
        "per_class_accuracy": {
            name: (None if np.isnan(value) else float(value))
            for name, value in zip(class_names, per_class, strict=True)
        },
        "support": {name: int(n) for name, n in zip(class_names, matrix.sum(axis=1), strict=True)},
        "confusion_matrix": matrix.tolist(),
    }


def _context_title(dataset, split, protocol) -> str:
    parts = [
        f"{label}: {value}"
        for label, value in (("dataset", dataset), ("split", split), ("protocol", protocol))
        if value
    ]
    return " | ".join(parts)


def _check_matrices(matrices, num_classes: int, titles) -> tuple[list[np.ndarray], list[str]]:
    if isinstance(matrices, np.ndarray) and matrices.ndim == 2:
        matrices = [matrices]
    matrices = [np.asarray(m) for m in matrices]
    for index, matrix in enumerate(matrices):
        if matrix.shape != (num_classes, num_classes):
            raise ValueError(
                f"Confusion matrix {index} has shape {matrix.shape}; expected "
                f"({num_classes}, {num_classes}) for {num_classes} class names."
            )
    titles = [""] * len(matrices) if titles is None else list(titles)
    if len(titles) != len(matrices):
        raise ValueError(f"Got {len(titles)} titles for {len(matrices)} matrices.")
    return matrices, titles


def _draw_matrix(axis, shown, class_names, title, vmax, normalize, annotate):
    num_classes = len(class_names)
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
                axis.text(
                    column,
                    row,
                    f"{value:.2f}" if normalize else f"{int(value)}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if value > 0.6 * vmax else "black",
                )
    return image


def plot_confusion_matrix(
    matrices,
    class_names: Sequence[str],
    path: str | os.PathLike | None = None,
    *,
    ax=None,
    titles: Sequence[str] | None = None,
    dataset: str | None = None,
    split: str | None = None,
    protocol: str | None = None,
    normalize: str | None = "true",
    annotate: bool = True,
):
    """Draws one or more confusion matrices side by side, with one labelled colour bar.

    Args:
        matrices: one `[C, C]` count matrix (rows = truth) or a list of them.
        class_names: the C class names (axis labels).
        path: deprecated; use `save_confusion_matrix` (passing it saves the PNG and returns
            its path, as before).
        ax: optional matplotlib Axes to draw in (one per matrix: an Axes for a single matrix, a
            sequence otherwise); by default a new `Figure` is made (no pyplot, no backend).
        titles: one title per matrix (e.g. the method and its accuracy).
        dataset, split, protocol: named in the figure's title (e.g. ``"rml"``, ``"test folds
            pooled"``, ``"random10"``); each is left out when None.
        normalize: "true" (rows sum to 1, the default), "pred", "all" or None (raw counts).
        annotate: write each cell's value in it.

    Returns:
        The `matplotlib.figure.Figure` drawn in (``ax.figure`` when `ax` is given).

    Raises:
        ValueError: if a matrix is not `[C, C]` for the C class names, titles or axes do not
            match the matrices, or `normalize` is unknown.

    Example:

    >>> figure = plot_confusion_matrix(np.array([[3, 1], [0, 4]]), ["calm", "angry"],
    ...                                dataset="toy", split="test", protocol="random10")
    >>> figure.axes[-1].get_ylabel(), figure.get_suptitle()
    ('fraction of the true class (rows sum to 1)', 'dataset: toy | split: test | protocol: random10')
    """
    if path is not None:
        warnings.warn(
            "plot_confusion_matrix(..., path) is deprecated and returns the path; use "
            "save_confusion_matrix(matrices, class_names, path, ...) to write a PNG, or "
            "plot_confusion_matrix(...).savefig(path).",
            DeprecationWarning,
            stacklevel=2,
        )
        return save_confusion_matrix(
            matrices, class_names, path, titles=titles, dataset=dataset, split=split,
            protocol=protocol, normalize=normalize, annotate=annotate,
        )
    if normalize not in NORMALIZATIONS:
        raise ValueError(f"normalize must be one of {NORMALIZATIONS}; received {normalize!r}.")
    num_classes = len(class_names)
    matrices, titles = _check_matrices(matrices, num_classes, titles)
    if ax is None:
        from matplotlib.figure import Figure

        side = 0.55 * num_classes + 1.5
        figure = Figure(figsize=(side * len(matrices) + 1.5, side + 0.4), layout="constrained")
        axes = list(figure.subplots(1, len(matrices), squeeze=False)[0])
    else:
        axes = list(np.ravel(np.asarray(ax, dtype=object)))
        if len(axes) != len(matrices):
            raise ValueError(f"Got {len(axes)} axes for {len(matrices)} matrices; pass one each.")
        figure = axes[0].figure
    image = None
    for axis, matrix, title in zip(axes, matrices, titles, strict=True):
        shown = normalize_confusion(matrix, normalize)
        vmax = 1.0 if normalize else max(float(shown.max()), 1.0)
        image = _draw_matrix(axis, shown, class_names, title, vmax, normalize, annotate)
    colorbar = figure.colorbar(image, ax=axes, shrink=0.8)
    colorbar.set_label(_COLORBAR_LABELS[normalize])
    context = _context_title(dataset, split, protocol)
    if context:
        figure.suptitle(context)
    return figure


def save_confusion_matrix(
    matrices, class_names: Sequence[str], path: str | os.PathLike, *, dpi: int = 110, **kwargs
) -> pathlib.Path:
    """Draws confusion matrices (`plot_confusion_matrix`) and writes them as a PNG.

    Args:
        matrices, class_names: see `plot_confusion_matrix`.
        path: output PNG path (parent folders are created).
        dpi: resolution of the PNG.
        **kwargs: `plot_confusion_matrix` keywords (titles, dataset, split, protocol, ...).

    Returns:
        The path written.

    Example:

    >>> import tempfile
    >>> out = save_confusion_matrix(np.eye(2, dtype=int), ["a", "b"], tempfile.mkdtemp() + "/cm.png")
    >>> out.read_bytes()[:4]
    b'\\x89PNG'
    """
    path = pathlib.Path(os.fspath(path))
    figure = plot_confusion_matrix(matrices, class_names, **kwargs)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=dpi)
    return path
