"""Classification metrics against scikit-learn, and the confusion-matrix figure."""

import matplotlib
import numpy as np
import pytest
from sklearn import metrics as sk

from kerasemo.evaluation import classification

# A small fixed example: 4 classes, class 3 never true but once predicted, unbalanced support.
Y_TRUE = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 2])
Y_PRED = np.array([0, 0, 1, 3, 1, 1, 0, 2, 2, 1, 2, 2])


def test_metrics_match_scikit_learn_on_a_fixed_example():
    assert classification.accuracy(Y_TRUE, Y_PRED) == pytest.approx(8 / 12)
    assert classification.accuracy(Y_TRUE, Y_PRED) == sk.accuracy_score(Y_TRUE, Y_PRED)
    # UAR = mean recall over the true classes: (2/4 + 2/3 + 4/5) / 3.
    uar = classification.unweighted_average_recall(Y_TRUE, Y_PRED)
    assert uar == pytest.approx((2 / 4 + 2 / 3 + 4 / 5) / 3)
    with pytest.warns(UserWarning):  # scikit-learn warns about the never-true class; we do not
        assert uar == pytest.approx(sk.balanced_accuracy_score(Y_TRUE, Y_PRED))
    f1 = classification.macro_f1(Y_TRUE, Y_PRED)
    assert f1 == pytest.approx(sk.f1_score(Y_TRUE, Y_PRED, average="macro", zero_division=0))
    # By hand: F1 of classes 0..3 = 4/7, 4/7, 8/9, 0 (class 3 predicted once, never true).
    assert f1 == pytest.approx((4 / 7 + 4 / 7 + 8 / 9 + 0) / 4)
    matrix = classification.confusion_matrix(Y_TRUE, Y_PRED, 5)
    np.testing.assert_array_equal(matrix, sk.confusion_matrix(Y_TRUE, Y_PRED, labels=range(5)))
    recall = classification.per_class_accuracy(Y_TRUE, Y_PRED, 5)
    np.testing.assert_allclose(recall[:3], [2 / 4, 2 / 3, 4 / 5])
    assert np.isnan(recall[3]) and np.isnan(recall[4])


def test_summary_reports_uar_and_macro_f1_and_empty_inputs_are_nan():
    summary = classification.classification_summary(Y_TRUE, Y_PRED, list("abcd"))
    assert summary["uar"] == pytest.approx(classification.unweighted_average_recall(Y_TRUE, Y_PRED))
    assert summary["macro_f1"] == pytest.approx(classification.macro_f1(Y_TRUE, Y_PRED))
    assert summary["support"] == {"a": 4, "b": 3, "c": 5, "d": 0}
    for metric in (classification.accuracy, classification.unweighted_average_recall, classification.macro_f1):
        assert np.isnan(metric([], []))
    assert classification.confusion_matrix([], [], 3).sum() == 0
    with pytest.raises(ValueError, match="outside 0..3"):
        classification.per_class_accuracy([0, 4], [0, 0], 4)
    with pytest.raises(ValueError, match="1-D"):
        classification.macro_f1(np.eye(3), [0, 1, 2])


def test_plot_returns_a_figure_with_titles_and_a_labelled_colour_bar(tmp_path):
    from matplotlib.figure import Figure

    backend = matplotlib.get_backend()
    first = classification.confusion_matrix(Y_TRUE, Y_PRED, 4)
    figure = classification.plot_confusion_matrix(
        [first, first.T], list("abcd"), titles=["teacher", "student"],
        dataset="rml", split="test folds, pooled", protocol="random10",
    )
    assert isinstance(figure, Figure)
    assert matplotlib.get_backend() == backend  # no matplotlib.use
    assert figure.get_suptitle() == "dataset: rml | split: test folds, pooled | protocol: random10"
    panels, colorbar = figure.axes[:2], figure.axes[2]
    assert [axis.get_title() for axis in panels] == ["teacher", "student"]
    assert colorbar.get_ylabel() == "fraction of the true class (rows sum to 1)"
    counts = classification.plot_confusion_matrix(first, list("abcd"), normalize=None)
    assert counts.axes[-1].get_ylabel() == "samples"
    path = classification.save_confusion_matrix(first, list("abcd"), tmp_path / "deep" / "cm.png", dataset="rml")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_draws_into_given_axes():
    from matplotlib.figure import Figure

    host = Figure()
    left, right = host.subplots(1, 2)
    matrix = np.array([[2, 1], [0, 3]])
    drawn = classification.plot_confusion_matrix(matrix, ["x", "y"], ax=right, titles=["probe"])
    assert drawn is host and right.get_title() == "probe" and not left.images
    with pytest.raises(ValueError, match="2 axes for 1 matrices"):
        classification.plot_confusion_matrix(matrix, ["x", "y"], ax=[left, right])
    with pytest.raises(ValueError, match=r"expected \(3, 3\)"):
        classification.plot_confusion_matrix(matrix, ["x", "y", "z"])
    with pytest.raises(ValueError, match="normalize"):
        classification.plot_confusion_matrix(matrix, ["x", "y"], normalize="rows")


def test_passing_a_path_still_writes_the_png_but_is_deprecated(tmp_path):
    matrix = np.array([[2, 1], [0, 3]])
    with pytest.deprecated_call():
        path = classification.plot_confusion_matrix(matrix, ["x", "y"], tmp_path / "cm.png")
    assert path.read_bytes()[:4] == b"\x89PNG"
