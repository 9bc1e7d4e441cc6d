"""What every exported model promises: names, shapes, variants, tolerances and file names.

Example:

>>> OUTPUT_NAMES
('logits', 'probabilities', 'embedding')
>>> tflite_filename("int8")
'kerasemo_int8.tflite'
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kerasemo.audio.reference import CROP_SAMPLES, SAMPLE_RATE, num_samples_for_frames
from kerasemo.models.student import MIN_INPUT_FRAMES

__all__ = [
    "DEFAULT_VERSION",
    "ExportError",
    "HEAD_CLASSES_FUNCTION",
    "HEAD_PROBABILITIES",
    "LABEL",
    "LENGTHS_SIGNATURE",
    "LENGTH_INPUT",
    "MIN_SAMPLES",
    "MODEL_CARD",
    "OUTPUT_NAMES",
    "PARITY_TOLERANCE",
    "SAMPLE_RATE",
    "SAVED_MODEL_CLI_TEXT",
    "SPECTROGRAM_SIGNATURE",
    "TFLITE_BATCH",
    "TFLITE_VARIANTS",
    "WAVEFORM_INPUT",
    "WAVEFORM_SIGNATURE",
    "WINDOW_FUNCTION",
    "WINDOW_SAMPLES",
    "check_variant",
    "padded_batch",
    "tflite_filename",
]

WINDOW_SAMPLES = CROP_SAMPLES
"""The paper's 4.024 s training crop (64,384 samples, 400 frames): the fixed window of a student
whose own configuration and run do not name a crop length (see `kerasemo.export.model_window`)."""
MIN_SAMPLES = num_samples_for_frames(MIN_INPUT_FRAMES)
"""Shortest waveform the student can pool: 10,320 samples (0.645 s, 63 frames)."""
OUTPUT_NAMES = ("logits", "probabilities", "embedding")
"""Named outputs of every signature, each ``[batch, 8]`` float32."""
HEAD_PROBABILITIES = "head_probabilities"
"""Output of an export with a probe head: ``[batch, K]`` float32, the head's classes in order."""
LABEL = "label"
"""Output of an export with a probe head: ``[batch]`` string, the most probable head class."""
WAVEFORM_INPUT = "waveform"
"""Input of the waveform signatures: ``[batch, samples]`` float32, 16 kHz mono."""
LENGTH_INPUT = "length"
"""Input of `LENGTHS_SIGNATURE` and of the TFLite models: ``[batch]`` int32 valid samples."""
WAVEFORM_SIGNATURE = "serving_default"
LENGTHS_SIGNATURE = "waveforms_with_lengths"
"""SavedModel signature taking a zero-padded batch (`WAVEFORM_INPUT`) and each clip's valid
samples (`LENGTH_INPUT`): every clip gets the outputs it gets alone."""
SPECTROGRAM_SIGNATURE = "spectrogram"
WINDOW_FUNCTION = "window_samples"
"""Attribute of an exported SavedModel: a function of no inputs returning its window (int64)."""
HEAD_CLASSES_FUNCTION = "head_classes"
"""Attribute of a SavedModel exported with a head: a function of no inputs returning the
head's class names (a string vector, index i = column i of `HEAD_PROBABILITIES`)."""
TFLITE_VARIANTS = ("float32", "float16", "int8")
"""TFLite variants: float32, float16 weights, dynamic-range int8 (int8 weights)."""
TFLITE_BATCH = 1
"""Batch size of the TFLite models (fixed, like the window)."""
PARITY_TOLERANCE = 1e-4
"""Largest allowed float32 deviation from Keras (probabilities; logits relative to their scale)."""
MODEL_CARD = "model_card.json"
SAVED_MODEL_CLI_TEXT = "saved_model_cli.txt"
DEFAULT_VERSION = 1


class ExportError(RuntimeError):
    """An export step failed: the student cannot be loaded or converted, or parity fails."""


def tflite_filename(variant: str) -> str:
    """File name of a TFLite variant inside an export folder (``kerasemo_<variant>.tflite``)."""
    check_variant(variant)
    return f"kerasemo_{variant}.tflite"


def check_variant(variant: str) -> str:
    """Returns `variant` if it is one of `TFLITE_VARIANTS`, else raises ValueError.

    Example:

    >>> check_variant("float16")
    'float16'
    """
    if variant not in TFLITE_VARIANTS:
        raise ValueError(
            f"Unknown TFLite variant {variant!r}; choose from {', '.join(TFLITE_VARIANTS)} "
            "(int8 is dynamic-range quantisation)."
        )
    return variant


def padded_batch(clips: Sequence[np.ndarray], width: int | None = None):
    """Zero-pads clips of different lengths into one batch: ``(batch [n, width], lengths [n])``.

    Each length is the clip's own number of samples (the exported graphs count a clip shorter
    than `MIN_SAMPLES` as that many themselves).

    Args:
        clips: 1-D float arrays.
        width: the batch's width (a fixed-window model's window); None: the longest clip.

    Returns:
        ``(batch, lengths)``: float32 ``[n, width]`` and int32 ``[n]``.

    Raises:
        ValueError: if `clips` is empty or a clip is longer than `width`.

    Example:

    >>> batch, lengths = padded_batch([np.ones(3), np.ones(5)])
    >>> batch.shape, lengths.tolist()
    ((2, 5), [3, 5])
    """
    if not len(clips):
        raise ValueError("A batch needs at least one clip; received none.")
    lengths = np.array([len(clip) for clip in clips], np.int32)
    width = int(lengths.max()) if width is None else int(width)
    if lengths.max() > width:
        raise ValueError(
            f"A clip of {int(lengths.max())} samples does not fit a batch {width} samples wide; "
            "cut it into windows first."
        )
    batch = np.zeros((len(clips), width), np.float32)
    for row, clip in enumerate(clips):
        batch[row, : len(clip)] = clip
    return batch, lengths
