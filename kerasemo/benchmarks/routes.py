"""Benchmark section ``routes``: how far the exported formats' utterance answers are from Keras'.

`measure(args)` exports one student into a temporary folder (`kerasemo.export.export_student`:
the SavedModel and the float32 and int8 TFLite models) and compares, clip length by clip
length, each format's `EmotionRecognizer` answer with the ``.keras`` route's
(`kerasemo.inference.agreement.route_agreement`: speech-like clips of each of its
``ROUTE_SECONDS`` and of the TFLite window). Up to one window every route scores a clip in one
pass; beyond it the fixed-window TFLite models average their windows' logits while the
SavedModel still scores the whole clip, so the float32 routes are held to
`kerasemo.export.PARITY_TOLERANCE` where they scored one pass.

The student is ``--student PATH`` when given, else the main job's trained student
(`kerasemo.demo.DEFAULT_STUDENT`) when it exists, else the preset's student at random weights;
the table's ``student`` row says which. With random weights the probabilities are near uniform,
so the argmax agreement, of the int8 model above all, means little.

Example (the main job's student when it is there; a demo-size student at random weights
otherwise):

    python -m kerasemo.benchmarks --only routes --config demo
    python -m kerasemo.benchmarks --only routes --student runs/distill/student.keras
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import pathlib
import tempfile

from kerasemo import config as config_lib
from kerasemo.benchmarks.harness import Figure, random_student
from kerasemo.demo import DEFAULT_STUDENT

logger = logging.getLogger(__name__)

NAME = "routes"
TITLE = "One answer per route"
ROUTES = {
    "saved_model": "SavedModel",
    "tflite_float32": "TFLite float32",
    "tflite_int8": "TFLite int8",
}
"""The candidate routes: `ExportReport.files` key -> the name the table gives it."""
FLOAT32_ROUTES = ("saved_model", "tflite_float32")
"""The routes held to the parity tolerance where they scored a clip in one pass."""
EXPORTED_VARIANTS = tuple(key.removeprefix("tflite_") for key in ROUTES if key != "saved_model")
"""The TFLite variants the section exports (those of `ROUTES`)."""


@dataclasses.dataclass(frozen=True)
class Student:
    """The ``.keras`` student the routes are compared on.

    Args:
        path: its file.
        origin: where it comes from (and whether its weights are random), for the table.
    """

    path: pathlib.Path
    origin: str


def choose_student(args: argparse.Namespace, folder: pathlib.Path) -> Student:
    """``args.student``; else `DEFAULT_STUDENT` if it exists; else a random one saved in `folder`.

    A random student is saved with the preset's ``config.toml`` beside it, as distillation
    saves a run, so that every route takes the preset's window (``frontend.crop_frames``).

    Args:
        args: the benchmark namespace (``student``: a path or None; ``experiment``: the preset
            whose student is built at random weights when there is no file).
        folder: where a random student is saved.

    Returns:
        A `Student`.

    Raises:
        FileNotFoundError: if ``args.student`` is given and is not a file.

    Example:

    >>> choose_student(argparse.Namespace(student="nowhere.keras"), pathlib.Path("."))
    Traceback (most recent call last):
    FileNotFoundError: --student nowhere.keras: no such file. Pass a trained .keras student ...
    """
    if args.student is not None:
        path = pathlib.Path(args.student)
        if not path.is_file():
            raise FileNotFoundError(
                f"--student {path}: no such file. Pass a trained .keras student (distillation "
                f"writes runs/NAME/student.keras; the main job writes {DEFAULT_STUDENT})."
            )
        return Student(path, f"{path} (--student)")
    if DEFAULT_STUDENT.is_file():
        return Student(DEFAULT_STUDENT, f"{DEFAULT_STUDENT}, the main job's trained student")
    student, description = random_student(args.experiment)
    path = folder / "student.keras"
    student.save(path)
    config_lib.save_config(args.experiment, folder)  # the run's window, as distillation saves it
    return Student(
        path,
        f"{description} (no --student and no {DEFAULT_STUDENT}): near-uniform probabilities, "
        "so argmax agreement means little, of the int8 model above all",
    )


def route_figures(route: str, table, float32: bool) -> list[Figure]:
    """Rows of one route's `route_agreement` table: max |dp| and argmax agreement per length.

    Args:
        route: the route's name in the table.
        table: `route_agreement`'s frame for it.
        float32: whether the route is held to `PARITY_TOLERANCE` where it scored one pass.

    Returns:
        Two figures per length, ``"<route>, <seconds> s: max |dp|"`` and ``"...: argmax
        agreement"``.

    Example:

    >>> import pandas as pd
    >>> table = pd.DataFrame({"seconds": [1.0], "clips": [8], "windows": [1],
    ...                       "max_abs_probability": [2e-6], "argmax_agreement": [1.0]})
    >>> [(f.name, f.met) for f in route_figures("SavedModel", table, float32=True)]
    [('SavedModel, 1 s: max |dp|', True), ('SavedModel, 1 s: argmax agreement', None)]
    """
    from kerasemo.export import PARITY_TOLERANCE

    figures = []
    for row in table.itertuples(index=False):
        held = float32 and row.windows == 1
        scored = "one pass" if row.windows == 1 else f"{row.windows} windows averaged"
        figures += [
            Figure(
                f"{route}, {row.seconds:g} s: max |dp|",
                row.max_abs_probability,
                "abs",
                goal=f"<= {PARITY_TOLERANCE:g}" if held else "",
                met=bool(row.max_abs_probability <= PARITY_TOLERANCE) if held else None,
                note=f"{scored}; against the .keras route",
            ),
            Figure(
                f"{route}, {row.seconds:g} s: argmax agreement",
                row.argmax_agreement,
                "fraction",
                note=f"same dominant emotion, of {row.clips} clips",
            ),
        ]
    return figures


def measure(args: argparse.Namespace) -> list[Figure]:
    """Measures the route agreement figures (see the module docstring).

    Args:
        args: the benchmark namespace: ``student`` (a ``.keras`` path or None) and
            ``experiment`` (the preset of a random-weight student).

    Returns:
        The student, the window and the clips per length, then each route's figures.

    Raises:
        FileNotFoundError: for a ``--student`` that is not a file.
        ExportError: if the export fails or its float32 parity misses the tolerance.
    """
    from kerasemo import export
    from kerasemo.inference import EmotionRecognizer
    from kerasemo.inference.agreement import route_agreement

    with tempfile.TemporaryDirectory(prefix="kerasemo-bench-routes-") as tmp:
        folder = pathlib.Path(tmp)
        student = choose_student(args, folder)
        logger.info("routes: exporting %s ...", student.path)
        report = export.export_student(
            student.path, folder / "export", variants=EXPORTED_VARIANTS, describe=False
        )
        reference = EmotionRecognizer.from_path(student.path)
        tables = {}
        for key, route in ROUTES.items():
            logger.info("routes: %s against the .keras route ...", route)
            candidate = EmotionRecognizer.from_path(report.files[key])
            tables[key] = route_agreement(reference, candidate)
    window = report.card["input"]["window_samples"] / export.SAMPLE_RATE
    first = next(iter(tables.values()))
    lengths = ", ".join(f"{seconds:g}" for seconds in first.seconds)
    figures = [
        Figure("student", report.card["student"]["parameters"], "parameters",
               note=student.origin),
        Figure("TFLite window", window, "s", note="longer clips: the TFLite models average windows"),
        Figure("clips per length", int(first.clips.iloc[0]), "clips",
               note=f"speech-like clips of {lengths} s"),
    ]
    for key, route in ROUTES.items():
        figures += route_figures(route, tables[key], key in FLOAT32_ROUTES)
    return figures
