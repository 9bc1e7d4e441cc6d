"""FERPlus reader: `fer2013.csv` + `fer2013new.csv`, the authors' cleaning, and label modes.

Format (microsoft/FERPlus): `fer2013.csv` has columns `emotion,pixels,Usage` (pixels: 2304
space-separated grey values 0-255 of a 48 x 48 face; Usage: Training / PublicTest /
PrivateTest); `fer2013new.csv` has `Usage,Image name,neutral,happiness,surprise,sadness,anger,
disgust,fear,contempt,unknown,NF`, 10 annotator votes per row, aligned row by row with
`fer2013.csv`. An empty `Image name` marks an image that is not a face.

Cleaning (the authors' "CNTK" mode of `getFerPlusImdb.m`, which follows Microsoft's FERPlus
reader), applied to all 10 vote columns:

1. votes <= 1 are set to 0 (outliers);
2. a row is dropped, by the first rule that fires, in this order:
   - `not_a_face`: its `Image name` is empty;
   - `unknown_or_nf_max`: "unknown" or "NF" is among the columns holding the maximum vote
     (this includes rows left with no votes at all);
   - `tied_maxima`: 3 or more columns share the maximum vote;
   - `weak_majority`: (number of maxima) x (maximum vote) <= half the votes (after step 1).

The kept rows' targets use the 8 emotion columns only (unknown/NF votes are left out after the
checks). Label modes (`FERPlusData.targets`):

- `distribution` (default, the paper's): the votes normalised to sum to 1;
- `majority`: one-hot of the top vote; ties (at most 2-way after cleaning) go to the class that
  comes first in `kerasemo.emotions.CLASSES` (the rule of MATLAB's `max` and `numpy.argmax`);
- `probability`: one-hot of a class sampled from the distribution, redrawn every epoch from a
  generator seeded with `(seed, epoch)`.

Test protocol (`kerasemo.experiments.train_teacher`): PrivateTest, majority labels, accuracy.

Example:

```python
from kerasemo.data.ferplus import read_ferplus

data = read_ferplus("path/to/ferplus")      # the folder holding both CSV files
print(data.report.summary())
test = data.subset("PrivateTest")
labels = test.majority()                    # int class indices
targets = data.subset("Training").targets("distribution")
```
"""

from __future__ import annotations

import dataclasses
import logging
import os
import pathlib
import warnings

import numpy as np

from kerasemo import emotions

logger = logging.getLogger(__name__)

FER2013_CSV = "fer2013.csv"
FERPLUS_CSV = "fer2013new.csv"
USAGES: tuple[str, ...] = ("Training", "PublicTest", "PrivateTest")
IMAGE_SIDE = 48
NUM_PIXELS = IMAGE_SIDE * IMAGE_SIDE
FER2013_COLUMNS: tuple[str, ...] = ("emotion", "pixels", "Usage")
VOTE_COLUMNS: tuple[str, ...] = emotions.CLASSES + ("unknown", "NF")
FERPLUS_COLUMNS: tuple[str, ...] = ("Usage", "Image name") + VOTE_COLUMNS
LABEL_MODES: tuple[str, ...] = ("distribution", "majority", "probability")

# Version of the cleaning rules; part of the TFRecord cache key (`kerasemo.data.face_records`).
CLEANING_VERSION = "authors-cntk-1"

# Drop reasons, in the order they are checked ("" = kept).
KEPT = ""
NOT_A_FACE = "not_a_face"
UNKNOWN_OR_NF_MAX = "unknown_or_nf_max"
TIED_MAXIMA = "tied_maxima"
WEAK_MAJORITY = "weak_majority"
DROP_REASONS: tuple[str, ...] = (NOT_A_FACE, UNKNOWN_OR_NF_MAX, TIED_MAXIMA, WEAK_MAJORITY)
OUTLIER_MAX_VOTES = 1  # votes <= this are zeroed


class FERPlusError(ValueError):
    """The FERPlus files are missing columns, misaligned or malformed."""


def _line(row: int) -> int:
    """1-based line of 0-based data row `row` in a CSV file with a header line."""
    return row + 2


# ---------------------------------------------------------------------------------------------
# Cleaning.


def remove_outlier_votes(votes: np.ndarray) -> np.ndarray:
    """Returns a float32 copy of `votes` with every count <= 1 set to 0 (the outlier rule)."""
    votes = np.array(votes, dtype=np.float32, copy=True)
    votes[votes <= OUTLIER_MAX_VOTES] = 0.0
    return votes


def cleaning_reasons(votes: np.ndarray, image_names=None) -> np.ndarray:
    """The drop reason of every row under the authors' cleaning rules ("" for kept rows).

    Args:
        votes: `[N, 10]` raw vote counts in `VOTE_COLUMNS` order (8 emotions, unknown, NF).
        image_names: optional length-N sequence of `Image name` values; empty = not a face.

    Returns:
        `[N]` array of str: `KEPT` ("") or one of `DROP_REASONS` (the first rule that fires).

    Raises:
        FERPlusError: if `votes` is not `[N, 10]`.

    Example:

    >>> cleaning_reasons([[6, 2, 0, 0, 0, 0, 0, 0, 1, 1], [4, 4, 0, 0, 0, 0, 0, 0, 0, 2]]).tolist()
    ['', '']
    >>> cleaning_reasons([[3, 3, 3, 0, 0, 0, 0, 0, 1, 0], [2, 0, 0, 0, 0, 0, 0, 0, 4, 4]]).tolist()
    ['tied_maxima', 'unknown_or_nf_max']
    """
    raw = np.asarray(votes, dtype=np.float64)
    if raw.ndim != 2 or raw.shape[1] != len(VOTE_COLUMNS):
        raise FERPlusError(
            f"votes must have shape [rows, {len(VOTE_COLUMNS)}] ({', '.join(VOTE_COLUMNS)}); "
            f"received shape {raw.shape}."
        )
    cleaned = remove_outlier_votes(raw).astype(np.float64)
    total = cleaned.sum(axis=1)
    top = cleaned.max(axis=1)
    is_top = cleaned == top[:, None]
    num_top = is_top.sum(axis=1)
    reasons = np.full(len(raw), KEPT, dtype=object)
    rules = [
        (UNKNOWN_OR_NF_MAX, is_top[:, len(emotions.CLASSES):].any(axis=1)),
        (TIED_MAXIMA, num_top >= 3),
        (WEAK_MAJORITY, num_top * top <= 0.5 * total),
    ]
    if image_names is not None:
        names = np.asarray([str(n).strip() for n in image_names], dtype=object)
        if len(names) != len(raw):
            raise FERPlusError(
                f"image_names has {len(names)} entries for {len(raw)} rows of votes."
            )
        rules.insert(0, (NOT_A_FACE, names == ""))
    for reason, fires in reversed(rules):  # the first rule in order wins
        reasons[fires] = reason
    return reasons.astype(str)


@dataclasses.dataclass
class CleaningReport:
    """Counts of what the cleaning kept and dropped.

    Attributes:
        total_rows: data rows in the CSV files.
        kept: rows kept.
        dropped: `{reason: rows}` for each of `DROP_REASONS`, in order (a row counts once,
            under the first rule that fires).
        kept_per_usage: `{usage: rows kept}`.
        outlier_votes: votes zeroed by the outlier rule (sum of the removed counts).
        total_votes: all votes in the file before cleaning.
    """

    total_rows: int
    kept: int
    dropped: dict[str, int]
    kept_per_usage: dict[str, int]
    outlier_votes: int
    total_votes: int

    def as_dict(self) -> dict:
        """The report as plain JSON-ready values."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> CleaningReport:
        """Inverse of `as_dict`."""
        return cls(**data)

    def summary(self) -> str:
        """A few human-readable lines."""
        lines = [
            f"FERPlus cleaning: kept {self.kept:,} of {self.total_rows:,} images "
            f"({', '.join(f'{u} {n:,}' for u, n in self.kept_per_usage.items())}); "
            f"{self.outlier_votes:,} of {self.total_votes:,} votes removed as outliers (<= 1).",
        ]
        lines += [f"  dropped {reason}: {count:,}" for reason, count in self.dropped.items()]
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Labels.


def vote_distribution(votes: np.ndarray) -> np.ndarray:
    """`[N, 8]` cleaned emotion votes -> the annotators' distribution (rows sum to 1)."""
    votes = np.asarray(votes, dtype=np.float32)
    totals = votes.sum(axis=1, keepdims=True)
    if np.any(totals <= 0):
        row = int(np.argmax(totals[:, 0] <= 0))
        raise FERPlusError(
            f"Row {row} has no emotion votes; clean the votes first (read_ferplus does)."
        )
    return votes / totals


def majority_labels(votes: np.ndarray) -> np.ndarray:
    """`[N, 8]` votes -> int64 class of the top vote; ties go to the first class in order."""
    return np.argmax(np.asarray(votes), axis=1).astype(np.int64)


def sample_one_hot(distribution: np.ndarray, seed: int = 0, epoch: int = 0) -> np.ndarray:
    """One-hot targets of classes sampled from each row's distribution ("probability" mode).

    Args:
        distribution: `[N, C]` rows summing to 1.
        seed: base seed.
        epoch: epoch number; each (seed, epoch) pair gives its own, reproducible draw.

    Returns:
        `[N, C]` float32 one-hot rows.
    """
    distribution = np.asarray(distribution, dtype=np.float64)
    rng = np.random.default_rng([int(seed), int(epoch)])
    cumulative = np.cumsum(distribution, axis=1)
    draws = rng.random((len(distribution), 1)) * cumulative[:, -1:]
    classes = np.minimum((draws >= cumulative).sum(axis=1), distribution.shape[1] - 1)
    return np.eye(distribution.shape[1], dtype=np.float32)[classes]


# ---------------------------------------------------------------------------------------------
# The data.


@dataclasses.dataclass
class FERPlusData:
    """Cleaned FERPlus faces and votes, one entry per kept image.

    Attributes:
        images: `[N, 48, 48]` uint8 grey faces.
        votes: `[N, 8]` float32 emotion votes after outlier removal (`emotions.CLASSES` order).
        usage: `[N]` str: Training, PublicTest or PrivateTest.
        row_index: `[N]` int64 0-based data row in the CSV files (file line = row + 2).
        fer2013_label: `[N]` int64 original FER2013 label as a class index (`emotions.CLASSES`).
        report: the `CleaningReport` of the read.
    """

    images: np.ndarray
    votes: np.ndarray
    usage: np.ndarray
    row_index: np.ndarray
    fer2013_label: np.ndarray
    report: CleaningReport

    def __len__(self) -> int:
        return len(self.row_index)

    def subset(self, usage: str) -> FERPlusData:
        """The images of one usage (Training, PublicTest or PrivateTest)."""
        if usage not in USAGES:
            raise ValueError(f"usage must be one of {USAGES}; received {usage!r}.")
        keep = self.usage == usage
        return dataclasses.replace(
            self,
            images=self.images[keep],
            votes=self.votes[keep],
            usage=self.usage[keep],
            row_index=self.row_index[keep],
            fer2013_label=self.fer2013_label[keep],
        )

    def distribution(self) -> np.ndarray:
        """`[N, 8]` vote distributions."""
        return vote_distribution(self.votes)

    def majority(self) -> np.ndarray:
        """`[N]` majority-vote class indices (ties to the first class)."""
        return majority_labels(self.votes)

    def targets(self, mode: str = "distribution", *, seed: int = 0, epoch: int = 0) -> np.ndarray:
        """`[N, 8]` float32 training targets in one of `LABEL_MODES`.

        Raises:
            ValueError: for an unknown mode.
        """
        if mode == "distribution":
            return self.distribution()
        if mode == "majority":
            return np.eye(len(emotions.CLASSES), dtype=np.float32)[self.majority()]
        if mode == "probability":
            return sample_one_hot(self.distribution(), seed=seed, epoch=epoch)
        raise ValueError(f"label mode must be one of {LABEL_MODES}; received {mode!r}.")

    def to_dataframe(self):
        """A tidy `pandas.DataFrame`: one row per image (row, usage, 8 vote columns, majority)."""
        import pandas as pd

        frame = pd.DataFrame(self.votes, columns=list(emotions.CLASSES))
        frame.insert(0, "usage", self.usage)
        frame.insert(0, "row_index", self.row_index)
        frame["majority"] = [emotions.CLASSES[i] for i in self.majority()]
        return frame


def _read_csv(path: pathlib.Path, expected: tuple[str, ...]):
    import pandas as pd

    if not path.exists():
        raise FileNotFoundError(
            f"{path} does not exist. A FERPlus folder holds {FER2013_CSV} (the FER2013 images) "
            f"and {FERPLUS_CSV} (the FERPlus votes)."
        )
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=False)
    frame.columns = [c.strip() for c in frame.columns]
    missing = [c for c in expected if c not in frame.columns]
    if missing:
        raise FERPlusError(
            f"{path.name} lacks the column(s) {missing}; its header is {list(frame.columns)}, "
            f"expected {list(expected)}."
        )
    return frame


def _parse_pixels(pixels, usage, name: str) -> np.ndarray:
    """Parses the pixel strings into `[N, 48, 48]` uint8, naming the first malformed row."""
    images = np.empty((len(pixels), NUM_PIXELS), dtype=np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy reports unparsable text as a warning
        for row, text in enumerate(pixels):
            try:
                values = np.fromstring(text, dtype=np.int64, sep=" ")
                problem = None
            except (ValueError, DeprecationWarning):
                values, problem = None, "holds a value that is not an integer"
            if problem is None and values.size != NUM_PIXELS:
                problem = f"has {values.size} values"
            if problem is None and (values.min() < 0 or values.max() > 255):
                problem = f"has a value outside 0..255 ({values.min()}..{values.max()})"
            if problem is not None:
                raise FERPlusError(
                    f"{name} line {_line(row)} (data row {row}, Usage {usage[row]!r}): the "
                    f"'pixels' field {problem}; expected {NUM_PIXELS} space-separated integers "
                    f"in 0..255 ({IMAGE_SIDE} x {IMAGE_SIDE} grey pixels). Starts with: "
                    f"{text[:40]!r}."
                )
            images[row] = values
    return images.reshape(-1, IMAGE_SIDE, IMAGE_SIDE)


def _check_usage(values, name: str) -> None:
    bad = ~np.isin(values, USAGES)
    if bad.any():
        row = int(np.argmax(bad))
        raise FERPlusError(
            f"{name} line {_line(row)} (data row {row}): unknown Usage {values[row]!r}; "
            f"expected one of {', '.join(USAGES)}."
        )


def read_ferplus(directory: str | os.PathLike) -> FERPlusData:
    """Reads and cleans FERPlus from a folder holding `fer2013.csv` and `fer2013new.csv`.

    Args:
        directory: the folder with both CSV files.

    Returns:
        A `FERPlusData` of the kept images, with its `CleaningReport`.

    Raises:
        FileNotFoundError: if a file is missing.
        FERPlusError: for a missing column, different row counts in the two files, a Usage
            value that is unknown or differs between the files, a malformed pixel string (not
            2304 integers in 0..255) or a vote that is not a non-negative number; the message
            names the file, its 1-based line number and what to fix.

    Example:

    ```python
    data = read_ferplus("data/ferplus")
    print(len(data), data.report.summary())
    ```
    """
    directory = pathlib.Path(os.fspath(directory))
    fer = _read_csv(directory / FER2013_CSV, FER2013_COLUMNS)
    plus = _read_csv(directory / FERPLUS_CSV, FERPLUS_COLUMNS)
    if len(fer) != len(plus):
        raise FERPlusError(
            f"{FER2013_CSV} has {len(fer):,} data rows but {FERPLUS_CSV} has {len(plus):,}; the "
            "two files must be aligned row by row (the FERPlus votes of FER2013 row i are on "
            f"row i of {FERPLUS_CSV}). Use the {FERPLUS_CSV} released for this {FER2013_CSV}."
        )
    usage = fer["Usage"].str.strip().to_numpy(dtype=object)
    plus_usage = plus["Usage"].str.strip().to_numpy(dtype=object)
    _check_usage(usage, FER2013_CSV)
    _check_usage(plus_usage, FERPLUS_CSV)
    differ = usage != plus_usage
    if differ.any():
        row = int(np.argmax(differ))
        raise FERPlusError(
            f"Line {_line(row)} (data row {row}) has Usage {usage[row]!r} in {FER2013_CSV} but "
            f"{plus_usage[row]!r} in {FERPLUS_CSV}: the files are not aligned row by row."
        )

    import pandas as pd

    votes = np.zeros((len(plus), len(VOTE_COLUMNS)), dtype=np.float64)
    for column_index, column in enumerate(VOTE_COLUMNS):
        values = pd.to_numeric(plus[column].str.strip(), errors="coerce").to_numpy(np.float64)
        bad = ~np.isfinite(values) | (values < 0)
        if bad.any():
            row = int(np.argmax(bad))
            raise FERPlusError(
                f"{FERPLUS_CSV} line {_line(row)} (data row {row}): vote column {column!r} "
                f"holds {plus[column].iloc[row]!r}; expected a non-negative vote count."
            )
        votes[:, column_index] = values

    labels_raw = fer["emotion"].str.strip().to_numpy(dtype=object)
    fer_map = emotions.LABEL_MAPS["fer2013"]
    fer2013_label = np.empty(len(fer), dtype=np.int64)
    label_index = {raw: emotions.class_index(cls) for raw, cls in fer_map.mapping.items()}
    for row, raw in enumerate(labels_raw):
        if raw not in label_index:
            raise FERPlusError(
                f"{FER2013_CSV} line {_line(row)} (data row {row}): emotion {raw!r} is not a "
                f"FER2013 label; expected one of {sorted(label_index)}."
            )
        fer2013_label[row] = label_index[raw]

    reasons = cleaning_reasons(votes, plus["Image name"].to_numpy(dtype=object))
    keep = reasons == KEPT
    images = _parse_pixels(fer["pixels"].to_numpy(dtype=object), usage, FER2013_CSV)
    cleaned = remove_outlier_votes(votes)
    kept_usage = usage[keep].astype(str)
    report = CleaningReport(
        total_rows=len(fer),
        kept=int(keep.sum()),
        dropped={reason: int((reasons == reason).sum()) for reason in DROP_REASONS},
        kept_per_usage={u: int((kept_usage == u).sum()) for u in USAGES},
        outlier_votes=int(round(float((votes - cleaned).sum()))),
        total_votes=int(round(float(votes.sum()))),
    )
    logger.debug("%s", report.summary())
    return FERPlusData(
        images=images[keep],
        votes=cleaned[keep, : len(emotions.CLASSES)].astype(np.float32),
        usage=kept_usage,
        row_index=np.flatnonzero(keep).astype(np.int64),
        fer2013_label=fer2013_label[keep],
        report=report,
    )


# ---------------------------------------------------------------------------------------------
# Writing (fixtures, synthetic sets).


def write_ferplus(
    directory: str | os.PathLike,
    images,
    votes,
    usage,
    *,
    image_names=None,
    fer2013_labels=None,
) -> tuple[pathlib.Path, pathlib.Path]:
    """Writes faces and votes as `fer2013.csv` + `fer2013new.csv` in the FERPlus format.

    Args:
        directory: output folder (created).
        images: `[N, 48, 48]` grey values 0-255.
        votes: `[N, 10]` vote counts in `VOTE_COLUMNS` order (8 emotions, unknown, NF).
        usage: length-N Usage values (Training / PublicTest / PrivateTest).
        image_names: length-N `Image name` values ("" = not a face); default
            ``fer0000000.png``-style names.
        fer2013_labels: length-N FER2013 `emotion` codes (0-6); default: the FER2013 code of
            each row's top emotion vote (6 = neutral for contempt, which FER2013 lacks).

    Returns:
        The paths of the two files.

    Example:

    ```python
    write_ferplus("fixture", images, votes, ["Training"] * len(images))
    data = read_ferplus("fixture")
    ```
    """
    directory = pathlib.Path(os.fspath(directory))
    directory.mkdir(parents=True, exist_ok=True)
    images = np.asarray(images)
    votes = np.asarray(votes)
    count = len(images)
    if images.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
        raise ValueError(
            f"images must be [N, {IMAGE_SIDE}, {IMAGE_SIDE}]; received shape {images.shape}."
        )
    if votes.shape != (count, len(VOTE_COLUMNS)):
        raise ValueError(
            f"votes must be [{count}, {len(VOTE_COLUMNS)}] ({', '.join(VOTE_COLUMNS)}); "
            f"received shape {votes.shape}."
        )
    if image_names is None:
        image_names = [f"fer{i:07d}.png" for i in range(count)]
    if fer2013_labels is None:
        code_of = {cls: raw for raw, cls in emotions.LABEL_MAPS["fer2013"].mapping.items()}
        fer2013_labels = [
            code_of.get(emotions.CLASSES[int(np.argmax(v[: len(emotions.CLASSES)]))], "6")
            for v in votes
        ]
    usage = list(usage)
    fer_path, plus_path = directory / FER2013_CSV, directory / FERPLUS_CSV
    pixels = np.clip(np.rint(images), 0, 255).astype(np.int64).reshape(count, -1)
    with open(fer_path, "w", encoding="utf-8", newline="") as handle:
        handle.write(",".join(FER2013_COLUMNS) + "\n")
        for label, row, use in zip(fer2013_labels, pixels, usage, strict=True):
            handle.write(f"{label},{' '.join(map(str, row))},{use}\n")
    with open(plus_path, "w", encoding="utf-8", newline="") as handle:
        handle.write(",".join(FERPLUS_COLUMNS) + "\n")
        for use, name, row in zip(usage, image_names, votes, strict=True):
            counts = ",".join(str(int(v)) if float(v).is_integer() else str(v) for v in row)
            handle.write(f"{use},{name},{counts}\n")
    return fer_path, plus_path
