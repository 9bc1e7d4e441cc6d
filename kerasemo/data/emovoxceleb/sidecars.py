"""Shard sidecars: what a finished shard holds, kept beside it in ``parts/<shard>.npz``.

A sidecar stores, per written track, the manifest columns (ids, split, relative audio path,
number of samples) and its frame logits and times; the planned tracks that could not be
processed (with why); counts of observations (notes); and, to check the shard later, its
number of records and the SHA-256 of the shard file (`kerasemo.data.shard_integrity`).
Finalisation reads only the sidecars, never the shards.

Example:

>>> import pathlib, tempfile
>>> out = pathlib.Path(tempfile.mkdtemp())
>>> write_sidecar(out, "train-00000-of-00001.tfrecord", rows=[], logits=[], frame_times=[],
...               skipped=[("id1/v/00001", "audio could not be decoded", "empty file")],
...               notes={}, num_records=0, shard_sha256="0" * 64)
>>> sidecar = read_sidecar(out, "train-00000-of-00001.tfrecord")
>>> sidecar.num_records, sidecar.skipped
(0, [('id1/v/00001', 'audio could not be decoded', 'empty file')])
"""

from __future__ import annotations

import dataclasses
import io
import json
import pathlib
from collections.abc import Mapping, Sequence

import numpy as np

from kerasemo import emotions
from kerasemo.data.emovoxceleb.files import sidecar_path, write_atomic

ROW_COLUMNS = ("track_id", "identity", "video", "track", "split", "audio_path")
"""The text columns a sidecar keeps per track (``num_samples`` is kept as integers)."""


@dataclasses.dataclass
class Sidecar:
    """One shard's sidecar, read back (`read_sidecar`).

    Attributes:
        rows: per written track, `ROW_COLUMNS` and ``num_samples``.
        logits: float32 ``[F_i, 8]`` frame logits per written track.
        frame_times: float32 ``[F_i]`` frame times per written track.
        skipped: ``(track_id, reason, detail)`` of the planned tracks not written.
        notes: ``{observation: count}``.
        num_records: records in the shard file (None in sidecars written before it was kept).
        shard_sha256: SHA-256 of the shard file (None in sidecars written before it was kept).
    """

    rows: list[dict]
    logits: list[np.ndarray]
    frame_times: list[np.ndarray]
    skipped: list[tuple[str, str, str]]
    notes: dict[str, int]
    num_records: int | None = None
    shard_sha256: str | None = None


def write_sidecar(
    out_dir: pathlib.Path,
    shard_name: str,
    *,
    rows: Sequence[Mapping],
    logits: Sequence[np.ndarray],
    frame_times: Sequence[np.ndarray],
    skipped: Sequence[tuple[str, str, str]],
    notes: Mapping[str, int],
    num_records: int,
    shard_sha256: str,
) -> None:
    """Writes a shard's sidecar atomically (`kerasemo.data.emovoxceleb.sidecar_path`).

    Args:
        out_dir: the build folder.
        shard_name: the shard's file name.
        rows: per written track, `ROW_COLUMNS` and ``num_samples``.
        logits: float32 ``[F_i, 8]`` per written track.
        frame_times: float32 ``[F_i]`` per written track.
        skipped: ``(track_id, reason, detail)`` per planned track not written.
        notes: ``{observation: count}``.
        num_records: records written to the shard file.
        shard_sha256: SHA-256 of the finished shard file's bytes.
    """
    all_logits = (
        np.concatenate(logits) if len(logits) else np.zeros((0, emotions.NUM_CLASSES), np.float32)
    )
    times = np.concatenate(frame_times) if len(frame_times) else np.zeros(0, np.float32)
    columns = {key: np.asarray([r[key] for r in rows], dtype=str) for key in ROW_COLUMNS}
    buffer = io.BytesIO()
    np.savez(
        buffer,
        num_samples=np.asarray([r["num_samples"] for r in rows], np.int64),
        num_logit_frames=np.asarray([x.shape[0] for x in logits], np.int64),
        logits=all_logits.astype(np.float32),
        frame_times=times.astype(np.float32),
        skipped=np.asarray([list(s) for s in skipped], dtype=str).reshape(-1, 3),
        notes=np.asarray(json.dumps(dict(notes), sort_keys=True)),
        num_records=np.asarray(num_records, np.int64),
        shard_sha256=np.asarray(shard_sha256),
        **columns,
    )
    path = sidecar_path(out_dir, shard_name)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, buffer.getvalue())


def read_sidecar(out_dir: pathlib.Path, shard_name: str) -> Sidecar:
    """Reads a shard's sidecar written by `write_sidecar`.

    Args:
        out_dir: the build folder.
        shard_name: the shard's file name.

    Returns:
        The `Sidecar`.

    Raises:
        FileNotFoundError: if the shard has no sidecar.
    """
    with np.load(sidecar_path(out_dir, shard_name), allow_pickle=False) as data:
        count = data["track_id"].shape[0]
        offsets = np.concatenate([[0], np.cumsum(data["num_logit_frames"])]).astype(np.int64)
        rows = [
            {
                **{key: str(data[key][i]) for key in ROW_COLUMNS},
                "num_samples": int(data["num_samples"][i]),
            }
            for i in range(count)
        ]
        logits, times = data["logits"], data["frame_times"]
        return Sidecar(
            rows=rows,
            logits=[
                np.asarray(logits[offsets[i] : offsets[i + 1]], np.float32) for i in range(count)
            ],
            frame_times=[
                np.asarray(times[offsets[i] : offsets[i + 1]], np.float32) for i in range(count)
            ],
            skipped=[tuple(str(v) for v in row) for row in data["skipped"]],
            notes=json.loads(str(data["notes"])),
            num_records=int(data["num_records"]) if "num_records" in data else None,
            shard_sha256=str(data["shard_sha256"]) if "shard_sha256" in data else None,
        )


def read_recorded_integrity(
    out_dir: pathlib.Path, shard_name: str
) -> tuple[int | None, str | None]:
    """``(num_records, shard_sha256)`` a shard's sidecar recorded, reading nothing else.

    Both are None in sidecars written before they were kept.

    Args:
        out_dir: the build folder.
        shard_name: the shard's file name.

    Raises:
        FileNotFoundError: if the shard has no sidecar.
    """
    with np.load(sidecar_path(out_dir, shard_name), allow_pickle=False) as data:
        count = int(data["num_records"]) if "num_records" in data else None
        digest = str(data["shard_sha256"]) if "shard_sha256" in data else None
    return count, digest
