"""Loading a trained student and preparing it for export: float32, and the time axis wanted.

A student trained under mixed precision is rebuilt in float32 (`to_float32`): a float16 graph
does not convert to TFLite, and float32 is what both runtimes execute fastest on CPU. A student
built with a fixed time axis is rebuilt for the length an exported graph needs
(`with_input_frames`); the weights are copied either way.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pathlib
from typing import Any

import numpy as np

from kerasemo.export.contract import ExportError

logger = logging.getLogger("kerasemo.export")


def load_student(path: str | os.PathLike) -> Any:
    """Loads a `VGGMStudent` saved as ``.keras`` (what the distill stage writes).

    Args:
        path: the ``.keras`` file.

    Returns:
        The `VGGMStudent` (with whatever dtype policy the current global policy gives it).

    Raises:
        FileNotFoundError: if `path` does not exist.
        ExportError: if the file is not a loadable ``.keras`` model or not a `VGGMStudent`.

    Example:

    >>> student = load_student("runs/distill/student.keras")  # doctest: +SKIP
    """
    from kerasemo.models import VGGMStudent
    from kerasemo.models.loading import ModelFileError, load_keras_model

    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"No student model at '{path}'. Train one with "
            "`python -m kerasemo.experiments.distill` (it writes <run dir>/student.keras) and pass "
            "that file."
        )
    if path.suffix != ".keras":
        raise ExportError(
            f"'{path}' is not a .keras file; export takes the student saved by the distill stage "
            "(student.keras)."
        )
    try:
        return load_keras_model(path, expected=VGGMStudent, what="student")
    except ModelFileError as err:
        raise ExportError(
            f"{err} Export takes the student the distill stage saves (student.keras)."
        ) from None


@contextlib.contextmanager
def float32_policy():
    """Sets the global Keras dtype policy to float32 inside the block, then restores it.

    Models built inside get float32 everywhere, including the policy of the model object and
    its input layer, which otherwise follow the global policy.
    """
    import keras

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32")
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def uses_mixed_precision(model: Any) -> bool:
    """True if any layer of `model` computes or stores variables in a dtype other than float32.

    Example:

    >>> uses_mixed_precision(VGGMStudent(dtype="mixed_float16"))  # doctest: +SKIP
    True
    """
    policies = [model.dtype_policy] + [layer.dtype_policy for layer in model.layers]
    return any(
        p.compute_dtype != "float32" or p.variable_dtype != "float32" for p in policies
    )


def check_student(student: Any) -> Any:
    """Returns `student` if it is a `VGGMStudent`, else raises `ExportError` saying what it is."""
    from kerasemo.models import VGGMStudent

    if not isinstance(student, VGGMStudent):
        raise ExportError(
            f"Expected a VGGMStudent; received a {type(student).__name__}. Load the distill "
            "stage's student.keras with `load_student`."
        )
    return student


def to_float32(student: Any) -> Any:
    """Returns `student` computing in float32, rebuilding it when its policy is mixed.

    A student built under ``mixed_float16``/``mixed_bfloat16`` (its layers' dtype policies, or an
    explicit ``dtype`` argument) is rebuilt with ``VGGMStudent.from_config({**config, "dtype":
    "float32"})`` and its weights copied (cast to float32; under a mixed policy the variables are
    float32 already, so the copy is exact). A float32 student is returned as it is.

    Args:
        student: a `VGGMStudent`.

    Returns:
        A float32 `VGGMStudent` with the same weights.

    Raises:
        ExportError: if `student` is not a `VGGMStudent`.

    Example:

    >>> keras.config.set_dtype_policy("mixed_float16")  # doctest: +SKIP
    >>> mixed = VGGMStudent()  # doctest: +SKIP
    >>> keras.config.set_dtype_policy("float32")  # doctest: +SKIP
    >>> to_float32(mixed).dtype_policy.name  # doctest: +SKIP
    'float32'
    """
    from kerasemo.models import VGGMStudent

    check_student(student)
    config = student.get_config()
    if not uses_mixed_precision(student) and config.get("dtype") in (None, "float32"):
        return student
    logger.info(
        "Rebuilding the student in float32 (it was built with dtype policy %s) and copying "
        "its weights.",
        student.dtype_policy.name,
    )
    with float32_policy():
        rebuilt = VGGMStudent.from_config({**config, "dtype": "float32"})
    weights = student.get_weights()
    rebuilt.set_weights([np.asarray(w, dtype=np.float32) for w in weights])
    if uses_mixed_precision(rebuilt):  # pragma: no cover - guards a Keras behaviour change
        raise ExportError("The float32 rebuild of the student still has a mixed dtype policy.")
    return rebuilt


def with_input_frames(student: Any, frames: int | None) -> Any:
    """Returns `student` with a time axis of `frames` (None: any length), weights copied.

    A student built for fixed crops (``input_frames=N``) cannot run a clip of another length;
    the variable-length exports and the recogniser rebuild it with ``input_frames=None`` (the
    weights do not depend on the time axis: apool6 averages over it). A student that already
    has the time axis asked for is returned as it is.

    Args:
        student: a `VGGMStudent`.
        frames: the fixed number of frames wanted, or None for any length.

    Returns:
        A `VGGMStudent` with ``input_frames == frames`` and the same weights and dtype policy.

    Example:

    >>> fixed = VGGMStudent(input_bins=257, mirror_input=True, input_frames=300)  # doctest: +SKIP
    >>> with_input_frames(fixed, None).input_frames is None  # doctest: +SKIP
    True
    """
    from kerasemo.models import VGGMStudent

    if student.input_frames == frames:
        return student
    config = {**student.get_config(), "input_frames": frames}
    policy = contextlib.nullcontext() if uses_mixed_precision(student) else float32_policy()
    with policy:
        rebuilt = VGGMStudent.from_config(config)
    rebuilt.set_weights(student.get_weights())
    return rebuilt
