"""The on-device export: fixed-window TFLite flatbuffers, and running them with LiteRT.

Each model takes one window of the student's own length (`model_window`), batch 1:
``waveform`` ``[1, window]`` float32 and ``length`` ``[1]`` int32, the clip's valid samples (a
shorter clip is zero-padded to the window and gets the answer it gets alone, unpadded; the
length is clipped to the window). With a probe head it also returns ``head_probabilities``
``[1, K]`` float32 and ``label`` ``[1]`` string (a ``tf.gather`` of the class names, a builtin
``GATHER`` on a string tensor). The models use TFLite builtin ops only (no Flex delegate).
float16 stores the weights in float16; int8 is dynamic-range quantisation (int8 weights, float
activations). The converter reads a fixed-shape SavedModel written by Keras' `ExportArchive`,
with ``TFLITE_BUILTINS`` as the only op set.
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from kerasemo.export.contract import (
    HEAD_PROBABILITIES,
    LABEL,
    LENGTH_INPUT,
    MIN_SAMPLES,
    OUTPUT_NAMES,
    TFLITE_BATCH,
    TFLITE_VARIANTS,
    WAVEFORM_INPUT,
    WAVEFORM_SIGNATURE,
    ExportError,
    check_variant,
)
from kerasemo.export.head import ExportHead, label_strings, with_label
from kerasemo.export.precision import to_float32
from kerasemo.export.waveform_model import build_waveform_model
from kerasemo.export.window import model_window

logger = logging.getLogger("kerasemo.export")


def _write_fixed_window_saved_model(
    student, directory: str, window_samples: int, head: ExportHead | None
) -> None:
    """A fixed-shape (batch 1, one window, its length) SavedModel: the converter's source.

    Converting from a SavedModel written by Keras' `ExportArchive` (variables frozen by the
    converter) gives correct outputs; `from_concrete_functions` on a Keras model gave NaN
    outputs (unfrozen variable reads survived in the flatbuffer).
    """
    import keras
    import tensorflow as tf

    probe = None if head is None else head.probe
    model = build_waveform_model(student, window_samples, TFLITE_BATCH, lengths=True, head=probe)

    def serve(waveform, length):
        outputs = model({WAVEFORM_INPUT: waveform, LENGTH_INPUT: length}, training=False)
        return with_label(outputs, head)

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        WAVEFORM_SIGNATURE,
        serve,
        input_signature=[
            tf.TensorSpec([TFLITE_BATCH, window_samples], tf.float32, name=WAVEFORM_INPUT),
            tf.TensorSpec([TFLITE_BATCH], tf.int32, name=LENGTH_INPUT),
        ],
    )
    archive.write_out(directory, verbose=False)


def _convert(saved_model_dir: str, variant: str) -> bytes:
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]  # no Flex ops
    if variant in ("float16", "int8"):
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if variant == "float16":
        converter.target_spec.supported_types = [tf.float16]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return converter.convert()
    except Exception as err:  # the converter raises ConverterError and others
        raise ExportError(
            f"TFLite conversion ({variant}, builtin ops only) failed: {err}. Every op of the "
            "front-end and student is meant to map to a TFLite builtin; a new op in the model "
            "(e.g. `x[..., None]` instead of `expand_dims`) can need the Flex delegate."
        ) from err


def convert_tflite(
    student: Any,
    variants: Sequence[str] = TFLITE_VARIANTS,
    window_samples: int | None = None,
    head: ExportHead | None = None,
) -> dict[str, bytes]:
    """Converts front-end + student to TFLite flatbuffers, builtin ops only.

    Args:
        student: a `VGGMStudent` (rebuilt in float32 if it is mixed precision).
        variants: any of ``"float32"``, ``"float16"`` (float16 weights) and ``"int8"``
            (dynamic-range quantisation: int8 weights, float activations).
        window_samples: the fixed input length; None (default) takes the student's own
            window (`model_window`: its crop length, else the paper's 64,384 samples).
        head: a probe head (`kerasemo.export.load_export_head`) to build in, or None.

    Returns:
        ``{variant: flatbuffer bytes}``; each model takes ``waveform`` ``[1, window_samples]``
        float32 and ``length`` ``[1]`` int32 and returns the three named outputs, and with a
        head ``head_probabilities`` and ``label`` (signature ``serving_default``).

    Raises:
        ValueError: for an unknown variant or a window shorter than `MIN_SAMPLES`.
        ExportError: if conversion fails (e.g. an op outside the TFLite builtins).

    Example:

    >>> flatbuffers = convert_tflite(student, ["float32"])  # doctest: +SKIP
    """
    variants = [check_variant(v) for v in variants]
    if window_samples is None:
        window_samples = model_window(student).samples
    if int(window_samples) < MIN_SAMPLES:
        raise ValueError(
            f"window_samples must be at least {MIN_SAMPLES} (the student's shortest input); "
            f"received {window_samples}."
        )
    student = to_float32(student)
    with tempfile.TemporaryDirectory(prefix="kerasemo-tflite-") as tmp:
        _write_fixed_window_saved_model(student, tmp, int(window_samples), head)
        return {variant: _convert(tmp, variant) for variant in variants}


def tflite_ops(flatbuffer: bytes) -> list[str]:
    """The sorted operator names a TFLite model uses (custom ops such as ``Flex*`` by name).

    Example:

    >>> "RFFT2D" in tflite_ops(convert_tflite(student, ["float32"])["float32"])  # doctest: +SKIP
    True
    """
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    names = {value: name for name, value in vars(schema.BuiltinOperator).items() if name.isupper()}
    model = flatbuffer_utils.read_model_from_bytearray(bytearray(flatbuffer))
    ops = set()
    for code in model.operatorCodes:
        builtin = max(int(code.builtinCode), int(code.deprecatedBuiltinCode))
        if builtin == schema.BuiltinOperator.CUSTOM:
            custom = code.customCode
            ops.add(custom.decode() if isinstance(custom, bytes) else str(custom))
        else:
            ops.add(names.get(builtin, f"BUILTIN_{builtin}"))
    return sorted(ops)


def litert_interpreter(model_path=None, model_content=None, num_threads=None):
    """A LiteRT interpreter (``ai_edge_litert``), or TensorFlow's own if LiteRT is missing.

    Args:
        model_path: a ``.tflite`` file, or None.
        model_content: flatbuffer bytes, or None.
        num_threads: CPU threads (None: all logical cores).

    Returns:
        An allocated interpreter.

    Raises:
        ExportError: if the model cannot be loaded (e.g. it needs the Flex delegate).
    """
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # pragma: no cover - depends on the installed extras
        logger.warning(
            "ai-edge-litert is not installed (pip install 'kerasemo[tflite]'); using "
            "TensorFlow's deprecated tf.lite.Interpreter instead."
        )
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter
    threads = num_threads if num_threads is not None else (os.cpu_count() or 1)
    try:
        interpreter = Interpreter(
            model_path=None if model_path is None else str(model_path),
            model_content=model_content,
            num_threads=threads,
        )
        interpreter.allocate_tensors()
    except (RuntimeError, ValueError) as err:
        source = model_path if model_path is not None else "the flatbuffer"
        raise ExportError(f"LiteRT could not load {source}: {err}") from err
    return interpreter


class TFLiteRunner:
    """Runs an exported ``.tflite`` model on a batch of fixed-length windows.

    Args:
        model: a ``.tflite`` path or flatbuffer bytes.
        num_threads: CPU threads for the interpreter (None: all logical cores).

    Attributes:
        window_samples: the model's fixed input length.
        batch_size: the model's fixed batch (1 for kerasemo exports).
        outputs: the model's output names (`OUTPUT_NAMES`, and ``head_probabilities`` and
            ``label`` for a model exported with a head).
        takes_lengths: whether the model has the ``length`` input (exports before it had none).

    Example:

    >>> runner = TFLiteRunner("saved_models/kerasemo/kerasemo_int8.tflite")  # doctest: +SKIP
    >>> windows = np.zeros((3, runner.window_samples), "float32")  # doctest: +SKIP
    >>> runner(windows, lengths=[16000, 32000, 64384])["probabilities"].shape  # doctest: +SKIP
    (3, 8)
    """

    def __init__(self, model: str | os.PathLike | bytes, num_threads: int | None = None):
        if isinstance(model, (bytes, bytearray)):
            self.interpreter = litert_interpreter(
                model_content=bytes(model), num_threads=num_threads
            )
        else:
            self.interpreter = litert_interpreter(model_path=model, num_threads=num_threads)
        signatures = self.interpreter.get_signature_list()
        if WAVEFORM_SIGNATURE not in signatures:
            raise ExportError(
                f"The TFLite model has no {WAVEFORM_SIGNATURE!r} signature (found "
                f"{sorted(signatures)}); export it with kerasemo.experiments.export."
            )
        signature = signatures[WAVEFORM_SIGNATURE]
        inputs = set(signature["inputs"])
        if not set(OUTPUT_NAMES) <= set(signature["outputs"]) or inputs not in (
            {WAVEFORM_INPUT},
            {WAVEFORM_INPUT, LENGTH_INPUT},
        ):
            raise ExportError(
                f"The TFLite model's signature is {signature}; expected the inputs "
                f"'{WAVEFORM_INPUT}' (and '{LENGTH_INPUT}') and outputs {', '.join(OUTPUT_NAMES)}."
            )
        self.takes_lengths = LENGTH_INPUT in inputs
        known = (*OUTPUT_NAMES, HEAD_PROBABILITIES, LABEL)
        self.outputs = tuple(name for name in known if name in signature["outputs"])
        self._runner = self.interpreter.get_signature_runner(WAVEFORM_SIGNATURE)
        details = self._runner.get_output_details()
        self._empty = {name: (0, *details[name]["shape"][1:]) for name in self.outputs}
        shape = self._runner.get_input_details()[WAVEFORM_INPUT]["shape"]
        self.batch_size, self.window_samples = int(shape[0]), int(shape[1])

    def __call__(self, waveforms: np.ndarray, lengths=None) -> dict[str, np.ndarray]:
        """Runs ``[n, window_samples]`` float32 windows; returns each output with ``n`` rows.

        Args:
            waveforms: ``[n, window_samples]`` float32, each clip zero-padded to the window.
            lengths: ``[n]`` valid samples of each clip, or None (the whole window). Needs a
                model with the ``length`` input.

        Returns:
            ``{name: array}`` for `outputs`: ``[n, 8]`` float32, ``head_probabilities``
            ``[n, K]`` float32, ``label`` ``[n]`` str.

        Raises:
            ValueError: for windows of another shape, or lengths that do not fit them.
        """
        waveforms = np.asarray(waveforms, dtype=np.float32)
        if waveforms.ndim != 2 or waveforms.shape[1] != self.window_samples:
            raise ValueError(
                f"This TFLite model takes windows of exactly {self.window_samples} samples, shaped "
                f"[n, {self.window_samples}]; received shape {waveforms.shape}."
            )
        lengths = self._lengths(lengths, waveforms.shape[0])
        results: dict[str, list[np.ndarray]] = {name: [] for name in self.outputs}
        for start in range(0, waveforms.shape[0], self.batch_size):
            chunk = waveforms[start : start + self.batch_size]
            valid = chunk.shape[0]
            pad = self.batch_size - valid
            inputs = {WAVEFORM_INPUT: np.pad(chunk, ((0, pad), (0, 0)))}
            if self.takes_lengths:
                inputs[LENGTH_INPUT] = np.pad(lengths[start : start + self.batch_size], (0, pad))
            outputs = self._runner(**inputs)
            for name in self.outputs:
                results[name].append(np.asarray(outputs[name][:valid]))
        return {name: _stack(name, parts, self._empty[name]) for name, parts in results.items()}

    def _lengths(self, lengths, count: int) -> np.ndarray:
        """Checked ``[count]`` int32 valid samples (the whole window when `lengths` is None)."""
        if lengths is None:
            return np.full(count, self.window_samples, np.int32)
        if not self.takes_lengths:
            raise ValueError(
                "This TFLite model has no `length` input (exported before it had one); pass "
                "whole windows without lengths, or export the student again."
            )
        lengths = np.asarray(lengths)
        inside = (lengths >= 0) & (lengths <= self.window_samples)
        if lengths.shape != (count,) or not np.all(inside):
            raise ValueError(
                f"`lengths` must hold one valid sample count in [0, {self.window_samples}] per "
                f"window ({count}); received {lengths.tolist()}."
            )
        return lengths.astype(np.int32)


def _stack(name: str, parts: list[np.ndarray], empty: tuple[int, ...]) -> np.ndarray:
    """Concatenates a runner output's chunks (shape `empty` when there are none): labels as
    str, the rest as float32."""
    if name == LABEL:
        return label_strings(np.concatenate(parts) if parts else [])
    return np.concatenate(parts).astype(np.float32) if parts else np.zeros(empty, np.float32)
