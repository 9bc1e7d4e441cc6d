"""`export_student`: the whole export of a trained student, and the `ExportReport` it returns.

Writes the SavedModel, the TFLite variants and the model card into one folder, measuring the
parity of each model with the float32 Keras model on the way (see `kerasemo.export`); with a
probe head (``head=DIR``) every model also names the head's classes.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import pathlib
from collections.abc import Sequence
from typing import Any

from kerasemo.checks import check_positive_int
from kerasemo.export.contract import (
    DEFAULT_VERSION,
    MODEL_CARD,
    PARITY_TOLERANCE,
    SAVED_MODEL_CLI_TEXT,
    TFLITE_VARIANTS,
    ExportError,
    check_variant,
    padded_batch,
    tflite_filename,
)
from kerasemo.export.head import ExportHead, head_card, load_export_head
from kerasemo.export.model_card import build_model_card, folder_size, read_run_metadata
from kerasemo.export.parity import (
    alone_reference,
    compare_outputs,
    keras_reference,
    saved_model_parity,
    shorter_clips,
    speech_like_clips,
    within_tolerance,
)
from kerasemo.export.precision import check_student, load_student, to_float32
from kerasemo.export.saved_model import export_saved_model, saved_model_cli_show
from kerasemo.export.tflite import TFLiteRunner, convert_tflite, tflite_ops
from kerasemo.export.waveform_model import build_waveform_model
from kerasemo.export.window import model_window
from kerasemo.fingerprints import file_sha256, model_fingerprint

logger = logging.getLogger("kerasemo.export")


@dataclasses.dataclass
class ExportReport:
    """What `export_student` wrote and measured.

    Attributes:
        out_dir: the export folder.
        files: ``{"saved_model" | "tflite_<variant>" | "model_card" | ...: path}``.
        sizes: ``{same keys: bytes}`` (a SavedModel's size is its folder's total).
        parity: ``{"saved_model" | "tflite_<variant>": figures}`` (see `compare_outputs`); a
            TFLite entry also holds ``"padded_with_length"``: clips shorter than the window,
            zero-padded with their lengths, against the Keras model on each clip unpadded.
        card: the model card as written.
        converted_to_float32: whether the student was rebuilt from a mixed-precision policy.
    """

    out_dir: pathlib.Path
    files: dict[str, pathlib.Path]
    sizes: dict[str, int]
    parity: dict[str, dict]
    card: dict
    converted_to_float32: bool

    def failures(self, tolerance: float = PARITY_TOLERANCE) -> list[str]:
        """Float32 models whose parity exceeds `tolerance` (quantised ones are not held to it)."""
        failed = []
        for key in ("saved_model", "tflite_float32", "onnx"):
            if key in self.parity:
                figures = self.parity[key].get("overall", self.parity[key])
                padded = self.parity[key].get("padded_with_length", figures)
                if not all(within_tolerance(f, tolerance) for f in (figures, padded)):
                    failed.append(key)
        return failed


def export_student(
    student: Any,
    out_dir: str | os.PathLike,
    *,
    variants: Sequence[str] = TFLITE_VARIANTS,
    saved_model: bool = True,
    version: int = DEFAULT_VERSION,
    holdout_clips: int = 16,
    run_dir: str | os.PathLike | None = None,
    describe: bool = True,
    check: bool = True,
    num_threads: int | None = None,
    head: str | os.PathLike | None = None,
    onnx: bool = False,
) -> ExportReport:
    """Exports a student to SavedModel and TFLite, checks parity and writes the model card.

    Args:
        student: a `VGGMStudent`, or the path of its ``.keras`` file.
        out_dir: the export folder (created).
        variants: TFLite variants to write (any of `TFLITE_VARIANTS`; empty for none).
        saved_model: write the SavedModel (into ``out_dir/<version>``).
        version: the SavedModel's version directory name (TF Serving layout).
        holdout_clips: speech-like windows for the TFLite parity figures (>= 1).
        run_dir: the distill run folder to read training settings and metrics from; by default
            the folder of the ``.keras`` file when `student` is a path. Its ``config.toml``
            also gives the window when the student does not (`model_window`).
        describe: also write ``saved_model_cli.txt`` (``saved_model_cli show --all``).
        check: raise `ExportError` if a float32 model misses `PARITY_TOLERANCE` (the files and
            the card are written first, so the figures can be inspected).
        num_threads: LiteRT threads for the parity runs (None: all cores).
        head: a probe head folder (``python -m kerasemo.experiments.probe --save-head DIR``)
            to build in: every model then also returns ``head_probabilities`` and ``label``,
            and the card lists its classes under ``"head"`` (a warning is logged when it was
            fitted on another student).
        onnx: also write ``kerasemo.onnx`` (`kerasemo.export.onnx.export_onnx`: the waveform
            model, any length, without the head) with its parity against Keras; needs the
            ``onnx`` extra.

    Returns:
        An `ExportReport`.

    Raises:
        FileNotFoundError: if `student` or `head` is a path that does not exist.
        ValueError: for an unknown variant, a bad version or holdout size.
        ExportError: if loading, conversion or (with `check`) parity fails, or the head does
            not fit the student.

    Example:

    >>> student = "runs/distill/student.keras"
    >>> report = export_student(student, "saved_models/kerasemo")  # doctest: +SKIP
    >>> sorted(report.files)  # doctest: +SKIP
    ['model_card', 'saved_model', 'saved_model_cli', 'tflite_float16', 'tflite_float32',
     'tflite_int8']
    """
    variants = [check_variant(v) for v in variants]
    check_positive_int(version, "version")
    check_positive_int(holdout_clips, "holdout_clips")
    source: dict[str, Any] = {}
    if isinstance(student, (str, os.PathLike)):
        path = pathlib.Path(student)
        student = load_student(path)
        source.update({"student_file": path.name, "sha256": file_sha256(path)})
        if run_dir is None:
            run_dir = path.parent
    check_student(student)
    source["trained_precision"] = student.get_layer("conv1").dtype_policy.name
    loaded_head = None if head is None else load_export_head(head, student)
    run = read_run_metadata(run_dir)
    window = model_window(student, run.get("config"))
    logger.info(
        "Window: %d samples (%d frames, from the %s).",
        window.samples,
        window.frames,
        window.source,
    )
    float32_student = to_float32(student)
    mixed = float32_student is not student

    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, pathlib.Path] = {}
    parity: dict[str, Any] = {}
    if saved_model:
        _write_saved_model(
            float32_student, out_dir, version, window, describe, loaded_head, files, parity
        )
    if variants:
        flatbuffers = convert_tflite(float32_student, variants, window.samples, loaded_head)
        cases = _tflite_cases(float32_student, window.samples, holdout_clips, loaded_head)
        for variant, flatbuffer in flatbuffers.items():
            path = out_dir / tflite_filename(variant)
            parity[f"tflite_{variant}"] = _write_tflite(flatbuffer, path, cases, num_threads)
            files[f"tflite_{variant}"] = path
    if onnx:
        _write_onnx(float32_student, out_dir, files, parity)

    extra = {}
    if loaded_head is not None:
        fingerprints = [source.get("sha256", ""), model_fingerprint(student)]
        extra["head"] = head_card(loaded_head, fingerprints)
    card = _write_card(float32_student, out_dir, files, parity, run, source, window, extra)
    sizes = {key: folder_size(path) for key, path in files.items() if path.exists()}
    report = ExportReport(out_dir, files, sizes, parity, card, converted_to_float32=bool(mixed))
    failed = report.failures()
    if check and failed:
        raise ExportError(
            f"Parity above {PARITY_TOLERANCE} for {', '.join(failed)}: "
            + "; ".join(
                f"{key}: {json.dumps(parity[key].get('overall', parity[key]))}" for key in failed
            )
            + f". The files and {files['model_card']} were written for inspection."
        )
    return report


def _write_onnx(student, out_dir, files, parity) -> None:
    """Writes ``kerasemo.onnx`` (variable length, no head), recording its path and parity."""
    from kerasemo.export.onnx import ONNX_FILENAME, export_onnx

    report = export_onnx(student, out_dir / ONNX_FILENAME)
    files["onnx"] = pathlib.Path(report["path"])
    parity["onnx"] = report["parity"]
    logger.info(
        "ONNX parity: max |dp| %.2e, max |dlogit|/scale %.2e",
        report["parity"]["overall"]["max_abs_probability"],
        report["parity"]["overall"]["max_rel_logit"],
    )




def _write_card(student, out_dir, files, parity, run, source, window, extra) -> dict:
    """Writes ``model_card.json`` (recording it in `files`) and returns the card."""
    sizes = {key: folder_size(path) for key, path in files.items() if path.exists()}
    card = build_model_card(
        student,
        files=files,
        sizes=sizes,
        parity=parity,
        out_dir=out_dir,
        run=run,
        source=source,
        window=window,
    )
    card.update(extra)
    card_path = out_dir / MODEL_CARD
    card_path.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    files["model_card"] = card_path
    return card


def _write_saved_model(student, out_dir, version, window, describe, head, files, parity) -> None:
    """Writes the SavedModel (and its CLI description), recording paths and parity."""
    directory = export_saved_model(student, out_dir / str(version), window.samples, head)
    files["saved_model"] = directory
    parity["saved_model"] = saved_model_parity(
        student, directory, window_samples=window.samples, head=head
    )
    logger.info(
        "SavedModel parity: max |dp| %.2e, max |dlogit|/scale %.2e",
        parity["saved_model"]["overall"]["max_abs_probability"],
        parity["saved_model"]["overall"]["max_rel_logit"],
    )
    if describe:
        text_path = out_dir / SAVED_MODEL_CLI_TEXT
        text_path.write_text(saved_model_cli_show(directory), encoding="utf-8")
        files["saved_model_cli"] = text_path


@dataclasses.dataclass(frozen=True)
class _TFLiteCases:
    """The TFLite parity inputs and their Keras outputs: whole windows, and shorter clips."""

    clips: Any
    reference: dict
    short: list
    short_reference: dict


def _tflite_cases(student, window_samples, holdout_clips, head: ExportHead | None) -> _TFLiteCases:
    """Held-out windows, and the same clips cut short (`shorter_clips`), with Keras outputs."""
    probe, classes = (None, None) if head is None else (head.probe, head.classes)
    model = build_waveform_model(student, head=probe)
    clips = speech_like_clips(holdout_clips, window_samples)
    short = shorter_clips(clips)
    return _TFLiteCases(
        clips=clips,
        reference=keras_reference(model, clips, classes=classes),
        short=short,
        short_reference=alone_reference(model, short, classes),
    )


def _write_tflite(flatbuffer, path, cases: _TFLiteCases, num_threads) -> dict:
    """Checks a flatbuffer's ops, writes it and returns its parity figures on `cases`."""
    ops = tflite_ops(flatbuffer)
    custom = [op for op in ops if op.startswith("Flex") or not op.isupper()]
    if custom:
        raise ExportError(f"The TFLite model {path.name} uses non-builtin ops {custom}.")
    path.write_bytes(flatbuffer)
    runner = TFLiteRunner(path, num_threads=num_threads)
    figures = compare_outputs(cases.reference, runner(cases.clips))
    batch, lengths = padded_batch(cases.short, runner.window_samples)
    figures["padded_with_length"] = compare_outputs(cases.short_reference, runner(batch, lengths))
    figures["ops"] = ops
    logger.info(
        "TFLite %s: %.1f MB, max |dp| %.2e (padded with length %.2e), argmax agreement %.3f",
        path.name,
        len(flatbuffer) / 1e6,
        figures["max_abs_probability"],
        figures["padded_with_length"]["max_abs_probability"],
        figures["argmax_agreement"],
    )
    return figures
