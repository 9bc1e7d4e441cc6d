"""Speech emotion recognition for applications: one clip, or a timeline over a long recording.

`EmotionRecognizer.from_path` loads any of the three model formats kerasemo produces and runs
them the same way:

- a student ``.keras`` file (what the distill stage saves): the training front-end is put in
  front of it (`kerasemo.export.build_waveform_model`), in float32 even if it was trained under
  mixed precision;
- a SavedModel folder written by ``kerasemo.experiments.export`` (or the export folder itself,
  whose highest numeric version sub-folder is used);
- a ``.tflite`` model written by the same (one fixed window, run by LiteRT).

`EmotionRecognizer.predict` takes a 16 kHz mono waveform or an audio/video file and returns an
`EmotionPrediction` (probabilities, logits = the paper's embedding, dominant emotion).
`EmotionRecognizer.timeline` runs fixed windows over a file (streamed: memory stays bounded for
hour-long files) and returns a `Timeline` that writes CSV/JSON and draws a Matplotlib figure.

Modules: `results` (what is returned), `waveforms` (rules for arrays), `windows` (cutting
streams into windows), `backends` (the three formats), `recognizer` (`EmotionRecognizer`).

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
  warning.
- **Not audio**: `FileNotFoundError`, `IsADirectoryError` or `AudioDecodeError` from the decoder.

What one prediction covers:

- ``.keras``/SavedModel: the whole clip in one pass (the student averages over time, as in the
  paper's probe protocol on full-length utterances), up to ``max_clip_seconds`` (30 s); longer
  clips are cut into timeline windows whose logits are averaged.
- ``.tflite``: the model takes exactly one window (its training crop), so shorter clips are
  zero-padded to it and longer clips are the average of their timeline windows' logits. Results
  therefore differ from the other two formats for clips that are not one window long.

Timeline windows: ``window`` seconds (default: the model's own training crop,
`EmotionRecognizer.default_window_samples`, read from the student's configuration or its run's,
or recorded in the export; the paper's 4.024 s = 64,384 samples only when the model does not
say) every ``hop`` seconds (default 2 s), starting at 0. Windows end where the audio ends; the last
window, which reaches past the end, is zero-padded to the full window (as a short training crop
is), and its ``end_s`` is the end of the audio. A recording shorter than one window gives one
padded window.

Example:

```python
from kerasemo import EmotionRecognizer

recognizer = EmotionRecognizer.from_path("saved_models/kerasemo")
print(recognizer.predict("interview.m4a").dominant)
timeline = recognizer.timeline("podcast.mp3", hop=1.0)
timeline.to_csv("podcast.csv")
timeline.plot().savefig("podcast.png", dpi=100)
```
"""

from __future__ import annotations

from kerasemo.audio.decode import stream_audio
from kerasemo.inference.recognizer import DEFAULT_MAX_CLIP_SECONDS, EmotionRecognizer
from kerasemo.inference.results import EmotionPrediction, Timeline, TimelineWindow, rows_to_csv
from kerasemo.inference.waveforms import MAX_CHANNELS, MIN_CLIP_SECONDS, prepare_waveform
from kerasemo.inference.windows import DEFAULT_HOP_SECONDS, DEFAULT_WINDOW_SECONDS, iter_windows

__all__ = [
    "DEFAULT_HOP_SECONDS",
    "DEFAULT_MAX_CLIP_SECONDS",
    "DEFAULT_WINDOW_SECONDS",
    "EmotionPrediction",
    "EmotionRecognizer",
    "MAX_CHANNELS",
    "MIN_CLIP_SECONDS",
    "Timeline",
    "TimelineWindow",
    "iter_windows",
    "prepare_waveform",
    "rows_to_csv",
    "stream_audio",
]
