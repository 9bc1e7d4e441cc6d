"""Length-aware batches: a zero-padded batch gives every clip the answer it gets alone.

`MaskedStudent` (spectrograms + frame counts), the waveform model with ``lengths=True``, the
SavedModel's ``waveforms_with_lengths`` signature and the TFLite models' ``length`` input are
each compared with the plain student on every clip alone and unpadded: probabilities and
logits / max(1, max |logit|) within 1e-5 (float32 rounding; the TFLite runtime is held to the
export's parity tolerance, 1e-4).
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasemo import export
from kerasemo.audio import PerBinNormalization
from kerasemo.audio.reference import num_frames
from kerasemo.models import VGGMStudent
from kerasemo.models.masked import (
    MaskedStudent,
    masked_normalization,
    stage_end,
    trunk_time_lengths,
)
from kerasemo.vggm import MIN_INPUT_FRAMES, TRUNK, trunk_output_size

SMALL = dict(
    input_bins=257, mirror_input=True, conv_filters=(8, 16, 16, 16, 16), fc6_units=32, fc7_units=16
)
TOLERANCE = 1e-5
# Frames: shorter than the minimum, one short of it, exactly it, just above, long.
FRAMES = (20, 62, MIN_INPUT_FRAMES, 64, 65, 131, 250)
# Samples: 0.2 s (< MIN_SAMPLES), exactly MIN_SAMPLES, 1.3 s, 2.5 s.
SAMPLES = (3_200, export.MIN_SAMPLES, 20_800, 40_000)


def _differences(reference_logits, logits):
    """(max |dp|, max |dlogit| / max(1, max |logit_ref|)) of two ``[n, 8]`` logit arrays."""
    reference_logits, logits = np.asarray(reference_logits), np.asarray(logits)
    dp = np.abs(
        keras.ops.convert_to_numpy(keras.ops.softmax(reference_logits))
        - keras.ops.convert_to_numpy(keras.ops.softmax(logits))
    ).max()
    scale = max(1.0, float(np.abs(reference_logits).max()))
    return float(dp), float(np.abs(logits - reference_logits).max()) / scale


@pytest.fixture(scope="module")
def student():
    keras.utils.set_random_seed(1)
    return VGGMStudent(**SMALL)


def _spectrograms(frames, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.gamma(2.0, 1000.0, (257, n)).astype("float32") for n in frames]


def _alone_logits(student, spectrograms):
    """The plain student on each clip alone, zero-padded to the minimum as the exports do."""
    rows = []
    for clip in spectrograms:
        clip = np.pad(clip, ((0, 0), (0, max(MIN_INPUT_FRAMES - clip.shape[1], 0))))
        rows.append(keras.ops.convert_to_numpy(student(clip[None], training=False))[0])
    return np.stack(rows)


def _pad_spectrograms(spectrograms, garbage=0.0):
    width = max(clip.shape[1] for clip in spectrograms)
    batch = np.full((len(spectrograms), 257, width), garbage, np.float32)
    for row, clip in enumerate(spectrograms):
        batch[row, :, : clip.shape[1]] = clip
    return batch, np.array([clip.shape[1] for clip in spectrograms], np.int32)


def _speech(samples, seed):
    return export.speech_like_clips(1, samples, seed=seed)[0]


# ---------------------------------------------------------------------------------------------
# MaskedStudent on spectrograms.


@pytest.mark.parametrize("log_magnitude", [False, True])
def test_padded_batch_gives_every_clip_its_own_logits(log_magnitude):
    keras.utils.set_random_seed(2)
    student = VGGMStudent(**SMALL, log_magnitude=log_magnitude)
    clips = _spectrograms(FRAMES)
    batch, frames = _pad_spectrograms(clips)
    got = MaskedStudent(student)(batch, frames)
    dp, dl = _differences(_alone_logits(student, clips), got)
    assert dp <= TOLERANCE and dl <= TOLERANCE, (dp, dl)
    # The plain student on the padded batch is what the mask exists to avoid.
    plain = keras.ops.convert_to_numpy(student(batch, training=False))
    assert _differences(_alone_logits(student, clips), plain)[1] > 1e-3


def test_what_lies_beyond_a_clip_is_ignored(student):
    clips = _spectrograms((70, 200), seed=3)
    zeros, frames = _pad_spectrograms(clips)
    noise, _ = _pad_spectrograms(clips, garbage=5e4)
    masked = MaskedStudent(student)
    np.testing.assert_allclose(masked(noise, frames), masked(zeros, frames), rtol=0, atol=1e-6)


def test_a_batch_narrower_than_the_minimum_is_padded_to_it(student):
    clips = _spectrograms((30, 40), seed=4)
    batch, frames = _pad_spectrograms(clips)
    dp, dl = _differences(_alone_logits(student, clips), MaskedStudent(student)(batch, frames))
    assert dp <= TOLERANCE and dl <= TOLERANCE, (dp, dl)


def test_masked_normalization_is_per_bin_normalization_of_the_valid_frames():
    clips = _spectrograms((2, 63, 180), seed=5)
    batch, frames = _pad_spectrograms(clips)
    got = keras.ops.convert_to_numpy(masked_normalization(batch, frames, 1e-5))
    layer = PerBinNormalization(epsilon=1e-5)
    for row, clip in enumerate(clips):
        expected = keras.ops.convert_to_numpy(layer(clip[None]))[0]
        np.testing.assert_allclose(got[row, :, : clip.shape[1]], expected, atol=2e-5)
        assert not got[row, :, clip.shape[1] :].any()


def test_trunk_time_lengths_follow_the_student_layers_and_the_trunk_table():
    assert all(
        int(trunk_time_lengths(n)["mpool5"]) == trunk_output_size(n, 1) for n in range(63, 1200)
    )
    for frames in (63, 64, 97, 400):
        built = VGGMStudent(**SMALL, input_frames=frames)
        lengths = trunk_time_lengths(np.array([frames], "int32"))
        for name, *_ in TRUNK:
            assert int(lengths[name][0]) == built.get_layer(stage_end(name)).output.shape[2], name


def test_unsupported_students_are_refused_with_the_reason():
    with pytest.raises(ValueError, match="normalize_input=True.*Received a student with "):
        MaskedStudent(VGGMStudent(**SMALL, normalize_input=False))
    inputs = keras.Input((257, None))
    with pytest.raises(ValueError, match="takes a VGGMStudent; received a Functional"):
        MaskedStudent(keras.Model(inputs, inputs))


def test_masked_student_round_trips_through_keras_files(student, tmp_path):
    spectrogram = keras.Input((257, None), name="spectrogram")
    frames = keras.Input((), dtype="int32", name="frames")
    model = keras.Model(
        [spectrogram, frames], MaskedStudent(student, name="masked")(spectrogram, frames)
    )
    model.save(tmp_path / "masked.keras")
    loaded = keras.saving.load_model(tmp_path / "masked.keras")
    batch, lengths = _pad_spectrograms(_spectrograms((80, 150), seed=6))
    np.testing.assert_allclose(loaded([batch, lengths]), model([batch, lengths]), atol=1e-6)


# ---------------------------------------------------------------------------------------------
# Waveforms: the Keras model, the SavedModel signature, the TFLite length input.


def test_valid_frames_is_the_reference_frame_count_of_at_least_the_minimum():
    lengths = np.arange(0, 70_000, 37, dtype="int32")
    got = keras.ops.convert_to_numpy(export.valid_frames(lengths))
    expected = [num_frames(max(int(n), export.MIN_SAMPLES)) for n in lengths]
    np.testing.assert_array_equal(got, expected)


def _waveform_references(student, clips):
    return export.alone_reference(export.build_waveform_model(student), clips)


def _assert_close(reference, got, tolerance=TOLERANCE):
    figures = export.compare_outputs(reference, {k: np.asarray(v) for k, v in got.items()})
    assert figures["max_abs_probability"] <= tolerance, figures
    assert figures["max_rel_logit"] <= tolerance, figures
    return figures


def test_waveform_model_with_lengths_gives_every_clip_its_own_outputs(student):
    clips = [_speech(n, seed=10 + i) for i, n in enumerate(SAMPLES)]
    batch, lengths = export.padded_batch(clips)
    model = export.build_waveform_model(student, lengths=True)
    got = model({export.WAVEFORM_INPUT: batch, export.LENGTH_INPUT: lengths})
    _assert_close(_waveform_references(student, clips), got)


@pytest.fixture(scope="module")
def saved_model(student, tmp_path_factory):
    directory = tmp_path_factory.mktemp("masked") / "1"
    export.export_saved_model(student, directory, window_samples=20_800)
    return tf.saved_model.load(str(directory))


def test_saved_model_lengths_signature_matches_each_clip_alone(student, saved_model):
    clips = [_speech(n, seed=20 + i) for i, n in enumerate(SAMPLES)]
    batch, lengths = export.padded_batch(clips)
    function = saved_model.signatures[export.LENGTHS_SIGNATURE]
    got = function(waveform=tf.constant(batch), length=tf.constant(lengths))
    _assert_close(_waveform_references(student, clips), {k: v.numpy() for k, v in got.items()})
    spec = function.structured_input_signature[1]
    assert spec["length"].shape.as_list() == [None] and spec["length"].dtype == tf.int32


@pytest.mark.parametrize(
    "length, message",
    [([100, 50_000], "at most the padded width"), ([100, -1], ">= 0"), ([100], "one entry per")],
)
def test_saved_model_rejects_lengths_that_do_not_fit(saved_model, length, message):
    function = saved_model.signatures[export.LENGTHS_SIGNATURE]
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        function(waveform=tf.zeros((2, 12_000)), length=tf.constant(length, tf.int32))


def test_tflite_short_clip_padded_with_its_length_matches_the_saved_model(student, saved_model):
    window = 20_800
    flatbuffer = export.convert_tflite(student, ["float32"], window)["float32"]
    ops = export.tflite_ops(flatbuffer)
    assert not [op for op in ops if op.startswith("Flex") or not op.isupper()], ops
    runner = export.TFLiteRunner(flatbuffer)
    assert runner.takes_lengths and runner.window_samples == window
    clips = [_speech(n, seed=30 + i) for i, n in enumerate((3_200, export.MIN_SAMPLES, 15_000))]
    batch, lengths = export.padded_batch(clips, window)
    got = runner(batch, lengths)
    serve = saved_model.signatures["serving_default"]
    unpadded = [serve(waveform=tf.constant(clip[None])) for clip in clips]
    reference = {k: np.concatenate([o[k].numpy() for o in unpadded]) for k in export.OUTPUT_NAMES}
    _assert_close(reference, got, export.PARITY_TOLERANCE)
    with pytest.raises(ValueError, match=r"one valid sample count in \[0, 20800\]"):
        runner(batch, [window + 1, 0, 0])
