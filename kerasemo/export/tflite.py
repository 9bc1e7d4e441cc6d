"""The on-device export: fixed-window TFLite flatbuffers, and running them with LiteRT.

Each model takes one window of the student's own length (`model_window`), batch 1, and uses
TFLite builtin ops only (no Flex delegate). float16 stores the weights in float16; int8 is
dynamic-range quantisation (int8 weights, float activations). The converter reads a fixed-shape
SavedModel written by Keras' `ExportArchive`, with ``TFLITE_BUILTINS`` as the only op set.
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
    MIN_SAMPLES,
    OUTPUT_NAMES,
    TFLITE_BATCH,
    TFLITE_VARIANTS,
    WAVEFORM_SIGNATURE,
    ExportError,
    check_variant,
)
from kerasemo.export.precision import to_float32
from kerasemo.export.waveform_model import build_waveform_model
from kerasemo.export.window import model_window

logger = logging.getLogger("kerasemo.export")


def _write_fixed_window_saved_model(student, directory: str, window_samples: int) -> None:
    """A fixed-shape (batch 1, one window) SavedModel: the converter's source.

    Converting from a SavedModel written by Keras' `ExportArchive` (variables frozen by the
    converter) gives correct outputs; `from_concrete_functions` on a Keras model gave NaN
    outputs (unfrozen variable reads survived in the flatbuffer).
    """
    import keras
    import tensorflow as tf

    model = build_waveform_model(student, window_samples, TFLITE_BATCH)
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        WAVEFORM_SIGNATURE,
        lambda waveform: model(waveform, training=False),
        input_signature=[
            tf.TensorSpec([TFLITE_BATCH, window_samples], tf.float32, name="waveform")
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
) -> dict[str, bytes]:
    """Converts front-end + student to TFLite flatbuffers, builtin ops only.

    Args:
        student: a `VGGMStudent` (rebuilt in float32 if it is mixed precision).
        variants: any of ``"float32"``, ``"float16"`` (float16 weights) and ``"int8"``
            (dynamic-range quantisation: int8 weights, float activations).
        window_samples: the fixed input length; None (default) takes the student's own
            window (`model_window`: its crop length, else the paper's 64,384 samples).

    Returns:
        ``{variant: flatbuffer bytes}``; each model takes ``waveform`` ``[1, window_samples]``
        float32 and returns the three named outputs (signature ``serving_default``).

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
        _write_fixed_window_saved_model(student, tmp, int(window_samples))
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

    Example:

    >>> runner = TFLiteRunner("saved_models/kerasemo/kerasemo_int8.tflite")  # doctest: +SKIP
    >>> windows = np.zeros((3, runner.window_samples), "float32")  # doctest: +SKIP
    >>> runner(windows)["probabilities"].shape  # doctest: +SKIP
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
        missing = set(OUTPUT_NAMES) - set(signatures[WAVEFORM_SIGNATURE]["outputs"])
        if missing or signatures[WAVEFORM_SIGNATURE]["inputs"] != ["waveform"]:
            raise ExportError(
                f"The TFLite model's signature is {signatures[WAVEFORM_SIGNATURE]}; expected the "
                f"input 'waveform' and outputs {', '.join(OUTPUT_NAMES)}."
            )
        self._runner = self.interpreter.get_signature_runner(WAVEFORM_SIGNATURE)
        shape = self._runner.get_input_details()["waveform"]["shape"]
        self.batch_size, self.window_samples = int(shape[0]), int(shape[1])

    def __call__(self, waveforms: np.ndarray) -> dict[str, np.ndarray]:
        """Runs ``[n, window_samples]`` float32 windows; returns each output as ``[n, 8]``."""
        waveforms = np.asarray(waveforms, dtype=np.float32)
        if waveforms.ndim != 2 or waveforms.shape[1] != self.window_samples:
            raise ValueError(
                f"This TFLite model takes windows of exactly {self.window_samples} samples, shaped "
                f"[n, {self.window_samples}]; received shape {waveforms.shape}."
            )
        results: dict[str, list[np.ndarray]] = {name: [] for name in OUTPUT_NAMES}
        for start in range(0, waveforms.shape[0], self.batch_size):
            chunk = waveforms[start : start + self.batch_size]
            valid = chunk.shape[0]
            if valid < self.batch_size:
                chunk = np.concatenate(
                    [chunk, np.zeros((self.batch_size - valid, chunk.shape[1]), np.float32)]
                )
            outputs = self._runner(waveform=np.ascontiguousarray(chunk))
            for name in OUTPUT_NAMES:
                results[name].append(np.array(outputs[name][:valid], dtype=np.float32))
        return {
            name: np.concatenate(parts) if parts else np.zeros((0, 8), np.float32)
            for name, parts in results.items()
        }
