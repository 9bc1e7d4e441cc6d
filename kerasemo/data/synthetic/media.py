"""Encoders for the corpus's media files: WAV, JPEG, MP4 (H.264 + AAC) and AVI (MJPEG + PCM).

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


def _add_video_stream(container, codec: str, fps: int, width: int, height: int, pix_fmt: str, options):
    stream = container.add_stream(codec, rate=fps, options=options)
    stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
    stream.codec_context.thread_count = 1
    return stream


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


def write_mp4(
    path: PathLike,
    frames: np.ndarray,
    audio: np.ndarray,
    *,
    fps: int = 25,
    sample_rate: int = 16000,
    crf: int = 30,
) -> None:
    """Writes an MP4 with an H.264 (yuv420p) video stream and an AAC mono audio stream.

    Args:
        path: output file.
        frames: ``[T, H, W]`` uint8 grey frames (H and W even).
        audio: float waveform in [-1, 1] at `sample_rate`.
        fps: frame rate.
        sample_rate: audio rate in Hz.
        crf: x264 constant rate factor (higher = smaller, blurrier).

    Raises:
        ValueError: for odd frame sizes (4:2:0 chroma needs even sides).
    """
    frames = np.asarray(frames, np.uint8)
    height, width = frames.shape[1:3]
    if height % 2 or width % 2:
        raise ValueError(f"write_mp4 needs even frame sides for yuv420p; received {width}x{height}.")
    with av.open(str(_prepare(path)), mode="w", format="mp4") as container:
        video = _add_video_stream(
            container, "libx264", fps, width, height, "yuv420p",
            {"crf": str(crf), "preset": "veryfast", "threads": "1"},
        )
        sound = container.add_stream("aac", rate=sample_rate, layout="mono")
        sound.codec_context.thread_count = 1
        _encode_video(container, video, frames)
        _encode_audio(container, sound, audio, sample_rate, chunk=1024)


def write_avi(
    path: PathLike,
    frames: np.ndarray,
    audio: np.ndarray,
    *,
    fps: int = 25,
    sample_rate: int = 22050,
    quality: int = 4,
) -> None:
    """Writes an AVI with an MJPEG video stream and a 16-bit PCM mono audio stream (RML-like).

    Args:
        path: output file.
        frames: ``[T, H, W]`` uint8 grey frames (H and W even).
        audio: float waveform in [-1, 1] at `sample_rate`.
        fps: frame rate.
        sample_rate: audio rate in Hz (RML: 22,050).
        quality: MJPEG quantiser scale (2 best .. 31 worst).
    """
    frames = np.asarray(frames, np.uint8)
    height, width = frames.shape[1:3]
    with av.open(str(_prepare(path)), mode="w", format="avi") as container:
        video = _add_video_stream(container, "mjpeg", fps, width, height, "yuvj420p", {})
        video.codec_context.qmin = video.codec_context.qmax = int(quality)
        sound = container.add_stream("pcm_s16le", rate=sample_rate, layout="mono")
        _encode_video(container, video, frames)
        _encode_audio(container, sound, audio, sample_rate, chunk=2048)
