"""Labellers: where a track's frame logits come from (a face teacher, or the released file).

`TeacherLabeller` runs a face teacher over the labelled frames' face crops, in batches;
`FileLabeller` looks the logits up in the authors' released file (`load_emovox_logits`), so no
frame is decoded. A labeller's ``fingerprint`` goes into ``plan.json``, so a resumed build
with another teacher or file is refused.

Example:

>>> import numpy as np
>>> labeller = TeacherLabeller(None, lambda teacher, crops, batch_size: np.zeros((len(crops), 8)))
>>> labeller.predict([np.zeros((16, 16, 3), np.uint8)] * 3).shape
(3, 8)
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from kerasemo import emotions
from kerasemo.checks import check_positive_int
from kerasemo.config import ExperimentConfig
from kerasemo.data.emovox_logits import EmoVoxLogits
from kerasemo.fingerprints import file_sha256


class TeacherLabeller:
    """Labels face crops with a teacher model, in batches.

    Args:
        teacher: the model (anything `predict_fn` accepts).
        predict_fn: ``predict_fn(teacher, crops, batch_size=...) -> float32 [N, 8]`` taking a
            list of uint8 RGB crops of any size (resizing is its job). Defaults to
            `kerasemo.models.teacher_inference.predict_frame_logits`, which feeds 0-255 RGB to
            a model that normalises its input itself.
        batch_size: crops per teacher call.
        fingerprint: identifies the teacher in ``plan.json`` (e.g. its file's SHA-256).

    Example:

    >>> labeller = load_teacher_labeller("teacher.keras", config)  # doctest: +SKIP
    >>> labeller.predict(crops).shape  # doctest: +SKIP
    (7, 8)
    >>> TeacherLabeller.needs_frames
    True
    """

    needs_frames = True

    def __init__(
        self,
        teacher,
        predict_fn: Callable | None = None,
        *,
        batch_size: int = 64,
        fingerprint: str = "",
    ):
        if predict_fn is None:
            from kerasemo.models.teacher_inference import (
                predict_frame_logits as predict_fn,
            )
        self.teacher = teacher
        self.predict_fn = predict_fn
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.fingerprint = {"kind": "teacher", "id": fingerprint}

    def predict(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """float32 ``[len(crops), 8]`` logits of uint8 RGB crops."""
        logits = np.asarray(
            self.predict_fn(self.teacher, list(crops), batch_size=self.batch_size), np.float32
        )
        if logits.shape != (len(crops), emotions.NUM_CLASSES):
            raise ValueError(
                f"The teacher returned logits of shape {logits.shape} for {len(crops)} crops; "
                f"expected ({len(crops)}, {emotions.NUM_CLASSES})."
            )
        return logits


class FileLabeller:
    """Frame logits read from the authors' released file (`load_emovox_logits`); no teacher.

    Args:
        logits: the loaded file.
        fingerprint: identifies the file in ``plan.json`` (e.g. its SHA-256).

    Example:

    >>> logits = load_emovox_logits("senet50-ferplus-logits.mat")  # doctest: +SKIP
    >>> labeller = FileLabeller(logits, fingerprint="the file's sha256")  # doctest: +SKIP
    >>> FileLabeller.needs_frames
    False
    """

    needs_frames = False

    def __init__(self, logits: EmoVoxLogits, *, fingerprint: str = ""):
        self.logits = logits
        self.fingerprint = {"kind": "logits", "id": fingerprint}
        self.logits_index: dict[str, int] = {}  # set by `plan_build`

    def subset(self, track_ids: Iterable[str]) -> FileLabeller:
        """A labeller holding only these planned tracks' entries (what one worker needs).

        Raises:
            KeyError: for a track id that `plan_build` did not match to an entry.
        """
        track_ids = list(track_ids)
        indices = [self.logits_index[t] for t in track_ids]
        source = self.logits

        def pick(values):
            return None if values is None else [values[i] for i in indices]

        part = dataclasses.replace(
            source,
            names=pick(source.names),
            logits=pick(source.logits),
            sets=None if source.sets is None else np.asarray(source.sets)[indices],
            frame_times=pick(source.frame_times),
            videos=pick(source.videos),
            tracks=pick(source.tracks),
        )
        subset = FileLabeller(part)
        subset.fingerprint = dict(self.fingerprint)
        subset.logits_index = {t: i for i, t in enumerate(track_ids)}
        return subset


def load_teacher_labeller(
    path: str | os.PathLike, config: ExperimentConfig, *, batch_size: int = 64
) -> TeacherLabeller:
    """Loads a teacher (`kerasemo.models.teacher.load_teacher`) and wraps it for the builder.

    Args:
        path: the teacher: a ``.keras`` model, or ``.weights.h5`` weights for the teacher that
            ``config.teacher`` describes.
        config: the experiment configuration.
        batch_size: crops per teacher call.

    Returns:
        A `TeacherLabeller` whose fingerprint is the file's SHA-256.

    Raises:
        FileNotFoundError: if `path` does not exist.
        kerasemo.models.teacher.TeacherWeightsError: if the file does not hold an 8-way teacher
            (or weights that fit ``config.teacher``).

    Example:

    >>> labeller = load_teacher_labeller("saved_models/teacher.keras", config)  # doctest: +SKIP
    >>> labeller.fingerprint["kind"]  # doctest: +SKIP
    'teacher'
    """
    path = pathlib.Path(path)
    if not path.exists():
        raise FileNotFoundError(f"Teacher file not found: '{path}'.")
    from kerasemo.models.teacher import load_teacher
    from kerasemo.models.teacher_inference import predict_frame_logits

    teacher = load_teacher(path, config.teacher)
    return TeacherLabeller(
        teacher, predict_frame_logits, batch_size=batch_size, fingerprint=file_sha256(path)
    )
