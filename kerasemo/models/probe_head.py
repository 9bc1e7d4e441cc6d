"""The saved probe head: a linear probe fitted on every clip of a labelled set, on disk.

Cross-validation (`kerasemo.evaluation.probing`) measures how well the student's 8 outputs
predict a set's labels; the head is the same probe fitted once on all clips, so that export
(`kerasemo.export`) or inference (`kerasemo.inference`) can attach it to the student and name
the set's classes. This module owns the folder's format, which all three read or write.

Saved format (folder `directory`):

- ``probe_head.keras``: a `kerasemo.models.probe.LinearProbe` (``[batch, 8]`` student logits
  of the full utterance -> ``[batch, K]`` probabilities; the input standardisation is part of
  the model, so raw student logits go in). Load it with `keras.saving.load_model` once
  `kerasemo.models` is imported (or with `load_probe_head`).
- ``probe_head.json``: ``{"format": "kerasemo-probe-head", "version": 1, "class_names": [K
  names, index i = output i], "dataset", "num_clips", "class_counts", "input": "student
  logits", "num_features": 8, "student_sha256": SHA-256 of the student file it was fitted on
  (or of its config and weights), "model_file": "probe_head.keras"}``.

Example:

```python
probe, class_names = load_probe_head("runs/heads/rml")
probabilities = probe.predict_proba(student_logits)   # [N, K], columns named by class_names
```
"""

from __future__ import annotations

import json
import os
import pathlib
from collections.abc import Sequence

import keras
import numpy as np

from kerasemo.models.probe import LinearProbe

HEAD_MODEL_FILE = "probe_head.keras"
"""The fitted `LinearProbe` in a head folder."""
HEAD_INFO_FILE = "probe_head.json"
"""The head's description: class names, the set it was fitted on, the student's fingerprint."""
HEAD_FORMAT = "kerasemo-probe-head"
"""``probe_head.json``'s ``"format"``: what `load_probe_head` checks it is reading."""
HEAD_VERSION = 1
"""Version of ``probe_head.json``'s structure."""


def save_probe_head(
    features,
    labels,
    class_names: Sequence[str],
    directory: str | os.PathLike,
    *,
    dataset: str = "",
    student_sha256: str = "",
) -> dict[str, str]:
    """Fits a `LinearProbe` on all `features` and saves it with its class names.

    Args:
        features: `[N, D]` student logits.
        labels: `[N]` integer labels, index i meaning ``class_names[i]``.
        class_names: the K class names.
        directory: the folder to write (created).
        dataset: the set's name (recorded).
        student_sha256: fingerprint of the student the features came from (recorded).

    Returns:
        ``{"head_keras": path, "head_json": path}``.

    Example:

    >>> import tempfile
    >>> x = np.r_[np.zeros((4, 2)), np.ones((4, 2))]; y = np.r_[np.zeros(4), np.ones(4)].astype(int)
    >>> files = save_probe_head(x, y, ["calm", "angry"], tempfile.mkdtemp())
    >>> sorted(files)
    ['head_json', 'head_keras']
    """
    features = np.asarray(features, np.float32)
    labels = np.asarray(labels, np.int64)
    class_names = [str(name) for name in class_names]
    probe = LinearProbe(num_classes=len(class_names), class_names=class_names)
    probe.fit(features, labels)
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    probe.save(directory / HEAD_MODEL_FILE)
    counts = np.bincount(labels, minlength=len(class_names))
    info = {
        "format": HEAD_FORMAT,
        "version": HEAD_VERSION,
        "class_names": class_names,
        "dataset": dataset,
        "num_clips": int(len(labels)),
        "class_counts": {name: int(n) for name, n in zip(class_names, counts, strict=True)},
        "input": "student logits",
        "num_features": int(features.shape[1]),
        "student_sha256": student_sha256,
        "model_file": HEAD_MODEL_FILE,
    }
    (directory / HEAD_INFO_FILE).write_text(json.dumps(info, indent=2), encoding="utf-8")
    return {"head_keras": str(directory / HEAD_MODEL_FILE), "head_json": str(directory / HEAD_INFO_FILE)}


def load_probe_head(directory: str | os.PathLike):
    """Loads a head written by `save_probe_head`.

    Args:
        directory: the folder holding ``probe_head.keras`` and ``probe_head.json``.

    Returns:
        ``(probe, class_names)``: the `LinearProbe` and its K class names.

    Raises:
        FileNotFoundError: if either file is missing.
        ValueError: if the JSON is not a probe head's, or its class names disagree with the model.

    Example:

    >>> probe, names = load_probe_head("runs/heads/rml")  # doctest: +SKIP
    """
    directory = pathlib.Path(directory)
    for name in (HEAD_MODEL_FILE, HEAD_INFO_FILE):
        if not (directory / name).is_file():
            raise FileNotFoundError(
                f"{directory / name} does not exist; a probe head folder holds {HEAD_MODEL_FILE} "
                f"and {HEAD_INFO_FILE} (python -m kerasemo.experiments.probe --save-head DIR)."
            )
    info = json.loads((directory / HEAD_INFO_FILE).read_text(encoding="utf-8"))
    if info.get("format") != HEAD_FORMAT:
        raise ValueError(
            f"{directory / HEAD_INFO_FILE} is not a probe head description (format "
            f"{info.get('format')!r}, expected {HEAD_FORMAT!r})."
        )
    probe = keras.saving.load_model(directory / HEAD_MODEL_FILE, compile=False)
    if list(probe.class_names or []) != list(info["class_names"]):
        raise ValueError(
            f"The class names of {directory / HEAD_MODEL_FILE} ({probe.class_names}) differ from "
            f"those of {HEAD_INFO_FILE} ({info['class_names']}); save the head again."
        )
    return probe, list(info["class_names"])
