"""The three model formats behind one call: zero-padded ``[n, samples]`` waveforms and their
``[n]`` lengths in, logits and probabilities out, plus the window each model was trained on.

Every backend gives each row the answer for its own first ``lengths[i]`` samples, whatever the
padding after them (the caller makes every length at least `MIN_SAMPLES`, `pad_batch`):

- `KerasBackend`: a `VGGMStudent` with the training front-end in front
  (`kerasemo.export.build_waveform_model`), traced once for any length;
- `SavedModelBackend`: the waveform signature of an export;
- `TFLiteBackend`: a fixed-window ``.tflite`` model run by LiteRT.

A model without a lengths input (a SavedModel exported before `LENGTHS_SIGNATURE`, a student
that does not normalise its own input) is run once per distinct length on the rows cut to it
(`by_length`): the same answers, at the cost of one call per length. A ``.tflite`` model
exported before its ``length`` input scores each padded window as it is.

Every backend has `window` (the model's own window in samples: `kerasemo.export.model_window`
for a student, the window stored in a SavedModel, the input length of a ``.tflite``) and
`fixed_window` (the only length it accepts, or None for any length).
"""

from __future__ import annotations

import json
import logging
import pathlib
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from kerasemo.export.contract import (
    HEAD_CLASSES_FUNCTION,
    HEAD_PROBABILITIES,
    LENGTH_INPUT,
    LENGTHS_SIGNATURE,
    MODEL_CARD,
    WAVEFORM_INPUT,
    WAVEFORM_SIGNATURE,
    WINDOW_FUNCTION,
    WINDOW_SAMPLES,
    ExportError,
)

logger = logging.getLogger("kerasemo.inference")

OUTPUTS = ("logits", "probabilities")


Outputs = dict[str, np.ndarray]


class Backend:
    """Runs zero-padded waveforms with their lengths; returns ``{"logits", "probabilities"}``.

    Attributes:
        format: ``"keras"``, ``"saved_model"`` or ``"tflite"``.
        window: the model's own window in samples (the default timeline window).
        fixed_window: the only input length the model accepts, or None for any length.
        head_classes: the class names of a probe head built into the model (its outputs then
            include ``head_probabilities`` ``[n, K]``), or None.
    """

    format = ""
    window: int = WINDOW_SAMPLES
    fixed_window: int | None = None
    head_classes: tuple[str, ...] | None = None

    def __call__(self, waveforms: np.ndarray, lengths: np.ndarray) -> Outputs:
        """Row i's outputs for ``waveforms[i, :lengths[i]]``, each ``[n, 8]`` float32.

        Args:
            waveforms: float32 ``[n, samples]``, zero-padded after each row's length.
            lengths: int32 ``[n]``, each in ``[MIN_SAMPLES, samples]``.
        """
        raise NotImplementedError


def by_length(run: Callable[[np.ndarray], Outputs], waveforms, lengths) -> Outputs:
    """Runs `run` once per distinct length, on the rows of that length cut to it.

    This gives a model without a lengths input each row's own answer, exactly: no row is
    scored with padding.

    Args:
        run: ``[m, samples]`` float32 -> ``{name: [m, ...]}``.
        waveforms: float32 ``[n, width]``.
        lengths: ``[n]`` integers, at most ``width``.

    Returns:
        ``{name: [n, ...]}`` in the rows' order.

    Example:

    >>> run = lambda x: {"total": x.sum(axis=1, keepdims=True)}
    >>> by_length(run, np.ones((3, 4)), np.array([4, 2, 4]))["total"].ravel().tolist()
    [4.0, 2.0, 4.0]
    """
    lengths = np.asarray(lengths)
    results: Outputs = {}
    for length in np.unique(lengths):
        rows = np.flatnonzero(lengths == length)
        for name, values in run(waveforms[rows, :length]).items():
            shape = (lengths.shape[0],) + values.shape[1:]
            results.setdefault(name, np.empty(shape, values.dtype))[rows] = values
    return results


class KerasBackend(Backend):
    """A `VGGMStudent` (float32, any length) behind the training front-end.

    A student that normalises its own input (the default) runs as the lengths model
    (`build_waveform_model(..., lengths=True)`): one call for a batch of any lengths. One that
    does not is run per length (`by_length`).

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
        waveform_spec = tf.TensorSpec([None, None], tf.float32)
        self._lengths_fn = None
        if self.student.normalize_input:
            self.model = export.build_waveform_model(self.student, lengths=True)
            self._lengths_fn = tf.function(
                lambda waveform, length: self.model(
                    {WAVEFORM_INPUT: waveform, LENGTH_INPUT: length}, training=False
                ),
                input_signature=[waveform_spec, tf.TensorSpec([None], tf.int32)],
            )
        else:
            self.model = export.build_waveform_model(self.student)
            self._fn = tf.function(
                lambda waveform: self.model(waveform, training=False),
                input_signature=[waveform_spec],
            )

    def __call__(self, waveforms, lengths):
        if self._lengths_fn is None:
            return by_length(self._run, waveforms, lengths)
        waveforms, lengths = np.asarray(waveforms, np.float32), np.asarray(lengths, np.int32)
        return _as_numpy(self._lengths_fn(waveforms, lengths), OUTPUTS)

    def _run(self, waveforms: np.ndarray) -> Outputs:
        return _as_numpy(self._fn(np.asarray(waveforms, np.float32)), OUTPUTS)


class SavedModelBackend(Backend):
    """The waveform signatures of a kerasemo SavedModel.

    Batches go to `LENGTHS_SIGNATURE` (one call for any lengths); an export written before it
    existed is run per length on ``serving_default`` (`by_length`). An export with a probe head
    built in returns its probabilities too (`head_classes` from `HEAD_CLASSES_FUNCTION`).

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
        self._lengths_fn = signatures.get(LENGTHS_SIGNATURE)
        outputs = set(self._fn.structured_outputs)
        if not set(OUTPUTS) <= outputs:
            raise ValueError(
                f"The SavedModel in '{directory}' returns {sorted(outputs)}; expected logits and "
                "probabilities (a kerasemo export)."
            )
        self.window = self._stored_window(directory)
        classes = getattr(self._loaded, HEAD_CLASSES_FUNCTION, None)
        if HEAD_PROBABILITIES in outputs and classes is not None:
            self.head_classes = tuple(name.decode() for name in classes().numpy())
        self._outputs = OUTPUTS + ((HEAD_PROBABILITIES,) if self.head_classes else ())

    def _stored_window(self, directory: pathlib.Path) -> int:
        """The window the export recorded: in the SavedModel, else in the folder's model card."""
        function = getattr(self._loaded, WINDOW_FUNCTION, None)
        if function is not None:
            return int(function().numpy())
        try:
            return int(_model_card(directory.parent)["input"]["window_samples"])
        except (KeyError, TypeError, ValueError):
            logger.info(
                "The SavedModel in %s records no window; using the paper's %d samples.",
                directory,
                WINDOW_SAMPLES,
            )
            return WINDOW_SAMPLES

    def __call__(self, waveforms, lengths):
        import tensorflow as tf

        if self._lengths_fn is None:
            return by_length(self._run, waveforms, lengths)
        outputs = self._lengths_fn(
            waveform=tf.constant(np.asarray(waveforms, np.float32)),
            length=tf.constant(np.asarray(lengths, np.int32)),
        )
        return _as_numpy(outputs, self._outputs)

    def _run(self, waveforms: np.ndarray) -> Outputs:
        import tensorflow as tf

        outputs = self._fn(waveform=tf.constant(np.asarray(waveforms, np.float32)))
        return _as_numpy(outputs, self._outputs)


class TFLiteBackend(Backend):
    """A fixed-window ``.tflite`` export run by LiteRT.

    Each row is a window zero-padded to the model's window; a model with the ``length`` input
    is given each row's length, so the padding changes nothing. A model exported before that
    input existed scores the padded window as it is. A head built in is used when the model
    card beside the file names its classes (``"head": {"classes": [...]}``).

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
        if HEAD_PROBABILITIES in self._runner.outputs:
            self.head_classes = self._card_head_classes(path)
        self._outputs = OUTPUTS + ((HEAD_PROBABILITIES,) if self.head_classes else ())

    @staticmethod
    def _card_head_classes(path: pathlib.Path) -> tuple[str, ...] | None:
        """The built-in head's classes from the model card beside `path`, or None (logged)."""
        try:
            return tuple(_model_card(path.parent)["head"]["classes"])
        except (KeyError, TypeError, ValueError):
            logger.warning(
                "%s has a probe head built in, but no %s beside it names its classes: using "
                "the eight emotion outputs only.",
                path,
                MODEL_CARD,
            )
            return None

    def __call__(self, waveforms, lengths):
        outputs = self._runner(waveforms, lengths if self._runner.takes_lengths else None)
        return {k: outputs[k] for k in self._outputs}


def _as_numpy(outputs: Mapping[str, Any], names: tuple[str, ...]) -> Outputs:
    """The named model outputs (tensors) as float32 NumPy arrays."""
    return {name: np.asarray(outputs[name], np.float32) for name in names}


def _model_card(folder: pathlib.Path) -> dict:
    """The export's model card in `folder` (``{}`` if there is none or it does not parse)."""
    try:
        return json.loads((folder / MODEL_CARD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


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
