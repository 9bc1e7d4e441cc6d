"""Benchmark section ``export``: real-time factor of each exported format on this CPU, and sizes.

`measure(args)` builds the student of ``args.experiment`` (the paper preset by default; random
weights, which do not change the speed), exports it to a temporary folder as a SavedModel, as
float32, float16 and dynamic-range int8 TFLite models and as two float32 ONNX models (any length
and one fixed window, `kerasemo.export.onnx.export_onnx`), and times, side by side in one
process, the scoring of one window of the preset's training crop (`kerasemo.export.model_window`
of ``frontend.crop_frames``: 4.024 s, 64,384 samples for the presets; batch 1, the TFLite
models' fixed shape) by:

- Keras ``predict`` on the float32 waveform model (front-end + student),
- the same model called inside a ``tf.function`` (what `EmotionRecognizer` does for ``.keras``;
  ``predict`` adds a per-call data-adapter overhead that dominates single windows),
- the SavedModel's ``serving_default`` signature (``tf.saved_model.load``),
- each TFLite variant through the LiteRT interpreter (all logical cores),
- each ONNX model through ONNX Runtime (as many threads).

Real-time factor (RTF) = processing time / audio duration (lower is faster; 0.1 = ten times
faster than real time). Ratios are each format's RTF divided by Keras ``predict``'s. Sizes are
the files on disk (the SavedModel's folder in total). Conversion times: each TFLite variant's
`kerasemo.export.convert_tflite` call (a fixed-window SavedModel, then the converter) beside
each ONNX model's tf2onnx conversion (trace, convert, check). Parity against Keras on
speech-like windows is recorded too; with random weights the quantised models' argmax
agreement means little. Without the ``onnx`` extra (tf2onnx, onnx, onnxruntime) the ONNX rows
are one row that says so.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import pathlib
import tempfile
import time

from kerasemo.benchmarks.harness import Figure, random_student, time_call

logger = logging.getLogger(__name__)

NAME = "export"
TITLE = "Export and inference: real-time factors and model sizes"
_PARITY_CLIPS = 4
KERAS_PREDICT = "Keras predict"
"""The runner every real-time factor is compared with."""
ONNX_MODELS = ("any length", "fixed window")
"""The ONNX models timed: an open time axis (like the SavedModel) and the TFLite window."""


@dataclasses.dataclass(frozen=True)
class _Formats:
    """What `_write_formats` wrote: the files to size, and what converting them took."""

    files: dict[str, pathlib.Path]
    tflite: dict[str, pathlib.Path]
    tflite_seconds: dict[str, float]
    onnx: dict[str, dict]
    onnx_missing: list[Figure]


def _write_tflite(student, tmp: pathlib.Path, window_samples: int) -> tuple[dict, dict]:
    """Converts and writes each TFLite variant, timing each conversion on its own.

    Returns:
        (``{"TFLite <variant>": file}``, ``{"TFLite <variant>": conversion seconds}``).
    """
    from kerasemo import export

    paths, seconds = {}, {}
    for variant in export.TFLITE_VARIANTS:
        logger.info("export: converting to TFLite %s ...", variant)
        start = time.perf_counter()
        flatbuffer = export.convert_tflite(student, [variant], window_samples)[variant]
        seconds[f"TFLite {variant}"] = time.perf_counter() - start
        paths[f"TFLite {variant}"] = tmp / export.tflite_filename(variant)
        paths[f"TFLite {variant}"].write_bytes(flatbuffer)
    return paths, seconds


def _write_onnx(student, tmp: pathlib.Path, window_samples: int) -> dict[str, dict]:
    """Exports each of `ONNX_MODELS`; ``{"ONNX (<model>)": export_onnx's report}``.

    Raises:
        ExportError: from `export_onnx` (its cause is an ImportError when the onnx extra is
            missing).
    """
    from kerasemo.export.onnx import export_onnx

    reports = {}
    for model, window in zip(ONNX_MODELS, (None, window_samples)):
        logger.info("export: converting to ONNX (%s) ...", model)
        path = tmp / f"{model.replace(' ', '_')}.onnx"
        reports[f"ONNX ({model})"] = export_onnx(student, path, window)
    return reports


def _onnx_or_missing(student, tmp: pathlib.Path, window_samples: int) -> tuple[dict, list[Figure]]:
    """(`_write_onnx`'s reports, []), or ({}, one row saying why) when the onnx extra is missing."""
    from kerasemo.export import ExportError

    try:
        return _write_onnx(student, tmp, window_samples), []
    except ExportError as err:
        if not isinstance(err.__cause__, ImportError):
            raise
        logger.warning("export: ONNX not measured: %s", err)
        return {}, [Figure("ONNX", None, "", note=f"not measured: {err}")]


def _write_formats(student, tmp: pathlib.Path, window_samples: int) -> _Formats:
    """Writes the ``.keras`` file, the SavedModel, each TFLite variant and each ONNX model."""
    from kerasemo import export

    files = {"student .keras": tmp / "student.keras"}
    student.save(files["student .keras"])
    logger.info("export: writing the SavedModel ...")
    files["SavedModel (folder)"] = export.export_saved_model(student, tmp / "1", window_samples)
    tflite, tflite_seconds = _write_tflite(student, tmp, window_samples)
    onnx, onnx_missing = _onnx_or_missing(student, tmp, window_samples)
    files.update(tflite)
    files.update({name: pathlib.Path(report["path"]) for name, report in onnx.items()})
    return _Formats(files, tflite, tflite_seconds, onnx, onnx_missing)


def _file_runners(formats: _Formats, threads: int) -> tuple[dict, dict[str, str]]:
    """Each TFLite and ONNX model as a call from waveforms to outputs, and its runtime's name."""
    from kerasemo import export
    from kerasemo.export.onnx import onnx_session, run_onnx

    runners, runtimes = {}, {}
    for name, path in formats.tflite.items():
        runners[name] = export.TFLiteRunner(path, num_threads=threads)
        runtimes[name] = f"LiteRT, {threads} threads"
    for name, report in formats.onnx.items():
        session = onnx_session(report["path"], num_threads=threads)
        runners[name] = lambda waveforms, session=session: run_onnx(session, waveforms)
        version = report["versions"]["onnxruntime"]
        runtimes[name] = f"ONNX Runtime {version}, {threads} threads"
    return runners, runtimes


def _tensorflow_runners(model, saved_model_dir: pathlib.Path, window) -> dict:
    """Keras ``predict``, the model in a ``tf.function`` and the SavedModel, on `window`."""
    import tensorflow as tf

    from kerasemo import export

    signature = tf.saved_model.load(str(saved_model_dir)).signatures[export.WAVEFORM_SIGNATURE]
    window_tensor = tf.constant(window)
    traced = tf.function(
        lambda waveform: model(waveform, training=False),
        input_signature=[tf.TensorSpec([None, None], tf.float32)],
    )
    return {
        KERAS_PREDICT: lambda: model.predict(window, verbose=0),
        "Keras model in a tf.function": lambda: traced(window_tensor),
        "SavedModel serving_default": lambda: signature(waveform=window_tensor),
    }


def _rtf_figures(
    timings: dict[str, float], runtimes: dict[str, str], seconds_of_audio: float, preset: str
) -> list[Figure]:
    """The real-time factor of each runner, then each one's ratio to Keras ``predict``'s.

    Args:
        timings: runner -> median seconds per window.
        runtimes: runner -> the runtime that ran it (``"LiteRT, 2 threads"``), for the note.
        seconds_of_audio: the window's duration.
        preset: what was timed, for Keras ``predict``'s note.
    """
    figures = []
    for name, seconds in timings.items():
        note = f"{seconds * 1e3:.1f} ms per window"
        if name in runtimes:
            note += f"; {runtimes[name]}"
        if name == KERAS_PREDICT:
            note = f"{seconds * 1e3:.1f} ms per {seconds_of_audio:.3f} s window, batch 1; {preset}"
        figures.append(Figure(f"RTF, {name}", seconds / seconds_of_audio, "ratio", note=note))
    for name, seconds in timings.items():
        if name != KERAS_PREDICT:
            figures.append(
                Figure(
                    f"RTF ratio, {name} / {KERAS_PREDICT}",
                    seconds / timings[KERAS_PREDICT],
                    "ratio",
                    note=f"< 1: faster than {KERAS_PREDICT}",
                )
            )
    return figures


def _conversion_figures(formats: _Formats) -> list[Figure]:
    """Each TFLite variant's and each ONNX model's conversion time."""
    figures = [
        Figure(f"conversion, {name}", seconds, "s",
               note="convert_tflite: fixed-window SavedModel, then the converter")
        for name, seconds in formats.tflite_seconds.items()
    ]
    for name, report in formats.onnx.items():
        tool = f"tf2onnx {report['versions']['tf2onnx']}, opset {report['opset']}"
        figures.append(Figure(f"conversion, {name}", report["conversion_seconds"], "s",
                              note=f"{tool}: trace, convert, check"))
    return figures


def _parity_figures(reference, runners: dict, float32: set[str], clips) -> list[Figure]:
    """Each runner's largest probability difference from Keras on speech-like windows.

    Args:
        reference: the Keras model's outputs on `clips` (`kerasemo.export.keras_reference`).
        runners: name -> a call from ``[n, window]`` waveforms to the named outputs.
        float32: the names held to `kerasemo.export.PARITY_TOLERANCE` (the float32 models).
        clips: the windows.
    """
    from kerasemo import export

    figures = []
    for name, runner in runners.items():
        parity = export.compare_outputs(reference, runner(clips))
        held = name in float32
        figures.append(
            Figure(
                f"{name}: max |p - p_keras|",
                parity["max_abs_probability"],
                "abs",
                goal=f"<= {export.PARITY_TOLERANCE:g}" if held else "",
                met=export.within_tolerance(parity) if held else None,
                note=f"{_PARITY_CLIPS} speech-like windows; argmax agreement "
                f"{parity['argmax_agreement']:.2f}; max |dlogit|/scale "
                f"{parity['max_rel_logit']:.1e}",
            )
        )
    return figures


def measure(args: argparse.Namespace) -> list[Figure]:
    """Measures the export figures (see the module docstring).

    Args:
        args: an object with ``repeats`` (timed calls per format, after two warm-ups) and
            ``experiment`` (a `kerasemo.config.ExperimentConfig`; its student and front-end
            settings size the model).

    Returns:
        The figures, in table order.

    Raises:
        ExportError: if a conversion fails (a missing onnx extra is a row instead).
    """
    from kerasemo import export
    from kerasemo.export.model_card import folder_size

    repeats = max(1, int(args.repeats))
    student, preset = random_student(args.experiment)
    window_samples = export.model_window(student, args.experiment.to_dict()).samples
    window = export.speech_like_clips(1, window_samples, seed=4242)
    clips = export.speech_like_clips(_PARITY_CLIPS, window_samples, seed=4343)
    threads = os.cpu_count() or 1

    with tempfile.TemporaryDirectory(prefix="kerasemo-bench-export-") as tmp:
        formats = _write_formats(student, pathlib.Path(tmp), window_samples)
        model = export.build_waveform_model(student)
        runners = _tensorflow_runners(model, formats.files["SavedModel (folder)"], window)
        outputs, runtimes = _file_runners(formats, threads)
        runners.update({name: lambda run=run: run(window) for name, run in outputs.items()})
        timings = {}
        for name, run in runners.items():
            logger.info("export: timing %s ...", name)
            timings[name] = time_call(run, repeats, warmup=2)
        figures = _rtf_figures(timings, runtimes, window_samples / export.SAMPLE_RATE, preset)
        figures += [
            Figure(f"size, {name}", folder_size(path) / 2**20, "MiB")
            for name, path in formats.files.items()
        ]
        figures += _conversion_figures(formats)
        float32 = {"TFLite float32", *formats.onnx}
        figures += _parity_figures(export.keras_reference(model, clips), outputs, float32, clips)
    return figures + formats.onnx_missing
