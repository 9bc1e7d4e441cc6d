"""Tests of the VGGVox spectrogram front-end: the NumPy reference and the Keras layers.

Tolerances, and why they are meaningful:

- Unnormalised magnitudes are compared as ``max|a - b| / max|b|`` per clip: float32 FFT and
  filter rounding scale with the frame energy, not with each bin, so an error relative to the
  clip's peak magnitude is the quantity float32 can promise (1.4e-7 measured; asserted
  < 1e-4).
- Normalised outputs are z-scores (each bin has zero mean and unit N-1 std over time), so an
  absolute tolerance on them is a tolerance relative to each bin's own spread: ``atol=5e-4``
  means 0.05% of a standard deviation (measured worst case 4e-5, in the quietest bins).
"""

import math
import warnings

import keras
import numpy as np
import pytest
import scipy.fft
import scipy.signal

from kerasemo.audio import frontend
from kerasemo.audio.frontend import (
    CROP_FRAMES,
    CROP_SAMPLES,
    FFT_LENGTH,
    FRAME_LENGTH,
    FRAME_STEP,
    MirrorFrequencyBins,
    PerBinNormalization,
    VGGVoxSpectrogram,
    dc_removal,
    num_frames,
    num_samples_for_frames,
)
from kerasemo.audio.reference import dc_removal_reference, vggvox_spectrogram_reference

SR = 16000
ODD_LENGTH = 50_001  # not a multiple of the hop, of the frame or of a power of two


def speech_like(num_samples, seed):
    """A speech-like waveform in [-1, 1]: harmonics of a moving F0, formants, syllables, pauses.

    Harmonic source with F0 wandering in 100-250 Hz, shaped by three formant resonances, under a
    syllable-rate (~4 Hz) envelope with a pause (faint noise only) and a stretch of digital
    silence, plus a little noise.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(num_samples) / SR
    f0 = 175.0 + 75.0 * np.sin(2 * np.pi * rng.uniform(0.3, 1.0) * t + rng.uniform(0, 6.3))
    phase = 2 * np.pi * np.cumsum(f0) / SR
    source = np.zeros(num_samples)
    for harmonic in range(1, 25):
        source += np.where(harmonic * f0 < 7000.0, np.sin(harmonic * phase) / harmonic, 0.0)
    voiced = np.zeros(num_samples)
    for centre, bandwidth in zip(rng.uniform([500, 1000, 2200], [900, 2000, 3000]), (80, 110, 160)):
        r = math.exp(-math.pi * bandwidth / SR)
        theta = 2 * math.pi * centre / SR
        voiced += scipy.signal.lfilter([1.0 - r], [1.0, -2 * r * math.cos(theta), r * r], source)
    envelope = np.abs(np.sin(2 * np.pi * rng.uniform(3.0, 5.0) * t + rng.uniform(0, 6.3))) ** 0.7
    pause = slice(num_samples // 3, num_samples // 3 + num_samples // 8)
    envelope[pause] = 0.0
    signal = voiced * envelope / np.max(np.abs(voiced)) + 0.003 * rng.standard_normal(num_samples)
    silence = slice(num_samples // 2, num_samples // 2 + num_samples // 20)
    signal[silence] = 0.0
    return (0.9 * signal / np.max(np.abs(signal))).astype(np.float32)


def relative_error(actual, expected):
    """``max|a - b| / max|b|``: error relative to the clip's peak."""
    difference = np.asarray(actual, np.float64) - expected
    return float(np.max(np.abs(difference)) / np.max(np.abs(expected)))


def scipy_spectrogram(waveform):
    """Independent 257-bin magnitudes with SciPy: lfilter, symmetric Hamming, rfft(n=512)."""
    x = np.asarray(waveform, np.float64)
    if np.max(np.abs(x)) <= 1:
        x = x * 2.0**15
    y = scipy.signal.lfilter([1.0, -1.0], [1.0, -0.99], x)
    z = scipy.signal.lfilter([1.0, -0.97], [1.0], y)
    count = (len(z) - 400) // 160 + 1
    frames = np.stack([z[i * 160 : i * 160 + 400] for i in range(count)])
    window = scipy.signal.get_window("hamming", 400, fftbins=False)
    return np.abs(scipy.fft.rfft(frames * window, n=512, axis=1)).T


# --------------------------------------------------------------------------------------------
# Constants and frame counts.


def test_constants_and_frame_counts():
    assert (FRAME_LENGTH, FRAME_STEP, FFT_LENGTH, CROP_FRAMES) == (400, 160, 512, 400)
    assert CROP_SAMPLES == 64384
    assert frontend.SAMPLE_RATE == 16000
    assert (frontend.PREEMPHASIS, frontend.DC_ALPHA) == (0.97, 0.99)
    assert num_frames(CROP_SAMPLES) == CROP_FRAMES
    for length in (400, 559, 560, 719, 720, 16000, 50_001, 64_240, 64_399, 64_400):
        assert num_frames(length) == (length - 400) // 160 + 1
        assert num_frames(np.int64(length)) == num_frames(length)
    assert (num_frames(64_399), num_frames(64_400)) == (400, 401)
    assert num_samples_for_frames(1) == 400
    assert num_samples_for_frames(CROP_FRAMES) == 64_240 <= CROP_SAMPLES
    for frames in (2, 17, 400):
        assert num_frames(num_samples_for_frames(frames)) == frames
        assert num_frames(num_samples_for_frames(frames) - 1) == frames - 1
    with pytest.raises(ValueError, match="num_samples"):
        num_frames(399)
    with pytest.raises(TypeError, match="integer"):
        num_frames(400.0)
    with pytest.raises(ValueError, match="frames"):
        num_samples_for_frames(0)


def test_shapes_reference_and_layer():
    x = speech_like(CROP_SAMPLES, 0)
    assert vggvox_spectrogram_reference(x).shape == (512, 400)
    assert vggvox_spectrogram_reference(x, mirror=False).shape == (257, 400)
    assert VGGVoxSpectrogram()(x[None]).shape == (1, 512, 400)
    assert VGGVoxSpectrogram(mirror=False)(x[None]).shape == (1, 257, 400)
    assert VGGVoxSpectrogram().compute_output_shape((None, CROP_SAMPLES)) == (None, 512, 400)
    assert VGGVoxSpectrogram(mirror=False).compute_output_shape((4, None)) == (4, 257, None)


# --------------------------------------------------------------------------------------------
# Parity with the reference and with an independent SciPy computation.


@pytest.mark.parametrize("length", [CROP_SAMPLES, ODD_LENGTH])
def test_layer_matches_reference(length):
    clips = np.stack([speech_like(length, seed) for seed in (1, 2, 3)])
    clips[2] *= 2.0**15 * 0.5  # already int16-scale: not rescaled
    raw = VGGVoxSpectrogram(normalize=False)(clips).numpy()
    normalized = VGGVoxSpectrogram()(clips).numpy()
    frames = num_frames(length)
    assert raw.shape == normalized.shape == (3, 512, frames)
    for clip, raw_out, norm_out in zip(clips, raw, normalized):
        expected_raw = vggvox_spectrogram_reference(clip, normalize=False)
        # Measured: at most 1.4e-7 for both lengths.
        assert relative_error(raw_out, expected_raw) < 1e-4
        # Measured worst case 4e-5 of a bin's standard deviation.
        np.testing.assert_allclose(norm_out, vggvox_spectrogram_reference(clip), rtol=0, atol=5e-4)


def test_rfft_bins_match_scipy():
    x = speech_like(ODD_LENGTH, 4)
    expected = scipy_spectrogram(x)
    ref = vggvox_spectrogram_reference(x, normalize=False, mirror=False)
    assert ref.shape == expected.shape == (257, num_frames(ODD_LENGTH))
    assert relative_error(ref, expected) < 1e-12
    full = vggvox_spectrogram_reference(x, normalize=False)
    np.testing.assert_array_equal(full[:257], ref)
    layer = VGGVoxSpectrogram(normalize=False, mirror=False)(x[None]).numpy()[0]
    assert relative_error(layer, expected) < 1e-4


def test_mirrored_half_equals_full_fft():
    x = speech_like(4000, 5)
    for spec in (
        vggvox_spectrogram_reference(x, normalize=False),
        VGGVoxSpectrogram(normalize=False)(x[None]).numpy()[0],
        VGGVoxSpectrogram()(x[None]).numpy()[0],
    ):
        assert spec.shape[0] == 512
        np.testing.assert_array_equal(spec[257:], spec[255:0:-1])
    # The 512 mirrored bins are |fft| of the real windowed frame.
    z = np.asarray(x, np.float64) * 2.0**15
    z = scipy.signal.lfilter([1.0, -0.97], [1.0], scipy.signal.lfilter([1, -1], [1, -0.99], z))
    frame = z[160:560] * scipy.signal.get_window("hamming", 400, fftbins=False)
    np.testing.assert_allclose(
        vggvox_spectrogram_reference(x, normalize=False)[:, 1],
        np.abs(np.fft.fft(frame, n=512)),
        rtol=1e-10,
        atol=1e-9,
    )
    spec = np.random.default_rng(0).random((2, 257, 7)).astype("float32")
    mirrored = MirrorFrequencyBins()(spec).numpy()
    assert mirrored.shape == (2, 512, 7)
    np.testing.assert_array_equal(mirrored[:, :257], spec)
    np.testing.assert_array_equal(mirrored[:, 257:], spec[:, 255:0:-1])


# --------------------------------------------------------------------------------------------
# Edge cases: silence, DC, tones, short clips, int16 scaling.


def test_silence_constant_and_tone_are_finite():
    """Rule: every bin is normalised as (S - mean) / (std + epsilon).

    Digital silence makes every bin constant (0), which maps to exactly 0 (the authors' code
    would give NaN). A constant (DC) input is removed by the DC filter up to a decaying
    transient, and a pure tone is an ordinary signal: both give finite outputs. A clip with a
    single frame has no N-1 std: it is taken as 0, so that clip's output is all zeros.

    Parity is checked on the unnormalised magnitudes here: a steady tone's off-peak bins hardly
    vary over time (std ~1e-7 of the peak), so normalising them amplifies float32 rounding to
    O(0.1) z-score differences. That is a property of float32 on a degenerate signal, not of the
    layer; speech-like clips agree to 4e-5 (`test_layer_matches_reference`).
    """
    t = np.arange(CROP_SAMPLES) / SR
    silence = np.zeros(CROP_SAMPLES, np.float32)
    constant = np.full(CROP_SAMPLES, 0.25, np.float32)
    tone = (0.5 * np.sin(2 * np.pi * 1000.0 * t)).astype(np.float32)
    batch = np.stack([silence, constant, tone])
    layer_out = VGGVoxSpectrogram()(batch).numpy()
    assert np.all(np.isfinite(layer_out))
    assert np.all(layer_out[0] == 0.0)
    raw = VGGVoxSpectrogram(normalize=False)(batch).numpy()
    assert np.all(raw[0] == 0.0)
    for clip, out in zip(batch[1:], raw[1:]):
        assert np.all(np.isfinite(vggvox_spectrogram_reference(clip)))
        assert relative_error(out, vggvox_spectrogram_reference(clip, normalize=False)) < 1e-4
    assert np.all(vggvox_spectrogram_reference(silence) == 0.0)
    assert np.all(VGGVoxSpectrogram(dither=1e-6, seed=1)(silence[None]).numpy() == 0.0)
    # Single frame: normalised output is exactly 0.
    assert np.all(vggvox_spectrogram_reference(tone[:400]) == 0.0)
    assert np.all(VGGVoxSpectrogram()(tone[None, :559]).numpy() == 0.0)


def test_short_clips_are_zero_padded_to_one_frame():
    x = speech_like(300, 6)
    layer = VGGVoxSpectrogram(normalize=False)
    assert layer.compute_output_shape((2, 300)) == (2, 512, 1)
    out = layer(x[None]).numpy()
    expected = vggvox_spectrogram_reference(np.pad(x, (0, 100)), normalize=False)
    assert out.shape == (1, 512, 1)
    assert relative_error(out[0], expected) < 1e-4
    with pytest.raises(ValueError, match="at least 400"):
        vggvox_spectrogram_reference(x)


def test_int16_scaling_decision_is_per_clip():
    x = speech_like(8000, 7)  # peak 0.9: scaled
    peak_one = x / np.max(np.abs(x))  # peak exactly 1: scaled
    loud = x * 2.0**15  # int16 range: not rescaled
    above_one = x * (1.5 / 0.9)  # peak 1.5: not rescaled

    def ref(waveform):
        return vggvox_spectrogram_reference(waveform, normalize=False)

    np.testing.assert_allclose(ref(loud), ref(x), rtol=1e-9)
    np.testing.assert_allclose(ref(peak_one), ref(peak_one * 2.0**15), rtol=1e-9)
    # Peak 1.5: filtered and transformed as is (first frame checked against SciPy, unscaled).
    y = scipy.signal.lfilter([1, -1], [1, -0.99], above_one.astype(np.float64))
    z = scipy.signal.lfilter([1, -0.97], [1], y)
    window = scipy.signal.get_window("hamming", 400, fftbins=False)
    unscaled = np.abs(scipy.fft.rfft(z[:400] * window, n=512))
    np.testing.assert_allclose(ref(above_one)[:257, 0], unscaled, rtol=1e-9, atol=1e-12)

    batch = np.stack([x, loud, peak_one, above_one]).astype(np.float32)
    out = VGGVoxSpectrogram(normalize=False)(batch).numpy()
    assert relative_error(out[0], out[1]) < 1e-6  # same clip, scaled vs already scaled
    for clip, spec in zip(batch, out):
        assert relative_error(spec, ref(clip)) < 1e-4
    # The peak-1.5 clip stays in its own scale: ~2**15 times smaller than if it were scaled.
    assert np.max(out[3]) < 1e-3 * np.max(out[0])
    no_scaling = VGGVoxSpectrogram(normalize=False, scale_to_int16=False)(batch).numpy()
    assert relative_error(no_scaling[0] * 2.0**15, out[0]) < 1e-6
    np.testing.assert_array_equal(no_scaling[1], out[1])


# --------------------------------------------------------------------------------------------
# DC removal: doubling scan vs the exact recursion.


def test_dc_removal_deviation_from_exact_recursion():
    """The doubling-scan filter deviates from the exact recursion by float32 rounding only.

    Measured (written into `dc_removal`'s docstring): 1.4e-7 of the peak for a 64,384-sample
    clip, 3.4e-7 for 60 s, on int16-scaled speech-like signals.
    """
    short = speech_like(CROP_SAMPLES, 8).astype(np.float64) * 2.0**15
    exact = scipy.signal.lfilter([1, -1], [1, -0.99], short)
    np.testing.assert_allclose(dc_removal_reference(short), exact, rtol=1e-12, atol=1e-9)
    deviations = []
    for signal in (short, speech_like(60 * SR, 9).astype(np.float64) * 2.0**15):
        exact = dc_removal_reference(signal)
        scanned = dc_removal(signal[None].astype(np.float32)).numpy()[0]
        assert scanned.shape == signal.shape
        deviations.append(relative_error(scanned, exact))
    assert max(deviations) < 1e-4, deviations
    assert max(deviations) < 2e-6, deviations  # float32 level; truncation is 1.4e-18
    # A step (DC) input decays as 0.99**n, beyond the longest shift (2048).
    step = np.ones((1, 5000), np.float32)
    decay = 0.99 ** np.arange(5000)
    np.testing.assert_allclose(dc_removal(step).numpy()[0], decay, rtol=0, atol=1e-6)


# --------------------------------------------------------------------------------------------
# Dither.


def test_dither_is_seeded_and_tiny():
    x = speech_like(CROP_SAMPLES, 10)

    def ref(**kwargs):
        return vggvox_spectrogram_reference(x, normalize=False, **kwargs)

    plain = ref()
    dithered = ref(dither=1e-6, seed=3)
    assert np.all(np.isfinite(dithered))
    np.testing.assert_array_equal(dithered, ref(dither=1e-6, seed=3))
    assert not np.array_equal(dithered, ref(dither=1e-6, seed=4))
    assert 0 < relative_error(dithered, plain) < 1e-5

    batch = np.stack([x, speech_like(CROP_SAMPLES, 11)])
    layer = VGGVoxSpectrogram(normalize=False, dither=1e-6, seed=3)
    first = layer(batch).numpy()
    assert np.all(np.isfinite(first))
    np.testing.assert_array_equal(first, layer(batch).numpy())  # same on every call
    same_seed = VGGVoxSpectrogram.from_config(layer.get_config())(batch).numpy()
    np.testing.assert_array_equal(first, same_seed)
    other_seed = VGGVoxSpectrogram(normalize=False, dither=1e-6, seed=4)(batch).numpy()
    assert not np.array_equal(first, other_seed)
    no_dither = VGGVoxSpectrogram(normalize=False)(batch).numpy()
    assert not np.array_equal(first, no_dither)
    assert relative_error(first, no_dither) < 1e-4
    normalized = VGGVoxSpectrogram(dither=1e-6, seed=3)(batch).numpy()
    np.testing.assert_allclose(normalized, VGGVoxSpectrogram()(batch).numpy(), rtol=0, atol=2e-3)


# --------------------------------------------------------------------------------------------
# Normalisation layer.


def test_per_bin_normalization_matches_numpy():
    spec = np.random.default_rng(1).gamma(2.0, 3000.0, (2, 5, 50)).astype(np.float32)
    spec[0, 3] = 1234.5  # constant bin -> exactly 0
    out = PerBinNormalization()(spec).numpy()
    s = spec.astype(np.float64)
    expected = (s - s.mean(-1, keepdims=True)) / (s.std(-1, ddof=1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-5)
    assert np.all(out[0, 3] == 0.0)
    stds = out.astype(np.float64).std(-1, ddof=1)
    stds[0, 3] = 1.0
    np.testing.assert_allclose(stds, 1.0, rtol=1e-5)
    assert np.all(PerBinNormalization()(spec[..., :1]).numpy() == 0.0)  # one frame -> 0
    assert PerBinNormalization().compute_output_shape((None, 512, None)) == (None, 512, None)


def test_float32_under_mixed_float16_policy():
    spec = np.random.default_rng(2).uniform(0.0, 2e6, (2, 257, 30)).astype(np.float32)
    waveform = speech_like(8000, 12)[None]
    expected_norm = PerBinNormalization()(spec).numpy()
    expected_spec = VGGVoxSpectrogram()(waveform).numpy()
    keras.config.set_dtype_policy("mixed_float16")
    norm = PerBinNormalization()
    assert norm.compute_dtype == "float16"
    out = norm(spec)
    assert keras.backend.standardize_dtype(out.dtype) == "float32"
    assert np.all(np.isfinite(out.numpy()))
    np.testing.assert_array_equal(out.numpy(), expected_norm)
    inputs = keras.Input(shape=(None,))
    spectrogram = VGGVoxSpectrogram(mirror=False, normalize=False)(inputs)
    normalized = PerBinNormalization()(spectrogram)
    outputs = MirrorFrequencyBins()(normalized)
    assert all(t.dtype == "float32" for t in (spectrogram, normalized, outputs))
    result = keras.Model(inputs, outputs)(waveform).numpy()
    assert result.dtype == np.float32 and np.all(np.isfinite(result))
    np.testing.assert_allclose(result, expected_spec, rtol=0, atol=1e-5)


# --------------------------------------------------------------------------------------------
# Layer plumbing: config, serialisation, variable length, validation, export.


def test_get_config_round_trip():
    layers = [
        VGGVoxSpectrogram(
            mirror=False,
            normalize=False,
            dither=1e-6,
            seed=7,
            scale_to_int16=False,
            epsilon=1e-3,
            name="spec",
        ),
        MirrorFrequencyBins(name="mirror"),
        PerBinNormalization(epsilon=1e-4, name="norm"),
    ]
    for layer in layers:
        config = layer.get_config()
        clone = type(layer).from_config(config)
        assert clone.get_config() == config
        restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
        assert type(restored) is type(layer) and restored.get_config() == config
    assert layers[0].get_config()["seed"] == 7 and layers[0].get_config()["epsilon"] == 1e-3


def test_model_saves_and_reloads_with_variable_length(tmp_path):
    inputs = keras.Input(shape=(None,))
    spectrogram = VGGVoxSpectrogram(mirror=False, normalize=False)(inputs)
    outputs = MirrorFrequencyBins()(PerBinNormalization()(spectrogram))
    dithered = VGGVoxSpectrogram(dither=1e-6, seed=5)(inputs)
    model = keras.Model(inputs, [outputs, VGGVoxSpectrogram()(inputs), dithered])
    assert model.outputs[0].shape == (None, 512, None)
    path = tmp_path / "frontend.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    for length in (CROP_SAMPLES, ODD_LENGTH):
        batch = np.stack([speech_like(length, 13), speech_like(length, 14)])
        composed, direct, dithered = model.predict(batch, verbose=0)
        assert composed.shape == dithered.shape == (2, 512, num_frames(length))
        np.testing.assert_array_equal(composed, direct)  # the layers compose into the recipe
        assert np.all(np.isfinite(dithered))
        for before, after in zip((composed, direct, dithered), reloaded.predict(batch, verbose=0)):
            np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"mirror": "yes"}, TypeError, "mirror"),
        ({"normalize": 1}, TypeError, "normalize"),
        ({"dither": -1e-6}, ValueError, "dither"),
        ({"dither": float("nan")}, ValueError, "dither"),
        ({"seed": -1}, ValueError, "seed"),
        ({"seed": 1.5}, ValueError, "seed"),
        ({"epsilon": 0.0}, ValueError, "epsilon"),
        ({"scale_to_int16": None}, TypeError, "scale_to_int16"),
    ],
)
def test_spectrogram_validates_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        VGGVoxSpectrogram(**kwargs)


def test_validation_of_inputs():
    with pytest.raises(ValueError, match="rank-2"):
        VGGVoxSpectrogram()(np.zeros((1, 1000, 1), np.float32))
    with pytest.raises(ValueError, match="rank-3"):
        PerBinNormalization()(np.zeros((4, 10), np.float32))
    with pytest.raises(ValueError, match="at least 2"):
        MirrorFrequencyBins()(np.zeros((1, 1, 10), np.float32))
    with pytest.raises(ValueError, match="epsilon"):
        PerBinNormalization(epsilon=-1.0)
    with pytest.raises(ValueError, match="1-D"):
        vggvox_spectrogram_reference(np.zeros((2, 1000)))
    bad = speech_like(1000, 15)
    bad[10] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        vggvox_spectrogram_reference(bad)
    with pytest.raises(ValueError, match="dither"):
        vggvox_spectrogram_reference(speech_like(1000, 15), dither=-1.0)


def test_exports_to_tflite_builtins():
    tf = pytest.importorskip("tensorflow")
    inputs = keras.Input(shape=(8000,), batch_size=1)
    model = keras.Model(inputs, VGGVoxSpectrogram()(inputs))
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]  # no Select TF ops
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        flatbuffer = converter.convert()
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            Interpreter = tf.lite.Interpreter
        interpreter = Interpreter(model_content=flatbuffer)
    interpreter.allocate_tensors()
    x = speech_like(8000, 16)[None]
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    out = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    np.testing.assert_allclose(out, model(x).numpy(), rtol=0, atol=2e-3)
