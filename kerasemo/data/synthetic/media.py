"""Encoders for the corpus's media files: WAV, JPEG, and MP4 (H.264 + AAC) or AVI (MJPEG + PCM) video.

Each function writes one file from NumPy arrays and creates the parent folder. The encoders
are deterministic for a given input on a given FFmpeg / libjpeg build: WAV bytes depend only on
the samples; JPEG (Pillow) and MJPEG/H.264/AAC (PyAV's bundled FFmpeg, single-threaded here)
depend on the samples and the library versions.

Example:

>>> import numpy as np, tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> write_wav(folder / "a.wav", np.zeros(1600, np.float32), 16000)
>>> (folder / "a.wav").stat().st_size
3244
"""

from __future__ import annotations

import dataclasses
import fractions
import os
import pathlib

import av
import numpy as np
import soundfile
from PIL import Image

PathLike = str | os.PathLike


def _prepare(path: PathLike) -> pathlib.Path:
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _int16(samples: np.ndarray) -> np.ndarray:
    samples = np.asarray(samples, np.float32)
    return np.clip(np.round(samples * 32767.0), -32768, 32767).astype(np.int16)


def write_wav(path: PathLike, samples: np.ndarray, sample_rate: int) -> None:
    """Writes mono 16-bit PCM WAV.

    Args:
        path: output file.
        samples: float waveform in [-1, 1] (clipped).
        sample_rate: Hz.
    """
    soundfile.write(_prepare(path), _int16(samples), int(sample_rate), subtype="PCM_16", format="WAV")


def write_jpeg(path: PathLike, grey: np.ndarray, quality: int = 90) -> None:
    """Writes a grey image as an RGB JPEG (three equal channels, like a colour face crop).

    Args:
        path: output file.
        grey: ``[H, W]`` uint8.
        quality: JPEG quality (1-95).
    """
    Image.fromarray(np.asarray(grey, np.uint8), mode="L").convert("RGB").save(
        _prepare(path), format="JPEG", quality=int(quality)
    )


def _encode_video(container, stream, frames: np.ndarray) -> None:
    for index, grey in enumerate(frames):
        rgb = np.repeat(np.asarray(grey, np.uint8)[:, :, None], 3, axis=2)
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        frame.pts = index
        frame.time_base = fractions.Fraction(1, int(round(float(stream.average_rate))))
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)


def _encode_audio(container, stream, samples: np.ndarray, sample_rate: int, chunk: int) -> None:
    data = _int16(samples)
    for start in range(0, data.shape[0], chunk):
        block = data[start : start + chunk]
        frame = av.AudioFrame.from_ndarray(block[None, :], format="s16", layout="mono")
        frame.sample_rate = sample_rate
        frame.pts = start
        frame.time_base = fractions.Fraction(1, sample_rate)
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)


@dataclasses.dataclass(frozen=True)
class VideoFormat:
    """A container with one grey video stream and one mono audio stream (`write_video`).

    Args:
        container: the FFmpeg muxer (``"mp4"``, ``"avi"``).
        video_codec: the FFmpeg video encoder.
        pix_fmt: its pixel format (4:2:0: frame sides must be even).
        video_options: fixed encoder options.
        quality_setting: what `write_video`'s ``quality`` sets: ``"crf"`` (x264 constant rate
            factor, higher = smaller, blurrier) or ``"qscale"`` (MJPEG quantiser, 2 best .. 31
            worst).
        quality: the default ``quality``.
        audio_codec: the FFmpeg audio encoder.
        audio_chunk: samples per encoded audio frame.

    Example:

    >>> MP4.container, AVI.audio_codec
    ('mp4', 'pcm_s16le')
    """

    container: str
    video_codec: str
    pix_fmt: str
    video_options: tuple[tuple[str, str], ...]
    quality_setting: str
    quality: int
    audio_codec: str
    audio_chunk: int


MP4 = VideoFormat(
    "mp4", "libx264", "yuv420p", (("preset", "veryfast"), ("threads", "1")), "crf", 30, "aac", 1024
)
"""H.264 (yuv420p) video and AAC audio in MP4, as VoxCeleb's videos."""
AVI = VideoFormat("avi", "mjpeg", "yuvj420p", (), "qscale", 4, "pcm_s16le", 2048)
"""MJPEG video and 16-bit PCM audio in AVI, as RML's clips."""


def _video_stream(container, video_format: VideoFormat, fps: int, width: int, height: int, quality: int):
    options = dict(video_format.video_options)
    if video_format.quality_setting == "crf":
        options["crf"] = str(quality)
    stream = container.add_stream(video_format.video_codec, rate=fps, options=options)
    stream.width, stream.height, stream.pix_fmt = width, height, video_format.pix_fmt
    stream.codec_context.thread_count = 1
    if video_format.quality_setting == "qscale":
        stream.codec_context.qmin = stream.codec_context.qmax = int(quality)
    return stream


def write_video(
    path: PathLike,
    frames: np.ndarray,
    audio: np.ndarray,
    video_format: VideoFormat,
    *,
    fps: int = 25,
    sample_rate: int = 16000,
    quality: int | None = None,
) -> None:
    """Writes a video file with a grey video stream and a mono audio stream.

    Args:
        path: output file.
        frames: ``[T, H, W]`` uint8 grey frames (H and W even).
        audio: float waveform in [-1, 1] at `sample_rate`.
        video_format: `MP4` (H.264 + AAC) or `AVI` (MJPEG + 16-bit PCM).
        fps: frame rate.
        sample_rate: audio rate in Hz.
        quality: the format's quantiser setting (`VideoFormat.quality_setting`); None: its
            default.

    Raises:
        ValueError: for odd frame sizes (4:2:0 chroma needs even sides).

    Example:

    >>> import numpy as np, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "clip.avi"
    >>> write_video(path, np.zeros((5, 16, 16), np.uint8), np.zeros(4410, np.float32), AVI,
    ...             sample_rate=22050)
    >>> path.stat().st_size > 0
    True
    """
    frames = np.asarray(frames, np.uint8)
    height, width = frames.shape[1:3]
    if height % 2 or width % 2:
        raise ValueError(
            f"write_video needs even frame sides for {video_format.pix_fmt}; received {width}x{height}."
        )
    quality = video_format.quality if quality is None else quality
    with av.open(str(_prepare(path)), mode="w", format=video_format.container) as container:
        video = _video_stream(container, video_format, fps, width, height, quality)
        sound = container.add_stream(video_format.audio_codec, rate=sample_rate, layout="mono")
        sound.codec_context.thread_count = 1
        _encode_video(container, video, frames)
        _encode_audio(container, sound, audio, sample_rate, chunk=video_format.audio_chunk)
