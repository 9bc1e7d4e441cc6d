"""Deployable heads: a probe head saved by ``probe --save-head``, built into the exports.

A head folder (`kerasemo.evaluation.probing.save_probe_head`) holds a `LinearProbe` fitted on
the student's 8 logits for one labelled set, and its class names. `load_export_head` reads it
and checks that it fits the student (as many input features as the student has logits); the
exports then add two outputs beside the logits (`HEAD_PROBABILITIES`, ``[batch, K]`` float32,
the head's classes in its order, and `LABEL`, ``[batch]`` string, the most probable class) and
the SavedModel records the class names (`HEAD_CLASSES_FUNCTION`). `head_card` is the model
card's ``"head"`` section; it says whether the head was fitted on the very student exported
(its recorded fingerprint), and a warning is logged when it was not.

Example:

>>> head = load_export_head("runs/heads/rml", student)  # doctest: +SKIP
>>> head.classes  # doctest: +SKIP
('anger', 'disgust', 'fear', 'happiness', 'sadness', 'surprise')
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import pathlib
from collections.abc import Collection, Mapping
from typing import Any

import numpy as np

from kerasemo.export.contract import HEAD_PROBABILITIES, LABEL, ExportError

logger = logging.getLogger("kerasemo.export")


@dataclasses.dataclass(frozen=True)
class ExportHead:
    """A probe head checked against the student it is exported with.

    Attributes:
        probe: the fitted `kerasemo.models.probe.LinearProbe` (student logits -> K
            probabilities).
        classes: its K class names, index i = output column i.
        info: the head's ``probe_head.json`` (dataset, clip count, student fingerprint).
        directory: the head folder it was read from.
    """

    probe: Any
    classes: tuple[str, ...]
    info: Mapping[str, Any]
    directory: pathlib.Path


def load_export_head(directory: str | os.PathLike, student: Any) -> ExportHead:
    """Reads a head folder written by ``probe --save-head`` and checks it fits `student`.

    Args:
        directory: the folder holding ``probe_head.keras`` and ``probe_head.json``.
        student: the `VGGMStudent` it will be exported with.

    Returns:
        An `ExportHead`.

    Raises:
        FileNotFoundError: if the folder or one of its two files is missing.
        ExportError: if it is not a probe head, or takes another number of features than the
            student has logits.

    Example:

    >>> load_export_head("runs/heads/rml", student).classes  # doctest: +SKIP
    """
    from kerasemo.models.probe_head import HEAD_INFO_FILE, load_probe_head

    directory = pathlib.Path(directory)
    try:
        probe, classes = load_probe_head(directory)
    except ValueError as err:
        raise ExportError(f"Cannot export with the head in '{directory}': {err}") from err
    features = int(probe.affine.kernel.shape[0])
    if features != student.num_classes:
        raise ExportError(
            f"The head in '{directory}' takes {features} features, but the student outputs "
            f"{student.num_classes} logits. A head is fitted on the student's logits: fit it "
            "again with `python -m kerasemo.experiments.probe --student <this student.keras> "
            "--save-head DIR`."
        )
    info = json.loads((directory / HEAD_INFO_FILE).read_text(encoding="utf-8"))
    return ExportHead(probe=probe, classes=tuple(classes), info=info, directory=directory)


def head_labels(probabilities, classes: Collection[str]):
    """The most probable class name of each row: ``tf.gather(classes, argmax)`` (TFLite builtins).

    Args:
        probabilities: ``[batch, K]`` float tensor.
        classes: the K class names.

    Returns:
        A ``[batch]`` ``tf.string`` tensor.
    """
    import tensorflow as tf

    names = tf.constant(list(classes), dtype=tf.string)
    return tf.gather(names, tf.argmax(probabilities, axis=-1, output_type=tf.int32))


def label_strings(values) -> np.ndarray:
    """Labels as a NumPy ``str`` array (runtimes return them as ``bytes``).

    Example:

    >>> label_strings([b"calm", "angry"]).tolist()
    ['calm', 'angry']
    """
    flat = np.asarray(values, dtype=object).reshape(-1)
    return np.array([v.decode() if isinstance(v, bytes) else str(v) for v in flat], dtype=str)


def with_label(outputs: Mapping[str, Any], head: ExportHead | None) -> dict:
    """`outputs` plus `LABEL` (from `HEAD_PROBABILITIES`) when there is a head."""
    outputs = dict(outputs)
    if head is not None:
        outputs[LABEL] = head_labels(outputs[HEAD_PROBABILITIES], head.classes)
    return outputs


def head_card(head: ExportHead, student_fingerprints: Collection[str]) -> dict:
    """The model card's ``"head"`` section; logs a warning if the head is another student's.

    Args:
        head: the exported head.
        student_fingerprints: the exported student's fingerprints (SHA-256 of its file, and of
            its config and weights, as ``probe --save-head`` records one or the other).

    Returns:
        ``{"classes", "dataset", "num_clips", "student_sha256", "matches_student",
        "outputs"}``.
    """
    recorded = str(head.info.get("student_sha256", ""))
    matches = bool(recorded) and recorded in set(student_fingerprints)
    if not matches:
        logger.warning(
            "The head in %s was fitted on another student (fingerprint %s, not the exported "
            "student's): its labels may be meaningless. Fit it again on this student's "
            "logits (probe --save-head).",
            head.directory,
            recorded[:12] or "not recorded",
        )
    return {
        "classes": list(head.classes),
        "dataset": head.info.get("dataset", ""),
        "num_clips": head.info.get("num_clips"),
        "student_sha256": recorded,
        "matches_student": matches,
        "outputs": {
            HEAD_PROBABILITIES: f"[batch, {len(head.classes)}] float32, class order as "
            "`classes`",
            LABEL: "[batch] string, the class with the highest head probability",
        },
    }
