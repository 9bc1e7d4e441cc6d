"""The PyAV (FFmpeg) decode path: containers, audio streams, priming and the streamed decode.

`pyav_blocks` decodes the first audio stream of a container frame by frame: converts each
frame to float, checks it is finite, downmixes, drops the samples stamped before the stream's
start (codec priming), resamples with libswresample and fits the length to the duration the
container declares (or, when it declares none, to where its last packet ends).
"""

from __future__ import annotations

import logging
import math
import shlex
from collections.abc import Iterator
from typing import Any

import av
import numpy as np

from kerasemo.audio._integrity import (
    LENGTH_TOLERANCE_SECONDS,
    FiniteGuard,
    LengthFitter,
    round_half_up,
)
from kerasemo.audio.errors import AudioDecodeError, decode_advice
from kerasemo.audio.resample import Resampler

logger = logging.getLogger("kerasemo.audio.decode")

# Scale factors from FFmpeg integer sample formats to [-1, 1).
_INT_SCALE = {"s16": 2.0**15, "s32": 2.0**31, "s64": 2.0**63}


def open_container(path: str, sf_error: Exception | None) -> Any:
    """Opens `path` with PyAV; an FFmpeg failure is an `AudioDecodeError` naming both readers."""
    try:
        return av.open(path, metadata_errors="replace")
    except av.error.FFmpegError as err:
        sf_part = f"soundfile/libsndfile: {sf_error}" if sf_error is not None else "soundfile: n/a"
        raise AudioDecodeError(
            f"Could not decode audio from '{path}': the data could not be decoded by soundfile "
            f"or FFmpeg ({sf_part}; FFmpeg/PyAV: {err}). " + decode_advice(path)
        ) from err


def first_audio_stream(container: Any, path: str) -> Any:
    """The container's first audio stream, or an `AudioDecodeError` listing what it holds."""
    if not container.streams.audio:
        found = ", ".join(
            f"{stream.type} ({stream.codec_context.name})" for stream in container.streams
        )
        raise AudioDecodeError(
            f"'{path}' has no audio stream (streams found: {found or 'none'}); pass a file with "
            "an audio track, e.g. the original recording rather than a video-only export."
        )
    return container.streams.audio[0]


def stream_span(stream: Any) -> tuple[float, float | None]:
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


class PacketEnd:
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


def packets_end(container: Any, stream: Any, path: str) -> float | None:
    """Where the stream's last packet ends, in seconds, by reading (not decoding) the packets."""
    packet_end = PacketEnd()
    try:
        for packet in container.demux(stream):
            packet_end.update(packet)
    except av.error.FFmpegError as err:
        raise AudioDecodeError(
            f"FFmpeg failed while reading the packets of '{path}': {err}. " + decode_advice(path)
        ) from err
    return packet_end.value


def frame_to_float(frame: Any) -> np.ndarray:
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


def trim_before(data: np.ndarray, frame: Any, origin: float) -> np.ndarray:
    """Drops the samples of `frame` stamped before `origin` seconds (codec priming)."""
    if frame.pts is None or frame.time_base is None:
        return data
    frame_start = float(frame.pts * frame.time_base)
    skip = round_half_up((origin - frame_start) * frame.sample_rate)
    if skip <= 0:
        return data
    return data[skip:]


class _FrameDecoder:
    """Turns decoded frames into output samples: float, finite, mono, trimmed, resampled."""

    def __init__(self, path: str, sample_rate: int, mono: bool, origin: float, strict: bool):
        self.path, self.sample_rate, self.mono, self.origin = path, sample_rate, mono, origin
        self.guard = FiniteGuard(path)
        self.fitter: LengthFitter | None = None
        self.resampler: Resampler | None = None
        self.started = False
        self.strict = strict
        self.seconds = 0.0  # source audio decoded (after the priming), for messages

    def add(self, frame: Any) -> np.ndarray:
        """Returns the output samples that are final after `frame` (possibly none)."""
        data = frame_to_float(frame)
        if not self.started:
            data = trim_before(data, frame, self.origin)
            if data.shape[0] == 0:
                return np.zeros((0, 1), np.float32)
            self.started = True
        rate = frame.sample_rate
        self.guard.check(data, self.seconds, rate)
        self.seconds += data.shape[0] / rate
        if self.guard.failed:  # only counting from here on
            return np.zeros((0, 1), np.float32)
        if self.mono:
            data = data.mean(axis=1, keepdims=True, dtype=np.float32)
        out = self._restart_if_changed(data, rate)
        self.fitter.widen(math.ceil(data.shape[0] * self.sample_rate / rate))
        return self.fitter.feed(np.concatenate([out, self.resampler.push(data)]))

    def _restart_if_changed(self, data: np.ndarray, rate: int) -> np.ndarray:
        resampler, channels = self.resampler, data.shape[1]
        if resampler is not None and channels != resampler.channels:
            raise AudioDecodeError(
                f"The audio stream of '{self.path}' changes from {resampler.channels} to "
                f"{channels} channels part-way; load it with mono=True, or re-encode it "
                f"with a fixed channel count (`ffmpeg -i {shlex.quote(self.path)} -vn -ac 2 "
                "out.wav`)."
            )
        flushed = np.zeros((0, channels), np.float32)
        if resampler is not None and rate != resampler.in_rate:
            logger.debug("%s changes sample rate to %d Hz part-way.", self.path, rate)
            flushed = resampler.finish()
            resampler = None
        if resampler is None:
            self.resampler = Resampler(rate, self.sample_rate, channels)
        if self.fitter is None:
            self.fitter = LengthFitter(self.path, self.sample_rate, channels, self.strict)
        return flushed

    def finish(self, expected: int | None, cause: str = "") -> np.ndarray:
        self.guard.raise_if_failed()
        if self.resampler is None:
            return np.zeros((0, 1), np.float32)
        tail = self.fitter.feed(self.resampler.finish())
        return np.concatenate([tail, self.fitter.finish(expected, cause)])


def _cut_short(decoder: _FrameDecoder, end: float | None, origin: float, frames: int) -> bool:
    """True when a decoder error came after some audio, well short of the declared end: the
    file is truncated, and what was decoded is kept (see `length_mismatch`)."""
    if end is None or frames == 0 or not decoder.started:
        return False
    return decoder.seconds < (end - origin) - LENGTH_TOLERANCE_SECONDS


def pyav_blocks(
    path: str,
    sample_rate: int,
    mono: bool,
    sf_error: Exception | None,
    block_samples: int | None,
    strict: bool,
) -> Iterator[np.ndarray]:
    """Decodes `path` with FFmpeg, yielding float32 ``[n, channels]`` blocks of at least
    `block_samples` output samples (the last may be shorter), none empty; with
    `block_samples` None, the whole stream as one block."""
    with open_container(path, sf_error) as container:
        stream = first_audio_stream(container, path)
        origin, end = stream_span(stream)
        codec = stream.codec_context.name
        logger.debug(
            "Decoding %s with FFmpeg: stream #%d (%s), origin %.4f s, declared end %s s.",
            path,
            stream.index,
            codec,
            origin,
            end,
        )
        decoder = _FrameDecoder(path, sample_rate, mono, origin, strict)
        packet_end, frames, emitted, stopped = PacketEnd(), 0, 0, None
        pending: list[np.ndarray] = []
        try:
            for packet in container.demux(stream):
                packet_end.update(packet)
                for frame in packet.decode():
                    frames += 1
                    out = decoder.add(frame)
                    if len(out):
                        pending.append(out)
                    if block_samples and sum(len(p) for p in pending) >= block_samples:
                        block = np.concatenate(pending)
                        emitted, pending = emitted + len(block), []
                        yield block
        except av.error.FFmpegError as err:
            stopped = err
        if end is None:
            end = packet_end.value
    expected = None if end is None else round_half_up((end - origin) * sample_rate)
    if stopped is not None and not _cut_short(decoder, end, origin, frames):
        raise AudioDecodeError(
            f"FFmpeg failed while decoding the {codec} audio of '{path}' after {frames} "
            f"frame(s): {stopped}. The file may be truncated or corrupt. " + decode_advice(path)
        ) from stopped
    cause = "" if stopped is None else f"FFmpeg stopped decoding: {stopped}"
    pending.append(decoder.finish(expected, cause))
    pending = [p for p in pending if len(p)]
    block = np.concatenate(pending) if pending else np.zeros((0, 1), np.float32)
    if emitted + len(block) == 0:
        raise AudioDecodeError(
            f"'{path}' contains no audio samples: its {codec} audio stream decoded to 0 "
            f"samples ({frames} frame(s)). Remove it from the file list or replace it with a "
            "non-empty recording."
        )
    if len(block):
        yield block
