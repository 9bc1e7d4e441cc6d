"""What the recogniser returns: one prediction, timeline windows, whole timelines, and tables.

`EmotionPrediction` is the student's output for one clip; a `Timeline` holds `TimelineWindow`
rows over a recording and writes them as a table, JSON or a Matplotlib figure. Both carry a
probe head's probabilities and label beside the eight FERPlus classes when the recogniser has a
head. `write_table` writes any result table as CSV, Parquet or JSON by the file's suffix.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
from typing import Any, Union

import numpy as np
import pandas as pd
from scipy.special import softmax

from kerasemo import emotions
from kerasemo.audio.reference import SAMPLE_RATE

PathLike = Union[str, "os.PathLike[str]"]

HEAD_PREFIX = "head_"
"""Table columns of a probe head's probabilities are ``head_<class>``."""
HEAD_LABEL = "head_label"
"""Table column of a probe head's most probable class."""
TABLE_SUFFIXES = (".csv", ".parquet", ".json")
"""The table formats `write_table` writes, chosen by the file's suffix."""
CSV_FLOAT_FORMAT = "%.6g"
"""Numbers in CSV tables: six significant digits."""


@dataclasses.dataclass(frozen=True)
class Scores:
    """The model's outputs for one stretch of audio: the eight classes, and a probe head's.

    Attributes:
        probabilities: float32 ``[8]``, softmax of the logits, in `kerasemo.emotions.CLASSES`
            order.
        logits: float32 ``[8]``; the paper's speech emotion embedding.
        head_probabilities: float32 ``[K]`` of a probe head (`head_classes` order), or None
            without a head.
        head_classes: the head's K class names, or None without a head.
    """

    probabilities: np.ndarray
    logits: np.ndarray
    _: dataclasses.KW_ONLY
    head_probabilities: np.ndarray | None = None
    head_classes: tuple[str, ...] | None = None

    @property
    def dominant(self) -> str:
        """The FERPlus class with the highest probability."""
        return emotions.CLASSES[int(np.argmax(self.probabilities))]

    @property
    def label(self) -> str | None:
        """The head's most probable class, or None without a head."""
        if self.head_probabilities is None or self.head_classes is None:
            return None
        return self.head_classes[int(np.argmax(self.head_probabilities))]

    def columns(self) -> dict[str, Any]:
        """``{<class>: p, ..., "dominant"}``, then ``{"head_<class>": p, ..., "head_label"}``."""
        row: dict[str, Any] = dict(zip(emotions.CLASSES, map(float, self.probabilities)))
        row["dominant"] = self.dominant
        if self.label is not None:
            names = (HEAD_PREFIX + name for name in self.head_classes)
            row.update(zip(names, map(float, self.head_probabilities)))
            row[HEAD_LABEL] = self.label
        return row

    def head_dict(self) -> dict:
        """``{"head": {"label", "probabilities": {class: p}}}``, or ``{}`` without a head."""
        if self.label is None:
            return {}
        probabilities = dict(zip(self.head_classes, map(float, self.head_probabilities)))
        return {"head": {"label": self.label, "probabilities": probabilities}}


@dataclasses.dataclass(frozen=True)
class EmotionPrediction(Scores):
    """The student's output for one clip (see `Scores` for the fields it shares with windows).

    Attributes:
        windows: how many windows were averaged (1 for a clip scored in one pass).
        duration_s: the clip's length in seconds (None if not known).

    Example:

    >>> prediction = EmotionPrediction(np.full(8, 0.125, "float32"), np.zeros(8, "float32"))
    >>> prediction.dominant, prediction.label, prediction.windows
    ('neutral', None, 1)
    """

    windows: int = 1
    duration_s: float | None = None

    @property
    def embedding(self) -> np.ndarray:
        """The 8-d embedding, i.e. the logits."""
        return self.logits

    def to_dict(self) -> dict:
        """``{"dominant", "probabilities", "logits", "windows", "duration_s"}``, and ``"head"``
        (``{"label", "probabilities"}``) with a head."""
        return {
            "dominant": self.dominant,
            "probabilities": dict(zip(emotions.CLASSES, map(float, self.probabilities))),
            "logits": dict(zip(emotions.CLASSES, map(float, self.logits))),
            "windows": self.windows,
            "duration_s": self.duration_s,
            **self.head_dict(),
        }


@dataclasses.dataclass(frozen=True, kw_only=True)
class TimelineWindow(Scores):
    """One timeline window: where it lies in the recording and the student's output for it.

    Attributes:
        start_s: start of the window in seconds.
        end_s: end of the audio it covers in seconds (the audio's end for the last window).
    """

    start_s: float
    end_s: float

    def to_row(self) -> dict:
        """``{"start_s", "end_s"}`` and `Scores.columns`."""
        return {"start_s": round(self.start_s, 4), "end_s": round(self.end_s, 4), **self.columns()}


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
        """The recording as one prediction: the mean of the windows' logits, then softmax.

        A head's probabilities are the softmax of the mean of the windows' log-probabilities:
        a probe head is affine before its softmax, so this is the head applied to the mean
        logits, as for the eight classes.
        """
        logits = np.mean([w.logits for w in self.windows], axis=0).astype(np.float32)
        first = self.windows[0]
        head = None
        if first.head_probabilities is not None:
            tiny = np.finfo(np.float32).tiny
            log_p = [np.log(np.maximum(w.head_probabilities, tiny)) for w in self.windows]
            head = softmax(np.mean(log_p, axis=0)).astype(np.float32)
        return EmotionPrediction(
            softmax(logits).astype(np.float32),
            logits,
            windows=len(self.windows),
            duration_s=self.duration_s,
            head_probabilities=head,
            head_classes=first.head_classes,
        )

    def to_rows(self, file: str | None = None) -> list[dict]:
        """The rows as dicts (`TimelineWindow.to_row`), with a leading ``file`` if given."""
        rows = [window.to_row() for window in self.windows]
        return [{"file": file, **row} for row in rows] if file is not None else rows

    def to_frame(self, file: str | None = None) -> pd.DataFrame:
        """`to_rows` as a table: ``[file,] start_s, end_s, <classes>, dominant[, head_...]``."""
        return pd.DataFrame(self.to_rows(file))

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
                    **w.head_dict(),
                }
                for w in self.windows
            ],
            "summary": self.summary().to_dict(),
        }

    def to_json(self, path: PathLike | None = None) -> str:
        """Writes (if `path`) and returns the JSON text of `to_dict`."""
        text = json.dumps(self.to_dict(), indent=2) + "\n"
        if path is not None:
            pathlib.Path(path).write_text(text, encoding="utf-8")
        return text

    def to_csv(self, path: PathLike | None = None, *, file: str | None = None) -> str:
        """Writes (if `path`) and returns `to_frame` as CSV text."""
        text = table_to_csv(self.to_frame(file))
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


def table_to_csv(table: pd.DataFrame) -> str:
    """CSV text of a result table: no index, numbers to six significant digits.

    Example:

    >>> table_to_csv(pd.DataFrame({"file": ["a.wav"], "neutral": [0.123456789]}))
    'file,neutral\\na.wav,0.123457\\n'
    """
    return table.to_csv(index=False, float_format=CSV_FLOAT_FORMAT, lineterminator="\n")


def check_table_suffix(path: PathLike) -> str:
    """The table format of `path` (its lower-case suffix, one of `TABLE_SUFFIXES`).

    Raises:
        ValueError: for another suffix.

    Example:

    >>> check_table_suffix("results.Parquet")
    '.parquet'
    """
    path = pathlib.Path(path)
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise ValueError(
            f"Cannot write a table to '{path}': the suffix must be one of "
            f"{', '.join(TABLE_SUFFIXES)}; received {path.suffix or 'none'!r}."
        )
    return suffix


def write_table(table: pd.DataFrame, path: PathLike) -> pathlib.Path:
    """Writes a result table in the format its suffix names (`check_table_suffix`).

    Args:
        table: the rows (e.g. `Timeline.to_frame`, or the per-file rows of `predict_files`).
        path: ``.csv`` (`table_to_csv`), ``.parquet`` (pyarrow) or ``.json`` (a list of row
            objects); its folder is created.

    Returns:
        The path written.

    Raises:
        ValueError: for another suffix.

    Example:

    >>> import tempfile
    >>> path = write_table(pd.DataFrame({"file": ["a.wav"]}), f"{tempfile.mkdtemp()}/r.parquet")
    >>> pd.read_parquet(path).file.tolist()
    ['a.wav']
    """
    path = pathlib.Path(path)
    suffix = check_table_suffix(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        path.write_text(table_to_csv(table), encoding="utf-8")
    elif suffix == ".parquet":
        table.to_parquet(path, index=False)
    else:
        path.write_text(table.to_json(orient="records", indent=2) + "\n", encoding="utf-8")
    return path
