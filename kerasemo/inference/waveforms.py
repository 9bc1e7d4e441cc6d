"""The rules at the door for in-memory waveforms: dtype, channels, rate, finiteness, length.

`prepare_waveform` turns what a caller passes into float32 mono at 16 kHz, or says clearly why it
cannot; `check_length` refuses clips too short to score; `pad_batch` stacks clips of different
lengths into one model input with their lengths. Files are decoded by
`kerasemo.audio.load_audio` / `stream_audio`, which apply the same rules.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from kerasemo.audio.decode import check_sample_rate
from kerasemo.audio.reference import SAMPLE_RATE
from kerasemo.audio.resample import resample
from kerasemo.export.contract import MIN_SAMPLES, padded_batch

logger = logging.getLogger("kerasemo.inference")

MIN_CLIP_SECONDS = 0.1
"""Shortest input accepted; shorter is refused (too little speech to score)."""
MIN_CLIP_SAMPLES = int(round(MIN_CLIP_SECONDS * SAMPLE_RATE))
MAX_CHANNELS = 8
"""Most channels a 2-D waveform may have (the shorter axis is taken as channels)."""


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
    sample_rate = check_sample_rate(sample_rate)
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
        array = resample(array, sample_rate, SAMPLE_RATE)
    return np.ascontiguousarray(array, dtype=np.float32)


def check_length(num_samples: int, what: str) -> None:
    """Raises ValueError for no samples, or fewer than `MIN_CLIP_SAMPLES`; `what` names them."""
    if num_samples == 0:
        raise ValueError(f"{what} is empty: no audio samples to score.")
    if num_samples < MIN_CLIP_SAMPLES:
        raise ValueError(
            f"{what} is too short: {num_samples} samples ({num_samples / SAMPLE_RATE:.3f} s) at "
            f"16 kHz; at least {MIN_CLIP_SECONDS} s ({MIN_CLIP_SAMPLES} samples) is needed."
        )


def pad_batch(
    clips: Sequence[np.ndarray], width: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Stacks clips of any lengths into one zero-padded batch, with the length each one counts as.

    A clip counts as its own samples, or as `MIN_SAMPLES` (the student's shortest input) when it
    is shorter: such a clip is scored zero-padded to the student's minimum, on every route.

    Args:
        clips: float32 ``[samples]`` waveforms.
        width: the batch's number of samples (a fixed-window model's window); None: the longest
            length.

    Returns:
        ``(waveforms, lengths)``: float32 ``[n, width]`` and int32 ``[n]``.

    Raises:
        ValueError: if `clips` is empty or a clip is longer than `width`.

    Example:

    >>> waveforms, lengths = pad_batch([np.ones(20000, "float32"), np.ones(3000, "float32")])
    >>> waveforms.shape, lengths.tolist()
    ((2, 20000), [20000, 10320])
    """
    if width is None and clips:  # at least the minimum wide, as the graph pads short clips
        width = max(MIN_SAMPLES, max(clip.shape[0] for clip in clips))
    waveforms, lengths = padded_batch(clips, width)
    return waveforms, np.maximum(lengths, MIN_SAMPLES).astype(np.int32)
