"""The guarantees every decode path gives: finite samples, and a length that matches the header.

- `FiniteGuard` counts NaN/Inf sample values as they are decoded; a file holding any is an
  `AudioDecodeError` naming the file, the count and where the first one is.
- `length_mismatch` handles a decoded length that differs from the header's by more than the
  tolerance: a logged warning with both durations, or an `AudioDecodeError` under ``strict``.
- `LengthFitter` cuts codec padding and pads a missing last frame on a stream, holding back only
  the last `tolerance` samples, so a stream yields what the whole-array decoder returns.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from kerasemo.audio.errors import AudioDecodeError, decode_advice

logger = logging.getLogger("kerasemo.audio.decode")

# A decoded stream that ends more than this many seconds (or two decoded frames, if longer)
# short of, or past, the duration the header declares is kept as decoded, with a warning,
# rather than padded or cut: the file is probably truncated or its header is wrong.
LENGTH_TOLERANCE_SECONDS = 0.05


def round_half_up(value: float) -> int:
    return int(math.floor(value + 0.5))


def tolerance_samples(sample_rate: int) -> int:
    """The length tolerance (`LENGTH_TOLERANCE_SECONDS`) in samples at `sample_rate`."""
    return round_half_up(LENGTH_TOLERANCE_SECONDS * sample_rate)


class FiniteGuard:
    """Counts the non-finite sample values of a decoded stream.

    Feed every decoded chunk (before mixing or resampling, which would spread a NaN) to
    `check`; once a chunk holds NaN or Inf, `failed` is True and the decoder keeps reading only
    to count the rest, then calls `raise_if_failed`.
    """

    def __init__(self, path: str):
        self.path = path
        self.count = 0
        self.first_seconds: float | None = None

    @property
    def failed(self) -> bool:
        return self.count > 0

    def check(self, data: np.ndarray, start_seconds: float, rate: int) -> None:
        finite = np.isfinite(data)
        if finite.all():
            return
        self.count += int(data.size - np.count_nonzero(finite))
        if self.first_seconds is None:
            first_row = int(np.argmax(~finite.all(axis=1))) if data.ndim == 2 else 0
            self.first_seconds = start_seconds + first_row / rate

    def raise_if_failed(self) -> None:
        if self.failed:
            raise AudioDecodeError(
                f"'{self.path}' holds {self.count} NaN or Inf sample value(s) (the first at "
                f"{self.first_seconds:.3f} s); the file is corrupt and its audio cannot be "
                "trusted. Re-encode or repair it (e.g. `ffmpeg -i in -ac 1 -ar 16000 out.wav`) "
                "or remove it from the file list."
            )


def length_mismatch(
    path: str, decoded_seconds: float, declared_seconds: float, strict: bool, cause: str = ""
) -> None:
    """Warns (or raises under `strict`) that a file's decoded length differs from its header's.

    Args:
        path: the file.
        decoded_seconds: the duration decoded.
        declared_seconds: the duration the header declares.
        strict: raise `AudioDecodeError` instead of warning.
        cause: an optional decoder message saying why decoding stopped.
    """
    shorter = decoded_seconds < declared_seconds
    what = "the file may be truncated" if shorter else "its header may be wrong"
    message = (
        f"'{path}' decoded to {decoded_seconds:.3f} s of audio but its header declares "
        f"{declared_seconds:.3f} s ({what}{'; ' + cause if cause else ''})"
    )
    if strict:
        raise AudioDecodeError(
            f"{message}. Pass strict=False to keep the decoded samples, or re-encode the file "
            "with ffmpeg, which rewrites the header. " + decode_advice(path)
        )
    logger.warning(
        "%s; keeping the decoded samples (re-encoding it with ffmpeg rewrites the header).",
        message,
    )


class LengthFitter:
    """Fits a stream of ``[n, channels]`` output samples to the duration the header declares.

    The last `tolerance` samples are held back until the end, when the expected length is
    known (declared up front, or only once every packet has been read): a stream that ends
    within the tolerance of it is cut (codec padding) or zero-padded (a missing last frame) to
    exactly ``expected`` samples; a larger mismatch keeps the decoded samples (see
    `length_mismatch`).

    Args:
        path: the file, for messages.
        sample_rate: the output rate.
        channels: channels of every chunk.
        strict: passed to `length_mismatch`.
    """

    def __init__(self, path: str, sample_rate: int, channels: int, strict: bool):
        self.path = path
        self.sample_rate = sample_rate
        self.strict = strict
        self.tolerance = tolerance_samples(sample_rate)
        self.emitted = 0
        self._held = np.zeros((0, channels), np.float32)

    def widen(self, frame_samples: int) -> None:
        """Allows a mismatch of up to two decoded frames of `frame_samples` output samples."""
        self.tolerance = max(self.tolerance, 2 * frame_samples)

    def feed(self, samples: np.ndarray) -> np.ndarray:
        """Takes output samples; returns those that are final (all but the last `tolerance`)."""
        held = np.concatenate([self._held, samples]) if self._held.size else samples
        release = max(held.shape[0] - self.tolerance, 0)
        self._held = held[release:]
        self.emitted += release
        return held[:release]

    def finish(self, expected: int | None, cause: str = "") -> np.ndarray:
        """Returns the held tail, cut or padded to `expected` samples in all (None: as decoded).

        `cause` (why decoding stopped, if it stopped early) goes into a mismatch's message.
        """
        held, self._held = self._held, self._held[:0]
        total = self.emitted + held.shape[0]
        if expected is None or expected == total:
            return held
        difference = expected - total
        if abs(difference) > self.tolerance or -difference > held.shape[0]:
            length_mismatch(
                self.path,
                total / self.sample_rate,
                expected / self.sample_rate,
                self.strict,
                cause,
            )
            return held
        logger.debug(
            "%s: %s %d samples to match the declared duration (%d samples).",
            self.path,
            "padding" if difference > 0 else "trimming",
            abs(difference),
            expected,
        )
        if difference < 0:
            return held[: held.shape[0] + difference]
        padding = np.zeros((difference, held.shape[1]), np.float32)
        return np.concatenate([held, padding])
