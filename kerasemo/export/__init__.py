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

With a probe head (``export_student(..., head=DIR)``, ``--head DIR``: a folder written by
``python -m kerasemo.experiments.probe --save-head DIR``, read with
`kerasemo.evaluation.probing.load_probe_head`) every signature of every model also returns:

- ``head_probabilities`` (`HEAD_PROBABILITIES`): ``[batch, K]`` float32, the head's K classes
  in its order (the probe applied to the logits);
- ``label`` (`LABEL`): ``[batch]`` string, the class with the highest head probability. The
  TFLite models return it too: ``tf.gather`` of the class names converts to the builtin
  ``GATHER`` on a string tensor (no Flex op).

A head must take as many features as the student has logits (else `ExportError`). The
SavedModel records its class names as `HEAD_CLASSES_FUNCTION` (a no-argument function returning
a string vector), and the model card under ``"head"``: ``classes``, ``dataset``, ``num_clips``,
``student_sha256`` and ``matches_student`` (whether the head's recorded student fingerprint is
the exported student's; a warning is logged when it is not).

Length-aware batches: a batch of clips of different lengths, zero-padded to the longest, gives
every clip the outputs it gets alone and unpadded (to float32 rounding) when each clip's valid
samples are given as ``length`` (`LENGTH_INPUT`, int32). The student then runs length-aware
(`kerasemo.models.masked.MaskedStudent`: normalisation, every trunk stage and the time average
see each clip's own frames only; `build_waveform_model(..., lengths=True)`); a clip shorter than
`MIN_SAMPLES` counts as that many samples, as when it runs alone. This needs a student that
normalises its own input (``normalize_input=True``, the default).

What is written (`export_student`), into one folder (``saved_models/NAME`` by default):

- ``1/``: the SavedModel (version directory, as TF Serving expects under
  ``--model_base_path=saved_models/NAME``) with three signatures:
  ``serving_default`` (``waveform``: ``[batch, samples]``, any length; clips shorter than
  `MIN_SAMPLES` are zero-padded to it inside the graph; NaN/Inf samples are rejected with an
  ``InvalidArgumentError`` naming the input; clips in one batch have the same length),
  ``waveforms_with_lengths`` (`LENGTHS_SIGNATURE`: ``waveform`` ``[batch, samples]``
  zero-padded and ``length`` ``[batch]`` int32 valid samples, each in ``[0, samples]``, else an
  ``InvalidArgumentError``), and ``spectrogram`` (``[batch, input_bins, frames]`` linear
  magnitudes as stored in the shards, zero-padded to `MIN_INPUT_FRAMES`).
- ``kerasemo_float32.tflite``, ``kerasemo_float16.tflite``, ``kerasemo_int8.tflite``: one fixed
  window of the student's training crop (`model_window`: the student's ``input_frames``, else
  the run's ``frontend.crop_frames``, else the paper's 64,384 samples = 4.024 s,
  `WINDOW_SAMPLES`), **batch 1**, inputs ``waveform`` ``[1, window]`` float32 and ``length``
  ``[1]`` int32 (the clip's valid samples: a shorter clip zero-padded to the window gets its
  own answer; clipped to the window), TFLite builtin ops only (no Flex delegate). float16
  stores the weights in float16; int8 is dynamic-range quantisation (int8 weights, float
  activations).
- ``model_card.json``: classes, input contract, front-end settings, student configuration,
  file sizes, parity figures, the head (if any), and the training configuration and metrics of
  the distillation run when the student sits in its run directory (``config.toml``,
  ``auc.json``).
- ``saved_model_cli.txt``: the output of ``saved_model_cli show --dir 1 --all``.
- ``kerasemo.onnx`` (only with ``onnx=True`` / ``--onnx``, and the ``onnx`` extra): the same
  waveform model for ONNX Runtime, any length, with the three outputs above but no head
  (`kerasemo.export.onnx`).

Parity (measured at export and written to the card): the SavedModel and the float32 TFLite model
against the float32 Keras model (front-end + student, called eagerly): the largest absolute
difference of the probabilities, and of the logits divided by ``max(1, max |logit|)`` (the
"logit scale"), and with a head of the head probabilities (and the label agreement), all
<= `PARITY_TOLERANCE` (1e-4); the ONNX model is held to the same. Padded batches are measured too: the SavedModel's
``lengths/padded_batch`` case and each TFLite model's ``padded_with_length`` (clips shorter than
the window, zero-padded with their lengths), both against the Keras model on each clip alone and
unpadded. The quantised TFLite models are reported on a held-out set of speech-like clips as the
largest probability difference and the argmax agreement.

A student trained under mixed precision is rebuilt in float32 and its weights copied before
export (`to_float32`): a float16 graph does not convert to TFLite, and float32 is what both
runtimes execute fastest on CPU.

Modules: `contract` (names and constants), `window` (the student's window), `precision`
(loading, float32 rebuild), `waveform_model` (front-end + student, plain or length-aware),
`head` (probe heads), `saved_model`, `tflite` (conversion and the LiteRT runner), `parity`,
`model_card`, `onnx` (optional ONNX export), `pipeline` (`export_student`).

How: the SavedModel is written from a plain `tf.Module` holding the model's `tf.Variable`s and
two traced functions, because Keras' `ExportArchive`/`model.export` store every weight twice on
the TensorFlow backend (keras-team/keras#23553). The TFLite models are converted with
`TFLiteConverter.from_saved_model` from a fixed-shape `ExportArchive` (the converter freezes the
variables; `from_concrete_functions` on a Keras model gave NaN outputs), with
``TFLITE_BUILTINS`` as the only op set.

Example:

```python
from kerasemo import export

report = export.export_student("runs/demo/distill/student.keras", "saved_models/kerasemo")
report.files["tflite_float32"], report.parity["tflite_float32"]["max_abs_probability"]

# With the head `probe --save-head runs/heads/rml` wrote: labels in every model.
report = export.export_student(
    "runs/demo/distill/student.keras", "saved_models/rml", head="runs/heads/rml"
)
report.card["head"]["classes"], report.card["head"]["matches_student"]
```
"""

from __future__ import annotations

from kerasemo.export.contract import (
    DEFAULT_VERSION,
    HEAD_CLASSES_FUNCTION,
    HEAD_PROBABILITIES,
    LABEL,
    LENGTH_INPUT,
    LENGTHS_SIGNATURE,
    MIN_SAMPLES,
    MODEL_CARD,
    OUTPUT_NAMES,
    PARITY_TOLERANCE,
    SAMPLE_RATE,
    SAVED_MODEL_CLI_TEXT,
    SPECTROGRAM_SIGNATURE,
    TFLITE_BATCH,
    TFLITE_VARIANTS,
    WAVEFORM_INPUT,
    WAVEFORM_SIGNATURE,
    WINDOW_FUNCTION,
    WINDOW_SAMPLES,
    ExportError,
    check_variant,
    padded_batch,
    tflite_filename,
)
from kerasemo.export.head import ExportHead, head_card, head_labels, load_export_head
from kerasemo.export.model_card import build_model_card, read_run_metadata
from kerasemo.export.parity import (
    alone_reference,
    compare_outputs,
    keras_reference,
    saved_model_parity,
    shorter_clips,
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
from kerasemo.export.waveform_model import (
    PadToMinSamples,
    build_waveform_model,
    frontend_for,
    frontend_settings,
    valid_frames,
)
from kerasemo.export.window import (
    ModelWindow,
    crop_samples_for_frames,
    model_window,
    read_run_config,
)

__all__ = [
    "DEFAULT_VERSION",
    "ExportError",
    "ExportHead",
    "ExportReport",
    "HEAD_CLASSES_FUNCTION",
    "HEAD_PROBABILITIES",
    "LABEL",
    "LENGTHS_SIGNATURE",
    "LENGTH_INPUT",
    "MIN_SAMPLES",
    "MODEL_CARD",
    "ModelWindow",
    "OUTPUT_NAMES",
    "PARITY_TOLERANCE",
    "PadToMinSamples",
    "SAMPLE_RATE",
    "SAVED_MODEL_CLI_TEXT",
    "SPECTROGRAM_SIGNATURE",
    "TFLITE_BATCH",
    "TFLITE_VARIANTS",
    "TFLiteRunner",
    "WAVEFORM_INPUT",
    "WAVEFORM_SIGNATURE",
    "WINDOW_FUNCTION",
    "WINDOW_SAMPLES",
    "alone_reference",
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
    "head_card",
    "head_labels",
    "keras_reference",
    "litert_interpreter",
    "load_export_head",
    "load_student",
    "model_window",
    "padded_batch",
    "read_run_config",
    "read_run_metadata",
    "saved_model_cli_show",
    "saved_model_parity",
    "shorter_clips",
    "speech_like_clips",
    "tflite_filename",
    "tflite_ops",
    "to_float32",
    "uses_mixed_precision",
    "valid_frames",
    "with_input_frames",
    "within_tolerance",
]
