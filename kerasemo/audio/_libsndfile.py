"""The soundfile (libsndfile) decode path: WAV, FLAC, OGG, MP3 and the rest libsndfile reads.

`open_soundfile` opens a file and reads its first block, so that a file libsndfile cannot
read is handed to FFmpeg before anything was yielded; `soundfile_blocks` then streams it. The
header's length is checked against what was decoded: libsndfile silently shortens a WAV whose
data chunk runs past the end of the file (it reports the frames present), so the WAV header is
read directly (`declared_wav_frames`); for FLAC and the rest, the frames libsndfile reports
come from the header.
"""

from __future__ import annotations

import dataclasses
import logging
import struct
from collections.abc import Iterator
from typing import Any

import numpy as np
import soundfile

from kerasemo.audio._integrity import FiniteGuard, length_mismatch, tolerance_samples
from kerasemo.audio.errors import AudioDecodeError, decode_advice
from kerasemo.audio.resample import Resampler

logger = logging.getLogger("kerasemo.audio.decode")

# Frames per libsndfile read, whatever block size the caller wants: a read that fails returns
# nothing, so reading in the same steps makes a damaged file decode to the same samples
# whether it is streamed or loaded whole.
READ_FRAMES = 8192

# Data-chunk sizes that mean "unknown" (a WAV written to a pipe before its length was known).
_UNKNOWN_WAV_SIZES = (0, 0xFFFFFFFF)


def declared_wav_frames(path: str) -> int | None:
    """Frames a RIFF/WAVE header declares (data chunk bytes / block align), or None.

    None for files that are not little-endian RIFF WAVE, that declare no usable size, or whose
    header cannot be read.

    Example:

    >>> declared_wav_frames("clip.wav")  # doctest: +SKIP
    48000
    """
    try:
        with open(path, "rb") as handle:
            riff = handle.read(12)
            if len(riff) < 12 or riff[:4] != b"RIFF" or riff[8:12] != b"WAVE":
                return None
            block_align = None
            while True:
                header = handle.read(8)
                if len(header) < 8:
                    return None
                chunk, size = header[:4], struct.unpack("<I", header[4:])[0]
                if chunk == b"data":
                    if block_align is None or size in _UNKNOWN_WAV_SIZES:
                        return None
                    return size // block_align
                body = handle.read(min(size, 64)) if chunk == b"fmt " else b""
                if chunk == b"fmt " and len(body) >= 14:
                    block_align = struct.unpack("<H", body[12:14])[0] or None
                handle.seek(size + (size & 1) - len(body), 1)  # chunks are word-aligned
    except OSError:
        return None


@dataclasses.dataclass
class SoundfileReader:
    """An open `soundfile.SoundFile` and its first block (see `open_soundfile`)."""

    sound: Any
    first: np.ndarray
    block_frames: int


def open_soundfile(
    path: str, *, block_frames: int | None = None, block_seconds: float | None = None
) -> tuple[SoundfileReader | None, Exception | None]:
    """Opens `path` and reads its first block; (None, error) when libsndfile cannot read it.

    Blocks hold `block_frames` frames, or `block_seconds` of audio at the file's rate.
    """
    try:
        sound = soundfile.SoundFile(path)
    except (soundfile.SoundFileError, RuntimeError) as err:
        logger.debug("soundfile cannot read %s (%s); trying FFmpeg.", path, err)
        return None, err
    if block_frames is None:
        block_frames = max(int(block_seconds * sound.samplerate), 1)
    try:
        first = sound.read(READ_FRAMES, dtype="float32", always_2d=True)
    except (soundfile.SoundFileError, RuntimeError) as err:
        sound.close()
        logger.debug("soundfile cannot decode %s (%s); trying FFmpeg.", path, err)
        return None, err
    return SoundfileReader(sound, first, block_frames), None


def soundfile_blocks(
    path: str, reader: SoundfileReader, sample_rate: int, mono: bool, strict: bool
) -> Iterator[np.ndarray]:
    """Streams an opened file as float32 ``[n, channels]`` blocks at `sample_rate`."""
    sound = reader.sound
    with sound:
        rate, channels = sound.samplerate, sound.channels
        declared = sound.frames
        if sound.format in ("WAV", "WAVEX"):
            declared = declared_wav_frames(path) or declared
        logger.debug(
            "Reading %s with soundfile: %d Hz, %d channel(s), %d frames declared.",
            path,
            rate,
            channels,
            declared,
        )
        guard = FiniteGuard(path)
        resampler = Resampler(rate, sample_rate, 1 if mono else channels)
        position, chunk, stopped = 0, reader.first, None
        pending: list[np.ndarray] = []
        pending_frames = 0
        while chunk.shape[0]:
            guard.check(chunk, position / rate, rate)
            position += chunk.shape[0]
            if not guard.failed:
                if mono:
                    chunk = chunk.mean(axis=1, keepdims=True, dtype=np.float32)
                pending.append(resampler.push(chunk))
                pending_frames += chunk.shape[0]
            if pending_frames >= reader.block_frames:
                yield np.concatenate(pending)
                pending, pending_frames = [], 0
            try:
                chunk = sound.read(READ_FRAMES, dtype="float32", always_2d=True)
            except (soundfile.SoundFileError, RuntimeError) as err:
                stopped = err
                break
    guard.raise_if_failed()
    if position == 0:
        raise AudioDecodeError(
            f"'{path}' contains no audio samples (0 frames at {rate} Hz, {channels} "
            "channel(s)). Remove it from the file list or replace it with a non-empty recording."
        )
    _check_length(path, position, declared, rate, stopped, strict)
    last = np.concatenate(pending + [resampler.finish()])
    if len(last):
        yield last


def _check_length(
    path: str, decoded: int, declared: int, rate: int, stopped: Exception | None, strict: bool
) -> None:
    cause = f"libsndfile stopped reading: {stopped}" if stopped is not None else ""
    if declared > 0 and abs(declared - decoded) > tolerance_samples(rate):
        length_mismatch(path, decoded / rate, declared / rate, strict, cause)
    elif stopped is not None:
        raise AudioDecodeError(
            f"libsndfile failed while reading '{path}' after {decoded / rate:.2f} s: {stopped}. "
            + decode_advice(path)
        ) from stopped
