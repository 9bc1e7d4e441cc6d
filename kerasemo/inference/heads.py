"""A probe head on the student's logits: the classes of a labelled speech set, beside the eight.

``python -m kerasemo.experiments.probe --save-head DIR`` fits a linear probe on all clips of a
set and saves it (`kerasemo.models.probe_head.save_probe_head`); `ProbeHead` loads that folder
and maps ``[n, 8]`` student logits of whole utterances to ``[n, K]`` probabilities of the set's
classes. An export that has a head built in carries the same probabilities as model outputs.
"""

from __future__ import annotations

import os
import pathlib
from typing import Any

import numpy as np


class ProbeHead:
    """A saved linear probe: student logits in, the probabilities of its K classes out.

    Args:
        probe: a `kerasemo.models.LinearProbe` (its input standardisation included).
        classes: its K class names, index i = output i.
        source: where it was loaded from.

    Example:

    >>> head = ProbeHead.from_folder("runs/heads/rml")  # doctest: +SKIP
    >>> head(np.zeros((2, 8), "float32")).shape, head.classes[0]  # doctest: +SKIP
    ((2, 6), 'anger')
    """

    def __init__(self, probe: Any, classes: tuple[str, ...], source: str):
        self.probe = probe
        self.classes = tuple(classes)
        self.source = source

    @classmethod
    def from_folder(cls, directory: str | os.PathLike) -> ProbeHead:
        """Loads a head written by ``probe --save-head`` (`load_probe_head`).

        Args:
            directory: the folder holding ``probe_head.keras`` and ``probe_head.json``.

        Returns:
            A `ProbeHead`.

        Raises:
            FileNotFoundError: if the folder or one of its two files is missing.
            ValueError: if the folder is not a probe head's.
        """
        from kerasemo.models.probe_head import load_probe_head

        directory = pathlib.Path(directory)
        if not directory.is_dir():
            raise FileNotFoundError(
                f"No probe head folder at '{directory}'; write one with "
                "`python -m kerasemo.experiments.probe --save-head DIR`."
            )
        probe, classes = load_probe_head(directory)
        return cls(probe, tuple(classes), str(directory))

    def __call__(self, logits: np.ndarray) -> np.ndarray:
        """``[n, 8]`` student logits -> float32 ``[n, K]`` class probabilities."""
        return np.asarray(self.probe.predict_proba(logits), np.float32)
