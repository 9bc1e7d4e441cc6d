"""Tests for `kerasemo.audio.decode`: every format the readers meet, lengths, content and errors.

All fixtures are written into `tmp_path` by the private `_write_*` helpers below (PyAV encodes
the containers, soundfile the WAV/FLAC files); nothing is downloaded or committed as binary.
scipy is the independent reference for resampling.
"""

import fractions
import pathlib

import av
import numpy as np
import pytest
import soundfile
from scipy import signal as scipy_signal

from kerasemo.audio import AudioDecodeError, load_audio
from kerasemo.audio.decode import audio_duration, stream_audio

TARGET_RATE = 16000
# AAC lengths and offsets must be right to within 1 ms (16 samples at 16 kHz); on this FFmpeg
# build they are exact, since the mp4 edit list records the encoder's priming and padding.
AAC_TOLERANCE_SAMPLES = TARGET_RATE // 1000


# --------------------------------------------------------------------------------------------
# Signals and measurements.


def _sine(frequency, sample_rate, seconds, amplitude=0.5):
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    return (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def _chirp_after_silence(sample_rate, seconds, onset=0.25):
    """Silence, then a 200 Hz -> 4 kHz linear chirp: its autocorrelation has one sharp peak."""
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    tc = np.clip(t - onset, 0.0, None)
    sweep = 0.5 * np.sin(2 * np.pi * (200 * tc + 0.5 * (3800 / (seconds - onset)) * tc**2))
    return np.where(t >= onset, sweep, 0.0).astype(np.float32)


def _dominant_frequency(samples, sample_rate):
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return np.fft.rfftfreq(len(samples), 1.0 / sample_rate)[np.argmax(spectrum)]


def _rms(samples):
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))


def _lag(decoded, reference):
    """Offset (samples) of `reference` inside `decoded` at the cross-correlation peak."""
    correlation = scipy_signal.correlate(decoded, reference, mode="full")
    return int(np.argmax(correlation)) - (len(reference) - 1)


def _expected_length(num_samples, rate, target=TARGET_RATE):
    return int(np.floor(num_samples * target / rate + 0.5))


def _check_waveform(waveform):
    assert waveform.dtype == np.float32
    assert waveform.ndim == 1
    assert np.all(np.abs(waveform) <= 1.0)


# --------------------------------------------------------------------------------------------
# Fixture builders (PyAV / soundfile), kept private so a later change can move them to conftest.


def _add_video_stream(container, codec, pix_fmt, seconds, fps=25):
    stream = container.add_stream(codec, rate=fps)
    stream.width = 64
    stream.height = 64
    stream.pix_fmt = pix_fmt
    stream.time_base = fractions.Fraction(1, fps)
    frames = []
    for index in range(int(round(seconds * fps))):
        image = np.full((64, 64, 3), (index * 9) % 256, np.uint8)
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts = index
        frames.append(frame)
    return stream, frames


def _mux_video(container, stream, frames):
    for frame in frames:
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)


def _mux_audio(container, stream, samples, sample_format, chunk=1024):
    """Encodes mono `samples` (float32, or int16 for s16) in chunks with sample-exact pts."""
    for start in range(0, len(samples), chunk):
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples[None, start : start + chunk]),
            format=sample_format,
            layout="mono",
        )
        frame.sample_rate = stream.rate
        frame.time_base = fractions.Fraction(1, stream.rate)
        frame.pts = start
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)


def _write_aac(path, samples, sample_rate, *, video=True):
    """AAC mono audio and (optionally) a 25 fps 64x64 H.264 video stream, in the container
    that the suffix of `path` names (.mp4, .m4a, .mkv, ...)."""
    seconds = len(samples) / sample_rate
    with av.open(str(path), "w") as container:
        if video:
            video_stream, frames = _add_video_stream(container, "libx264", "yuv420p", seconds)
        audio_stream = container.add_stream("aac", rate=sample_rate)
        audio_stream.layout = "mono"
        if video:
            _mux_video(container, video_stream, frames)
        _mux_audio(container, audio_stream, samples.astype(np.float32), "fltp")
    return path


def _write_avi_pcm(path, samples_int16, sample_rate):
    """An avi with pcm_s16le mono audio and a 25 fps 64x64 MJPEG video stream."""
    seconds = len(samples_int16) / sample_rate
    with av.open(str(path), "w") as container:
        video_stream, frames = _add_video_stream(container, "mjpeg", "yuvj420p", seconds)
        audio_stream = container.add_stream("pcm_s16le", rate=sample_rate)
        audio_stream.layout = "mono"
        _mux_video(container, video_stream, frames)
        _mux_audio(container, audio_stream, samples_int16.astype(np.int16), "s16", chunk=1000)
    return path


def _write_video_only_mp4(path, seconds=0.2):
    with av.open(str(path), "w") as container:
        stream, frames = _add_video_stream(container, "libx264", "yuv420p", seconds)
        _mux_video(container, stream, frames)
    return path


def _to_int16(samples):
    return np.round(np.asarray(samples) * 32767).astype(np.int16)


# --------------------------------------------------------------------------------------------
# AAC in mp4: priming/padding removed, length and alignment exact to within 1 ms.


@pytest.mark.parametrize("source_rate", [16000, 44100])
def test_aac_mp4_length_and_alignment(tmp_path, source_rate):
    original = _chirp_after_silence(source_rate, 1.0)
    path = _write_aac(tmp_path / "talk.mp4", original, source_rate)

    waveform = load_audio(path)

    _check_waveform(waveform)
    assert abs(len(waveform) - TARGET_RATE) <= AAC_TOLERANCE_SAMPLES, len(waveform)
    reference = scipy_signal.resample_poly(original, TARGET_RATE, source_rate).astype(np.float32)
    lag = _lag(waveform, reference)
    assert abs(lag) <= AAC_TOLERANCE_SAMPLES, f"AAC decoded {lag} samples off"
    # The leading silence stays silent: no priming samples leaked in front of the onset.
    assert np.max(np.abs(waveform[: int(0.2 * TARGET_RATE)])) < 0.02
    common = min(len(waveform), len(reference))
    assert np.corrcoef(waveform[:common], reference[:common])[0, 1] > 0.999
    assert audio_duration(path) == pytest.approx(1.0, abs=1e-3)


def test_aac_mkv_aligned_and_consistent_with_duration(tmp_path):
    # Matroska declares no stream duration and stores no end padding: the end comes from the
    # last packet (millisecond timestamps, whole AAC frames), so only the start is exact.
    original = _chirp_after_silence(44100, 1.0)
    path = _write_aac(tmp_path / "talk.mkv", original, 44100)

    waveform = load_audio(path)

    _check_waveform(waveform)
    assert len(waveform) == round(audio_duration(path) * TARGET_RATE)
    assert TARGET_RATE <= len(waveform) <= TARGET_RATE + 2 * 1024 * TARGET_RATE // 44100
    reference = scipy_signal.resample_poly(original, TARGET_RATE, 44100).astype(np.float32)
    assert abs(_lag(waveform, reference)) <= AAC_TOLERANCE_SAMPLES
    assert np.max(np.abs(waveform[: int(0.2 * TARGET_RATE)])) < 0.02


def test_aac_without_video_and_other_rate(tmp_path):
    original = _sine(440.0, 22050, 0.6)
    path = _write_aac(tmp_path / "voice.m4a", original, 22050, video=False)

    waveform = load_audio(str(path), 8000)

    _check_waveform(waveform)
    assert abs(len(waveform) - 4800) <= 8000 // 1000
    assert abs(_dominant_frequency(waveform, 8000) - 440.0) <= 10.0
    assert _rms(waveform) == pytest.approx(_rms(original), rel=0.05)


# --------------------------------------------------------------------------------------------
# PCM in avi (RML / eNTERFACE layout): int16 precision, exact lengths.


def test_avi_pcm_matches_int16_at_native_rate(tmp_path):
    original = _to_int16(_sine(440.0, 22050, 0.8))
    path = _write_avi_pcm(tmp_path / "an1.avi", original, 22050)

    waveform = load_audio(path, 22050)

    _check_waveform(waveform)
    assert len(waveform) == len(original)
    np.testing.assert_array_equal(waveform, original.astype(np.float32) / 32768.0)
    assert audio_duration(path) == pytest.approx(0.8, abs=1e-9)


def test_avi_pcm_resampled_to_16k(tmp_path):
    original = _to_int16(_sine(440.0, 22050, 0.8))
    path = _write_avi_pcm(tmp_path / "an1.avi", original, 22050)

    waveform = load_audio(path)

    _check_waveform(waveform)
    assert len(waveform) == _expected_length(len(original), 22050) == 12800
    assert abs(_dominant_frequency(waveform, TARGET_RATE) - 440.0) <= 10.0
    assert _rms(waveform) == pytest.approx(_rms(original / 32768.0), rel=0.02)


# --------------------------------------------------------------------------------------------
# WAV / FLAC (soundfile fast path) and resampling quality.


def test_stereo_22050_wav_is_resampled_channel_mean(tmp_path):
    left = _sine(440.0, 22050, 1.0, amplitude=0.5)
    right = _sine(1000.0, 22050, 1.0, amplitude=0.2)
    path = tmp_path / "stereo.wav"
    soundfile.write(path, np.stack([left, right], axis=1), 22050, subtype="PCM_16")
    stored = soundfile.read(path, dtype="float32")[0]

    mono = load_audio(path)
    both = load_audio(path, mono=False)

    _check_waveform(mono)
    assert both.shape == (16000, 2) and both.dtype == np.float32
    assert len(mono) == _expected_length(len(left), 22050) == 16000
    np.testing.assert_allclose(mono, both.mean(axis=1), atol=1e-6)
    assert abs(_dominant_frequency(both[:, 0], TARGET_RATE) - 440.0) <= 10.0
    assert abs(_dominant_frequency(both[:, 1], TARGET_RATE) - 1000.0) <= 10.0
    # Against scipy's polyphase resampler, away from the edges (their boundary handling differs).
    reference = scipy_signal.resample_poly(stored.mean(axis=1), 320, 441)
    inner = slice(400, -400)
    np.testing.assert_allclose(mono[inner], reference[inner], atol=1e-3)


def test_sine_22050_keeps_frequency_and_rms(tmp_path):
    original = _sine(440.0, 22050, 1.0)
    path = tmp_path / "sine.wav"
    soundfile.write(path, original, 22050, subtype="FLOAT")

    waveform = load_audio(path)

    _check_waveform(waveform)
    assert abs(_dominant_frequency(waveform, TARGET_RATE) - 440.0) <= 10.0
    assert _rms(waveform) == pytest.approx(_rms(original), rel=0.02)


def test_48k_wav_downsampled_exactly(tmp_path):
    original = _chirp_after_silence(48000, 0.5)
    path = tmp_path / "studio.wav"
    soundfile.write(path, original, 48000, subtype="PCM_24")

    waveform = load_audio(path)

    _check_waveform(waveform)
    assert len(waveform) == len(original) // 3
    reference = scipy_signal.resample_poly(original, 1, 3)
    assert _lag(waveform, reference) == 0
    np.testing.assert_allclose(waveform[200:-200], reference[200:-200], atol=2e-3)


def test_flac_at_16k_is_lossless(tmp_path):
    original = _to_int16(_chirp_after_silence(TARGET_RATE, 0.5))
    path = tmp_path / "clip.flac"
    soundfile.write(path, original, TARGET_RATE, subtype="PCM_16")

    waveform = load_audio(pathlib.Path(path))

    _check_waveform(waveform)
    np.testing.assert_array_equal(waveform, original.astype(np.float32) / 32768.0)
    assert audio_duration(path) == pytest.approx(0.5)


def test_very_short_input_keeps_its_length(tmp_path):
    path = tmp_path / "blip.wav"
    soundfile.write(path, np.full(5, 0.25, np.float32), 22050, subtype="FLOAT")
    assert len(load_audio(path)) == _expected_length(5, 22050) == 4


def test_float_wav_beyond_full_scale_is_clipped(tmp_path):
    path = tmp_path / "loud.wav"
    soundfile.write(path, 3.0 * _sine(440.0, TARGET_RATE, 0.1), TARGET_RATE, subtype="FLOAT")

    waveform = load_audio(path)

    _check_waveform(waveform)
    assert np.max(waveform) == 1.0 and np.min(waveform) == -1.0


# --------------------------------------------------------------------------------------------
# Errors: type, file name and advice.


def test_text_file_named_wav(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("this is not audio\n" * 50)

    with pytest.raises(AudioDecodeError) as info:
        load_audio(path)

    message = str(info.value)
    assert "notes.wav" in message
    assert "could not be decoded by soundfile or FFmpeg" in message
    assert "convert" in message
    assert isinstance(info.value.__cause__, av.error.FFmpegError)
    assert isinstance(info.value, ValueError)


def test_missing_file(tmp_path):
    path = tmp_path / "absent" / "00001.wav"
    with pytest.raises(FileNotFoundError, match="Check the path") as info:
        load_audio(path)
    assert str(path) in str(info.value)
    with pytest.raises(FileNotFoundError, match="00001.wav"):
        audio_duration(path)


def test_directory_instead_of_file(tmp_path):
    with pytest.raises(IsADirectoryError, match="directory"):
        load_audio(tmp_path)


def test_video_only_mp4(tmp_path):
    path = _write_video_only_mp4(tmp_path / "silent_film.mp4")
    with pytest.raises(AudioDecodeError, match="has no audio stream") as info:
        load_audio(path)
    assert "silent_film.mp4" in str(info.value)
    assert "audio track" in str(info.value)
    with pytest.raises(AudioDecodeError, match="has no audio stream"):
        audio_duration(path)


def test_zero_length_wav(tmp_path):
    path = tmp_path / "empty.wav"
    soundfile.write(path, np.zeros(0, np.int16), TARGET_RATE)
    with pytest.raises(AudioDecodeError, match="no audio samples") as info:
        load_audio(path)
    assert "empty.wav" in str(info.value)
    assert "replace it" in str(info.value)


def test_invalid_sample_rate(tmp_path):
    path = tmp_path / "ok.wav"
    soundfile.write(path, _sine(440.0, TARGET_RATE, 0.1), TARGET_RATE)
    for bad_rate in (0, -16000, 16000.0, "16000", True, None):
        with pytest.raises(ValueError, match="positive integer") as info:
            load_audio(path, bad_rate)
        assert f"received sample_rate={bad_rate!r}" in str(info.value)


def test_numpy_integer_sample_rate_accepted(tmp_path):
    path = tmp_path / "ok.wav"
    soundfile.write(path, _sine(440.0, TARGET_RATE, 0.1), TARGET_RATE)
    assert len(load_audio(path, np.int64(8000))) == 800


# --------------------------------------------------------------------------------------------
# Guarantees on every decode path: finite samples, and a length that matches the header.


def _write_pcm_f32_mkv(path, samples, sample_rate):
    """Float PCM in Matroska: libsndfile cannot open it, so FFmpeg decodes it."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("pcm_f32le", rate=sample_rate)
        stream.layout = "mono"
        _mux_audio(container, stream, samples.astype(np.float32), "flt")
    return path


def _write_faststart_m4a(path, samples, sample_rate):
    """AAC in .m4a with the index (moov) first, so that a truncated copy still opens."""
    with av.open(str(path), "w", options={"movflags": "faststart"}) as container:
        stream = container.add_stream("aac", rate=sample_rate)
        stream.layout = "mono"
        _mux_audio(container, stream, samples.astype(np.float32), "fltp")
    return path


def _truncate(path, keep_bytes):
    truncated = path.with_name("half" + path.suffix)
    truncated.write_bytes(path.read_bytes()[:keep_bytes])
    return truncated


def _with_non_finite(seconds=1.0):
    samples = _sine(440.0, TARGET_RATE, seconds)
    samples[[100, 2000, 9000]] = np.nan
    samples[[50, 60]] = [np.inf, -np.inf]
    return samples


def test_nan_and_inf_samples_are_an_error_naming_file_and_count(tmp_path):
    path = tmp_path / "corrupt.wav"
    soundfile.write(path, _with_non_finite(), TARGET_RATE, subtype="FLOAT")
    for decode in (
        lambda: load_audio(path),
        lambda: load_audio(path, 8000),  # resampling must not spread or hide them
        lambda: list(stream_audio(path, block_seconds=0.1)),
    ):
        with pytest.raises(AudioDecodeError, match="5 NaN or Inf sample") as info:
            decode()
        assert "corrupt.wav" in str(info.value) and "0.003 s" in str(info.value)
    stereo = np.stack([_with_non_finite(), _sine(440.0, TARGET_RATE, 1.0)], axis=1)
    soundfile.write(tmp_path / "stereo.wav", stereo, TARGET_RATE, subtype="FLOAT")
    with pytest.raises(AudioDecodeError, match="5 NaN or Inf"):
        load_audio(tmp_path / "stereo.wav", mono=False)


def test_nan_samples_on_the_ffmpeg_path(tmp_path):
    path = _write_pcm_f32_mkv(tmp_path / "corrupt.mkv", _with_non_finite(), TARGET_RATE)
    with pytest.raises(AudioDecodeError, match="5 NaN or Inf sample") as info:
        load_audio(path)
    assert "corrupt.mkv" in str(info.value)
    with pytest.raises(AudioDecodeError, match="5 NaN or Inf"):
        list(stream_audio(path))
    clean = _write_pcm_f32_mkv(tmp_path / "clean.mkv", _sine(440.0, TARGET_RATE, 1.0), 16000)
    np.testing.assert_array_equal(load_audio(clean), _sine(440.0, TARGET_RATE, 1.0))


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".m4a"])
def test_truncated_file_warns_with_both_durations_or_raises_when_strict(
    tmp_path, caplog, suffix
):
    original = _sine(440.0, TARGET_RATE, 3.0, amplitude=0.3)
    path = tmp_path / f"good{suffix}"
    if suffix == ".m4a":
        _write_faststart_m4a(path, original, TARGET_RATE)
    else:
        soundfile.write(path, _to_int16(original), TARGET_RATE, subtype="PCM_16")
    half = _truncate(path, path.stat().st_size // 2 if suffix != ".wav" else 48022)

    with caplog.at_level("WARNING", logger="kerasemo.audio.decode"):
        waveform = load_audio(half)
    decoded_seconds = len(waveform) / TARGET_RATE
    assert 0.5 < decoded_seconds < 2.0
    assert f"decoded to {decoded_seconds:.3f} s" in caplog.text
    assert "header declares 3.000 s" in caplog.text and "half" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="kerasemo.audio.decode"):
        streamed = np.concatenate(list(stream_audio(half, block_seconds=0.25)))
    np.testing.assert_array_equal(streamed, waveform)
    assert "header declares 3.000 s" in caplog.text
    strict_decoders = (
        lambda: load_audio(half, strict=True),
        lambda: list(stream_audio(half, strict=True)),
    )
    for decode in strict_decoders:
        with pytest.raises(AudioDecodeError, match="truncated") as info:
            decode()
        assert "3.000 s" in str(info.value) and f"{decoded_seconds:.3f} s" in str(info.value)
    # The intact file is silent and exact under strict=True.
    assert len(load_audio(path, strict=True)) == 48000


def test_stream_audio_keeps_channels_and_equals_load_audio(tmp_path):
    path = tmp_path / "stereo.flac"
    both = np.stack([_sine(440.0, 22050, 1.3), _sine(900.0, 22050, 1.3, 0.2)], axis=1)
    soundfile.write(path, both, 22050, subtype="PCM_24")
    blocks = list(stream_audio(path, block_seconds=0.2, mono=False))
    assert all(block.ndim == 2 and block.shape[1] == 2 for block in blocks) and len(blocks) > 3
    np.testing.assert_array_equal(np.concatenate(blocks), load_audio(path, mono=False))
    with pytest.raises(ValueError, match="block_seconds"):
        stream_audio(path, block_seconds=0)
