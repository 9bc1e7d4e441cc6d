"""The waveform model every export serves: the training front-end, the student, named outputs.

`frontend_for` is the `VGGVoxSpectrogram` the EmoVoxCeleb shards were built with (dither off);
`build_waveform_model` puts it in front of the student and adds the named outputs. With
``lengths=True`` it takes zero-padded batches with each clip's valid length and runs the student
length-aware (`kerasemo.models.masked.MaskedStudent`), so each clip gets its own answer; with a
probe head it adds the head's probabilities.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from kerasemo.audio.reference import frame_count, num_frames
from kerasemo.export.contract import (
    HEAD_PROBABILITIES,
    LENGTH_INPUT,
    MIN_SAMPLES,
    WAVEFORM_INPUT,
    ExportError,
)
from kerasemo.export.precision import float32_policy, to_float32, with_input_frames
from kerasemo.models.masked import MaskedStudent
from kerasemo.models.student import MIN_INPUT_FRAMES


def frontend_for(student: Any) -> Any:
    """The training front-end that feeds `student` from waveforms.

    ``VGGVoxSpectrogram(mirror=..., normalize=..., dither=0)``: ``mirror`` is True only for a
    student that takes all 512 bins (a 257-bin student mirrors inside), ``normalize`` only for a
    student that does not normalise its input itself. Dither is off, as when the shards are built.

    Args:
        student: a `VGGMStudent`.

    Returns:
        A `VGGVoxSpectrogram` layer.

    Raises:
        ExportError: if the student takes a number of bins the front-end cannot produce.
    """
    from kerasemo.audio.frontend import NUM_BINS, NUM_RFFT_BINS, VGGVoxSpectrogram

    if student.input_bins not in (NUM_BINS, NUM_RFFT_BINS):
        raise ExportError(
            f"The student takes {student.input_bins} frequency bins; the VGGVox front-end "
            f"produces {NUM_RFFT_BINS} (rfft) or {NUM_BINS} (mirrored). Export supports those two."
        )
    return VGGVoxSpectrogram(
        mirror=student.input_bins == NUM_BINS,
        normalize=not student.normalize_input,
        dither=0.0,
        name="frontend",
    )


def frontend_settings(student: Any) -> dict:
    """The front-end's recipe constants and switches for `student`, for the model card."""
    from kerasemo.audio import reference

    layer = frontend_for(student)
    return {
        "recipe": "VGGVox (Nagrani et al.; the authors' MATLAB front-end)",
        "sample_rate": reference.SAMPLE_RATE,
        "scale_to_int16": "clips with max|x| <= 1 are multiplied by 2**15",
        "dc_removal_alpha": reference.DC_ALPHA,
        "dither": layer.dither,
        "preemphasis": reference.PREEMPHASIS,
        "frame_length": reference.FRAME_LENGTH,
        "frame_step": reference.FRAME_STEP,
        "window": "symmetric Hamming",
        "fft_length": reference.FFT_LENGTH,
        "magnitude": "linear (no log)",
        "frontend_bins": reference.NUM_BINS if layer.mirror else reference.NUM_RFFT_BINS,
        "frontend_mirror": layer.mirror,
        "mirrored_inside_student": bool(student.mirror_input),
        "network_bins": int(student.network_bins),
        "per_bin_normalization": "mean and N-1 std over time, per clip, inside the student"
        if student.normalize_input
        else "mean and N-1 std over time, per clip, in the front-end",
        "normalization_epsilon": reference.NORMALIZATION_EPSILON
        if student.normalization_epsilon is None
        else student.normalization_epsilon,
        "short_clips": f"zero-padded to {MIN_SAMPLES} samples ({MIN_INPUT_FRAMES} frames)",
    }


def valid_frames(length):
    """Student frames of clips of `length` valid samples, as a graph op (`num_frames` of them).

    A clip shorter than `MIN_SAMPLES` counts as that many samples, since the unbatched path
    zero-pads it to the minimum; the frame arithmetic is `kerasemo.audio.reference.frame_count`.

    Args:
        length: int tensor ``[batch]`` of valid samples.

    Returns:
        int32 tensor ``[batch]``.

    Example:

    >>> import numpy as np
    >>> [int(n) for n in valid_frames(np.array([0, 10_320, 64_384], "int32"))]
    [63, 63, 400]
    """
    samples = ops.maximum(ops.cast(length, "int32"), MIN_SAMPLES)
    return frame_count(samples)


@keras.saving.register_keras_serializable(package="kerasemo")
class PadToMinSamples(keras.layers.Layer):
    """Zero-pads ``[batch, samples]`` waveforms at the end to at least `MIN_SAMPLES`.

    Example:

    >>> import numpy as np
    >>> tuple(PadToMinSamples()(np.ones((2, 100), "float32")).shape)
    (2, 10320)
    """

    def call(self, waveform):
        width = ops.shape(waveform)[1]
        return ops.pad(waveform, ((0, 0), (0, ops.maximum(MIN_SAMPLES - width, 0))))

    def compute_output_shape(self, input_shape):
        samples = input_shape[1]
        return (input_shape[0], None if samples is None else max(int(samples), MIN_SAMPLES))


def heads(logits, head: Any = None) -> dict:
    """The named outputs (`OUTPUT_NAMES`, and `HEAD_PROBABILITIES` with a head) from the logits.

    Args:
        logits: the student's ``[batch, 8]`` logits (a Keras tensor).
        head: a fitted `kerasemo.models.probe.LinearProbe` on the logits, or None.
    """
    outputs = {
        "logits": keras.layers.Identity(dtype="float32", name="logits")(logits),
        "probabilities": keras.layers.Softmax(dtype="float32", name="probabilities")(logits),
        "embedding": keras.layers.Identity(dtype="float32", name="embedding")(logits),
    }
    if head is not None:
        outputs[HEAD_PROBABILITIES] = keras.layers.Identity(
            dtype="float32", name=HEAD_PROBABILITIES
        )(head(logits))
    return outputs


def build_waveform_model(
    student: Any,
    window_samples: int | None = None,
    batch_size: int | None = None,
    lengths: bool = False,
    head: Any = None,
) -> Any:
    """Front-end + student as one Keras model: waveforms in, named outputs out.

    Args:
        student: a `VGGMStudent` (rebuilt in float32 if it is mixed precision, and for any
            length if it was built for fixed crops of another length than `window_samples`).
        window_samples: fixed number of samples, or None for any length (at least `MIN_SAMPLES`
            for the student to pool; pad shorter clips, or use ``lengths=True``).
        batch_size: fixed batch size, or None.
        lengths: take ``{"waveform": [batch, samples] float32, "length": [batch] int32}``: a
            zero-padded batch and each clip's valid samples. Each clip then gets the outputs it
            gets alone and unpadded (to float32 rounding): its valid frames are
            `valid_frames` of its length (at most the batch's), and the student runs
            length-aware (`kerasemo.models.masked.MaskedStudent`, which needs a student with
            ``normalize_input=True``). A batch narrower than `MIN_SAMPLES` is zero-padded to it.
        head: a fitted `kerasemo.models.probe.LinearProbe` on the student's logits, or None;
            adds ``head_probabilities`` ``[batch, K]`` float32.

    Returns:
        A `keras.Model` mapping ``[batch, samples]`` float32 (or the dict above) to a dict with
        ``logits``, ``probabilities`` and ``embedding``, each ``[batch, 8]`` float32 (and
        ``head_probabilities`` with a head).

    Raises:
        ValueError: with ``lengths=True``, for a student that does not normalise its input.

    Example:

    >>> model = build_waveform_model(student)  # doctest: +SKIP
    >>> model.predict(np.zeros((1, 64384), "float32"))["probabilities"].shape  # doctest: +SKIP
    (1, 8)
    >>> padded = build_waveform_model(student, lengths=True)  # doctest: +SKIP
    >>> padded({"waveform": batch, "length": np.array([16000, 48000], "int32")})  # doctest: +SKIP
    """
    student = to_float32(student)
    fixed = student.input_frames
    if fixed is not None and (window_samples is None or num_frames(window_samples) != fixed):
        student = with_input_frames(student, None)
    with float32_policy():
        waveform = keras.Input(
            shape=(window_samples,), batch_size=batch_size, dtype="float32", name=WAVEFORM_INPUT
        )
        if not lengths:
            outputs = heads(student(frontend_for(student)(waveform)), head)
            return keras.Model(waveform, outputs, name="kerasemo_waveform")
        length = keras.Input(shape=(), batch_size=batch_size, dtype="int32", name=LENGTH_INPUT)
        spectrogram = frontend_for(student)(PadToMinSamples(name="pad_to_min_samples")(waveform))
        logits = MaskedStudent(student, name="masked_student")(spectrogram, valid_frames(length))
        inputs = {WAVEFORM_INPUT: waveform, LENGTH_INPUT: length}
        return keras.Model(inputs, heads(logits, head), name="kerasemo_waveform_lengths")
