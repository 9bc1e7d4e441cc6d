"""Packages whose public names load on first use (PEP 562), so that importing them stays cheap.

A package whose modules pull in Keras, TensorFlow or scikit-learn lists where each of its public
names lives and lets `lazy_exports` write its module ``__getattr__`` and ``__dir__``; importing
the package, or one of its light modules, then loads none of them::

    _HOMES = {"load_audio": ".decode", "VGGVoxSpectrogram": ".frontend"}
    __all__ = sorted(_HOMES)
    __getattr__, __dir__ = lazy_exports(__name__, _HOMES)

Example:

>>> import kerasemo.audio
>>> "VGGVoxSpectrogram" in dir(kerasemo.audio)
True
>>> kerasemo.audio.no_such_name
Traceback (most recent call last):
...
AttributeError: module 'kerasemo.audio' has no attribute 'no_such_name'
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping


def lazy_exports(
    package: str, homes: Mapping[str, str]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of a package that loads its names on first use.

    A name is imported from its module when it is first asked for and then kept in the
    package's namespace, so later lookups are ordinary attribute reads. The package's own
    modules that hold a name (``".folds"``) are loaded on first use too, as attributes
    (``probing.folds``), the way an eager ``from .folds import ...`` would have left them.

    Args:
        package: the package's ``__name__``.
        homes: ``{public name: module}``, the module relative to the package with a leading dot
            (``".decode"``) or absolute (``"kerasemo.models.probe_head"``).

    Returns:
        ``(__getattr__, __dir__)`` for the package's namespace.

    Example:

    >>> getattr_, dir_ = lazy_exports("kerasemo.audio", {"num_frames": ".reference"})
    >>> getattr_("num_frames")(16000), "reference" in dir_()
    (98, True)
    """
    submodules = frozenset(home[1:] for home in homes.values() if home.startswith("."))

    def __getattr__(name: str):
        if name in homes:
            value = getattr(importlib.import_module(homes[name], package), name)
            setattr(sys.modules[package], name, value)
            return value
        if name in submodules:
            return importlib.import_module(f".{name}", package)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(homes) | submodules)

    return __getattr__, __dir__
