"""The build plan: which tracks are usable, their splits, and the shard file each goes to.

Before anything is written the whole build is planned: the tracks of each split are put in a
seeded random order (so a shard mixes identities) and cut into contiguous runs of about
``shard_mb`` megabytes, estimated from each track's duration (from its face-track frames, no
audio decoding). The plan is a pure function of the scanned tracks and the options, so every
process computes the same plan; it is written to ``plan.json`` and a later run with a
different plan (other options, another corpus, another teacher file) stops with
`PlanMismatchError` instead of mixing incompatible shards. The plan's ``info`` also says what
the build was made with and is not checked on resume: the corpus root and layout, the preset's
name and, for stored spectrograms, the front-end recipe (`frontend_recipe`), which
`kerasemo.data.shard_config` compares with the student's front end before distillation.

Example:

>>> plan = plan_build(tracks, report, labeller=labeller, config=config,
...                   options=BuildOptions(shard_mb=16))  # doctest: +SKIP
>>> [s.name for s in assigned_shards(plan, num_parts=2, part_index=0)]  # doctest: +SKIP
['train-00000-of-00004.tfrecord', 'train-00002-of-00004.tfrecord', ...]
"""

from __future__ import annotations

import collections
import dataclasses
import json
import math
import pathlib
from collections.abc import Sequence

import numpy as np

from kerasemo import emotions
from kerasemo.audio import reference
from kerasemo.config import ExperimentConfig
from kerasemo.data import frames as frames_lib
from kerasemo.data import splits as splits_lib
from kerasemo.data.emovoxceleb.files import PLAN_FILE, write_atomic
from kerasemo.data.emovoxceleb.labellers import FileLabeller
from kerasemo.data.emovoxceleb.options import SAMPLE_RATE, BuildOptions
from kerasemo.data.voxceleb import ScanReport, Track

PLAN_VERSION = 1
"""Version of ``plan.json``'s structure."""

# Skip reasons and notes of the planning stage (the scan and the processing have their own).
SKIP_NO_FRAME_SOURCE = "no frames to label (no video or extracted frames)"
SKIP_NO_LOGITS = "no entry in the logits file"
SKIP_EMPTY_LOGITS = "no labelled frames in the logits file"
SKIP_NO_FILE_SPLIT = "no usable set code in the logits file"
NOTE_UNUSED_LOGITS = "logits file entries with no scanned track"


class PlanMismatchError(RuntimeError):
    """The output folder holds a build planned with other tracks or options."""


@dataclasses.dataclass
class ShardPlan:
    """One planned shard file: its name, split, and its tracks in write order.

    Example:

    >>> ShardPlan("train-00000-of-00001.tfrecord", "train", ["id1/v/00001"]).split
    'train'
    """

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
        info: descriptive fields not checked on resume: ``root``, ``layout``, ``preset`` (the
            configuration's name) and, for a spectrogram build, ``frontend`` (`frontend_recipe`).

    Example:

    >>> plan = BuildPlan([ShardPlan("train-00000-of-00001.tfrecord", "train", ["a/v/00001"])],
    ...                  {"a/v/00001": "train"}, {}, {}, {}, {}, {})
    >>> BuildPlan.from_json(plan.to_json()) == plan
    True
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
    """Estimated serialized size of one track's example, for shard planning.

    Args:
        duration_s: the track's duration (from its face-track frames).
        num_logit_frames: its labelled frames.
        audio: the storage (`AUDIO_KINDS`).

    Example:

    >>> estimated_example_bytes(1.0, 4, "waveform")
    32444
    """
    samples = max(int(round(duration_s * SAMPLE_RATE)), frames_lib.FRAME_STRIDE)
    if audio == "spectrogram":
        frames = max(samples - reference.FRAME_LENGTH, 0) // reference.FRAME_STEP + 1
        audio_bytes = frames * reference.NUM_RFFT_BINS * 2
    else:
        audio_bytes = samples * 2
    return audio_bytes + num_logit_frames * (emotions.NUM_CLASSES * 4 + 4) + 300


@dataclasses.dataclass
class _Usable:
    """The planning stage's choice of tracks: the usable ones, and what was skipped."""

    tracks: list[Track] = dataclasses.field(default_factory=list)
    logit_frames: dict[str, int] = dataclasses.field(default_factory=dict)
    file_splits: dict[str, str] = dataclasses.field(default_factory=dict)
    skipped: dict[str, list[str]] = dataclasses.field(
        default_factory=lambda: collections.defaultdict(list)
    )
    notes: dict[str, int] = dataclasses.field(default_factory=dict)


def _usable_from_file(
    tracks: Sequence[Track], labeller: FileLabeller, options: BuildOptions
) -> _Usable:
    """Tracks with an entry (and, for ``split_source="file"``, a set) in the logits file."""
    usable = _Usable()
    match = labeller.logits.match(tracks)
    labeller.logits_index = match.index
    for track_id in match.unmatched_tracks:
        usable.skipped[SKIP_NO_LOGITS].append(track_id)
    if match.unused_entries:
        usable.notes[NOTE_UNUSED_LOGITS] = len(match.unused_entries)
    for track in tracks:
        index = match.index.get(track.track_id)
        if index is None:
            continue
        count = int(labeller.logits.logits[index].shape[0])
        if count == 0:
            usable.skipped[SKIP_EMPTY_LOGITS].append(track.track_id)
            continue
        if options.split_source == "file":
            split = labeller.logits.split(index)
            if split is None:
                usable.skipped[SKIP_NO_FILE_SPLIT].append(track.track_id)
                continue
            usable.file_splits[track.track_id] = split
        usable.logit_frames[track.track_id] = count
        usable.tracks.append(track)
    return usable


def _usable_for_teacher(tracks: Sequence[Track], options: BuildOptions) -> _Usable:
    """Tracks with frames for the teacher to label."""
    if options.split_source == "file":
        raise ValueError("split_source='file' needs a logits file (--logits); use 'seeded'.")
    usable = _Usable()
    for track in tracks:
        if track.frame_source == "none":
            usable.skipped[SKIP_NO_FRAME_SOURCE].append(track.track_id)
            continue
        usable.logit_frames[track.track_id] = track.num_labelled_frames
        usable.tracks.append(track)
    return usable


def _split_shards(
    split: str, split_number: int, ids: list[str], usable: _Usable, config, options
) -> list[ShardPlan]:
    """One split's tracks in their seeded order, cut into runs of about ``shard_mb``."""
    by_id = {t.track_id: t for t in usable.tracks}
    order = np.random.default_rng([config.seed, 1 + split_number]).permutation(len(ids))
    ids = [ids[i] for i in order]
    sizes = np.asarray(
        [
            estimated_example_bytes(by_id[t].duration_hint, usable.logit_frames[t], options.audio)
            for t in ids
        ],
        np.float64,
    )
    total = float(sizes.sum())
    count = max(1, math.ceil(total / (options.shard_mb * 1e6)))
    middle = np.cumsum(sizes) - sizes / 2
    slot = np.minimum((middle / total * count).astype(np.int64), count - 1)
    groups = [[ids[i] for i in np.flatnonzero(slot == s)] for s in range(count)]
    groups = [g for g in groups if g]
    return [
        ShardPlan(
            name=f"{split}-{index:05d}-of-{len(groups):05d}.tfrecord", split=split, track_ids=group
        )
        for index, group in enumerate(groups)
    ]


def frontend_recipe() -> dict:
    """The VGGVox front-end recipe that stored spectrograms are computed with (in ``plan.json``).

    Every value is `kerasemo.audio.reference`'s, the recipe of the student's front end
    (`kerasemo.audio.VGGVoxSpectrogram`), so a build records what it used and a later version
    can tell whether it still computes the same spectrograms.

    Returns:
        ``{"sample_rate", "stored_bins", "frame_length", "frame_step", "fft_length",
        "int16_scale", "preemphasis", "dc_alpha"}``.

    Example:

    >>> recipe = frontend_recipe()
    >>> recipe["stored_bins"], recipe["frame_length"], recipe["frame_step"], recipe["dc_alpha"]
    (257, 400, 160, 0.99)
    """
    return {
        "sample_rate": reference.SAMPLE_RATE,
        "stored_bins": reference.NUM_RFFT_BINS,
        "frame_length": reference.FRAME_LENGTH,
        "frame_step": reference.FRAME_STEP,
        "fft_length": reference.FFT_LENGTH,
        "int16_scale": reference.INT16_SCALE,
        "preemphasis": reference.PREEMPHASIS,
        "dc_alpha": reference.DC_ALPHA,
    }


def _info(scan_report: ScanReport, config: ExperimentConfig, options: BuildOptions) -> dict:
    """What the build was made with, recorded in ``plan.json`` but not checked on resume."""
    info = {"layout": scan_report.layout, "root": scan_report.root, "preset": config.name}
    if options.audio == "spectrogram":
        info["frontend"] = frontend_recipe()
    return info


def _fingerprint(labeller, config: ExperimentConfig, options: BuildOptions) -> dict:
    """What determines the shards' content: checked against ``plan.json`` on resume."""
    from kerasemo.data import schema

    return {
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
        "schema_version": schema.SCHEMA_VERSION,
    }


def plan_build(
    tracks: Sequence[Track],
    scan_report: ScanReport,
    *,
    labeller,
    config: ExperimentConfig,
    options: BuildOptions,
) -> BuildPlan:
    """Chooses the usable tracks, their splits, and the shard files they go to.

    Args:
        tracks: scanned tracks (`kerasemo.data.voxceleb.scan`).
        scan_report: the scan's report (kept in the plan).
        labeller: a `TeacherLabeller` or a `FileLabeller` (whose ``logits_index`` this sets).
        config: the experiment configuration (frames, splits, seed).
        options: the `BuildOptions`.

    Returns:
        The `BuildPlan`.

    Raises:
        ValueError: if no track is usable, or the splits cannot be made (too few identities,
            or ``split_source="file"`` with a file that has no sets).

    Example:

    >>> plan = plan_build(tracks, report, labeller=labeller, config=config,
    ...                   options=BuildOptions())  # doctest: +SKIP
    >>> plan.to_json() == plan_build(list(reversed(tracks)), report, labeller=labeller,
    ...     config=config, options=BuildOptions()).to_json()  # doctest: +SKIP
    True
    """
    if isinstance(labeller, FileLabeller):
        usable = _usable_from_file(tracks, labeller, options)
    else:
        usable = _usable_for_teacher(tracks, options)
    if not usable.tracks:
        reasons = (
            "; ".join(f"{len(v)} {k}" for k, v in usable.skipped.items()) or scan_report.summary()
        )
        raise ValueError(f"No usable tracks to build ({reasons}).")

    if options.split_source == "file":
        assignment = usable.file_splits
    else:
        assignment = splits_lib.assign_splits(
            ((t.identity, t.track_id) for t in usable.tracks), config.splits, seed=config.seed
        )
    shards: list[ShardPlan] = []
    for split_number, split in enumerate(splits_lib.SPLITS):
        ids = sorted(t for t, s in assignment.items() if s == split)
        if ids:
            shards += _split_shards(split, split_number, ids, usable, config, options)
    return BuildPlan(
        shards=shards,
        splits={t: assignment[t] for t in sorted(assignment)},
        fingerprint=_fingerprint(labeller, config, options),
        skipped={k: sorted(v) for k, v in sorted(usable.skipped.items())},
        notes=usable.notes,
        scan=scan_report.to_dict(),
        info=_info(scan_report, config, options),
    )


def assigned_shards(plan: BuildPlan, num_parts: int, part_index: int) -> list[ShardPlan]:
    """The shard files that part `part_index` of `num_parts` builds (round-robin over the plan).

    Example:

    >>> plan = BuildPlan([ShardPlan(f"train-{i:05d}-of-00003.tfrecord", "train", [])
    ...                   for i in range(3)], {}, {}, {}, {}, {}, {})
    >>> [s.name[6:11] for s in assigned_shards(plan, 2, 0)]
    ['00000', '00002']
    """
    return [s for j, s in enumerate(plan.shards) if j % num_parts == part_index]


def check_or_write_plan(out_dir: pathlib.Path, plan: BuildPlan) -> None:
    """Writes ``plan.json``, or checks that the one in `out_dir` plans the same build.

    Args:
        out_dir: the build folder.
        plan: this run's plan.

    Raises:
        PlanMismatchError: if `out_dir` holds a plan with other options or other shards.
    """
    path = pathlib.Path(out_dir) / PLAN_FILE
    if not path.exists():
        write_atomic(path, plan.to_json().encode("utf-8"))
        return
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
            else "the tracks or their shard assignment differ (the corpus changed?)"
        )
        raise PlanMismatchError(
            f"'{out_dir}' holds a build planned differently ({what}). Resume it with the "
            "same corpus and options, or build into a new --out folder (or delete this one)."
        )
