"""The TF Serving export: a variable-length SavedModel with three signatures.

``serving_default`` takes ``waveform`` ``[batch, samples]`` (any length; clips shorter than
`MIN_SAMPLES` are zero-padded to it in the graph; NaN/Inf samples are an
``InvalidArgumentError`` naming the input); `LENGTHS_SIGNATURE` takes a zero-padded batch
``waveform`` and each clip's valid samples ``length`` ``[batch]`` int32, and gives every clip the
outputs it gets alone; ``spectrogram`` takes ``[batch, input_bins, frames]`` linear magnitudes.
The SavedModel also carries its window (`WINDOW_FUNCTION`), so that loaders window timelines as
the student was trained, and with a probe head its class names (`HEAD_CLASSES_FUNCTION`); every
signature then also returns ``head_probabilities`` and ``label``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pathlib
import shutil
import subprocess
import sys
from typing import Any

from kerasemo.checks import check_positive_int
from kerasemo.export.contract import (
    HEAD_CLASSES_FUNCTION,
    HEAD_PROBABILITIES,
    LENGTH_INPUT,
    LENGTHS_SIGNATURE,
    MIN_SAMPLES,
    SPECTROGRAM_SIGNATURE,
    WAVEFORM_INPUT,
    WAVEFORM_SIGNATURE,
    WINDOW_FUNCTION,
    ExportError,
)
from kerasemo.export.head import ExportHead, with_label
from kerasemo.export.precision import to_float32, with_input_frames
from kerasemo.export.waveform_model import build_waveform_model
from kerasemo.export.window import model_window
from kerasemo.models.student import MIN_INPUT_FRAMES

logger = logging.getLogger("kerasemo.export")


def export_saved_model(
    student: Any,
    directory: str | os.PathLike,
    window_samples: int | None = None,
    head: ExportHead | None = None,
) -> pathlib.Path:
    """Writes the variable-length SavedModel with its signatures (see the module docstring).

    Args:
        student: a `VGGMStudent` (rebuilt in float32 if it is mixed precision, and for any
            length if it was built for fixed crops).
        directory: where to write it; an existing SavedModel there is replaced. A non-empty
            folder that is not a SavedModel is refused.
        window_samples: the student's window, stored as the SavedModel's `WINDOW_FUNCTION`
            (what `kerasemo.inference` windows timelines with); None reads it from the student
            (`model_window`).
        head: a probe head (`kerasemo.export.load_export_head`) to build in, or None.

    Returns:
        The directory, as a `pathlib.Path`.

    Raises:
        ExportError: if `directory` is a non-empty folder that does not hold a SavedModel.

    Example:

    >>> export_saved_model(student, "saved_models/kerasemo/1")  # doctest: +SKIP
    """
    import tensorflow as tf

    directory = pathlib.Path(directory)
    _prepare_output_dir(directory)
    if window_samples is None:
        window_samples = model_window(student).samples
    window_samples = check_positive_int(window_samples, "window_samples")
    student = with_input_frames(to_float32(student), None)
    probe = None if head is None else head.probe
    model = build_waveform_model(student, head=probe)
    lengths_model = build_waveform_model(student, lengths=True, head=probe)
    bins = int(student.input_bins)

    def serve_waveform(waveform):
        waveform = _check_finite(waveform, WAVEFORM_INPUT)
        return with_label(model(pad_time(waveform, MIN_SAMPLES), training=False), head)

    def serve_lengths(waveform, length):
        waveform = _check_finite(waveform, WAVEFORM_INPUT)
        inputs = {WAVEFORM_INPUT: waveform, LENGTH_INPUT: _check_lengths(length, waveform)}
        return with_label(lengths_model(inputs, training=False), head)

    def serve_spectrogram(spectrogram):
        spectrogram = _check_finite(spectrogram, "spectrogram")
        logits = student(pad_time(spectrogram, MIN_INPUT_FRAMES), training=False)
        outputs = {
            "logits": tf.identity(logits, name="logits"),
            "probabilities": tf.nn.softmax(logits, name="probabilities"),
            "embedding": tf.identity(logits, name="embedding"),
        }
        if probe is not None:
            outputs[HEAD_PROBABILITIES] = probe(logits, training=False)
        return with_label(outputs, head)

    # A plain tf.Module that tracks the raw tf.Variables the functions capture, rather than
    # `keras.export.ExportArchive`: on the TensorFlow backend the archive tracks the Keras
    # variable wrappers and the captured tf.Variables separately and stores every weight twice
    # (keras-team/keras#23553: 2x the size on disk and in TF Serving's memory).
    module = tf.Module()
    module.model_variables = [_tf_variable(v) for v in _unique(model.variables)]
    waveform_spec = tf.TensorSpec([None, None], tf.float32, name=WAVEFORM_INPUT)
    module.serve_waveform = tf.function(serve_waveform, input_signature=[waveform_spec])
    module.serve_lengths = tf.function(
        serve_lengths,
        input_signature=[waveform_spec, tf.TensorSpec([None], tf.int32, name=LENGTH_INPUT)],
    )
    module.serve_spectrogram = tf.function(
        serve_spectrogram,
        input_signature=[tf.TensorSpec([None, bins, None], tf.float32, name="spectrogram")],
    )
    # Not signatures (TF Serving lists those): plain attributes for loaders.
    window = tf.constant(window_samples, tf.int64)
    setattr(module, WINDOW_FUNCTION, tf.function(lambda: window, input_signature=[]))
    if head is not None:
        classes = tf.constant(list(head.classes), tf.string)
        setattr(module, HEAD_CLASSES_FUNCTION, tf.function(lambda: classes, input_signature=[]))
    with _capture_renaming_notice_dropped():
        tf.saved_model.save(
            module,
            str(directory),
            signatures={
                WAVEFORM_SIGNATURE: module.serve_waveform,
                LENGTHS_SIGNATURE: module.serve_lengths,
                SPECTROGRAM_SIGNATURE: module.serve_spectrogram,
            },
        )
    logger.info("Wrote the SavedModel to %s", directory)
    return directory


class _CaptureRenamingNotice(logging.Filter):
    """Drops TensorFlow's "input name(s) resource with unsupported characters" notice.

    `tf.saved_model.save` logs it (INFO, once per signature) for every signature that reads
    variables: it compares each captured variable's placeholder, which TensorFlow itself names
    ``resource``, with the scoped name it stores. The signatures' own inputs (``waveform``,
    ``length``, ``spectrogram``) are not renamed, so the notice says nothing about them.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "with unsupported characters which will be renamed" not in record.getMessage()


@contextlib.contextmanager
def _capture_renaming_notice_dropped():
    """Installs `_CaptureRenamingNotice` inside the block on the logger that writes it (absl's,
    which TensorFlow's signature serialisation logs through)."""
    absl_logger = logging.getLogger("absl")
    notice = _CaptureRenamingNotice()
    absl_logger.addFilter(notice)
    try:
        yield
    finally:
        absl_logger.removeFilter(notice)


def _check_finite(tensor, name: str):
    """`tensor`, or an ``InvalidArgumentError`` naming input `name` if it holds NaN or Inf."""
    import tensorflow as tf

    return tf.debugging.check_numerics(
        tensor, f"The `{name}` input holds NaN or Inf values; replace them (e.g. with 0) first"
    )


def _check_lengths(length, waveform):
    """`length`, or an ``InvalidArgumentError`` unless it has one entry in [0, samples] per clip."""
    import tensorflow as tf

    samples = tf.shape(waveform)[1]
    checks = [
        tf.debugging.assert_equal(
            tf.size(length),
            tf.shape(waveform)[0],
            message=f"`{LENGTH_INPUT}` needs one entry per clip of `{WAVEFORM_INPUT}`",
        ),
        tf.debugging.assert_non_negative(length, message=f"`{LENGTH_INPUT}` must be >= 0"),
        tf.debugging.assert_less_equal(
            length,
            samples,
            message=f"`{LENGTH_INPUT}` must be at most the padded width of `{WAVEFORM_INPUT}`",
        ),
    ]
    with tf.control_dependencies(checks):
        return tf.identity(length)


def _unique(variables):
    """`variables` without repeats (the two waveform models share the student's)."""
    seen, unique = set(), []
    for variable in variables:
        if id(variable) not in seen:
            seen.add(id(variable))
            unique.append(variable)
    return unique


def _tf_variable(variable):
    """The `tf.Variable` behind a Keras variable (TensorFlow backend)."""
    import tensorflow as tf

    value = getattr(variable, "value", variable)
    if not isinstance(value, tf.Variable):  # pragma: no cover - guards a Keras change
        raise ExportError(
            f"Expected the Keras variable {variable.path!r} to hold a tf.Variable; found "
            f"{type(value).__name__}. Export needs the TensorFlow backend "
            "(KERAS_BACKEND=tensorflow)."
        )
    return value


def _prepare_output_dir(directory: pathlib.Path) -> None:
    if directory.exists():
        if not directory.is_dir():
            raise ExportError(f"'{directory}' exists and is not a folder.")
        if (directory / "saved_model.pb").exists():
            shutil.rmtree(directory)
        elif any(directory.iterdir()):
            raise ExportError(
                f"'{directory}' is a non-empty folder that holds no SavedModel; refusing to "
                "overwrite it. Choose another --out or empty it."
            )
    directory.parent.mkdir(parents=True, exist_ok=True)


def saved_model_cli_show(directory: str | os.PathLike) -> str:
    """Runs ``saved_model_cli show --dir DIRECTORY --all`` and returns its standard output.

    Args:
        directory: a SavedModel folder.

    Returns:
        The CLI's text (signatures, inputs and outputs with shapes, concrete functions).

    Raises:
        ExportError: if the CLI fails.
    """
    executable = pathlib.Path(sys.executable).with_name("saved_model_cli")
    command = [str(executable)] if executable.exists() else [
        sys.executable,
        "-m",
        "tensorflow.python.tools.saved_model_cli",
    ]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "-1"}
    result = subprocess.run(
        command + ["show", "--dir", str(directory), "--all"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if result.returncode != 0:
        raise ExportError(
            f"`saved_model_cli show --dir {directory} --all` failed (exit {result.returncode}): "
            f"{result.stderr.strip()[-2000:]}"
        )
    return result.stdout


def pad_time(x, minimum):
    """Zero-pads the last axis of a TF tensor to at least `minimum` entries."""
    import tensorflow as tf

    rank = len(x.shape)
    padding = [[0, 0]] * (rank - 1) + [[0, tf.maximum(minimum - tf.shape(x)[-1], 0)]]
    return tf.pad(x, padding)
