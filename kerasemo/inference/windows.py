"""Fixed windows over a stream of samples: the timeline's defaults, their checks, and the cutter.

Windows are ``window`` samples long every ``hop`` samples, starting at 0; the last window, which
reaches past the end of the audio, is zero-padded to ``window`` samples and says how many of
them are audio (the recogniser scores it on those, with its length). The default window is the
model's own (`kerasemo.export.model_window`); `DEFAULT_WINDOW_SECONDS` is the paper's crop,
used only when the model does not say.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

import numpy as np

from kerasemo.audio.reference import SAMPLE_RATE
from kerasemo.checks import check_positive_number
from kerasemo.export.contract import MIN_SAMPLES, WINDOW_SAMPLES
from kerasemo.inference.waveforms import check_length

logger = logging.getLogger("kerasemo.inference")

DEFAULT_WINDOW_SECONDS = WINDOW_SAMPLES / SAMPLE_RATE
"""The paper's 4.024 s crop (64,384 samples, 400 frames): the timeline window of a model that
does not record its own."""
DEFAULT_HOP_SECONDS = 2.0
"""Timeline hop: 2 s (32,000 samples, 200 frames), so consecutive 4 s windows overlap by half."""


def window_and_hop_samples(
    window: float, hop: float, fixed_window: int | None = None, model_format: str = ""
) -> tuple[int, int]:
    """Checks a window and hop in seconds and returns them in samples.

    Args:
        window: the window length in seconds (at least the student's 0.645 s).
        hop: seconds between window starts (at least one sample).
        fixed_window: the only window a fixed-length model accepts, in samples, or None.
        model_format: the model's format, for the message about `fixed_window`.

    Returns:
        ``(window_samples, hop_samples)``.

    Raises:
        ValueError: naming the argument and the value received.

    Example:

    >>> window_and_hop_samples(4.024, 2.0)
    (64384, 32000)
    """
    for name, value in (("window", window), ("hop", hop)):
        try:
            check_positive_number(value, name)
        except ValueError:
            raise ValueError(
                f"`{name}` must be a positive number of seconds; received {value!r}."
            ) from None
    window_samples = int(round(window * SAMPLE_RATE))
    hop_samples = int(round(hop * SAMPLE_RATE))
    if window_samples < MIN_SAMPLES:
        raise ValueError(
            f"`window` must be at least {MIN_SAMPLES / SAMPLE_RATE:.3f} s (the student's "
            f"shortest input, {MIN_SAMPLES} samples); received {window} s."
        )
    if hop_samples < 1:
        raise ValueError(f"`hop` must be at least one sample (1/16000 s); received {hop} s.")
    if fixed_window is not None and window_samples != fixed_window:
        raise ValueError(
            f"This {model_format} model takes windows of exactly {fixed_window} samples "
            f"({fixed_window / SAMPLE_RATE:.3f} s); received window={window} s. Use the "
            "default window, or the SavedModel/.keras model for other lengths."
        )
    if hop_samples > window_samples:
        logger.warning(
            "hop (%.3f s) is longer than the window (%.3f s): audio between windows is skipped.",
            hop,
            window,
        )
    return window_samples, hop_samples


def array_blocks(waveform: np.ndarray, block: int = SAMPLE_RATE) -> Iterator[np.ndarray]:
    """Yields `waveform` in consecutive blocks of `block` samples (as a file is streamed)."""
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
        check_length(total, "The audio")
    if last_end < total and start < total:
        partial = buffer[start - buffer_start :]
        yield start, np.pad(partial, (0, window - partial.shape[0])), partial.shape[0]
