"""Speech emotion recognition for applications: one clip, or a timeline over a long recording.

`EmotionRecognizer.from_path` loads any of the three model formats kerasemo produces and runs
them the same way:

- a student ``.keras`` file (what the distill stage saves): the training front-end is put in
  front of it (`kerasemo.export.build_waveform_model`), in float32 even if it was trained under
  mixed precision;
- a SavedModel folder written by ``kerasemo.experiments.export`` (or the export folder itself,
  whose highest numeric version sub-folder is used);
- a ``.tflite`` model written by the same (fixed 64,384-sample window, run by LiteRT).

`EmotionRecognizer.predict` takes a 16 kHz mono waveform or an audio/video file and returns an
`EmotionPrediction` (probabilities, logits = the paper's embedding, dominant emotion).
`EmotionRecognizer.timeline` runs fixed windows over a file (streamed: memory stays bounded for
hour-long files) and returns a `Timeline` that writes CSV/JSON and draws a PNG.

Rules at the door (each raises a clear error or applies a documented fix-up):

- **Sample rate**: arrays at another rate are resampled to 16 kHz (libswresample, as
  `kerasemo.audio.load_audio` does) when the rate is passed as ``sample_rate=``; files are
  decoded and resampled whatever their rate.
- **Channels**: 2-D arrays are ``[samples, channels]`` or ``[channels, samples]`` (the shorter
  axis, at most 8, is taken as channels) and are averaged to mono; files likewise.
- **Integer samples** are scaled to [-1, 1) (int16 / 32768, and so on).
- **Empty** input raises `ValueError`; **NaN or Inf** samples raise `ValueError` naming their
  count and the first position (files: `AudioDecodeError`, also a `ValueError`).
- **Too short**: below `MIN_CLIP_SECONDS` (0.1 s) is refused with `ValueError`; clips shorter
  than the student's minimum (0.645 s, 10,320 samples) are zero-padded to it with a logged
  warning.
- **Not audio**: `FileNotFoundError`, `IsADirectoryError` or `AudioDecodeError` from the decoder.

What one prediction covers:

- ``.keras``/SavedModel: the whole clip in one pass (the student averages over time, as in the
  paper's probe protocol on full-length utterances), up to ``max_clip_seconds`` (30 s); longer
  clips are cut into timeline windows whose logits are averaged.
- ``.tflite``: the model takes exactly one 4.024 s window, so shorter clips are zero-padded to
  it and longer clips are the average of their timeline windows' logits. Results therefore differ
  from the other two formats for clips that are not one window long.

Timeline windows: ``window`` seconds (default 4.024 s = 64,384 samples, the training crop)
every ``hop`` seconds (default 2 s), starting at 0. Windows end where the audio ends; the last
window, which reaches past the end, is zero-padded to the full window (as a short training crop
is), and its ``end_s`` is the end of the audio. A recording shorter than one window gives one
padded window.

Example:

```python
from kerasemo import EmotionRecognizer

recognizer = EmotionRecognizer.from_path("saved_models/kerasemo")
print(recognizer.predict("interview.m4a").dominant)
timeline = recognizer.timeline("podcast.mp3", hop=1.0)
timeline.to_csv("podcast.csv")
timeline.plot("podcast.png")
```
"""

from __future__ import annotations

import csv
import dataclasses
import fractions
import io
import json
import logging
import math
import numbers
import os
import pathlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Union

import numpy as np

from kerasemo import emotions
from kerasemo.audio import decode
from kerasemo.audio.decode import AudioDecodeError, audio_duration, load_audio
from kerasemo.export import MIN_SAMPLES, SAMPLE_RATE, WINDOW_SAMPLES

logger = logging.getLogger(__name__)

PathLike = Union[str, "os.PathLike[str]"]

DEFAULT_WINDOW_SECONDS = WINDOW_SAMPLES / SAMPLE_RATE
"""Timeline window: 4.024 s (64,384 samples = 400 frames, the training crop)."""
DEFAULT_HOP_SECONDS = 2.0
"""Timeline hop: 2 s (32,000 samples, 200 frames), so consecutive windows overlap by half."""
MIN_CLIP_SECONDS = 0.1
"""Shortest input accepted; shorter is refused (too little speech to score)."""
MIN_CLIP_SAMPLES = int(round(MIN_CLIP_SECONDS * SAMPLE_RATE))
DEFAULT_MAX_CLIP_SECONDS = 30.0
"""Longest clip scored in one pass by the variable-length formats; longer ones are windowed."""
MAX_CHANNELS = 8
_READ_BLOCK_SECONDS = 1.0
# Reader's tolerance for a decoded length that differs from the declared one (as load_audio).
_LENGTH_TOLERANCE_SECONDS = 0.05

__all__ = [
    "DEFAULT_HOP_SECONDS",
    "DEFAULT_WINDOW_SECONDS",
    "EmotionPrediction",
    "EmotionRecognizer",
    "MIN_CLIP_SECONDS",
    "Timeline",
    "TimelineWindow",
    "iter_windows",
    "prepare_waveform",
    "stream_audio",
]


# --------------------------------------------------------------------------------------------
# Results.


def _softmax(logits: np.ndarray) -> np.ndarray:
    logits = np.asarray(logits, np.float64)
    shifted = logits - np.max(logits, axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return (exp / np.sum(exp, axis=-1, keepdims=True)).astype(np.float32)


@dataclasses.dataclass(frozen=True)
class EmotionPrediction:
    """The student's output for one clip.

    Attributes:
        probabilities: float32 ``[8]``, softmax of the logits, in `kerasemo.emotions.CLASSES`
            order.
        logits: float32 ``[8]``; the paper's speech emotion embedding (`embedding` is an alias).
        windows: how many windows were averaged (1 for a clip scored in one pass).

    Example:

    >>> prediction.dominant, round(float(prediction.probabilities.sum()), 3)  # doctest: +SKIP
    ('neutral', 1.0)
    """

    probabilities: np.ndarray
    logits: np.ndarray
    windows: int = 1

    @property
    def dominant(self) -> str:
        """The class with the highest probability."""
        return emotions.CLASSES[int(np.argmax(self.probabilities))]

    @property
    def embedding(self) -> np.ndarray:
        """The 8-d embedding, i.e. the logits."""
        return self.logits

    def to_dict(self) -> dict:
        """``{"dominant", "probabilities": {class: p}, "logits": {class: l}, "windows"}``."""
        return {
            "dominant": self.dominant,
            "probabilities": dict(zip(emotions.CLASSES, map(float, self.probabilities))),
            "logits": dict(zip(emotions.CLASSES, map(float, self.logits))),
            "windows": self.windows,
        }


@dataclasses.dataclass(frozen=True)
class TimelineWindow:
    """One timeline window: where it lies in the recording and the student's output for it.

    Attributes:
        start_s: start of the window in seconds.
        end_s: end of the audio it covers in seconds (the audio's end for a padded last window).
        probabilities: float32 ``[8]``.
        logits: float32 ``[8]``.
    """

    start_s: float
    end_s: float
    probabilities: np.ndarray
    logits: np.ndarray

    @property
    def dominant(self) -> str:
        return emotions.CLASSES[int(np.argmax(self.probabilities))]

    def to_row(self) -> dict:
        """``{"start_s", "end_s", <one probability per class>, "dominant"}``."""
        row: dict[str, Any] = {"start_s": round(self.start_s, 4), "end_s": round(self.end_s, 4)}
        row.update({c: float(p) for c, p in zip(emotions.CLASSES, self.probabilities)})
        row["dominant"] = self.dominant
        return row


@dataclasses.dataclass
class Timeline:
    """Per-window emotion probabilities over a recording.

    Attributes:
        windows: the `TimelineWindow` rows in time order.
        source: the file (or ``"<array>"``).
        window_s, hop_s: the window length and hop in seconds.
        duration_s: where the audio covered by the last window ends, in seconds (the length of
            the recording, unless a hop longer than the window skipped its tail).

    Example:

    >>> timeline = recognizer.timeline("talk.mp4")  # doctest: +SKIP
    >>> timeline.to_csv("talk.csv"); timeline.plot("talk.png")  # doctest: +SKIP
    """

    windows: list[TimelineWindow]
    source: str
    window_s: float
    hop_s: float
    duration_s: float

    def __len__(self) -> int:
        return len(self.windows)

    @property
    def probabilities(self) -> np.ndarray:
        """``[windows, 8]`` float32."""
        if not self.windows:
            return np.zeros((0, emotions.NUM_CLASSES), np.float32)
        return np.stack([w.probabilities for w in self.windows])

    def summary(self) -> EmotionPrediction:
        """The recording as one prediction: the mean of the windows' logits, then softmax."""
        logits = np.mean(np.stack([w.logits for w in self.windows]), axis=0).astype(np.float32)
        return EmotionPrediction(_softmax(logits), logits, windows=len(self.windows))

    def to_rows(self, file: str | None = None) -> list[dict]:
        """The rows as dicts (`TimelineWindow.to_row`), with a leading ``file`` if given."""
        rows = []
        for window in self.windows:
            row = window.to_row()
            rows.append({"file": file, **row} if file is not None else row)
        return rows

    def to_dict(self) -> dict:
        """A JSON-ready dict: settings, classes, windows and a summary."""
        return {
            "source": self.source,
            "sample_rate": SAMPLE_RATE,
            "window_s": self.window_s,
            "hop_s": self.hop_s,
            "duration_s": round(self.duration_s, 4),
            "classes": list(emotions.CLASSES),
            "windows": [
                {
                    "start_s": round(w.start_s, 4),
                    "end_s": round(w.end_s, 4),
                    "probabilities": dict(zip(emotions.CLASSES, map(float, w.probabilities))),
                    "dominant": w.dominant,
                }
                for w in self.windows
            ],
            "summary": self.summary().to_dict() if self.windows else None,
        }

    def to_json(self, path: PathLike | None = None) -> str:
        """Writes (if `path`) and returns the JSON text of `to_dict`."""
        text = json.dumps(self.to_dict(), indent=2) + "\n"
        if path is not None:
            pathlib.Path(path).write_text(text, encoding="utf-8")
        return text

    def to_csv(self, path: PathLike | None = None, *, file: str | None = None) -> str:
        """Writes (if `path`) and returns CSV: ``[file,] start_s, end_s, <classes>, dominant``."""
        text = rows_to_csv(self.to_rows(file), with_file=file is not None)
        if path is not None:
            pathlib.Path(path).write_text(text, encoding="utf-8")
        return text

    def plot(self, path: PathLike, title: str | None = None) -> pathlib.Path:
        """Draws the probabilities over time (stacked areas) and the dominant emotion as a PNG.

        Args:
            path: the PNG to write.
            title: figure title (default: the source's file name).

        Returns:
            The path written.
        """
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        path = pathlib.Path(path)
        colours = plt.get_cmap("tab10").colors
        centres = np.array([(w.start_s + w.end_s) / 2 for w in self.windows])
        figure, (axis, strip) = plt.subplots(
            2, 1, figsize=(11, 4.5), sharex=True, gridspec_kw={"height_ratios": [5, 0.5]}
        )
        axis.stackplot(
            centres,
            self.probabilities.T,
            labels=emotions.CLASSES,
            colors=colours[: emotions.NUM_CLASSES],
            alpha=0.85,
        )
        axis.set_ylim(0, 1)
        axis.set_xlim(0, max(self.duration_s, 1e-3))
        axis.set_ylabel("probability")
        axis.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
        axis.set_title(title or f"{pathlib.Path(self.source).name}: emotion over time")
        step = min(self.hop_s, self.window_s)
        for centre, window in zip(centres, self.windows):
            colour = colours[emotions.CLASSES.index(window.dominant)]
            strip.barh(0, step, left=centre - step / 2, height=1.0, color=colour)
        strip.set_yticks([])
        strip.set_ylabel("dominant", rotation=0, ha="right", va="center", fontsize=8)
        strip.set_xlabel("time (s)")
        figure.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=100)
        plt.close(figure)
        return path


def rows_to_csv(rows: Sequence[dict], *, with_file: bool) -> str:
    """CSV text for timeline rows (columns: ``[file,] start_s, end_s, <classes>, dominant``)."""
    columns = (["file"] if with_file else []) + ["start_s", "end_s", *emotions.CLASSES, "dominant"]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {k: (f"{v:.6f}" if k in emotions.CLASSES else v) for k, v in row.items()}
        )
    return buffer.getvalue()


# --------------------------------------------------------------------------------------------
# Input validation and fix-ups.


def prepare_waveform(audio: Any, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Validates an in-memory waveform and returns it as float32 mono at 16 kHz.

    Args:
        audio: array-like of samples: ``[samples]``, or 2-D with a channel axis of at most 8
            (``[samples, channels]`` or ``[channels, samples]``; the shorter axis is taken as
            channels and averaged). Floats are taken as they are (normally in [-1, 1]);
            integers are scaled to [-1, 1) by their type's range (int16 / 32768).
        sample_rate: the rate of `audio` in Hz; other rates than 16,000 are resampled.

    Returns:
        float32 ``[samples]`` at 16 kHz.

    Raises:
        TypeError: for non-numeric, boolean or complex data.
        ValueError: for an empty array, more than 2 dimensions, more than 8 channels, NaN or
            Inf samples (the message gives their count and the first position), or a bad rate.

    Example:

    >>> stereo_44k = np.zeros((44100, 2), "float32")
    >>> prepare_waveform(stereo_44k, sample_rate=44100).shape
    (16000,)
    """
    sample_rate = decode._validate_sample_rate(sample_rate)
    if isinstance(audio, (str, bytes, os.PathLike)):
        raise TypeError(
            "prepare_waveform takes samples; decode files with kerasemo.audio.load_audio."
        )
    array = np.asarray(audio)
    if array.dtype == np.bool_ or not np.issubdtype(array.dtype, np.number):
        raise TypeError(
            f"Expected numeric audio samples; received an array of dtype {array.dtype}."
        )
    if np.iscomplexobj(array):
        raise TypeError("Expected real audio samples; received complex values.")
    if array.ndim == 0 or array.ndim > 2:
        raise ValueError(
            "Expected a waveform of shape [samples] or [samples, channels]; received shape "
            f"{array.shape}."
        )
    if array.size == 0:
        raise ValueError(
            f"The waveform is empty (shape {array.shape}); pass at least 0.1 s of audio."
        )
    if np.issubdtype(array.dtype, np.floating):
        finite = np.isfinite(array)
        if not finite.all():
            bad = int(array.size - np.count_nonzero(finite))
            first = int(np.argmax(~finite.reshape(-1)))
            raise ValueError(
                f"The waveform holds {bad} NaN or Inf sample(s) out of {array.size} (the first at "
                f"flat index {first}). Replace them (e.g. `np.nan_to_num(x)`) or fix the source."
            )
    if array.ndim == 2:
        channel_axis = int(np.argmin(array.shape))
        channels = array.shape[channel_axis]
        if channels > MAX_CHANNELS or array.shape[0] == array.shape[1]:
            raise ValueError(
                f"Cannot tell samples from channels in shape {array.shape}: pass [samples] or "
                f"[samples, channels] with at most {MAX_CHANNELS} channels."
            )
        if channels > 1:
            logger.info("Averaging %d channels to mono.", channels)
    if np.issubdtype(array.dtype, np.integer):
        info = np.iinfo(array.dtype)
        if info.min == 0:  # unsigned: centre first (uint8 WAV convention)
            array = (array.astype(np.float64) - (info.max + 1) / 2) / ((info.max + 1) / 2)
        else:
            array = array.astype(np.float64) / (info.max + 1.0)
    array = np.asarray(array, dtype=np.float32)
    if array.ndim == 2:
        array = array.mean(axis=int(np.argmin(array.shape)), dtype=np.float32)
    if sample_rate != SAMPLE_RATE:
        logger.info("Resampling the waveform from %d Hz to %d Hz.", sample_rate, SAMPLE_RATE)
        resampler = _StreamResampler(sample_rate, SAMPLE_RATE)
        step = 1 << 16
        parts = [resampler.push(array[i : i + step]) for i in range(0, array.shape[0], step)]
        array = np.concatenate(parts + [resampler.finish()])
    return np.ascontiguousarray(array, dtype=np.float32)


def _check_length(num_samples: int, what: str) -> None:
    if num_samples == 0:
        raise ValueError(f"{what} is empty: no audio samples to score.")
    if num_samples < MIN_CLIP_SAMPLES:
        raise ValueError(
            f"{what} is too short: {num_samples} samples ({num_samples / SAMPLE_RATE:.3f} s) at "
            f"16 kHz; at least {MIN_CLIP_SECONDS} s ({MIN_CLIP_SAMPLES} samples) is needed."
        )


# --------------------------------------------------------------------------------------------
# Streaming decode and windowing.


class _StreamResampler:
    """Mono float32 resampling through libswresample, chunk by chunk, with bounded memory.

    The total output has exactly ``round(n_in * out_rate / in_rate)`` samples and is
    time-aligned with the input (the same procedure as `kerasemo.audio.load_audio`).
    """

    def __init__(self, in_rate: int, out_rate: int):
        import av

        self.in_rate, self.out_rate = int(in_rate), int(out_rate)
        self._passthrough = self.in_rate == self.out_rate
        self._resampler = (
            None
            if self._passthrough
            else av.AudioResampler(format="flt", layout="mono", rate=self.out_rate)
        )
        self._time_base = fractions.Fraction(1, self.in_rate)
        self._pushed = 0  # input samples pushed, including the flushing tail
        self._total_in = 0  # input samples of the signal
        self._emitted = 0

    def _resample(self, samples: np.ndarray) -> np.ndarray:
        import av

        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples, np.float32)[None, :], format="flt", layout="mono"
        )
        frame.sample_rate = self.in_rate
        frame.time_base = self._time_base
        frame.pts = self._pushed
        self._pushed += samples.shape[0]
        return self._collect(self._resampler.resample(frame))

    @staticmethod
    def _collect(frames) -> np.ndarray:
        parts = [frame.to_ndarray()[0] for frame in frames]
        return np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, np.float32)

    def push(self, samples: np.ndarray) -> np.ndarray:
        """Feeds input samples; returns the output samples available so far."""
        if samples.shape[0] == 0:
            return np.zeros(0, np.float32)
        self._total_in += samples.shape[0]
        out = samples.astype(np.float32) if self._passthrough else self._resample(samples)
        self._emitted += out.shape[0]
        return out

    def finish(self) -> np.ndarray:
        """Flushes the filter; returns the last samples, cut or padded to the exact total."""
        expected = (2 * self._total_in * self.out_rate + self.in_rate) // (2 * self.in_rate)
        tail = np.zeros(0, np.float32)
        if not self._passthrough and self._total_in:
            silence = np.zeros(64 * math.ceil(self.in_rate / self.out_rate) + 64, np.float32)
            pushed = self._resample(silence)
            tail = np.concatenate([pushed, self._collect(self._resampler.resample(None))])
        remaining = max(expected - self._emitted, 0)
        tail = tail[:remaining]
        if tail.shape[0] < remaining:
            tail = np.pad(tail, (0, remaining - tail.shape[0]))
        self._emitted += tail.shape[0]
        return tail


class _LengthFitter:
    """Cuts (or pads by a little) a stream to the duration the container declares.

    As `load_audio`: decoded audio up to the tolerance past the declared end (codec padding) is
    dropped and up to the tolerance short of it is zero-padded; a larger mismatch keeps the
    decoded samples as they are, with a warning.
    """

    def __init__(self, expected: int | None, path: str):
        self.expected = expected
        self.path = path
        self.emitted = 0
        self.tolerance = int(round(_LENGTH_TOLERANCE_SECONDS * SAMPLE_RATE))
        self._held: list[np.ndarray] = []
        self._held_count = 0

    def widen(self, frame_samples: int) -> None:
        self.tolerance = max(self.tolerance, 2 * frame_samples)

    def feed(self, samples: np.ndarray) -> np.ndarray:
        if self.expected is None:
            self.emitted += samples.shape[0]
            return samples
        room = max(self.expected - self.emitted, 0)
        head, rest = samples[:room], samples[room:]
        self.emitted += head.shape[0]
        if rest.shape[0]:
            self._held.append(rest)
            self._held_count += rest.shape[0]
            if self._held_count > self.tolerance:
                logger.warning(
                    "'%s' decodes to more audio than its header declares (%.3f s); keeping the "
                    "decoded samples (its header may be wrong).",
                    self.path,
                    self.expected / SAMPLE_RATE,
                )
                head = np.concatenate([head] + self._held)
                self.emitted += self._held_count
                self._held, self._held_count, self.expected = [], 0, None
        return head

    def finish(self) -> np.ndarray:
        if self.expected is None or self.emitted >= self.expected:
            return np.zeros(0, np.float32)
        missing = self.expected - self.emitted
        if missing > self.tolerance:
            logger.warning(
                "'%s' decoded to %.3f s of audio but its header declares %.3f s; keeping the "
                "decoded samples (the file may be truncated).",
                self.path,
                self.emitted / SAMPLE_RATE,
                self.expected / SAMPLE_RATE,
            )
            return np.zeros(0, np.float32)
        self.emitted += missing
        return np.zeros(missing, np.float32)


def _finite_and_clipped(block: np.ndarray, path: str, position: int, rate: int) -> np.ndarray:
    finite = np.isfinite(block)
    if not finite.all():
        raise AudioDecodeError(
            f"'{path}' holds {int(block.size - np.count_nonzero(finite))} NaN or Inf sample(s) "
            f"in the block starting at {position / rate:.2f} s; the file is corrupt. Re-encode "
            "or repair it (e.g. `ffmpeg -i in -ac 1 -ar 16000 out.wav`)."
        )
    if block.size and float(np.max(np.abs(block))) > 1.0:
        block = np.clip(block, -1.0, 1.0)
    return block


def stream_audio(
    path: PathLike, block_seconds: float = _READ_BLOCK_SECONDS
) -> Iterator[np.ndarray]:
    """Decodes a file block by block to float32 mono at 16 kHz, holding one block at a time.

    The samples are those of ``load_audio(path)`` (soundfile for wav/flac/..., PyAV/FFmpeg for
    the rest; channels averaged, libswresample, codec priming and padding trimmed to the declared
    duration), produced in blocks of about `block_seconds` without ever holding the whole file.

    Args:
        path: an audio or video file.
        block_seconds: the size of the blocks read from the file.

    Yields:
        float32 ``[n]`` arrays (consecutive, possibly empty), in [-1, 1].

    Raises:
        FileNotFoundError, IsADirectoryError: for a bad path.
        AudioDecodeError: for a file that cannot be decoded, has no audio stream, holds no
            samples, or holds NaN/Inf samples.

    Example:

    >>> total = sum(len(block) for block in stream_audio("talk.m4a"))  # doctest: +SKIP
    """
    import soundfile

    path = decode._check_path(path)
    try:
        sound = soundfile.SoundFile(path)
    except (soundfile.SoundFileError, RuntimeError) as err:
        logger.debug("soundfile cannot read %s (%s); streaming it with FFmpeg.", path, err)
        yield from _stream_pyav(path, err, block_seconds)
        return
    yield from _stream_soundfile(sound, path, block_seconds)


def _stream_soundfile(sound, path: str, block_seconds: float) -> Iterator[np.ndarray]:
    import soundfile

    with sound:
        rate, channels = sound.samplerate, sound.channels
        resampler = _StreamResampler(rate, SAMPLE_RATE)
        position = 0
        try:
            for block in sound.blocks(
                blocksize=max(int(block_seconds * rate), 1), dtype="float32", always_2d=True
            ):
                mono = block.mean(axis=1, dtype=np.float32)
                mono = _finite_and_clipped(mono, path, position, rate)
                position += mono.shape[0]
                yield _clip(resampler.push(mono))
        except (soundfile.SoundFileError, RuntimeError) as err:
            raise AudioDecodeError(
                f"libsndfile failed while reading '{path}' after {position / rate:.2f} s: {err}. "
                + decode._advice(path)
            ) from err
    if position == 0:
        raise AudioDecodeError(
            f"'{path}' contains no audio samples (0 frames at {rate} Hz, {channels} channel(s))."
            " Remove it from the file list or replace it with a non-empty recording."
        )
    yield _clip(resampler.finish())


def _clip(block: np.ndarray) -> np.ndarray:
    if block.size and float(np.max(np.abs(block))) > 1.0:
        return np.clip(block, -1.0, 1.0)
    return block


def _stream_pyav(path: str, sf_error: Exception, block_seconds: float) -> Iterator[np.ndarray]:
    import av

    with decode._open_container(path, sf_error) as container:
        stream = decode._first_audio_stream(container, path)
        origin, end = decode._stream_span(stream)
        codec = stream.codec_context.name
        expected = None if end is None else int(math.floor((end - origin) * SAMPLE_RATE + 0.5))
        fitter = _LengthFitter(expected, path)
        resampler: _StreamResampler | None = None
        started, position, frames = False, 0, 0
        pending: list[np.ndarray] = []
        pending_count = 0
        block_target = int(block_seconds * SAMPLE_RATE)
        try:
            for packet in container.demux(stream):
                for frame in packet.decode():
                    frames += 1
                    data = decode._frame_to_float(frame).mean(axis=1, dtype=np.float32)
                    if not started:
                        data = decode._trim_before(data, frame, origin)
                        if data.shape[0] == 0:
                            continue
                        started = True
                    data = _finite_and_clipped(data, path, position, frame.sample_rate)
                    position += data.shape[0]
                    if resampler is not None and frame.sample_rate != resampler.in_rate:
                        pending.append(fitter.feed(resampler.finish()))
                        resampler = None
                    if resampler is None:
                        resampler = _StreamResampler(frame.sample_rate, SAMPLE_RATE)
                    fitter.widen(math.ceil(data.shape[0] * SAMPLE_RATE / frame.sample_rate))
                    out = fitter.feed(resampler.push(data))
                    pending.append(out)
                    pending_count += out.shape[0]
                    if pending_count >= block_target:
                        yield _clip(np.concatenate(pending))
                        pending, pending_count = [], 0
        except av.error.FFmpegError as err:
            raise AudioDecodeError(
                f"FFmpeg failed while decoding the {codec} audio of '{path}' after {frames} "
                f"frame(s): {err}. The file may be truncated or corrupt. " + decode._advice(path)
            ) from err
    if not started:
        raise AudioDecodeError(
            f"'{path}' contains no audio samples: its {codec} audio stream decoded to 0 samples "
            f"({frames} frame(s)). Remove it from the file list or replace it with a non-empty "
            "recording."
        )
    if resampler is not None:
        pending.append(fitter.feed(resampler.finish()))
    pending.append(fitter.finish())
    yield _clip(np.concatenate(pending))


def _array_blocks(waveform: np.ndarray, block: int = SAMPLE_RATE) -> Iterator[np.ndarray]:
    for start in range(0, waveform.shape[0], block):
        yield waveform[start : start + block]


def iter_windows(
    blocks: Iterable[np.ndarray], window: int, hop: int
) -> Iterator[tuple[int, np.ndarray, int]]:
    """Cuts a stream of sample blocks into windows, holding O(window + block) samples.

    Windows start at 0, hop, 2 hop, ...; every window that lies inside the audio is yielded as
    soon as its samples have arrived. At the end, if audio remains that no window covered, one
    last window starting at the next hop is yielded, zero-padded to `window` samples. A stream
    shorter than one window gives that one padded window.

    Args:
        blocks: consecutive float32 ``[n]`` arrays (e.g. from `stream_audio`).
        window: window length in samples (> 0).
        hop: hop in samples (> 0).

    Yields:
        ``(start, samples, valid)``: the start sample, a float32 ``[window]`` array, and how many
        of its samples are audio (the rest is zero padding).

    Raises:
        ValueError: if the stream is empty or shorter than `MIN_CLIP_SECONDS`.
    """
    buffer = np.zeros(0, np.float32)
    buffer_start = start = last_end = 0
    for block in blocks:
        if block.shape[0] == 0:
            continue
        buffer = np.concatenate([buffer, np.asarray(block, np.float32)])
        drop = min(max(start - buffer_start, 0), buffer.shape[0])
        buffer, buffer_start = buffer[drop:], buffer_start + drop
        while buffer_start + buffer.shape[0] >= start + window:
            offset = start - buffer_start
            yield start, buffer[offset : offset + window].copy(), window
            last_end, start = start + window, start + hop
            drop = min(start - buffer_start, buffer.shape[0])
            buffer, buffer_start = buffer[drop:], buffer_start + drop
    total = buffer_start + buffer.shape[0]
    if last_end == 0:
        _check_length(total, "The audio")
    if last_end < total and start < total:
        partial = buffer[start - buffer_start :]
        yield start, np.pad(partial, (0, window - partial.shape[0])), partial.shape[0]


# --------------------------------------------------------------------------------------------
# Model back-ends.


class _Backend:
    """Runs ``[n, samples]`` float32 waveforms; returns ``{"logits", "probabilities"}``."""

    format = ""
    window_samples: int | None = None  # a fixed input length, or None for any length

    def __call__(self, waveforms: np.ndarray) -> dict[str, np.ndarray]:
        raise NotImplementedError


class _KerasBackend(_Backend):
    format = "keras"

    def __init__(self, student):
        import tensorflow as tf

        from kerasemo import export

        self.student = export.to_float32(student)
        self.model = export.build_waveform_model(self.student)
        self._fn = tf.function(
            lambda waveform: self.model(waveform, training=False),
            input_signature=[tf.TensorSpec([None, None], tf.float32)],
        )

    def __call__(self, waveforms):
        outputs = self._fn(np.asarray(waveforms, np.float32))
        return {k: np.asarray(outputs[k], np.float32) for k in ("logits", "probabilities")}


class _SavedModelBackend(_Backend):
    format = "saved_model"

    def __init__(self, directory: pathlib.Path):
        import tensorflow as tf

        from kerasemo.export import WAVEFORM_SIGNATURE

        try:
            self._loaded = tf.saved_model.load(str(directory))
        except Exception as err:  # TF raises several types for a bad folder
            raise ValueError(f"Could not load the SavedModel in '{directory}': {err}") from err
        signatures = getattr(self._loaded, "signatures", {})
        if WAVEFORM_SIGNATURE not in signatures:
            raise ValueError(
                f"The SavedModel in '{directory}' has no {WAVEFORM_SIGNATURE!r} signature "
                f"(found {sorted(signatures)}); export it with kerasemo.experiments.export."
            )
        self._fn = signatures[WAVEFORM_SIGNATURE]
        outputs = set(self._fn.structured_outputs)
        if not {"logits", "probabilities"} <= outputs:
            raise ValueError(
                f"The SavedModel in '{directory}' returns {sorted(outputs)}; expected logits and "
                "probabilities (a kerasemo export)."
            )

    def __call__(self, waveforms):
        import tensorflow as tf

        outputs = self._fn(waveform=tf.constant(np.asarray(waveforms, np.float32)))
        return {k: outputs[k].numpy().astype(np.float32) for k in ("logits", "probabilities")}


class _TFLiteBackend(_Backend):
    format = "tflite"

    def __init__(self, path: pathlib.Path, num_threads: int | None):
        from kerasemo.export import ExportError, TFLiteRunner

        try:
            self._runner = TFLiteRunner(path, num_threads=num_threads)
        except ExportError as err:
            raise ValueError(str(err)) from err
        self.window_samples = self._runner.window_samples

    def __call__(self, waveforms):
        outputs = self._runner(waveforms)
        return {k: outputs[k] for k in ("logits", "probabilities")}


def _saved_model_dir(directory: pathlib.Path) -> pathlib.Path | None:
    """The SavedModel in `directory`: itself, or its highest numeric version sub-folder."""
    if (directory / "saved_model.pb").is_file():
        return directory
    versions = [
        p
        for p in directory.iterdir()
        if p.is_dir() and p.name.isdigit() and (p / "saved_model.pb").is_file()
    ]
    return max(versions, key=lambda p: int(p.name)) if versions else None


# --------------------------------------------------------------------------------------------
# The recogniser.


class EmotionRecognizer:
    """Scores speech emotion with an exported or trained kerasemo model.

    Build it with `from_path` (``.keras`` student, SavedModel folder or export folder,
    ``.tflite``) or `from_student` (an in-memory `VGGMStudent`). See the module docstring for the
    input rules and what one prediction covers.

    Args:
        backend: internal; use the constructors.
        source: a description of the model (its path).
        max_clip_seconds: the longest clip scored in one pass by the variable-length formats.

    Example:

    >>> model = "saved_models/kerasemo/kerasemo_int8.tflite"
    >>> recognizer = EmotionRecognizer.from_path(model)  # doctest: +SKIP
    >>> recognizer.predict(np.zeros(32000, "float32")).probabilities.shape  # doctest: +SKIP
    (8,)
    """

    def __init__(
        self,
        backend: _Backend,
        source: str,
        max_clip_seconds: float = DEFAULT_MAX_CLIP_SECONDS,
    ):
        self._backend = backend
        self.source = source
        if not max_clip_seconds > 0:
            raise ValueError(f"max_clip_seconds must be > 0; received {max_clip_seconds!r}.")
        self.max_clip_seconds = float(max_clip_seconds)

    # ---- construction -----------------------------------------------------------------------

    @classmethod
    def from_path(
        cls,
        path: PathLike,
        *,
        num_threads: int | None = None,
        max_clip_seconds: float = DEFAULT_MAX_CLIP_SECONDS,
    ) -> EmotionRecognizer:
        """Loads a model, detecting its format from the path.

        Args:
            path: a ``.keras`` student file, a ``.tflite`` file, a SavedModel folder, or an
                export folder (``saved_models/NAME``; its highest numeric version is loaded).
            num_threads: LiteRT CPU threads for ``.tflite`` (None: all logical cores).
            max_clip_seconds: see the class docstring.

        Returns:
            An `EmotionRecognizer`.

        Raises:
            FileNotFoundError: if `path` does not exist.
            ValueError: if the format is not recognised or the model is not a kerasemo model.
        """
        path = pathlib.Path(path)
        if not path.exists():
            raise FileNotFoundError(
                f"No model at '{path}'. Export one with `python -m kerasemo.experiments.export "
                "--student runs/distill/student.keras --out saved_models/kerasemo`, or pass a "
                ".keras student, a SavedModel folder or a .tflite file."
            )
        if path.is_dir():
            directory = _saved_model_dir(path)
            if directory is None:
                found = sorted(p.name for p in path.iterdir())[:10]
                raise ValueError(
                    f"'{path}' holds no SavedModel (no saved_model.pb in it or in a numeric "
                    f"version sub-folder; found {found}). Pass a SavedModel folder, a .keras or "
                    "a .tflite file."
                )
            backend: _Backend = _SavedModelBackend(directory)
            source = str(directory)
        elif path.suffix == ".tflite":
            backend, source = _TFLiteBackend(path, num_threads), str(path)
        elif path.suffix == ".keras":
            from kerasemo.export import ExportError, load_student

            try:
                student = load_student(path)
            except ExportError as err:
                raise ValueError(str(err)) from err
            backend, source = _KerasBackend(student), str(path)
        else:
            raise ValueError(
                f"Unrecognised model file '{path}': expected a .keras student, a .tflite model or "
                "a SavedModel folder."
            )
        logger.info("Loaded %s model from %s", backend.format, source)
        return cls(backend, source, max_clip_seconds)

    @classmethod
    def from_student(
        cls, student: Any, *, max_clip_seconds: float = DEFAULT_MAX_CLIP_SECONDS
    ) -> EmotionRecognizer:
        """Wraps an in-memory `VGGMStudent` (rebuilt in float32 if it is mixed precision)."""
        return cls(_KerasBackend(student), f"<{type(student).__name__}>", max_clip_seconds)

    @property
    def format(self) -> str:
        """``"keras"``, ``"saved_model"`` or ``"tflite"``."""
        return self._backend.format

    @property
    def window_samples(self) -> int | None:
        """The model's fixed input length in samples (TFLite), or None for any length."""
        return self._backend.window_samples

    @property
    def classes(self) -> tuple[str, ...]:
        """The output order: `kerasemo.emotions.CLASSES`."""
        return emotions.CLASSES

    # ---- one clip ---------------------------------------------------------------------------

    def predict(self, audio: Any, *, sample_rate: int = SAMPLE_RATE) -> EmotionPrediction:
        """Scores one clip: a waveform or an audio/video file.

        Args:
            audio: a 1-D waveform (or 2-D with channels, averaged), or a file path (any format
                `kerasemo.audio.load_audio` reads).
            sample_rate: the rate of an array `audio` (resampled to 16 kHz when different);
                ignored for files, which are decoded at 16 kHz.

        Returns:
            An `EmotionPrediction`.

        Raises:
            TypeError, ValueError: for bad arrays (see `prepare_waveform`), empty input or input
                shorter than `MIN_CLIP_SECONDS`.
            FileNotFoundError, IsADirectoryError, AudioDecodeError: for a file that cannot be
                decoded.

        Example:

        >>> recognizer.predict("clip.wav").to_dict()["dominant"]  # doctest: +SKIP
        'happiness'
        """
        if isinstance(audio, (str, os.PathLike)):
            longest = self._longest_single_pass()
            if audio_duration(audio) * SAMPLE_RATE > longest:
                logger.info(
                    "%s is longer than %.3f s: averaging the logits of its timeline windows.",
                    audio,
                    longest / SAMPLE_RATE,
                )
                return self.timeline(audio).summary()
            waveform = load_audio(audio)
            what = f"'{audio}'"
        else:
            waveform = prepare_waveform(audio, sample_rate)
            what = "The waveform"
        _check_length(waveform.shape[0], what)
        if waveform.shape[0] > self._longest_single_pass():
            return self.timeline(waveform).summary()
        target = self.window_samples or max(MIN_SAMPLES, waveform.shape[0])
        if waveform.shape[0] < MIN_SAMPLES:
            logger.warning(
                "%s is %.3f s long, shorter than the student's minimum %.3f s (%d samples): "
                "zero-padding it.",
                what,
                waveform.shape[0] / SAMPLE_RATE,
                MIN_SAMPLES / SAMPLE_RATE,
                MIN_SAMPLES,
            )
        padded = np.pad(waveform, (0, target - waveform.shape[0]))[None, :]
        outputs = self._backend(padded)
        return EmotionPrediction(outputs["probabilities"][0], outputs["logits"][0])

    def _longest_single_pass(self) -> int:
        if self.window_samples is not None:
            return self.window_samples
        return int(self.max_clip_seconds * SAMPLE_RATE)

    # ---- timeline ---------------------------------------------------------------------------

    def _window_and_hop(self, window: float | None, hop: float | None) -> tuple[int, int]:
        window = DEFAULT_WINDOW_SECONDS if window is None else window
        hop = DEFAULT_HOP_SECONDS if hop is None else hop
        for name, value in (("window", window), ("hop", hop)):
            valid = (
                not isinstance(value, bool)
                and isinstance(value, numbers.Real)
                and math.isfinite(value)
                and value > 0
            )
            if not valid:
                raise ValueError(
                    f"`{name}` must be a positive number of seconds; received {value!r}."
                )
        window_samples = int(round(window * SAMPLE_RATE))
        hop_samples = int(round(hop * SAMPLE_RATE))
        if window_samples < MIN_SAMPLES:
            raise ValueError(
                f"`window` must be at least {MIN_SAMPLES / SAMPLE_RATE:.3f} s (the student's "
                f"shortest input, {MIN_SAMPLES} samples); received {window} s."
            )
        if hop_samples < 1:
            raise ValueError(f"`hop` must be at least one sample (1/16000 s); received {hop} s.")
        if self.window_samples is not None and window_samples != self.window_samples:
            raise ValueError(
                f"This {self.format} model takes windows of exactly {self.window_samples} samples "
                f"({self.window_samples / SAMPLE_RATE:.3f} s); received window={window} s. Use the "
                "default window, or the SavedModel/.keras model for other lengths."
            )
        if hop_samples > window_samples:
            logger.warning(
                "hop (%.3f s) is longer than the window (%.3f s): audio between windows is "
                "skipped.",
                hop,
                window,
            )
        return window_samples, hop_samples

    def iter_timeline(
        self,
        audio: Any,
        *,
        window: float | None = None,
        hop: float | None = None,
        batch_size: int = 8,
        sample_rate: int = SAMPLE_RATE,
    ) -> Iterator[TimelineWindow]:
        """Yields `TimelineWindow` rows as they are computed (see `timeline`)."""
        window_samples, hop_samples = self._window_and_hop(window, hop)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"`batch_size` must be a positive integer; received {batch_size!r}.")
        if isinstance(audio, (str, os.PathLike)):
            blocks: Iterable[np.ndarray] = stream_audio(audio)
        else:
            blocks = _array_blocks(prepare_waveform(audio, sample_rate))
        batch: list[tuple[int, np.ndarray, int]] = []
        for item in iter_windows(blocks, window_samples, hop_samples):
            batch.append(item)
            if len(batch) == batch_size:
                yield from self._score(batch)
                batch = []
        if batch:
            yield from self._score(batch)

    def _score(self, batch: list[tuple[int, np.ndarray, int]]) -> Iterator[TimelineWindow]:
        outputs = self._backend(np.stack([samples for _, samples, _ in batch]))
        for index, (start, _, valid) in enumerate(batch):
            yield TimelineWindow(
                start_s=start / SAMPLE_RATE,
                end_s=(start + valid) / SAMPLE_RATE,
                probabilities=outputs["probabilities"][index],
                logits=outputs["logits"][index],
            )

    def timeline(
        self,
        audio: Any,
        *,
        window: float | None = None,
        hop: float | None = None,
        batch_size: int = 8,
        sample_rate: int = SAMPLE_RATE,
    ) -> Timeline:
        """Scores fixed windows over a recording; files are decoded as a stream.

        Args:
            audio: a file path (streamed: memory holds about one window per batch entry,
                whatever the file's length) or a waveform (see `prepare_waveform`).
            window: window length in seconds (default 4.024 s, the training crop; TFLite
                models accept only their own window).
            hop: seconds between window starts (default 2.0).
            batch_size: windows scored per model call.
            sample_rate: the rate of an array `audio`; ignored for files.

        Returns:
            A `Timeline`.

        Raises:
            ValueError: for a bad window, hop or batch size, empty or too short audio, or bad
                samples. FileNotFoundError, IsADirectoryError, AudioDecodeError: for files.

        Example:

        >>> recognizer.timeline("meeting.mp4", hop=1.0).to_csv("meeting.csv")  # doctest: +SKIP
        """
        window_samples, hop_samples = self._window_and_hop(window, hop)
        rows = list(
            self.iter_timeline(
                audio,
                window=window_samples / SAMPLE_RATE,
                hop=hop_samples / SAMPLE_RATE,
                batch_size=batch_size,
                sample_rate=sample_rate,
            )
        )
        source = os.fspath(audio) if isinstance(audio, (str, os.PathLike)) else "<array>"
        return Timeline(
            windows=rows,
            source=source,
            window_s=window_samples / SAMPLE_RATE,
            hop_s=hop_samples / SAMPLE_RATE,
            duration_s=max(w.end_s for w in rows),
        )
