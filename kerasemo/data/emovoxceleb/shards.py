"""Shard files: one serialized example per track, written whole or not at all.

`serialize_track` makes a labelled track's example (`kerasemo.data.schema.make_example`, the
only writer of examples) and `track_record` its sidecar entry; `ShardFile` writes a planned
shard: examples into ``<name>.tmp``, then the sidecar (with the shard's record count and
SHA-256), then the rename that makes the shard finished. So a file with a finished shard's
name is always complete, and a rerun rebuilds whatever is not.

Example:

>>> shard = ShardFile(out_dir, "train-00000-of-00001.tfrecord")  # doctest: +SKIP
>>> shard.open()  # doctest: +SKIP
>>> shard.add(serialize_track(prepared), track_record(prepared, root))  # doctest: +SKIP
>>> shard.finish()  # doctest: +SKIP
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import os
import pathlib

import numpy as np

from kerasemo.data.emovoxceleb.files import TMP_SUFFIX, relative_to
from kerasemo.fingerprints import file_sha256
from kerasemo.data.emovoxceleb.options import SAMPLE_RATE
from kerasemo.data.emovoxceleb.prepare import PreparedTrack
from kerasemo.data.emovoxceleb.sidecars import write_sidecar

logger = logging.getLogger(__name__)


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
    """The serialized example of a labelled track (`kerasemo.data.schema.make_example`).

    Args:
        prepared: a `PreparedTrack` with its logits and frame times.

    Returns:
        The example's bytes, the same in every process (deterministic serialisation).
    """
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
    """The sidecar entry of a labelled track; audio paths are kept relative to `root`.

    Args:
        prepared: a `PreparedTrack` with its logits and frame times.
        root: the corpus root.
    """
    track = prepared.track
    return TrackRecord(
        row={
            "track_id": track.track_id,
            "identity": track.identity,
            "video": track.video,
            "track": track.track,
            "split": prepared.split,
            "audio_path": relative_to(track.audio_path, root),
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
        write_sidecar(
            self.out_dir,
            self.name,
            rows=self.rows,
            logits=self.logits,
            frame_times=self.times,
            skipped=self.skipped,
            notes=self.notes,
            num_records=len(self.rows),
            shard_sha256=file_sha256(self.tmp),
        )
        os.replace(self.tmp, self.final)
        logger.info(
            "finished %s: %d tracks (%d skipped)", self.name, len(self.rows), len(self.skipped)
        )
