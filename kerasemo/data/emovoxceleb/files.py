"""The build folder's file names, atomic writes, and file digests.

A build folder holds ``plan.json``, the shard files (``<split>-<index>-of-<count>.tfrecord``),
their sidecars (``parts/<shard name>.npz``) and the finalisation's outputs. Every file is
written under a temporary name ending in `TMP_SUFFIX` and renamed when complete, so a file
with a final name is always whole.

Example:

>>> import pathlib
>>> sidecar_path(pathlib.Path("out"), "train-00000-of-00002.tfrecord").as_posix()
'out/parts/train-00000-of-00002.tfrecord.npz'
"""

from __future__ import annotations

import os
import pathlib
import threading

PARTS_DIR = "parts"
"""Subfolder of the shard sidecars."""
PLAN_FILE = "plan.json"
"""The build plan's file name (`kerasemo.data.emovoxceleb.BuildPlan.to_json`)."""
TMP_SUFFIX = ".tmp"
"""Suffix of files still being written."""


def write_atomic(path: pathlib.Path, data: bytes) -> None:
    """Writes `data` to a temporary file beside `path`, syncs it, and renames it to `path`.

    Args:
        path: the final file.
        data: its bytes.

    Example:

    >>> import tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> write_atomic(folder / "a.txt", b"done")
    >>> (folder / "a.txt").read_bytes(), sorted(p.name for p in folder.iterdir())
    (b'done', ['a.txt'])
    """
    path = pathlib.Path(path)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}{TMP_SUFFIX}")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def sidecar_path(out_dir: pathlib.Path, shard_name: str) -> pathlib.Path:
    """``parts/<shard name>.npz``: the sidecar of a shard file (metadata, logits, skips).

    Args:
        out_dir: the build folder.
        shard_name: the shard's file name.
    """
    return pathlib.Path(out_dir) / PARTS_DIR / (shard_name + ".npz")


def is_finished(out_dir: pathlib.Path, shard) -> bool:
    """Whether a planned shard file and its sidecar are both in place (the shard is complete).

    Args:
        out_dir: the build folder.
        shard: a `kerasemo.data.emovoxceleb.ShardPlan` (anything with a ``name``).
    """
    out_dir = pathlib.Path(out_dir)
    return (out_dir / shard.name).is_file() and sidecar_path(out_dir, shard.name).is_file()


def relative_to(path: str, root: str) -> str:
    """`path` relative to `root` (as it is when that is impossible, e.g. another drive).

    Example:

    >>> relative_to("/corpus/wav/id1/v/00001.wav", "/corpus")
    'wav/id1/v/00001.wav'
    """
    try:
        return os.path.relpath(path, root)
    except ValueError:  # pragma: no cover - other drive on Windows
        return path
