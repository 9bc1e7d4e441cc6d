"""Finalisation: the manifest, the frame-level exports, the figure, summary and report.

Once every planned shard exists, `finalize` writes ``manifest.csv`` / ``manifest.parquet``,
``frame_logits.npz`` / ``frame_logits.mat`` (the authors' ``wavLogits`` structure),
``figure4_dominant_emotions.png``, ``summary.md`` and ``build_report.json``. It reads only
``plan.json`` and the shard sidecars, writes each file atomically, and is idempotent, so any
process (or machine with the folder) can run it, several at once harmlessly; the same inputs
give the same bytes.

Example:

>>> summary = finalize("tfrecords/demo")  # doctest: +SKIP
>>> summary.counts["total"]["tracks"], sorted(summary.files)[:2]  # doctest: +SKIP
(120, ['figure4', 'frame_logits_mat'])
"""

from __future__ import annotations

import collections
import dataclasses
import io
import json
import logging
import os
import pathlib

import numpy as np

from kerasemo import emotions
from kerasemo.data import splits as splits_lib
from kerasemo.data.emovoxceleb.files import (
    PLAN_FILE,
    TMP_SUFFIX,
    is_finished,
    write_atomic,
)
from kerasemo.data.emovoxceleb.options import SAMPLE_RATE
from kerasemo.data.emovoxceleb.plan import BuildPlan
from kerasemo.data.emovoxceleb.sidecars import read_sidecar
from kerasemo.data.emovoxceleb.summary import plot_dominant, summary_markdown

logger = logging.getLogger(__name__)

# Per-track columns of the manifest, in order (pooled logits and the dominant emotion follow);
# all but the two derived ones come from the shard sidecars.
MANIFEST_TRACK_COLUMNS = (
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
_SIDECAR_COLUMNS = frozenset(MANIFEST_TRACK_COLUMNS) - {"duration_s", "num_logit_frames"}


class IncompleteBuildError(RuntimeError):
    """Finalisation was asked for but some planned shards are missing."""


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


@dataclasses.dataclass
class _Tracks:
    """Every written track of a build, in manifest (track id) order."""

    manifest: object  # pandas.DataFrame
    logits: list[np.ndarray]
    times: list[np.ndarray]
    skipped: list[tuple[str, str, str]]
    notes: collections.Counter


def _read_plan(out_dir: pathlib.Path) -> BuildPlan:
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
    return plan


def _collect_tracks(out_dir: pathlib.Path, plan: BuildPlan) -> _Tracks:
    """The sidecars' tracks as the manifest (pooled logits, dominant emotion) and their logits."""
    import pandas as pd

    rows, logits, times, skipped = [], [], [], []
    notes: collections.Counter = collections.Counter()
    for shard in plan.shards:
        sidecar = read_sidecar(out_dir, shard.name)
        rows += [{**row, "shard": shard.name} for row in sidecar.rows]
        logits += sidecar.logits
        times += sidecar.frame_times
        skipped += sidecar.skipped
        notes.update(sidecar.notes)
    classes = emotions.CLASSES
    pooled = np.stack([x.max(axis=0) for x in logits]) if logits else np.zeros((0, len(classes)))
    manifest = pd.DataFrame(rows)
    if manifest.empty:
        manifest = pd.DataFrame(
            columns=[c for c in MANIFEST_TRACK_COLUMNS if c in _SIDECAR_COLUMNS]
        )
    manifest["duration_s"] = manifest["num_samples"].astype(float) / SAMPLE_RATE
    manifest["num_logit_frames"] = [x.shape[0] for x in logits]
    for c, name in enumerate(classes):
        manifest[f"logit_max_{name}"] = pooled[:, c] if len(pooled) else []
    manifest["dominant_emotion"] = (
        [classes[i] for i in pooled.argmax(axis=1)] if len(pooled) else []
    )
    columns = (
        list(MANIFEST_TRACK_COLUMNS)
        + [f"logit_max_{name}" for name in classes]
        + ["dominant_emotion"]
    )
    order = np.argsort(manifest["track_id"].to_numpy(), kind="stable")
    return _Tracks(
        manifest=manifest[columns].iloc[order].reset_index(drop=True),
        logits=[logits[i] for i in order],
        times=[times[i] for i in order],
        skipped=skipped,
        notes=notes,
    )


def _write_manifest(out_dir: pathlib.Path, manifest, files: dict[str, str]) -> None:
    write_atomic(out_dir / "manifest.csv", manifest.to_csv(index=False).encode("utf-8"))
    files["manifest_csv"] = "manifest.csv"
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        logger.warning(
            "pyarrow is not installed: wrote manifest.csv only (pip install pyarrow for Parquet)."
        )
        return
    buffer = io.BytesIO()
    manifest.to_parquet(buffer, index=False)
    write_atomic(out_dir / "manifest.parquet", buffer.getvalue())
    files["manifest_parquet"] = "manifest.parquet"


def _write_frame_logits(out_dir: pathlib.Path, tracks: _Tracks, files: dict[str, str]) -> None:
    """``frame_logits.npz`` (offsets into one array) and ``frame_logits.mat`` (wavLogits)."""
    from kerasemo.data.emovox_logits import save_emovox_logits

    classes = emotions.CLASSES
    manifest, logits, times = tracks.manifest, tracks.logits, tracks.times
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
    write_atomic(out_dir / "frame_logits.npz", buffer.getvalue())
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


def _dominant_counts(tracks: _Tracks) -> dict[str, list[int]]:
    """``{split: [labelled frames whose argmax is each class]}``."""
    classes = emotions.CLASSES
    dominant = {}
    for split in splits_lib.SPLITS:
        selected = [
            x for x, s in zip(tracks.logits, tracks.manifest["split"], strict=True) if s == split
        ]
        frames = np.concatenate(selected) if selected else np.zeros((0, len(classes)))
        dominant[split] = (
            np.bincount(frames.argmax(axis=1), minlength=len(classes)).astype(int).tolist()
            if len(frames)
            else [0] * len(classes)
        )
    return dominant


def _split_counts(manifest) -> dict[str, dict[str, float]]:
    """``{split: {"identities", "tracks", "hours", "frames"}}`` plus ``"total"``."""
    table: dict[str, dict[str, float]] = {}
    for split in [*splits_lib.SPLITS, "total"]:
        part = manifest if split == "total" else manifest[manifest["split"] == split]
        table[split] = {
            "identities": int(part["identity"].nunique()),
            "tracks": int(len(part)),
            "hours": float(part["num_samples"].sum()) / SAMPLE_RATE / 3600,
            "frames": int(part["num_logit_frames"].sum()),
        }
    return table


def _build_report(plan, table, dominant, processing_skips, notes) -> dict:
    """The ``build_report.json`` content: fingerprint, scan, skips and notes, counts."""
    return {
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
            s: dict(zip(emotions.CLASSES, v, strict=True)) for s, v in dominant.items()
        },
        "shards": [
            {"name": s.name, "split": s.split, "planned_tracks": len(s.track_ids)}
            for s in plan.shards
        ],
    }


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

    Example:

    >>> finalize("tfrecords/demo").files["summary"]  # doctest: +SKIP
    'summary.md'
    """
    out_dir = pathlib.Path(out_dir)
    plan = _read_plan(out_dir)
    tracks = _collect_tracks(out_dir, plan)
    files: dict[str, str] = {}
    _write_manifest(out_dir, tracks.manifest, files)
    _write_frame_logits(out_dir, tracks, files)
    dominant = _dominant_counts(tracks)
    plot_dominant(out_dir / "figure4_dominant_emotions.png", dominant)
    files["figure4"] = "figure4_dominant_emotions.png"

    table = _split_counts(tracks.manifest)
    processing_skips = collections.defaultdict(list)
    for track_id, reason, detail in tracks.skipped:
        processing_skips[reason].append(f"{track_id}: {detail}")
    markdown = summary_markdown(plan, table, dominant, processing_skips, tracks.notes)
    write_atomic(out_dir / "summary.md", markdown.encode("utf-8"))
    files["summary"] = "summary.md"
    report = _build_report(plan, table, dominant, processing_skips, tracks.notes)
    write_atomic(out_dir / "build_report.json", json.dumps(report, indent=2).encode("utf-8"))
    files["report"] = "build_report.json"
    logger.info(
        "finalised %s: %d tracks in %d shard files",
        out_dir,
        len(tracks.manifest),
        len(plan.shards),
    )
    return FinalSummary(counts=table, dominant=dominant, markdown=markdown, files=files)
