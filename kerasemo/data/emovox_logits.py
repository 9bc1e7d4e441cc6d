"""Importer for the authors' released EmoVoxCeleb frame-level logits (a MATLAB ``.mat`` file).

The authors release the teacher's predictions as the VoxCeleb "imdb" saved with
``save(path, '-struct', 'imdb')`` (``senet50-ferplus-logits.mat``, written by their
``fetch_emovoxceleb_imdb.m``). Its top-level variables include:

- ``wavLogits``: a 1 x N cell, one ``F x 8`` single array per wav file (the logits of the wav's
  labelled frames, in the order of the extracted frames; classes in FERPlus order);
- ``images``: a struct whose ``name`` is a 1 x N cell of wav paths such as
  ``Aamir_Khan/<video>/00001.wav`` (celebrity-name folders in their release,
  ``idXXXXX/<video>/00001.wav`` in ours), optionally ``video`` (cell), ``track`` (numbers) and
  ``set`` (1 train, 2 unheard test "US-UH", 3 heard test "S-H").

`load_emovox_logits` reads such a file with `scipy.io.loadmat` (the struct may also be nested
under an ``imdb`` variable) and `EmoVoxLogits.match` maps its entries to scanned tracks: by the
full ``identity/video/track`` id first, then, for releases that name identities differently
(celebrity names vs ``idXXXXX``), by ``(video, track)`` when that pair is unique on both sides.
Unmatched tracks and unused entries are returned for the build report, never dropped silently.
The builder's ``frame_logits.mat`` export writes the same structure, so a built corpus can be
re-imported (``--logits``) to rebuild shards in another audio format without the teacher.

Example:

>>> logits = load_emovox_logits("senet50-ferplus-logits.mat")  # doctest: +SKIP
>>> len(logits), logits.logits[0].shape  # doctest: +SKIP
(153352, (34, 8))
>>> match = logits.match(tracks)  # doctest: +SKIP
>>> len(match.index), len(match.unmatched_tracks)  # doctest: +SKIP
(153352, 0)
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import os
from collections.abc import Iterable, Sequence

import numpy as np

from kerasemo.emotions import NUM_CLASSES

logger = logging.getLogger(__name__)

AUTHORS_SET_CODES = {1: "train", 2: "unheard_val", 3: "heard_val"}
"""The authors' ``images.set`` codes (``generateBaseImdb.m``) and our split names."""
SPLIT_SET_CODES = {name: code for code, name in AUTHORS_SET_CODES.items()}


class LogitsFileError(ValueError):
    """The logits file cannot be read or lacks the expected structure (message says what)."""


@dataclasses.dataclass
class LogitsMatch:
    """How the entries of a logits file map to scanned tracks.

    Attributes:
        index: ``{track_id: entry index}`` for matched tracks.
        unmatched_tracks: track ids with no entry in the file.
        unused_entries: entry names of the file that matched no track.
        by_video_track: how many tracks matched by ``(video, track)`` only.
    """

    index: dict[str, int]
    unmatched_tracks: list[str]
    unused_entries: list[str]
    by_video_track: int = 0


@dataclasses.dataclass
class EmoVoxLogits:
    """Frame-level teacher logits per wav, as released by the authors.

    Attributes:
        names: the wav name of each entry, as in the file (``identity/video/00001.wav``).
        logits: float32 ``[F_i, 8]`` per entry.
        sets: int ``[N]`` the authors' set codes (see `AUTHORS_SET_CODES`), or None.
        frame_times: float32 ``[F_i]`` per entry if the file has them (our export does), else
            None.
        source: the file read.
    """

    names: list[str]
    logits: list[np.ndarray]
    sets: np.ndarray | None = None
    frame_times: list[np.ndarray] | None = None
    source: str = ""
    videos: list[str] | None = None
    tracks: list[str] | None = None

    def __len__(self) -> int:
        return len(self.names)

    def key(self, i: int) -> tuple[str, str, str]:
        """``(identity, video, track)`` of entry `i` (track as 5 digits)."""
        parts = self.names[i].replace("\\", "/").strip("/").split("/")
        stem = os.path.splitext(parts[-1])[0]
        identity = parts[-3] if len(parts) >= 3 else ""
        video = parts[-2] if len(parts) >= 2 else ""
        if self.videos is not None and self.videos[i]:
            video = self.videos[i]
        track = self.tracks[i] if self.tracks is not None else stem
        track = f"{int(track):05d}" if str(track).isdigit() else str(track)
        return identity, video, track

    def split(self, i: int) -> str | None:
        """Our split name for entry `i` from the file's set code, or None if it has none."""
        if self.sets is None:
            return None
        return AUTHORS_SET_CODES.get(int(self.sets[i]))

    def match(self, tracks: Iterable) -> LogitsMatch:
        """Maps tracks (anything with ``identity``, ``video``, ``track``) to entries.

        Full ``identity/video/track`` ids match first; the rest match on ``(video, track)``
        when that pair occurs once among the remaining tracks and once among the remaining
        entries (the release names identities by celebrity, VoxCeleb1 today by ``idXXXXX``).
        """
        tracks = list(tracks)
        keys = [self.key(i) for i in range(len(self))]
        by_full: dict[str, int] = {}
        for i, (identity, video, track) in enumerate(keys):
            by_full.setdefault(f"{identity}/{video}/{track}", i)
        index: dict[str, int] = {}
        rest = []
        for t in tracks:
            track_id = f"{t.identity}/{t.video}/{t.track}"
            if track_id in by_full:
                index[track_id] = by_full[track_id]
            else:
                rest.append(t)
        used = set(index.values())
        entry_pairs = collections.defaultdict(list)
        for i, (_, video, track) in enumerate(keys):
            if i not in used:
                entry_pairs[(video, track)].append(i)
        track_pairs = collections.Counter((t.video, t.track) for t in rest)
        unmatched, by_pair = [], 0
        for t in rest:
            candidates = entry_pairs.get((t.video, t.track), [])
            if len(candidates) == 1 and track_pairs[(t.video, t.track)] == 1:
                index[f"{t.identity}/{t.video}/{t.track}"] = candidates[0]
                by_pair += 1
            else:
                unmatched.append(f"{t.identity}/{t.video}/{t.track}")
        used = set(index.values())
        unused = [self.names[i] for i in range(len(self)) if i not in used]
        return LogitsMatch(
            index=index,
            unmatched_tracks=sorted(unmatched),
            unused_entries=unused,
            by_video_track=by_pair,
        )


def _as_list(value) -> list:
    """A MATLAB cell or vector read with ``simplify_cells`` -> flat list.

    SciPy squeezes a 1-element cell or vector to its content, which comes back as a 1-element
    list here.
    """
    if isinstance(value, np.ndarray):
        return list(value.reshape(-1))
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


def _as_logits(value, where: str) -> np.ndarray:
    array = np.asarray(value, dtype=np.float32)
    if array.size == 0:
        return np.zeros((0, NUM_CLASSES), np.float32)
    if array.ndim == 1 and array.size % NUM_CLASSES == 0:
        array = array.reshape(-1, NUM_CLASSES)
    if array.ndim != 2 or array.shape[1] != NUM_CLASSES:
        raise LogitsFileError(
            f"{where}: expected an F x {NUM_CLASSES} logits array; found shape {array.shape}."
        )
    return array


def load_emovox_logits(path: str | os.PathLike) -> EmoVoxLogits:
    """Reads the authors' logits file (or this project's ``frame_logits.mat`` export).

    Args:
        path: the ``.mat`` file (MATLAB v5/v7; v7.3/HDF5 files are not readable by SciPy).

    Returns:
        The `EmoVoxLogits`.

    Raises:
        FileNotFoundError: if the file does not exist.
        LogitsFileError: if SciPy cannot read it, or ``wavLogits`` / ``images.name`` are missing
            or inconsistent (the message names what was found).
    """
    import scipy.io

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Logits file not found: '{path}'.")
    try:
        data = scipy.io.loadmat(path, simplify_cells=True)
    except NotImplementedError as err:  # MATLAB v7.3 (HDF5)
        raise LogitsFileError(
            f"'{path}' is a MATLAB v7.3 (HDF5) file, which scipy.io.loadmat cannot read. Re-save "
            "it in MATLAB as v7 (load it, then save(path, '-struct', 'imdb', '-v7'))."
        ) from err
    except (scipy.io.matlab.MatReadError, ValueError, TypeError, OSError) as err:
        raise LogitsFileError(f"Could not read '{path}' as a MATLAB file: {err}.") from err
    if "wavLogits" not in data and isinstance(data.get("imdb"), dict):
        data = data["imdb"]
    variables = sorted(k for k in data if not k.startswith("__"))
    if "wavLogits" not in data:
        raise LogitsFileError(
            f"'{path}' has no 'wavLogits' variable (found: {', '.join(variables) or 'none'}); "
            "expected the authors' EmoVoxCeleb logits file (wavLogits + images.name)."
        )
    images = data.get("images")
    if not isinstance(images, dict) or "name" not in images:
        raise LogitsFileError(
            f"'{path}' has no 'images.name' (the wav name of each wavLogits entry); found "
            f"variables: {', '.join(variables)}."
        )
    raw_logits = data["wavLogits"]
    if isinstance(raw_logits, np.ndarray) and raw_logits.dtype != object:
        entries = [raw_logits]  # a 1 x 1 cell squeezed to its content
    else:
        entries = _as_list(raw_logits)
    names = [str(n) for n in _as_list(images["name"])]
    if len(entries) != len(names):
        # The release keeps names of wavs beyond `opts.limit` with no logits; a shorter
        # wavLogits must be a prefix.
        if len(entries) > len(names):
            raise LogitsFileError(
                f"'{path}': {len(entries)} wavLogits entries but only {len(names)} names."
            )
        logger.warning(
            "%s: %d names but %d wavLogits entries; using the first %d names.",
            path,
            len(names),
            len(entries),
            len(entries),
        )
    logits = [_as_logits(v, f"'{path}' wavLogits{{{i + 1}}}") for i, v in enumerate(entries)]
    count = len(logits)
    names = names[:count]

    def optional(field):
        if field not in images:
            return None
        values = _as_list(images[field])
        return values[:count] if len(values) >= count else None

    sets = optional("set")
    videos = optional("video")
    track_values = optional("track")
    times = data.get("frameTimes")
    frame_times = None
    if times is not None:
        times = (
            [times] if isinstance(times, np.ndarray) and times.dtype != object else _as_list(times)
        )
        frame_times = [np.asarray(t, np.float32).reshape(-1) for t in times][:count]
        if len(frame_times) != count:
            frame_times = None
    return EmoVoxLogits(
        names=names,
        logits=logits,
        sets=None if sets is None else np.asarray(sets, np.int64),
        frame_times=frame_times,
        source=path,
        videos=None if videos is None else [str(v) for v in videos],
        tracks=None
        if track_values is None
        else [
            str(int(v)) if isinstance(v, int | float | np.number) else str(v) for v in track_values
        ],
    )


def save_emovox_logits(
    path: str | os.PathLike,
    *,
    names: Sequence[str],
    logits: Sequence[np.ndarray],
    frame_times: Sequence[np.ndarray] | None = None,
    splits: Sequence[str] | None = None,
    classes: Sequence[str] | None = None,
) -> None:
    """Writes frame-level logits in the authors' structure (``wavLogits`` + ``images``).

    Args:
        path: the ``.mat`` file to write.
        names: wav name per entry, ``identity/video/00001.wav``.
        logits: float32 ``[F_i, 8]`` per entry.
        frame_times: optional float ``[F_i]`` per entry (stored as ``frameTimes``).
        splits: optional split name per entry (stored as the authors' ``images.set`` codes).
        classes: optional class names (stored as ``meta.classes``).

    The file's header names no creation time, so the same logits always give the same bytes.

    Example:

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "logits.mat"
    >>> save_emovox_logits(path, names=["id1/v/00001.wav"], logits=[np.zeros((3, 8))],
    ...                    splits=["train"])
    >>> first = path.read_bytes()
    >>> save_emovox_logits(path, names=["id1/v/00001.wav"], logits=[np.zeros((3, 8))],
    ...                    splits=["train"])
    >>> path.read_bytes() == first, load_emovox_logits(path).split(0)
    (True, 'train')
    """
    import scipy.io

    count = len(names)
    if len(logits) != count:
        raise ValueError(f"{len(logits)} logits arrays for {count} names.")

    def cell(values):
        array = np.empty((1, len(values)), dtype=object)
        for i, v in enumerate(values):
            array[0, i] = v
        return array

    parts = [str(n).split("/") for n in names]
    images = {
        "name": cell([str(n) for n in names]),
        "video": cell([p[-2] if len(p) >= 2 else "" for p in parts]),
        "track": np.asarray(
            [
                [
                    int(os.path.splitext(p[-1])[0]) if os.path.splitext(p[-1])[0].isdigit() else 0
                    for p in parts
                ]
            ],
            np.float64,
        ),
    }
    if splits is not None:
        images["set"] = np.asarray([[SPLIT_SET_CODES[s] for s in splits]], np.float64)
    data = {
        "wavLogits": cell([np.asarray(x, np.float32).reshape(-1, NUM_CLASSES) for x in logits]),
        "images": images,
    }
    if frame_times is not None:
        data["frameTimes"] = cell([np.asarray(t, np.float32).reshape(-1, 1) for t in frame_times])
    if classes is not None:
        data["meta"] = {"classes": cell(list(classes))}
    with open(os.fspath(path), "wb") as handle:
        # SciPy writes its own header (with the creation time) only at the start of a file.
        handle.write(_mat_header())
        scipy.io.savemat(handle, data, do_compression=True)


MAT_DESCRIPTION = "MATLAB 5.0 MAT-file, Platform: {platform}, Created by: kerasemo"
"""The text of the header `save_emovox_logits` writes (no creation time, so the same logits give
the same bytes)."""


def _mat_header() -> bytes:
    """The 128-byte MAT-file (level 5) header: text, subsystem offset, version, byte order.

    As `scipy.io.savemat` writes it (116 bytes of text, 8 zero bytes, version 0x0100 and the
    ``IM`` byte-order mark, both native), with a fixed text instead of one naming the time.
    """
    text = MAT_DESCRIPTION.format(platform=os.name).encode("ascii")
    return (
        text.ljust(116, b" ") + bytes(8) + np.uint16(0x0100).tobytes() + np.uint16(0x4D49).tobytes()
    )
