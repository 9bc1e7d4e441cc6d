"""Streaming sample-rate conversion with FFmpeg's libswresample (`av.AudioResampler`).

libswresample's windowed-sinc polyphase filter compensates its own delay, so the output is
time-aligned with the input. `Resampler` streams float32 ``[samples, channels]`` chunks through
it with bounded memory, and the whole output of an ``N``-sample input at rate ``r`` has exactly
``round(N * out_rate / r)`` samples, however the input was chunked. `resample` converts a whole
array at once. Both `kerasemo.audio.load_audio` and the streaming decoder use them.

Example:

>>> import numpy as np
>>> resample(np.zeros(44100, "float32"), 44100, 16000).shape
(16000,)
"""

from __future__ import annotations

import fractions
import math

import av
import numpy as np

from kerasemo.checks import check_positive_int

# Samples per chunk when `resample` pushes one large array through the filter.
ARRAY_BLOCK = 1 << 16


def rounded_length(num_samples: int, in_rate: int, out_rate: int) -> int:
    """``round(num_samples * out_rate / in_rate)``, halves rounded up, in exact integers.

    Example:

    >>> rounded_length(5, 22050, 16000)
    4
    """
    return (2 * num_samples * out_rate + in_rate) // (2 * in_rate)


class Resampler:
    """Converts float32 ``[samples, channels]`` chunks from `in_rate` to `out_rate`.

    `push` returns the output that is final so far; `finish` flushes the filter and returns the
    rest. Over a whole stream the output has exactly ``round(total_in * out_rate / in_rate)``
    samples: output the filter produces beyond that count for the input seen so far is held
    back until more input arrives, and the last chunk is cut, or zero-padded, to the count. Each
    channel goes through its own mono resampler (FFmpeg frames carry at most 8 planes). Equal
    rates pass the samples through unchanged.

    Args:
        in_rate: the input rate in Hz, a positive integer.
        out_rate: the output rate in Hz, a positive integer.
        channels: the number of channels of every chunk (default 1).

    Example:

    >>> import numpy as np
    >>> resampler = Resampler(48000, 16000)
    >>> parts = [resampler.push(np.zeros((4800, 1), "float32")) for _ in range(10)]
    >>> sum(len(p) for p in parts) + len(resampler.finish())
    16000
    """

    def __init__(self, in_rate: int, out_rate: int, channels: int = 1):
        self.in_rate = check_positive_int(in_rate, "in_rate")
        self.out_rate = check_positive_int(out_rate, "out_rate")
        self.channels = check_positive_int(channels, "channels")
        self._passthrough = self.in_rate == self.out_rate
        self._time_base = fractions.Fraction(1, self.in_rate)
        self._pushed = 0  # input samples fed to the filter, the flushing silence included
        self._total_in = 0  # input samples of the signal
        self._emitted = 0
        self._held = [np.zeros(0, np.float32) for _ in range(self.channels)]
        self._filters = []
        if not self._passthrough:
            self._filters = [
                av.AudioResampler(format="flt", layout="mono", rate=self.out_rate)
                for _ in range(self.channels)
            ]

    def push(self, data: np.ndarray) -> np.ndarray:
        """Feeds ``[n, channels]`` input samples; returns the ``[m, channels]`` output ready."""
        data = np.asarray(data, np.float32)
        if data.ndim != 2 or data.shape[1] != self.channels:
            raise ValueError(
                f"Resampler was built for {self.channels} channel(s) and takes [samples, "
                f"{self.channels}] chunks; received shape {data.shape}."
            )
        if data.shape[0] == 0:
            return np.zeros((0, self.channels), np.float32)
        self._total_in += data.shape[0]
        if self._passthrough:
            self._emitted += data.shape[0]
            return np.ascontiguousarray(data)
        self._filter(data)
        return self._release(rounded_length(self._total_in, self.in_rate, self.out_rate))

    def finish(self) -> np.ndarray:
        """Flushes the filter; returns the last ``[k, channels]`` samples of the exact total."""
        expected = rounded_length(self._total_in, self.in_rate, self.out_rate)
        if not self._passthrough and self._total_in:
            # Trailing silence lets the filter reach the true end even for tiny inputs; the
            # surplus it produces is cut below.
            tail = 64 * math.ceil(self.in_rate / self.out_rate) + 64
            self._filter(np.zeros((tail, self.channels), np.float32))
            for channel, resampler in enumerate(self._filters):
                self._collect(channel, resampler.resample(None))
        last = self._release(expected)
        missing = expected - self._emitted
        if missing > 0:
            last = np.concatenate([last, np.zeros((missing, self.channels), np.float32)])
            self._emitted = expected
        self._held = [np.zeros(0, np.float32) for _ in range(self.channels)]
        return last

    def _filter(self, data: np.ndarray) -> None:
        for channel, resampler in enumerate(self._filters):
            samples = np.ascontiguousarray(data[:, channel], dtype=np.float32)
            frame = av.AudioFrame.from_ndarray(samples[None, :], format="flt", layout="mono")
            frame.sample_rate = self.in_rate
            frame.time_base = self._time_base
            frame.pts = self._pushed
            self._collect(channel, resampler.resample(frame))
        self._pushed += data.shape[0]

    def _collect(self, channel: int, frames) -> None:
        parts = [self._held[channel]] + [frame.to_ndarray()[0] for frame in frames]
        self._held[channel] = np.concatenate(parts).astype(np.float32, copy=False)

    def _release(self, limit: int) -> np.ndarray:
        """Returns the held output up to `limit` samples in total, keeping the rest back."""
        count = min(min(len(held) for held in self._held), max(limit - self._emitted, 0))
        out = np.stack([held[:count] for held in self._held], axis=1)
        self._held = [held[count:] for held in self._held]
        self._emitted += count
        return out.astype(np.float32, copy=False)


def resample(samples: np.ndarray, in_rate: int, out_rate: int) -> np.ndarray:
    """Resamples a whole ``[samples]`` or ``[samples, channels]`` float array.

    Args:
        samples: float samples, 1-D (mono) or 2-D ``[samples, channels]``.
        in_rate: their rate in Hz.
        out_rate: the rate wanted in Hz.

    Returns:
        float32 samples of the same rank, ``round(len(samples) * out_rate / in_rate)`` long.

    Example:

    >>> import numpy as np
    >>> resample(np.zeros((22050, 2), "float32"), 22050, 16000).shape
    (16000, 2)
    """
    array = np.asarray(samples, np.float32)
    if array.ndim not in (1, 2):
        raise ValueError(
            f"resample takes [samples] or [samples, channels]; received shape {array.shape}."
        )
    data = array[:, None] if array.ndim == 1 else array
    resampler = Resampler(in_rate, out_rate, data.shape[1])
    parts = [resampler.push(data[i : i + ARRAY_BLOCK]) for i in range(0, len(data), ARRAY_BLOCK)]
    out = np.concatenate(parts + [resampler.finish()], axis=0)
    return out[:, 0].copy() if array.ndim == 1 else out
