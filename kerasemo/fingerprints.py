"""Fingerprints: the SHA-256 of a file, a folder or an in-memory model.

One owner for the hashes kerasemo records to tell inputs apart: shard sidecars and teacher
labels (`file_sha256`), the probe's feature cache and saved heads, and the model card
(`model_fingerprint`). NumPy only; no framework is imported.

Example:

>>> import pathlib, tempfile
>>> path = pathlib.Path(tempfile.mkdtemp()) / "empty"
>>> _ = path.write_bytes(b"")
>>> file_sha256(path)[:16], model_fingerprint(path)[:16]
('e3b0c44298fc1c14', 'e3b0c44298fc1c14')
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib

import numpy as np

_BLOCK = 1 << 20
"""Bytes read at a time (files are hashed as a stream, whatever their size)."""


def _update_with_file(digest, path: pathlib.Path) -> None:
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_BLOCK), b""):
            digest.update(block)


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a file (or of a folder's files, names and contents, in sorted order).

    Args:
        path: a file or a folder.

    Returns:
        The hex digest.

    Raises:
        FileNotFoundError: if `path` does not exist.

    Example:

    >>> file_sha256(__file__) == file_sha256(pathlib.Path(__file__))
    True
    """
    digest = hashlib.sha256()
    path = pathlib.Path(path)
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode())
        _update_with_file(digest, file)
    return digest.hexdigest()


def model_fingerprint(model) -> str:
    """SHA-256 of a model file's bytes, or of an in-memory model's config and weights.

    Args:
        model: a file path, or a Keras model (anything with ``get_weights``; its
            ``get_config`` is included when it has one).

    Returns:
        The hex digest.

    Example:

    >>> len(model_fingerprint(__file__))
    64
    """
    if isinstance(model, (str, os.PathLike)):
        return file_sha256(model)
    digest = hashlib.sha256()
    digest.update(type(model).__name__.encode())
    try:
        digest.update(json.dumps(model.get_config(), sort_keys=True, default=str).encode())
    except (NotImplementedError, TypeError):
        pass
    for weight in model.get_weights():
        array = np.ascontiguousarray(weight)
        digest.update(str(array.shape).encode())
        digest.update(array.tobytes())
    return digest.hexdigest()
