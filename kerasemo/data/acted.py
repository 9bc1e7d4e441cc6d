"""Readers for the labelled (acted) speech-emotion sets the student is probed on.

One function, `read_dataset(name, root)`, reads any of them in its real on-disk layout
(the README's "Data layouts it reads") and returns a table of clips and a `SkipReport`:

| name        | layout read                                                                  |
|-------------|------------------------------------------------------------------------------|
| ``rml``       | ``<subject>/.../<code><n>.avi`` at any depth; 22,050 Hz PCM audio in AVI       |
| ``enterface`` | ``subject N/<emotion>/[sentence K/]sXX_yy_Z.avi`` (spaces, uneven depth)      |
| ``cremad``    | ``[AudioWAV/]<actor>_<sentence>_<EMO>_<level>.wav``                          |
| ``ravdess``   | ``Actor_NN/MM-CC-EE-II-SS-RR-AA.(wav|mp4)``                                  |
| ``csv``       | a manifest ``path,label[,speaker]`` (paths relative to the CSV's folder)     |

Labels are mapped onto the eight classes of `kerasemo.emotions` through its `LABEL_MAPS`
(RML, eNTERFACE'05: an di fe ha sa su; CREMA-D: ANG DIS FEA HAP NEU SAD; RAVDESS: the third
field, "calm" dropped unless ``ravdess_calm="neutral"``). Nothing is dropped silently: every file
under the root that does not become a row is counted in the `SkipReport` with its reason
(unknown emotion code, name not in the dataset's pattern, not an audio/video file, macOS
metadata, unreadable or zero-length audio, byte-identical duplicate, RAVDESS video-only or
duplicate recording, calm/song excluded by option).

How labels and speakers are found:

- **RML**: the emotion code is the file name's prefix (``an1.avi``, ``ha_12.avi``); else a
  ``_``-separated token of the name equal to a code; else the nearest parent folder whose name
  starts with a code (``an``, ``Anger``, ``sa_english``). The speaker is the top-level subject
  folder under the root; files directly in the root are skipped (no speaker).
- **eNTERFACE'05**: the code ``yy`` of ``sXX_yy_Z`` (also ``sXX_yy_Z_W``, ``s_XX_...``); else the
  nearest emotion folder (``anger``). The speaker is ``sN`` from the ``subject N`` folder, else
  ``sXX`` from the file name.
- **CREMA-D**: the third field; the speaker is the actor id (first field).
- **RAVDESS**: the emotion is the third field, the speaker the seventh (``Actor_NN``). Modality
  03 (audio-only ``.wav``) and 01 (audio-video ``.mp4``) are the same recording: the clip's audio
  is read from the 03 file when there is one (else from the 01 file), and ``video_path`` points at
  the 01 file, so a recording is one row. Modality 02 (video-only, no audio) is skipped. Only
  the speech channel (02 = song) is read unless ``include_song=True``.
- **CSV**: ``label`` must be one of the eight class names (any case); a bad label raises
  `ValueError` naming the row. ``speaker`` is optional (without it only clip-level
  cross-validation is possible).

With ``check_audio=True`` (default) every clip's audio duration is read from its headers
(`kerasemo.audio.audio_duration`: cheap, no decoding), so unreadable and zero-length files are
reported here rather than failing later; the ``duration`` column holds the seconds.

Example:

```python
from kerasemo.data.acted import read_dataset

clips, skipped = read_dataset("rml", "/data/rml")
print(len(clips), clips.label.value_counts().to_dict())
print(skipped.summary())
```
"""

# Over 600 lines on purpose: five acted-speech layouts that share one table format and skip report.

from __future__ import annotations

import collections
import dataclasses
import hashlib
import logging
import os
import pathlib
import re
from collections.abc import Iterable

import numpy as np
import pandas as pd

from kerasemo import emotions
from kerasemo.audio.decode import MEDIA_EXTENSIONS, VIDEO_EXTENSIONS
from kerasemo.data.reports import ReasonLog

logger = logging.getLogger(__name__)

DATASETS: tuple[str, ...] = ("rml", "enterface", "cremad", "ravdess", "csv")
"""Names `read_dataset` accepts."""

COLUMNS: tuple[str, ...] = (
    "path",
    "relpath",
    "label",
    "raw_label",
    "speaker",
    "has_video",
    "video_path",
    "duration",
)
"""Columns of the table `read_dataset` returns (see its docstring)."""

# Skip reasons (keys of `SkipReport.counts`).
NOT_MEDIA = "not an audio/video file"
MACOS_METADATA = "macOS metadata file (__MACOSX/ or ._*)"
UNKNOWN_CODE = "unknown emotion code"
NO_CODE = "no emotion code in the file name or its folders"
BAD_NAME = "file name does not follow the dataset's pattern"
DROPPED_CLASS = "label has no counterpart among the eight classes"
NO_SPEAKER = "not inside a subject folder (no speaker)"
UNREADABLE = "unreadable audio"
ZERO_LENGTH = "zero-length audio"
DUPLICATE = "byte-identical duplicate of another file"
MISSING_FILE = "file listed in the manifest does not exist"
VIDEO_ONLY = "video-only file (no audio track)"
SAME_RECORDING = "same recording as another file (kept once)"
SONG = "song (vocal channel 02) not included"

_CODES: tuple[str, ...] = ("an", "di", "fe", "ha", "sa", "su")
_EMOTION_WORDS = {
    "anger": "an",
    "angry": "an",
    "disgust": "di",
    "disgusted": "di",
    "fear": "fe",
    "fearful": "fe",
    "happiness": "ha",
    "happy": "ha",
    "sadness": "sa",
    "sad": "sa",
    "surprise": "su",
    "surprised": "su",
}
_PREFIX_CODE = re.compile(r"^([a-z]{2})(?=[0-9_\-\s.]|$)")
_ENTERFACE_NAME = re.compile(r"^s_?(\d+)_([a-z]{2})_(\d+)(?:_(\d+))?$", re.IGNORECASE)
_SUBJECT_FOLDER = re.compile(r"^subject\s*_?(\d+)$", re.IGNORECASE)
_CREMAD_NAME = re.compile(r"^(\d{4})_([A-Za-z]{3})_([A-Za-z]{3})_([A-Za-z]{1,3})$")
_RAVDESS_NAME = re.compile(r"^(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})$")
_EXAMPLES_PER_REASON = 5


@dataclasses.dataclass
class SkipReport(ReasonLog):
    """What a reader (or a later stage) left out, counted by reason, with example paths.

    Args:
        dataset: the dataset's name.
        root: the folder (or CSV file) read.
        counts: reason -> number of files skipped for it.
        examples: reason -> up to 5 ``"relative/path: detail"`` strings.

    Example:

    >>> report = SkipReport("rml", "/data/rml")
    >>> report.add(UNKNOWN_CODE, "s1/ne1.avi", "'ne'")
    >>> report.total, report.counts[UNKNOWN_CODE]
    (1, 1)
    """

    dataset: str
    root: str

    def __post_init__(self):
        self.examples_per_reason = _EXAMPLES_PER_REASON
        self.counts = collections.Counter(self.counts)

    def add(self, reason: str, path: str | os.PathLike, detail: str = "") -> None:
        """Counts one skipped file under `reason` (keeps the first few paths as examples)."""
        text = os.fspath(path)
        self.record(self.counts, reason, f"{text}: {detail}" if detail else text)
        logger.debug("%s: skipping %s (%s%s)", self.dataset, path, reason, f": {detail}" if detail else "")

    def merge(self, other: "SkipReport") -> None:
        """Adds another report's counts and examples to this one."""
        self.merge_from(other)

    def to_dict(self) -> dict:
        """Plain-dict form for JSON."""
        return {
            "dataset": self.dataset,
            "root": self.root,
            "total": self.total,
            "counts": dict(sorted(self.counts.items())),
            "examples": self.sorted_examples(),
        }

    def summary(self) -> str:
        """One line per reason, e.g. ``"  3 unknown emotion code (e.g. s1/ne1.avi: 'ne')"``."""
        if not self.counts:
            return f"{self.dataset}: nothing skipped."
        lines = [f"{self.dataset}: skipped {self.total} file(s):"]
        for reason, count in sorted(self.counts.items(), key=lambda item: -item[1]):
            example = self.examples.get(reason, [""])[0]
            lines.append(f"  {count:5d} {reason}" + (f" (e.g. {example})" if example else ""))
        return "\n".join(lines)

    def to_markdown(self) -> str:
        """A markdown table of reasons, counts and examples."""
        if not self.counts:
            return "Nothing skipped.\n"
        lines = ["| reason | files | examples |", "|---|---:|---|"]
        for reason, count in sorted(self.counts.items(), key=lambda item: -item[1]):
            examples = "; ".join(e.replace("|", "\\|") for e in self.examples.get(reason, []))
            lines.append(f"| {reason} | {count} | {examples} |")
        return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# Helpers.


def _walk(root: pathlib.Path) -> list[pathlib.Path]:
    """Every regular file below `root`, sorted by relative path (deterministic order)."""
    files = []
    for directory, subdirs, names in os.walk(root, followlinks=True):
        subdirs.sort()
        for name in names:
            path = pathlib.Path(directory) / name
            if path.is_file():
                files.append(path)
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def _relative(path: pathlib.Path, root: pathlib.Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def _is_macos_metadata(relpath: str) -> bool:
    parts = relpath.split("/")
    return parts[0] == "__MACOSX" or parts[-1].startswith("._") or parts[-1] == ".DS_Store"


def _code_of_name(name: str) -> tuple[str | None, str | None]:
    """(known code, unknown two-letter code) found at the start of a file or folder name.

    ``"an1"`` -> ("an", None); ``"Anger"`` -> ("an", None); ``"ne1"`` -> (None, "ne");
    ``"english"`` -> (None, None).
    """
    lower = name.strip().lower()
    for word, code in _EMOTION_WORDS.items():
        if lower.startswith(word) and not lower[len(word) : len(word) + 1].isalpha():
            return code, None
    match = _PREFIX_CODE.match(lower)
    if match:
        code = match.group(1)
        return (code, None) if code in _CODES else (None, code)
    return None, None


def _code_in_tokens(stem: str) -> str | None:
    tokens = [t for t in re.split(r"[_\-\s.]+", stem.lower()) if t]
    for token in tokens:
        if token in _CODES:
            return token
    return None


def _folder_code(parts: Iterable[str]) -> str | None:
    """The code of the nearest folder (last of `parts`) whose name starts with a code."""
    for part in reversed(list(parts)):
        code, _ = _code_of_name(part)
        if code is not None:
            return code
    return None


def _map(dataset_map: emotions.LabelMap, raw: str) -> str | None:
    return dataset_map.to_class(raw)


def _row(path: pathlib.Path, root: pathlib.Path, label: str, raw: str, speaker, video_path=None):
    has_video = video_path is not None
    return {
        "path": str(path),
        "relpath": _relative(path, root),
        "label": label,
        "raw_label": raw,
        "speaker": None if speaker is None else str(speaker),
        "has_video": has_video,
        "video_path": str(video_path) if has_video else None,
        "duration": float("nan"),
    }


def _check_root(name: str, root: pathlib.Path, want_file: bool = False) -> None:
    if want_file:
        if not root.is_file():
            raise FileNotFoundError(
                f"{name}: manifest {str(root)!r} does not exist or is not a file. Pass the CSV "
                "file itself (columns path,label[,speaker])."
            )
        return
    if not root.exists():
        raise FileNotFoundError(
            f"{name}: dataset folder {str(root)!r} does not exist. Pass the folder that holds "
            f"the {name} clips (the README's 'Data layouts it reads' shows the layout)."
        )
    if not root.is_dir():
        raise NotADirectoryError(f"{name}: {str(root)!r} is a file; expected the dataset folder.")


# ---------------------------------------------------------------------------------------------
# One reader per dataset: each yields rows and fills the report.


def _media_files(root: pathlib.Path, report: SkipReport):
    """Yields ``(path, relpath)`` of the media files under `root`; reports macOS metadata files
    and files that are not media."""
    for path in _walk(root):
        relpath = _relative(path, root)
        if _is_macos_metadata(relpath):
            report.add(MACOS_METADATA, relpath)
            continue
        if path.suffix.lower() not in MEDIA_EXTENSIONS:
            report.add(NOT_MEDIA, relpath)
            continue
        yield path, relpath


def _read_rml(root: pathlib.Path, report: SkipReport, **_) -> list[dict]:
    label_map = emotions.LABEL_MAPS["rml"]
    rows = []
    for path, relpath in _media_files(root, report):
        parts = relpath.split("/")
        if len(parts) < 2:
            report.add(NO_SPEAKER, relpath, "expected ROOT/<subject>/.../<clip>")
            continue
        code, unknown = _code_of_name(path.stem)
        if code is None:
            code = _code_in_tokens(path.stem)
        if code is None:
            code = _folder_code(parts[1:-1])
        if code is None:
            if unknown is not None:
                report.add(UNKNOWN_CODE, relpath, repr(unknown))
            else:
                report.add(NO_CODE, relpath)
            continue
        rows.append(
            _row(path, root, _map(label_map, code), code, parts[0],
                 path if path.suffix.lower() in VIDEO_EXTENSIONS else None)
        )
    return rows


def _read_enterface(root: pathlib.Path, report: SkipReport, **_) -> list[dict]:
    label_map = emotions.LABEL_MAPS["enterface"]
    rows = []
    for path, relpath in _media_files(root, report):
        parts = relpath.split("/")
        speaker = None
        for part in parts[:-1]:
            match = _SUBJECT_FOLDER.match(part.strip())
            if match:
                speaker = f"s{int(match.group(1))}"
                break
        match = _ENTERFACE_NAME.match(path.stem.strip())
        code = unknown = None
        if match:
            raw = match.group(2).lower()
            if raw in _CODES:
                code = raw
            else:
                unknown = raw
            if speaker is None:
                speaker = f"s{int(match.group(1))}"
        if code is None:
            code = _folder_code(parts[:-1])
        if code is None:
            if unknown is not None:
                report.add(UNKNOWN_CODE, relpath, repr(unknown))
            elif match is None:
                report.add(BAD_NAME, relpath, "expected sXX_yy_Z.avi inside subject N/<emotion>/")
            else:
                report.add(NO_CODE, relpath)
            continue
        if speaker is None:
            report.add(NO_SPEAKER, relpath, "no 'subject N' folder and no sXX in the name")
            continue
        rows.append(
            _row(path, root, _map(label_map, code), code, speaker,
                 path if path.suffix.lower() in VIDEO_EXTENSIONS else None)
        )
    return rows


def _read_cremad(root: pathlib.Path, report: SkipReport, **_) -> list[dict]:
    label_map = emotions.LABEL_MAPS["cremad"]
    audio_dir = root / "AudioWAV"
    scan = audio_dir if audio_dir.is_dir() else root
    rows = []
    for path in _walk(scan):
        relpath = _relative(path, root)
        if _is_macos_metadata(_relative(path, scan)):
            report.add(MACOS_METADATA, relpath)
            continue
        if path.suffix.lower() not in MEDIA_EXTENSIONS:
            report.add(NOT_MEDIA, relpath)
            continue
        match = _CREMAD_NAME.match(path.stem)
        if not match:
            report.add(BAD_NAME, relpath, "expected <actor>_<sentence>_<EMO>_<level>.wav")
            continue
        actor, _, raw, _ = match.groups()
        try:
            label = _map(label_map, raw)
        except KeyError:
            report.add(UNKNOWN_CODE, relpath, repr(raw))
            continue
        rows.append(
            _row(path, root, label, raw, actor,
                 path if path.suffix.lower() in VIDEO_EXTENSIONS else None)
        )
    return rows


def _read_ravdess(
    root: pathlib.Path,
    report: SkipReport,
    *,
    ravdess_calm: str = "drop",
    include_song: bool = False,
    **_,
) -> list[dict]:
    if ravdess_calm not in ("drop", "neutral"):
        raise ValueError(
            f"ravdess_calm must be 'drop' (the default: calm has no counterpart among the eight "
            f"classes) or 'neutral' (merge it); received {ravdess_calm!r}."
        )
    label_map = (
        emotions.RAVDESS_CALM_AS_NEUTRAL if ravdess_calm == "neutral" else emotions.LABEL_MAPS["ravdess"]
    )
    # recording key (fields 2..7) -> {modality: path}
    recordings: dict[tuple, dict[str, pathlib.Path]] = collections.OrderedDict()
    for path, relpath in _media_files(root, report):
        match = _RAVDESS_NAME.match(path.stem)
        if not match:
            report.add(BAD_NAME, relpath, "expected MM-CC-EE-II-SS-RR-AA (7 two-digit fields)")
            continue
        modality, channel, emotion = match.group(1), match.group(2), match.group(3)
        if modality not in ("01", "02", "03"):
            report.add(BAD_NAME, relpath, f"modality {modality!r} is not 01, 02 or 03")
            continue
        if channel == "02" and not include_song:
            report.add(SONG, relpath, "pass include_song=True to read it")
            continue
        if channel not in ("01", "02"):
            report.add(BAD_NAME, relpath, f"vocal channel {channel!r} is not 01 or 02")
            continue
        try:
            label = _map(label_map, emotion)
        except KeyError:
            report.add(UNKNOWN_CODE, relpath, repr(emotion))
            continue
        if label is None:
            report.add(DROPPED_CLASS, relpath, f"{emotion!r} (calm); pass ravdess_calm='neutral' to keep it")
            continue
        key = match.groups()[1:]
        slot = recordings.setdefault(key, {})
        if modality in slot:  # same name in two folders
            report.add(SAME_RECORDING, relpath, f"also at {_relative(slot[modality], root)}")
            continue
        slot[modality] = path

    rows = []
    for key, files in recordings.items():
        emotion, actor = key[1], key[5]
        label = _map(label_map, emotion)
        audio = files.get("03", files.get("01"))
        video = files.get("01")
        if audio is None:
            report.add(VIDEO_ONLY, _relative(files["02"], root), "no 03 (audio) or 01 (audio-video) file")
            continue
        if "02" in files:
            report.add(SAME_RECORDING, _relative(files["02"], root), "video-only copy")
        if "03" in files and "01" in files:
            logger.debug("RAVDESS: audio from %s, video from %s", files["03"], files["01"])
        rows.append(_row(audio, root, label, emotion, f"Actor_{actor}", video))
    return rows


def _read_csv(root: pathlib.Path, report: SkipReport, **_) -> list[dict]:
    base = root.parent
    try:
        table = pd.read_csv(root, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise ValueError(f"csv: could not parse manifest {str(root)!r}: {err}") from err
    table.columns = [str(c).strip().lower() for c in table.columns]
    missing = [c for c in ("path", "label") if c not in table.columns]
    if missing:
        raise ValueError(
            f"csv: manifest {str(root)!r} lacks column(s) {missing}; it has {list(table.columns)}. "
            "Expected a header row path,label[,speaker]."
        )
    has_speaker = "speaker" in table.columns
    rows = []
    for index, record in table.iterrows():
        line = int(index) + 2  # 1-based, after the header
        raw = str(record["label"]).strip()
        try:
            label = emotions.CLASSES[emotions.class_index(raw)]
        except ValueError:
            raise ValueError(
                f"csv: {root.name} row {line} (path {record['path']!r}) has label {raw!r}, which "
                f"is not one of the eight classes {', '.join(emotions.CLASSES)}. Map the labels "
                "to these names first."
            ) from None
        relative = str(record["path"]).strip()
        if not relative:
            raise ValueError(f"csv: {root.name} row {line} has an empty path.")
        path = pathlib.Path(relative)
        if not path.is_absolute():
            path = base / path
        if not path.is_file():
            report.add(MISSING_FILE, relative, f"row {line}")
            continue
        speaker = str(record["speaker"]).strip() if has_speaker else None
        if has_speaker and not speaker:
            speaker = None
        rows.append(
            _row(path, base, label, raw, speaker,
                 path if path.suffix.lower() in VIDEO_EXTENSIONS else None)
        )
        rows[-1]["relpath"] = relative
    return rows


_READERS = {
    "rml": _read_rml,
    "enterface": _read_enterface,
    "cremad": _read_cremad,
    "ravdess": _read_ravdess,
    "csv": _read_csv,
}


# ---------------------------------------------------------------------------------------------
# Checks shared by every reader.


def _file_digest(path: str) -> str:
    digest = hashlib.sha1()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _drop_duplicates(rows: list[dict], report: SkipReport) -> list[dict]:
    """Drops rows whose audio file is byte-identical to an earlier row's (sizes compared first)."""
    by_size: dict[int, list[int]] = collections.defaultdict(list)
    for index, row in enumerate(rows):
        try:
            size = os.path.getsize(row["path"])
        except OSError:
            continue
        if size > 0:
            by_size[size].append(index)
    drop = set()
    for indices in by_size.values():
        if len(indices) < 2:
            continue
        first_by_digest: dict[str, int] = {}
        for index in indices:
            digest = _file_digest(rows[index]["path"])
            if digest in first_by_digest:
                drop.add(index)
                report.add(DUPLICATE, rows[index]["relpath"], f"same bytes as {rows[first_by_digest[digest]]['relpath']}")
            else:
                first_by_digest[digest] = index
    return [row for index, row in enumerate(rows) if index not in drop]


def _check_audio(rows: list[dict], report: SkipReport) -> list[dict]:
    from kerasemo.audio import AudioDecodeError, audio_duration

    kept = []
    for row in rows:
        try:
            seconds = float(audio_duration(row["path"]))
        except AudioDecodeError as err:
            first_line = str(err).split(". ")[0]
            report.add(UNREADABLE, row["relpath"], first_line)
            continue
        if not seconds > 0:
            report.add(ZERO_LENGTH, row["relpath"])
            continue
        row["duration"] = seconds
        kept.append(row)
    return kept


def read_dataset(
    name: str,
    root: str | os.PathLike,
    *,
    check_audio: bool = True,
    ravdess_calm: str = "drop",
    include_song: bool = False,
) -> tuple[pd.DataFrame, SkipReport]:
    """Reads a labelled speech-emotion set in its real layout.

    Args:
        name: one of `DATASETS`: ``"rml"``, ``"enterface"``, ``"cremad"``, ``"ravdess"`` or
            ``"csv"``.
        root: the dataset's folder (for ``cremad`` the folder holding ``AudioWAV/``, or
            ``AudioWAV`` itself); for ``csv`` the manifest file.
        check_audio: read every clip's audio duration from its headers and skip unreadable or
            zero-length files (reported); fills the ``duration`` column. False leaves the
            check to embedding extraction (``duration`` is NaN).
        ravdess_calm: RAVDESS only: ``"drop"`` (default, calm has no counterpart) or
            ``"neutral"`` (merge calm into neutral).
        include_song: RAVDESS only: also read the song channel (02).

    Returns:
        ``(clips, report)``. ``clips`` is a `pandas.DataFrame` with one row per clip, sorted by
        relative path, with columns `COLUMNS`: ``path`` (absolute file to read audio from),
        ``relpath`` (below the root), ``label`` (one of `kerasemo.emotions.CLASSES`),
        ``raw_label`` (the dataset's own code), ``speaker`` (str, or None when unknown),
        ``has_video`` (bool), ``video_path`` (file with the face video, or None),
        ``duration`` (seconds of audio, NaN if not checked). ``report`` is the `SkipReport`.

    Raises:
        ValueError: for an unknown dataset name or option, or (``csv``) a malformed manifest
            or a label that is not a class name (the message names the row).
        FileNotFoundError: if `root` does not exist.
        NotADirectoryError: if `root` is a file where a folder is expected.

    Example:

    >>> clips, report = read_dataset("cremad", "CREMA-D")  # doctest: +SKIP
    >>> clips.loc[0, ["relpath", "label", "speaker"]].tolist()  # doctest: +SKIP
    ['AudioWAV/1001_DFA_ANG_XX.wav', 'anger', '1001']
    """
    if name not in _READERS:
        raise ValueError(f"Unknown dataset {name!r}. Expected one of {', '.join(DATASETS)}.")
    root = pathlib.Path(os.fspath(root)).expanduser().resolve()
    _check_root(name, root, want_file=(name == "csv"))
    report = SkipReport(name, str(root))
    rows = _READERS[name](root, report, ravdess_calm=ravdess_calm, include_song=include_song)
    rows = _drop_duplicates(rows, report)
    if check_audio:
        rows = _check_audio(rows, report)
    clips = pd.DataFrame(rows, columns=list(COLUMNS))
    clips = clips.sort_values("relpath", kind="stable").reset_index(drop=True)
    clips["has_video"] = clips["has_video"].astype(bool)
    for column in ("speaker", "video_path"):  # object columns: None (not NaN) when unknown
        values = clips[column].astype(object)
        clips[column] = pd.Series(
            [v if isinstance(v, str) else None for v in values], index=clips.index, dtype=object
        )
    clips["duration"] = clips["duration"].astype(np.float64)
    logger.info(
        "%s: %d clips, %d speakers, classes %s; skipped %d file(s)",
        name,
        len(clips),
        clips["speaker"].nunique(dropna=True),
        dict(collections.Counter(clips["label"])),
        report.total,
    )
    if report.total:
        logger.info("%s", report.summary())
    return clips, report


def present_classes(clips: pd.DataFrame) -> tuple[str, ...]:
    """The classes present in a clip table, in `kerasemo.emotions.CLASSES` order.

    Example:

    >>> present_classes(pd.DataFrame({"label": ["fear", "anger", "fear"]}))
    ('anger', 'fear')
    """
    labels = set(clips["label"])
    return tuple(c for c in emotions.CLASSES if c in labels)
