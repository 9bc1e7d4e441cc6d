"""Deployable heads: a probe head saved by ``probe --save-head`` built into every export.

A small random-weight student is saved; a `LinearProbe` head is fitted on random 8-d features
with `save_probe_head` (recording the student file's SHA-256, as ``probe --save-head`` does) and
the student is exported with it through the entry point. The SavedModel (``tf.saved_model.load``)
and the float32 ``.tflite`` (`TFLiteRunner`) must return the head's probabilities and labels as
``probe.predict_proba`` gives them on the Keras model's logits.
"""

import json
import logging

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasemo import export
from kerasemo.fingerprints import model_fingerprint
from kerasemo.experiments import export as export_cli
from kerasemo.models import VGGMStudent
from kerasemo.models.probe_head import save_probe_head

SMALL = dict(
    input_bins=257, mirror_input=True, conv_filters=(8, 16, 16, 16, 16), fc6_units=32, fc7_units=16
)
CLASSES = ["neutral", "happy", "angry", "sad"]


def _fit_head(directory, num_features=8, student_sha256=""):
    rng = np.random.default_rng(0)
    features = rng.normal(size=(80, num_features)).astype("float32") * 3
    labels = np.arange(80) % len(CLASSES)
    save_probe_head(
        features, labels, CLASSES, directory, dataset="toy", student_sha256=student_sha256
    )
    return directory


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("heads")
    keras.utils.set_random_seed(4)
    VGGMStudent(**SMALL).save(root / "student.keras")
    head_dir = _fit_head(root / "head", student_sha256=model_fingerprint(root / "student.keras"))
    out = root / "export"
    argv = ["--student", str(root / "student.keras"), "--out", str(out), "--head", str(head_dir)]
    assert export_cli.main(argv + ["--variants", "float32", "--holdout", "3", "--no-describe"]) == 0
    student = keras.saving.load_model(root / "student.keras")
    probe = export.load_export_head(head_dir, student).probe
    clips = export.speech_like_clips(3, export.WINDOW_SAMPLES, seed=50)
    logits = export.keras_reference(student, clips)["logits"]
    expected = probe.predict_proba(logits)
    return {
        "out": out,
        "clips": clips,
        "probabilities": expected,
        "labels": np.asarray(CLASSES)[expected.argmax(axis=1)],
        "card": json.loads((out / export.MODEL_CARD).read_text()),
        "root": root,
    }


def _assert_head_outputs(exported, outputs):
    got = np.asarray(outputs[export.HEAD_PROBABILITIES])
    assert got.shape == (3, len(CLASSES)) and got.dtype == np.float32
    assert np.abs(got - exported["probabilities"]).max() <= export.PARITY_TOLERANCE
    labels = [v.decode() if isinstance(v, bytes) else v for v in np.asarray(outputs["label"])]
    assert labels == exported["labels"].tolist()


def test_saved_model_signatures_return_the_head_outputs_and_classes(exported):
    loaded = tf.saved_model.load(str(exported["out"] / "1"))
    clips = exported["clips"]
    _assert_head_outputs(
        exported, loaded.signatures["serving_default"](waveform=tf.constant(clips))
    )
    lengths = tf.constant([clips.shape[1]] * 3, tf.int32)
    _assert_head_outputs(
        exported,
        loaded.signatures[export.LENGTHS_SIGNATURE](waveform=tf.constant(clips), length=lengths),
    )
    spectrogram = loaded.signatures["spectrogram"].structured_outputs
    assert {export.HEAD_PROBABILITIES, export.LABEL} <= set(spectrogram)
    assert spectrogram[export.LABEL].dtype == tf.string
    classes = getattr(loaded, export.HEAD_CLASSES_FUNCTION)().numpy()
    assert [c.decode() for c in classes] == CLASSES


def test_tflite_returns_string_labels_with_builtin_ops_only(exported):
    path = exported["out"] / export.tflite_filename("float32")
    ops = export.tflite_ops(path.read_bytes())
    assert {"ARG_MAX", "GATHER"} <= set(ops)
    assert not [op for op in ops if op.startswith("Flex") or not op.isupper()], ops
    runner = export.TFLiteRunner(path)
    assert runner.outputs[-2:] == (export.HEAD_PROBABILITIES, export.LABEL)
    _assert_head_outputs(exported, runner(exported["clips"]))


def test_model_card_lists_the_head_and_its_parity(exported):
    card = exported["card"]
    assert card["head"]["classes"] == CLASSES
    assert card["head"]["dataset"] == "toy" and card["head"]["num_clips"] == 80
    assert card["head"]["matches_student"] is True
    for key in ("saved_model", "tflite_float32"):
        figures = card["parity"][key].get("overall", card["parity"][key])
        assert figures["max_abs_head_probability"] <= export.PARITY_TOLERANCE, key
        assert figures["label_agreement"] == 1.0, key


def test_a_head_of_another_student_is_flagged(exported, caplog):
    head = export.load_export_head(exported["root"] / "head", VGGMStudent(**SMALL))
    with caplog.at_level(logging.WARNING, logger="kerasemo.export"):
        section = export.head_card(head, ["0" * 64])
    assert section["matches_student"] is False
    assert "fitted on another student" in caplog.text


def test_a_head_fitted_for_other_features_is_refused(tmp_path):
    head_dir = _fit_head(tmp_path / "head5", num_features=5)
    with pytest.raises(export.ExportError, match="takes 5 features, but the student outputs 8"):
        export.export_student(VGGMStudent(**SMALL), tmp_path / "out", head=head_dir)
    assert not (tmp_path / "out").exists()


def test_a_missing_head_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="probe_head.keras does not exist"):
        export.export_student(VGGMStudent(**SMALL), tmp_path / "out", head=tmp_path / "none")
