"""The VGG-M speech trunk's layer table (paper Table 4) and the input limits it implies.

This module needs neither TensorFlow nor NumPy, so the configuration can check a crop length
against the network without loading a framework. `kerasemo.models.VGGMStudent` is built from
the same table, so the limits below are the network's own.

Example:

>>> MIN_INPUT_FRAMES, MIN_NETWORK_BINS
(63, 97)
>>> trunk_output_size(512, 0), trunk_output_size(400, 1)  # Table 4: mpool5 is 9 x 11 for 512 x 400
(9, 11)
"""

from __future__ import annotations

TRUNK = (
    ("conv1", (7, 7), (2, 2), ((1, 1), (1, 1))),
    ("mpool1", (3, 3), (2, 2), ((0, 0), (0, 1))),
    ("conv2", (5, 5), (2, 2), ((1, 1), (1, 1))),
    ("mpool2", (3, 3), (2, 2), ((0, 0), (0, 0))),
    ("conv3", (3, 3), (1, 1), ((1, 1), (1, 1))),
    ("conv4", (3, 3), (1, 1), ((1, 1), (1, 1))),
    ("conv5", (3, 3), (1, 1), ((1, 1), (1, 1))),
    ("mpool5", (5, 3), (3, 2), ((0, 0), (0, 0))),
)
"""Spatial stages of the trunk, frequency (height) first, time (width) second.

Each row is ``(layer name, kernel, stride, ((pad_top, pad_bottom), (pad_left, pad_right)))``.
The padding reproduces the "output for 512x400" column of Table 4 exactly.
"""


def stage_output_size(length, kernel: int, stride: int, padding: tuple[int, int]):
    """Length after one `TRUNK` stage along one axis: ``(length + pads - kernel) // stride + 1``.

    Only operators, no branches, so `length` may be an int or an integer tensor of any
    framework (the masked student computes every row's valid length with it); a result below 1
    means the input was too short for the stage.

    Args:
        length: input length along the axis (int or integer tensor).
        kernel, stride: the stage's kernel size and stride along the axis.
        padding: the stage's (before, after) zero padding along the axis.

    Example:

    >>> stage_output_size(400, 7, 2, (1, 1))  # conv1 along time
    198
    """
    return (length + padding[0] + padding[1] - kernel) // stride + 1


def trunk_output_size(length: int, axis: int) -> int:
    """Length after ``mpool5`` along `axis` (0: frequency, 1: time); 0 means "too short".

    Every stage is "valid" after its explicit padding: ``out = floor((n + pads - k) / s) + 1``.

    Args:
        length: input length along the axis (frequency bins or spectrogram frames).
        axis: 0 for frequency, 1 for time.

    Example:

    >>> trunk_output_size(62, 1), trunk_output_size(63, 1)
    (0, 1)
    """
    for _, kernel, stride, padding in TRUNK:
        if length + sum(padding[axis]) < kernel[axis]:
            return 0
        length = stage_output_size(length, kernel[axis], stride[axis], padding[axis])
    return max(length, 0)


def _minimum_length(axis: int) -> int:
    length = 1
    while trunk_output_size(length, axis) < 1:
        length += 1
    return length


MIN_INPUT_FRAMES = _minimum_length(1)
"""Shortest time axis (spectrogram frames) that gives an output: 63 frames, i.e. 10,320
samples (``400 + 62 * 160``), about 0.65 s of 16 kHz audio. 62 frames leave only 2 columns for
mpool5's 3-wide window."""
MIN_NETWORK_BINS = _minimum_length(0)
"""Smallest network height (frequency bins after the optional mirroring) that leaves at least
one row for fc6: 97 bins."""
