"""The track-shard schema: one example per track, round trip through TFRecord bytes."""

import numpy as np
import pytest

from kerasemo.data import schema


def _example(rng, **overrides):
    fields = dict(
        identity="id10001",
        video="1zcIwhmdeo4",
        track="00001",
        split="train",
        frame_logits=rng.standard_normal((5, 8)).astype(np.float32),
        frame_times=np.arange(5) * 0.24,
        num_samples=16000,
        spectrogram=rng.gamma(2.0, 3e4, size=(98, 257)).astype(np.float32),
    )
    fields.update(overrides)
    return fields


def test_spectrogram_round_trip_keeps_float16_precision(rng):
    fields = _example(rng)
    parsed = schema.parse_example(schema.make_example(**fields).SerializeToString())
    assert parsed["track_id"].numpy().decode() == "id10001/1zcIwhmdeo4/00001"
    assert parsed["split"].numpy().decode() == "train"
    assert parsed["audio_kind"].numpy().decode() == "spectrogram"
    np.testing.assert_array_equal(parsed["logits"].numpy(), fields["frame_logits"])
    np.testing.assert_allclose(parsed["frame_times"].numpy(), fields["frame_times"], rtol=1e-7)
    spectrogram = parsed["spectrogram"].numpy()
    assert spectrogram.shape == (98, 257)
    # float16 keeps 11 significant bits: relative error <= 2**-11 (normal range).
    np.testing.assert_allclose(spectrogram, fields["spectrogram"], rtol=2**-11)
    assert parsed["waveform"].shape == (0,)
    assert int(parsed["num_samples"]) == 16000


def test_int16_scale_magnitudes_fit_float16_after_scaling(rng):
    # A full-scale 400-sample frame gives magnitudes up to about 400 * 0.54 * 32768 = 7e6.
    loud = np.full((3, 257), 7.1e6, np.float32)
    parsed = schema.parse_example(
        schema.make_example(**_example(rng, spectrogram=loud)).SerializeToString()
    )
    np.testing.assert_allclose(parsed["spectrogram"].numpy(), loud, rtol=2**-11)


def test_waveform_round_trip_is_int16_exact(rng):
    waveform = np.clip(rng.standard_normal(16000) * 0.2, -1, 1).astype(np.float32)
    fields = _example(rng, spectrogram=None, waveform=waveform)
    parsed = schema.parse_example(schema.make_example(**fields).SerializeToString())
    assert parsed["audio_kind"].numpy().decode() == "waveform"
    np.testing.assert_allclose(parsed["waveform"].numpy(), waveform, atol=0.5 / 32768)
    assert parsed["spectrogram"].shape == (0, 257)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"split": "test"}, "split must be one of"),
        ({"frame_logits": np.zeros((5, 7))}, r"frame_logits must have shape \[frames >= 1, 8\]"),
        ({"frame_times": np.arange(4.0)}, "one time per logit frame"),
        ({"frame_times": np.array([0, 1, 0.5, 2, 3.0])}, "non-decreasing"),
        ({"spectrogram": np.zeros((10, 512))}, r"time-major \[frames, 257\]"),
        ({"waveform": np.zeros(16000)}, "exactly one of spectrogram= or waveform="),
        ({"spectrogram": np.full((2, 257), np.nan)}, "must be finite"),
    ],
)
def test_bad_fields_name_the_track_and_field(rng, overrides, message):
    with pytest.raises(ValueError, match=message) as info:
        schema.make_example(**_example(rng, **overrides))
    assert "id10001/1zcIwhmdeo4/00001" in str(info.value)


def test_other_schema_versions_are_refused(rng):
    example = schema.make_example(**_example(rng))
    example.features.feature[schema.KEY_SCHEMA_VERSION].int64_list.value[0] = 99
    import tensorflow as tf

    with pytest.raises(tf.errors.InvalidArgumentError, match="another schema version"):
        schema.parse_example(example.SerializeToString())
