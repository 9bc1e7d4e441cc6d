"""The probe's feature cache: one ``.npz`` per feature set, keyed by everything it depends on.

Embeddings are cached (``.npz`` in ``cache_dir``) under a key hashing the model file's bytes (or
weights and config), the dataset name and root, and each clip's relative path, size and
modification time, plus the extraction settings; a second run with the same inputs loads them.

Example:

>>> key = cache_key("student-v1", "model-sha", "rml", "/data/rml", [["s1/an1.avi", 10, 0]])
>>> len(key)
64
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import pathlib
from collections.abc import Callable, Sequence

import numpy as np

logger = logging.getLogger(__name__)

DEFAULT_CACHE_DIR = pathlib.Path("runs") / "cache"
"""Project-local default of the entry point's ``--cache-dir`` (relative to the working folder)."""


@dataclasses.dataclass
class FeatureSet:
    """Per-clip features of one method.

    Args:
        features: `[N, D]` float32 (rows of invalid clips are zeros).
        valid: `[N]` bool: the clip has features.
        errors: `{clip index: message}` for clips that failed.
        from_cache: whether the features were loaded from the cache.
        seconds: time spent computing (0 when cached).

    Example:

    >>> FeatureSet(np.zeros((2, 8), np.float32), np.array([True, False]), {1: "bad wav"}).valid.sum()
    np.int64(1)
    """

    features: np.ndarray
    valid: np.ndarray
    errors: dict[int, str]
    from_cache: bool = False
    seconds: float = 0.0


def files_fingerprint(paths: Sequence[str | None], root: str | os.PathLike) -> list:
    """(path relative to root, size, mtime_ns) of each file (None entries stay None).

    Args:
        paths: the files (None for a clip without that file, e.g. no video).
        root: the dataset folder the relative paths are taken from.

    Example:

    >>> files_fingerprint([None], "/data")
    [None]
    """
    root = pathlib.Path(root)
    entries = []
    for path in paths:
        if path is None:
            entries.append(None)
            continue
        stat = os.stat(path)
        try:
            relative = pathlib.Path(path).resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            relative = str(pathlib.Path(path).resolve())
        entries.append([relative, stat.st_size, stat.st_mtime_ns])
    return entries


def cache_key(*parts) -> str:
    """SHA-256 of the JSON of `parts` (what identifies a cached feature set).

    Example:

    >>> cache_key("a", 1) == cache_key("a", 1) != cache_key("a", 2)
    True
    """
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def cache_path(cache_dir: str | os.PathLike, kind: str, dataset: str, key: str) -> pathlib.Path:
    """The file that holds one feature set: ``<cache_dir>/<kind>-<dataset>-<key[:20]>.npz``.

    Example:

    >>> cache_path("runs/cache", "student", "rml", "0123456789abcdef0123456789").name
    'student-rml-0123456789abcdef0123.npz'
    """
    return pathlib.Path(cache_dir) / f"{kind}-{dataset}-{key[:20]}.npz"


def _load(path: pathlib.Path, key: str, kind: str) -> FeatureSet | None:
    try:
        with np.load(path, allow_pickle=False) as stored:
            if str(stored["key"]) != key:
                return None
            errors = json.loads(str(stored["errors"]))
            logger.info("%s features: loaded from cache %s", kind, path)
            return FeatureSet(
                stored["features"].astype(np.float32),
                stored["valid"].astype(bool),
                {int(k): v for k, v in errors.items()},
                from_cache=True,
            )
    except (OSError, ValueError, KeyError) as err:
        logger.warning("Ignoring unreadable cache file %s (%s); recomputing.", path, err)
        return None


def cached_features(
    cache_dir: str | os.PathLike | None,
    kind: str,
    dataset: str,
    key: str,
    compute: Callable[[], FeatureSet],
) -> FeatureSet:
    """Loads a `FeatureSet` from the cache (`cache_path`) or computes and stores it.

    Args:
        cache_dir: cache folder (created), or None to always compute.
        kind: ``"student"``, ``"teacher"`` or ``"acoustic"``.
        dataset: the dataset's name.
        key: `cache_key` of everything the features depend on.
        compute: called on a miss.

    Returns:
        The `FeatureSet` (``from_cache`` tells which happened).

    Example:

    >>> import tempfile
    >>> compute = lambda: FeatureSet(np.ones((1, 2), np.float32), np.array([True]), {})
    >>> folder = tempfile.mkdtemp()
    >>> [cached_features(folder, "student", "rml", "k" * 64, compute).from_cache for _ in range(2)]
    [False, True]
    """
    if cache_dir is None:
        return compute()
    path = cache_path(cache_dir, kind, dataset, key)
    if path.exists():
        stored = _load(path, key, kind)
        if stored is not None:
            return stored
    result = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.stem + ".tmp.npz")
    np.savez(
        temporary,
        key=np.asarray(key),
        features=result.features.astype(np.float32),
        valid=result.valid,
        errors=np.asarray(json.dumps({str(k): v for k, v in result.errors.items()})),
    )
    os.replace(temporary, path)
    logger.info("%s features: cached in %s", kind, path)
    return result
