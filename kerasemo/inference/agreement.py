"""How far two recognisers' utterance predictions are apart, clip length by clip length.

Every route gives a clip of up to one window the same answer; beyond one window a fixed-window
``.tflite`` model averages its timeline windows' logits while the variable-length formats score
the whole clip in one pass. `route_agreement` measures that difference on held-out speech-like
clips (`kerasemo.export.speech_like_clips`) of several lengths.

Example:

```python
keras_route = EmotionRecognizer.from_path("runs/demo/distill/student.keras")
tflite_route = EmotionRecognizer.from_path("saved_models/kerasemo/kerasemo_float32.tflite")
print(route_agreement(keras_route, tflite_route).to_string(index=False))
```
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from kerasemo.audio.reference import SAMPLE_RATE
from kerasemo.inference.recognizer import EmotionRecognizer

ROUTE_SECONDS = (1.0, 2.5, 6.0, 10.0, 20.0)
"""Clip lengths `route_agreement` measures by default, besides the candidate's own window."""
ROUTE_SEED = 3000
"""First seed of the measured clips (away from the export's hold-out set)."""


def route_agreement(
    reference: EmotionRecognizer,
    candidate: EmotionRecognizer,
    seconds: Sequence[float] | None = None,
    clips: int = 8,
    seed: int = ROUTE_SEED,
) -> pd.DataFrame:
    """The largest probability difference and the argmax agreement of two routes, per length.

    Args:
        reference: the recogniser to compare against (e.g. the ``.keras`` or SavedModel route).
        candidate: the other route (e.g. a ``.tflite`` model).
        seconds: clip lengths in seconds; None: `ROUTE_SECONDS` and the candidate's window.
        clips: speech-like clips per length.
        seed: the first clip's seed.

    Returns:
        One row per length, sorted by it: ``seconds``, ``clips``, ``windows`` (how many windows
        the candidate averaged), ``max_abs_probability`` (over clips and classes) and
        ``argmax_agreement`` (the fraction of clips with the same dominant emotion).

    Example:

    >>> table = route_agreement(keras_route, tflite_route, clips=16)  # doctest: +SKIP
    >>> table.loc[table.seconds <= 4.024, "argmax_agreement"].min()  # doctest: +SKIP
    1.0
    """
    from kerasemo.export import speech_like_clips

    if seconds is None:
        seconds = (*ROUTE_SECONDS, candidate.default_window_samples / SAMPLE_RATE)
    rows = []
    for duration in sorted(seconds):
        batch = list(speech_like_clips(clips, int(round(duration * SAMPLE_RATE)), seed))
        ours, theirs = reference.predict_batch(batch), candidate.predict_batch(batch)
        p = np.stack([prediction.probabilities for prediction in ours])
        q = np.stack([prediction.probabilities for prediction in theirs])
        rows.append(
            {
                "seconds": float(duration),
                "clips": clips,
                "windows": max(prediction.windows for prediction in theirs),
                "max_abs_probability": float(np.abs(p - q).max()),
                "argmax_agreement": float(np.mean(p.argmax(axis=1) == q.argmax(axis=1))),
            }
        )
    return pd.DataFrame(rows)
