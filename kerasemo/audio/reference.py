"""NumPy reference of the VGGVox spectrogram recipe (the authors' MATLAB front-end).

This module is the oracle that the Keras front-end (`kerasemo.audio.frontend`) is tested
against. It is written for clarity, not speed: float64 throughout, the DC-removal filter as an
explicit sample-by-sample recursion, one clip at a time. It uses NumPy only (no Keras, no
SciPy), so it also documents the recipe in plain code.

The recipe, per clip (a 1-D waveform at 16 kHz):

1. If ``max|x| <= 1`` the clip is taken to be in [-1, 1] and is scaled by ``2**15`` to the
   int16 range (the authors read int16 wav files); the decision is made on the whole clip.
2. DC removal, ``y[n] = x[n] - x[n-1] + 0.99 * y[n-1]`` with ``x[-1] = y[-1] = 0``
   (MATLAB ``filter([1 -1], [1 -0.99], x)``).
3. Optional triangular dither, ``dither * std(y) * (u1 + u2 - 1)`` with ``u1, u2 ~ U[0, 1)``
   (the authors use ``dither = 1e-6``; off by default here).
4. Pre-emphasis, ``z[n] = y[n] - 0.97 * y[n-1]``, ``z[0] = y[0]``.
5. Frames of 400 samples (25 ms) every 160 samples (10 ms), no padding:
   ``floor((L - 400) / 160) + 1`` frames.
6. Symmetric Hamming window, ``0.54 - 0.46 * cos(2 * pi * n / 399)``.
7. 512-point FFT (each frame zero-padded 400 -> 512), magnitude (linear, no log).
8. All 512 bins: rfft bins 0..256 then 255..1 (``mirror=False`` keeps the 257 rfft bins).
9. Per-frequency-bin normalisation over time: ``(S - mean_t) / (std_t + epsilon)``, ``std``
   with N - 1 in the denominator.

The recipe's constants and the frame-count helpers live here (NumPy-only) and are re-exported by
`kerasemo.audio.frontend`, so the reference and the layers cannot drift apart.
"""

import numbers

import numpy as np

SAMPLE_RATE = 16000
"""Sampling rate the recipe assumes, in Hz."""
FRAME_LENGTH = 400
"""Samples per analysis frame (25 ms at 16 kHz)."""
FRAME_STEP = 160
"""Hop between frames in samples (10 ms at 16 kHz)."""
FFT_LENGTH = 512
"""FFT size; each 400-sample frame is zero-padded to it."""
NUM_RFFT_BINS = FFT_LENGTH // 2 + 1
"""Non-redundant bins of a real 512-point FFT (257)."""
NUM_BINS = FFT_LENGTH
"""Bins of the full, mirrored spectrum (512), the paper's "512 x 400"."""
CROP_FRAMES = 400
"""Frames in a 4 s training crop."""
CROP_EXTRA_SAMPLES = 384
"""Samples a crop holds beyond ``FRAME_STEP * frames``, by the authors' batch loader's rule.

It reads ``0.01 * frames + 0.025 - 0.001`` seconds, i.e. ``160 * frames + 384`` samples, for a
crop of ``frames`` frames (`crop_samples_for_frames`)."""
CROP_SAMPLES = FRAME_STEP * CROP_FRAMES + CROP_EXTRA_SAMPLES
"""Samples in a training crop (64,384), which gives exactly 400 frames.

This is the authors' batch loader's rule (`crop_samples_for_frames`). The shortest waveform with 400
frames is ``400 + 399 * 160 = 64,240`` samples (`num_samples_for_frames`); any length from
64,240 to 64,399 gives 400 frames, and the last 144 samples of a 64,384-sample crop fall in no
frame.
"""
PREEMPHASIS = 0.97
"""Pre-emphasis coefficient: ``z[n] = y[n] - 0.97 * y[n-1]``."""
DC_ALPHA = 0.99
"""Pole of the DC-removal filter: ``y[n] = x[n] - x[n-1] + 0.99 * y[n-1]``."""
INT16_SCALE = 2.0**15
"""Factor that maps a waveform in [-1, 1] to the int16 range."""
NORMALIZATION_EPSILON = 1e-5
"""Added to each bin's standard deviation in the per-bin normalisation.

The authors divide by the standard deviation alone, which gives NaN on a constant bin (digital
silence). With the epsilon, constant bins map to exactly 0. For int16-scaled speech the bin
standard deviations are many orders of magnitude above 1 (a full-scale tone gives magnitudes
around 1e6; even faint noise gives bin stds of order 1 or more), so the epsilon changes ordinary
outputs by a relative 1e-5 or less.
"""
DITHER_SCALE = 1e-6
"""The authors' dither level, relative to the clip's standard deviation (pass as ``dither``)."""


def _check_count(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"`{name}` must be an integer; received {value!r} of type {type(value).__name__}."
        )
    value = int(value)
    if value < minimum:
        raise ValueError(f"`{name}` must be >= {minimum}; received {name}={value}.")
    return value


def frame_count(num_samples):
    """The recipe's frame count, ``(L - 400) // 160 + 1``, without checks.

    Operators only, so `num_samples` may be an int or an integer tensor of any framework (the
    exported models count each clip's valid frames with it); `num_frames` is the checked form.

    Example:

    >>> frame_count(64384)
    400
    """
    return (num_samples - FRAME_LENGTH) // FRAME_STEP + 1


def num_frames(num_samples):
    """Number of frames the recipe makes from a clip: ``floor((L - 400) / 160) + 1``.

    Args:
        num_samples: int, the clip length ``L`` in samples (>= `FRAME_LENGTH`).

    Returns:
        int, the number of 400-sample frames at hop 160 with no padding.

    Raises:
        TypeError: if `num_samples` is not an integer.
        ValueError: if `num_samples` < 400 (no complete frame; `VGGVoxSpectrogram` zero-pads
            such clips to 400 samples, i.e. one frame, before framing).

    Example:

    >>> num_frames(64384)
    400
    >>> num_frames(400), num_frames(559), num_frames(560)
    (1, 1, 2)
    """
    return frame_count(_check_count(num_samples, "num_samples", FRAME_LENGTH))


def num_samples_for_frames(frames):
    """Fewest samples that give `frames` frames: ``400 + 160 * (frames - 1)``.

    Args:
        frames: int >= 1.

    Returns:
        int, the waveform length in samples.

    Raises:
        TypeError: if `frames` is not an integer.
        ValueError: if `frames` < 1.

    Example:

    >>> num_samples_for_frames(400)  # a 64,384-sample crop (CROP_SAMPLES) also gives 400
    64240
    """
    frames = _check_count(frames, "frames", 1)
    return FRAME_LENGTH + (frames - 1) * FRAME_STEP


def crop_samples_for_frames(frames):
    """Samples the authors' batch loader reads for a crop of `frames` frames: ``160 f + 384``.

    Framing such a crop with no padding gives exactly `frames` frames; the last 144 samples
    fall in no frame.

    Args:
        frames: int >= 1, spectrogram frames of the crop.

    Returns:
        int, the crop length in samples.

    Example:

    >>> crop_samples_for_frames(400), num_frames(crop_samples_for_frames(300))
    (64384, 300)
    """
    frames = _check_count(frames, "frames", 1)
    return FRAME_STEP * frames + CROP_EXTRA_SAMPLES


def symmetric_hamming_window(length=FRAME_LENGTH):
    """Symmetric Hamming window ``0.54 - 0.46 * cos(2 * pi * n / (N - 1))`` in float64.

    This is MATLAB's ``hamming(N)`` (and ``scipy.signal.get_window('hamming', N,
    fftbins=False)``), not the periodic window that `tf.signal.hamming_window` makes by default.
    """
    length = _check_count(length, "length", 2)
    n = np.arange(length, dtype=np.float64)
    return 0.54 - 0.46 * np.cos(2.0 * np.pi * n / (length - 1))


def dc_removal_reference(waveform, alpha=DC_ALPHA):
    """Exact DC-removal recursion ``y[n] = x[n] - x[n-1] + alpha * y[n-1]`` in float64.

    Equals MATLAB ``filter([1 -1], [1 -alpha], x)``: initial state zero (``x[-1] = y[-1] = 0``),
    computed sample by sample.

    Args:
        waveform: 1-D array-like of finite numbers.
        alpha: float, the filter's pole (default `DC_ALPHA`, 0.99).

    Returns:
        1-D float64 array of the same length.
    """
    x = np.asarray(waveform, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"Expected a 1-D waveform; received shape {x.shape}.")
    d = np.diff(x, prepend=0.0)  # x[n] - x[n-1] with x[-1] = 0 (exact in float64).
    out = np.empty_like(d)
    state = 0.0
    for n, value in enumerate(d.tolist()):
        state = value + alpha * state
        out[n] = state
    return out


def _validate_waveform(waveform):
    x = np.asarray(waveform)
    if x.dtype == object or not (
        np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)
    ):
        raise ValueError(
            f"Expected a real numeric waveform; received an array of dtype {x.dtype}."
        )
    x = x.astype(np.float64)
    if x.ndim != 1:
        raise ValueError(
            f"Expected a 1-D waveform (one mono clip of samples); received shape {x.shape}. "
            "Pass clips one at a time; for a [samples, 1] array use waveform[:, 0]."
        )
    if x.shape[0] < FRAME_LENGTH:
        raise ValueError(
            f"The waveform has {x.shape[0]} samples but the recipe needs at least "
            f"{FRAME_LENGTH} (one 25 ms frame at 16 kHz). Zero-pad it first (VGGVoxSpectrogram "
            "does so itself)."
        )
    if not np.all(np.isfinite(x)):
        bad = int(np.size(x) - np.count_nonzero(np.isfinite(x)))
        raise ValueError(
            f"The waveform contains {bad} NaN or infinite samples; the recipe needs finite "
            "samples. Check the decoder output."
        )
    return x


def vggvox_spectrogram_reference(
    waveform,
    *,
    mirror=True,
    normalize=True,
    dither=0.0,
    seed=0,
    epsilon=NORMALIZATION_EPSILON,
):
    """VGGVox magnitude spectrogram of one clip, computed in float64 with NumPy.

    Args:
        waveform: 1-D array-like, one mono clip at 16 kHz with at least 400 samples. Either in
            [-1, 1] (then scaled by ``2**15``) or already in int16 range (``max|x| > 1``).
        mirror: bool, if True return all 512 FFT bins (rfft bins 0..256 then 255..1); if False
            the 257 rfft bins only.
        normalize: bool, if True normalise each frequency bin over time:
            ``(S - mean_t) / (std_t + epsilon)`` with the N - 1 standard deviation. A clip with a
            single frame has no N - 1 standard deviation; its std is taken as 0, so its
            normalised output is all zeros. Constant bins (e.g. digital silence) map to exactly 0.
        dither: float >= 0, dither level relative to the clip's standard deviation after DC
            removal (the authors use 1e-6, `DITHER_SCALE`). 0 disables it.
        seed: int, seed of ``np.random.default_rng`` for the dither.
        epsilon: float > 0, added to each bin's standard deviation when normalising.

    Returns:
        float64 array of shape ``[bins, frames]`` with ``bins`` 512 (or 257 with
        ``mirror=False``) and ``frames = floor((L - 400) / 160) + 1``.

    Raises:
        ValueError: if the waveform is not 1-D, is shorter than 400 samples, contains NaN or
            infinite values, or if `dither`/`epsilon` are out of range.

    Example:

    >>> import numpy as np
    >>> t = np.arange(CROP_SAMPLES) / SAMPLE_RATE
    >>> spec = vggvox_spectrogram_reference(0.5 * np.sin(2 * np.pi * 440.0 * t))
    >>> spec.shape
    (512, 400)
    """
    x = _validate_waveform(waveform)
    dither = float(dither)
    epsilon = float(epsilon)
    if not np.isfinite(dither) or dither < 0:
        raise ValueError(f"`dither` must be a finite float >= 0; received dither={dither}.")
    if not np.isfinite(epsilon) or epsilon <= 0:
        raise ValueError(f"`epsilon` must be a finite float > 0; received epsilon={epsilon}.")

    # 1. int16 scaling, decided on the whole clip.
    if np.max(np.abs(x)) <= 1.0:
        x = x * INT16_SCALE
    # 2. DC removal (exact recursion).
    y = dc_removal_reference(x)
    # 3. Triangular dither.
    if dither > 0:
        rng = np.random.default_rng(seed)
        u1 = rng.random(y.shape[0])
        u2 = rng.random(y.shape[0])
        y = y + dither * np.std(y, ddof=1) * (u1 + u2 - 1.0)
    # 4. Pre-emphasis.
    z = y.copy()
    z[1:] = y[1:] - PREEMPHASIS * y[:-1]
    # 5. Framing, no padding.
    count = num_frames(z.shape[0])
    starts = np.arange(count) * FRAME_STEP
    frames = z[starts[:, None] + np.arange(FRAME_LENGTH)[None, :]]  # [frames, 400]
    # 6-7. Symmetric Hamming window, 512-point FFT, magnitude.
    spectrum = np.abs(np.fft.rfft(frames * symmetric_hamming_window(), n=FFT_LENGTH, axis=1))
    spec = spectrum.T  # [257, frames]
    # 9. Per-bin normalisation over time (done before mirroring: it is per bin, so identical).
    if normalize:
        # Mean computed on data shifted by the first frame: mathematically the plain mean, but
        # a constant bin gives centred values of exactly 0.
        shifted = spec - spec[:, :1]
        centred = shifted - shifted.mean(axis=1, keepdims=True)
        denominator = max(count - 1, 1)
        std = np.sqrt(np.sum(centred**2, axis=1, keepdims=True) / denominator)
        spec = centred / (std + epsilon)
    # 8. Mirror: rfft bins 0..256 then 255..1 (= |fft| of the real frame).
    if mirror:
        spec = np.concatenate([spec, spec[NUM_RFFT_BINS - 2 : 0 : -1]], axis=0)
    return spec
