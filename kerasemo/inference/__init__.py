"""Speech emotion recognition for applications: one clip, a batch of files, or a timeline.

`EmotionRecognizer.from_path` loads any of the three model formats kerasemo produces and runs
them the same way:

- a student ``.keras`` file (what the distill stage saves): the training front-end is put in
  front of it (`kerasemo.export.build_waveform_model`), in float32 even if it was trained under
  mixed precision;
- a SavedModel folder written by ``kerasemo.experiments.export`` (or the export folder itself,
  whose highest numeric version sub-folder is used);
- a ``.tflite`` model written by the same (one fixed window, run by LiteRT).

`EmotionRecognizer.predict` takes a 16 kHz mono waveform or an audio/video file and returns an
`EmotionPrediction` (probabilities, logits = the paper's embedding, dominant emotion, duration);
`predict_batch` scores several clips together. `EmotionRecognizer.timeline` runs fixed windows
over a file (streamed: memory stays bounded for hour-long files) and returns a `Timeline` that
writes tables and JSON and draws a Matplotlib figure. `collect_inputs` and `predict_files` score
files, folders and CSV manifests, one row per file, skipping (and reporting) unreadable files;
`write_table` writes any result table as CSV, Parquet or JSON.

**Probe heads.** ``from_path(model, head=DIR)`` adds a head written by ``probe --save-head``
(`ProbeHead`) to a ``.keras`` student or an export without a head; an export with a head built
in uses its own. Predictions and timeline windows then also carry the head's probabilities and
its most probable class (``label``; table columns ``head_<class>`` and ``head_label``) beside the
eight FERPlus classes. A timeline's summary applies the head to the windows' mean logits.

Modules: `results` (what is returned, and tables), `waveforms` (rules for arrays, padded
batches), `windows` (cutting streams into windows), `backends` (the three formats), `heads`
(probe heads), `recognizer` (`EmotionRecognizer`), `batch` (many files), `agreement` (how far
two routes are apart).

Rules at the door (each raises a clear error or applies a documented fix-up):

- **Sample rate**: arrays at another rate are resampled to 16 kHz (libswresample, as
  `kerasemo.audio.load_audio` does) when the rate is passed as ``sample_rate=``; files are
  decoded and resampled whatever their rate.
- **Channels**: 2-D arrays are ``[samples, channels]`` or ``[channels, samples]`` (the shorter
  axis, at most 8, is taken as channels) and are averaged to mono; files likewise.
- **Integer samples** are scaled to [-1, 1) (int16 / 32768, and so on).
- **Empty** input raises `ValueError`; **NaN or Inf** samples raise `ValueError` naming their
  count and the first position (files: `AudioDecodeError`, also a `ValueError`).
- **Too short**: below `MIN_CLIP_SECONDS` (0.1 s) is refused with `ValueError`; clips shorter
  than the student's minimum (0.645 s, 10,320 samples) are zero-padded to it with a logged
  warning, and count as that long on every route.
- **Not audio**: `FileNotFoundError`, `IsADirectoryError` or `AudioDecodeError` from the decoder.

What one prediction covers (one answer per route):

- A clip's prediction is the student on the whole clip, padded only to the student's minimum.
  Clips in one batch are zero-padded to the longest and passed with their lengths (the
  SavedModel's ``waveforms_with_lengths`` signature, the Keras lengths model), which mask the
  padding: each clip gets the answer it gets alone (within float32 rounding, 1e-6).
- ``.keras``/SavedModel score clips of up to ``max_clip_seconds`` (30 s) in one pass; longer
  clips are the mean of their timeline windows' logits.
- ``.tflite`` takes exactly one window (its training crop): a shorter clip is zero-padded to it
  and given its true length, so it gets the same answer as on the other formats (within 1e-5).
  A clip longer than the window is the mean of its timeline windows' logits, which differs from
  the whole-clip pass of the other formats: `kerasemo.inference.agreement.route_agreement`
  measures by how much. (A ``.tflite`` exported before the ``length`` input scores padded
  windows as they are.)

Timeline windows: ``window`` seconds (default: the model's own training crop,
`EmotionRecognizer.default_window_samples`, read from the student's configuration or its run's,
or recorded in the export; the paper's 4.024 s = 64,384 samples only when the model does not
say) every ``hop`` seconds (default 2 s), starting at 0. Windows end where the audio ends; the
last window, which reaches past the end, is scored on the audio it holds (with its length, so
its padding changes nothing), and its ``end_s`` is the end of the audio. A recording no longer
than one window gives one window, whose answer (and the timeline's `Timeline.summary`) is
`EmotionRecognizer.predict`'s.

Example:

```python
from kerasemo import EmotionRecognizer
from kerasemo.inference import collect_inputs, predict_files, write_table

recognizer = EmotionRecognizer.from_path("saved_models/kerasemo", head="runs/heads/rml")
print(recognizer.predict("interview.m4a").label)
timeline = recognizer.timeline("podcast.mp3", hop=1.0)
timeline.to_csv("podcast.csv")
timeline.plot().savefig("podcast.png", dpi=100)
result = predict_files(recognizer, collect_inputs(["recordings/", "clips.csv"]))
write_table(result.table, "results.parquet")
```
"""

from __future__ import annotations

from kerasemo.audio.decode import stream_audio
from kerasemo.inference.batch import (
    BatchPredictions,
    SkippedFiles,
    collect_inputs,
    media_files,
    predict_files,
    read_manifest,
)
from kerasemo.inference.heads import ProbeHead
from kerasemo.inference.recognizer import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_MAX_CLIP_SECONDS,
    EmotionRecognizer,
)
from kerasemo.inference.results import (
    EmotionPrediction,
    Scores,
    Timeline,
    TimelineWindow,
    check_table_suffix,
    table_to_csv,
    write_table,
)
from kerasemo.inference.waveforms import (
    MAX_CHANNELS,
    MIN_CLIP_SECONDS,
    pad_batch,
    prepare_waveform,
)
from kerasemo.inference.windows import DEFAULT_HOP_SECONDS, DEFAULT_WINDOW_SECONDS, iter_windows

__all__ = [
    "BatchPredictions",
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_HOP_SECONDS",
    "DEFAULT_MAX_CLIP_SECONDS",
    "DEFAULT_WINDOW_SECONDS",
    "EmotionPrediction",
    "EmotionRecognizer",
    "MAX_CHANNELS",
    "MIN_CLIP_SECONDS",
    "ProbeHead",
    "Scores",
    "SkippedFiles",
    "Timeline",
    "TimelineWindow",
    "check_table_suffix",
    "collect_inputs",
    "iter_windows",
    "media_files",
    "pad_batch",
    "predict_files",
    "prepare_waveform",
    "read_manifest",
    "stream_audio",
    "table_to_csv",
    "write_table",
]
