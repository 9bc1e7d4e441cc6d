"""Deterministic speech-like test signals (voiced harmonics, formants, syllables, pauses).

Used by tests, benchmarks and the inspection demo wherever real speech cannot be shipped. The
signal is not meant to sound like a person: it has the statistics that matter to a spectrogram
front-end (a harmonic source with a moving F0 and jitter, formant resonances, a syllable-rate
envelope with pauses, breath noise), so parity and throughput figures measured on it carry over.
"""

from __future__ import annotations

import numpy as np

# Vowel-like formant centre frequencies (Hz) and bandwidths, cycled through syllables.
_FORMANTS = (
    ((730.0, 90.0), (1090.0, 110.0), (2440.0, 170.0)),  # /a/
    ((270.0, 60.0), (2290.0, 100.0), (3010.0, 120.0)),  # /i/
    ((300.0, 60.0), (870.0, 80.0), (2240.0, 120.0)),  # /u/
    ((530.0, 70.0), (1840.0, 100.0), (2480.0, 140.0)),  # /e/
)


def _formant_response(frequencies: np.ndarray, formants, sample_rate: int) -> np.ndarray:
    """Frequency response of parallel second-order resonances, unit gain at each centre."""
    z = np.exp(-2j * np.pi * frequencies / sample_rate)
    response = np.zeros_like(z)
    for centre, bandwidth in formants:
        r = np.exp(-np.pi * bandwidth / sample_rate)
        theta = 2 * np.pi * centre / sample_rate
        denominator = 1 - 2 * r * np.cos(theta) * z + r * r * z * z
        at_centre = np.exp(-1j * theta)
        gain = np.abs(1 - 2 * r * np.cos(theta) * at_centre + r * r * at_centre**2)
        response += gain / denominator
    return response


def speech_like_signal(
    duration: float = 4.0,
    sample_rate: int = 16000,
    *,
    seed: int = 0,
    f0: float = 140.0,
    peak: float = 0.5,
) -> np.ndarray:
    """Returns a deterministic speech-like waveform in [-peak, peak].

    Args:
        duration: length in seconds (> 0).
        sample_rate: samples per second.
        seed: seed of every random choice (F0 contour, syllable timing, noise).
        f0: mean fundamental frequency in Hz.
        peak: maximum absolute amplitude of the result (<= 1).

    Returns:
        float32 array of ``round(duration * sample_rate)`` samples.

    Raises:
        ValueError: for a non-positive duration, sample rate or f0, or a peak outside (0, 1].

    Example:

    >>> x = speech_like_signal(1.0, seed=3)
    >>> x.shape, x.dtype
    ((16000,), dtype('float32'))
    """
    if duration <= 0 or sample_rate <= 0 or f0 <= 0:
        raise ValueError(
            f"duration, sample_rate and f0 must be > 0; received duration={duration!r}, "
            f"sample_rate={sample_rate!r}, f0={f0!r}."
        )
    if not 0 < peak <= 1:
        raise ValueError(f"peak must be in (0, 1]; received {peak!r}.")
    rng = np.random.default_rng(seed)
    n = int(round(duration * sample_rate))
    t = np.arange(n) / sample_rate

    # F0 contour: slow declination plus intonation wiggles and cycle-to-cycle jitter.
    contour = f0 * (1.0 + 0.15 * np.sin(2 * np.pi * 0.7 * t + rng.uniform(0, 2 * np.pi)))
    contour *= 1.0 - 0.1 * t / max(duration, 1e-9)
    contour *= 1.0 + 0.01 * rng.standard_normal(n).cumsum() / np.sqrt(np.arange(1, n + 1))
    phase = 2 * np.pi * np.cumsum(contour) / sample_rate
    harmonics = sum((0.7**k) * np.sin(k * phase) for k in range(1, 25))

    # Syllables of 120-300 ms separated by short pauses, each with its own vowel.
    envelope = np.zeros(n)
    vowel_of_sample = np.zeros(n, dtype=int)
    start = int(rng.uniform(0.05, 0.2) * sample_rate)
    syllable = 0
    while start < n:
        length = int(rng.uniform(0.12, 0.30) * sample_rate)
        stop = min(start + length, n)
        envelope[start:stop] = np.hanning(length)[: stop - start]
        vowel_of_sample[start:stop] = syllable % len(_FORMANTS)
        syllable += 1
        start = stop + int(rng.uniform(0.03, 0.25) * sample_rate)

    # Formant filtering in the frequency domain (linear filtering; the circular wrap-around
    # is inaudible next to the leading pause).
    voiced = np.zeros(n)
    frequencies = np.fft.rfftfreq(n, d=1.0 / sample_rate)
    for index, formants in enumerate(_FORMANTS):
        mask = vowel_of_sample == index
        if not mask.any():
            continue
        source = np.fft.rfft(np.where(mask, harmonics * envelope, 0.0))
        voiced += np.fft.irfft(source * _formant_response(frequencies, formants, sample_rate), n)

    breath = 0.02 * rng.standard_normal(n) * (0.3 + envelope)
    signal = voiced + breath
    signal *= peak / np.max(np.abs(signal))
    return signal.astype(np.float32)
