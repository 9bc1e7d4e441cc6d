"""Frames to tracks: run the teacher over face crops, and pool a track's frame logits.

`frame_index_for_time` lives in `kerasemo.data.frames` and is re-exported here.

Frames to tracks (the paper's section 4 labels face-track frames "at an interval of 0.24
seconds"): VoxCeleb video is 25 fps and one frame in every 6 is labelled. The authors index the
labelled frames from 1: the frame of time t (in seconds) is ``floor(max(25 t - 1, 0) / 6) + 1``
(`frame_index_for_time`). Under that formula 1-based video frame v is the one shown at
t = v / 25, and labelled frame k is video frame ``6 (k - 1) + 1``, at ``t = (6 (k - 1) + 1) /
25`` (`time_of_frame_index`, its inverse). A segment's target is the element-wise **max** (or
mean) of the frame logits inside its window (`aggregate_frame_logits`, `frame_window`).
Frame-level logits are kept so other aggregations stay possible.

**Determinism.** `predict_frame_logits` runs the teacher through `kerasemo.models.predict_batch`:
one function traced once per model for every batch size (a fixed input signature), so a batch's
logits never depend on what ran before. Keras' ``predict_on_batch`` traces its first calls for their static batch
shapes and later ones for a relaxed shape, which changed logits in the last bits depending on
the order of the batches (a resumed EmoVoxCeleb build then differed from an uninterrupted
one).

Example:

>>> from kerasemo.models.teacher import load_teacher
>>> teacher = load_teacher("runs/teacher/teacher.keras", config.teacher)  # doctest: +SKIP
>>> logits = predict_frame_logits(teacher, crops)  # [F, 8], uint8 RGB crops  # doctest: +SKIP
>>> first, stop = frame_window(1.0, 5.0, num_frames=100)
>>> first, stop
(4, 21)
>>> aggregate_frame_logits(np.ones((stop - first, 8)), "max").shape
(8,)
"""

from __future__ import annotations


import numpy as np

from kerasemo.checks import check_positive_int
from kerasemo.data.frames import FRAME_STRIDE, VIDEO_FPS, frame_index_for_time

POOLING_METHODS: tuple[str, ...] = ("max", "mean")
DEFAULT_FPS = VIDEO_FPS
DEFAULT_STRIDE = FRAME_STRIDE


def _input_size(teacher) -> tuple[int, int]:
    shape = tuple(teacher.inputs[0].shape) if getattr(teacher, "inputs", None) else ()
    if len(shape) != 4 or shape[-1] != 3:
        raise ValueError(
            "The teacher must take [batch, height, width, 3] RGB images; received a model with "
            f"input shape {shape}."
        )
    if shape[1] is None or shape[2] is None:
        raise ValueError(
            f"The teacher's input size is not fixed (input shape {shape}); crops are resized to "
            "it, so build the teacher with a fixed input_size."
        )
    return int(shape[1]), int(shape[2])


def _as_crops(images):
    """A sequence of crops of any sizes -> list of [H, W, 3] float32 arrays."""
    crops = []
    for index, crop in enumerate(images):
        crop = np.asarray(crop)
        if crop.ndim == 2:
            crop = crop[:, :, None]
        if crop.ndim != 3 or crop.shape[-1] not in (1, 3):
            raise ValueError(
                f"Face crop {index} has shape {crop.shape}; expected [height, width, 3] RGB "
                "(or [height, width] / [height, width, 1] grey) with values 0-255."
            )
        if crop.shape[-1] == 1:
            crop = np.repeat(crop, 3, axis=-1)
        crops.append(crop.astype(np.float32, copy=False))
    return crops


def _resized(batch: np.ndarray, height: int, width: int) -> np.ndarray:
    """One crop ``[H, W, 3]`` or a batch ``[N, H, W, 3]`` resized (bilinear) to the teacher."""
    from keras import ops

    if batch.shape[-3:-1] == (height, width):
        return batch
    return ops.convert_to_numpy(
        ops.image.resize(batch, (height, width), interpolation="bilinear", antialias=False)
    )


def predict_frame_logits(teacher, images, batch_size: int = 64) -> np.ndarray:
    """Runs the teacher over face crops and returns one row of logits per crop.

    Crops of any size are resized (bilinear) to the teacher's input size; grey crops are
    replicated to 3 channels. Values are 0-255 RGB (uint8 or float): the teacher subtracts its
    mean itself. The teacher runs through one traced function per teacher (see the module's
    *Determinism*), so the same batch gives the same logits whatever ran before.

    Args:
        teacher: a Keras model mapping `[batch, S, S, 3]` 0-255 RGB to `[batch, 8]` logits
            (e.g. from `kerasemo.models.teacher.load_teacher`).
        images: `[N, H, W, 3]` (or `[N, H, W]` grey) array, or a sequence of `[H_i, W_i, 3]`
            crops of different sizes.
        batch_size: crops per forward pass.

    Returns:
        `[N, num_classes]` float32 NumPy logits (`[0, num_classes]` for no crops).

    Raises:
        ValueError: for a crop that is not an image, or a teacher without a fixed RGB input.

    Example:

    >>> import keras
    >>> teacher = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Flatten(),
    ...                             keras.layers.Dense(8)])
    >>> crops = [np.zeros((20, 24, 3), "uint8"), np.zeros((16, 16), "uint8")]
    >>> predict_frame_logits(teacher, crops, batch_size=1).shape
    (2, 8)
    """
    check_positive_int(batch_size, "batch_size")
    height, width = _input_size(teacher)
    num_classes = int(teacher.outputs[0].shape[-1])
    if isinstance(images, np.ndarray):
        if images.ndim == 3:  # [N, H, W] grey
            images = images[..., None]
        if images.ndim != 4 or images.shape[-1] not in (1, 3):
            raise ValueError(
                "images must be [N, height, width, 3] RGB (or [N, height, width] grey) with "
                f"values 0-255, or a list of crops; received an array of shape {images.shape}."
            )
        crops = None
        count = len(images)
    else:
        crops = _as_crops(images)
        count = len(crops)
    if count == 0:
        return np.zeros((0, num_classes), np.float32)

    from kerasemo.models.calls import predict_batch  # one traced function per model

    outputs = []
    for start in range(0, count, batch_size):
        if crops is None:
            batch = np.asarray(images[start : start + batch_size], dtype=np.float32)
            if batch.shape[-1] == 1:
                batch = np.repeat(batch, 3, axis=-1)
            batch = _resized(batch, height, width)
        else:
            batch = np.stack(
                [_resized(crop, height, width) for crop in crops[start : start + batch_size]]
            )
        outputs.append(predict_batch(teacher, batch))
    return np.concatenate(outputs, axis=0)


def aggregate_frame_logits(frame_logits, method: str = "max"):
    """Pools a track's (or window's) frame logits into one vector: element-wise max or mean.

    Args:
        frame_logits: `[F, C]` logits of the frames inside the window (NumPy array or tensor).
        method: "max" (the paper: a per-emotion peak-frame approximation) or "mean".

    Returns:
        `[C]` pooled logits: a NumPy array for NumPy/list input, a backend tensor otherwise.

    Raises:
        ValueError: for an unknown method, a non-2-D input, or no frames (F = 0).

    Example:

    >>> aggregate_frame_logits([[1.0, -2.0], [0.5, 3.0]], "max").tolist()
    [1.0, 3.0]
    >>> aggregate_frame_logits([[1.0, -2.0], [0.5, 3.0]], "mean").tolist()
    [0.75, 0.5]
    """
    if method not in POOLING_METHODS:
        raise ValueError(
            f"method must be one of {POOLING_METHODS} (frames.pooling); received {method!r}."
        )
    is_numpy = isinstance(frame_logits, (np.ndarray, list, tuple))
    shape = np.shape(frame_logits) if is_numpy else tuple(frame_logits.shape)
    if len(shape) != 2:
        raise ValueError(f"frame_logits must be [frames, classes]; received shape {tuple(shape)}.")
    if shape[0] == 0:
        raise ValueError(
            "No frames to aggregate: the window holds no labelled frame (frame_logits has shape "
            f"{tuple(shape)}). Widen the window or skip this segment."
        )
    if is_numpy:
        logits = np.asarray(frame_logits, dtype=np.float32)
        return logits.max(axis=0) if method == "max" else logits.mean(axis=0)
    from keras import ops

    return ops.max(frame_logits, axis=0) if method == "max" else ops.mean(frame_logits, axis=0)


def time_of_frame_index(k, fps: float = DEFAULT_FPS, stride: int = DEFAULT_STRIDE):
    """Time in seconds of 1-based labelled frame `k`: ``(stride (k - 1) + 1) / fps``.

    The inverse of `frame_index_for_time`: ``frame_index_for_time(time_of_frame_index(k)) == k``;
    it is the time of the video frame the k-th labelled frame was taken from.

    Raises:
        ValueError: for k < 1.

    Example:

    >>> [round(time_of_frame_index(k), 2) for k in (1, 2, 5, 11)]
    [0.04, 0.28, 1.0, 2.44]
    """
    index = np.asarray(k)
    if np.any(index < 1):
        raise ValueError(f"Labelled-frame indices start at 1; received {k!r}.")
    times = (stride * (index.astype(np.float64) - 1.0) + 1.0) / fps
    return float(times) if times.ndim == 0 else times


def frame_window(
    start: float,
    end: float,
    num_frames: int,
    fps: float = DEFAULT_FPS,
    stride: int = DEFAULT_STRIDE,
) -> tuple[int, int]:
    """0-based `[first, stop)` rows of a track's frame logits inside the window `[start, end]`.

    The labelled frames from `frame_index_for_time(start)` to `frame_index_for_time(end)`
    (inclusive, 1-based), clipped to the `num_frames` the track has.

    Example:

    >>> frame_window(1.0, 2.5, num_frames=100)
    (4, 11)
    """
    if end < start:
        raise ValueError(f"Window end {end} s is before its start {start} s.")
    first = frame_index_for_time(start, fps, stride) - 1
    stop = frame_index_for_time(end, fps, stride)
    first, stop = min(first, num_frames), min(stop, num_frames)
    return int(first), int(max(first, stop))
