"""Loading a saved ``.keras`` model with errors that say what is wrong with the file.

`keras.saving.load_model` reports a damaged or foreign file in many ways: "File not found" for a
file that exists but is not a zip archive, a raw ``AttributeError`` for an odd ``dtype`` object in
the config, a ``TypeError`` for a class it cannot locate. `load_keras_model` makes the cheap checks
first (the file, its suffix, a zip), loads it in safe mode (so a ``Lambda`` layer's code is never
run), and only when loading fails reads the whole archive (`check_keras_archive`: member CRCs,
``config.json``) to turn the failure into one `ModelFileError` that names the file and the
problem. A good file is read once.

Example:

>>> load_keras_model("README.md")  # doctest: +SKIP
Traceback (most recent call last):
...
ModelFileError: 'README.md' is not a .keras model file (expected the .keras suffix) ...
"""

from __future__ import annotations

import json
import os
import pathlib
import zipfile

KERAS_CONFIG = "config.json"
"""The member of a ``.keras`` archive that describes the model."""


class ModelFileError(ValueError):
    """A model file exists but cannot be used: not a ``.keras`` archive, damaged, or foreign."""


def _describe(path: pathlib.Path) -> str:
    return repr(str(path))


def _check_is_zip(path: pathlib.Path) -> None:
    """The cheap checks: the file exists, has the .keras suffix and is a zip archive."""
    if not path.is_file():
        raise FileNotFoundError(f"No model file at {_describe(path)}.")
    if path.suffix != ".keras":
        raise ModelFileError(
            f"{_describe(path)} is not a .keras model file (expected the .keras suffix); save "
            "models with model.save('name.keras')."
        )
    if not zipfile.is_zipfile(path):
        raise ModelFileError(
            f"{_describe(path)} is not a .keras archive: it is not a zip file "
            f"({path.stat().st_size} bytes). It may be truncated or another format; save it "
            "again with model.save('name.keras')."
        )


def check_keras_archive(path: str | os.PathLike) -> dict:
    """Checks that `path` is a whole ``.keras`` archive and returns its model config.

    Args:
        path: the ``.keras`` file.

    Returns:
        The parsed ``config.json`` (a dict with ``class_name`` and ``config``).

    Raises:
        FileNotFoundError: if `path` does not exist.
        ModelFileError: naming what is wrong (suffix, not a zip, a member failing its CRC, no or
            unreadable ``config.json``).
    """
    path = pathlib.Path(path)
    _check_is_zip(path)
    try:
        with zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()
            if damaged is not None:
                raise ModelFileError(
                    f"{_describe(path)} is damaged: its member {damaged!r} fails its CRC check. "
                    "Copy the file again or save the model again."
                )
            if KERAS_CONFIG not in archive.namelist():
                raise ModelFileError(
                    f"{_describe(path)} is a zip file without {KERAS_CONFIG}: not a Keras 3 "
                    ".keras model."
                )
            config = json.loads(archive.read(KERAS_CONFIG))
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise ModelFileError(f"{_describe(path)} is a damaged zip archive ({err}).") from None
    except json.JSONDecodeError as err:
        raise ModelFileError(f"{_describe(path)} has an unreadable {KERAS_CONFIG} ({err}).") from None
    if not isinstance(config, dict) or "class_name" not in config:
        raise ModelFileError(f"{_describe(path)}: {KERAS_CONFIG} does not describe a Keras model.")
    return config


def _register_kerasemo_classes() -> None:
    import kerasemo.audio.frontend  # noqa: F401  (registers the front-end layers)
    import kerasemo.models  # noqa: F401  (student, teacher, distiller, probe)


def load_keras_model(path: str | os.PathLike, *, expected: type | tuple | None = None, what: str = "model"):
    """Loads a ``.keras`` file (safe mode, kerasemo's classes registered) or says why it cannot.

    Args:
        path: the ``.keras`` file.
        expected: a class (or tuple of classes) the loaded model must be an instance of.
        what: how to name the model in messages (``"student"``, ``"teacher"``, ...).

    Returns:
        The loaded Keras model (not compiled).

    Raises:
        FileNotFoundError: if `path` does not exist.
        ModelFileError: for a file that is not a whole ``.keras`` archive, holds a class
            kerasemo does not know, is refused by safe mode (a ``Lambda`` layer), fails to
            deserialize for any other reason, or is not an `expected` model.
    """
    import keras

    path = pathlib.Path(path)
    _check_is_zip(path)
    _register_kerasemo_classes()
    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as err:  # Keras raises many types for a bad config; each becomes one line
        # Only now read the whole archive (member CRCs, config.json), to say what is wrong.
        config = check_keras_archive(path)
        raise ModelFileError(_load_failure(path, config, err, what)) from None
    if expected is not None and not isinstance(model, expected):
        names = " or ".join(
            c.__name__ for c in (expected if isinstance(expected, tuple) else (expected,))
        )
        raise ModelFileError(
            f"{_describe(path)} holds a {type(model).__name__}, not a {names}; pass the {what} "
            "that kerasemo saved."
        )
    return model


def _load_failure(path: pathlib.Path, config: dict, err: Exception, what: str) -> str:
    text = " ".join(str(err).split())
    if len(text) > 300:
        text = text[:300] + "..."
    if "safe_mode" in text or "Lambda" in text:
        return (
            f"{_describe(path)} was refused in safe mode: it holds code (a Lambda layer or a "
            f"Python function) that loading would run. kerasemo {what}s have none; if you trust "
            f"the file, load it yourself with keras.saving.load_model(..., safe_mode=False). ({text})"
        )
    if "Could not locate" in text or "Unknown" in text or "not a KerasSaveable" in text:
        return (
            f"{_describe(path)} holds a class kerasemo does not know "
            f"(top level: {config.get('class_name')!r}, module {config.get('module')!r}); it "
            f"is not a kerasemo {what}, or it needs code that is not imported. ({text})"
        )
    return (
        f"{_describe(path)} could not be loaded as a kerasemo {what} "
        f"({type(err).__name__}: {text}). Its config may be from another version or edited; "
        "save the model again."
    )
