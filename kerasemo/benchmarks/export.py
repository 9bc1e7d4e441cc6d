"""Benchmark section ``export``: real-time factor of each exported format on this CPU, and sizes.

`measure(args)` builds the student of ``args.experiment`` (the paper preset by default; random
weights, which do not change the speed), exports it to a temporary folder as a SavedModel and
as float32, float16 and dynamic-range int8 TFLite models, and times, side by side in one
process, the scoring of one window of the student's training crop (`kerasemo.export.model_window`:
4.024 s, 64,384 samples for the presets; batch 1, the TFLite models' fixed shape) by:

- Keras ``predict`` on the float32 waveform model (front-end + student),
- the same model called inside a ``tf.function`` (what `EmotionRecognizer` does for ``.keras``;
  ``predict`` adds a per-call data-adapter overhead that dominates single windows),
- the SavedModel's ``serving_default`` signature (``tf.saved_model.load``),
- each TFLite variant through the LiteRT interpreter (all logical cores).

Real-time factor (RTF) = processing time / audio duration (lower is faster; 0.1 = ten times
faster than real time). Ratios are each format's RTF divided by Keras ``predict``'s. Sizes are
the files on disk (the SavedModel's folder in total). Parity against Keras on speech-like clips
is recorded too; with random weights the quantised models' argmax agreement means little.
"""

from __future__ import annotations

import argparse
import logging
import os
import pathlib
import tempfile

from kerasemo.benchmarks.harness import Figure, time_call

logger = logging.getLogger(__name__)

NAME = "export"
TITLE = "Export and inference: real-time factors and model sizes"
_PARITY_CLIPS = 4


def _write_formats(student, tmp: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path, dict]:
    """Saves `student` as ``.keras``, exports the SavedModel and each TFLite variant into `tmp`.

    Returns:
        (the ``.keras`` file, the SavedModel folder, TFLite variant -> file).
    """
    from kerasemo import export

    keras_path = tmp / "student.keras"
    student.save(keras_path)
    logger.info("export: writing the SavedModel ...")
    saved_model_dir = export.export_saved_model(student, tmp / "1")
    logger.info("export: converting to TFLite ...")
    flatbuffers = export.convert_tflite(student, export.TFLITE_VARIANTS)
    tflite_paths = {}
    for variant, flatbuffer in flatbuffers.items():
        tflite_paths[variant] = tmp / export.tflite_filename(variant)
        tflite_paths[variant].write_bytes(flatbuffer)
    return keras_path, saved_model_dir, tflite_paths


def _rtf_figures(
    timings: dict[str, float], seconds_of_audio: float, preset: str, threads: int
) -> list[Figure]:
    """The real-time factor of each runner, then each one's ratio to Keras ``predict``'s."""
    figures = []
    for name, seconds in timings.items():
        if name == "Keras predict":
            note = f"{seconds * 1e3:.1f} ms per {seconds_of_audio:.3f} s window, batch 1; {preset}"
        else:
            note = f"{seconds * 1e3:.1f} ms per window" + (
                f"; LiteRT, {threads} threads" if name.startswith("TFLite") else ""
            )
        figures.append(Figure(f"RTF, {name}", seconds / seconds_of_audio, "ratio", note=note))
    keras_rtf = timings["Keras predict"] / seconds_of_audio
    for name, seconds in timings.items():
        if name != "Keras predict":
            figures.append(
                Figure(
                    f"RTF ratio, {name} / Keras predict",
                    (seconds / seconds_of_audio) / keras_rtf,
                    "ratio",
                    note="< 1: faster than Keras predict",
                )
            )
    return figures


def _parity_figures(reference, tflite_runners: dict, clips) -> list[Figure]:
    """Each TFLite variant's largest probability difference from Keras on speech-like windows."""
    from kerasemo import export

    figures = []
    for variant, runner in tflite_runners.items():
        parity = export.compare_outputs(reference, runner(clips))
        goal = f"<= {export.PARITY_TOLERANCE:g}" if variant == "float32" else ""
        met = export.within_tolerance(parity) if variant == "float32" else None
        figures.append(
            Figure(
                f"TFLite {variant}: max |p - p_keras|",
                parity["max_abs_probability"],
                "abs",
                goal=goal,
                met=met,
                note=f"{_PARITY_CLIPS} speech-like windows; argmax agreement "
                f"{parity['argmax_agreement']:.2f}; max |dlogit|/scale "
                f"{parity['max_rel_logit']:.1e}",
            )
        )
    return figures


def measure(args: argparse.Namespace) -> list[Figure]:
    """Measures the export figures (see the module docstring).

    Args:
        args: an object with ``repeats`` (timed calls per format, after one warm-up) and
            ``experiment`` (a `kerasemo.config.ExperimentConfig`; its student and front-end
            settings size the model).

    Returns:
        The figures, in table order.
    """
    import keras
    import tensorflow as tf

    from kerasemo import export
    from kerasemo.models import student_from_config

    experiment = args.experiment
    repeats = max(1, int(args.repeats))
    keras.utils.set_random_seed(experiment.seed)
    student = student_from_config(experiment, dtype="float32")
    window_samples = export.model_window(student).samples
    seconds_of_audio = window_samples / export.SAMPLE_RATE
    window = export.speech_like_clips(1, window_samples, seed=4242)
    clips = export.speech_like_clips(_PARITY_CLIPS, window_samples, seed=4343)
    threads = os.cpu_count() or 1
    preset = f"{experiment.name} preset, {student.count_params():,} parameters, random weights"

    with tempfile.TemporaryDirectory(prefix="kerasemo-bench-export-") as tmp:
        keras_path, saved_model_dir, tflite_paths = _write_formats(student, pathlib.Path(tmp))
        model = export.build_waveform_model(student)
        reference = export.keras_reference(model, clips)
        loaded = tf.saved_model.load(str(saved_model_dir))
        signature = loaded.signatures[export.WAVEFORM_SIGNATURE]
        window_tensor = tf.constant(window)
        traced = tf.function(
            lambda waveform: model(waveform, training=False),
            input_signature=[tf.TensorSpec([None, None], tf.float32)],
        )
        runners = {
            "Keras predict": lambda: model.predict(window, verbose=0),
            "Keras model in a tf.function": lambda: traced(window_tensor),
            "SavedModel serving_default": lambda: signature(waveform=window_tensor),
        }
        tflite_runners = {}
        for variant, path in tflite_paths.items():
            runner = export.TFLiteRunner(path, num_threads=threads)
            tflite_runners[variant] = runner
            runners[f"TFLite {variant}"] = lambda runner=runner: runner(window)

        timings = {}
        for name, run in runners.items():
            logger.info("export: timing %s ...", name)
            timings[name] = time_call(run, repeats, warmup=2)
        figures = _rtf_figures(timings, seconds_of_audio, preset, threads)
        sizes = {
            "student .keras": keras_path.stat().st_size,
            "SavedModel (folder)": sum(
                p.stat().st_size for p in saved_model_dir.rglob("*") if p.is_file()
            ),
        }
        sizes.update({f"TFLite {v}": p.stat().st_size for v, p in tflite_paths.items()})
        figures += [Figure(f"size, {name}", size / 2**20, "MiB") for name, size in sizes.items()]
        figures += _parity_figures(reference, tflite_runners, clips)
    return figures
