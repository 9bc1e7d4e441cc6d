"""What the recogniser returns: one prediction, timeline windows, and whole timelines.

`EmotionPrediction` is the student's output for one clip; a `Timeline` holds `TimelineWindow`
rows over a recording and writes them as CSV (`rows_to_csv`), JSON or a Matplotlib figure.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import pathlib
from collections.abc import Sequence
from typing import Any, Union

import numpy as np
from scipy.special import softmax

from kerasemo import emotions
from kerasemo.audio.reference import SAMPLE_RATE

PathLike = Union[str, "os.PathLike[str]"]


@dataclasses.dataclass(frozen=True)
class EmotionPrediction:
    """The student's output for one clip.

    Attributes:
        probabilities: float32 ``[8]``, softmax of the logits, in `kerasemo.emotions.CLASSES`
            order.
        logits: float32 ``[8]``; the paper's speech emotion embedding (`embedding` is an alias).
        windows: how many windows were averaged (1 for a clip scored in one pass).

    Example:

    >>> prediction.dominant, round(float(prediction.probabilities.sum()), 3)  # doctest: +SKIP
    ('neutral', 1.0)
    """

    probabilities: np.ndarray
    logits: np.ndarray
    windows: int = 1

    @property
    def dominant(self) -> str:
        """The class with the highest probability."""
        return emotions.CLASSES[int(np.argmax(self.probabilities))]

    @property
    def embedding(self) -> np.ndarray:
        """The 8-d embedding, i.e. the logits."""
        return self.logits

    def to_dict(self) -> dict:
        """``{"dominant", "probabilities": {class: p}, "logits": {class: l}, "windows"}``."""
        return {
            "dominant": self.dominant,
            "probabilities": dict(zip(emotions.CLASSES, map(float, self.probabilities))),
            "logits": dict(zip(emotions.CLASSES, map(float, self.logits))),
            "windows": self.windows,
        }


@dataclasses.dataclass(frozen=True)
class TimelineWindow:
    """One timeline window: where it lies in the recording and the student's output for it.

    Attributes:
        start_s: start of the window in seconds.
        end_s: end of the audio it covers in seconds (the audio's end for a padded last window).
        probabilities: float32 ``[8]``.
        logits: float32 ``[8]``.
    """

    start_s: float
    end_s: float
    probabilities: np.ndarray
    logits: np.ndarray

    @property
    def dominant(self) -> str:
        return emotions.CLASSES[int(np.argmax(self.probabilities))]

    def to_row(self) -> dict:
        """``{"start_s", "end_s", <one probability per class>, "dominant"}``."""
        row: dict[str, Any] = {"start_s": round(self.start_s, 4), "end_s": round(self.end_s, 4)}
        row.update({c: float(p) for c, p in zip(emotions.CLASSES, self.probabilities)})
        row["dominant"] = self.dominant
        return row


@dataclasses.dataclass
class Timeline:
    """Per-window emotion probabilities over a recording.

    Attributes:
        windows: the `TimelineWindow` rows in time order.
        source: the file (or ``"<array>"``).
        window_s, hop_s: the window length and hop in seconds.
        duration_s: where the audio covered by the last window ends, in seconds (the length of
            the recording, unless a hop longer than the window skipped its tail).

    Example:

    >>> timeline = recognizer.timeline("talk.mp4")  # doctest: +SKIP
    >>> timeline.to_csv("talk.csv"); timeline.plot("talk.png")  # doctest: +SKIP
    """

    windows: list[TimelineWindow]
    source: str
    window_s: float
    hop_s: float
    duration_s: float

    def __len__(self) -> int:
        return len(self.windows)

    @property
    def probabilities(self) -> np.ndarray:
        """``[windows, 8]`` float32."""
        if not self.windows:
            return np.zeros((0, emotions.NUM_CLASSES), np.float32)
        return np.stack([w.probabilities for w in self.windows])

    def summary(self) -> EmotionPrediction:
        """The recording as one prediction: the mean of the windows' logits, then softmax."""
        logits = np.mean(np.stack([w.logits for w in self.windows]), axis=0).astype(np.float32)
        return EmotionPrediction(
            softmax(logits).astype(np.float32), logits, windows=len(self.windows)
        )

    def to_rows(self, file: str | None = None) -> list[dict]:
        """The rows as dicts (`TimelineWindow.to_row`), with a leading ``file`` if given."""
        rows = []
        for window in self.windows:
            row = window.to_row()
            rows.append({"file": file, **row} if file is not None else row)
        return rows

    def to_dict(self) -> dict:
        """A JSON-ready dict: settings, classes, windows and a summary."""
        return {
            "source": self.source,
            "sample_rate": SAMPLE_RATE,
            "window_s": self.window_s,
            "hop_s": self.hop_s,
            "duration_s": round(self.duration_s, 4),
            "classes": list(emotions.CLASSES),
            "windows": [
                {
                    "start_s": round(w.start_s, 4),
                    "end_s": round(w.end_s, 4),
                    "probabilities": dict(zip(emotions.CLASSES, map(float, w.probabilities))),
                    "dominant": w.dominant,
                }
                for w in self.windows
            ],
            "summary": self.summary().to_dict() if self.windows else None,
        }

    def to_json(self, path: PathLike | None = None) -> str:
        """Writes (if `path`) and returns the JSON text of `to_dict`."""
        text = json.dumps(self.to_dict(), indent=2) + "\n"
        if path is not None:
            pathlib.Path(path).write_text(text, encoding="utf-8")
        return text

    def to_csv(self, path: PathLike | None = None, *, file: str | None = None) -> str:
        """Writes (if `path`) and returns CSV: ``[file,] start_s, end_s, <classes>, dominant``."""
        text = rows_to_csv(self.to_rows(file), with_file=file is not None)
        if path is not None:
            pathlib.Path(path).write_text(text, encoding="utf-8")
        return text

    def segments(self) -> np.ndarray:
        """``[windows + 1]`` time boundaries (s) that give each window its own stretch of the file.

        Window ``i`` stands for the time from ``segments[i]`` to ``segments[i + 1]``: the
        boundaries lie half-way between consecutive window centres, the first at 0 and the last
        at `duration_s`, so the stretches cover the whole recording without overlapping (one
        window covers all of it).
        """
        centres = np.array([(w.start_s + w.end_s) / 2 for w in self.windows])
        inner = (centres[:-1] + centres[1:]) / 2 if len(centres) > 1 else np.zeros(0)
        return np.concatenate([[0.0], inner, [max(self.duration_s, 1e-3)]])

    def plot(self, ax: Any = None, *, title: str | None = None) -> Any:
        """Draws the probabilities over time (stacked areas) and the dominant emotion.

        Each window's probabilities are drawn flat over its stretch of the file (`segments`),
        so a recording of one window is one block and the drawing spans the whole file.

        Args:
            ax: a Matplotlib ``Axes`` to draw the stacked probabilities into; None (default)
                makes a new figure with a strip of the dominant emotion below the areas.
            title: axes title (default: the source's file name).

        Returns:
            The ``matplotlib.figure.Figure`` drawn into (save it with ``savefig``). No backend
            is selected and pyplot is not used, so this is safe in any application.

        Example:

        >>> timeline.plot().savefig("talk.png", dpi=100)  # doctest: +SKIP
        """
        from matplotlib import colormaps
        from matplotlib.figure import Figure

        if not self.windows:
            raise ValueError("The timeline has no windows to plot.")
        colours = colormaps["tab10"].colors
        strip = None
        if ax is None:
            figure = Figure(figsize=(11, 4.5), layout="tight")
            ax, strip = figure.subplots(
                2, 1, sharex=True, gridspec_kw={"height_ratios": [5, 0.5]}
            )
        bounds = self.segments()
        steps = np.repeat(bounds, 2)[1:-1]  # each stretch's start and end
        ax.stackplot(
            steps,
            np.repeat(self.probabilities.T, 2, axis=1),
            labels=emotions.CLASSES,
            colors=colours[: emotions.NUM_CLASSES],
            alpha=0.85,
        )
        ax.set_ylim(0, 1)
        ax.set_xlim(0, bounds[-1])
        ax.set_ylabel("probability")
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
        ax.set_title(title or f"{pathlib.Path(self.source).name}: emotion over time")
        if strip is not None:
            for left, right, window in zip(bounds[:-1], bounds[1:], self.windows):
                colour = colours[emotions.CLASSES.index(window.dominant)]
                strip.barh(0, right - left, left=left, height=1.0, color=colour)
            strip.set_yticks([])
            strip.set_ylabel("dominant", rotation=0, ha="right", va="center", fontsize=8)
            strip.set_xlabel("time (s)")
        else:
            ax.set_xlabel("time (s)")
        return ax.figure


def rows_to_csv(rows: Sequence[dict], *, with_file: bool) -> str:
    """CSV text for timeline rows (columns: ``[file,] start_s, end_s, <classes>, dominant``)."""
    columns = (["file"] if with_file else []) + ["start_s", "end_s", *emotions.CLASSES, "dominant"]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {k: (f"{v:.6f}" if k in emotions.CLASSES else v) for k, v in row.items()}
        )
    return buffer.getvalue()
