"""One answer per route: `EmotionRecognizer` on a ``.keras`` student, its SavedModel (lengths
signature) and its TFLite model (window zero-padded with its length) agree for clips up to one
window; timeline windows are scored on the audio they hold; probe heads, given as a folder or
built into an export, add their probabilities and label everywhere.

The small student and its export come from `test_predict`'s module fixture.
"""

import numpy as np
import pytest

from kerasemo import export
from kerasemo.audio.signals import speech_like_signal
from kerasemo.export.contract import PARITY_TOLERANCE
from kerasemo.inference import EmotionRecognizer, pad_batch
from kerasemo.inference.agreement import route_agreement
from kerasemo.models.probe_head import save_probe_head
from test_predict import SR, models  # noqa: F401 - fixture

ROUTES = ("keras", "saved_model", "tflite")
WINDOW_S = export.WINDOW_SAMPLES / SR
HEAD_CLASSES = ["calm", "angry", "sad"]


@pytest.fixture(scope="module")
def recognizers(models):  # noqa: F811 - the imported fixture
    return {route: EmotionRecognizer.from_path(models[route]) for route in ROUTES}


@pytest.fixture(scope="module")
def head_dir(recognizers, tmp_path_factory):
    """A probe head fitted on the student's logits of speech-like clips (random labels)."""
    clips = export.speech_like_clips(12, 2 * SR, seed=500)
    logits = np.stack([p.logits for p in recognizers["keras"].predict_batch(list(clips))])
    labels = np.arange(12) % len(HEAD_CLASSES)
    directory = tmp_path_factory.mktemp("head")
    save_probe_head(logits, labels, HEAD_CLASSES, directory, dataset="toy")
    return directory


def _close(a, b, what):
    np.testing.assert_allclose(a, b, atol=PARITY_TOLERANCE, err_msg=what)


@pytest.mark.parametrize("seconds", [0.3, 1.0, 2.5, WINDOW_S])
def test_every_route_gives_a_clip_of_up_to_one_window_the_same_answer(
    models, recognizers, seconds  # noqa: F811
):
    clip = speech_like_signal(seconds, seed=int(seconds * 10))
    reference = recognizers["keras"].predict(clip)
    assert reference.windows == 1 and reference.duration_s == pytest.approx(seconds, abs=1e-4)
    for route in ("saved_model", "tflite"):
        prediction = recognizers[route].predict(clip)
        assert prediction.windows == 1, route
        _close(prediction.probabilities, reference.probabilities, route)
        _close(prediction.logits, reference.logits, route)
    # The Keras route is the student on the clip alone, padded only to its minimum.
    alone = export.build_waveform_model(export.load_student(models["keras"]))
    padded, _ = pad_batch([clip])
    _close(reference.logits, np.asarray(alone(padded)["logits"])[0], "student alone")


def test_a_timeline_of_one_window_is_the_prediction(recognizers):
    clip = speech_like_signal(3.0, seed=61)
    for route, recognizer in recognizers.items():
        timeline = recognizer.timeline(clip)
        assert len(timeline) == 1
        prediction = recognizer.predict(clip)
        np.testing.assert_allclose(timeline.summary().probabilities, prediction.probabilities,
                                   atol=1e-6, err_msg=route)
        np.testing.assert_allclose(timeline.windows[0].logits, prediction.logits, atol=1e-6)


def test_the_last_partial_window_is_scored_on_its_own_audio(recognizers):
    clip = speech_like_signal(9.0, seed=62)
    for route, recognizer in recognizers.items():
        timeline = recognizer.timeline(clip)
        last = timeline.windows[-1]
        assert (last.start_s, last.end_s) == (6.0, 9.0)
        tail = recognizer.predict(clip[6 * SR :])
        np.testing.assert_allclose(last.probabilities, tail.probabilities, atol=1e-5,
                                   err_msg=route)


def test_a_batch_of_different_lengths_gives_each_clip_its_own_answer(recognizers):
    clips = [speech_like_signal(s, seed=70 + i) for i, s in enumerate((1.2, 4.0, 0.4, 2.7))]
    for route, recognizer in recognizers.items():
        together = recognizer.predict_batch(clips)  # one model call, padded with lengths
        for clip, prediction in zip(clips, together):
            alone = recognizer.predict(clip)
            np.testing.assert_allclose(prediction.probabilities, alone.probabilities, atol=1e-5,
                                       err_msg=route)
            assert prediction.duration_s == alone.duration_s == clip.shape[0] / SR


def test_route_agreement_measures_where_tflite_averages_windows(recognizers):
    table = route_agreement(recognizers["keras"], recognizers["tflite"], clips=4)
    assert table.seconds.tolist() == sorted([1.0, 2.5, 6.0, 10.0, 20.0, WINDOW_S])
    within = table[table.seconds <= WINDOW_S]
    assert (within.windows == 1).all() and (within.argmax_agreement == 1.0).all()
    assert within.max_abs_probability.max() <= PARITY_TOLERANCE
    beyond = table[table.seconds > WINDOW_S]
    assert beyond.windows.tolist() == [2, 4, 9]  # starts every 2 s; the last reaches the end
    assert ((beyond.max_abs_probability >= 0) & (beyond.max_abs_probability <= 1)).all()
    saved = route_agreement(recognizers["keras"], recognizers["saved_model"], seconds=[20.0],
                            clips=2)
    assert saved.windows.tolist() == [1] and saved.max_abs_probability[0] <= PARITY_TOLERANCE


def test_a_head_folder_adds_its_probabilities_and_label(models, head_dir):  # noqa: F811
    from kerasemo.inference import ProbeHead

    head = ProbeHead.from_folder(head_dir)
    clip = speech_like_signal(7.0, seed=80)
    for route in ROUTES:
        recognizer = EmotionRecognizer.from_path(models[route], head=head_dir)
        assert recognizer.head_classes == tuple(HEAD_CLASSES)
        prediction = recognizer.predict(clip[: 2 * SR])
        expected = head(prediction.logits[None])[0]
        np.testing.assert_allclose(prediction.head_probabilities, expected, atol=1e-6)
        assert prediction.label == HEAD_CLASSES[int(np.argmax(expected))]
        assert prediction.to_dict()["head"]["label"] == prediction.label
        row = prediction.columns()
        assert list(row)[-4:] == ["head_calm", "head_angry", "head_sad", "head_label"]
        assert len(prediction.probabilities) == 8 and prediction.dominant in row
        # Windows carry the head too; the summary is the head on the windows' mean logits.
        timeline = recognizer.timeline(clip)
        assert all(w.label in HEAD_CLASSES for w in timeline.windows)
        assert "head_label" in timeline.to_frame().columns
        summary = timeline.summary()
        mean_logits = np.mean([w.logits for w in timeline.windows], axis=0)
        np.testing.assert_allclose(summary.head_probabilities, head(mean_logits[None])[0],
                                   atol=1e-5, err_msg=route)
    with pytest.raises(FileNotFoundError, match="save-head"):
        EmotionRecognizer.from_path(models["keras"], head=head_dir / "missing")


@pytest.fixture(scope="module")
def export_with_head(models, head_dir, tmp_path_factory):  # noqa: F811
    out = tmp_path_factory.mktemp("export_head")
    export.export_student(models["keras"], out, variants=["float32"], holdout_clips=2,
                          describe=False, head=head_dir)
    return out


def test_an_export_with_a_head_built_in_uses_it(models, head_dir, export_with_head):  # noqa: F811
    clip = speech_like_signal(2.0, seed=81)
    reference = EmotionRecognizer.from_path(models["keras"], head=head_dir).predict(clip)
    for path in (export_with_head, export_with_head / "kerasemo_float32.tflite"):
        recognizer = EmotionRecognizer.from_path(path)
        assert recognizer.head_classes == tuple(HEAD_CLASSES)
        prediction = recognizer.predict(clip)
        _close(prediction.head_probabilities, reference.head_probabilities, str(path))
        assert prediction.label == reference.label
        with pytest.raises(ValueError, match="has a probe head built in"):
            EmotionRecognizer.from_path(path, head=head_dir)
