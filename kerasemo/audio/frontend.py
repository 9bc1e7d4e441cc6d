"""The VGGVox spectrogram front-end as Keras layers (backend-agnostic `keras.ops`).

The layers reproduce `kerasemo.audio.reference.vggvox_spectrogram_reference` (the authors'
MATLAB recipe) batched, in float32, inside the model, so the front-end runs on the accelerator
during training and is exported with the model:

- `VGGVoxSpectrogram`: waveform ``[batch, samples]`` -> ``[batch, 512, frames]``, the whole
  recipe (int16 scaling, DC removal, dither, pre-emphasis, framing, symmetric Hamming window,
  512-point FFT magnitude, per-bin normalisation, mirrored bins).
- `PerBinNormalization`: ``[batch, bins, frames]`` -> each bin normalised over time.
- `MirrorFrequencyBins`: ``[batch, 257, frames]`` -> ``[batch, 512, frames]``.

All three compute in float32 whatever the dtype policy (int16-scale magnitudes overflow
float16) and return float32. Only ops that convert to TFLite builtins are used (pad, reshape,
strided slice, concatenate, reverse, RFFT, reductions, elementwise math; no matmul, so TF32
execution on accelerators cannot degrade the result), with the exception of the
dither noise (stateless random ops), which is off by default.
"""

import math
import numbers

import keras
import numpy as np
from keras import ops

from kerasemo.audio.reference import (
    CROP_FRAMES,
    CROP_SAMPLES,
    DC_ALPHA,
    DITHER_SCALE,
    FFT_LENGTH,
    FRAME_LENGTH,
    FRAME_STEP,
    INT16_SCALE,
    NORMALIZATION_EPSILON,
    NUM_BINS,
    NUM_RFFT_BINS,
    PREEMPHASIS,
    SAMPLE_RATE,
    num_frames,
    num_samples_for_frames,
    symmetric_hamming_window,
)

__all__ = [
    "CROP_FRAMES",
    "CROP_SAMPLES",
    "DC_ALPHA",
    "DC_SCAN_STEPS",
    "DITHER_SCALE",
    "FFT_LENGTH",
    "FRAME_LENGTH",
    "FRAME_STEP",
    "INT16_SCALE",
    "MirrorFrequencyBins",
    "NORMALIZATION_EPSILON",
    "NUM_BINS",
    "NUM_RFFT_BINS",
    "PREEMPHASIS",
    "LogMagnitude",
    "PerBinNormalization",
    "SAMPLE_RATE",
    "VGGVoxSpectrogram",
    "dc_removal",
    "num_frames",
    "num_samples_for_frames",
]

DC_SCAN_STEPS = 12
"""Doubling steps of the DC-removal scan (see `dc_removal`): ``2**12 = 4096`` filter taps.

The dropped tail of the impulse response weighs ``0.99 ** 4096 = 1.4e-18`` relative to the
filter state, far below float32 resolution.
"""

_COMPUTE_DTYPE = "float32"


# --------------------------------------------------------------------------------------------
# Argument validation helpers.


def _check_bool(owner, name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(
            f"{owner}: `{name}` must be a bool; received {name}={value!r} "
            f"(type {type(value).__name__})."
        )
    return bool(value)


def _check_float(owner, name, value, *, minimum, inclusive, hint=""):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{owner}: `{name}` must be a float; received {name}={value!r} "
            f"(type {type(value).__name__}).{hint}"
        )
    value = float(value)
    ok = math.isfinite(value) and (value >= minimum if inclusive else value > minimum)
    if not ok:
        relation = ">=" if inclusive else ">"
        raise ValueError(
            f"{owner}: `{name}` must be a finite float {relation} {minimum}; "
            f"received {name}={value}.{hint}"
        )
    return value


def _static_dim(value):
    """The dimension as a Python int if it is statically known, else None."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    return None


def _check_rank(owner, input_shape, rank, layout):
    shape = tuple(input_shape)
    if len(shape) != rank:
        raise ValueError(
            f"{owner} expects a rank-{rank} input {layout}; received shape {shape}."
        )
    return shape


# --------------------------------------------------------------------------------------------
# The recipe's steps as backend-agnostic functions on float32 tensors.


def dc_removal(waveform, alpha=DC_ALPHA, steps=DC_SCAN_STEPS):
    """DC-removal filter ``y[n] = x[n] - x[n-1] + alpha * y[n-1]`` as a doubling scan.

    MATLAB runs the recursion (``filter([1 -1], [1 -alpha], x)``) sample by sample, which an
    accelerator cannot do efficiently. Here it is computed, for the whole batch at once, as a
    log-depth scan of the linear recurrence with shifts, multiplies and adds only:

    1. ``d[n] = x[n] - x[n-1]`` (``x[-1] = 0``).
    2. ``1 / (1 - alpha z^-1)`` truncated to ``2**K`` taps factors exactly as
       ``prod_{k < K} (1 + alpha**(2**k) z^-(2**k))``, so ``K`` passes of
       ``y[n] <- y[n] + alpha**(2**k) * y[n - 2**k]`` (zero before the start of the clip: a
       static left zero-pad and a slice) give ``y[n] = sum_{j < 2**K} alpha**j d[n - j]``: the
       exact response with the impulse response truncated after ``2**K`` taps (``K = steps``,
       12: 4096 taps). The dropped tail weighs ``alpha**(2**K)`` (``0.99**4096 = 1.4e-18``)
       relative to the filter state.
    3. The passes run from the largest shift (2048) down to 1. The factors commute, but the
       order sets how float32 rounding is filtered: ending with ``1 + 0.99 z^-1``, which has a
       gain of 0.01 near Nyquist, keeps high-frequency rounding noise as small as the signal
       there (the opposite order was measured 25 times worse in the spectrum, 1.7e-6 of the
       peak magnitude).

    The cost is ``K`` multiply-adds per sample (12 instead of the recursion's 2), a negligible
    fraction of a VGG-M step on the resulting spectrogram, with no sequential dependency; every
    op (pad, strided slice, mul, add) converts to a TFLite builtin. No matmul is involved on
    purpose: accelerators run float32 matmuls in TF32 by default, and a blocked-matmul version
    of this filter (``B x B`` triangular matrix per 256-sample block) was measured, with TF32
    rounding emulated, at 4.4e-4 of the peak, above the 1e-4 budget.

    Measured against the exact float64 recursion
    (`kerasemo.audio.reference.dc_removal_reference`) on int16-scaled speech-like signals
    (``tests/test_frontend.py``): the largest deviation is 1.4e-7 of the signal's peak for a
    64,384-sample clip and 3.4e-7 for a 60 s clip (float32 rounding, amplified by the filter's
    low-frequency gain of up to ``1 / (1 - alpha) = 100``; truncation contributes nothing
    measurable). The blocked-matmul version measured 3.8e-7 in plain float32.

    Args:
        waveform: float tensor ``[batch, samples]`` (`samples` may be dynamic).
        alpha: float in (0, 1), the filter's pole.
        steps: int >= 1, doubling steps ``K`` (``2**K`` taps).

    Returns:
        float32 tensor ``[batch, samples]``.
    """
    if not 0.0 < float(alpha) < 1.0:
        raise ValueError(f"`alpha` must be in (0, 1); received alpha={alpha}.")
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 1:
        raise ValueError(f"`steps` must be an integer >= 1; received steps={steps!r}.")
    x = ops.cast(waveform, _COMPUTE_DTYPE)
    y = x - ops.pad(x, ((0, 0), (1, 0)))[:, :-1]
    for k in reversed(range(int(steps))):
        shift = 2**k
        y = y + float(alpha**shift) * ops.pad(y, ((0, 0), (shift, 0)))[:, :-shift]
    return y


def _scale_to_int16(x):
    """Scales each clip by 2**15 if its peak magnitude is <= 1 (decided per clip)."""
    peak = ops.max(ops.abs(x), axis=1, keepdims=True)
    return ops.where(peak <= 1.0, x * INT16_SCALE, x)


def _add_dither(y, dither, seed):
    """Adds ``dither * std(y) * (u1 + u2 - 1)`` per clip, with stateless seeded uniforms."""
    count = ops.cast(ops.shape(y)[1], _COMPUTE_DTYPE)
    centred = y - ops.mean(y, axis=1, keepdims=True)
    std = ops.sqrt(ops.sum(ops.square(centred), axis=1, keepdims=True) / (count - 1.0))
    u1 = keras.random.uniform(ops.shape(y), dtype=_COMPUTE_DTYPE, seed=seed)
    # A different fixed seed for the second draw; stays a 32-bit value.
    u2 = keras.random.uniform(ops.shape(y), dtype=_COMPUTE_DTYPE, seed=(seed + 1) % 2**32)
    return y + dither * std * (u1 + u2 - 1.0)


def _preemphasis(y):
    return y - PREEMPHASIS * ops.pad(y, ((0, 0), (1, 0)))[:, :-1]


def _frame(z):
    """``[batch, L]`` -> ``[batch, floor((L - 400) / 160) + 1, 400]`` without gather.

    Frame ``f`` is hops ``f`` and ``f + 1`` (160 samples each) plus the first 80 samples of hop
    ``f + 2``. The signal is padded by 80 and cut to ``160 * (n + 2)`` samples, reshaped to
    ``n + 2`` hops, and three shifted slices are concatenated.
    """
    length = ops.shape(z)[1]
    half = FRAME_LENGTH - 2 * FRAME_STEP  # 80
    hops = (length + half) // FRAME_STEP  # n + 2
    z = ops.pad(z, ((0, 0), (0, half)))[:, : hops * FRAME_STEP]
    h = ops.reshape(z, (-1, hops, FRAME_STEP))
    return ops.concatenate([h[:, :-2], h[:, 1:-1], h[:, 2:, :half]], axis=-1)


def _magnitude_spectrogram(frames):
    """``[batch, frames, 400]`` -> ``[batch, 257, frames]`` (symmetric Hamming, 512-point)."""
    window = ops.convert_to_tensor(symmetric_hamming_window(FRAME_LENGTH), _COMPUTE_DTYPE)
    real, imag = ops.rfft(frames * window, fft_length=FFT_LENGTH)
    magnitude = ops.sqrt(ops.square(real) + ops.square(imag))
    return ops.transpose(magnitude, (0, 2, 1))


def _mirror_bins(spec):
    """``[batch, n, frames]`` -> ``[batch, 2 (n - 1), frames]``: bins 0..n-1, then n-2..1."""
    return ops.concatenate([spec, ops.flip(spec[:, 1:-1], axis=1)], axis=1)


def normalize_bins(spec, epsilon, mask=None):
    """Per-bin ``(S - mean_t) / (std_t + epsilon)`` over the last axis, N - 1 std.

    The mean is taken on data shifted by the first frame (the same mean mathematically), so a
    constant bin centres to exactly 0 and maps to 0. With a single frame the N - 1 std is
    undefined; the denominator ``max(T - 1, 1)`` makes it 0 and the output 0.

    Args:
        spec: float32 ``[..., bins, frames]``.
        epsilon: added to each bin's standard deviation.
        mask: optional 0/1 float32 ``[..., 1, frames]``: the statistics then cover only the
            frames marked 1, and the others come out 0 (a zero-padded batch of clips, each
            normalised over its own frames).

    Example:

    >>> x = np.array([[[1.0, 2.0, 3.0, 0.0]]], "float32")  # 3 frames of a clip, 1 of padding
    >>> y = normalize_bins(x, 0.0, mask=np.array([[[1, 1, 1, 0]]], "float32"))
    >>> (ops.convert_to_numpy(y) + 0.0).round(3).tolist()  # + 0.0 turns -0.0 into 0.0
    [[[-1.0, 0.0, 1.0, 0.0]]]
    """
    shifted = spec - spec[..., :1]
    if mask is None:
        count = ops.cast(ops.shape(spec)[-1], _COMPUTE_DTYPE)
        centred = shifted - ops.mean(shifted, axis=-1, keepdims=True)
    else:
        count = ops.sum(mask, axis=-1, keepdims=True)
        shifted = shifted * mask
        centred = (shifted - ops.sum(shifted, axis=-1, keepdims=True) / count) * mask
    variance = ops.sum(ops.square(centred), axis=-1, keepdims=True) / ops.maximum(
        count - 1.0, 1.0
    )
    return centred / (ops.sqrt(variance) + epsilon)


# --------------------------------------------------------------------------------------------
# Layers.


class _Float32Layer(keras.layers.Layer):
    """A stateless layer that computes in and returns float32 under any dtype policy.

    Under ``mixed_float16`` a layer's inputs are normally cast to float16; these layers take
    float32 instead (float16 inputs are cast up), because int16-scale magnitudes (up to ~1e7)
    overflow float16 (max 65504).
    """

    @property
    def input_dtype(self):
        return _COMPUTE_DTYPE

    def compute_output_spec(self, inputs):
        return keras.KerasTensor(self.compute_output_shape(inputs.shape), dtype=_COMPUTE_DTYPE)


@keras.saving.register_keras_serializable(package="kerasemo")
class MirrorFrequencyBins(_Float32Layer):
    """Appends the mirrored half of a real signal's spectrum: 257 rfft bins -> all 512 bins.

    For a real frame, ``|fft|`` over all 512 bins equals the 257 rfft bins 0..256 followed by
    bins 255..1. The layer builds that with a slice, a reverse and a concatenation (TFLite
    builtins; no gather). In general ``n`` input bins give ``2 (n - 1)`` output bins.

    Call arguments:
        inputs: float tensor ``[batch, bins, frames]`` (``bins`` >= 2, normally 257; ``frames``
            may be dynamic).

    Returns:
        float32 tensor ``[batch, 2 * (bins - 1), frames]``: bins 0..bins-1, then bins-2..1.

    Example:

    >>> import numpy as np
    >>> spec = np.random.rand(2, 257, 400).astype("float32")
    >>> tuple(MirrorFrequencyBins()(spec).shape)
    (2, 512, 400)
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)

    def build(self, input_shape):
        self.compute_output_shape(input_shape)
        self.built = True

    def call(self, inputs):
        return _mirror_bins(ops.cast(inputs, _COMPUTE_DTYPE))

    def compute_output_shape(self, input_shape):
        batch, bins, frames = _check_rank(
            "MirrorFrequencyBins", input_shape, 3, "[batch, bins, frames]"
        )
        if bins is not None and bins < 2:
            raise ValueError(
                "MirrorFrequencyBins needs at least 2 frequency bins on axis 1 (normally the "
                f"257 rfft bins of a 512-point FFT); received shape {tuple(input_shape)}."
            )
        return (batch, None if bins is None else 2 * (bins - 1), frames)

    def get_config(self):
        return super().get_config()


@keras.saving.register_keras_serializable(package="kerasemo")
class LogMagnitude(_Float32Layer):
    """Log-compresses linear magnitudes: ``log(1 + S)``.

    Not part of the VGGVox recipe (which feeds linear magnitudes); an option of the student
    (`kerasemo.models.VGGMStudent(log_magnitude=True)`) that runs before `PerBinNormalization`.
    On int16-scale magnitudes (speech at 1e3-1e7) ``log(1 + S)`` is ``log S`` to within 0.1 %,
    and zero padding stays 0. Per-bin normalisation of a log spectrogram removes each bin's
    mean log level (a per-clip channel and level normalisation, as cepstral mean normalisation
    does), while the quieter structure between the harmonics (breath, jitter, pauses) keeps a
    scale comparable to the harmonic peaks instead of vanishing next to them.

    Call arguments:
        inputs: float tensor ``[batch, bins, frames]`` of magnitudes (>= 0).

    Returns:
        float32 tensor of the same shape.

    Example:

    >>> import numpy as np
    >>> float(LogMagnitude()(np.full((1, 2, 3), np.e - 1, "float32"))[0, 0, 0])
    1.0
    """

    def call(self, inputs):
        return ops.log1p(ops.maximum(ops.cast(inputs, _COMPUTE_DTYPE), 0.0))

    def compute_output_shape(self, input_shape):
        return _check_rank("LogMagnitude", input_shape, 3, "[batch, bins, frames]")


@keras.saving.register_keras_serializable(package="kerasemo")
class PerBinNormalization(_Float32Layer):
    """Normalises each frequency bin over time, per clip: ``(S - mean_t) / (std_t + epsilon)``.

    The standard deviation uses N - 1 (the authors' MATLAB ``std``). The authors add no
    epsilon, which gives NaN on constant bins; here a constant bin (e.g. digital silence) maps to
    exactly 0, and `epsilon` (default `NORMALIZATION_EPSILON`, 1e-5) is negligible next to the
    bin standard deviations of int16-scaled speech. A clip with one frame has no N - 1 standard
    deviation: its std is taken as 0 and its output is all zeros.

    Always computes in float32 and returns float32, also under a ``mixed_float16`` policy.

    Args:
        epsilon: float > 0, added to each bin's standard deviation.
        **kwargs: standard `keras.layers.Layer` arguments (``name``, ``dtype``, ...).

    Call arguments:
        inputs: float tensor ``[batch, bins, frames]`` (``frames`` may be dynamic).

    Returns:
        float32 tensor of the same shape, normalised along the ``frames`` axis.

    Example:

    >>> import numpy as np
    >>> spec = np.random.rand(2, 512, 400).astype("float32") * 1e4
    >>> tuple(PerBinNormalization()(spec).shape)
    (2, 512, 400)
    """

    def __init__(self, epsilon=NORMALIZATION_EPSILON, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = _check_float(
            "PerBinNormalization", "epsilon", epsilon, minimum=0.0, inclusive=False
        )

    def build(self, input_shape):
        self.compute_output_shape(input_shape)
        self.built = True

    def call(self, inputs):
        return normalize_bins(ops.cast(inputs, _COMPUTE_DTYPE), self.epsilon)

    def compute_output_shape(self, input_shape):
        return _check_rank("PerBinNormalization", input_shape, 3, "[batch, bins, frames]")

    def get_config(self):
        config = super().get_config()
        config.update({"epsilon": self.epsilon})
        return config


@keras.saving.register_keras_serializable(package="kerasemo")
class VGGVoxSpectrogram(_Float32Layer):
    """The VGGVox magnitude spectrogram (the authors' recipe), batched, inside the model.

    Per clip of the batch, in float32:

    1. If ``scale_to_int16`` and the clip's ``max|x| <= 1``, multiply it by ``2**15``.
    2. DC removal ``y[n] = x[n] - x[n-1] + 0.99 y[n-1]``, computed as a log-depth doubling
       scan (see `dc_removal` for how, and its measured deviation from the exact recursion:
       below 4e-7 of the signal peak).
    3. If ``dither > 0``: add ``dither * std(y) * (u1 + u2 - 1)``, ``u1, u2 ~ U[0, 1)``, in
       training and inference alike. The noise comes from stateless random ops with fixed
       seeds derived from `seed`, so it is the same on every call for a given seed and input
       shape (different for each clip of a batch).
    4. Pre-emphasis ``z[n] = y[n] - 0.97 y[n-1]``.
    5. Frames of 400 samples every 160, no padding: ``floor((L - 400) / 160) + 1`` frames.
       **Clips shorter than 400 samples are zero-padded at the end to 400 samples** (one frame)
       before step 1, as the design asks for short utterances.
    6. Symmetric Hamming window, 512-point FFT, magnitude ``sqrt(re^2 + im^2)`` (no log).
    7. If ``normalize``: per-bin normalisation over time (`PerBinNormalization`).
    8. If ``mirror``: all 512 bins (`MirrorFrequencyBins`); else the 257 rfft bins.

    It matches `kerasemo.audio.reference.vggvox_spectrogram_reference` to float32 precision
    (measured in ``tests/test_frontend.py`` on speech-like clips: unnormalised magnitudes within
    1.4e-7 of the clip's peak magnitude, normalised outputs within 4e-5 absolute, i.e. 4e-5 of a
    bin's standard deviation). Computes in float32 and returns float32 under any
    dtype policy. With ``dither=0`` every op converts to a TFLite builtin.

    Cost: about 15 MFLOP per 4 s crop (mostly the 400 FFTs), against roughly 28 GFLOP for a
    VGG-M training step on its 512 x 400 output. Measured on a 2-core CPU with batch 8: 12 ms
    for the front-end, 1.4 s for a VGG-M training step (0.9%).

    Args:
        mirror: bool, return all 512 bins (True, the paper's input) or the 257 rfft bins.
        normalize: bool, apply the per-bin normalisation over time.
        dither: float >= 0, dither level relative to the clip's standard deviation; the authors
            use 1e-6 (`DITHER_SCALE`). 0 (default) disables it.
        seed: int in [0, 2**32) or None (= 0), seed of the dither noise.
        scale_to_int16: bool, apply step 1 (set False if the waveforms are already int16-scale
            and you want no per-clip decision).
        epsilon: float > 0, added to each bin's standard deviation when normalising.
        **kwargs: standard `keras.layers.Layer` arguments (``name``, ``dtype``, ...).

    Call arguments:
        inputs: float tensor ``[batch, samples]`` of 16 kHz mono waveforms; ``samples`` may be
            None (variable length) in a functional model.

    Returns:
        float32 tensor ``[batch, bins, frames]`` with ``bins`` 512 (257 if ``mirror=False``)
        and ``frames = floor((max(samples, 400) - 400) / 160) + 1``. A 4 s crop (64,384
        samples) gives ``[batch, 512, 400]``.

    Example:

    >>> import numpy as np
    >>> waveform = np.random.uniform(-0.5, 0.5, (2, CROP_SAMPLES)).astype("float32")
    >>> tuple(VGGVoxSpectrogram()(waveform).shape)
    (2, 512, 400)
    >>> inputs = keras.Input(shape=(None,))  # variable-length waveforms
    >>> model = keras.Model(inputs, VGGVoxSpectrogram()(inputs))
    >>> model.output.shape
    (None, 512, None)
    """

    def __init__(
        self,
        mirror=True,
        normalize=True,
        dither=0.0,
        seed=None,
        scale_to_int16=True,
        epsilon=NORMALIZATION_EPSILON,
        **kwargs,
    ):
        super().__init__(**kwargs)
        owner = "VGGVoxSpectrogram"
        self.mirror = _check_bool(owner, "mirror", mirror)
        self.normalize = _check_bool(owner, "normalize", normalize)
        self.dither = _check_float(
            owner,
            "dither",
            dither,
            minimum=0.0,
            inclusive=True,
            hint=f" The authors use {DITHER_SCALE}; 0 disables dither.",
        )
        if seed is not None and (
            isinstance(seed, bool)
            or not isinstance(seed, numbers.Integral)
            or not 0 <= int(seed) < 2**32
        ):
            raise ValueError(
                f"{owner}: `seed` must be None or an integer in [0, 2**32); "
                f"received seed={seed!r} (type {type(seed).__name__})."
            )
        self.seed = None if seed is None else int(seed)
        self.scale_to_int16 = _check_bool(owner, "scale_to_int16", scale_to_int16)
        self.epsilon = _check_float(owner, "epsilon", epsilon, minimum=0.0, inclusive=False)

    def build(self, input_shape):
        self.compute_output_shape(input_shape)
        self.built = True

    def call(self, inputs):
        x = ops.cast(inputs, _COMPUTE_DTYPE)
        length = ops.shape(x)[1]
        static_length = _static_dim(length)
        if static_length is None:
            x = ops.pad(x, ((0, 0), (0, ops.maximum(FRAME_LENGTH - length, 0))))
        elif static_length < FRAME_LENGTH:
            x = ops.pad(x, ((0, 0), (0, FRAME_LENGTH - static_length)))
        if self.scale_to_int16:
            x = _scale_to_int16(x)
        y = dc_removal(x)
        if self.dither > 0:
            y = _add_dither(y, self.dither, 0 if self.seed is None else self.seed)
        spec = _magnitude_spectrogram(_frame(_preemphasis(y)))  # [batch, 257, frames]
        # Normalising per bin before mirroring is identical and costs half.
        if self.normalize:
            spec = normalize_bins(spec, self.epsilon)
        if self.mirror:
            spec = _mirror_bins(spec)
        return spec

    def compute_output_shape(self, input_shape):
        batch, samples = _check_rank(
            "VGGVoxSpectrogram", input_shape, 2, "[batch, samples] (mono 16 kHz waveforms)"
        )
        frames = None if samples is None else num_frames(max(int(samples), FRAME_LENGTH))
        return (batch, NUM_BINS if self.mirror else NUM_RFFT_BINS, frames)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "mirror": self.mirror,
                "normalize": self.normalize,
                "dither": self.dither,
                "seed": self.seed,
                "scale_to_int16": self.scale_to_int16,
                "epsilon": self.epsilon,
            }
        )
        return config
