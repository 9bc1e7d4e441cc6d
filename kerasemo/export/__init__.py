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
  window of the student's training crop (`model_window`: the student's ``input_frames``, else
  the run's ``frontend.crop_frames``, else the paper's 64,384 samples = 4.024 s,
  `WINDOW_SAMPLES`), **batch 1**, TFLite builtin ops only (no Flex delegate). float16 stores
  the weights in float16; int8 is dynamic-range quantisation (int8 weights, float activations).
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

Modules: `contract` (names and constants), `window` (the student's window), `precision`
(loading, float32 rebuild), `waveform_model` (front-end + student), `saved_model`, `tflite`
(conversion and the LiteRT runner), `parity`, `model_card`, `pipeline` (`export_student`).

How: the SavedModel is written from a plain `tf.Module` holding the model's `tf.Variable`s and
two traced functions, because Keras' `ExportArchive`/`model.export` store every weight twice on
the TensorFlow backend (keras-team/keras#23553). The TFLite models are converted with
`TFLiteConverter.from_saved_model` from a fixed-shape `ExportArchive` (the converter freezes the
variables; `from_concrete_functions` on a Keras model gave NaN outputs), with
``TFLITE_BUILTINS`` as the only op set.

Example:

```python
from kerasemo import export

report = export.export_student("runs/distill/student.keras", "saved_models/kerasemo")
report.files["tflite_float32"], report.parity["tflite_float32"]["max_abs_probability"]
```
"""

from __future__ import annotations

from kerasemo.export.contract import (
    DEFAULT_VERSION,
    MIN_SAMPLES,
    MODEL_CARD,
    OUTPUT_NAMES,
    PARITY_TOLERANCE,
    SAMPLE_RATE,
    SAVED_MODEL_CLI_TEXT,
    SPECTROGRAM_SIGNATURE,
    TFLITE_BATCH,
    TFLITE_VARIANTS,
    WAVEFORM_SIGNATURE,
    WINDOW_FUNCTION,
    WINDOW_SAMPLES,
    ExportError,
    check_variant,
    tflite_filename,
)
from kerasemo.export.model_card import build_model_card, read_run_metadata
from kerasemo.export.parity import (
    compare_outputs,
    keras_reference,
    saved_model_parity,
    speech_like_clips,
    within_tolerance,
)
from kerasemo.export.pipeline import ExportReport, export_student
from kerasemo.export.precision import (
    check_student,
    float32_policy,
    load_student,
    to_float32,
    uses_mixed_precision,
    with_input_frames,
)
from kerasemo.export.saved_model import export_saved_model, saved_model_cli_show
from kerasemo.export.tflite import TFLiteRunner, convert_tflite, litert_interpreter, tflite_ops
from kerasemo.export.waveform_model import build_waveform_model, frontend_for, frontend_settings
from kerasemo.export.window import (
    ModelWindow,
    crop_samples_for_frames,
    model_window,
    read_run_config,
)

__all__ = [
    "DEFAULT_VERSION",
    "ExportError",
    "ExportReport",
    "MIN_SAMPLES",
    "MODEL_CARD",
    "ModelWindow",
    "OUTPUT_NAMES",
    "PARITY_TOLERANCE",
    "SAMPLE_RATE",
    "SAVED_MODEL_CLI_TEXT",
    "SPECTROGRAM_SIGNATURE",
    "TFLITE_BATCH",
    "TFLITE_VARIANTS",
    "TFLiteRunner",
    "WAVEFORM_SIGNATURE",
    "WINDOW_FUNCTION",
    "WINDOW_SAMPLES",
    "build_model_card",
    "build_waveform_model",
    "check_student",
    "check_variant",
    "compare_outputs",
    "convert_tflite",
    "crop_samples_for_frames",
    "export_saved_model",
    "export_student",
    "float32_policy",
    "frontend_for",
    "frontend_settings",
    "keras_reference",
    "litert_interpreter",
    "load_student",
    "model_window",
    "read_run_config",
    "read_run_metadata",
    "saved_model_cli_show",
    "saved_model_parity",
    "speech_like_clips",
    "tflite_filename",
    "tflite_ops",
    "to_float32",
    "uses_mixed_precision",
    "with_input_frames",
    "within_tolerance",
]
