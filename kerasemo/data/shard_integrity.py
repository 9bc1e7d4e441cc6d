"""Shard integrity: check built shards before training reads them, and say how to repair one.

`verify_shards` reads every shard file of the chosen splits once with `tf.data` (which checks
each record's CRCs, so a flipped byte or a truncated file fails), counts its records, and, for
shards written by `kerasemo.data.emovoxceleb` (whose sidecars keep the record count and the
file's SHA-256), compares the count and the digest. The first problem raises one
`ShardIntegrityError` whose one-line message names the file, what is wrong and the command
that rebuilds that shard alone (the builder's ``--num-shards <planned shards> --shard-index
<the shard's index in plan.json>``, after deleting the shard and its sidecar).

Shards without a sidecar (written by other tools) get the CRC check only, which misses a file
cut short at a record boundary (`tf.data` reads a partial last record as the end of the file);
the record count of a sidecar catches that.

Example:

>>> from kerasemo.data.shard_integrity import verify_shards
>>> verify_shards("tfrecords/demo", splits=["train"])  # doctest: +SKIP
{'train-00000-of-00002.tfrecord': 251, 'train-00001-of-00002.tfrecord': 250}
"""

from __future__ import annotations

import os
import pathlib
import shlex
from collections.abc import Iterable

from kerasemo.data import emovoxceleb, schema

BUILDER = "python -m kerasemo.experiments.build_emovoxceleb"
"""The command that builds (and rebuilds) EmoVoxCeleb shards."""


class ShardIntegrityError(ValueError):
    """A shard file is missing, unreadable, or not the file its build wrote.

    Attributes:
        path: the shard file.
    """

    def __init__(self, message: str, path: pathlib.Path):
        super().__init__(message)
        self.path = path


def _rebuild_hint(data_dir: pathlib.Path, plan, name: str) -> str:
    """What to do about one bad shard: delete it and its sidecar, then rebuild it alone."""
    sidecar = emovoxceleb.sidecar_path(data_dir, name)
    if plan is None:
        return f"rebuild the shards: {BUILDER} ... --out {shlex.quote(str(data_dir))}"
    index = [s.name for s in plan.shards].index(name)
    fingerprint, info = plan.fingerprint, plan.info
    labels = (
        "--teacher TEACHER" if fingerprint["labeller"]["kind"] == "teacher" else "--logits LOGITS"
    )
    flags = [
        f"--root {shlex.quote(str(info['root']))}",
        f"--layout {info['layout']}",
        labels,
        f"--out {shlex.quote(str(data_dir))}",
        f"--config {shlex.quote(str(data_dir / 'config.toml'))}",
        f"--audio {fingerprint['audio']}",
        f"--shard-mb {fingerprint['shard_mb']}",
        f"--splits {fingerprint['split_source']}",
        f"--context-margin {fingerprint['context_margin']}",
        f"--border {fingerprint['border']}",
        f"--video-crop {fingerprint['video_crop']}",
        f"--jpeg-center-crop {fingerprint['jpeg_center_crop']}",
    ]
    if fingerprint.get("batch_size") is not None:
        flags.append(f"--batch-size {fingerprint['batch_size']}")
    flags.append(f"--num-shards {len(plan.shards)} --shard-index {index}")
    return (
        f"delete it and {sidecar}, then rebuild that shard (the teacher or logits file it was "
        f"built with): {BUILDER} {' '.join(flags)}"
    )


def _count_records(path: pathlib.Path) -> int:
    """Records in a TFRecord file, read once with `tf.data` (every record's CRCs checked)."""
    import tensorflow as tf

    count = 0
    for _ in tf.data.TFRecordDataset(str(path)):
        count += 1
    return count


def _check(data_dir: pathlib.Path, name: str) -> tuple[int, str | None]:
    """``(records, what is wrong)`` of one shard file (None when nothing is)."""
    import tensorflow as tf

    path = data_dir / name
    if not path.is_file():
        return 0, "the planned shard file is missing"
    try:
        count = _count_records(path)
    except tf.errors.DataLossError as err:
        reason = str(err).splitlines()[0] if str(err) else "unreadable record"
        return 0, f"a record is corrupt or the file is truncated ({reason})"
    try:
        expected, digest = emovoxceleb.read_recorded_integrity(data_dir, name)
    except FileNotFoundError:
        return count, None  # not written by the EmoVoxCeleb builder: the CRCs are all there is
    if expected is not None and count < expected:
        return count, (
            f"only {count} of the {expected} records its build wrote are readable (the file is "
            "truncated)"
        )
    if expected is not None and count > expected:
        return count, f"it holds {count} records but its build wrote {expected}"
    # The digest the shard writer recorded, computed the same way (one function for both).
    if digest is not None and emovoxceleb.file_sha256(path) != digest:
        return count, "its SHA-256 differs from the one its build recorded (the file changed)"
    return count, None


def _shard_names(data_dir: pathlib.Path, plan, splits: Iterable[str]) -> list[str]:
    if plan is not None:
        return [s.name for s in plan.shards if s.split in splits]
    return sorted(p.name for split in splits for p in data_dir.glob(f"{split}-*-of-*.tfrecord"))


def verify_shards(
    data_dir: str | os.PathLike, splits: Iterable[str] | None = None
) -> dict[str, int]:
    """Checks every shard file of `splits` in `data_dir`; raises on the first bad one.

    For each shard: every record is read with `tf.data` (record CRCs), and where the shard's
    sidecar (``parts/<shard>.npz``) keeps them, the record count and the file's SHA-256 are
    compared with what the build wrote. With a ``plan.json``, every planned shard of the
    splits must exist.

    Args:
        data_dir: a folder of shards (an EmoVoxCeleb build folder, or any folder of
            ``<split>-<index>-of-<count>.tfrecord`` files).
        splits: the splits to check (default: all of `kerasemo.data.schema.SPLITS`).

    Returns:
        ``{shard file name: number of records}`` of the shards checked.

    Raises:
        FileNotFoundError: if `data_dir` is not a folder or holds no shard of `splits`.
        ValueError: for an unknown split name.
        ShardIntegrityError: for a missing, corrupt, truncated or changed shard; the message
            names the file, the problem and the command that rebuilds that shard.

    Example:

    >>> import tempfile
    >>> verify_shards(tempfile.mkdtemp())
    Traceback (most recent call last):
    ...
    FileNotFoundError: No shard files of splits ['train', 'heard_val', 'unheard_val'] in ...
    """
    data_dir = pathlib.Path(data_dir)
    splits = list(schema.SPLITS if splits is None else splits)
    unknown = [s for s in splits if s not in schema.SPLITS]
    if unknown:
        raise ValueError(f"Unknown splits {unknown}; expected some of {list(schema.SPLITS)}.")
    if not data_dir.is_dir():
        raise FileNotFoundError(f"Shard folder not found: '{data_dir}'.")
    plan_path = data_dir / emovoxceleb.PLAN_FILE
    plan = (
        emovoxceleb.BuildPlan.from_json(plan_path.read_text(encoding="utf-8"))
        if plan_path.is_file()
        else None
    )
    names = _shard_names(data_dir, plan, splits)
    if not names:
        raise FileNotFoundError(
            f"No shard files of splits {splits} in '{data_dir}' (expected "
            "<split>-<index>-of-<count>.tfrecord files)."
        )
    counts = {}
    for name in names:
        counts[name], problem = _check(data_dir, name)
        if problem is not None:
            path = data_dir / name
            raise ShardIntegrityError(
                f"{path}: {problem}; {_rebuild_hint(data_dir, plan, name)}", path
            )
    return counts
