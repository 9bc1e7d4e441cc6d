"""Readers for VoxCeleb-style talking-face tracks: VoxCeleb1, VoxCeleb2 and the authors' frames.

`scan(root, layout)` walks one of three on-disk layouts (the README's "Data layouts it reads") and returns the
usable tracks, sorted by track id, with a `ScanReport` that counts everything it skipped and why
(nothing is dropped silently):

``voxceleb1``
    ``txt/idXXXXX/<video>/00001.txt`` face-track files (a header, then ``FRAME X Y W H`` rows at
    25 fps, boxes in pixels of a 360-high frame), audio ``wav/idXXXXX/<video>/00001.wav``, and
    optionally the video: a per-track clip ``video/idXXXXX/<video>/00001.mp4`` (or under
    ``mp4/``; its frame 0 is the track's first ``FRAME``) or the whole source video
    ``video/idXXXXX/<video>.mp4`` (its frame n is ``FRAME`` n). Without a video, the authors'
    extracted frames under ``frames/`` (below) are used if present.
``voxceleb2``
    The same txt files with boxes normalised to 0-1; audio ``aac/.../00001.m4a`` (or under
    ``m4a/`` or ``wav/``), video ``mp4/.../00001.mp4`` (or ``video/``); without a separate audio
    file the video's own audio track is used. A root holding ``dev/`` and ``test/`` (as VoxCeleb2
    ships) is scanned in both.
``frames``
    The authors' pre-extracted face crops ``frames/<identity>/1.6/<video>/<track>/<FRAME>.jpg``
    (one JPEG every 6th frame, named by frame number; the track folder may be ``1`` or
    ``00001``) with audio ``wav/<identity>/<video>/00001.wav``.

In every layout the root may also be a folder that holds the layout in a ``voxceleb/``
subfolder (the synthetic corpus writes ``DIR/voxceleb/``).

Each `Track` carries the labelled frames only: for txt layouts, every ``frame_stride``-th video
frame from the track's first frame, with its box (the nearest txt row's box if that frame has no
row); for extracted frames, the JPEGs as they are.

Example:

>>> tracks, report = scan("corpus/voxceleb", "voxceleb1")  # doctest: +SKIP
>>> print(report.summary())  # doctest: +SKIP
voxceleb1 scan of corpus/voxceleb: 120 tracks; skipped 2: 1 track with no frames, ...
>>> tracks[0].track_id, tracks[0].frame_source, tracks[0].frame_numbers[:3]  # doctest: +SKIP
('id10001/1zcIwhmdeo4/00001', 'video', array([245, 251, 257]))
"""

# Over 600 lines on purpose: the three layouts of one dataset share the Track type and its checks.

from __future__ import annotations

import collections
import dataclasses
import logging
import os
import pathlib
import warnings

import numpy as np

from kerasemo.data import frames as frames_lib
from kerasemo.data.reports import ReasonLog

logger = logging.getLogger(__name__)

LAYOUTS = ("voxceleb1", "voxceleb2", "frames")
FRAME_SOURCES = ("video", "jpeg", "none")

# Skip reasons (keys of ScanReport.skipped) and notes.
SKIP_NO_FRAMES = "track with no frames"
SKIP_AUDIO_WITHOUT_TRACK = "audio with no track"
SKIP_TRACK_WITHOUT_AUDIO = "track with no audio"
SKIP_UNREADABLE = "unreadable track file"
SKIP_WRONG_UNITS = "boxes in the wrong units for the layout"
SKIP_DUPLICATE = "duplicate track id"
NOTE_NO_FRAME_SOURCE = "track with no video or extracted frames (labels only from --logits)"

_AUDIO_DIRS = {
    "voxceleb1": (("wav", (".wav", ".flac", ".m4a")),),
    "voxceleb2": (
        ("aac", (".m4a", ".aac", ".wav")),
        ("m4a", (".m4a", ".aac", ".wav")),
        ("wav", (".wav", ".flac", ".m4a")),
    ),
    "frames": (("wav", (".wav", ".flac", ".m4a")),),
}
_VIDEO_DIRS = ("video", "mp4")
_VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".webm", ".mov")
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
_EXAMPLES_PER_REASON = 20


class TrackFileError(ValueError):
    """A face-track txt file cannot be parsed; the message names the file and the line."""


@dataclasses.dataclass(frozen=True, eq=False)
class Track:
    """One speaking face track: its audio, and the video frames the teacher labels.

    Attributes:
        identity: speaker identity folder (``id10001``, or a celebrity name in old releases).
        video: source video id.
        track: track id within the video, 5 digits (``00001``).
        audio_path: the track's audio (wav/m4a, or a video file with an audio stream).
        frame_source: ``"video"`` (frames decoded from `video_path` and cropped with `boxes`),
            ``"jpeg"`` (the authors' extracted face crops in `frame_paths`) or ``"none"``
            (no frames: labels must come from a logits file).
        frame_numbers: int64 ``[F]`` video frame numbers of the labelled frames (the txt's
            ``FRAME`` numbering; for JPEGs, the numbers in their file names).
        boxes: float32 ``[F, 4]`` face boxes ``(x, y, w, h)`` of those frames in `box_units`,
            or None when there is no txt file.
        box_units: ``"pixels360"`` (VoxCeleb1), ``"normalised"`` (VoxCeleb2) or None.
        num_video_frames: video frames the track spans (``last - first + 1``).
        video_path: the video to decode frames from, or None.
        video_first_frame: the frame number shown at frame 0 of `video_path` (the track's first
            frame for a per-track clip, 0 for a whole source video).
        frame_paths: the JPEG of each labelled frame (``frame_source == "jpeg"``).
        txt_path: the face-track txt file, or None.
        duration_hint: approximate duration in seconds, from the frames (used to plan shards
            without decoding audio).
    """

    identity: str
    video: str
    track: str
    audio_path: str
    frame_source: str
    frame_numbers: np.ndarray
    boxes: np.ndarray | None = None
    box_units: str | None = None
    num_video_frames: int = 0
    video_path: str | None = None
    video_first_frame: int = 0
    frame_paths: tuple[str, ...] = ()
    txt_path: str | None = None
    duration_hint: float = 0.0

    @property
    def track_id(self) -> str:
        """``identity/video/track``, the corpus-unique id (as `kerasemo.data.schema.track_id`)."""
        return f"{self.identity}/{self.video}/{self.track}"

    @property
    def num_labelled_frames(self) -> int:
        """F, the number of labelled frames."""
        return int(len(self.frame_numbers))

    def __repr__(self) -> str:
        return (
            f"Track({self.track_id!r}, frame_source={self.frame_source!r}, "
            f"labelled_frames={self.num_labelled_frames}, "
            f"audio={os.path.basename(self.audio_path)!r})"
        )


@dataclasses.dataclass
class ScanReport(ReasonLog):
    """What a scan found and what it skipped, with reasons and example paths.

    Attributes:
        layout: the layout scanned.
        root: the folder(s) scanned, as given.
        num_tracks: usable tracks returned.
        skipped: count per skip reason (tracks or files left out; the same counter as `counts`).
        notes: count per observation that does not drop the track.
        examples: up to 20 example items (relative paths or track ids) per reason or note.
    """

    layout: str
    root: str
    num_tracks: int = 0
    notes: collections.Counter = dataclasses.field(default_factory=collections.Counter)

    def __post_init__(self):
        self.examples_per_reason = _EXAMPLES_PER_REASON

    @property
    def skipped(self) -> collections.Counter:
        """Count per skip reason."""
        return self.counts

    def skip(self, reason: str, item: str) -> None:
        """Counts one skipped item under `reason`."""
        self.record(self.counts, reason, item)
        logger.debug("skipping %s: %s", item, reason)

    def note(self, reason: str, item: str) -> None:
        """Counts one observation that does not drop anything."""
        self.record(self.notes, reason, item)

    @property
    def num_skipped(self) -> int:
        """Total skipped items."""
        return self.total

    def to_dict(self) -> dict:
        """The report as plain JSON-ready data."""
        return {
            "layout": self.layout,
            "root": self.root,
            "num_tracks": self.num_tracks,
            "num_skipped": self.num_skipped,
            "skipped": dict(sorted(self.skipped.items())),
            "notes": dict(sorted(self.notes.items())),
            "examples": self.sorted_examples(),
        }

    def summary(self) -> str:
        """One line: tracks found, then every skip reason and note with its count."""
        parts = [f"{self.layout} scan of {self.root}: {self.num_tracks} tracks"]
        if self.skipped:
            reasons = ", ".join(f"{n} {r}" for r, n in sorted(self.skipped.items()))
            parts.append(f"skipped {self.num_skipped}: {reasons}")
        else:
            parts.append("skipped 0")
        if self.notes:
            parts.append("notes: " + ", ".join(f"{n} {r}" for r, n in sorted(self.notes.items())))
        return "; ".join(parts)


# --------------------------------------------------------------------------------------------
# Face-track txt files.


@dataclasses.dataclass(frozen=True)
class TrackFile:
    """A parsed face-track txt file.

    Attributes:
        header: the ``Key : value`` lines before the table (``Identity``, ``Reference``,
            ``Offset``, ``FV Conf``, ``ASD Conf``).
        frame_numbers: int64 ``[N]`` frame numbers, increasing.
        boxes: float32 ``[N, 4]`` boxes ``(x, y, w, h)`` as written.
    """

    header: dict[str, str]
    frame_numbers: np.ndarray
    boxes: np.ndarray


def read_track_txt(path: str | os.PathLike) -> TrackFile:
    """Parses a VoxCeleb face-track txt file (both releases' format).

    The file holds ``Key : value`` header lines, a ``FRAME X Y W H`` column line, then one row
    per frame (whitespace-separated; the frame number is an integer, the box values numbers).
    Rows are sorted by frame number; a repeated frame keeps its first row.

    Args:
        path: the txt file.

    Returns:
        The `TrackFile`; it may have zero rows.

    Raises:
        FileNotFoundError: if the file does not exist.
        TrackFileError: if there is no ``FRAME`` column line or a row is malformed (the
            message names the file and line).
    """
    path = os.fspath(path)
    try:
        text = pathlib.Path(path).read_text(encoding="utf-8", errors="replace")
    except IsADirectoryError as err:
        raise TrackFileError(f"'{path}' is a directory, not a face-track txt file.") from err
    header: dict[str, str] = {}
    table_start = None
    lines = text.splitlines()
    for number, line in enumerate(lines):
        tokens = line.split()
        if tokens and tokens[0].upper() == "FRAME":
            table_start = number + 1
            break
        if ":" in line:
            key, value = line.split(":", 1)
            header[key.strip()] = value.strip()
    if table_start is None:
        raise TrackFileError(
            f"'{path}' has no 'FRAME X Y W H' column line; expected a VoxCeleb face-track file "
            "(header lines, then FRAME X Y W H, then one row per frame)."
        )
    frames_array, boxes_array = _parse_rows_fast(lines, table_start)
    if frames_array is None:
        frames_array, boxes_array = _parse_rows_checked(path, lines, table_start)
    if frames_array.size:
        frames_array, unique_rows = np.unique(frames_array, return_index=True)
        boxes_array = boxes_array[unique_rows]
    return TrackFile(header=header, frame_numbers=frames_array, boxes=boxes_array)


def _parse_rows_fast(lines: list[str], start: int):
    """The table parsed with NumPy in one call, or ``(None, None)`` if anything looks off."""
    rows = [line for line in lines[start:] if line.strip()]
    if not rows:
        return np.zeros(0, np.int64), np.zeros((0, 4), np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            values = np.fromstring("\n".join(rows), sep=" ")
        except (ValueError, DeprecationWarning):
            return None, None
    if values.size != 5 * len(rows):
        return None, None
    values = values.reshape(-1, 5)
    frame_numbers = values[:, 0]
    if not (np.all(np.isfinite(values)) and np.all(frame_numbers == np.round(frame_numbers))):
        return None, None
    return frame_numbers.astype(np.int64), values[:, 1:].astype(np.float32)


def _parse_rows_checked(path: str, lines: list[str], start: int):
    """Row-by-row parse that names the first malformed line."""
    frame_numbers, boxes = [], []
    for number in range(start, len(lines)):
        tokens = lines[number].split()
        if not tokens:
            continue
        try:
            if len(tokens) != 5:
                raise ValueError(f"{len(tokens)} fields")
            frame = int(tokens[0])
            box = [float(v) for v in tokens[1:5]]
        except ValueError as err:
            raise TrackFileError(
                f"'{path}' line {number + 1}: expected 'FRAME X Y W H' (an integer and four "
                f"numbers); found {lines[number].strip()!r} ({err})."
            ) from None
        if not all(np.isfinite(box)):
            raise TrackFileError(f"'{path}' line {number + 1}: non-finite box values.")
        frame_numbers.append(frame)
        boxes.append(box)
    return np.asarray(frame_numbers, np.int64), np.asarray(boxes, np.float32).reshape(-1, 4)


def labelled_rows(
    track_file: TrackFile, stride: int = frames_lib.FRAME_STRIDE
) -> tuple[np.ndarray, np.ndarray]:
    """The labelled frames of a track and their boxes: every `stride`-th frame from the first.

    A labelled frame with no row of its own (a gap in the txt) takes the nearest row's box.

    Returns:
        ``(frame_numbers int64 [F], boxes float32 [F, 4])``; empty for an empty track.
    """
    rows = track_file.frame_numbers
    if rows.size == 0:
        return np.zeros(0, np.int64), np.zeros((0, 4), np.float32)
    numbers = frames_lib.labelled_frame_numbers(int(rows[0]), int(rows[-1]), stride)
    right = np.clip(np.searchsorted(rows, numbers), 0, rows.size - 1)
    left = np.clip(right - 1, 0, rows.size - 1)
    nearest = np.where(np.abs(rows[left] - numbers) < np.abs(rows[right] - numbers), left, right)
    return numbers, track_file.boxes[nearest]


# --------------------------------------------------------------------------------------------
# Directory walking.


def _subdirs(path: str) -> list[os.DirEntry]:
    try:
        with os.scandir(path) as entries:
            return sorted((e for e in entries if e.is_dir()), key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError):
        return []


def _files(path: str, suffixes: tuple[str, ...]) -> list[os.DirEntry]:
    try:
        with os.scandir(path) as entries:
            return sorted(
                (
                    e
                    for e in entries
                    if e.is_file()
                    and e.name.lower().endswith(suffixes)
                    and not e.name.startswith(".")
                ),
                key=lambda e: e.name,
            )
    except (FileNotFoundError, NotADirectoryError):
        return []


def _track_name(stem: str) -> str:
    """Track folder/file stems ``1``, ``00001`` -> ``00001``; other names are kept."""
    return f"{int(stem):05d}" if stem.isdigit() else stem


def _index_tree(base: str, suffixes: tuple[str, ...]) -> dict[tuple[str, str, str], str]:
    """``base/<identity>/<video>/<track><suffix>`` -> {(identity, video, track): path}."""
    found: dict[tuple[str, str, str], str] = {}
    for identity in _subdirs(base):
        for video in _subdirs(identity.path):
            for entry in _files(video.path, suffixes):
                key = (identity.name, video.name, _track_name(os.path.splitext(entry.name)[0]))
                found.setdefault(key, entry.path)
    return found


def _index_whole_videos(base: str) -> dict[tuple[str, str], str]:
    """``base/<identity>/<video>.mp4`` -> {(identity, video): path} (whole source videos)."""
    found: dict[tuple[str, str], str] = {}
    for identity in _subdirs(base):
        for entry in _files(identity.path, _VIDEO_SUFFIXES):
            found.setdefault((identity.name, os.path.splitext(entry.name)[0]), entry.path)
    return found


def _index_frame_dirs(base: str) -> dict[tuple[str, str, str], str]:
    """``base/<identity>/<scale>/<video>/<track>/`` -> {(identity, video, track): folder}.

    The authors' scale folder is ``1.6``; if an identity has several, ``1.6`` wins, else the
    first in sorted order.
    """
    found: dict[tuple[str, str, str], str] = {}
    for identity in _subdirs(base):
        scales = _subdirs(identity.path)
        if not scales:
            continue
        preferred = [s for s in scales if s.name == "1.6"] or scales
        for video in _subdirs(preferred[0].path):
            for track in _subdirs(video.path):
                found.setdefault((identity.name, video.name, _track_name(track.name)), track.path)
    return found


def _jpeg_frames(folder: str, stride: int) -> tuple[np.ndarray, tuple[str, ...]]:
    """The JPEGs of a track folder, ordered by frame number (names) or name."""
    entries = _files(folder, _IMAGE_SUFFIXES)
    stems = [os.path.splitext(e.name)[0] for e in entries]
    if stems and all(s.isdigit() for s in stems):
        order = np.argsort([int(s) for s in stems], kind="stable")
        numbers = np.asarray([int(stems[i]) for i in order], np.int64)
        paths = tuple(entries[i].path for i in order)
    else:
        paths = tuple(e.path for e in entries)
        numbers = np.arange(len(paths), dtype=np.int64) * stride
    return numbers, paths


def _layout_roots(root: pathlib.Path, layout: str) -> list[pathlib.Path]:
    marker = "frames" if layout == "frames" else "txt"
    candidates = [root, root / "voxceleb"]
    roots = [c for c in candidates if (c / marker).is_dir()]
    if roots:
        return roots[:1]
    # VoxCeleb2 ships dev/ and test/ side by side; accept any children holding the layout.
    children = [c for c in sorted(root.iterdir()) if c.is_dir() and (c / marker).is_dir()]
    return children


def _relative(path: str, root: pathlib.Path) -> str:
    try:
        return os.path.relpath(path, root)
    except ValueError:  # pragma: no cover - different drives on Windows
        return path


# --------------------------------------------------------------------------------------------
# Scanning.


def scan(
    root: str | os.PathLike,
    layout: str,
    *,
    frame_stride: int = frames_lib.FRAME_STRIDE,
    video_fps: float = frames_lib.VIDEO_FPS,
) -> tuple[list[Track], ScanReport]:
    """Finds every usable track under `root` in the given layout.

    Args:
        root: the dataset folder (see the module docstring for each layout).
        layout: ``"voxceleb1"``, ``"voxceleb2"`` or ``"frames"``.
        frame_stride: label one video frame in this many (6).
        video_fps: video frame rate (25), used for `Track.duration_hint`.

    Returns:
        ``(tracks, report)``: the tracks sorted by track id, and what was skipped.

    Raises:
        ValueError: for an unknown layout.
        FileNotFoundError: if `root` does not exist or holds nothing of the layout (the message
            says what was expected where).

    Example:

    >>> tracks, report = scan("VoxCeleb2/", "voxceleb2")  # doctest: +SKIP
    >>> report.skipped  # doctest: +SKIP
    Counter({'audio with no track': 3})
    """
    if layout not in LAYOUTS:
        raise ValueError(f"Unknown layout {layout!r}; expected one of {', '.join(LAYOUTS)}.")
    root = pathlib.Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"Dataset root '{root}' does not exist or is not a folder.")
    roots = _layout_roots(root, layout)
    if not roots:
        expected = {
            "voxceleb1": "txt/idXXXXX/<video>/00001.txt and wav/idXXXXX/<video>/00001.wav",
            "voxceleb2": "txt/idXXXXX/<video>/00001.txt and aac/.../00001.m4a or mp4/.../00001.mp4",
            "frames": "frames/<identity>/1.6/<video>/<track>/*.jpg and "
            "wav/<identity>/<video>/00001.wav",
        }[layout]
        raise FileNotFoundError(
            f"No {layout} layout found under '{root}': expected {expected} (in the folder "
            "itself, in its voxceleb/ subfolder, or in subfolders such as dev/ and test/). "
            "Check --root and --layout."
        )
    report = ScanReport(layout=layout, root=str(root))
    tracks: dict[str, Track] = {}
    for base in roots:
        if layout == "frames":
            found = _scan_frames(base, report, frame_stride, video_fps)
        else:
            found = _scan_txt_layout(base, layout, report, frame_stride, video_fps)
        for track in found:
            if track.track_id in tracks:
                report.skip(SKIP_DUPLICATE, _relative(track.audio_path, root))
                continue
            tracks[track.track_id] = track
    result = [tracks[k] for k in sorted(tracks)]
    report.num_tracks = len(result)
    logger.info("%s", report.summary())
    return result, report


def _skip_untracked(report: ScanReport, audio: dict, tracked: dict, base: pathlib.Path) -> None:
    """Skips (`SKIP_AUDIO_WITHOUT_TRACK`) each audio file whose key has no track, in key order."""
    for key in sorted(set(audio) - set(tracked)):
        report.skip(SKIP_AUDIO_WITHOUT_TRACK, _relative(audio[key], base))


def _sorted_entries(index: dict, base: pathlib.Path):
    """Yields ``(key, path, path relative to base)`` for each entry of an index, in key order."""
    for key in sorted(index):
        yield key, index[key], _relative(index[key], base)


# Long on purpose: one walk of the txt layout, each skip reason next to the check that finds it.
def _scan_txt_layout(
    base: pathlib.Path, layout: str, report: ScanReport, stride: int, fps: float
) -> list[Track]:
    txt_files = _index_tree(str(base / "txt"), (".txt",))
    audio: dict[tuple[str, str, str], str] = {}
    for folder, suffixes in _AUDIO_DIRS[layout]:
        for key, path in _index_tree(str(base / folder), suffixes).items():
            audio.setdefault(key, path)
    clips: dict[tuple[str, str, str], str] = {}
    whole: dict[tuple[str, str], str] = {}
    for folder in _VIDEO_DIRS:
        for key, path in _index_tree(str(base / folder), _VIDEO_SUFFIXES).items():
            clips.setdefault(key, path)
        if layout == "voxceleb1":
            for key, path in _index_whole_videos(str(base / folder)).items():
                whole.setdefault(key, path)
    frame_dirs = _index_frame_dirs(str(base / "frames")) if layout == "voxceleb1" else {}
    units = "pixels360" if layout == "voxceleb1" else "normalised"

    _skip_untracked(report, audio, txt_files, base)
    if layout == "voxceleb2":
        # VoxCeleb2 clips carry their own audio: a clip with no txt is an untracked audio file.
        _skip_untracked(report, {k: v for k, v in clips.items() if k not in audio}, txt_files, base)

    tracks = []
    for key, txt_path, relative in _sorted_entries(txt_files, base):
        identity, video, track = key
        try:
            parsed = read_track_txt(txt_path)
        except TrackFileError as err:
            report.skip(SKIP_UNREADABLE, relative)
            logger.warning("skipping %s", err)
            continue
        if parsed.frame_numbers.size == 0:
            report.skip(SKIP_NO_FRAMES, relative)
            continue
        extent = parsed.boxes[:, 2:]
        if layout == "voxceleb2" and float(parsed.boxes.max()) > 1.5:
            report.skip(SKIP_WRONG_UNITS, relative + " (pixel boxes in a voxceleb2 layout)")
            continue
        if layout == "voxceleb1" and float(extent.max()) <= 1.0:
            report.skip(SKIP_WRONG_UNITS, relative + " (normalised boxes: use --layout voxceleb2)")
            continue
        audio_path = audio.get(key)
        if audio_path is None and layout == "voxceleb2":
            audio_path = clips.get(key)
        if audio_path is None:
            report.skip(SKIP_TRACK_WITHOUT_AUDIO, relative)
            continue
        first, last = int(parsed.frame_numbers[0]), int(parsed.frame_numbers[-1])
        numbers, boxes = labelled_rows(parsed, stride)
        common = dict(
            identity=identity,
            video=video,
            track=track,
            audio_path=audio_path,
            num_video_frames=last - first + 1,
            txt_path=txt_path,
            duration_hint=(last - first + 1) / fps,
        )
        boxed = dict(frame_numbers=numbers, boxes=boxes, box_units=units, **common)
        if key in clips:
            tracks.append(
                Track(frame_source="video", video_path=clips[key], video_first_frame=first, **boxed)
            )
        elif (identity, video) in whole:
            tracks.append(
                Track(
                    frame_source="video", video_path=whole[(identity, video)], video_first_frame=0,
                    **boxed,
                )
            )
        elif key in frame_dirs and _files(frame_dirs[key], _IMAGE_SUFFIXES):
            jpeg_numbers, paths = _jpeg_frames(frame_dirs[key], stride)
            tracks.append(
                Track(frame_source="jpeg", frame_numbers=jpeg_numbers, frame_paths=paths, **common)
            )
        else:
            report.note(NOTE_NO_FRAME_SOURCE, relative)
            tracks.append(Track(frame_source="none", **boxed))
    return tracks


def _scan_frames(base: pathlib.Path, report: ScanReport, stride: int, fps: float) -> list[Track]:
    frame_dirs = _index_frame_dirs(str(base / "frames"))
    audio = _index_tree(str(base / "wav"), _AUDIO_DIRS["frames"][0][1])
    _skip_untracked(report, audio, frame_dirs, base)
    tracks = []
    for key, folder, relative in _sorted_entries(frame_dirs, base):
        identity, video, track = key
        numbers, paths = _jpeg_frames(folder, stride)
        if not paths:
            report.skip(SKIP_NO_FRAMES, relative)
            continue
        if key not in audio:
            report.skip(SKIP_TRACK_WITHOUT_AUDIO, relative)
            continue
        span = int(numbers[-1] - numbers[0]) + stride
        tracks.append(
            Track(
                identity=identity,
                video=video,
                track=track,
                audio_path=audio[key],
                frame_source="jpeg",
                frame_numbers=numbers,
                frame_paths=paths,
                num_video_frames=span,
                duration_hint=span / fps,
            )
        )
    return tracks
