"""Batch prediction: many files in, one row per file out, and a report of the files skipped.

`collect_inputs` turns files, folders (searched recursively for audio and video, by
`MEDIA_EXTENSIONS`) and CSV manifests (a ``path`` column, relative paths resolved against the
manifest's folder, other columns carried into the output) into one table of files.
`predict_files` scores them with an `EmotionRecognizer`, `batch_size` clips per model call with
their lengths (so padding changes nothing), and returns a `BatchPredictions`: the rows, the
timelines if asked for, and a `SkippedFiles` report (reason -> files) of those that could not
be read or scored.

Example:

```python
files = collect_inputs(["interviews/", "extra.csv", "one.m4a"])
result = predict_files(EmotionRecognizer.from_path("saved_models/kerasemo"), files)
write_table(result.table, "results.parquet")
print(result.skipped.summary(len(files)))
```
"""

from __future__ import annotations

import dataclasses
import logging
import pathlib
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
from tqdm.contrib.logging import logging_redirect_tqdm

from kerasemo import emotions
from kerasemo.audio.decode import MEDIA_EXTENSIONS, AudioDecodeError
from kerasemo.data.reports import ReasonLog
from kerasemo.inference.recognizer import DEFAULT_BATCH_SIZE, EmotionRecognizer
from kerasemo.inference.results import (
    HEAD_LABEL,
    HEAD_PREFIX,
    EmotionPrediction,
    PathLike,
    Timeline,
)
from kerasemo.progress import progress_bar

logger = logging.getLogger("kerasemo.inference")

FILE_COLUMN = "file"
"""The output column naming each file (as resolved: manifest paths joined to its folder)."""
MANIFEST_SUFFIX = ".csv"
"""Inputs with this suffix are manifests, not audio."""
MANIFEST_PATH_COLUMN = "path"
"""The manifest column holding each file's path."""
SKIP_REASONS: tuple[tuple[type[Exception], str], ...] = (
    (FileNotFoundError, "file not found"),
    (IsADirectoryError, "a folder, not a file"),
    (AudioDecodeError, "cannot be decoded"),
    (ValueError, "cannot be scored"),
    (TypeError, "cannot be scored"),
)
"""The errors that skip a file, with the reason they are reported under (first match wins)."""
SKIPPABLE = tuple(error for error, _ in SKIP_REASONS)


def collect_inputs(paths: Sequence[PathLike]) -> pd.DataFrame:
    """The files to score, in the order given: files, folders searched, manifests read.

    Args:
        paths: files (taken as given, whatever their suffix), folders (every file below them
            whose suffix is in `MEDIA_EXTENSIONS`, any case, sorted), and ``.csv`` manifests
            (see `read_manifest`). A path that does not exist is kept, and skipped when scored.

    Returns:
        A table with a ``file`` column and the manifests' other columns (empty for rows that
        did not come from a manifest holding them).

    Raises:
        ValueError: for a manifest without a ``path`` column or with an empty path.

    Example:

    >>> collect_inputs(["talk.wav"]).file.tolist()
    ['talk.wav']
    """
    tables = []
    for path in map(pathlib.Path, paths):
        if path.suffix.lower() == MANIFEST_SUFFIX and path.is_file():
            tables.append(read_manifest(path))
        elif path.is_dir():
            found = media_files(path)
            if not found:
                logger.warning("%s holds no audio or video file (%s).", path, _extensions())
            tables.append(pd.DataFrame({FILE_COLUMN: found}, dtype=object))
        else:
            tables.append(pd.DataFrame({FILE_COLUMN: [str(path)]}, dtype=object))
    if not tables:
        return pd.DataFrame({FILE_COLUMN: []}, dtype=object)
    return pd.concat(tables, ignore_index=True)


def media_files(folder: PathLike) -> list[str]:
    """Every file below `folder` (recursively) whose suffix is in `MEDIA_EXTENSIONS`, sorted.

    Example:

    >>> import tempfile
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for name in ("b/clip.WAV", "a.mp4", "notes.txt"):
    ...     (root / name).parent.mkdir(exist_ok=True); (root / name).touch()
    >>> [pathlib.Path(p).relative_to(root).as_posix() for p in media_files(root)]
    ['a.mp4', 'b/clip.WAV']
    """
    return sorted(
        str(path)
        for path in pathlib.Path(folder).rglob("*")
        if path.suffix.lower() in MEDIA_EXTENSIONS and path.is_file()
    )


def read_manifest(path: PathLike) -> pd.DataFrame:
    """A CSV manifest as the table `collect_inputs` returns.

    Args:
        path: a CSV file with a ``path`` column (absolute paths, or relative to the CSV's
            folder) and any other columns, which are carried into the output unchanged.

    Returns:
        A table whose ``file`` column holds the resolved paths, then the other columns.

    Raises:
        ValueError: if there is no ``path`` column, or a row's path is empty.

    Example:

    >>> import tempfile
    >>> manifest = pathlib.Path(tempfile.mkdtemp()) / "clips.csv"
    >>> _ = manifest.write_text("path,speaker\\nclips/a.wav,s1\\n")
    >>> table = read_manifest(manifest)
    >>> table.columns.tolist(), table.file[0] == str(manifest.parent / "clips" / "a.wav")
    (['file', 'speaker'], True)
    """
    path = pathlib.Path(path)
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    if MANIFEST_PATH_COLUMN not in table.columns:
        raise ValueError(
            f"The manifest {path} has no {MANIFEST_PATH_COLUMN!r} column (its columns: "
            f"{list(table.columns)}); name the column of file paths {MANIFEST_PATH_COLUMN!r}."
        )
    empty = np.flatnonzero(table[MANIFEST_PATH_COLUMN].str.strip() == "")
    if empty.size:
        raise ValueError(
            f"The manifest {path} has {empty.size} row(s) with an empty path (the first is data "
            f"row {empty[0] + 1}); fill them in or remove them."
        )
    files = [str(path.parent / name) for name in table.pop(MANIFEST_PATH_COLUMN)]
    table.insert(0, FILE_COLUMN, files)
    return table


def output_columns(head_classes: Sequence[str] | None) -> list[str]:
    """The columns `predict_files` writes for each file, after the input's own.

    Example:

    >>> output_columns(["calm", "angry"])[-3:]
    ['head_calm', 'head_angry', 'head_label']
    """
    columns = [FILE_COLUMN, "duration_s", *emotions.CLASSES, "dominant"]
    if head_classes is not None:
        columns += [HEAD_PREFIX + name for name in head_classes] + [HEAD_LABEL]
    return columns


def skip_reason(error: BaseException) -> str:
    """The `SKIP_REASONS` entry of an error.

    Example:

    >>> skip_reason(FileNotFoundError("a.wav"))
    'file not found'
    """
    return next(reason for kind, reason in SKIP_REASONS if isinstance(error, kind))


@dataclasses.dataclass(kw_only=True)
class SkippedFiles(ReasonLog):
    """The files that could not be scored: reason -> every such file, and each file's error.

    Args:
        messages: file -> the error's message.

    Example:

    >>> skipped = SkippedFiles()
    >>> skipped.add("a.wav", FileNotFoundError("No such file: a.wav"))
    >>> skipped.to_dict()["reasons"], skipped.summary(3)
    ({'file not found': ['a.wav']}, 'skipped 1 of 3 files: file not found (1)')
    """

    messages: dict[str, str] = dataclasses.field(default_factory=dict)
    examples_per_reason: int = dataclasses.field(default=sys.maxsize, repr=False, compare=False)
    """Every skipped file is listed."""

    def add(self, file: str, error: BaseException) -> None:
        """Records `file` under the reason of `error` (`skip_reason`)."""
        self.record(self.counts, skip_reason(error), file)
        self.messages[file] = str(error)
        logger.warning("skipping %s: %s", file, error)

    def to_dict(self) -> dict:
        """``{"skipped": count, "reasons": {reason: [files]}, "errors": {file: message}}``."""
        return {"skipped": self.total, "reasons": self.sorted_examples(), "errors": self.messages}

    def summary(self, total: int) -> str:
        """One line: how many of `total` files were skipped, by reason."""
        reasons = ", ".join(f"{reason} ({count})" for reason, count in sorted(self.counts.items()))
        return f"skipped {self.total} of {total} files" + (f": {reasons}" if reasons else "")


@dataclasses.dataclass
class BatchPredictions:
    """What `predict_files` returns.

    Attributes:
        table: one row per scored file: the input's columns, ``duration_s``, the eight class
            probabilities, ``dominant``, and ``head_<class>`` and ``head_label`` with a head.
        timelines: ``(file, Timeline)`` per scored file when timelines were asked for, else
            empty.
        skipped: the files that could not be scored.
    """

    table: pd.DataFrame
    timelines: list[tuple[str, Timeline]]
    skipped: SkippedFiles


def predict_files(
    recognizer: EmotionRecognizer,
    files: pd.DataFrame,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    timelines: bool = False,
    window: float | None = None,
    hop: float | None = None,
    progress: bool = False,
) -> BatchPredictions:
    """Scores every file of `files` (`collect_inputs`), skipping those that cannot be read.

    Each file's row is `EmotionRecognizer.predict`'s answer for it; files are decoded a batch
    at a time (`EmotionRecognizer.load`, once each) and scored together with their lengths
    (`EmotionRecognizer.predict_loaded`).

    Args:
        recognizer: the model (and head) to score with.
        files: a table with a ``file`` column; its other columns are carried into the output.
        batch_size: files decoded and scored per model call.
        timelines: also compute each file's `Timeline` (with `window` and `hop`).
        window, hop: the timeline's window and hop in seconds (None: the recogniser's defaults).
        progress: draw a progress bar on standard error when it is a terminal (log lines
            are written above it).

    Returns:
        A `BatchPredictions`.

    Raises:
        ValueError: if a column of `files` has the name of an output column, or (with
            `timelines`) for a bad window or hop.
    """
    if timelines:
        recognizer.window_and_hop(window, hop)
    columns = output_columns(recognizer.head_classes)
    extra = [column for column in files.columns if column != FILE_COLUMN]
    clash = sorted(set(extra) & set(columns))
    if clash:
        raise ValueError(
            f"The input's column(s) {clash} have the names of output columns; rename them in "
            "the manifest."
        )
    skipped = SkippedFiles()
    rows: list[dict[str, Any]] = []
    found: list[tuple[str, Timeline]] = []
    records = files.to_dict("records")
    bar = progress_bar(total=len(records), enabled=progress, unit="file")
    with logging_redirect_tqdm(), bar:  # log lines go above the bar, not through it
        for chunk in _chunks(records, batch_size):
            for record, prediction in _predict_chunk(recognizer, chunk, batch_size, skipped):
                if timelines:
                    timeline = _timeline(recognizer, record[FILE_COLUMN], window, hop, skipped)
                    if timeline is None:
                        continue
                    found.append((record[FILE_COLUMN], timeline))
                rows.append(_row(record, prediction))
            bar.update(len(chunk))
    table = pd.DataFrame(rows, columns=[FILE_COLUMN, *extra, *columns[1:]])
    return BatchPredictions(table=table, timelines=found, skipped=skipped)


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _predict_chunk(
    recognizer: EmotionRecognizer, chunk: list[dict], batch_size: int, skipped: SkippedFiles
) -> list[tuple[dict, EmotionPrediction]]:
    """Decodes the files of `chunk` (skipping bad ones) and scores the rest together."""
    loaded = []
    for record in chunk:
        try:
            loaded.append((record, recognizer.load(record[FILE_COLUMN])))
        except SKIPPABLE as err:
            skipped.add(record[FILE_COLUMN], err)
    try:
        predictions = recognizer.predict_loaded([clip for _, clip in loaded], batch_size)
    except SKIPPABLE:  # a long file, streamed, failed part-way: find it by scoring one at a time
        return [
            (record, prediction)
            for record, clip in loaded
            if (prediction := _predict_one(recognizer, record[FILE_COLUMN], clip, skipped))
        ]
    return [(record, prediction) for (record, _), prediction in zip(loaded, predictions)]


def _predict_one(recognizer, file: str, clip, skipped: SkippedFiles) -> EmotionPrediction | None:
    try:
        return recognizer.predict_loaded([clip])[0]
    except SKIPPABLE as err:
        skipped.add(file, err)
        return None


def _timeline(recognizer, file: str, window, hop, skipped: SkippedFiles) -> Timeline | None:
    try:
        return recognizer.timeline(file, window=window, hop=hop)
    except SKIPPABLE as err:
        skipped.add(file, err)
        return None


def _row(record: dict, prediction: EmotionPrediction) -> dict[str, Any]:
    return {**record, "duration_s": prediction.duration_s, **prediction.columns()}


def _extensions() -> str:
    return " ".join(sorted(MEDIA_EXTENSIONS))
