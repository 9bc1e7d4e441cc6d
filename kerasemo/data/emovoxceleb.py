"""Builds EmoVoxCeleb-style shards: teacher frame logits + track audio, one example per track.

The pipeline (DESIGN.md section 2), for tracks found by `kerasemo.data.voxceleb.scan`:

1. **Labels.** Either a face teacher labels the track's labelled frames (one every 6 at 25 fps,
   `kerasemo.data.frames`): each frame is decoded (PyAV for video, PIL for the authors' JPEGs),
   the face is cropped from its box (square, optional context margin), and the crops of
   consecutive tracks are run through the teacher in batches (`TeacherLabeller`). Or the
   authors' released logits file supplies the frame logits (`FileLabeller`, no teacher).
2. **Audio.** The whole track is decoded to 16 kHz mono and stored either as the recipe's
   257-bin magnitude spectrogram (``VGGVoxSpectrogram(mirror=False, normalize=False)``,
   time-major, float16 after scaling; enough to rebuild the 512 mirrored bins exactly) or as
   int16 samples. Per-crop normalisation and mirroring happen later, in the model.
3. **Splits.** Identity-disjoint train / heard_val / unheard_val (`kerasemo.data.splits`),
   or the logits file's own sets.
4. **Shards.** Examples (`kerasemo.data.schema.make_example`, the only writer of examples)
   grouped per split into ``<split>-<index:05d>-of-<count:05d>.tfrecord``.

**Frame times.** Labelled frame k (1-based) of a track is stored with time ``6 (k - 1) / 25`` s
from the track's start (its own video frame's time; `kerasemo.data.frames.labelled_frame_times`).
The authors' index formula selects it for audio times in ``[t_k + 1/25, t_k + 7/25)``; the
distillation pipeline selects a crop's frames with that formula on the crop's times.

**Shard planning.** Before anything is written the whole build is planned: the tracks of each
split are put in a seeded random order (so a shard mixes identities) and cut into contiguous
runs of about ``shard_mb`` megabytes, estimated from each track's duration (from its face-track
frames, no audio decoding). The plan is a pure function of the scanned tracks and the options,
so every process computes the same plan; it is written to ``plan.json`` and a later run with a
different plan (other options, another corpus, another teacher file) stops with an error
instead of mixing incompatible shards.

**Resuming and atomicity.** Each shard is written as ``<name>.tmp`` and renamed when complete,
after its sidecar (``parts/<name>.npz``: per-track metadata, frame logits, skipped tracks) is in
place; so a file with a finished shard's name is always complete. A rerun skips finished shards
(logging each), deletes stale ``.tmp`` files and rebuilds the rest. Teacher batches never span
two shards and the decoded inputs are deterministic, so a rerun after a kill writes the same
bytes as an uninterrupted run.

**Several processes or machines.** With ``num_parts=N, part_index=i`` a process builds only the
planned shard files ``j`` with ``j % N == i`` (round-robin over the global shard list). Every
process writes into the same output folder (a shared filesystem) or its own copy (then merge the
folders: file names never collide). When a process finishes its part and finds every planned
shard present, it finalises the build: ``manifest.csv`` / ``manifest.parquet``,
``frame_logits.npz`` / ``frame_logits.mat`` (the authors' ``wavLogits`` structure),
``figure4_dominant_emotions.png``, ``summary.md`` and ``build_report.json`` (``config.toml`` is
written when a build starts).
Finalisation only reads ``plan.json`` and the sidecars, writes each file atomically, and is
idempotent, so several processes finishing together are harmless; `finalize` does it on its own
(``--finalize``). `kerasemo.data.beam_build` runs the same build as an Apache Beam pipeline
(the same plan, shard files and sidecars; examples are serialised deterministically, so a shard
has the same bytes whichever process or worker wrote it).

**Overlap.** Decoding (audio, video frames), cropping and the audio front-end run in a thread
pool several tracks ahead of the teacher; serialisation and writing run in a writer thread. The
output order is the plan's order whatever the timing. `BuildResult.stage_seconds` records the
busy time of each stage; their sum exceeding the wall time is the overlap.

Example:

>>> from kerasemo.data import voxceleb, emovoxceleb
>>> tracks, report = voxceleb.scan("corpus/voxceleb", "voxceleb1")  # doctest: +SKIP
>>> labeller = emovoxceleb.load_teacher_labeller("teacher.keras", config)  # doctest: +SKIP
>>> result = emovoxceleb.build(tracks, report, "tfrecords/demo", labeller=labeller,
...                            config=config)  # doctest: +SKIP
>>> result.finalized, result.tracks_written  # doctest: +SKIP
(True, 120)
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import dataclasses
import hashlib
import io
import itertools
import json
import logging
import math
import os
import pathlib
import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from kerasemo import emotions
from kerasemo.config import ExperimentConfig
from kerasemo.data import frames as frames_lib
from kerasemo.data import splits as splits_lib
from kerasemo.data.emovox_logits import EmoVoxLogits
from kerasemo.data.voxceleb import ScanReport, Track

logger = logging.getLogger(__name__)

PLAN_VERSION = 1
AUDIO_KINDS = ("spectrogram", "waveform")
VIDEO_CROPS = ("auto", "box", "whole")
SPLIT_SOURCES = ("seeded", "file")
STAGES = ("decode_audio", "decode_frames", "crop", "teacher", "frontend", "write")
"""Stages whose busy time is measured (seconds summed over threads)."""
SAMPLE_RATE = 16000
PARTS_DIR = "parts"
PLAN_FILE = "plan.json"
TMP_SUFFIX = ".tmp"
VOXCELEB2_CLIP_SIZE = (224, 224)
"""Frame size of VoxCeleb2's released face-track clips, which are already face crops."""

# Skip reasons of the planning and processing stages (the scan has its own).
SKIP_NO_FRAME_SOURCE = "no frames to label (no video or extracted frames)"
SKIP_NO_LOGITS = "no entry in the logits file"
SKIP_EMPTY_LOGITS = "no labelled frames in the logits file"
SKIP_NO_FILE_SPLIT = "no usable set code in the logits file"
SKIP_AUDIO = "audio could not be decoded"
SKIP_FRAMES = "face frames could not be read"
NOTE_VIDEO_SHORT = "video ends before the track's last labelled frame (logits truncated)"
NOTE_WHOLE_FRAME = "tracks whose video frames were used whole as face crops"
NOTE_UNUSED_LOGITS = "logits file entries with no scanned track"


class PlanMismatchError(RuntimeError):
    """The output folder holds a build planned with other tracks or options."""


class IncompleteBuildError(RuntimeError):
    """Finalisation was asked for but some planned shards are missing."""


# --------------------------------------------------------------------------------------------
# Options, labellers.


@dataclasses.dataclass(frozen=True)
class BuildOptions:
    """How to build; everything that changes the shards' content is checked on resume.

    Args:
        audio: ``"spectrogram"`` (257-bin float16 magnitudes, the default) or ``"waveform"``
            (int16 samples).
        shard_mb: target shard size in megabytes (10**6 bytes), estimated before writing.
        num_parts: split the planned shard files into this many disjoint parts.
        part_index: the part this process builds (0-based, < `num_parts`).
        context_margin: context added on every side of a face box, as a fraction of the box's
            longer side (0.0: the box itself, squared, as the authors feed their teacher).
        border: ``"pad"`` (zeros outside the image) or ``"clamp"`` (window moved inside).
        video_crop: ``"box"`` (crop every decoded frame with its txt box), ``"whole"`` (the
            frame is already a face crop) or ``"auto"`` (whole for 224x224 frames of VoxCeleb2
            clips, which ship as face crops; box otherwise).
        jpeg_center_crop: centred fraction of each extracted JPEG kept (1.0 = as it is; the
            authors centre-crop ``1 / 1.6`` of their 1.6x-context JPEGs).
        batch_size: face crops per teacher batch (batches never span two shards).
        workers: decoding threads (0: everything in the calling thread, no writer thread).
        prefetch: tracks decoded ahead of the teacher.
        split_source: ``"seeded"`` (`kerasemo.data.splits`) or ``"file"`` (the logits file's
            sets).
        progress: show a tqdm progress bar (tracks/s).
        finalize: finalise (manifest, exports, figures) when every planned shard exists.
    """

    audio: str = "spectrogram"
    shard_mb: float = 64.0
    num_parts: int = 1
    part_index: int = 0
    context_margin: float = 0.0
    border: str = "pad"
    video_crop: str = "auto"
    jpeg_center_crop: float = 1.0
    batch_size: int = 64
    workers: int = 2
    prefetch: int = 16
    split_source: str = "seeded"
    progress: bool = True
    finalize: bool = True

    def __post_init__(self):
        checks = [
            (
                self.audio in AUDIO_KINDS,
                f"audio must be one of {AUDIO_KINDS}; received {self.audio!r}.",
            ),
            (self.shard_mb > 0, f"shard_mb must be > 0; received {self.shard_mb!r}."),
            (self.num_parts >= 1, f"num_parts must be >= 1; received {self.num_parts!r}."),
            (
                0 <= self.part_index < self.num_parts,
                f"part_index must be in [0, num_parts={self.num_parts}); "
                f"received {self.part_index!r}.",
            ),
            (
                math.isfinite(self.context_margin) and self.context_margin >= 0,
                f"context_margin must be >= 0; received {self.context_margin!r}.",
            ),
            (
                self.border in frames_lib.BORDERS,
                f"border must be one of {frames_lib.BORDERS}; received {self.border!r}.",
            ),
            (
                self.video_crop in VIDEO_CROPS,
                f"video_crop must be one of {VIDEO_CROPS}; received {self.video_crop!r}.",
            ),
            (
                0 < self.jpeg_center_crop <= 1,
                f"jpeg_center_crop must be in (0, 1]; received {self.jpeg_center_crop!r}.",
            ),
            (self.batch_size >= 1, f"batch_size must be >= 1; received {self.batch_size!r}."),
            (self.workers >= 0, f"workers must be >= 0; received {self.workers!r}."),
            (self.prefetch >= 1, f"prefetch must be >= 1; received {self.prefetch!r}."),
            (
                self.split_source in SPLIT_SOURCES,
                f"split_source must be one of {SPLIT_SOURCES}; received {self.split_source!r}.",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a file (or of a folder's files, names and contents, in sorted order)."""
    digest = hashlib.sha256()
    path = pathlib.Path(path)
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode())
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


class TeacherLabeller:
    """Labels face crops with a teacher model, in batches.

    Args:
        teacher: the model (anything `predict_fn` accepts).
        predict_fn: ``predict_fn(teacher, crops, batch_size=...) -> float32 [N, 8]`` taking a
            list of uint8 RGB crops of any size (resizing is its job). Defaults to
            `kerasemo.models.teacher_inference.predict_frame_logits`, which feeds 0-255 RGB to
            a model that normalises its input itself.
        batch_size: crops per teacher call.
        fingerprint: identifies the teacher in ``plan.json`` (e.g. its file's SHA-256).
    """

    needs_frames = True

    def __init__(
        self,
        teacher,
        predict_fn: Callable | None = None,
        *,
        batch_size: int = 64,
        fingerprint: str = "",
    ):
        if predict_fn is None:
            predict_fn = _teacher_api()[1]
        self.teacher = teacher
        self.predict_fn = predict_fn
        self.batch_size = int(batch_size)
        self.fingerprint = {"kind": "teacher", "id": fingerprint}

    def predict(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """float32 ``[len(crops), 8]`` logits of uint8 RGB crops."""
        logits = np.asarray(
            self.predict_fn(self.teacher, list(crops), batch_size=self.batch_size), np.float32
        )
        if logits.shape != (len(crops), emotions.NUM_CLASSES):
            raise ValueError(
                f"The teacher returned logits of shape {logits.shape} for {len(crops)} crops; "
                f"expected ({len(crops)}, {emotions.NUM_CLASSES})."
            )
        return logits


class FileLabeller:
    """Frame logits read from the authors' released file (`load_emovox_logits`); no teacher.

    Args:
        logits: the loaded file.
        fingerprint: identifies the file in ``plan.json`` (e.g. its SHA-256).
    """

    needs_frames = False

    def __init__(self, logits: EmoVoxLogits, *, fingerprint: str = ""):
        self.logits = logits
        self.fingerprint = {"kind": "logits", "id": fingerprint}
        self.logits_index: dict[str, int] = {}  # set by `plan_build`

    def subset(self, track_ids: Iterable[str]) -> FileLabeller:
        """A labeller holding only these planned tracks' entries (what one worker needs).

        Raises:
            KeyError: for a track id that `plan_build` did not match to an entry.
        """
        track_ids = list(track_ids)
        indices = [self.logits_index[t] for t in track_ids]
        source = self.logits

        def pick(values):
            return None if values is None else [values[i] for i in indices]

        part = dataclasses.replace(
            source,
            names=pick(source.names),
            logits=pick(source.logits),
            sets=None if source.sets is None else np.asarray(source.sets)[indices],
            frame_times=pick(source.frame_times),
            videos=pick(source.videos),
            tracks=pick(source.tracks),
        )
        subset = FileLabeller(part)
        subset.fingerprint = dict(self.fingerprint)
        subset.logits_index = {t: i for i, t in enumerate(track_ids)}
        return subset


def _teacher_api():
    """``(load, predict)``: `kerasemo.models.teacher.load_teacher` (given the experiment config)
    and `kerasemo.models.teacher_inference.predict_frame_logits`."""
    from kerasemo.models import teacher as teacher_lib
    from kerasemo.models import teacher_inference

    def load(path, config: ExperimentConfig):
        return teacher_lib.load_teacher(path, config.teacher)

    return load, teacher_inference.predict_frame_logits


def load_teacher_labeller(
    path: str | os.PathLike, config: ExperimentConfig, *, batch_size: int = 64
) -> TeacherLabeller:
    """Loads a teacher (`kerasemo.models.teacher.load_teacher`) and wraps it for the builder.

    Args:
        path: the teacher: a ``.keras`` model, or ``.weights.h5`` weights for the teacher that
            ``config.teacher`` describes.
        config: the experiment configuration.
        batch_size: crops per teacher call.

    Returns:
        A `TeacherLabeller` whose fingerprint is the file's SHA-256.

    Raises:
        FileNotFoundError: if `path` does not exist.
        kerasemo.models.teacher.TeacherWeightsError: if the file does not hold an 8-way teacher
            (or weights that fit ``config.teacher``).
    """
    path = pathlib.Path(path)
    if not path.exists():
        raise FileNotFoundError(f"Teacher file not found: '{path}'.")
    load, predict = _teacher_api()
    teacher = load(path, config)
    return TeacherLabeller(teacher, predict, batch_size=batch_size, fingerprint=file_sha256(path))


# --------------------------------------------------------------------------------------------
# Planning.


@dataclasses.dataclass
class ShardPlan:
    """One planned shard file: its name, split, and its tracks in write order."""

    name: str
    split: str
    track_ids: list[str]


@dataclasses.dataclass
class BuildPlan:
    """The whole build, computed identically by every process.

    Attributes:
        shards: every shard file, train first, then heard_val, then unheard_val.
        splits: ``{track_id: split}`` of the planned tracks.
        fingerprint: what determines the shards' content (options, labeller, recipe).
        skipped: planning-stage skips ``{reason: [track ids]}``.
        notes: planning-stage observations ``{note: count}``.
        scan: the scan report as a dict.
        info: descriptive fields not checked on resume (root, layout).
    """

    shards: list[ShardPlan]
    splits: dict[str, str]
    fingerprint: dict
    skipped: dict[str, list[str]]
    notes: dict[str, int]
    scan: dict
    info: dict

    def to_json(self) -> str:
        """The plan as JSON text (written to ``plan.json``)."""
        data = {
            "version": PLAN_VERSION,
            "fingerprint": self.fingerprint,
            "info": self.info,
            "shards": [dataclasses.asdict(s) for s in self.shards],
            "splits": self.splits,
            "skipped": self.skipped,
            "notes": self.notes,
            "scan": self.scan,
        }
        return json.dumps(data, indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> BuildPlan:
        """Reads a plan written by `to_json`."""
        data = json.loads(text)
        if data.get("version") != PLAN_VERSION:
            raise PlanMismatchError(
                f"plan.json has version {data.get('version')!r}; this code writes {PLAN_VERSION}."
            )
        return cls(
            shards=[ShardPlan(**s) for s in data["shards"]],
            splits=data["splits"],
            fingerprint=data["fingerprint"],
            skipped=data["skipped"],
            notes=data["notes"],
            scan=data["scan"],
            info=data["info"],
        )


def estimated_example_bytes(duration_s: float, num_logit_frames: int, audio: str) -> int:
    """Estimated serialized size of one track's example, for shard planning."""
    samples = max(int(round(duration_s * SAMPLE_RATE)), frames_lib.FRAME_STRIDE)
    if audio == "spectrogram":
        frames = max(samples - 400, 0) // 160 + 1
        audio_bytes = frames * 257 * 2
    else:
        audio_bytes = samples * 2
    return audio_bytes + num_logit_frames * (emotions.NUM_CLASSES * 4 + 4) + 300


def plan_build(
    tracks: Sequence[Track],
    scan_report: ScanReport,
    *,
    labeller,
    config: ExperimentConfig,
    options: BuildOptions,
) -> BuildPlan:
    """Chooses the usable tracks, their splits, and the shard files they go to.

    Returns:
        The `BuildPlan`.

    Raises:
        ValueError: if no track is usable, or the splits cannot be made (too few identities,
            or ``split_source="file"`` with a file that has no sets).
    """
    skipped: dict[str, list[str]] = collections.defaultdict(list)
    notes: dict[str, int] = {}
    usable: list[Track] = []
    logit_frames: dict[str, int] = {}
    file_splits: dict[str, str] = {}
    if isinstance(labeller, FileLabeller):
        match = labeller.logits.match(tracks)
        labeller.logits_index = match.index
        for track_id in match.unmatched_tracks:
            skipped[SKIP_NO_LOGITS].append(track_id)
        if match.unused_entries:
            notes[NOTE_UNUSED_LOGITS] = len(match.unused_entries)
        for track in tracks:
            index = match.index.get(track.track_id)
            if index is None:
                continue
            count = int(labeller.logits.logits[index].shape[0])
            if count == 0:
                skipped[SKIP_EMPTY_LOGITS].append(track.track_id)
                continue
            if options.split_source == "file":
                split = labeller.logits.split(index)
                if split is None:
                    skipped[SKIP_NO_FILE_SPLIT].append(track.track_id)
                    continue
                file_splits[track.track_id] = split
            logit_frames[track.track_id] = count
            usable.append(track)
    else:
        if options.split_source == "file":
            raise ValueError("split_source='file' needs a logits file (--logits); use 'seeded'.")
        for track in tracks:
            if track.frame_source == "none":
                skipped[SKIP_NO_FRAME_SOURCE].append(track.track_id)
                continue
            logit_frames[track.track_id] = track.num_labelled_frames
            usable.append(track)
    if not usable:
        reasons = "; ".join(f"{len(v)} {k}" for k, v in skipped.items()) or scan_report.summary()
        raise ValueError(f"No usable tracks to build ({reasons}).")

    if options.split_source == "file":
        assignment = file_splits
    else:
        assignment = splits_lib.assign_splits(
            ((t.identity, t.track_id) for t in usable), config.splits, seed=config.seed
        )
    by_id = {t.track_id: t for t in usable}
    target = options.shard_mb * 1e6
    shards: list[ShardPlan] = []
    for split_number, split in enumerate(splits_lib.SPLITS):
        ids = sorted(t for t, s in assignment.items() if s == split)
        if not ids:
            continue
        order = np.random.default_rng([config.seed, 1 + split_number]).permutation(len(ids))
        ids = [ids[i] for i in order]
        sizes = np.asarray(
            [
                estimated_example_bytes(by_id[t].duration_hint, logit_frames[t], options.audio)
                for t in ids
            ],
            np.float64,
        )
        total = float(sizes.sum())
        count = max(1, math.ceil(total / target))
        middle = np.cumsum(sizes) - sizes / 2
        slot = np.minimum((middle / total * count).astype(np.int64), count - 1)
        groups = [[ids[i] for i in np.flatnonzero(slot == s)] for s in range(count)]
        groups = [g for g in groups if g]
        for index, group in enumerate(groups):
            name = f"{split}-{index:05d}-of-{len(groups):05d}.tfrecord"
            shards.append(ShardPlan(name=name, split=split, track_ids=group))

    fingerprint = {
        "audio": options.audio,
        "shard_mb": options.shard_mb,
        "context_margin": options.context_margin,
        "border": options.border,
        "video_crop": options.video_crop,
        "jpeg_center_crop": options.jpeg_center_crop,
        "batch_size": options.batch_size if labeller.needs_frames else None,
        "split_source": options.split_source,
        "seed": config.seed,
        "splits": dataclasses.asdict(config.splits),
        "frames": {
            "video_fps": config.frames.video_fps,
            "frame_stride": config.frames.frame_stride,
        },
        "labeller": labeller.fingerprint,
        "schema_version": _schema_version(),
    }
    info = {"layout": scan_report.layout, "root": scan_report.root}
    return BuildPlan(
        shards=shards,
        splits={t: assignment[t] for t in sorted(assignment)},
        fingerprint=fingerprint,
        skipped={k: sorted(v) for k, v in sorted(skipped.items())},
        notes=notes,
        scan=scan_report.to_dict(),
        info=info,
    )


def _schema_version() -> int:
    from kerasemo.data import schema

    return schema.SCHEMA_VERSION


def assigned_shards(plan: BuildPlan, num_parts: int, part_index: int) -> list[ShardPlan]:
    """The shard files that part `part_index` of `num_parts` builds (round-robin over the plan)."""
    return [s for j, s in enumerate(plan.shards) if j % num_parts == part_index]


def _write_atomic(path: pathlib.Path, data: bytes) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}{TMP_SUFFIX}")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _check_or_write_plan(out_dir: pathlib.Path, plan: BuildPlan) -> None:
    path = out_dir / PLAN_FILE
    if path.exists():
        existing = BuildPlan.from_json(path.read_text(encoding="utf-8"))
        differences = [
            key
            for key in sorted(set(existing.fingerprint) | set(plan.fingerprint))
            if existing.fingerprint.get(key) != plan.fingerprint.get(key)
        ]
        same_shards = [dataclasses.asdict(s) for s in existing.shards] == [
            dataclasses.asdict(s) for s in plan.shards
        ]
        if differences or not same_shards:
            what = (
                f"options differ: {', '.join(differences)}"
                if differences
                else ("the tracks or their shard assignment differ (the corpus changed?)")
            )
            raise PlanMismatchError(
                f"'{out_dir}' holds a build planned differently ({what}). Resume it with the "
                "same corpus and options, or build into a new --out folder (or delete this one)."
            )
        return
    _write_atomic(path, plan.to_json().encode("utf-8"))


# --------------------------------------------------------------------------------------------
# Per-track work.


class StageTimer:
    """Thread-safe busy-time accumulator per stage."""

    def __init__(self):
        self.seconds = dict.fromkeys(STAGES, 0.0)
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def time(self, stage: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - start
            with self._lock:
                self.seconds[stage] += elapsed


class FrontEnd:
    """The 257-bin recipe magnitude of a whole track, time-major ``[frames, 257]``.

    Builds and traces a `tf.function` once; calling it from several threads is safe.

    Example:

    >>> frontend = FrontEnd()  # doctest: +SKIP
    >>> frontend(np.zeros(16000, np.float32)).shape  # doctest: +SKIP
    (98, 257)
    """

    def __init__(self):
        import tensorflow as tf

        from kerasemo.audio import VGGVoxSpectrogram

        layer = VGGVoxSpectrogram(mirror=False, normalize=False)
        self._fn = tf.function(
            lambda x: layer(x), input_signature=[tf.TensorSpec([1, None], tf.float32)]
        )
        self(np.zeros(400, np.float32))  # trace once, before threads use it

    def __call__(self, waveform: np.ndarray) -> np.ndarray:
        spectrogram = self._fn(np.asarray(waveform, np.float32)[None, :]).numpy()[0]
        return np.ascontiguousarray(spectrogram.T)


@dataclasses.dataclass
class PreparedTrack:
    """One track after decoding: its audio, its face crops (teacher) or logits (file), or why
    it was skipped (`error`, `detail`). `TrackPreparer` makes it; `serialize_track` and
    `track_record` turn a labelled one into its example and sidecar entry."""

    track: Track
    split: str
    num_samples: int = 0
    spectrogram: np.ndarray | None = None
    waveform: np.ndarray | None = None
    crops: list | None = None
    logits: np.ndarray | None = None
    frame_times: np.ndarray | None = None
    error: str | None = None
    detail: str = ""
    notes: list[str] = dataclasses.field(default_factory=list)


class TrackPreparer:
    """Decodes audio and frames and crops faces for one track (runs in worker threads).

    Args:
        config: the experiment configuration (frame rate and stride).
        options: the `BuildOptions` (audio kind, crop settings).
        labeller: a `FileLabeller` (logits are looked up, no frames decoded), or anything else
            (a `TeacherLabeller`, None): the labelled frames are decoded and cropped.
        timer: a `StageTimer` receiving the busy time of each stage.
        frontend: a `FrontEnd` (spectrogram storage) or None (waveform storage).

    Example:

    >>> preparer = TrackPreparer(
    ...     config, BuildOptions(), None, StageTimer(), FrontEnd())  # doctest: +SKIP
    >>> prepared = preparer((track, "train"))  # doctest: +SKIP
    >>> len(prepared.crops), prepared.spectrogram.shape  # doctest: +SKIP
    (7, (158, 257))
    """

    def __init__(self, config, options, labeller, timer, frontend):
        self.config = config
        self.options = options
        self.labeller = labeller
        self.timer = timer
        self.frontend = frontend

    def __call__(self, item: tuple[Track, str]) -> PreparedTrack:
        from kerasemo.audio import AudioDecodeError, load_audio

        track, split = item
        prepared = PreparedTrack(track=track, split=split)
        try:
            with self.timer.time("decode_audio"):
                waveform = load_audio(track.audio_path, SAMPLE_RATE)
        except (FileNotFoundError, AudioDecodeError) as err:
            prepared.error, prepared.detail = SKIP_AUDIO, str(err)
            return prepared
        prepared.num_samples = int(waveform.shape[0])
        if self.options.audio == "spectrogram":
            with self.timer.time("frontend"):
                prepared.spectrogram = self.frontend(waveform)
        else:
            prepared.waveform = waveform
        if isinstance(self.labeller, FileLabeller):
            index = self.labeller.logits_index[track.track_id]
            prepared.logits = self.labeller.logits.logits[index]
            times = (
                None
                if self.labeller.logits.frame_times is None
                else self.labeller.logits.frame_times[index]
            )
            if times is None or times.shape[0] != prepared.logits.shape[0]:
                times = self._times(prepared.logits.shape[0])
            prepared.frame_times = np.asarray(times, np.float32)
            return prepared
        try:
            prepared.crops = self._crops(track, prepared)
        except (FileNotFoundError, frames_lib.FrameReadError, ValueError) as err:
            prepared.error, prepared.detail = SKIP_FRAMES, str(err)
            return prepared
        if not prepared.crops:
            prepared.error, prepared.detail = SKIP_FRAMES, "no labelled frame could be read"
            return prepared
        prepared.frame_times = self._times(len(prepared.crops)).astype(np.float32)
        return prepared

    def _times(self, count: int) -> np.ndarray:
        return frames_lib.labelled_frame_times(
            count, self.config.frames.video_fps, self.config.frames.frame_stride
        )

    def _crops(self, track: Track, prepared: PreparedTrack) -> list[np.ndarray]:
        options = self.options
        if track.frame_source == "jpeg":
            crops = []
            for path in track.frame_paths:
                with self.timer.time("decode_frames"):
                    image = frames_lib.read_jpeg(path)
                with self.timer.time("crop"):
                    crops.append(frames_lib.center_crop(image, options.jpeg_center_crop))
            return crops
        if track.frame_source != "video":
            raise ValueError(f"track {track.track_id} has no frames to label")
        indices = [int(n) - track.video_first_frame for n in track.frame_numbers]
        with self.timer.time("decode_frames"):
            images = frames_lib.read_video_frames(
                track.video_path, indices, fps=self.config.frames.video_fps
            )
        crops = []
        with self.timer.time("crop"):
            for k, index in enumerate(indices):
                image = images.get(index)
                if image is None:
                    if crops:
                        prepared.notes.append(NOTE_VIDEO_SHORT)
                    break
                whole = options.video_crop == "whole" or (
                    options.video_crop == "auto"
                    and track.box_units == "normalised"
                    and image.shape[:2] == VOXCELEB2_CLIP_SIZE
                )
                if whole:
                    if k == 0:
                        prepared.notes.append(NOTE_WHOLE_FRAME)
                    crops.append(image)
                else:
                    crops.append(
                        frames_lib.crop_face(
                            image,
                            track.boxes[k],
                            units=track.box_units,
                            margin=options.context_margin,
                            border=options.border,
                        )
                    )
        return crops


def _ordered_map(fn, items: Iterable, workers: int, window: int):
    """Yields ``(item, fn(item))`` in input order, computing up to `window` items ahead."""
    if workers == 0:
        for item in items:
            yield item, fn(item)
        return
    pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="emovox-decode")
    try:
        iterator = iter(items)
        pending = collections.deque(
            (item, pool.submit(fn, item)) for item in itertools.islice(iterator, window)
        )
        while pending:
            item, future = pending.popleft()
            result = future.result()
            for nxt in itertools.islice(iterator, 1):
                pending.append((nxt, pool.submit(fn, nxt)))
            yield item, result
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


# --------------------------------------------------------------------------------------------
# Writing shards.


@dataclasses.dataclass
class TrackRecord:
    """What a shard's sidecar keeps of one written track (`track_record`).

    Attributes:
        row: the manifest columns kept in the sidecar (track ids, split, relative audio path,
            number of samples).
        logits: float32 ``[F, 8]`` frame logits.
        frame_times: float32 ``[F]`` frame times in seconds.
        notes: observations about the track (counted in the sidecar).
    """

    row: dict
    logits: np.ndarray
    frame_times: np.ndarray
    notes: list[str]


def serialize_track(prepared: PreparedTrack) -> bytes:
    """The serialized example of a labelled track (`kerasemo.data.schema.make_example`)."""
    from kerasemo.data import schema

    track = prepared.track
    example = schema.make_example(
        identity=track.identity,
        video=track.video,
        track=track.track,
        split=prepared.split,
        frame_logits=prepared.logits,
        frame_times=prepared.frame_times,
        num_samples=prepared.num_samples,
        spectrogram=prepared.spectrogram,
        waveform=prepared.waveform,
        sample_rate=SAMPLE_RATE,
    )
    # Deterministic: protobuf orders map entries (the features) differently in each process
    # otherwise, and shards written by different processes or workers must be identical.
    return example.SerializeToString(deterministic=True)


def track_record(prepared: PreparedTrack, root: str) -> TrackRecord:
    """The sidecar entry of a labelled track; audio paths are kept relative to `root`."""
    track = prepared.track
    return TrackRecord(
        row={
            "track_id": track.track_id,
            "identity": track.identity,
            "video": track.video,
            "track": track.track,
            "split": prepared.split,
            "audio_path": _relative_to(track.audio_path, root),
            "num_samples": prepared.num_samples,
        },
        logits=np.asarray(prepared.logits, np.float32),
        frame_times=np.asarray(prepared.frame_times, np.float32),
        notes=list(prepared.notes),
    )


class ShardFile:
    """Writes one planned shard file: examples into a temporary file, then the sidecar, then
    the rename that makes the shard finished (so a finished name is always complete).

    Args:
        out_dir: the build's output folder.
        name: the shard's file name (from the plan).
        tmp_name: the temporary file's name (default ``<name>.tmp``); concurrent writers of
            the same shard (retried or speculative work) need distinct names.

    Example:

    >>> shard = ShardFile(out_dir, "train-00000-of-00001.tfrecord")  # doctest: +SKIP
    >>> shard.open()  # doctest: +SKIP
    >>> shard.add(serialize_track(prepared), track_record(prepared, root))  # doctest: +SKIP
    >>> shard.finish()  # doctest: +SKIP
    """

    def __init__(self, out_dir: pathlib.Path, name: str, tmp_name: str | None = None):
        self.out_dir = pathlib.Path(out_dir)
        self.name = name
        self.final = self.out_dir / name
        self.tmp = self.out_dir / (tmp_name or name + TMP_SUFFIX)
        self.rows: list[dict] = []
        self.logits: list[np.ndarray] = []
        self.times: list[np.ndarray] = []
        self.skipped: list[tuple[str, str, str]] = []
        self.notes: collections.Counter = collections.Counter()
        self.writer = None

    def open(self) -> None:
        """Starts the temporary file (replacing a stale one)."""
        import tensorflow as tf

        if self.tmp.exists():
            self.tmp.unlink()
        self.writer = tf.io.TFRecordWriter(str(self.tmp))

    def add(self, example: bytes, record: TrackRecord) -> None:
        """Appends one serialized example and its sidecar entry."""
        self.writer.write(example)
        self.rows.append(record.row)
        self.logits.append(record.logits)
        self.times.append(record.frame_times)
        for note in record.notes:
            self.notes[note] += 1

    def skip(self, track_id: str, reason: str, detail: str) -> None:
        """Records a planned track that could not be processed (kept in the sidecar)."""
        self.skipped.append((track_id, reason, detail))

    def finish(self) -> None:
        """Closes the file, writes the sidecar, and renames the file to its final name."""
        self.writer.close()
        self.writer = None
        _write_sidecar(self.out_dir, self)
        os.replace(self.tmp, self.final)
        logger.info(
            "finished %s: %d tracks (%d skipped)", self.name, len(self.rows), len(self.skipped)
        )


class _ShardWriter:
    """Serialises examples and writes shard files; runs in its own thread unless `inline`."""

    def __init__(self, out_dir: pathlib.Path, root: str, timer: StageTimer, *, inline: bool):
        self.out_dir = out_dir
        self.root = root
        self.timer = timer
        self.inline = inline
        self.error: BaseException | None = None
        self.finished: list[str] = []
        self._state: ShardFile | None = None
        if not inline:
            self._queue: queue.Queue = queue.Queue(maxsize=32)
            self._thread = threading.Thread(target=self._run, name="emovox-writer", daemon=True)
            self._thread.start()

    # Messages: ("open", shard) ("example", prepared) ("skip", track_id, reason, detail)
    # ("close",) and None (stop).
    def put(self, message) -> None:
        if self.inline:
            self._handle(message)
            return
        while True:
            self._raise_if_failed()
            try:
                self._queue.put(message, timeout=0.2)
                return
            except queue.Full:
                continue

    def close(self) -> None:
        """Stops the thread after the queued work; re-raises its error, if any."""
        if not self.inline:
            self.put(None)
            self._thread.join()
        self._raise_if_failed()

    def abort(self) -> None:
        """Stops after the queued work, leaving the open shard unfinished (its .tmp stays)."""
        if not self.inline and self._thread.is_alive():
            self._queue.put(None)  # the thread keeps consuming (or draining after an error)
            self._thread.join()
        if self._state is not None and self._state.writer is not None:
            with contextlib.suppress(Exception):
                self._state.writer.close()

    def _raise_if_failed(self) -> None:
        if self.error is not None:
            raise RuntimeError(f"Writing shards failed: {self.error}") from self.error

    def _run(self) -> None:
        while True:
            message = self._queue.get()
            if message is None:
                return
            if self.error is not None:
                continue  # drain after a failure
            try:
                self._handle(message)
            except BaseException as err:  # noqa: BLE001 - re-raised in the main thread
                self.error = err

    def _handle(self, message) -> None:
        kind = message[0]
        if kind == "open":
            self._open(message[1])
        elif kind == "example":
            with self.timer.time("write"):
                self._write_example(message[1])
        elif kind == "skip":
            self._state.skip(*message[1:])
        elif kind == "close":
            with self.timer.time("write"):
                self._close()
        else:  # pragma: no cover
            raise ValueError(f"unknown writer message {kind!r}")

    def _open(self, shard: ShardPlan) -> None:
        state = ShardFile(self.out_dir, shard.name)
        state.open()
        self._state = state

    def _write_example(self, prepared: PreparedTrack) -> None:
        self._state.add(serialize_track(prepared), track_record(prepared, self.root))

    def _close(self) -> None:
        self._state.finish()
        self.finished.append(self._state.name)
        self._state = None


def _relative_to(path: str, root: str) -> str:
    try:
        return os.path.relpath(path, root)
    except ValueError:  # pragma: no cover - other drive on Windows
        return path


def sidecar_path(out_dir: pathlib.Path, shard_name: str) -> pathlib.Path:
    """``parts/<shard name>.npz``: the sidecar of a shard file (metadata, logits, skips)."""
    return out_dir / PARTS_DIR / (shard_name + ".npz")


def _write_sidecar(out_dir: pathlib.Path, state: ShardFile) -> None:
    rows = state.rows
    logits = (
        np.concatenate(state.logits)
        if state.logits
        else np.zeros((0, emotions.NUM_CLASSES), np.float32)
    )
    times = np.concatenate(state.times) if state.times else np.zeros(0, np.float32)
    counts = np.asarray([x.shape[0] for x in state.logits], np.int64)
    columns = {
        key: np.asarray([r[key] for r in rows], dtype=str)
        for key in ("track_id", "identity", "video", "track", "split", "audio_path")
    }
    buffer = io.BytesIO()
    np.savez(
        buffer,
        num_samples=np.asarray([r["num_samples"] for r in rows], np.int64),
        num_logit_frames=counts,
        logits=logits.astype(np.float32),
        frame_times=times.astype(np.float32),
        skipped=np.asarray([list(s) for s in state.skipped], dtype=str).reshape(-1, 3),
        notes=np.asarray(json.dumps(dict(state.notes), sort_keys=True)),
        **columns,
    )
    path = sidecar_path(out_dir, state.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_atomic(path, buffer.getvalue())


def is_finished(out_dir: pathlib.Path, shard: ShardPlan) -> bool:
    """Whether a planned shard file and its sidecar are both in place (the shard is complete)."""
    return (out_dir / shard.name).is_file() and sidecar_path(out_dir, shard.name).is_file()


# --------------------------------------------------------------------------------------------
# The build.


@dataclasses.dataclass
class BuildResult:
    """What one `build` call did.

    Attributes:
        out_dir: the output folder.
        plan: the build plan.
        built_shards: shard files written by this call.
        existing_shards: shard files of this part found finished and skipped.
        tracks_written: examples written by this call.
        tracks_failed: tracks of this call's shards skipped while processing.
        wall_seconds: wall time of the processing (excluding scan and planning).
        stage_seconds: busy seconds per stage (`STAGES`), summed over threads.
        finalized: whether every planned shard existed and the build was finalised.
        summary: the finalisation's summary (`FinalSummary`) when finalised.
    """

    out_dir: pathlib.Path
    plan: BuildPlan
    built_shards: list[str]
    existing_shards: list[str]
    tracks_written: int
    tracks_failed: int
    wall_seconds: float
    stage_seconds: dict[str, float]
    finalized: bool
    summary: FinalSummary | None = None


def build(
    tracks: Sequence[Track],
    scan_report: ScanReport,
    out_dir: str | os.PathLike,
    *,
    labeller,
    config: ExperimentConfig,
    options: BuildOptions | None = None,
) -> BuildResult:
    """Plans the build, writes this part's unfinished shards, and finalises when all exist.

    Args:
        tracks: scanned tracks (`kerasemo.data.voxceleb.scan`).
        scan_report: the scan's report (kept in ``build_report.json``).
        out_dir: output folder (created).
        labeller: a `TeacherLabeller` or a `FileLabeller`.
        config: the experiment configuration (frames, splits, seed).
        options: `BuildOptions` (defaults if None).

    Returns:
        The `BuildResult`.

    Raises:
        ValueError: if no track is usable or the splits cannot be made.
        PlanMismatchError: if `out_dir` holds a build planned differently.
        RuntimeError: if writing fails (the unfinished shard stays a ``.tmp`` file).
    """
    options = options or BuildOptions()
    out_dir = pathlib.Path(out_dir)
    plan, existing, todo = start_build(
        tracks, scan_report, out_dir, labeller=labeller, config=config, options=options
    )
    timer = StageTimer()
    start = time.perf_counter()
    written, failed, built = _process(
        todo, tracks, plan, out_dir, scan_report.root, labeller, config, options, timer
    )
    return finish_build(
        out_dir,
        plan,
        options,
        built_shards=built,
        existing_shards=[s.name for s in existing],
        tracks_written=written,
        tracks_failed=failed,
        wall_seconds=time.perf_counter() - start,
        stage_seconds=dict(timer.seconds),
    )


def start_build(
    tracks: Sequence[Track],
    scan_report: ScanReport,
    out_dir: str | os.PathLike,
    *,
    labeller,
    config: ExperimentConfig,
    options: BuildOptions,
) -> tuple[BuildPlan, list[ShardPlan], list[ShardPlan]]:
    """The steps before any track is processed, shared by every build engine.

    Creates `out_dir`, plans the build, writes ``plan.json`` (or checks it against the one
    there) and ``config.toml``, and sorts this part's shard files into finished and to-do.

    Args:
        tracks, scan_report, out_dir, labeller, config, options: as for `build`.

    Returns:
        ``(plan, finished, todo)``: the `BuildPlan`, and this part's `ShardPlan` s already
        finished (logged as skipped) and still to build.

    Raises:
        ValueError: if no track is usable or the splits cannot be made.
        PlanMismatchError: if `out_dir` holds a build planned differently.
    """
    from kerasemo import config as config_lib

    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plan = plan_build(tracks, scan_report, labeller=labeller, config=config, options=options)
    _check_or_write_plan(out_dir, plan)
    config_lib.save_config(config, out_dir)

    mine = assigned_shards(plan, options.num_parts, options.part_index)
    existing = [s for s in mine if is_finished(out_dir, s)]
    for shard in existing:
        logger.info("skipping %s: already finished", shard.name)
    todo = [s for s in mine if not is_finished(out_dir, s)]
    logger.info(
        "part %d of %d: %d of %d planned shard files; %d finished, %d to build",
        options.part_index,
        options.num_parts,
        len(mine),
        len(plan.shards),
        len(existing),
        len(todo),
    )
    return plan, existing, todo


def finish_build(
    out_dir: str | os.PathLike, plan: BuildPlan, options: BuildOptions, **measured
) -> BuildResult:
    """Finalises the build if every planned shard exists (and `options.finalize`).

    Args:
        out_dir: the output folder.
        plan: the build plan.
        options: the `BuildOptions`.
        **measured: the other `BuildResult` fields (``built_shards``, ``existing_shards``,
            ``tracks_written``, ``tracks_failed``, ``wall_seconds``, ``stage_seconds``).

    Returns:
        The `BuildResult`.
    """
    out_dir = pathlib.Path(out_dir)
    finalized, summary = False, None
    missing = [s.name for s in plan.shards if not is_finished(out_dir, s)]
    if options.finalize and not missing:
        summary = finalize(out_dir)
        finalized = True
    elif missing:
        logger.info(
            "%d of %d planned shard files are not built yet (other parts?); the manifest and "
            "figures are written once all exist (or with --finalize).",
            len(missing),
            len(plan.shards),
        )
    return BuildResult(
        out_dir=out_dir, plan=plan, finalized=finalized, summary=summary, **measured
    )


def _process(todo, tracks, plan, out_dir, root, labeller, config, options, timer):
    if not todo:
        return 0, 0, []
    from tqdm.auto import tqdm

    by_id = {t.track_id: t for t in tracks}
    frontend = FrontEnd() if options.audio == "spectrogram" else None
    preparer = TrackPreparer(config, options, labeller, timer, frontend)
    items = [(shard, by_id[t]) for shard in todo for t in shard.track_ids]
    writer = _ShardWriter(out_dir, root, timer, inline=options.workers == 0)
    progress = tqdm(
        total=len(items),
        unit="track",
        desc="EmoVoxCeleb",
        disable=not options.progress,
        smoothing=0.1,
    )
    written = failed = 0
    pending: collections.deque = collections.deque()  # [prepared, logits parts, missing count]
    crop_queue: list[np.ndarray] = []

    def emit_ready():
        nonlocal written
        while pending and pending[0][2] == 0:
            prepared, parts, _ = pending.popleft()
            prepared.logits = np.concatenate(parts) if parts else prepared.logits
            prepared.crops = None
            writer.put(("example", prepared))
            written += 1
            progress.update(1)

    def run_teacher(count):
        batch = crop_queue[:count]
        del crop_queue[:count]
        with timer.time("teacher"):
            logits = labeller.predict(batch)
        offset = 0
        for entry in pending:
            if offset >= count:
                break
            if entry[2] == 0:
                continue
            take = min(entry[2], count - offset)
            entry[1].append(logits[offset : offset + take])
            entry[2] -= take
            offset += take
        emit_ready()

    def flush():
        while crop_queue:
            run_teacher(min(options.batch_size, len(crop_queue)))
        emit_ready()

    current = None
    try:
        stream = _ordered_map(
            lambda item: preparer((item[1], plan.splits[item[1].track_id])),
            items,
            options.workers,
            max(options.prefetch, options.workers),
        )
        with contextlib.closing(stream):
            for (shard, _), prepared in stream:
                if shard is not current:
                    if current is not None:
                        flush()
                        writer.put(("close",))
                    writer.put(("open", shard))
                    current = shard
                if prepared.error is not None:
                    writer.put(("skip", prepared.track.track_id, prepared.error, prepared.detail))
                    logger.warning(
                        "skipping %s: %s (%s)",
                        prepared.track.track_id,
                        prepared.error,
                        prepared.detail,
                    )
                    failed += 1
                    progress.update(1)
                    continue
                if prepared.crops is None:  # logits from the file
                    pending.append([prepared, [], 0])
                    emit_ready()
                    continue
                pending.append([prepared, [], len(prepared.crops)])
                crop_queue.extend(prepared.crops)
                while len(crop_queue) >= options.batch_size:
                    run_teacher(options.batch_size)
        if current is not None:
            flush()
            writer.put(("close",))
        writer.close()
    except BaseException:
        writer.abort()
        raise
    finally:
        progress.close()
    return written, failed, list(writer.finished)


# --------------------------------------------------------------------------------------------
# Finalisation: manifest, frame-level export, figure, summary.


@dataclasses.dataclass
class FinalSummary:
    """Per-split counts (Table 3-like) and dominant-emotion frame counts (Figure 4-like).

    Attributes:
        counts: ``{split: {"identities", "tracks", "hours", "frames"}}`` plus ``"total"``.
        dominant: ``{split: [frames per class]}`` (argmax of each labelled frame's logits).
        markdown: the ``summary.md`` text.
        files: the files written, by role.
    """

    counts: dict[str, dict[str, float]]
    dominant: dict[str, list[int]]
    markdown: str
    files: dict[str, str]


def _load_sidecars(out_dir: pathlib.Path, plan: BuildPlan):
    rows, logits, times, skipped = [], [], [], []
    notes: collections.Counter = collections.Counter()
    for shard in plan.shards:
        with np.load(sidecar_path(out_dir, shard.name), allow_pickle=False) as data:
            count = data["track_id"].shape[0]
            offsets = np.concatenate([[0], np.cumsum(data["num_logit_frames"])])
            for i in range(count):
                rows.append(
                    {
                        "track_id": str(data["track_id"][i]),
                        "identity": str(data["identity"][i]),
                        "video": str(data["video"][i]),
                        "track": str(data["track"][i]),
                        "split": str(data["split"][i]),
                        "audio_path": str(data["audio_path"][i]),
                        "num_samples": int(data["num_samples"][i]),
                        "shard": shard.name,
                    }
                )
                logits.append(np.asarray(data["logits"][offsets[i] : offsets[i + 1]], np.float32))
                times.append(
                    np.asarray(data["frame_times"][offsets[i] : offsets[i + 1]], np.float32)
                )
            skipped.extend(tuple(str(v) for v in row) for row in data["skipped"])
            notes.update(json.loads(str(data["notes"])))
    return rows, logits, times, skipped, notes


# Per-track columns of the manifest, in order (pooled logits and the dominant emotion follow);
# all but the two derived ones come from the shard sidecars.
_MANIFEST_TRACK_COLUMNS = (
    "track_id",
    "identity",
    "video",
    "track",
    "split",
    "audio_path",
    "num_samples",
    "duration_s",
    "num_logit_frames",
    "shard",
)
_SIDECAR_COLUMNS = frozenset(_MANIFEST_TRACK_COLUMNS) - {"duration_s", "num_logit_frames"}


def finalize(out_dir: str | os.PathLike) -> FinalSummary:
    """Writes the manifest, frame-level export, figure, summary and report of a built folder.

    Reads only ``plan.json`` and the shard sidecars, so any process (or machine with the
    folder) can run it once every planned shard exists. Every file is written atomically.

    Args:
        out_dir: the build's output folder.

    Returns:
        The `FinalSummary`.

    Raises:
        FileNotFoundError: if there is no ``plan.json`` (not a build folder).
        IncompleteBuildError: if planned shards are missing (names the first few).
    """
    import pandas as pd

    from kerasemo.data.emovox_logits import save_emovox_logits

    out_dir = pathlib.Path(out_dir)
    plan_path = out_dir / PLAN_FILE
    if not plan_path.is_file():
        raise FileNotFoundError(
            f"'{out_dir}' has no {PLAN_FILE}; it is not an EmoVoxCeleb build folder."
        )
    plan = BuildPlan.from_json(plan_path.read_text(encoding="utf-8"))
    missing = [s.name for s in plan.shards if not is_finished(out_dir, s)]
    if missing:
        raise IncompleteBuildError(
            f"{len(missing)} of {len(plan.shards)} planned shard files are missing in "
            f"'{out_dir}' (e.g. {', '.join(missing[:3])}); build the remaining parts first."
        )
    rows, logits, times, skipped, notes = _load_sidecars(out_dir, plan)
    classes = emotions.CLASSES
    pooled = np.stack([x.max(axis=0) for x in logits]) if logits else np.zeros((0, len(classes)))
    manifest = pd.DataFrame(rows)
    if manifest.empty:
        manifest = pd.DataFrame(columns=[c for c in _MANIFEST_TRACK_COLUMNS if c in _SIDECAR_COLUMNS])
    manifest["duration_s"] = manifest["num_samples"].astype(float) / SAMPLE_RATE
    manifest["num_logit_frames"] = [x.shape[0] for x in logits]
    for c, name in enumerate(classes):
        manifest[f"logit_max_{name}"] = pooled[:, c] if len(pooled) else []
    manifest["dominant_emotion"] = (
        [classes[i] for i in pooled.argmax(axis=1)] if len(pooled) else []
    )
    columns = (
        list(_MANIFEST_TRACK_COLUMNS)
        + [f"logit_max_{name}" for name in classes]
        + ["dominant_emotion"]
    )
    order = np.argsort(manifest["track_id"].to_numpy(), kind="stable")
    manifest = manifest[columns].iloc[order].reset_index(drop=True)
    logits = [logits[i] for i in order]
    times = [times[i] for i in order]

    files: dict[str, str] = {}
    _write_atomic(out_dir / "manifest.csv", manifest.to_csv(index=False).encode("utf-8"))
    files["manifest_csv"] = "manifest.csv"
    try:
        import pyarrow  # noqa: F401

        buffer = io.BytesIO()
        manifest.to_parquet(buffer, index=False)
        _write_atomic(out_dir / "manifest.parquet", buffer.getvalue())
        files["manifest_parquet"] = "manifest.parquet"
    except ImportError:
        logger.warning(
            "pyarrow is not installed: wrote manifest.csv only (pip install pyarrow for Parquet)."
        )

    counts = np.asarray([x.shape[0] for x in logits], np.int64)
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        track_id=manifest["track_id"].to_numpy(dtype=str),
        split=manifest["split"].to_numpy(dtype=str),
        offsets=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        logits=np.concatenate(logits) if logits else np.zeros((0, len(classes)), np.float32),
        frame_times=np.concatenate(times) if times else np.zeros(0, np.float32),
        classes=np.asarray(classes, dtype=str),
    )
    _write_atomic(out_dir / "frame_logits.npz", buffer.getvalue())
    files["frame_logits_npz"] = "frame_logits.npz"
    mat_tmp = out_dir / f"frame_logits.mat.{os.getpid()}{TMP_SUFFIX}"
    names = [
        f"{r.track_id}{os.path.splitext(r.audio_path)[1] or '.wav'}" for r in manifest.itertuples()
    ]
    save_emovox_logits(
        mat_tmp,
        names=names,
        logits=logits,
        frame_times=times,
        splits=list(manifest["split"]),
        classes=classes,
    )
    os.replace(mat_tmp, out_dir / "frame_logits.mat")
    files["frame_logits_mat"] = "frame_logits.mat"

    dominant = {}
    for split in splits_lib.SPLITS:
        selected = [x for x, s in zip(logits, manifest["split"], strict=True) if s == split]
        frames = np.concatenate(selected) if selected else np.zeros((0, len(classes)))
        dominant[split] = (
            np.bincount(frames.argmax(axis=1), minlength=len(classes)).astype(int).tolist()
            if len(frames)
            else [0] * len(classes)
        )
    _plot_dominant(out_dir / "figure4_dominant_emotions.png", dominant)
    files["figure4"] = "figure4_dominant_emotions.png"

    table: dict[str, dict[str, float]] = {}
    for split in [*splits_lib.SPLITS, "total"]:
        part = manifest if split == "total" else manifest[manifest["split"] == split]
        table[split] = {
            "identities": int(part["identity"].nunique()),
            "tracks": int(len(part)),
            "hours": float(part["num_samples"].sum()) / SAMPLE_RATE / 3600,
            "frames": int(part["num_logit_frames"].sum()),
        }
    processing_skips = collections.defaultdict(list)
    for track_id, reason, detail in skipped:
        processing_skips[reason].append(f"{track_id}: {detail}")
    markdown = _summary_markdown(plan, table, dominant, processing_skips, notes)
    _write_atomic(out_dir / "summary.md", markdown.encode("utf-8"))
    files["summary"] = "summary.md"
    report = {
        "info": plan.info,
        "fingerprint": plan.fingerprint,
        "scan": plan.scan,
        "planning": {
            "skipped": {k: len(v) for k, v in plan.skipped.items()},
            "examples": {k: v[:20] for k, v in plan.skipped.items()},
            "notes": plan.notes,
        },
        "processing": {
            "skipped": {k: len(v) for k, v in sorted(processing_skips.items())},
            "examples": {k: v[:20] for k, v in sorted(processing_skips.items())},
            "notes": dict(sorted(notes.items())),
        },
        "counts": table,
        "dominant_emotion_frames": {
            s: dict(zip(classes, v, strict=True)) for s, v in dominant.items()
        },
        "shards": [
            {"name": s.name, "split": s.split, "planned_tracks": len(s.track_ids)}
            for s in plan.shards
        ],
    }
    _write_atomic(out_dir / "build_report.json", json.dumps(report, indent=2).encode("utf-8"))
    files["report"] = "build_report.json"
    logger.info(
        "finalised %s: %d tracks in %d shard files", out_dir, len(manifest), len(plan.shards)
    )
    return FinalSummary(counts=table, dominant=dominant, markdown=markdown, files=files)


def _plot_dominant(path: pathlib.Path, dominant: dict[str, list[int]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    classes = emotions.CLASSES
    figure, axis = plt.subplots(figsize=(8, 4.5))
    width = 0.8 / len(dominant)
    x = np.arange(len(classes))
    for i, (split, counts) in enumerate(dominant.items()):
        # Zero counts cannot be drawn on a log axis; they are left as gaps.
        values = np.where(np.asarray(counts) > 0, counts, np.nan)
        axis.bar(
            x + (i - (len(dominant) - 1) / 2) * width,
            values,
            width,
            label=f"{split} ({sum(counts):,} frames)",
        )
    axis.set_yscale("log")
    axis.set_ylim(bottom=0.8)  # a class seen once still shows a bar
    axis.set_xticks(
        x, [c.capitalize() for c in classes], rotation=30, ha="right", rotation_mode="anchor"
    )
    axis.set_ylabel("number of frames (log scale)")
    axis.set_title("Dominant teacher emotion per labelled frame (cf. paper Figure 4)")
    axis.grid(True, axis="y", which="both", alpha=0.3)
    axis.legend()
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    _write_atomic(path, buffer.getvalue())


def _summary_markdown(plan, table, dominant, processing_skips, notes) -> str:
    classes = emotions.CLASSES
    labeller = plan.fingerprint["labeller"]
    source = "teacher" if labeller["kind"] == "teacher" else "logits file"
    lines = [
        "# EmoVoxCeleb build summary",
        "",
        f"Layout `{plan.info['layout']}`; labels from the {source} "
        f"(sha256 {labeller['id'][:12]}...); audio stored as {plan.fingerprint['audio']}; "
        f"{len(plan.shards)} shard files.",
        "",
        "## Tracks per split (cf. paper Table 3)",
        "",
        "| split | identities | tracks | hours | labelled frames |",
        "|---|---:|---:|---:|---:|",
    ]
    for split, row in table.items():
        lines.append(
            f"| {split} | {row['identities']:,} | {row['tracks']:,} | {row['hours']:.3f} "
            f"| {row['frames']:,} |"
        )
    lines += [
        "",
        "Paper (Table 3): train 118.5k, heard_val 4.5k, unheard_val 30.5k tracks; about 5 million "
        "labelled frames (one every 0.24 s).",
        "",
        "## Dominant emotion per labelled frame (cf. paper Figure 4)",
        "",
        "| emotion | " + " | ".join(dominant) + " | share of all |",
        "|---|" + "---:|" * (len(dominant) + 1),
    ]
    total = sum(sum(v) for v in dominant.values()) or 1
    for c, name in enumerate(classes):
        values = [dominant[s][c] for s in dominant]
        lines.append(
            f"| {name} | "
            + " | ".join(f"{v:,}" for v in values)
            + f" | {sum(values) / total:.2%} |"
        )
    scan_skipped = plan.scan.get("skipped", {})
    lines += ["", "## Skipped (never silently)", ""]
    for stage, items in (
        ("scan", scan_skipped),
        ("planning", {k: len(v) for k, v in plan.skipped.items()}),
        ("processing", {k: len(v) for k, v in processing_skips.items()}),
    ):
        text = ", ".join(f"{n} {r}" for r, n in sorted(items.items())) if items else "none"
        lines.append(f"- {stage}: {text}")
    all_notes = {**plan.scan.get("notes", {}), **plan.notes, **notes}
    if all_notes:
        lines.append("- notes: " + ", ".join(f"{n} {r}" for r, n in sorted(all_notes.items())))
    lines.append("")
    lines.append("Details and example items: build_report.json.")
    return "\n".join(lines) + "\n"
