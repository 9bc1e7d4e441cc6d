"""The waveform model every export serves: the training front-end, the student, named heads.

`frontend_for` is the `VGGVoxSpectrogram` the EmoVoxCeleb shards were built with (dither off);
`build_waveform_model` puts it in front of the student and adds the three named outputs.
"""

from __future__ import annotations

from typing import Any

from kerasemo.audio.reference import num_frames
from kerasemo.export.contract import MIN_SAMPLES, ExportError
from kerasemo.export.precision import float32_policy, to_float32, with_input_frames
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


def heads(logits):
    """The three named outputs (`OUTPUT_NAMES`) from the student's logits."""
    import keras

    return {
        "logits": keras.layers.Identity(dtype="float32", name="logits")(logits),
        "probabilities": keras.layers.Softmax(dtype="float32", name="probabilities")(logits),
        "embedding": keras.layers.Identity(dtype="float32", name="embedding")(logits),
    }


def build_waveform_model(
    student: Any, window_samples: int | None = None, batch_size: int | None = None
) -> Any:
    """Front-end + student as one Keras model: waveforms in, named outputs out.

    Args:
        student: a `VGGMStudent` (rebuilt in float32 if it is mixed precision, and for any
            length if it was built for fixed crops of another length than `window_samples`).
        window_samples: fixed number of samples, or None for any length (at least `MIN_SAMPLES`
            for the student to pool; pad shorter clips).
        batch_size: fixed batch size, or None.

    Returns:
        A `keras.Model` mapping ``[batch, samples]`` float32 to a dict with ``logits``,
        ``probabilities`` and ``embedding``, each ``[batch, 8]`` float32.

    Example:

    >>> model = build_waveform_model(student)  # doctest: +SKIP
    >>> model.predict(np.zeros((1, 64384), "float32"))["probabilities"].shape  # doctest: +SKIP
    (1, 8)
    """
    import keras

    student = to_float32(student)
    fixed = student.input_frames
    if fixed is not None and (window_samples is None or num_frames(window_samples) != fixed):
        student = with_input_frames(student, None)
    with float32_policy():
        inputs = keras.Input(
            shape=(window_samples,), batch_size=batch_size, dtype="float32", name="waveform"
        )
        spectrogram = frontend_for(student)(inputs)
        outputs = heads(student(spectrogram))
        return keras.Model(inputs, outputs, name="kerasemo_waveform")
