"""Export a trained student for serving: a SavedModel (TF Serving) and TFLite/LiteRT models.

Every exported model takes **16 kHz mono float32 waveforms** and runs the training front-end
inside: `VGGVoxSpectrogram(normalize=False)` (the recipe the EmoVoxCeleb shards were built
with, dither off) followed by the student, which mirrors and normalises the bins itself. For the
usual student (``input_bins=257, mirror_input=True``) the front-end keeps the 257 rfft bins
(``mirror=False``); for a 512-bin student it mirrors them (``mirror=True``).

Outputs, in `kerasemo.emotions.CLASSES` order, all ``[batch, 8]`` float32:

- ``logits``: the student's fc8 output;
- ``probabilities``: ``softmax(logits)``;
- ``embedding``: the paper's 8-d speech-emotion embedding, which **is** the logits (linear
  probes are fitted on them); kept as a named output so clients need not know that.

What is written (`export_student`), into one folder (``saved_models/NAME`` by default):

- ``1/``: the SavedModel (version directory, as TF Serving expects under
  ``--model_base_path=saved_models/NAME``) with two signatures:
  ``serving_default`` (``waveform``: ``[batch, samples]``, any length; clips shorter than
  `MIN_SAMPLES` are zero-padded to it inside the graph; NaN/Inf samples are rejected with an
  ``InvalidArgumentError`` naming the input) and ``spectrogram`` (``[batch, input_bins,
  frames]`` linear magnitudes as stored in the shards, zero-padded to `MIN_INPUT_FRAMES`).
  Clips in one batch must have the same length (pad them yourself, or send one per request).
- ``kerasemo_float32.tflite``, ``kerasemo_float16.tflite``, ``kerasemo_int8.tflite``: one fixed
  window of `WINDOW_SAMPLES` (64,384 samples = 4.024 s, the training crop), **batch 1**, TFLite
  builtin ops only (no Flex delegate). float16 stores the weights in float16; int8 is
  dynamic-range quantisation (int8 weights, float activations).
- ``model_card.json``: classes, input contract, front-end settings, student configuration,
  file sizes, parity figures, and the training configuration and metrics of the distillation
  run when the student sits in its run directory (``config.toml``, ``auc.json``).
- ``saved_model_cli.txt``: the output of ``saved_model_cli show --dir 1 --all``.

Parity (measured at export and written to the card): the SavedModel and the float32 TFLite model
against the float32 Keras model (front-end + student, called eagerly): the largest absolute
difference of the probabilities, and of the logits divided by ``max(1, max |logit|)`` (the
"logit scale"), both <= `PARITY_TOLERANCE` (1e-4). The quantised TFLite models are reported on a
held-out set of speech-like clips as the largest probability difference and the argmax agreement.

A student trained under mixed precision is rebuilt in float32 and its weights copied before
export (`to_float32`): a float16 graph does not convert to TFLite, and float32 is what both
runtimes execute fastest on CPU.

How: the SavedModel is written from a plain `tf.Module` holding the model's `tf.Variable`s and
two traced functions, because Keras' `ExportArchive`/`model.export` store every weight twice on
the TensorFlow backend (keras-team/keras#23553). The TFLite models are converted with
`TFLiteConverter.from_saved_model` from a fixed-shape `ExportArchive` (the converter freezes the
variables; `from_concrete_functions` on a Keras model gave NaN outputs, DESIGN.md section 6),
with ``TFLITE_BUILTINS`` as the only op set.

Example:

```python
from kerasemo import export

report = export.export_student("runs/distill/student.keras", "saved_models/kerasemo")
report.files["tflite_float32"], report.parity["tflite_float32"]["max_abs_probability"]
```
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import hashlib
import json
import logging
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import tomllib
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from kerasemo.audio.reference import CROP_SAMPLES, SAMPLE_RATE, num_samples_for_frames
from kerasemo.models.student import MIN_INPUT_FRAMES

logger = logging.getLogger(__name__)

WINDOW_SAMPLES = CROP_SAMPLES
"""Samples in the TFLite models' fixed window: the 4.024 s training crop (400 frames)."""
MIN_SAMPLES = num_samples_for_frames(MIN_INPUT_FRAMES)
"""Shortest waveform the student can pool: 10,320 samples (0.645 s, 63 frames)."""
OUTPUT_NAMES = ("logits", "probabilities", "embedding")
"""Named outputs of every signature, each ``[batch, 8]`` float32."""
WAVEFORM_SIGNATURE = "serving_default"
SPECTROGRAM_SIGNATURE = "spectrogram"
TFLITE_VARIANTS = ("float32", "float16", "int8")
"""TFLite variants: float32, float16 weights, dynamic-range int8 (int8 weights)."""
TFLITE_BATCH = 1
"""Batch size of the TFLite models (fixed, like the window)."""
PARITY_TOLERANCE = 1e-4
"""Largest allowed float32 deviation from Keras (probabilities; logits relative to their scale)."""
MODEL_CARD = "model_card.json"
SAVED_MODEL_CLI_TEXT = "saved_model_cli.txt"
DEFAULT_VERSION = 1


class ExportError(RuntimeError):
    """An export step failed: the student cannot be loaded or converted, or parity fails."""


def tflite_filename(variant: str) -> str:
    """File name of a TFLite variant inside an export folder (``kerasemo_<variant>.tflite``)."""
    _check_variant(variant)
    return f"kerasemo_{variant}.tflite"


def _check_variant(variant: str) -> str:
    if variant not in TFLITE_VARIANTS:
        raise ValueError(
            f"Unknown TFLite variant {variant!r}; choose from {', '.join(TFLITE_VARIANTS)} "
            "(int8 is dynamic-range quantisation)."
        )
    return variant


# --------------------------------------------------------------------------------------------
# Loading and float32 rebuild.


def load_student(path: str | os.PathLike) -> Any:
    """Loads a `VGGMStudent` saved as ``.keras`` (what the distill stage writes).

    Args:
        path: the ``.keras`` file.

    Returns:
        The `VGGMStudent` (with whatever dtype policy the current global policy gives it).

    Raises:
        FileNotFoundError: if `path` does not exist.
        ExportError: if the file is not a loadable ``.keras`` model or not a `VGGMStudent`.

    Example:

    >>> student = load_student("runs/distill/student.keras")  # doctest: +SKIP
    """
    import keras

    from kerasemo.models import VGGMStudent

    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"No student model at '{path}'. Train one with "
            "`python -m kerasemo.experiments.distill` (it writes <run dir>/student.keras) and pass "
            "that file."
        )
    if path.suffix != ".keras":
        raise ExportError(
            f"'{path}' is not a .keras file; export takes the student saved by the distill stage "
            "(student.keras)."
        )
    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as err:  # Keras raises many types for a bad archive
        raise ExportError(f"Could not load '{path}' as a Keras model: {err}") from err
    if not isinstance(model, VGGMStudent):
        raise ExportError(
            f"'{path}' holds a {type(model).__name__}, not a VGGMStudent; export takes the "
            "student saved by the distill stage (student.keras)."
        )
    return model


@contextlib.contextmanager
def float32_policy():
    """Sets the global Keras dtype policy to float32 inside the block, then restores it.

    Models built inside get float32 everywhere, including the policy of the model object and
    its input layer, which otherwise follow the global policy.
    """
    import keras

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32")
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def uses_mixed_precision(model: Any) -> bool:
    """True if any layer of `model` computes or stores variables in a dtype other than float32.

    Example:

    >>> uses_mixed_precision(VGGMStudent(dtype="mixed_float16"))  # doctest: +SKIP
    True
    """
    policies = [model.dtype_policy] + [layer.dtype_policy for layer in model.layers]
    return any(
        p.compute_dtype != "float32" or p.variable_dtype != "float32" for p in policies
    )


def to_float32(student: Any) -> Any:
    """Returns `student` computing in float32, rebuilding it when its policy is mixed.

    A student built under ``mixed_float16``/``mixed_bfloat16`` (its layers' dtype policies, or an
    explicit ``dtype`` argument) is rebuilt with ``VGGMStudent.from_config({**config, "dtype":
    "float32"})`` and its weights copied (cast to float32; under a mixed policy the variables are
    float32 already, so the copy is exact). A float32 student is returned as it is.

    Args:
        student: a `VGGMStudent`.

    Returns:
        A float32 `VGGMStudent` with the same weights.

    Raises:
        ExportError: if `student` is not a `VGGMStudent`.

    Example:

    >>> keras.config.set_dtype_policy("mixed_float16")  # doctest: +SKIP
    >>> mixed = VGGMStudent()  # doctest: +SKIP
    >>> keras.config.set_dtype_policy("float32")  # doctest: +SKIP
    >>> to_float32(mixed).dtype_policy.name  # doctest: +SKIP
    'float32'
    """
    from kerasemo.models import VGGMStudent

    if not isinstance(student, VGGMStudent):
        raise ExportError(
            f"Expected a VGGMStudent; received a {type(student).__name__}. Load the distill "
            "stage's student.keras with `load_student`."
        )
    config = student.get_config()
    if not uses_mixed_precision(student) and config.get("dtype") in (None, "float32"):
        return student
    logger.info(
        "Rebuilding the student in float32 (it was built with dtype policy %s) and copying "
        "its weights.",
        student.dtype_policy.name,
    )
    with float32_policy():
        rebuilt = VGGMStudent.from_config({**config, "dtype": "float32"})
    weights = student.get_weights()
    rebuilt.set_weights([np.asarray(w, dtype=np.float32) for w in weights])
    if uses_mixed_precision(rebuilt):  # pragma: no cover - guards a Keras behaviour change
        raise ExportError("The float32 rebuild of the student still has a mixed dtype policy.")
    return rebuilt


# --------------------------------------------------------------------------------------------
# The waveform model (training front-end + student + named heads).


def frontend_for(student: Any) -> Any:
    """The training front-end that feeds `student` from waveforms.

    ``VGGVoxSpectrogram(mirror=..., normalize=..., dither=0)``: ``mirror`` is True only for a
    student that takes all 512 bins (a 257-bin student mirrors inside), ``normalize`` only for a
    student that does not normalise its input itself. Dither is off, as when the shards are built.

    Args:
        student: a `VGGMStudent`.

    Returns:
        A `VGGVoxSpectrogram` layer.

    Raises:
        ExportError: if the student takes a number of bins the front-end cannot produce.
    """
    from kerasemo.audio.frontend import NUM_BINS, NUM_RFFT_BINS, VGGVoxSpectrogram

    if student.input_bins not in (NUM_BINS, NUM_RFFT_BINS):
        raise ExportError(
            f"The student takes {student.input_bins} frequency bins; the VGGVox front-end "
            f"produces {NUM_RFFT_BINS} (rfft) or {NUM_BINS} (mirrored). Export supports those two."
        )
    return VGGVoxSpectrogram(
        mirror=student.input_bins == NUM_BINS,
        normalize=not student.normalize_input,
        dither=0.0,
        name="frontend",
    )


def frontend_settings(student: Any) -> dict:
    """The front-end's recipe constants and switches for `student`, for the model card."""
    from kerasemo.audio import reference

    layer = frontend_for(student)
    return {
        "recipe": "VGGVox (Nagrani et al.; the authors' MATLAB front-end)",
        "sample_rate": reference.SAMPLE_RATE,
        "scale_to_int16": "clips with max|x| <= 1 are multiplied by 2**15",
        "dc_removal_alpha": reference.DC_ALPHA,
        "dither": layer.dither,
        "preemphasis": reference.PREEMPHASIS,
        "frame_length": reference.FRAME_LENGTH,
        "frame_step": reference.FRAME_STEP,
        "window": "symmetric Hamming",
        "fft_length": reference.FFT_LENGTH,
        "magnitude": "linear (no log)",
        "frontend_bins": reference.NUM_BINS if layer.mirror else reference.NUM_RFFT_BINS,
        "frontend_mirror": layer.mirror,
        "mirrored_inside_student": bool(student.mirror_input),
        "network_bins": int(student.network_bins),
        "per_bin_normalization": "mean and N-1 std over time, per clip, inside the student"
        if student.normalize_input
        else "mean and N-1 std over time, per clip, in the front-end",
        "normalization_epsilon": reference.NORMALIZATION_EPSILON
        if student.normalization_epsilon is None
        else student.normalization_epsilon,
        "short_clips": f"zero-padded to {MIN_SAMPLES} samples ({MIN_INPUT_FRAMES} frames)",
    }


def _heads(logits):
    """The three named outputs from the student's logits."""
    import keras

    return {
        "logits": keras.layers.Identity(dtype="float32", name="logits")(logits),
        "probabilities": keras.layers.Softmax(dtype="float32", name="probabilities")(logits),
        "embedding": keras.layers.Identity(dtype="float32", name="embedding")(logits),
    }


def build_waveform_model(
    student: Any, window_samples: int | None = None, batch_size: int | None = None
) -> Any:
    """Front-end + student as one Keras model: waveforms in, named outputs out.

    Args:
        student: a `VGGMStudent` (rebuilt in float32 if it is mixed precision).
        window_samples: fixed number of samples, or None for any length (at least `MIN_SAMPLES`
            for the student to pool; pad shorter clips).
        batch_size: fixed batch size, or None.

    Returns:
        A `keras.Model` mapping ``[batch, samples]`` float32 to a dict with ``logits``,
        ``probabilities`` and ``embedding``, each ``[batch, 8]`` float32.

    Example:

    >>> model = build_waveform_model(student)  # doctest: +SKIP
    >>> model.predict(np.zeros((1, 64384), "float32"))["probabilities"].shape  # doctest: +SKIP
    (1, 8)
    """
    import keras

    student = to_float32(student)
    with float32_policy():
        inputs = keras.Input(
            shape=(window_samples,), batch_size=batch_size, dtype="float32", name="waveform"
        )
        spectrogram = frontend_for(student)(inputs)
        outputs = _heads(student(spectrogram))
        return keras.Model(inputs, outputs, name="kerasemo_waveform")


def _pad_time(x, minimum):
    """Zero-pads the last axis of a TF tensor to at least `minimum` entries."""
    import tensorflow as tf

    rank = len(x.shape)
    padding = [[0, 0]] * (rank - 1) + [[0, tf.maximum(minimum - tf.shape(x)[-1], 0)]]
    return tf.pad(x, padding)


# --------------------------------------------------------------------------------------------
# SavedModel.


def export_saved_model(student: Any, directory: str | os.PathLike) -> pathlib.Path:
    """Writes the variable-length SavedModel with the two signatures (see the module docstring).

    Args:
        student: a `VGGMStudent` (rebuilt in float32 if it is mixed precision).
        directory: where to write it; an existing SavedModel there is replaced. A non-empty
            folder that is not a SavedModel is refused.

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
    student = to_float32(student)
    model = build_waveform_model(student)
    bins = int(student.input_bins)

    def serve_waveform(waveform):
        waveform = tf.debugging.check_numerics(
            waveform,
            "The `waveform` input holds NaN or Inf samples; replace them (e.g. with 0) first",
        )
        return model(_pad_time(waveform, MIN_SAMPLES), training=False)

    def serve_spectrogram(spectrogram):
        spectrogram = tf.debugging.check_numerics(
            spectrogram, "The `spectrogram` input holds NaN or Inf values"
        )
        logits = student(_pad_time(spectrogram, MIN_INPUT_FRAMES), training=False)
        return {
            "logits": tf.identity(logits, name="logits"),
            "probabilities": tf.nn.softmax(logits, name="probabilities"),
            "embedding": tf.identity(logits, name="embedding"),
        }

    # A plain tf.Module that tracks the raw tf.Variables the functions capture, rather than
    # `keras.export.ExportArchive`: on the TensorFlow backend the archive tracks the Keras
    # variable wrappers and the captured tf.Variables separately and stores every weight twice
    # (keras-team/keras#23553: 2x the size on disk and in TF Serving's memory).
    module = tf.Module()
    module.model_variables = [_tf_variable(v) for v in model.variables]
    module.serve_waveform = tf.function(
        serve_waveform,
        input_signature=[tf.TensorSpec([None, None], tf.float32, name="waveform")],
    )
    module.serve_spectrogram = tf.function(
        serve_spectrogram,
        input_signature=[tf.TensorSpec([None, bins, None], tf.float32, name="spectrogram")],
    )
    tf.saved_model.save(
        module,
        str(directory),
        signatures={
            WAVEFORM_SIGNATURE: module.serve_waveform,
            SPECTROGRAM_SIGNATURE: module.serve_spectrogram,
        },
    )
    logger.info("Wrote the SavedModel to %s", directory)
    return directory


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


# --------------------------------------------------------------------------------------------
# TFLite.


def _write_fixed_window_saved_model(student, directory: str, window_samples: int) -> None:
    """A fixed-shape (batch 1, one window) SavedModel: the converter's source.

    Converting from a SavedModel written by Keras' `ExportArchive` (variables frozen by the
    converter) gives correct outputs; `from_concrete_functions` on a Keras model gave NaN
    (unfrozen variable reads), see DESIGN.md section 6.
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
    window_samples: int = WINDOW_SAMPLES,
) -> dict[str, bytes]:
    """Converts front-end + student to TFLite flatbuffers, builtin ops only.

    Args:
        student: a `VGGMStudent` (rebuilt in float32 if it is mixed precision).
        variants: any of ``"float32"``, ``"float16"`` (float16 weights) and ``"int8"``
            (dynamic-range quantisation: int8 weights, float activations).
        window_samples: the fixed input length (default the 64,384-sample training crop).

    Returns:
        ``{variant: flatbuffer bytes}``; each model takes ``waveform`` ``[1, window_samples]``
        float32 and returns the three named outputs (signature ``serving_default``).

    Raises:
        ValueError: for an unknown variant or a window shorter than `MIN_SAMPLES`.
        ExportError: if conversion fails (e.g. an op outside the TFLite builtins).

    Example:

    >>> flatbuffers = convert_tflite(student, ["float32"])  # doctest: +SKIP
    """
    variants = [_check_variant(v) for v in variants]
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


# --------------------------------------------------------------------------------------------
# Parity.


def keras_reference(
    model: Any, waveforms: np.ndarray, batch_size: int = 8
) -> dict[str, np.ndarray]:
    """Outputs of the float32 Keras model (front-end + student) on equal-length waveforms.

    The model is called eagerly (no tracing), in batches. Clips shorter than `MIN_SAMPLES` are
    zero-padded to it, as the SavedModel does.

    Args:
        model: a `VGGMStudent`, or a model from `build_waveform_model` (cheaper when reused).
        waveforms: ``[n, samples]`` float array.
        batch_size: clips per call.

    Returns:
        ``{"logits", "probabilities", "embedding"}`` arrays ``[n, 8]`` float32.
    """
    from kerasemo.models import VGGMStudent

    if isinstance(model, VGGMStudent):
        model = build_waveform_model(model)
    waveforms = np.asarray(waveforms, dtype=np.float32)
    if waveforms.shape[1] < MIN_SAMPLES:
        waveforms = np.pad(waveforms, ((0, 0), (0, MIN_SAMPLES - waveforms.shape[1])))
    parts: dict[str, list[np.ndarray]] = {name: [] for name in OUTPUT_NAMES}
    for start in range(0, waveforms.shape[0], batch_size):
        outputs = model(waveforms[start : start + batch_size], training=False)
        for name in OUTPUT_NAMES:
            parts[name].append(np.asarray(outputs[name], dtype=np.float32))
    return {name: np.concatenate(chunks) for name, chunks in parts.items()}


def compare_outputs(
    reference: Mapping[str, np.ndarray], candidate: Mapping[str, np.ndarray]
) -> dict[str, float]:
    """Parity figures of `candidate` against `reference` (dicts of ``[n, 8]`` outputs).

    Returns:
        ``clips``; ``max_abs_probability`` (largest |p - p_ref|); ``max_abs_logit``;
        ``logit_scale`` (``max(1, max |logit_ref|)``); ``max_rel_logit`` (``max_abs_logit /
        logit_scale``); ``argmax_agreement`` (fraction of clips with the same dominant class);
        ``max_abs_embedding_minus_logits`` (0 when the embedding output is the logits).
    """
    p_ref = np.asarray(reference["probabilities"], np.float64)
    p = np.asarray(candidate["probabilities"], np.float64)
    l_ref = np.asarray(reference["logits"], np.float64)
    logits = np.asarray(candidate["logits"], np.float64)
    if p.shape != p_ref.shape:
        raise ValueError(f"Output shapes differ: {p.shape} vs {p_ref.shape}.")
    scale = max(1.0, float(np.max(np.abs(l_ref))))
    max_logit = float(np.max(np.abs(logits - l_ref)))
    return {
        "clips": int(p.shape[0]),
        "max_abs_probability": float(np.max(np.abs(p - p_ref))),
        "max_abs_logit": max_logit,
        "logit_scale": scale,
        "max_rel_logit": max_logit / scale,
        "argmax_agreement": float(np.mean(np.argmax(p, 1) == np.argmax(p_ref, 1))),
        "max_abs_embedding_minus_logits": float(
            np.max(np.abs(np.asarray(candidate["embedding"], np.float64) - logits))
        ),
    }


def within_tolerance(figures: Mapping[str, float], tolerance: float = PARITY_TOLERANCE) -> bool:
    """True when probabilities and relative logits both deviate by at most `tolerance`."""
    return figures["max_abs_probability"] <= tolerance and figures["max_rel_logit"] <= tolerance


def speech_like_clips(count: int, num_samples: int, seed: int = 1000) -> np.ndarray:
    """A held-out set of ``[count, num_samples]`` speech-like clips (varied seed, F0, level).

    The clips come from `kerasemo.audio.signals.speech_like_signal` with seeds ``seed + i``,
    mean F0 spread over 90-260 Hz and peaks over 0.2-0.9; the seeds start far from the ones
    tests and demos train on.
    """
    from kerasemo.audio.signals import speech_like_signal

    rng = np.random.default_rng(seed)
    clips = [
        speech_like_signal(
            num_samples / SAMPLE_RATE,
            seed=seed + index,
            f0=float(rng.uniform(90.0, 260.0)),
            peak=float(rng.uniform(0.2, 0.9)),
        )[:num_samples]
        for index in range(count)
    ]
    return np.stack(clips).astype(np.float32)


def saved_model_parity(
    student: Any, directory: str | os.PathLike, seed: int = 0
) -> dict[str, dict[str, float]]:
    """Parity of a SavedModel's two signatures with the Keras model, on several inputs.

    Inputs: white noise (3 s), speech-like clips of one training window (64,384 samples), and
    a 0.3 s clip (padded to `MIN_SAMPLES` by both sides), two clips each; for the spectrogram
    signature, the front-end's output of the speech-like clips and random magnitudes.

    Returns:
        ``{case: compare_outputs(...)}`` and ``"overall"`` (the worst case of each figure).
    """
    import tensorflow as tf

    student = to_float32(student)
    model = build_waveform_model(student)
    loaded = tf.saved_model.load(str(directory))
    waveform_fn = loaded.signatures[WAVEFORM_SIGNATURE]
    spectrogram_fn = loaded.signatures[SPECTROGRAM_SIGNATURE]
    rng = np.random.default_rng(seed)
    cases = {
        "noise_3s": rng.uniform(-0.5, 0.5, (2, 3 * SAMPLE_RATE)).astype(np.float32),
        "speech_window": speech_like_clips(2, WINDOW_SAMPLES, seed=seed + 2000),
        "speech_0.3s": speech_like_clips(2, int(0.3 * SAMPLE_RATE), seed=seed + 3000),
    }
    report = {}
    for name, waveforms in cases.items():
        got = waveform_fn(waveform=tf.constant(waveforms))
        report[f"waveform/{name}"] = compare_outputs(
            keras_reference(model, waveforms), {k: v.numpy() for k, v in got.items()}
        )
    frontend = frontend_for(student)
    spectrograms = {
        "speech_window": np.asarray(frontend(cases["speech_window"])),
        "random_magnitudes": rng.gamma(2.0, 1000.0, (2, student.input_bins, 150)).astype(
            np.float32
        ),
    }
    for name, spectrogram in spectrograms.items():
        logits = np.asarray(student(spectrogram, training=False), np.float32)
        reference = {"logits": logits, "probabilities": _softmax(logits), "embedding": logits}
        got = spectrogram_fn(spectrogram=tf.constant(spectrogram))
        report[f"spectrogram/{name}"] = compare_outputs(
            reference, {k: v.numpy() for k, v in got.items()}
        )
    report["overall"] = _worst(report.values())
    return report


def tflite_parity(
    student: Any,
    model: str | os.PathLike | bytes,
    clips: np.ndarray,
    num_threads: int | None = None,
) -> dict[str, float]:
    """Parity of a TFLite model (run by LiteRT) with the Keras model on ``[n, window]`` clips."""
    runner = TFLiteRunner(model, num_threads=num_threads)
    return compare_outputs(keras_reference(student, clips), runner(clips))


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - np.max(logits, axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return (exp / np.sum(exp, axis=-1, keepdims=True)).astype(np.float32)


def _worst(figures) -> dict[str, float]:
    figures = list(figures)
    worst = {}
    for key in ("max_abs_probability", "max_abs_logit", "max_rel_logit"):
        worst[key] = max(f[key] for f in figures)
    worst["argmax_agreement"] = min(f["argmax_agreement"] for f in figures)
    worst["clips"] = sum(f["clips"] for f in figures)
    return worst


# --------------------------------------------------------------------------------------------
# Model card and the whole export.


@dataclasses.dataclass
class ExportReport:
    """What `export_student` wrote and measured.

    Attributes:
        out_dir: the export folder.
        files: ``{"saved_model" | "tflite_<variant>" | "model_card" | ...: path}``.
        sizes: ``{same keys: bytes}`` (a SavedModel's size is its folder's total).
        parity: ``{"saved_model" | "tflite_<variant>": figures}`` (see `compare_outputs`).
        card: the model card as written.
        converted_to_float32: whether the student was rebuilt from a mixed-precision policy.
    """

    out_dir: pathlib.Path
    files: dict[str, pathlib.Path]
    sizes: dict[str, int]
    parity: dict[str, dict]
    card: dict
    converted_to_float32: bool

    def failures(self, tolerance: float = PARITY_TOLERANCE) -> list[str]:
        """Float32 models whose parity exceeds `tolerance` (quantised ones are not held to it)."""
        failed = []
        for key in ("saved_model", "tflite_float32"):
            if key in self.parity:
                figures = self.parity[key].get("overall", self.parity[key])
                if not within_tolerance(figures, tolerance):
                    failed.append(key)
        return failed


def _folder_size(path: pathlib.Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _sha256(path: pathlib.Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_run_metadata(run_dir: str | os.PathLike | None) -> dict:
    """Training configuration and metrics from a distill run folder, when they are there.

    Reads ``config.toml`` (the resolved experiment configuration), ``auc.json`` (ROC AUC against
    the teacher on heard and unheard identities), ``student.keras.json`` (best epoch and
    validation loss) and ``results.json`` when present; missing files are skipped.

    Returns:
        ``{"config": ..., "auc": ..., "best_checkpoint": ..., "results": ...}`` with the keys
        that were found (empty when `run_dir` is None or holds none of them).
    """
    if run_dir is None:
        return {}
    run_dir = pathlib.Path(run_dir)
    found: dict[str, Any] = {}
    sources = {
        "config": "config.toml",
        "auc": "auc.json",
        "best_checkpoint": "student.keras.json",
        "results": "results.json",
    }
    for key, name in sources.items():
        path = run_dir / name
        if not path.is_file():
            continue
        try:
            if name.endswith(".toml"):
                found[key] = tomllib.loads(path.read_text(encoding="utf-8"))
            else:
                found[key] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            logger.warning("Skipping %s in the model card: %s", path, err)
    return found


def _training_section(run: Mapping[str, Any]) -> dict:
    section: dict[str, Any] = {
        "method": (
            "Cross-modal distillation (Albanie et al., ACM MM 2018): a face-emotion teacher "
            "labels the frames of talking-face video; the speech student learns the teacher's "
            "temperature-softened predictions from 4 s crops of the synchronous audio. No "
            "labelled speech is used."
        ),
    }
    config = run.get("config")
    if config:
        section["preset"] = config.get("name")
        section["description"] = config.get("description")
        section["data"] = (
            "EmoVoxCeleb-style shards (talking-face tracks labelled by the face teacher), "
            f"identity-disjoint splits; preset {config.get('name')!r}"
        )
        section["config"] = config
    if "best_checkpoint" in run:
        section["best_checkpoint"] = run["best_checkpoint"]
    if "results" in run:
        section["results"] = run["results"]
    return section


def build_model_card(
    student: Any,
    *,
    files: Mapping[str, pathlib.Path],
    sizes: Mapping[str, int],
    parity: Mapping[str, Any],
    out_dir: pathlib.Path,
    run: Mapping[str, Any],
    source: Mapping[str, Any],
    hop_seconds: float | None = None,
) -> dict:
    """The model card (a JSON-ready dict); see the module docstring for what it holds."""
    from kerasemo import __version__, emotions

    if hop_seconds is None:
        hop_seconds = 2.0
    config = dict(student.get_config())
    config["conv_filters"] = list(config["conv_filters"])
    return {
        "model": "kerasemo speech emotion student (VGG-M, Albanie et al. 2018)",
        "kerasemo_version": __version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "classes": list(emotions.CLASSES),
        "outputs": {
            "logits": "[batch, 8] float32, class order as `classes`",
            "probabilities": "[batch, 8] float32, softmax(logits)",
            "embedding": "[batch, 8] float32, the paper's speech emotion embedding; identical "
            "to the logits (linear probes are fitted on them)",
        },
        "input": {
            "sample_rate": SAMPLE_RATE,
            "channels": 1,
            "dtype": "float32",
            "range": "[-1, 1] (int16-scale floats are also accepted: clips whose peak is above 1 "
            "are not rescaled)",
            "window_samples": WINDOW_SAMPLES,
            "window_seconds": WINDOW_SAMPLES / SAMPLE_RATE,
            "timeline_hop_seconds": hop_seconds,
            "min_samples": MIN_SAMPLES,
            "saved_model": "any length; shorter than min_samples is zero-padded in the graph; "
            "one length per batch",
            "tflite": f"exactly window_samples, batch {TFLITE_BATCH}",
        },
        "frontend": frontend_settings(student),
        "student": {
            "class": type(student).__name__,
            "config": config,
            "parameters": int(student.count_params()),
            "trained_precision": source.get("trained_precision"),
            "exported_precision": "float32",
        },
        "files": {
            key: {"path": os.path.relpath(path, out_dir), "bytes": int(sizes[key])}
            for key, path in files.items()
        },
        "signatures": {
            WAVEFORM_SIGNATURE: {"inputs": {"waveform": "[batch, samples] float32"}},
            SPECTROGRAM_SIGNATURE: {
                "inputs": {
                    "spectrogram": f"[batch, {student.input_bins}, frames] float32 linear "
                    "magnitudes (the front-end's output, unnormalised)"
                }
            },
        },
        "parity": {
            "metric": (
                "against the float32 Keras model (front-end + student): max |p - p_keras| over "
                "probabilities; max |logit - logit_keras| / max(1, max |logit_keras|); argmax "
                "agreement over clips"
            ),
            "tolerance_float32": PARITY_TOLERANCE,
            **parity,
        },
        "training": _training_section(run),
        "metrics": {"auc_vs_teacher": run["auc"]} if "auc" in run else {},
        "source": dict(source),
    }


def export_student(
    student: Any,
    out_dir: str | os.PathLike,
    *,
    variants: Sequence[str] = TFLITE_VARIANTS,
    saved_model: bool = True,
    version: int = DEFAULT_VERSION,
    holdout_clips: int = 16,
    run_dir: str | os.PathLike | None = None,
    describe: bool = True,
    check: bool = True,
    num_threads: int | None = None,
) -> ExportReport:
    """Exports a student to SavedModel and TFLite, checks parity and writes the model card.

    Args:
        student: a `VGGMStudent`, or the path of its ``.keras`` file.
        out_dir: the export folder (created).
        variants: TFLite variants to write (any of `TFLITE_VARIANTS`; empty for none).
        saved_model: write the SavedModel (into ``out_dir/<version>``).
        version: the SavedModel's version directory name (TF Serving layout).
        holdout_clips: speech-like windows for the TFLite parity figures (>= 1).
        run_dir: the distill run folder to read training settings and metrics from; by default
            the folder of the ``.keras`` file when `student` is a path.
        describe: also write ``saved_model_cli.txt`` (``saved_model_cli show --all``).
        check: raise `ExportError` if a float32 model misses `PARITY_TOLERANCE` (the files and
            the card are written first, so the figures can be inspected).
        num_threads: LiteRT threads for the parity runs (None: all cores).

    Returns:
        An `ExportReport`.

    Raises:
        FileNotFoundError: if `student` is a path that does not exist.
        ValueError: for an unknown variant, a bad version or holdout size.
        ExportError: if loading, conversion or (with `check`) parity fails.

    Example:

    >>> student = "runs/distill/student.keras"
    >>> report = export_student(student, "saved_models/kerasemo")  # doctest: +SKIP
    >>> sorted(report.files)  # doctest: +SKIP
    ['model_card', 'saved_model', 'saved_model_cli', 'tflite_float16', 'tflite_float32',
     'tflite_int8']
    """
    variants = [_check_variant(v) for v in variants]
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"version must be a positive integer; received {version!r}.")
    if isinstance(holdout_clips, bool) or not isinstance(holdout_clips, int) or holdout_clips < 1:
        raise ValueError(f"holdout_clips must be a positive integer; received {holdout_clips!r}.")
    source: dict[str, Any] = {}
    if isinstance(student, (str, os.PathLike)):
        path = pathlib.Path(student)
        student = load_student(path)
        source.update({"student_file": path.name, "sha256": _sha256(path)})
        if run_dir is None:
            run_dir = path.parent
    source["trained_precision"] = student.get_layer("conv1").dtype_policy.name
    float32_student = to_float32(student)
    mixed = float32_student is not student

    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, pathlib.Path] = {}
    parity: dict[str, Any] = {}

    if saved_model:
        directory = export_saved_model(float32_student, out_dir / str(version))
        files["saved_model"] = directory
        parity["saved_model"] = saved_model_parity(float32_student, directory)
        logger.info(
            "SavedModel parity: max |dp| %.2e, max |dlogit|/scale %.2e",
            parity["saved_model"]["overall"]["max_abs_probability"],
            parity["saved_model"]["overall"]["max_rel_logit"],
        )
        if describe:
            text_path = out_dir / SAVED_MODEL_CLI_TEXT
            text_path.write_text(saved_model_cli_show(directory), encoding="utf-8")
            files["saved_model_cli"] = text_path

    if variants:
        clips = speech_like_clips(holdout_clips, WINDOW_SAMPLES)
        reference = keras_reference(float32_student, clips)
        flatbuffers = convert_tflite(float32_student, variants)
        for variant, flatbuffer in flatbuffers.items():
            ops = tflite_ops(flatbuffer)
            custom = [op for op in ops if op.startswith("Flex") or not op.isupper()]
            if custom:
                raise ExportError(f"The {variant} TFLite model uses non-builtin ops {custom}.")
            path = out_dir / tflite_filename(variant)
            path.write_bytes(flatbuffer)
            files[f"tflite_{variant}"] = path
            runner = TFLiteRunner(path, num_threads=num_threads)
            figures = compare_outputs(reference, runner(clips))
            figures["ops"] = ops
            parity[f"tflite_{variant}"] = figures
            logger.info(
                "TFLite %s: %.1f MB, max |dp| %.2e, argmax agreement %.3f",
                variant,
                len(flatbuffer) / 1e6,
                figures["max_abs_probability"],
                figures["argmax_agreement"],
            )

    card_path = out_dir / MODEL_CARD
    files["model_card"] = card_path
    sizes = {key: _folder_size(path) for key, path in files.items() if path.exists()}
    sizes["model_card"] = 0
    card = build_model_card(
        float32_student,
        files={k: v for k, v in files.items() if k != "model_card"},
        sizes=sizes,
        parity=parity,
        out_dir=out_dir,
        run=read_run_metadata(run_dir),
        source=source,
    )
    card_path.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    sizes["model_card"] = card_path.stat().st_size
    report = ExportReport(
        out_dir=out_dir,
        files=files,
        sizes=sizes,
        parity=parity,
        card=card,
        converted_to_float32=bool(mixed),
    )
    failed = report.failures()
    if check and failed:
        raise ExportError(
            f"Parity above {PARITY_TOLERANCE} for {', '.join(failed)}: "
            + "; ".join(
                f"{key}: {json.dumps(parity[key].get('overall', parity[key]))}" for key in failed
            )
            + f". The files and {card_path} were written for inspection."
        )
    return report
