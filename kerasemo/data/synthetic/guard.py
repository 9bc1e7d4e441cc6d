"""Keeps training code away from the synthetic corpus's ground truth.

The corpus writes the latent emotions it was built from into ``<corpus>/ground_truth/``
(`GROUND_TRUTH_DIRNAME`). Only evaluation may read them: a model that saw them during training
would prove nothing. `forbid_ground_truth` makes any attempt to open or list files below that
folder raise `GroundTruthAccessError`, so a test can run a training-side reader over the corpus
and show that it never touches the answers.

What is intercepted while the guard is active:

- every Python-level open and directory listing (``open``, ``io.open``, ``os.open``,
  ``pathlib.Path.open/read_*``, ``os.listdir``, ``os.scandir``, ``os.walk``, ``glob``; hence
  pandas, NumPy, Pillow, csv, json, ...), through a `sys.addaudithook` hook;
- the two native decoders the project uses, which open files in C: ``soundfile.SoundFile``
  (``soundfile.read``/``info``) and ``av.open`` (PyAV/FFmpeg), by wrapping them.

Not intercepted: other native readers (e.g. TensorFlow's own file ops). The training pipeline
reads TFRecords that Python-level builders wrote from the corpus, so guarding the builders
guards what reaches TensorFlow.

The audit hook is installed the first time a guard is entered and stays (Python cannot remove
audit hooks); with no active guard it returns immediately.

Example:

>>> import tempfile, pathlib
>>> corpus = pathlib.Path(tempfile.mkdtemp())
>>> (corpus / GROUND_TRUTH_DIRNAME).mkdir()
>>> (corpus / GROUND_TRUTH_DIRNAME / "faces.csv").write_text("row,emotion\\n")
12
>>> with forbid_ground_truth(corpus):
...     try:
...         open(corpus / GROUND_TRUTH_DIRNAME / "faces.csv")
...     except GroundTruthAccessError as err:
...         print("blocked")
blocked
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import threading
from collections.abc import Iterator

GROUND_TRUTH_DIRNAME = "ground_truth"
"""Name of the ground-truth folder inside a synthetic corpus."""

_AUDITED_EVENTS = frozenset({"open", "os.listdir", "os.scandir", "glob.glob", "shutil.copyfile"})

_lock = threading.Lock()
_forbidden: list[str] = []  # absolute, normalised folder paths; empty = no guard active
_hook_installed = False
_restore: list = []  # (owner, name, original) of the wrapped native openers


class GroundTruthAccessError(PermissionError):
    """Raised when code opens or lists a corpus's ground truth while a guard is active."""


def _normalise(path) -> str | None:
    if isinstance(path, int) or path is None:
        return None
    try:
        path = os.fspath(path)
    except TypeError:
        return None
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    return os.path.normcase(os.path.abspath(path))


def _check(path, operation: str) -> None:
    roots = _forbidden
    if not roots:
        return
    normalised = _normalise(path)
    if normalised is None:
        return
    for root in roots:
        if normalised == root or normalised.startswith(root + os.sep):
            raise GroundTruthAccessError(
                f"{operation} '{path}' is forbidden: it is inside the synthetic corpus's ground "
                f"truth ('{root}'), which only evaluation code may read. Training and dataset "
                "readers must use the corpus's dataset folders (ferplus/, voxceleb/, rml/, "
                f"cremad/) and never '{GROUND_TRUTH_DIRNAME}/'."
            )


def _audit_hook(event: str, args) -> None:
    if _forbidden and event in _AUDITED_EVENTS and args:
        _check(args[0], event)


def _install_hook() -> None:
    global _hook_installed
    if not _hook_installed:
        sys.addaudithook(_audit_hook)
        _hook_installed = True


def _wrap(owner, name: str, path_of):
    original = getattr(owner, name)

    @functools.wraps(original)
    def guarded(*args, **kwargs):
        _check(path_of(args, kwargs), f"{owner.__name__}.{name}")
        return original(*args, **kwargs)

    setattr(owner, name, guarded)
    return original


def _first_argument(names):
    def path_of(args, kwargs):
        if args:
            return args[0]
        for key in names:
            if key in kwargs:
                return kwargs[key]
        return None

    return path_of


@contextlib.contextmanager
def forbid_ground_truth(corpus_dir) -> Iterator[str]:
    """Forbids opening or listing ``<corpus_dir>/ground_truth`` inside the ``with`` block.

    Guards nest (each adds its folder) and are process-wide while active (all threads).

    Args:
        corpus_dir: a synthetic corpus root (the folder holding ``ground_truth/``).

    Yields:
        The absolute path of the forbidden folder.

    Raises:
        GroundTruthAccessError: inside the block, from any intercepted open or listing of the
            forbidden folder.

    Example:

    >>> with forbid_ground_truth("data/synthetic") as forbidden:  # doctest: +SKIP
    ...     train_reader("data/synthetic/ferplus")
    """
    root = _normalise(os.path.join(os.fspath(corpus_dir), GROUND_TRUTH_DIRNAME))
    with _lock:
        _install_hook()
        first = not _forbidden
        _forbidden.append(root)
        if first:
            import av
            import soundfile

            # SoundFile's first positional argument is the file; av.open's is `file`.
            sound_path = lambda a, k: a[1] if len(a) > 1 else k.get("file")  # noqa: E731
            original = _wrap(soundfile.SoundFile, "__init__", sound_path)
            _restore.append((soundfile.SoundFile, "__init__", original))
            _restore.append((av, "open", _wrap(av, "open", _first_argument(("file",)))))
    try:
        yield root
    finally:
        with _lock:
            _forbidden.remove(root)
            if not _forbidden:
                while _restore:
                    owner, name, original = _restore.pop()
                    setattr(owner, name, original)
