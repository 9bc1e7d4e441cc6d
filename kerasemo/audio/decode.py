"""Decoding any audio or audio-visual file to float32 samples (16 kHz mono by default).

One decoder, two ways to take its output: `stream_audio` yields the samples block by block
(memory stays bounded for hour-long files) and `load_audio` returns them as one array; both give
exactly the same samples. Two back-ends, tried in this order:

1. **soundfile** (libsndfile) for files it can open: WAV, FLAC, OGG, MP3 and the other formats
   libsndfile reads. Integer PCM is mapped to [-1, 1) (int16 / 32768).
2. **PyAV** (FFmpeg) for everything else: AAC in `.m4a`/`.mp4`, audio tracks of videos (`.mp4`,
   `.avi`, `.mkv`, ...). The first audio stream is decoded; video streams are ignored.

Channels are averaged to mono (unless `mono=False`) and the signal is resampled with FFmpeg's
libswresample (`kerasemo.audio.resample.Resampler`, a windowed-sinc polyphase filter with no
delay: the output is time-aligned with the input). The output of an `N`-sample input at rate `r`
has exactly `round(N * sample_rate / r)` samples.

Encoder priming and padding (AAC adds about 1024 silent samples at the start and pads the last
frame) are removed: samples stamped before the audio stream's start time (negative timestamps)
are dropped and the result is cut, or zero-padded by at most a frame, to the duration the container
declares for the audio stream, `round(duration_seconds * sample_rate)` samples. Sample 0 of the
output is the start of the audio stream. Formats that carry no timing metadata cannot be
corrected this way: a raw ADTS `.aac` stream keeps the encoder's priming (FFmpeg's own `ffmpeg -i
x.aac out.wav` does the same); prefer AAC in `.m4a`/`.mp4`, which records it.

Guarantees on every path:

- **Finite samples**: a file holding NaN or Inf samples is an `AudioDecodeError` naming the file,
  the count of non-finite sample values and where the first one is (nothing is clipped or
  averaged away first). Finite samples outside [-1, 1] are clipped to it.
- **Integrity**: a file whose decoded audio is shorter (or longer) than its header declares by
  more than 0.05 s (or two codec frames), such as a truncated WAV or FLAC, is decoded as far as
  it goes with a logged warning giving both durations; with `strict=True` it is an
  `AudioDecodeError` instead. libsndfile reports the frames a truncated WAV still holds, so the
  WAV header is read directly for the declared length.

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

import logging
import numbers
import os
from collections.abc import Iterator
from typing import Any, Union

import numpy as np
import soundfile

from kerasemo.audio import _pyav
from kerasemo.audio._libsndfile import open_soundfile, soundfile_blocks
from kerasemo.audio.errors import AudioDecodeError
from kerasemo.audio.reference import SAMPLE_RATE
from kerasemo.checks import check_bool, check_positive_number

logger = logging.getLogger(__name__)

PathLike = Union[str, "os.PathLike[str]"]

DEFAULT_SAMPLE_RATE = SAMPLE_RATE
DEFAULT_BLOCK_SECONDS = 1.0
"""Seconds of audio per block that `stream_audio` yields (about; the last block is shorter)."""
AUDIO_EXTENSIONS = frozenset({".wav", ".flac", ".ogg", ".mp3", ".m4a", ".aac"})
"""Suffixes (lower case) of the audio-only files this decoder reads."""
VIDEO_EXTENSIONS = frozenset({".avi", ".mp4", ".mkv", ".mov", ".mpg", ".mpeg", ".webm", ".flv"})
"""Suffixes (lower case) of the audio-visual containers whose first audio stream it decodes."""
MEDIA_EXTENSIONS = AUDIO_EXTENSIONS | VIDEO_EXTENSIONS
"""Every suffix it decodes (`AUDIO_EXTENSIONS` and `VIDEO_EXTENSIONS`): what folder scans take."""

# Source frames per block when `load_audio` reads a whole file.
_LOAD_BLOCK_FRAMES = 1 << 16

__all__ = [
    "AUDIO_EXTENSIONS",
    "AudioDecodeError",
    "DEFAULT_BLOCK_SECONDS",
    "DEFAULT_SAMPLE_RATE",
    "MEDIA_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "audio_duration",
    "check_sample_rate",
    "load_audio",
    "stream_audio",
]


def stream_audio(
    path: PathLike,
    *,
    sample_rate: int = DEFAULT_SAMPLE_RATE,
    block_seconds: float = DEFAULT_BLOCK_SECONDS,
    mono: bool = True,
    strict: bool = False,
) -> Iterator[np.ndarray]:
    """Decodes a file block by block to float32 samples, holding about one block at a time.

    The samples are those of ``load_audio(path, sample_rate, mono=mono, strict=strict)``,
    produced in blocks of about `block_seconds` without ever holding the whole file. The path
    is checked when the first block is asked for.

    Args:
        path: an audio or video file, `str` or `os.PathLike`.
        sample_rate: the output rate in Hz, a positive integer. Defaults to 16000.
        block_seconds: the size of the blocks read from the file, in seconds (> 0).
        mono: average the channels (default); if False, blocks are ``[n, channels]``.
        strict: raise `AudioDecodeError` when the decoded length differs from the header's
            (a truncated file) instead of logging a warning.

    Yields:
        Consecutive non-empty float32 arrays in [-1, 1]: ``[n]`` if `mono`, else
        ``[n, channels]``.

    Raises:
        ValueError: for a bad `sample_rate`, `block_seconds`, `mono` or `strict`.
        FileNotFoundError, IsADirectoryError: for a bad path.
        AudioDecodeError: for a file that cannot be decoded, has no audio stream, holds no
            samples or NaN/Inf samples, or (with `strict`) is shorter than its header says.

    Example:

    >>> total = sum(len(block) for block in stream_audio("talk.m4a"))  # doctest: +SKIP
    """
    sample_rate = check_sample_rate(sample_rate)
    check_positive_number(block_seconds, "block_seconds")
    check_bool(mono, "mono")
    check_bool(strict, "strict")
    return _decode(path, sample_rate, mono, strict, block_seconds=block_seconds)


def load_audio(
    path: PathLike,
    sample_rate: int = DEFAULT_SAMPLE_RATE,
    *,
    mono: bool = True,
    strict: bool = False,
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
        strict: if True, a decoded length that differs from the header's (a truncated file)
            raises `AudioDecodeError`; by default it is logged as a warning and the decoded
            samples are returned.

    Returns:
        A float32 NumPy array with values in [-1, 1]: `[num_samples]` if `mono`, else
        `[num_samples, num_channels]`.

    Raises:
        ValueError: if `sample_rate` is not a positive integer.
        FileNotFoundError: if `path` does not exist.
        IsADirectoryError: if `path` is a directory.
        AudioDecodeError: if the file has no audio stream, holds zero samples or NaN/Inf
            samples, cannot be decoded by soundfile nor by FFmpeg, or (with `strict`) is
            shorter or longer than its header says.

    Example:

    >>> waveform = load_audio("clip.mp4")  # doctest: +SKIP
    >>> waveform.shape, waveform.dtype  # doctest: +SKIP
    ((16000,), dtype('float32'))
    >>> stereo = load_audio("music.flac", 44100, mono=False)  # doctest: +SKIP
    >>> stereo.shape  # doctest: +SKIP
    (441000, 2)
    """
    sample_rate = check_sample_rate(sample_rate)
    check_bool(mono, "mono")
    check_bool(strict, "strict")
    blocks = list(_decode(path, sample_rate, mono, strict, block_frames=_LOAD_BLOCK_FRAMES))
    return blocks[0] if len(blocks) == 1 else np.concatenate(blocks)


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

    with _pyav.open_container(path, sf_error) as container:
        stream = _pyav.first_audio_stream(container, path)
        origin, end = _pyav.stream_span(stream)
        rate = stream.sample_rate or stream.codec_context.sample_rate
        if end is None:
            end = _pyav.packets_end(container, stream, path)
    if end is not None:
        return max(end - origin, 0.0)
    logger.debug("%s declares no audio duration; decoding it to count the samples.", path)
    rate = rate or DEFAULT_SAMPLE_RATE
    return load_audio(path, rate).shape[0] / float(rate)


def check_sample_rate(sample_rate: Any) -> int:
    """Returns `sample_rate` as an int if it is a positive integer, else raises ValueError.

    Example:

    >>> check_sample_rate(16000)
    16000
    >>> check_sample_rate(16000.0)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: `sample_rate` must be a positive integer ...; received sample_rate=16000.0.
    """
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


# --------------------------------------------------------------------------------------------
# The one decoder behind both entry points.


def _decode(
    path: PathLike,
    sample_rate: int,
    mono: bool,
    strict: bool,
    *,
    block_seconds: float | None = None,
    block_frames: int | None = None,
) -> Iterator[np.ndarray]:
    """Yields clipped float32 blocks (``[n]`` if `mono`, else ``[n, channels]``) of `path`.

    Blocks hold `block_frames` source frames, or about `block_seconds` of audio; with
    `block_seconds` None the FFmpeg path yields the whole file as one block.
    """
    path = _check_path(path)
    reader, sf_error = open_soundfile(path, block_frames=block_frames, block_seconds=block_seconds)
    if reader is not None:
        blocks = soundfile_blocks(path, reader, sample_rate, mono, strict)
    else:
        block_samples = None if block_seconds is None else max(int(block_seconds * sample_rate), 1)
        blocks = _pyav.pyav_blocks(path, sample_rate, mono, sf_error, block_samples, strict)
    for block in blocks:
        yield _clipped(block[:, 0] if mono else block, path)


def _clipped(block: np.ndarray, path: str) -> np.ndarray:
    block = np.ascontiguousarray(block, dtype=np.float32)
    peak = float(np.max(np.abs(block))) if block.size else 0.0
    if peak > 1.0:
        logger.debug("Clipping %s to [-1, 1] (peak %.4f).", path, peak)
        np.clip(block, -1.0, 1.0, out=block)
    return block


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
