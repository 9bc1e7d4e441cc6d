"""Student embeddings of the probe: the student's logits on each full-length utterance.

The paper: "we use the full speech segment". Each clip is decoded, turned into the student's
spectrogram and padded only as far as the student needs (`pad_for_student`); clips of equal
length share a batch, so each is seen exactly as on its own.

Example:

```python
student = load_model("runs/distill/student.keras")
embeddings = compute_student_embeddings(student, ["clip1.wav", "clip2.wav"])
embeddings.features.shape  # (2, 8)
```
"""

from __future__ import annotations

import os
import pathlib
import time
from collections.abc import Sequence

import numpy as np

from kerasemo.evaluation.probing.cache import FeatureSet
from kerasemo.progress import progress_bar

EMBEDDING_VERSION = "student-v1"


def load_model(model):
    """Returns `model` itself, or loads a ``.keras`` file (kerasemo's classes registered).

    Args:
        model: a Keras model, or the path of a ``.keras`` file.

    Raises:
        FileNotFoundError: if the file does not exist.
        ModelFileError: (a ValueError) if it is not a whole ``.keras`` archive kerasemo can
            load (`kerasemo.models.loading`).

    Example:

    >>> load_model("student.h5")
    Traceback (most recent call last):
    ...
    FileNotFoundError: No model file at 'student.h5'.
    """
    if not isinstance(model, (str, os.PathLike)):
        return model
    from kerasemo.models.loading import load_keras_model

    return load_keras_model(model)


def student_input_spec(student) -> dict:
    """How to feed a student: its input bins (512 or 257), whether it normalises, min frames.

    Args:
        student: a Keras model ``[batch, 512 or 257, frames] -> [batch, C]``.

    Returns:
        ``{"bins", "mirror", "normalize_outside", "min_frames", "fixed_frames"}``.

    Raises:
        ValueError: for a model whose input is not ``[batch, 512 or 257, frames]``.

    Example:

    >>> import keras
    >>> inputs = keras.Input((257, None))
    >>> student_input_spec(keras.Model(inputs, keras.layers.GlobalMaxPooling1D()(inputs)))["bins"]
    257
    """
    from kerasemo.models.student import MIN_INPUT_FRAMES

    shape = tuple(student.inputs[0].shape) if getattr(student, "inputs", None) else ()
    if len(shape) != 3 or shape[1] not in (257, 512):
        raise ValueError(
            "The student must take [batch, bins, frames] spectrograms with 512 (mirrored) or 257 "
            f"(rfft) bins; received a model with input shape {shape}."
        )
    return {
        "bins": int(shape[1]),
        "mirror": int(shape[1]) == 512,
        "normalize_outside": not bool(getattr(student, "normalize_input", True)),
        "min_frames": int(getattr(student, "min_input_frames", MIN_INPUT_FRAMES)),
        "fixed_frames": shape[2],
    }


def pad_for_student(
    spectrogram: np.ndarray, *, min_frames: int | None = None, fixed_frames: int | None = None
) -> np.ndarray:
    """The one padding rule for student inputs: zero-pad on the right to the length it needs.

    A clip shorter than the student's minimum (`kerasemo.models.student.MIN_INPUT_FRAMES`, 63
    frames: the shortest input its pooling accepts) is zero-padded to it; a longer one is left
    as it is (the full utterance). A student built for a fixed number of frames gets exactly
    that many (longer clips are cut, shorter ones padded).

    Args:
        spectrogram: `[bins, frames]`.
        min_frames: the student's minimum length (default `MIN_INPUT_FRAMES`).
        fixed_frames: the student's fixed input length, or None for any length.

    Returns:
        `[bins, frames']` with ``frames' = fixed_frames`` or ``max(frames, min_frames)``.

    Example:

    >>> pad_for_student(np.ones((257, 28), np.float32)).shape
    (257, 63)
    >>> pad_for_student(np.ones((257, 100), np.float32), fixed_frames=80).shape
    (257, 80)
    """
    if min_frames is None:
        from kerasemo.models.student import MIN_INPUT_FRAMES

        min_frames = MIN_INPUT_FRAMES
    spectrogram = np.asarray(spectrogram)
    if spectrogram.ndim != 2:
        raise ValueError(
            f"pad_for_student expects one [bins, frames] spectrogram; received shape "
            f"{spectrogram.shape}."
        )
    if fixed_frames is not None:
        target = int(fixed_frames)
        spectrogram = spectrogram[:, :target]
    else:
        target = max(spectrogram.shape[1], int(min_frames))
    if spectrogram.shape[1] < target:
        spectrogram = np.pad(spectrogram, ((0, 0), (0, target - spectrogram.shape[1])))
    return spectrogram


class _LengthBatcher:
    """Groups spectrograms of (nearly) equal length and runs the student on each group."""

    def __init__(self, student, bins, features, valid, batch_frames, max_pad_fraction):
        self.student, self.bins = student, bins
        self.features, self.valid = features, valid
        self.batch_frames, self.max_pad_fraction = batch_frames, max_pad_fraction
        self.pending: list[tuple[int, np.ndarray]] = []

    def add(self, index: int, spectrogram: np.ndarray) -> None:
        frames = spectrogram.shape[1]
        if self.pending:
            longest = max(max(s.shape[1] for _, s in self.pending), frames)
            shortest = min(min(s.shape[1] for _, s in self.pending), frames)
            fits = (longest - shortest) <= self.max_pad_fraction * longest
            if not (fits and (len(self.pending) + 1) * longest <= self.batch_frames):
                self.flush()
        self.pending.append((index, spectrogram))
        if len(self.pending) * frames >= self.batch_frames:
            self.flush()

    def flush(self) -> None:
        from kerasemo.models.calls import predict_batch

        if not self.pending:
            return
        frames = max(s.shape[1] for _, s in self.pending)
        batch = np.zeros((len(self.pending), self.bins, frames), np.float32)
        for row, (_, spectrogram) in enumerate(self.pending):
            batch[row, :, : spectrogram.shape[1]] = spectrogram
        logits = predict_batch(self.student, batch)
        for row, (index, _) in enumerate(self.pending):
            self.features[index] = logits[row]
            self.valid[index] = True
        self.pending.clear()


def compute_student_embeddings(
    student,
    paths: Sequence[str],
    *,
    durations: Sequence[float] | None = None,
    batch_frames: int = 4000,
    max_pad_fraction: float = 0.0,
    progress: bool = True,
) -> FeatureSet:
    """Runs the student on each full-length utterance: `[N, num_classes]` logits.

    Each file is decoded to 16 kHz mono (`load_audio`), turned into the recipe's linear
    magnitude spectrogram (`VGGVoxSpectrogram`, no dither, 512 bins if the student takes 512,
    257 if it takes 257; not normalised when the student normalises inside) and padded by
    `pad_for_student`. Clips are processed in order of length and batched while the batch holds
    at most `batch_frames` frames; by default only clips with the same number of frames share a
    batch (``max_pad_fraction=0``), so every clip is seen exactly as on its own (padding changes
    the per-bin normalisation and the average pool). ``max_pad_fraction=0.05`` lets clips within
    5 % of each other's length be padded into one batch (faster on an accelerator, approximate).

    Args:
        student: a Keras model ``[batch, bins, frames] -> [batch, C]``.
        paths: audio or video files.
        durations: optional seconds per file (used only to order the work).
        batch_frames: frames per batch at most (a single longer clip runs alone).
        max_pad_fraction: see above.
        progress: show a progress bar (drawn only on a terminal).

    Returns:
        A `FeatureSet`; files that fail to decode are invalid, with the error message.

    Example:

    >>> compute_student_embeddings(student, ["a.wav"]).features.shape  # doctest: +SKIP
    (1, 8)
    """
    import keras

    from kerasemo.audio import AudioDecodeError, VGGVoxSpectrogram, load_audio

    spec = student_input_spec(student)
    frontend = VGGVoxSpectrogram(mirror=spec["mirror"], normalize=spec["normalize_outside"])
    count = len(paths)
    features = np.zeros((count, int(student.outputs[0].shape[-1])), np.float32)
    valid = np.zeros(count, bool)
    errors: dict[int, str] = {}
    if durations is None:
        order = np.arange(count)
    else:
        lengths = np.nan_to_num(np.asarray(durations, np.float64), nan=0.0)
        order = np.argsort(lengths, kind="stable")
    batcher = _LengthBatcher(student, spec["bins"], features, valid, batch_frames, max_pad_fraction)
    start = time.perf_counter()
    bar = progress_bar(total=count, enabled=progress, desc="student embeddings", unit="clip", leave=False)
    for index in order:
        bar.update(1)
        try:
            waveform = load_audio(paths[index])
        except (AudioDecodeError, FileNotFoundError) as err:
            errors[int(index)] = str(err).split("\n")[0]
            continue
        spectrogram = keras.ops.convert_to_numpy(frontend(waveform[None, :]))[0]
        batcher.add(
            int(index),
            pad_for_student(
                spectrogram, min_frames=spec["min_frames"], fixed_frames=spec["fixed_frames"]
            ),
        )
    batcher.flush()
    bar.close()
    return FeatureSet(features, valid, errors, seconds=time.perf_counter() - start)
