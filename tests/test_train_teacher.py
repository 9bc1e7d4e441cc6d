"""Tests of the teacher training entry point and the classification metrics it reports."""

import csv
import json

import keras
import numpy as np
import pytest

from kerasemo import emotions
from kerasemo.data.ferplus import write_ferplus
from kerasemo.evaluation.classification import (
    accuracy,
    classification_summary,
    confusion_matrix,
    normalize_confusion,
    per_class_accuracy,
    save_confusion_matrix,
)
from kerasemo.experiments import train_teacher
from kerasemo.training import attach_weight_decay, learning_rate_schedule
from face_fixtures import TINY_TEACHER, pattern_faces

TINY = TINY_TEACHER


@pytest.fixture(scope="module")
def ferplus_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("ferplus")
    write_ferplus(directory, *pattern_faces(200))
    return directory


# ---------------------------------------------------------------------------------------------
# Metrics.


def test_metrics_worked_numbers():
    y_true = [0, 0, 1, 1, 1, 2]
    y_pred = [0, 1, 1, 1, 0, 2]
    assert accuracy(y_true, y_pred) == pytest.approx(4 / 6)
    matrix = confusion_matrix(y_true, y_pred, 4)
    np.testing.assert_array_equal(
        matrix, [[1, 1, 0, 0], [1, 2, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0]]
    )
    per_class = per_class_accuracy(y_true, y_pred, 4)
    np.testing.assert_allclose(per_class[:3], [0.5, 2 / 3, 1.0])
    assert np.isnan(per_class[3])
    normalised = normalize_confusion(matrix)
    np.testing.assert_allclose(normalised.sum(axis=1), [1, 1, 1, 0])
    summary = classification_summary(y_true, y_pred, ["a", "b", "c", "d"])
    assert summary["per_class_accuracy"]["d"] is None
    assert summary["support"] == {"a": 2, "b": 3, "c": 1, "d": 0}
    with pytest.raises(ValueError, match="outside 0..3"):
        confusion_matrix([0, 4], [0, 0], 4)
    with pytest.raises(ValueError, match="same length"):
        accuracy([0, 1], [0])


def test_confusion_png_side_by_side(tmp_path):
    first = confusion_matrix([0, 1, 2, 2], [0, 1, 2, 1], 3)
    path = save_confusion_matrix(
        [first, first.T], ["x", "y", "z"], tmp_path / "cm.png", titles=["teacher", "student"]
    )
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="expected \\(2, 2\\)"):
        save_confusion_matrix(first, ["x", "y"], tmp_path / "bad.png")


# ---------------------------------------------------------------------------------------------
# Training pieces.


def test_learning_rate_schedule():
    paper = learning_rate_schedule((1e-2, 1e-3, 1e-4), 60)
    assert [paper(e) for e in (0, 59, 60, 119, 120, 179, 500)] == [
        1e-2, 1e-2, 1e-3, 1e-3, 1e-4, 1e-4, 1e-4
    ]
    quick = learning_rate_schedule((1e-2, 1e-3, 1e-4), 60, total_epochs=6)
    assert [quick(e) for e in range(6)] == [1e-2, 1e-2, 1e-3, 1e-3, 1e-4, 1e-4]


def test_weight_decay_is_l2_with_half_the_coefficient():
    from kerasemo.models.teacher import SEResNetTeacher

    teacher = SEResNetTeacher(input_size=32, blocks_per_stage=(1, 1, 1, 1), base_width=8)
    count = attach_weight_decay(teacher, 5e-4)
    kernels = [
        layer.kernel
        for layer in teacher.layers
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense))
    ]
    assert count == len(kernels) > 0
    expected = 0.5 * 5e-4 * sum(float(np.sum(np.square(k.numpy()))) for k in kernels)
    assert float(sum(teacher.losses)) == pytest.approx(expected, rel=1e-5)
    # The penalty is a training concern, not part of the saved architecture.
    assert teacher.get_config()["kernel_regularizer"] is None


# ---------------------------------------------------------------------------------------------
# End to end.


@pytest.mark.slow
def test_train_evaluate_and_resume(ferplus_dir, tmp_path, capsys):
    out, cache = tmp_path / "run", tmp_path / "cache"
    common = ["--data", str(ferplus_dir), "--out", str(out), "--cache-dir", str(cache)]
    assert train_teacher.main(common + TINY + ["--epochs", "1", "-q"]) == 0
    for name in (
        "teacher.keras",
        "training_log.csv",
        "config.toml",
        "metrics.json",
        "confusion_matrix.png",
        "run.json",
    ):
        assert (out / name).exists(), name
    assert any((out / "logs").rglob("*tfevents*"))
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test_protocol"] == "FERPlus PrivateTest, majority-vote labels, accuracy"
    assert metrics["teacher"]["num_samples"] == 30
    assert 0.0 <= metrics["teacher"]["accuracy"] <= 1.0
    assert set(metrics["teacher"]["per_class_accuracy"]) == set(emotions.CLASSES)
    assert metrics["baseline_logistic_regression"]["accuracy"] > 0.5  # easy fixture patterns
    assert metrics["cleaning"]["kept"] == 200
    assert "base_width = 8" in (out / "config.toml").read_text()
    printed = capsys.readouterr().out
    assert "pixel logistic regression" in printed and "accuracy" in printed
    teacher = keras.saving.load_model(out / "teacher.keras")
    assert tuple(teacher.input.shape) == (None, 32, 32, 3)

    # A second run into the same directory must say how to continue.
    with pytest.raises(SystemExit, match="--resume"):
        train_teacher.main(common + TINY + ["--epochs", "1"])

    # --resume continues from the backup (epoch 2 of 2), with the run's own config and data.
    resume = ["--out", str(out), "--cache-dir", str(cache), "--resume", "-q"]
    assert train_teacher.main(resume + ["--epochs", "2"]) == 0
    with open(out / "training_log.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["epoch"]) for r in rows] == [0, 1]
    assert json.loads((out / "metrics.json").read_text())["epochs_in_log"] == 2


def test_clear_errors(ferplus_dir, tmp_path):
    with pytest.raises(SystemExit, match="error: --data .* is not a folder"):
        train_teacher.main(["--data", str(tmp_path / "missing"), "--out", str(tmp_path / "o")])
    with pytest.raises(SystemExit, match="error: .*teacher.base_width must be > 0"):
        train_teacher.main(
            ["--data", str(ferplus_dir), "--out", str(tmp_path / "o"), "--set", "teacher.base_width=0"]
        )
    with pytest.raises(SystemExit, match="error: .*fer2013.csv does not exist"):
        train_teacher.main(
            ["--data", str(tmp_path), "--out", str(tmp_path / "o"), "--cache-dir", str(tmp_path / "c")]
        )
