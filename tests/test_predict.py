"""Tests of `kerasemo.inference` (`EmotionRecognizer`, streaming decode, windows) and the predict
entry point: every model format, the timeline rule, CSV/JSON/PNG outputs, bounded memory on a
long file, and every bad input.

A small student is trained for a few steps and exported once for the module (SavedModel and
float32 TFLite), so all three formats are exercised.
"""

import fractions
import json
import logging
import subprocess
import sys
import threading
import time

import av
import keras
import numpy as np
import pytest
import soundfile

from kerasemo import emotions, export
from kerasemo.audio import AudioDecodeError, load_audio
from kerasemo.audio.signals import speech_like_signal
from kerasemo.experiments import predict as predict_cli
from kerasemo.inference import (
    EmotionRecognizer,
    iter_windows,
    prepare_waveform,
    stream_audio,
)
from kerasemo.models import VGGMStudent

SR = 16000
SMALL = dict(
    input_bins=257, mirror_input=True, conv_filters=(8, 16, 16, 16, 16), fc6_units=32, fc7_units=16
)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("predict")
    keras.utils.set_random_seed(0)
    student = VGGMStudent(**SMALL)
    student.compile(optimizer="sgd", loss=keras.losses.CategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(0)
    student.fit(
        rng.gamma(2.0, 1000.0, (8, 257, 100)).astype("float32"),
        keras.ops.convert_to_numpy(keras.ops.softmax(rng.standard_normal((8, 8)))),
        batch_size=4,
        verbose=0,
    )
    student.save(root / "student.keras")
    out = root / "export"
    export.export_student(
        root / "student.keras", out, variants=["float32"], holdout_clips=2, describe=False
    )
    return {
        "keras": root / "student.keras",
        "export_dir": out,
        "saved_model": out / "1",
        "tflite": out / "kerasemo_float32.tflite",
    }


@pytest.fixture(scope="module")
def recognizer(models):
    return EmotionRecognizer.from_path(models["keras"])


@pytest.fixture(scope="module")
def clip_11s(tmp_path_factory):
    path = tmp_path_factory.mktemp("audio") / "talk.wav"
    soundfile.write(path, speech_like_signal(11.3, seed=5), SR, subtype="PCM_16")
    return path


def _write_aac(path, samples, rate, video=False):
    """AAC mono (and optionally 64x64 H.264 video at 25 fps) in the container the suffix names."""
    with av.open(str(path), "w") as container:
        if video:  # every stream is added before the first packet is muxed
            picture = container.add_stream("libx264", rate=25)
            picture.width = picture.height = 64
            picture.pix_fmt = "yuv420p"
            picture.time_base = fractions.Fraction(1, 25)
        stream = container.add_stream("aac", rate=rate)
        stream.layout = "mono"
        if video:
            for index in range(int(len(samples) / rate * 25)):
                image = np.full((64, 64, 3), (index * 9) % 256, np.uint8)
                frame = av.VideoFrame.from_ndarray(image, format="rgb24")
                frame.pts = index
                for packet in picture.encode(frame):
                    container.mux(packet)
            for packet in picture.encode():
                container.mux(packet)
        for start in range(0, len(samples), 1024):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(samples[None, start : start + 1024], np.float32),
                format="fltp",
                layout="mono",
            )
            frame.sample_rate = rate
            frame.time_base = fractions.Fraction(1, rate)
            frame.pts = start
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


# ---------------------------------------------------------------------------------------------
# Formats.


def test_from_path_detects_every_format(models):
    expected = {
        "keras": ("keras", None),
        "export_dir": ("saved_model", None),
        "saved_model": ("saved_model", None),
        "tflite": ("tflite", export.WINDOW_SAMPLES),
    }
    for key, (fmt, window) in expected.items():
        recognizer = EmotionRecognizer.from_path(models[key])
        assert recognizer.format == fmt and recognizer.window_samples == window


def test_formats_agree_on_one_window_and_keras_matches_saved_model(models):
    waveform = speech_like_signal(export.WINDOW_SAMPLES / SR, seed=31)
    predictions = {
        key: EmotionRecognizer.from_path(models[key]).predict(waveform)
        for key in ("keras", "saved_model", "tflite")
    }
    for key, prediction in predictions.items():
        assert prediction.probabilities.shape == (8,) and prediction.logits.shape == (8,)
        assert prediction.dominant in emotions.CLASSES
        np.testing.assert_allclose(prediction.probabilities.sum(), 1.0, atol=1e-5)
        np.testing.assert_allclose(
            prediction.probabilities, predictions["keras"].probabilities, atol=1e-4, err_msg=key
        )
    # Any length on the variable-length formats.
    clip = speech_like_signal(2.5, seed=32)
    a = EmotionRecognizer.from_path(models["keras"]).predict(clip)
    b = EmotionRecognizer.from_path(models["saved_model"]).predict(clip)
    np.testing.assert_allclose(a.probabilities, b.probabilities, atol=1e-4)
    assert a.to_dict()["dominant"] == a.dominant
    np.testing.assert_array_equal(a.embedding, a.logits)


def test_tflite_averages_windows_of_a_long_clip(models):
    recognizer = EmotionRecognizer.from_path(models["tflite"])
    clip = speech_like_signal(9.0, seed=33)
    prediction = recognizer.predict(clip)
    timeline = recognizer.timeline(clip)
    assert prediction.windows == len(timeline) == 4
    np.testing.assert_allclose(prediction.logits, timeline.summary().logits, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# Timeline rule and streaming decode.


def test_timeline_windows_follow_the_documented_rule(recognizer, clip_11s):
    timeline = recognizer.timeline(clip_11s)
    starts = [w.start_s for w in timeline.windows]
    ends = [w.end_s for w in timeline.windows]
    assert starts == [0.0, 2.0, 4.0, 6.0, 8.0]
    assert ends == [4.024, 6.024, 8.024, 10.024, 11.3]  # the last window is padded
    assert timeline.duration_s == pytest.approx(11.3)
    # The streamed windows are exactly the windows of the decoded array.
    array = recognizer.timeline(load_audio(clip_11s))
    np.testing.assert_allclose(timeline.probabilities, array.probabilities, atol=1e-6)
    # Hop 1.5 s; a file shorter than a window gives one padded window.
    assert len(recognizer.timeline(clip_11s, hop=1.5)) == 6
    short = recognizer.timeline(speech_like_signal(3.0, seed=2))
    assert [(w.start_s, w.end_s) for w in short.windows] == [(0.0, 3.0)]


def test_iter_windows_holds_every_sample_once():
    signal = np.arange(25_000, dtype=np.float32)
    blocks = [signal[i : i + 3001] for i in range(0, len(signal), 3001)]
    windows = list(iter_windows(blocks, window=10_000, hop=4_000))
    assert [(s, v) for s, _, v in windows] == [
        (0, 10_000),
        (4_000, 10_000),
        (8_000, 10_000),
        (12_000, 10_000),
        (16_000, 9_000),
    ]
    for start, samples, valid in windows:
        np.testing.assert_array_equal(samples[:valid], signal[start : start + valid])
        assert not samples[valid:].any()


@pytest.mark.parametrize("kind", ["stereo_44k_wav", "aac_m4a", "video_mp4"])
def test_streamed_samples_equal_load_audio(tmp_path, kind):
    if kind == "stereo_44k_wav":
        path = tmp_path / "s.wav"
        left, right = (speech_like_signal(5.0, 44100, seed=s) for s in (1, 2))
        soundfile.write(path, np.stack([left, right], 1), 44100)
    elif kind == "aac_m4a":
        path = _write_aac(tmp_path / "a.m4a", speech_like_signal(5.0, 22050, seed=3), 22050)
    else:
        path = _write_aac(tmp_path / "v.mp4", speech_like_signal(3.0, 48000, seed=4), 48000, True)
    streamed = np.concatenate(list(stream_audio(path, block_seconds=0.37)))
    decoded = load_audio(path)
    assert streamed.shape == decoded.shape
    np.testing.assert_allclose(streamed, decoded, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# Entry point.


def test_predict_cli_writes_rows_timeline_and_png(models, clip_11s, tmp_path, capsys):
    out, timeline_csv, png = tmp_path / "r.csv", tmp_path / "t.csv", tmp_path / "t.png"
    argv = [str(clip_11s), "--model", str(models["keras"])]
    assert predict_cli.main(argv + ["--out", str(out), "--timeline", str(timeline_csv),
                                    "--plot", str(png)]) == 0
    lines = out.read_text().splitlines()
    assert lines[0] == "file,duration_s," + ",".join(emotions.CLASSES) + ",dominant"
    assert len(lines) == 2 and lines[1].startswith(f"{clip_11s},11.3,")
    expected = EmotionRecognizer.from_path(models["keras"]).predict(clip_11s)
    written = np.array(lines[1].split(",")[2:-1], float)
    np.testing.assert_allclose(written, expected.probabilities, rtol=1e-5, atol=1e-6)
    assert lines[1].endswith("," + expected.dominant)

    windows = timeline_csv.read_text().splitlines()
    assert windows[0] == "file,start_s,end_s," + ",".join(emotions.CLASSES) + ",dominant"
    assert len(windows) == 6 and windows[-1].split(",")[1:3] == ["8", "11.3"]
    assert png.stat().st_size > 10_000 and png.read_bytes()[:4] == b"\x89PNG"
    assert not json.loads((tmp_path / "r.skipped.json").read_text())["skipped"]

    timeline_json = tmp_path / "t.json"
    assert predict_cli.main(argv + ["--timeline", str(timeline_json), "--hop", "1", "-q"]) == 0
    document = json.loads(timeline_json.read_text())
    assert document["classes"] == list(emotions.CLASSES) and document["model_format"] == "keras"
    (timeline,) = document["files"]
    assert timeline["hop_s"] == 1.0 and len(timeline["windows"]) == 9  # starts 0..8 s
    assert set(timeline["windows"][0]["probabilities"]) == set(emotions.CLASSES)
    assert capsys.readouterr().out.splitlines()[1] == lines[1]  # CSV on standard output


def test_predict_cli_several_files_and_tflite(models, clip_11s, tmp_path):
    other = tmp_path / "other.flac"
    soundfile.write(other, speech_like_signal(5.0, seed=8), SR)
    video = _write_aac(tmp_path / "video.mp4", speech_like_signal(3.0, 48000, seed=9), 48000, True)
    out, windows, png = tmp_path / "all.csv", tmp_path / "windows.csv", tmp_path / "plot.png"
    argv = [str(clip_11s), str(other), str(video), "--model", str(models["tflite"])]
    argv += ["--out", str(out), "--timeline", str(windows), "--plot", str(png)]
    assert predict_cli.main(argv) == 0
    assert [line.split(",")[0] for line in out.read_text().splitlines()[1:]] == [
        str(clip_11s), str(other), str(video)
    ]
    rows = windows.read_text().splitlines()[1:]
    assert len(rows) == 5 + 2 + 1
    assert rows[-1].startswith(f"{video},0,3,")
    for stem in ("talk", "other", "video"):
        assert (tmp_path / f"plot-{stem}.png").exists()
    with pytest.raises(SystemExit, match="exactly 64384 samples"):
        predict_cli.main([str(clip_11s), "--model", str(models["tflite"]), "--timeline",
                          str(windows), "--window", "3"])


def test_predict_cli_reports_bad_files_and_models(models, tmp_path, clip_11s, capsys):
    text = tmp_path / "notes.wav"
    text.write_text("this is not audio")
    status = predict_cli.main([str(text), "--model", str(models["keras"])])
    assert status == predict_cli.EXIT_SKIPPED
    assert "skipped 1 of 1 files: cannot be decoded (1)" in capsys.readouterr().err
    missing = tmp_path / "missing"
    with pytest.raises(SystemExit) as info:
        predict_cli.main([str(clip_11s), "--model", str(missing)])
    message = str(info.value)
    assert message.startswith(f"error: No model at '{missing}'")
    for hint in ("runs/demo/distill/student.keras", "python -m kerasemo.experiments.export",
                 "--model runs/demo/distill/student.keras"):
        assert hint in message
    with pytest.raises(SystemExit, match="suffix must be one of .csv, .parquet, .json"):
        predict_cli.main([str(clip_11s), "--model", str(models["keras"]), "--out", "r.xlsx"])


def test_predict_help_does_not_load_tensorflow():
    code = (
        "import sys, contextlib, io\n"
        "from kerasemo.experiments import predict\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    predict.main(['--help'])\n"
        "print(sorted(m for m in ('tensorflow', 'keras', 'pandas') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"


def test_predict_help(capsys):
    with pytest.raises(SystemExit) as info:
        predict_cli.main(["--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    assert "usage: python -m kerasemo.experiments.predict" in text
    for flag in ("--head DIR", "--timeline FILE", "--quiet"):
        assert flag in text


# ---------------------------------------------------------------------------------------------
# Bad input at every door.


def test_wrong_sample_rate_is_resampled(recognizer):
    clip = speech_like_signal(3.0, 44100, seed=4)
    resampled = prepare_waveform(clip, sample_rate=44100)
    assert resampled.shape == (48000,)
    np.testing.assert_allclose(
        recognizer.predict(clip, sample_rate=44100).probabilities,
        recognizer.predict(resampled).probabilities,
        atol=1e-6,
    )
    with pytest.raises(ValueError, match="sample_rate"):
        recognizer.predict(clip, sample_rate=0)


def test_stereo_and_integer_input_are_documented_fix_ups(recognizer):
    left, right = speech_like_signal(2.0, seed=5), speech_like_signal(2.0, seed=6)
    mono = recognizer.predict((left + right) / 2).probabilities
    for axis in (1, 0):  # [samples, channels] and [channels, samples]
        stereo = np.stack([left, right], axis)
        np.testing.assert_allclose(recognizer.predict(stereo).probabilities, mono, atol=1e-6)
    as_int16 = np.round(left * 32767).astype(np.int16)
    np.testing.assert_allclose(
        recognizer.predict(as_int16).probabilities,
        recognizer.predict(as_int16 / 32768.0).probabilities,
        atol=1e-6,
    )
    with pytest.raises(ValueError, match="channels"):
        recognizer.predict(np.zeros((16000, 20), np.float32))
    with pytest.raises(ValueError, match=r"\[samples\]"):
        recognizer.predict(np.zeros((2, 2, 16000), np.float32))
    with pytest.raises(TypeError, match="numeric"):
        recognizer.predict(np.array(["a", "b"]))


def test_short_input_is_padded_or_refused(recognizer, caplog):
    with caplog.at_level(logging.WARNING, logger="kerasemo.inference"):
        prediction = recognizer.predict(speech_like_signal(0.3, seed=7))
    assert prediction.probabilities.shape == (8,)
    assert "zero-padding" in caplog.text
    with pytest.raises(ValueError, match="too short"):
        recognizer.predict(np.zeros(800, np.float32))
    with pytest.raises(ValueError, match="empty"):
        recognizer.predict(np.zeros(0, np.float32))
    with pytest.raises(ValueError, match="empty"):
        recognizer.predict([])


def test_nan_samples_are_refused_with_their_count(recognizer, tmp_path):
    clip = speech_like_signal(2.0, seed=8)
    clip[[10, 20, 30]] = np.nan
    with pytest.raises(ValueError, match="3 NaN or Inf"):
        recognizer.predict(clip)
    with pytest.raises(ValueError, match="3 NaN or Inf"):
        recognizer.timeline(clip)
    path = tmp_path / "nan.wav"
    soundfile.write(path, clip, SR, subtype="FLOAT")
    with pytest.raises(AudioDecodeError, match="NaN or Inf"):
        recognizer.timeline(path)


def test_files_that_are_not_audio(recognizer, tmp_path):
    text = tmp_path / "notes.wav"
    text.write_text("this is not audio")
    for call in (recognizer.predict, recognizer.timeline):
        with pytest.raises(AudioDecodeError, match="notes.wav"):
            call(text)
    empty = tmp_path / "empty.wav"
    soundfile.write(empty, np.zeros(0, np.float32), SR)
    for call in (recognizer.predict, recognizer.timeline):
        with pytest.raises(AudioDecodeError, match="no audio samples"):
            call(empty)
    with pytest.raises(FileNotFoundError):
        recognizer.timeline(tmp_path / "missing.wav")
    tiny = tmp_path / "tiny.wav"
    soundfile.write(tiny, np.zeros(500, np.float32), SR)
    with pytest.raises(ValueError, match="too short"):
        recognizer.timeline(tiny)


def test_bad_window_hop_and_model_paths(recognizer, models, tmp_path, clip_11s):
    with pytest.raises(ValueError, match="at least 0.645 s"):
        recognizer.timeline(clip_11s, window=0.5)
    with pytest.raises(ValueError, match="positive number"):
        recognizer.timeline(clip_11s, hop=0)
    with pytest.raises(ValueError, match="batch_size"):
        recognizer.timeline(clip_11s, batch_size=0)
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(ValueError, match="holds no SavedModel"):
        EmotionRecognizer.from_path(tmp_path / "empty_dir")
    (tmp_path / "model.txt").write_text("x")
    with pytest.raises(ValueError, match="Unrecognised model file"):
        EmotionRecognizer.from_path(tmp_path / "model.txt")
    with pytest.raises(FileNotFoundError, match="No model at"):
        EmotionRecognizer.from_path(tmp_path / "nope.keras")


# ---------------------------------------------------------------------------------------------
# Bounded memory on a long file.


class _PeakRSS:
    """Samples the resident set size in a thread; `growth` is the peak above the start."""

    def __init__(self, interval=0.01):
        import psutil

        self._process = psutil.Process()
        self._interval = interval
        self._stop = threading.Event()

    def __enter__(self):
        self.baseline = self.peak = self._process.memory_info().rss
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self._process.memory_info().rss)
            time.sleep(self._interval)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._process.memory_info().rss)

    @property
    def growth(self):
        return self.peak - self.baseline


LONG_MINUTES = 20
# Decoding the whole 20 min file would hold 19.2M float32 samples = 73 MiB (load_audio holds
# more while converting); the streaming timeline must stay far below that.
MEMORY_CEILING = 32 * 2**20


@pytest.mark.slow
def test_long_file_timeline_uses_bounded_memory(recognizer, tmp_path):
    path = tmp_path / "long.wav"
    chunk = speech_like_signal(30.0, seed=9)
    with soundfile.SoundFile(path, "w", SR, 1, subtype="PCM_16") as sink:  # written in chunks
        for index in range(LONG_MINUTES * 2):
            sink.write(chunk * (0.5 + 0.5 * ((index % 3) / 2)))
    whole_file_bytes = LONG_MINUTES * 60 * SR * 4
    assert whole_file_bytes > 2 * MEMORY_CEILING

    warm = tmp_path / "warm.wav"
    soundfile.write(warm, np.tile(chunk, 2), SR)
    recognizer.timeline(warm, hop=4.0, batch_size=8)  # trace and allocate once
    with _PeakRSS() as memory:
        timeline = recognizer.timeline(path, hop=4.0, batch_size=8)
    assert len(timeline) == LONG_MINUTES * 60 // 4
    assert timeline.duration_s == pytest.approx(LONG_MINUTES * 60)
    assert memory.growth < MEMORY_CEILING, f"RSS grew by {memory.growth / 2**20:.1f} MiB"


# ---------------------------------------------------------------------------------------------
# The model's own window, decoder guarantees at the recogniser, and the timeline figure.


def test_timeline_window_is_the_students_training_crop(tmp_path):
    """A student built for 300-frame crops windows timelines with 300 frames (48,384 samples)."""
    keras.utils.set_random_seed(1)
    fixed = VGGMStudent(**SMALL, input_frames=300)
    recognizer = EmotionRecognizer.from_student(fixed)
    assert recognizer.default_window_samples == 48_384 and recognizer.window_samples is None
    timeline = recognizer.timeline(speech_like_signal(7.0, seed=40))
    assert timeline.window_s == pytest.approx(3.024)
    assert [w.end_s for w in timeline.windows][:2] == [3.024, 5.024]
    # Any length still runs (the weights do not depend on the time axis).
    assert recognizer.predict(speech_like_signal(2.0, seed=41)).probabilities.shape == (8,)
    # A variable-length student takes its window from its run's config.toml, else the paper's.
    plain = VGGMStudent(**SMALL)
    plain.save(tmp_path / "student.keras")
    assert EmotionRecognizer.from_path(tmp_path / "student.keras").default_window_samples == 64_384
    (tmp_path / "config.toml").write_text("[frontend]\ncrop_frames = 300\n")
    assert EmotionRecognizer.from_path(tmp_path / "student.keras").default_window_samples == 48_384


def test_exports_record_their_window(models):
    for key in ("export_dir", "tflite"):
        assert EmotionRecognizer.from_path(models[key]).default_window_samples == 64_384


def test_non_finite_file_is_refused_on_every_route(recognizer, tmp_path):
    path = tmp_path / "all_nan.wav"
    soundfile.write(path, np.full(SR, np.nan, np.float32), SR, subtype="FLOAT")
    for call in (recognizer.predict, recognizer.timeline):
        with pytest.raises(AudioDecodeError, match="16000 NaN or Inf") as info:
            call(path)
        assert "all_nan.wav" in str(info.value)


def _drawn_span(figure):
    """The time span the stacked areas cover, and the one the dominant-emotion strip covers."""
    areas, strip = figure.axes[0].collections, figure.axes[1].patches
    extents = [area.get_paths()[0].get_extents() for area in areas]
    bars = [(bar.get_x(), bar.get_x() + bar.get_width()) for bar in strip]
    return (min(e.x0 for e in extents), max(e.x1 for e in extents)), (bars[0][0], bars[-1][1])


def test_timeline_figure_covers_the_file_and_draws_one_window(recognizer, clip_11s):
    import matplotlib
    from matplotlib.figure import Figure

    backend = matplotlib.get_backend()
    one = recognizer.timeline(speech_like_signal(3.0, seed=42))
    figure = one.plot()
    assert isinstance(figure, Figure) and matplotlib.get_backend() == backend
    assert len(figure.axes[0].collections) == len(emotions.CLASSES)
    assert _drawn_span(figure) == ((0.0, 3.0), (0.0, 3.0))
    long = recognizer.timeline(clip_11s)
    figure = long.plot()
    (x0, x1), (s0, s1) = _drawn_span(figure)
    assert (x0, s0) == (0.0, 0.0) and x1 == pytest.approx(11.3) and s1 == pytest.approx(11.3)
    assert len(figure.axes[1].patches) == len(long) == 5
    top, strip = figure.axes
    assert top.get_title() == "talk.wav: emotion over time" and top.get_ylabel() == "probability"
    assert strip.get_xlabel() == "time (s)" and top.get_xlim() == pytest.approx((0.0, 11.3))
    _, ax = Figure().subplots(1, 2)
    assert long.plot(ax, title="talk") is ax.figure and ax.get_title() == "talk"
