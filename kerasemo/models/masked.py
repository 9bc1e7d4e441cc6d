"""The student on a zero-padded batch: every clip gets exactly the answer it gets alone.

`VGGMStudent` pools over every frame it is given, so a clip zero-padded to the length of the
longest clip in its batch is normalised with the padding, convolved into it and averaged over
it. `MaskedStudent` runs the same trained layers (shared, nothing retrained) on a padded batch
with each clip's valid frame count, and makes the padding invisible:

- the per-bin normalisation takes the mean and the N - 1 standard deviation over the valid
  frames only (the same epsilon), and leaves the padding at 0;
- after every stage of the trunk (`kerasemo.vggm.TRUNK`: conv1 to conv5 with their batch
  normalisation and ReLU, the three max-pools) the time positions beyond that stage's valid
  length (`trunk_time_lengths`) are set to 0. The trunk pads explicitly with zeros (and "same"
  3x3 convolutions pad with zeros), so every valid position then sees exactly the values it
  sees when the clip runs alone;
- apool6 averages fc6 over the valid time positions only.

A clip shorter than `MIN_INPUT_FRAMES` counts as that many frames, as the unbatched path
zero-pads it to the minimum. The student must normalise its own input (``normalize_input=True``,
the default): a normalisation done before the student would have seen the padding, so such a
student is refused. ``log_magnitude`` and ``mirror_input`` act frame by frame and are supported.

Example:

>>> import numpy as np
>>> from kerasemo.models import VGGMStudent
>>> student = VGGMStudent(input_bins=257, mirror_input=True, conv_filters=(4, 8, 8, 8, 8),
...                       fc6_units=8, fc7_units=8)
>>> rng = np.random.default_rng(0)
>>> short, long = (rng.gamma(2.0, 1e3, (1, 257, n)).astype("float32") for n in (70, 120))
>>> batch = np.concatenate([np.pad(short, ((0, 0), (0, 0), (0, 50))), long])
>>> logits = MaskedStudent(student)(batch, np.array([70, 120], "int32"))
>>> bool(np.allclose(logits[0], student(short)[0], atol=1e-5))
True
"""

from __future__ import annotations

import keras
from keras import layers, ops

from kerasemo.audio.frontend import (
    LogMagnitude,
    MirrorFrequencyBins,
    PerBinNormalization,
    normalize_bins,
)
from kerasemo.models.student import VGGMStudent, _AddChannelAxis
from kerasemo.vggm import MIN_INPUT_FRAMES, TRUNK, stage_output_size

_TIME_AXIS = 2
"""The time axis of the student's tensors: ``[batch, bins, frames]``, then ``[batch, bins,
frames, channels]``."""
_FRAME_BY_FRAME = (
    layers.Activation,
    layers.BatchNormalization,
    layers.Conv2D,
    layers.Flatten,
    layers.MaxPooling2D,
    layers.ReLU,
    layers.ZeroPadding2D,
    LogMagnitude,
    MirrorFrequencyBins,
    _AddChannelAxis,
)
"""Layers run as they are; the trunk's stages among them are masked after they end."""


def stage_end(stage: str) -> str:
    """The student layer that completes a `TRUNK` stage: ``reluN`` for ``convN``, else itself.

    Example:

    >>> stage_end("conv3"), stage_end("mpool1")
    ('relu3', 'mpool1')
    """
    return stage.replace("conv", "relu", 1) if stage.startswith("conv") else stage


def trunk_time_lengths(frames) -> dict[str, object]:
    """Valid time length after each `TRUNK` stage, for integer frame counts (tensor or int).

    Each stage's length is `kerasemo.vggm.stage_output_size` on the time axis; the last entry
    (``mpool5``) is `kerasemo.vggm.trunk_output_size` of the same count.

    Args:
        frames: int or int tensor ``[batch]`` of frame counts (at least `MIN_INPUT_FRAMES`).

    Returns:
        ``{stage name: int tensor of the same shape}``, in `TRUNK` order.

    Example:

    >>> {k: int(v) for k, v in trunk_time_lengths(400).items()}["mpool5"]  # Table 4: 11
    11
    """
    lengths = {}
    length = ops.convert_to_tensor(frames, "int32")
    axis = _TIME_AXIS - 1  # TRUNK lists (frequency, time)
    for name, kernel, stride, padding in TRUNK:
        length = stage_output_size(length, kernel[axis], stride[axis], padding[axis])
        lengths[name] = length
    return lengths


def time_mask(lengths, width, rank: int, dtype: str):
    """``[batch, 1, width(, 1)]`` of 1 where the time index is below the row's length, else 0.

    Args:
        lengths: int tensor ``[batch]``.
        width: the time axis' size (int or scalar tensor).
        rank: 3 for ``[batch, bins, frames]``, 4 with a channel axis.
        dtype: the mask's dtype.
    """
    positions = ops.expand_dims(ops.arange(width, dtype="int32"), 0)
    mask = ops.less(positions, ops.expand_dims(lengths, 1))
    mask = ops.expand_dims(ops.cast(mask, dtype), 1)
    return ops.expand_dims(mask, -1) if rank == 4 else mask


def masked_normalization(spectrogram, frames, epsilon: float):
    """`PerBinNormalization` over each row's first `frames` frames; 0 beyond them.

    The layer's own arithmetic (`kerasemo.audio.frontend.normalize_bins`) with a time mask.

    Args:
        spectrogram: float32 ``[batch, bins, width]``.
        frames: int32 ``[batch]``, each at least 2 and at most ``width``.
        epsilon: added to each bin's standard deviation.

    Returns:
        float32 ``[batch, bins, width]``.
    """
    mask = time_mask(frames, ops.shape(spectrogram)[_TIME_AXIS], 3, spectrogram.dtype)
    return normalize_bins(spectrogram, epsilon, mask)


def masked_time_mean(x, lengths):
    """apool6 over the valid time positions: ``[batch, 1, width, c]`` -> ``[batch, 1, 1, c]``."""
    mask = time_mask(lengths, ops.shape(x)[_TIME_AXIS], 4, x.dtype)
    count = ops.reshape(ops.cast(lengths, x.dtype), (-1, 1, 1, 1))
    return ops.sum(x * mask, axis=(1, 2), keepdims=True) / count


def _check_maskable(student) -> None:
    if not isinstance(student, VGGMStudent):
        raise ValueError(
            f"MaskedStudent takes a VGGMStudent; received a {type(student).__name__}."
        )
    if not student.normalize_input:
        raise ValueError(
            "MaskedStudent needs a student that normalises its own input "
            "(normalize_input=True): a per-bin normalisation done before the student sees the "
            "padding of a batch, so padded clips would not get their own answer. Received a "
            "student with normalize_input=False; run its clips one at a time instead."
        )


def _plan(student) -> list[tuple[str, object, str | None]]:
    """``[(action, layer, stage)]`` for the student's layers in order: ``"normalize"``,
    ``"pool"`` or ``"run"``, and for a layer that ends a `TRUNK` stage, that stage's name."""
    ends = {stage_end(name): name for name, *_ in TRUNK}
    plan = []
    for layer in student.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if isinstance(layer, PerBinNormalization):
            plan.append(("normalize", layer, None))
        elif isinstance(layer, layers.GlobalAveragePooling2D) and layer.name == "apool6":
            plan.append(("pool", layer, None))
        elif isinstance(layer, _FRAME_BY_FRAME):
            plan.append(("run", layer, ends.get(layer.name)))
        else:
            raise ValueError(
                f"MaskedStudent does not know how the student's layer {layer.name!r} "
                f"({type(layer).__name__}) treats padded frames; it supports the layers "
                "VGGMStudent builds."
            )
    missing = sorted(set(ends) - {layer.name for _, layer, _ in plan})
    if missing or not any(action == "pool" for action, _, _ in plan):
        raise ValueError(
            f"The student lacks the trunk layers {missing or ['apool6']} that MaskedStudent "
            "masks; it supports the layers VGGMStudent builds."
        )
    return plan


@keras.saving.register_keras_serializable(package="kerasemo")
class MaskedStudent(layers.Layer):
    """A trained `VGGMStudent` on zero-padded batches with each clip's valid frame count.

    Equal, to float32 rounding, to running each clip alone without padding (see the module
    docstring for how). The student's own layers are called, so the weights are shared.

    Args:
        student: a `VGGMStudent` with ``normalize_input=True``.
        **kwargs: standard `keras.layers.Layer` arguments.

    Call arguments:
        spectrogram: float ``[batch, input_bins, width]`` linear magnitudes, each row's clip in
            its first frames (what lies beyond a row's count is ignored).
        frames: int ``[batch]`` valid frames per row, at most ``width`` (larger counts are
            taken as ``width``); a count below `MIN_INPUT_FRAMES` is taken as the minimum, the
            clip zero-padded to it as when it runs alone. A batch narrower than the minimum is
            zero-padded to it.

    Returns:
        float32 ``[batch, num_classes]`` logits.

    Raises:
        ValueError: for a student other than a `VGGMStudent`, or one that does not normalise
            its own input.

    Example:

    >>> masked = MaskedStudent(VGGMStudent(input_bins=257, mirror_input=True))  # doctest: +SKIP
    >>> masked(padded_spectrograms, frames)  # doctest: +SKIP
    """

    def __init__(self, student, **kwargs):
        super().__init__(**kwargs)
        _check_maskable(student)
        self.student = student
        self._steps = _plan(student)

    def call(self, spectrogram, frames):
        x = ops.cast(spectrogram, "float32")
        width = ops.shape(x)[_TIME_AXIS]
        frames = ops.clip(ops.cast(frames, "int32"), 0, width)
        x = x * time_mask(frames, width, 3, x.dtype)
        x = ops.pad(x, ((0, 0), (0, 0), (0, ops.maximum(MIN_INPUT_FRAMES - width, 0))))
        frames = ops.maximum(frames, MIN_INPUT_FRAMES)
        lengths = trunk_time_lengths(frames)
        for action, layer, stage in self._steps:
            if action == "normalize":
                x = masked_normalization(x, frames, layer.epsilon)
            elif action == "pool":
                x = masked_time_mean(x, lengths["mpool5"])
            else:
                x = layer(x, training=False)
                if stage is not None:
                    x = x * time_mask(lengths[stage], ops.shape(x)[_TIME_AXIS], 4, x.dtype)
        return ops.cast(x, "float32")

    def compute_output_shape(self, spectrogram_shape, frames_shape):
        return (spectrogram_shape[0], self.student.num_classes)

    def get_config(self):
        config = super().get_config()
        config["student"] = keras.saving.serialize_keras_object(self.student)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["student"] = keras.saving.deserialize_keras_object(config["student"])
        return cls(**config)
