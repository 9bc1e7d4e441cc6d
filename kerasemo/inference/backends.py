"""The three model formats behind one call: ``[n, samples]`` waveforms in, logits and
probabilities out, plus the window each model was trained on.

- `KerasBackend`: a `VGGMStudent` with the training front-end in front
  (`kerasemo.export.build_waveform_model`), traced once for any length;
- `SavedModelBackend`: the ``serving_default`` signature of an export;
- `TFLiteBackend`: a fixed-window ``.tflite`` model run by LiteRT.

Every backend has `window` (the model's own window in samples: `kerasemo.export.model_window`
for a student, the window stored in a SavedModel, the input length of a ``.tflite``) and
`fixed_window` (the only length it accepts, or None for any length).
"""

from __future__ import annotations

import json
import logging
import pathlib
from collections.abc import Mapping
from typing import Any

import numpy as np

from kerasemo.export.contract import (
    MODEL_CARD,
    WAVEFORM_SIGNATURE,
    WINDOW_FUNCTION,
    WINDOW_SAMPLES,
    ExportError,
)

logger = logging.getLogger("kerasemo.inference")

OUTPUTS = ("logits", "probabilities")


class Backend:
    """Runs ``[n, samples]`` float32 waveforms; returns ``{"logits", "probabilities"}``.

    Attributes:
        format: ``"keras"``, ``"saved_model"`` or ``"tflite"``.
        window: the model's own window in samples (the default timeline window).
        fixed_window: the only input length the model accepts, or None for any length.
    """

    format = ""
    window: int = WINDOW_SAMPLES
    fixed_window: int | None = None

    def __call__(self, waveforms: np.ndarray) -> dict[str, np.ndarray]:
        raise NotImplementedError


class KerasBackend(Backend):
    """A `VGGMStudent` (float32, any length) behind the training front-end.

    Args:
        student: a `VGGMStudent`.
        run_config: the training run's resolved configuration (for the window when the student
            does not record one), or None.
    """

    format = "keras"

    def __init__(self, student: Any, run_config: Mapping[str, Any] | None = None):
        import tensorflow as tf

        from kerasemo import export

        self.window = export.model_window(student, run_config).samples
        self.student = export.with_input_frames(export.to_float32(student), None)
        self.model = export.build_waveform_model(self.student)
        self._fn = tf.function(
            lambda waveform: self.model(waveform, training=False),
            input_signature=[tf.TensorSpec([None, None], tf.float32)],
        )

    def __call__(self, waveforms):
        outputs = self._fn(np.asarray(waveforms, np.float32))
        return {k: np.asarray(outputs[k], np.float32) for k in OUTPUTS}


class SavedModelBackend(Backend):
    """The waveform signature of a kerasemo SavedModel.

    Args:
        directory: the SavedModel folder (the one holding ``saved_model.pb``).

    Raises:
        ValueError: if the folder does not load or is not a kerasemo export.
    """

    format = "saved_model"

    def __init__(self, directory: pathlib.Path):
        import tensorflow as tf

        try:
            self._loaded = tf.saved_model.load(str(directory))
        except Exception as err:  # TF raises several types for a bad folder
            raise ValueError(f"Could not load the SavedModel in '{directory}': {err}") from err
        signatures = getattr(self._loaded, "signatures", {})
        if WAVEFORM_SIGNATURE not in signatures:
            raise ValueError(
                f"The SavedModel in '{directory}' has no {WAVEFORM_SIGNATURE!r} signature "
                f"(found {sorted(signatures)}); export it with kerasemo.experiments.export."
            )
        self._fn = signatures[WAVEFORM_SIGNATURE]
        outputs = set(self._fn.structured_outputs)
        if not {"logits", "probabilities"} <= outputs:
            raise ValueError(
                f"The SavedModel in '{directory}' returns {sorted(outputs)}; expected logits and "
                "probabilities (a kerasemo export)."
            )
        self.window = self._stored_window(directory)

    def _stored_window(self, directory: pathlib.Path) -> int:
        """The window the export recorded: in the SavedModel, else in the folder's model card."""
        function = getattr(self._loaded, WINDOW_FUNCTION, None)
        if function is not None:
            return int(function().numpy())
        card = directory.parent / MODEL_CARD
        try:
            return int(json.loads(card.read_text(encoding="utf-8"))["input"]["window_samples"])
        except (OSError, ValueError, KeyError, TypeError):
            logger.info(
                "The SavedModel in %s records no window; using the paper's %d samples.",
                directory,
                WINDOW_SAMPLES,
            )
            return WINDOW_SAMPLES

    def __call__(self, waveforms):
        import tensorflow as tf

        outputs = self._fn(waveform=tf.constant(np.asarray(waveforms, np.float32)))
        return {k: outputs[k].numpy().astype(np.float32) for k in OUTPUTS}


class TFLiteBackend(Backend):
    """A fixed-window ``.tflite`` export run by LiteRT.

    Args:
        path: the ``.tflite`` file.
        num_threads: LiteRT CPU threads (None: all logical cores).

    Raises:
        ValueError: if LiteRT cannot load it or it is not a kerasemo export.
    """

    format = "tflite"

    def __init__(self, path: pathlib.Path, num_threads: int | None):
        from kerasemo.export import TFLiteRunner

        try:
            self._runner = TFLiteRunner(path, num_threads=num_threads)
        except ExportError as err:
            raise ValueError(str(err)) from err
        self.window = self.fixed_window = self._runner.window_samples

    def __call__(self, waveforms):
        outputs = self._runner(waveforms)
        return {k: outputs[k] for k in OUTPUTS}


def saved_model_dir(directory: pathlib.Path) -> pathlib.Path | None:
    """The SavedModel in `directory`: itself, or its highest numeric version sub-folder."""
    if (directory / "saved_model.pb").is_file():
        return directory
    versions = [
        p
        for p in directory.iterdir()
        if p.is_dir() and p.name.isdigit() and (p / "saved_model.pb").is_file()
    ]
    return max(versions, key=lambda p: int(p.name)) if versions else None
