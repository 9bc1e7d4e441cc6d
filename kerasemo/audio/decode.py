"""Decoding any audio or audio-visual file to float32 samples (16 kHz mono by default).

Two back-ends, tried in this order:

1. **soundfile** (libsndfile) for files it can open: WAV, FLAC, OGG, MP3 and the other formats
   libsndfile reads. Integer PCM is mapped to [-1, 1) (int16 / 32768).
2. **PyAV** (FFmpeg) for everything else: AAC in `.m4a`/`.mp4`, audio tracks of videos (`.mp4`,
   `.avi`, `.mkv`, ...). The first audio stream is decoded; video streams are ignored.

Channels are averaged to mono (unless `mono=False`) and the signal is resampled with FFmpeg's
libswresample (`av.AudioResampler`, a windowed-sinc polyphase filter with no delay: the output is
time-aligned with the input). The output of an `N`-sample input at rate `r` has exactly
`round(N * sample_rate / r)` samples.

Encoder priming and padding (AAC adds about 1024 silent samples at the start and pads the last
frame) are removed: samples stamped before the audio stream's start time (negative timestamps)
are dropped and the result is cut, or zero-padded by at most a frame, to the duration the container
declares for the audio stream, `round(duration_seconds * sample_rate)` samples. Sample 0 of the
output is the start of the audio stream. Formats that carry no timing metadata cannot be
corrected this way: a raw ADTS `.aac` stream keeps the encoder's priming (FFmpeg's own `ffmpeg -i
x.aac out.wav` does the same); prefer AAC in `.m4a`/`.mp4`, which records it.

Every failure is raised as `FileNotFoundError` (missing file) or `AudioDecodeError` (anything the
decoders reject), with the file name and what to do; errors from libsndfile or FFmpeg are chained
(`raise ... from err`), never leaked.

Example:

>>> from kerasemo.audio import load_audio
>>> waveform = load_audio("id10001/1zcIwhmdeo4/00001.m4a")  # doctest: +SKIP
>>> waveform.dtype, waveform.ndim  # doctest: +SKIP
(dtype('float32'), 1)
"""

from __future__ import annotations

import fractions
import logging
import math
import numbers
import os
import shlex
from typing import Any, Union

import av
import numpy as np
import soundfile

logger = logging.getLogger(__name__)

PathLike = Union[str, "os.PathLike[str]"]

DEFAULT_SAMPLE_RATE = 16000

# Samples per frame pushed into the resampler when the input is one large array (soundfile path).
_RESAMPLE_BLOCK = 1 << 16

# Scale factors from FFmpeg integer sample formats to [-1, 1).
_INT_SCALE = {"s16": 2.0**15, "s32": 2.0**31, "s64": 2.0**63}

# A decoded stream that ends more than this many seconds (or two decoded frames, if longer)
# short of, or past, the duration the container declares is kept as decoded, with a warning,
# rather than padded or cut: the file is probably truncated or its header is wrong.
_LENGTH_TOLERANCE_SECONDS = 0.05


class AudioDecodeError(ValueError):
    """Raised when a file exists but no audio samples can be decoded from it.

    The message names the file, says what went wrong (no audio stream, zero samples, data that
    neither libsndfile nor FFmpeg can decode, a decoder failure part-way) and what to do about it.
    The underlying `soundfile` or `av` error, if any, is chained as `__cause__`.

    Example:

    >>> try:  # doctest: +SKIP
    ...     load_audio("notes.txt")
    ... except AudioDecodeError as err:
    ...     print(err)
    """


def load_audio(
    path: PathLike,
    sample_rate: int = DEFAULT_SAMPLE_RATE,
    *,
    mono: bool = True,
) -> np.ndarray:
    """Decodes an audio or video file to float32 samples at `sample_rate`.

    WAV/FLAC (and anything else libsndfile opens) are read with `soundfile`; other files
    (`.m4a`, `.mp4`, `.avi`, `.mkv`, ...) are decoded with PyAV from their first audio stream.
    Channels are averaged to mono unless `mono=False`, and the signal is resampled to
    `sample_rate` with libswresample when the file's rate differs. Integer PCM is scaled to
    [-1, 1) (int16 / 32768); float data, and the resampler's small overshoots, are clipped to
    [-1, 1] only when a sample falls outside it. Codec priming and padding are trimmed so that
    the length matches the stream's declared duration (see the module docstring).

    Args:
        path: a file path, `str` or `os.PathLike`.
        sample_rate: the output rate in Hz, a positive integer. Defaults to 16000.
        mono: if True (default), average the channels and return shape `[num_samples]`;
            if False, keep them and return shape `[num_samples, num_channels]`.

    Returns:
        A float32 NumPy array with values in [-1, 1]: `[num_samples]` if `mono`, else
        `[num_samples, num_channels]`.

    Raises:
        ValueError: if `sample_rate` is not a positive integer.
        FileNotFoundError: if `path` does not exist.
        IsADirectoryError: if `path` is a directory.
        AudioDecodeError: if the file has no audio stream, holds zero samples, or cannot be
            decoded by soundfile nor by FFmpeg.

    Example:

    >>> waveform = load_audio("clip.mp4")  # doctest: +SKIP
    >>> waveform.shape, waveform.dtype  # doctest: +SKIP
    ((16000,), dtype('float32'))
    >>> stereo = load_audio("music.flac", 44100, mono=False)  # doctest: +SKIP
    >>> stereo.shape  # doctest: +SKIP
    (441000, 2)
    """
    sample_rate = _validate_sample_rate(sample_rate)
    path = _check_path(path)

    samples, sf_error = _load_with_soundfile(path, sample_rate, mono)
    if samples is None:
        samples = _load_with_pyav(path, sample_rate, mono, sf_error)

    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    if peak > 1.0:
        logger.debug("Clipping %s to [-1, 1] (peak %.4f).", path, peak)
        np.clip(samples, -1.0, 1.0, out=samples)
    return samples


def audio_duration(path: PathLike) -> float:
    """Returns the duration of a file's audio in seconds, read from its headers.

    The value is the one `load_audio` trims to: for PCM formats
    `len(load_audio(path, sr)) == round(audio_duration(path) * sr)`. When a container does not
    declare the audio stream's duration (e.g. PCM in AVI, AAC in Matroska), the packets are
    scanned (read, not decoded), which is still much cheaper than decoding; only if their
    timestamps are missing too is the audio decoded and counted.

    Args:
        path: a file path, `str` or `os.PathLike`.

    Returns:
        The audio duration in seconds (0.0 for an empty file that libsndfile opens).

    Raises:
        FileNotFoundError: if `path` does not exist.
        IsADirectoryError: if `path` is a directory.
        AudioDecodeError: if the file has no audio stream or cannot be read by soundfile nor
            by FFmpeg.

    Example:

    >>> audio_duration("id10001/1zcIwhmdeo4/00001.wav")  # doctest: +SKIP
    8.12
    """
    path = _check_path(path)
    sf_error: Exception | None = None
    try:
        info = soundfile.info(path)
    except (soundfile.SoundFileError, RuntimeError) as err:
        sf_error = err
    else:
        if info.samplerate > 0 and info.frames >= 0:
            return info.frames / float(info.samplerate)

    with _open_container(path, sf_error) as container:
        stream = _first_audio_stream(container, path)
        origin, end = _stream_span(stream)
        rate = stream.sample_rate or stream.codec_context.sample_rate
        if end is None:
            packet_end = _PacketEnd()
            try:
                for packet in container.demux(stream):
                    packet_end.update(packet)
            except av.error.FFmpegError as err:
                raise AudioDecodeError(
                    f"FFmpeg failed while reading the packets of '{path}': {err}. "
                    + _advice(path)
                ) from err
            end = packet_end.value
    if end is not None:
        return max(end - origin, 0.0)
    logger.debug("%s declares no audio duration; decoding it to count the samples.", path)
    rate = rate or DEFAULT_SAMPLE_RATE
    return load_audio(path, rate).shape[0] / float(rate)


# --------------------------------------------------------------------------------------------
# Validation.


def _validate_sample_rate(sample_rate: Any) -> int:
    if (
        isinstance(sample_rate, bool)
        or not isinstance(sample_rate, numbers.Integral)
        or sample_rate <= 0
    ):
        raise ValueError(
            "`sample_rate` must be a positive integer number of samples per second "
            f"(e.g. 16000); received sample_rate={sample_rate!r}."
        )
    return int(sample_rate)


def _check_path(path: PathLike) -> str:
    try:
        path = os.fspath(path)
    except TypeError:
        raise TypeError(
            f"`path` must be a str or os.PathLike naming an audio or video file; received "
            f"{type(path).__name__} {path!r}."
        ) from None
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not os.path.exists(path):
        relative = "" if os.path.isabs(path) else f" (relative to {os.getcwd()!r})"
        raise FileNotFoundError(
            f"Audio file not found: '{path}'{relative}. Check the path and that the dataset is "
            "fully downloaded and extracted."
        )
    if os.path.isdir(path):
        raise IsADirectoryError(
            f"'{path}' is a directory, not an audio or video file. Pass the path of a file "
            "inside it (e.g. a .wav, .flac, .m4a or .mp4)."
        )
    return path


# --------------------------------------------------------------------------------------------
# soundfile (libsndfile) fast path.


def _load_with_soundfile(
    path: str, sample_rate: int, mono: bool
) -> tuple[np.ndarray | None, Exception | None]:
    """Returns (samples, None), or (None, error) when libsndfile cannot read the file."""
    try:
        with soundfile.SoundFile(path) as sound:
            rate = sound.samplerate
            channels = sound.channels
            data = sound.read(dtype="float32", always_2d=True)
    except (soundfile.SoundFileError, RuntimeError) as err:
        logger.debug("soundfile cannot read %s (%s); trying FFmpeg.", path, err)
        return None, err

    if data.shape[0] == 0:
        raise AudioDecodeError(
            f"'{path}' contains no audio samples (0 frames at {rate} Hz, {channels} "
            "channel(s)). Remove it from the file list or replace it with a non-empty recording."
        )
    logger.debug(
        "Read %s with soundfile: %d samples at %d Hz, %d channel(s).",
        path,
        data.shape[0],
        rate,
        channels,
    )
    if mono:
        data = data.mean(axis=1, keepdims=True, dtype=np.float32)
    if rate != sample_rate:
        resampler = _Resampler(rate, sample_rate, data.shape[1])
        for start in range(0, data.shape[0], _RESAMPLE_BLOCK):
            resampler.push(data[start : start + _RESAMPLE_BLOCK])
        data = resampler.finish()
    return _finalise(data, mono), None


# --------------------------------------------------------------------------------------------
# PyAV (FFmpeg) path.


def _open_container(path: str, sf_error: Exception | None) -> Any:
    try:
        return av.open(path, metadata_errors="replace")
    except av.error.FFmpegError as err:
        raise AudioDecodeError(_undecodable_message(path, sf_error, err)) from err


def _undecodable_message(path: str, sf_error: Exception | None, av_error: Exception) -> str:
    sf_part = f"soundfile/libsndfile: {sf_error}" if sf_error is not None else "soundfile: n/a"
    return (
        f"Could not decode audio from '{path}': the data could not be decoded by soundfile or "
        f"FFmpeg ({sf_part}; FFmpeg/PyAV: {av_error}). " + _advice(path)
    )


def _advice(path: str) -> str:
    quoted = shlex.quote(path)
    return (
        "Check that the file is a complete, uncorrupted audio or video file (for example run "
        f"`ffprobe {quoted}`), or convert it to WAV first "
        f"(`ffmpeg -i {quoted} -vn -ac 1 -ar 16000 out.wav`)."
    )


def _first_audio_stream(container: Any, path: str) -> Any:
    if not container.streams.audio:
        found = ", ".join(
            f"{stream.type} ({stream.codec_context.name})" for stream in container.streams
        )
        raise AudioDecodeError(
            f"'{path}' has no audio stream (streams found: {found or 'none'}); pass a file with "
            "an audio track, e.g. the original recording rather than a video-only export."
        )
    return container.streams.audio[0]


def _stream_span(stream: Any) -> tuple[float, float | None]:
    """Returns (origin, end) of an audio stream in seconds; `end` is None when undeclared.

    The origin is the stream's start time, or 0 when that is negative: samples stamped before
    zero are codec priming, not signal.
    """
    time_base = stream.time_base
    start = 0.0
    if stream.start_time is not None and time_base is not None:
        start = float(stream.start_time * time_base)
    origin = max(start, 0.0)
    end = None
    if stream.duration is not None and stream.duration > 0 and time_base is not None:
        end = start + float(stream.duration * time_base)
    return origin, end


class _PacketEnd:
    """Tracks where the last demuxed packet ends (pts + duration), in seconds.

    `value` is None when no packet had a timestamp or when the last one has no duration (its
    end is then unknown).
    """

    def __init__(self):
        self._last_pts: float | None = None
        self._end: float | None = None

    def update(self, packet: Any) -> None:
        if packet.pts is None or packet.time_base is None:
            return  # the demuxer's final flush packet
        pts = float(packet.pts * packet.time_base)
        if self._last_pts is not None and pts < self._last_pts:
            return
        self._last_pts = pts
        self._end = pts + float(packet.duration * packet.time_base) if packet.duration else None

    @property
    def value(self) -> float | None:
        return self._end


def _load_with_pyav(
    path: str, sample_rate: int, mono: bool, sf_error: Exception | None
) -> np.ndarray:
    with _open_container(path, sf_error) as container:
        stream = _first_audio_stream(container, path)
        origin, end = _stream_span(stream)
        codec = stream.codec_context.name
        logger.debug(
            "Decoding %s with FFmpeg: stream #%d (%s), origin %.4f s, declared end %s s.",
            path,
            stream.index,
            codec,
            origin,
            end,
        )
        sink = _FrameSink(path, sample_rate, mono, origin)
        packet_end = _PacketEnd()
        try:
            for packet in container.demux(stream):
                packet_end.update(packet)
                for frame in packet.decode():
                    sink.add(frame)
        except av.error.FFmpegError as err:
            raise AudioDecodeError(
                f"FFmpeg failed while decoding the {codec} audio of '{path}' after "
                f"{sink.num_frames} frame(s): {err}. The file may be truncated or corrupt. "
                + _advice(path)
            ) from err
        if end is None:
            end = packet_end.value

    data = sink.finish()
    if data.shape[0] == 0:
        raise AudioDecodeError(
            f"'{path}' contains no audio samples: its {codec} audio stream decoded to 0 "
            f"samples ({sink.num_frames} frame(s)). Remove it from the file list or replace it "
            "with a non-empty recording."
        )
    if end is not None:
        data = _fit_to_duration(data, end - origin, sample_rate, sink.largest_frame, path)
    return _finalise(data, mono)


class _FrameSink:
    """Collects decoded frames: converts to float, downmixes, trims priming, resamples."""

    def __init__(self, path: str, sample_rate: int, mono: bool, origin: float):
        self.path = path
        self.sample_rate = sample_rate
        self.mono = mono
        self.origin = origin
        self.num_frames = 0
        self.largest_frame = 0  # in output samples
        self._started = False
        self._resampler: _Resampler | None = None
        self._segments: list[np.ndarray] = []

    def add(self, frame: Any) -> None:
        self.num_frames += 1
        data = _frame_to_float(frame)  # [samples, channels]
        if self.mono:
            data = data.mean(axis=1, keepdims=True, dtype=np.float32)
        if not self._started:
            data = _trim_before(data, frame, self.origin)
            if data.shape[0] == 0:
                return
            self._started = True
        rate = frame.sample_rate
        resampler = self._resampler
        if resampler is not None and data.shape[1] != resampler.channels:
            raise AudioDecodeError(
                f"The audio stream of '{self.path}' changes from {resampler.channels} to "
                f"{data.shape[1]} channels part-way; load it with mono=True, or re-encode it "
                f"with a fixed channel count (`ffmpeg -i {shlex.quote(self.path)} -vn -ac 2 "
                "out.wav`)."
            )
        if resampler is not None and rate != resampler.in_rate:
            logger.debug("%s changes sample rate to %d Hz part-way.", self.path, rate)
            self._segments.append(resampler.finish())
            resampler = None
        if resampler is None:
            resampler = self._resampler = _Resampler(rate, self.sample_rate, data.shape[1])
        resampler.push(data)
        self.largest_frame = max(
            self.largest_frame, math.ceil(data.shape[0] * self.sample_rate / rate)
        )

    def finish(self) -> np.ndarray:
        if self._resampler is not None:
            self._segments.append(self._resampler.finish())
            self._resampler = None
        if not self._segments:
            return np.zeros((0, 1), np.float32)
        return np.concatenate(self._segments, axis=0)


def _fit_to_duration(
    data: np.ndarray, duration: float, sample_rate: int, largest_frame: int, path: str
) -> np.ndarray:
    """Cuts or zero-pads `data` to `round(duration * sample_rate)` samples when close to it.

    Codec padding makes the decoded signal up to a frame longer than the declared duration
    (and a missing final packet can make it a little shorter). A larger mismatch means a
    truncated file or a wrong header: the decoded samples are then kept as they are.
    """
    expected = _round_half_up(duration * sample_rate)
    difference = expected - data.shape[0]
    if difference == 0:
        return data
    tolerance = max(2 * largest_frame, _round_half_up(_LENGTH_TOLERANCE_SECONDS * sample_rate))
    if abs(difference) > tolerance:
        logger.warning(
            "'%s' decoded to %.3f s of audio but its header declares %.3f s; keeping the "
            "decoded samples (the file may be truncated or its header wrong; re-encoding it "
            "with ffmpeg rewrites the header).",
            path,
            data.shape[0] / sample_rate,
            expected / sample_rate,
        )
        return data
    logger.debug(
        "%s: %s %d samples to match the declared duration (%d samples).",
        path,
        "padding" if difference > 0 else "trimming",
        abs(difference),
        expected,
    )
    if difference < 0:
        return data[:expected]
    return np.concatenate([data, np.zeros((difference, data.shape[1]), np.float32)], axis=0)


def _frame_to_float(frame: Any) -> np.ndarray:
    """Converts a decoded `av.AudioFrame` to float32 `[samples, channels]` in [-1, 1]."""
    fmt = frame.format
    array = frame.to_ndarray()
    if fmt.is_planar:
        array = array.T  # [channels, samples] -> [samples, channels]
    else:
        array = array.reshape(-1, frame.layout.nb_channels)  # interleaved [1, samples * channels]
    name = fmt.name.rstrip("p")
    if name == "u8":
        return ((array.astype(np.float32) - 128.0) / 128.0).astype(np.float32)
    if name in _INT_SCALE:
        return (array.astype(np.float64) / _INT_SCALE[name]).astype(np.float32)
    return np.ascontiguousarray(array, dtype=np.float32)


def _trim_before(data: np.ndarray, frame: Any, origin: float) -> np.ndarray:
    """Drops the samples of `frame` stamped before `origin` seconds (codec priming)."""
    if frame.pts is None or frame.time_base is None:
        return data
    frame_start = float(frame.pts * frame.time_base)
    skip = _round_half_up((origin - frame_start) * frame.sample_rate)
    if skip <= 0:
        return data
    return data[skip:]


# --------------------------------------------------------------------------------------------
# Resampling and output.


class _Resampler:
    """Streams float32 `[samples, channels]` chunks through libswresample.

    The output has exactly `round(total_in * out_rate / in_rate)` samples and is time-aligned
    with the input (libswresample compensates its filter delay). Each channel goes through its
    own mono resampler (FFmpeg frames cannot carry more than 8 planes). The input is extended
    with a little silence before flushing so that even very short inputs produce their full
    output.
    """

    def __init__(self, in_rate: int, out_rate: int, channels: int):
        self.in_rate = int(in_rate)
        self.out_rate = int(out_rate)
        self.channels = int(channels)
        self._total_in = 0
        self._outputs: list[list[np.ndarray]] = [[] for _ in range(self.channels)]
        self._passthrough = self.in_rate == self.out_rate
        self._time_base = fractions.Fraction(1, self.in_rate)
        self._resamplers = []
        if not self._passthrough:
            self._resamplers = [
                av.AudioResampler(format="flt", layout="mono", rate=self.out_rate)
                for _ in range(self.channels)
            ]

    def push(self, data: np.ndarray) -> None:
        if data.shape[0] == 0:
            return
        for channel in range(self.channels):
            samples = np.ascontiguousarray(data[:, channel], dtype=np.float32)
            if self._passthrough:
                self._outputs[channel].append(samples)
                continue
            frame = av.AudioFrame.from_ndarray(samples[None, :], format="flt", layout="mono")
            frame.sample_rate = self.in_rate
            frame.time_base = self._time_base
            frame.pts = self._total_in
            self._collect(channel, self._resamplers[channel].resample(frame))
        self._total_in += data.shape[0]

    def finish(self) -> np.ndarray:
        expected = (2 * self._total_in * self.out_rate + self.in_rate) // (2 * self.in_rate)
        if not self._passthrough and self._total_in:
            # Trailing silence lets the filter reach the true end even for tiny inputs; the
            # surplus it produces is cut below.
            tail = 64 * math.ceil(self.in_rate / self.out_rate) + 64
            self.push(np.zeros((tail, self.channels), np.float32))
            for channel, resampler in enumerate(self._resamplers):
                self._collect(channel, resampler.resample(None))
        columns = []
        for chunks in self._outputs:
            column = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
            column = column[:expected]
            if column.shape[0] < expected:
                column = np.pad(column, (0, expected - column.shape[0]))
            columns.append(column)
        return np.stack(columns, axis=1).astype(np.float32, copy=False)

    def _collect(self, channel: int, frames: list[Any]) -> None:
        for frame in frames:
            self._outputs[channel].append(frame.to_ndarray()[0])


def _finalise(data: np.ndarray, mono: bool) -> np.ndarray:
    data = np.ascontiguousarray(data, dtype=np.float32)
    return data[:, 0].copy() if mono else data


def _round_half_up(value: float) -> int:
    return int(math.floor(value + 0.5))
